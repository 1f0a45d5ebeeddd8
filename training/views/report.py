"""Model card text and evaluation plots for the view-pattern model (written by train.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.views.config import FEATURE_NAMES, ViewsConfig

__all__ = ["card_text", "write_plots"]


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def card_text(metrics: dict, command: str, config: ViewsConfig) -> str:
    held = metrics["test_heldout"]
    th = metrics["thresholds"]
    rows = "\n".join(
        f"| {k} | {v['n']} | {_pct(v['fail'])} | {_pct(v['fail_or_review'])} |" for k, v in held["per_pattern"].items()
    )
    variants = "\n".join(
        f"| {k} | {v['n']} | {_pct(v['fail'])} | {_pct(v['fail_or_review'])} |" for k, v in held["per_variant"].items()
    )
    sparse = "\n".join(
        f"| {k} | {v['n']} | {_pct(v['fail'])} | {_pct(v['fail_or_review'])} | {h['n']} | {_pct(h['fail'])} | {_pct(h['fail_or_review'])} |"
        for (k, v), h in zip(held["sparse"].items(), held["no_history"].values())
    )
    n_sparse = metrics["config"]["sparse_max_points"]
    indist = metrics["test_indist"]
    return f"""# View-pattern model (`organic_views`)

Version `{metrics['version']}`, trained at commit `{metrics['commit']}`{' (with uncommitted changes)' if metrics['tree_dirty'] else ''} in {metrics['train_seconds']} s.

## What it does
Calibrated probability that a post's views were bought, from its view history, views,
engagement totals and follower count. Histogram gradient-boosted trees
(scikit-learn `HistGradientBoostingClassifier`) on {metrics['n_features']} scale-free features
({', '.join(FEATURE_NAMES)}), isotonic-calibrated on a held-back 25 % of the training rows.
Calibration holds for the simulated prior (half organic, half bought); real prevalence is lower,
so read the score as a ranking with policy thresholds, not as a base-rate probability.

## Data
No labelled real data exists. All data comes from `training/views/simulate.py`, whose docstring
states every assumption: organic attention (gamma-shaped saturating growth with decay, long tails,
second waves, audience-dependent reach and engagement, viral small accounts) and four bought
patterns (burst, linear drip, reach far beyond the audience, views sold with likes). Sampling grids,
history lengths, noise, missing fields and glitches are randomised.
Validation uses **held-out simulator regions**, never seen in training: 2-3 bursts of
25-60 min each (training: 1-2 bursts of 2-25 min), drips of 5-14 days and hourly chunked drips, reach buyers with
800-3,000 followers, views sold with 6-15 % bought likes and a few canned replies, organic slow starters (gamma k 2.2-4),
organic second waves 2-10 days after publish, and a gapped sampling grid.
`val` ({metrics['config']['n_val']} posts) chose the thresholds; `test` ({metrics['config']['n_test']} posts) gives the numbers below.

## Command
`{command}` (seeded, one thread; `make train-views`).

## Metrics (held-out test)
ROC AUC **{held['roc_auc']:.4f}**, average precision {held['average_precision']:.4f}.
Thresholds: fail at **{th['fail_at']}**, review at **{th['review_at']}**.
Organic posts failing: **{_pct(held['organic']['fail'])}** (sent to review or failed: {_pct(held['organic']['fail_or_review'])}).
Bought posts failing or sent to review: **{_pct(held['bought']['fail_or_review'])}** (failing: {_pct(held['bought']['fail'])}).
Skipped (nothing to go on): {held['skipped_posts']} posts.

| pattern | n | fail | fail or review |
|---|---|---|---|
{rows}

Per held-out variant (`train` = the post only varies in sampling/organic settings seen in training):

| pattern/variant | n | fail | fail or review |
|---|---|---|---|
{variants}

Sparse histories (1-{n_sparse} points after publish; platforms often sample a handful of points at
irregular times) and posts without a history, held-out test:

| pattern | n sparse | fail | fail or review | n no history | fail | fail or review |
|---|---|---|---|---|---|---|
{sparse}

In-distribution test: ROC AUC {indist['roc_auc']:.4f}, Brier {indist['brier']:.4f}.

## Limits
- Simulated data only; real bought-view services and real attention may differ from the stated assumptions.
- Engagement is a final snapshot, not a history: a burst bought together with likes and replies at
  organic ratios is, by construction, indistinguishable from a real second wave.
- Sparse histories (2-6 points) carry little shape. Linearity/decay features are read only from
  grid cells inside short history intervals (at most {config.resolved_gap_share:.0%} of the span), never
  from a straight line interpolated across a long gap, and the density features (point count,
  largest gap, observed late share) let the trees discount shape; the score of a sparse history
  rests mostly on engagement and reach, so a sparse bought post with organic-looking engagement
  is hard to catch, and a sparse organic post with unusually low engagement goes to review.

Organic engagement bands used in evidence (log10 followers start, q10, q50, q90):
{list(config.engagement_bands)}
"""


def write_plots(folder: Path, scored: dict, fail_at: float, review_at: float, examples: list | None = None) -> None:
    """ROC and PR curves (held-out test), calibration (in-distribution test), 3-way confusion matrix,
    and `examples`: (title, post, probability) curves drawn one per panel (each pattern, and unsure posts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    folder.mkdir(parents=True, exist_ok=True)
    p, y = scored["test"][0], scored["test"][1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    fpr, tpr, _ = roc_curve(y, p)
    axes[0].plot(fpr, tpr)
    axes[0].set(xscale="log", xlim=(1e-4, 1), xlabel="organic posts flagged (FPR, log)", ylabel="bought posts flagged (TPR)",
                title="ROC, held-out test")
    prec, rec, _ = precision_recall_curve(y, p)
    axes[1].plot(rec, prec)
    axes[1].set(xlabel="recall", ylabel="precision", title="Precision-recall, held-out test")
    fig.tight_layout()
    fig.savefig(folder / "roc_pr.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name in ("test_indist", "test"):
        frac, mean = calibration_curve(scored[name][1], scored[name][0], n_bins=15, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set(xlabel="predicted P(bought)", ylabel="observed share bought", title="Calibration")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "calibration.png", dpi=100)
    plt.close(fig)

    status = np.where(p >= fail_at, 2, np.where(p >= review_at, 1, 0))
    matrix = np.array([[np.sum((y == c) & (status == s)) for s in range(3)] for c in (0, 1)])
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.imshow(matrix / matrix.sum(axis=1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, f"{v}\n{v / matrix[i].sum():.1%}", ha="center", va="center")
    ax.set(xticks=range(3), xticklabels=["pass", "review", "fail"], yticks=range(2), yticklabels=["organic", "bought"],
           title=f"Held-out test (review ≥ {review_at}, fail ≥ {fail_at})")
    fig.tight_layout()
    fig.savefig(folder / "confusion.png", dpi=100)
    plt.close(fig)

    if examples:
        cols = 4
        rows = (len(examples) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
        for ax, (title, post, prob) in zip(axes.ravel(), examples):
            h = np.array(sorted(post["view_history"] or [[0, 0]]), float)
            ax.plot(h[:, 0] / 3600, h[:, 1], marker=".", ms=3)
            eng = post["engagement"] or {}
            ax.set_title(f"{title}: P={prob:.2f}\nfollowers {post['follower_count']}, likes {eng.get('likes')}, "
                         f"replies {eng.get('replies')}", fontsize=8)
            ax.set_xlabel("hours after publish", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes.ravel()[len(examples):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(folder / "examples.png", dpi=90)
        plt.close(fig)
