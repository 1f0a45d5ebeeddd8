"""Held-out evaluation of the text model: per-language F1, calibration, thresholds, plots.

Used by train.py; also importable from notebooks/text.ipynb. Three held-out sets:
  * the generator's validation split (unseen phrase families and names, 10,000 posts);
  * `independent_posts.jsonl`: 300 captions written by hand, apart from the phrase bank and
    the patterns (their author never saw either), 60 per language;
  * `captions_en.jsonl`: the undisclosed-ad test. 480 English captions in the style of real creators' posts, by four
    writers who saw neither the bank nor the patterns nor each other's work: half sponsored (each with its disclosures
    marked, removed before scoring), half organic. Split by writer: "dev" (writers 1-2) may be read to find what the
    model gets wrong; "test" (writers 3-4) is only ever scored, never read. Score the shipped model:

    python -m training.text.evaluate            # independent set: per-language F1 and the misses
    python -m training.text.evaluate --captions=dev     # undisclosed-ad F1 on the dev writers, with the misses
    python -m training.text.evaluate --captions=test    # the same on the test writers, numbers only
    python -m training.text.evaluate --captions=test_intl   # the same test in fr, de, es, pt (captions_intl.jsonl), numbers only
    python -m training.text.evaluate --captions=write   # the caption, copyright and talk tests into metrics.json and card.md
    python -m training.text.evaluate --reuse=test      # the copyright test: written captions that reuse material or not
    python -m training.text.evaluate --talk=copytalk   # a talk test (adtalk | copytalk): organic talk that names the labels
    python -m training.text.evaluate --heldout_bank=OLD.yaml [--artifact=DIR]   # F1 on another bank's held-out split
    python -m training.text.evaluate --heldout_bank=BANK.yaml --names=train     # held-out families, training names
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, f1_score, precision_recall_curve

__all__ = ["calibration_bins", "caption_metrics", "caption_rows", "cross_recalibrated", "cross_stacked", "evaluate", "evaluate_captions",
           "evaluate_independent", "evaluate_reuse", "fit_recalibration", "fit_stack", "heldout_f1", "heldout_probs", "idea_halves",
           "load_captions", "load_independent", "load_reuse", "plot_all", "print_captions", "print_independent", "print_reuse",
           "probs_of", "reuse_metrics", "score_captions", "strip_disclosures", "thresholds", "written_test",
           "talk_metrics", "load_talk", "print_kinds"]

HEADS = ("branded", "copyright")
INDEPENDENT_SET = Path(__file__).with_name("independent_posts.jsonl")
CAPTION_SET = Path(__file__).with_name("captions_en.jsonl")
# the same test in fr, de, es and pt: 480 captions by four other writers (one per language), split "test", never read
INTL_CAPTION_SET = Path(__file__).with_name("captions_intl.jsonl")
# the caption test's splits: (file, its split) per name; dev is read, the test splits are only scored
CAPTION_SPLITS = {"dev": (CAPTION_SET, "dev"), "test": (CAPTION_SET, "test"), "test_intl": (INTL_CAPTION_SET, "test")}
# the copyright test: captions written whole in en, fr, de, es, pt that reuse others' material (label "reuse") or show the
# creator's own (label "original": photographer credits on one's own shoot, own work, talk about films or matches, ...);
# "train" writers train the model (generate.written_reuse_posts), "test" writers are other people, only scored, never read
REUSE_SETS = {"train": Path(__file__).with_name("captions_reuse_train.jsonl"),
              "test": Path(__file__).with_name("captions_reuse_test.jsonl")}
# the talk tests: captions written whole in en, fr, de, es, pt by writers who saw nothing of the project; only scored.
# Organic talk that names what the model looks for, against posts that are what it talks about: (file, check, positive label)
# - adtalk: talk about ads naming the disclosure labels ("influencers who hide #ad ...") against disclosed ads (writers 50-54)
# - copytalk: talk about copyright quoting reposters' phrases ("'no copyright intended' protects you from nothing")
#   against reuploads with credits or disclaimers (writers 55-59)
TALK_SETS = {"adtalk": (Path(__file__).with_name("captions_adtalk_test.jsonl"), "branded", "sponsored"),
             "copytalk": (Path(__file__).with_name("captions_copytalk_test.jsonl"), "copyright", "reuse")}


def probs_of(scores) -> np.ndarray:
    """(N, 2) [P(branded), P(copyright)] of a list of TextScore."""
    return np.array([[s.branded, s.copyright] for s in scores]).reshape(-1, 2)


def idea_halves(rows: list[dict]) -> np.ndarray:
    """(N,) 0/1: which half of the held-out ideas each post's phrase family belongs to.

    Held-out families have index 3, 7, 11, ... in their (language, category) list; (index // 4) % 2
    alternates between them, and a bank round writes one idea at the same index in every language,
    so each half holds whole ideas. Posts of no numbered family (bare markers, plain) alternate by row.
    """
    def half(i: int, family: str) -> int:
        index = family.rsplit("/", 1)[-1]
        return (int(index) // 4) % 2 if index.isdigit() else i % 2

    return np.array([half(i, r["family"]) for i, r in enumerate(rows)], dtype=int)


def fit_recalibration(rows: list[dict], raw: np.ndarray) -> np.ndarray:
    """(2, 2) rows [slope, bias] per head: logistic regression of each label on the logit of the
    cascade's probability `raw` (N, 2), on held-out posts (see models/text/classifier.py)."""
    from sklearn.linear_model import LogisticRegression

    from models.text.classifier import logit

    z = logit(raw)  # (N, 2)
    out = np.zeros((2, 2), np.float32)
    for h, head in enumerate(HEADS):
        fit = LogisticRegression(C=1e4).fit(z[:, h : h + 1], [r[head] for r in rows])
        out[h] = [fit.coef_[0, 0], fit.intercept_[0]]
    return out


def cross_recalibrated(rows: list[dict], raw: np.ndarray) -> np.ndarray:
    """(N, 2) held-out probabilities of a recalibrated model: each half of the held-out ideas
    (`idea_halves`) is recalibrated by a fit on the other half only, so no post is scored by a
    calibration fitted on its own idea. `raw`: probabilities before recalibration (N, 2)."""
    from models.text.classifier import recalibrate

    halves = idea_halves(rows)
    out = np.zeros_like(raw, dtype=np.float32)
    for h in (0, 1):
        fit_on = np.flatnonzero(halves != h)
        params = fit_recalibration([rows[i] for i in fit_on], raw[fit_on])
        out[halves == h] = recalibrate(raw[halves == h], params)
    return out


def fit_stack(rows: list[dict], z: np.ndarray, zc: np.ndarray, routed: np.ndarray) -> np.ndarray:
    """(2, 3) stacking weights, rows [w_lexical, w_contextual, bias] per head: logistic regression of each
    label on both stages' logits (N, 2) over the routed posts (N,) bool (see `models.text.classifier.stacked`)."""
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((2, 3), np.float32)
    for h, head in enumerate(HEADS):
        y = np.array([rows[i][head] for i in np.flatnonzero(routed)])
        fit = LogisticRegression(C=1e4).fit(np.stack([z[routed, h], zc[routed, h]], 1), y)
        out[h] = [fit.coef_[0, 0], fit.coef_[0, 1], fit.intercept_[0]]
    return out


def cross_stacked(rows: list[dict], z: np.ndarray, lexical: np.ndarray, zc: np.ndarray, routed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Held-out probabilities (N, 2) of a cascade whose stacking and recalibration are both fitted on
    held-out families (`TextConfig.stack_fit == "heldout"`), cross-fitted: each half of the held-out ideas
    is scored with stacking weights and a recalibration fitted on the other half only. Also returns the
    probabilities before recalibration (N, 2), each half stacked by the other half's fit.
    Inputs as `TextClassifier.stage_outputs` returns them."""
    from models.text.classifier import recalibrate, stacked

    halves = idea_halves(rows)
    out, raw = np.zeros_like(lexical, dtype=np.float32), np.zeros_like(lexical, dtype=np.float32)
    for h in (0, 1):
        fit_on, score = np.flatnonzero(halves != h), halves == h
        sub = [rows[i] for i in fit_on]
        stack = fit_stack(sub, z[fit_on], zc[fit_on], routed[fit_on])
        params = fit_recalibration(sub, stacked(z[fit_on], lexical[fit_on], zc[fit_on], routed[fit_on], stack))
        raw[score] = stacked(z[score], lexical[score], zc[score], routed[score], stack)
        out[score] = recalibrate(raw[score], params)
    return out, raw


def heldout_probs(model, rows: list[dict]) -> np.ndarray:
    """(N, 2) probabilities of `model` on held-out rows of the generator, cross-fitted: the honest score
    of a model whose recalibration (and, for `stack_fit == "heldout"`, stacking) saw these families."""
    texts = [r["text"] for r in rows]
    if model.contextual is not None and model.config.stack_fit == "heldout":
        return cross_stacked(rows, *model.stage_outputs(texts))[0]
    return cross_recalibrated(rows, model.probabilities(texts, recalibrated=False))


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict:
    """Reliability curve on equal-width bins and the expected calibration error (ECE)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            conf, acc = float(p[m].mean()), float(y[m].mean())
            ece += m.mean() * abs(conf - acc)
            bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int(m.sum()), "mean_p": conf, "frac_pos": acc})
    return {"ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "bins": bins}


def thresholds(y: np.ndarray, p: np.ndarray, fail_precision: float = 0.98, review_recall: float = 0.98) -> dict:
    """fail_at: lowest threshold whose precision >= fail_precision; review_at: highest with recall >= review_recall."""
    prec, rec, thr = precision_recall_curve(y, p)
    prec, rec = prec[:-1], rec[:-1]  # align with thr
    ok = np.where(prec >= fail_precision)[0]
    fail_at = float(thr[ok[0]]) if len(ok) else 1.0
    ok = np.where(rec >= review_recall)[0]
    review_at = float(thr[ok[-1]]) if len(ok) else 0.0
    review_at = min(review_at, fail_at)

    def at(t: float) -> dict:
        pred = p >= t
        tp = int((pred & (y == 1)).sum())
        return {"threshold": t, "precision": tp / max(int(pred.sum()), 1), "recall": tp / max(int(y.sum()), 1)}

    return {"fail_at": at(fail_at), "review_at": at(review_at)}


def evaluate(rows: list[dict], probs: np.ndarray, threshold: float = 0.5) -> dict:
    """Metrics of calibrated probabilities `probs` (N, 2) on labelled rows (see generate.py)."""
    langs = sorted({r["lang"] for r in rows})
    lang = np.array([r["lang"] for r in rows])
    cat = np.array([r["category"] for r in rows])
    und = np.array([r["undisclosed"] for r in rows])
    out: dict = {"n": len(rows), "threshold": threshold, "heads": {}}
    for h, head in enumerate(HEADS):
        y = np.array([r[head] for r in rows])
        p = probs[:, h]
        pred = (p >= threshold).astype(int)
        res = {
            "f1": float(f1_score(y, pred)),
            "average_precision": float(average_precision_score(y, p)),
            "per_language": {},
            "per_category_positive_rate": {str(c): float(pred[cat == c].mean()) for c in sorted(set(cat))},
            "calibration": calibration_bins(y, p),
            "recommended": thresholds(y, p),
        }
        for lg in langs:
            m = lang == lg
            res["per_language"][lg] = {
                "f1": float(f1_score(y[m], pred[m])),
                "n": int(m.sum()),
                "positives": int(y[m].sum()),
                "confusion": confusion_matrix(y[m], pred[m], labels=[0, 1]).tolist(),  # [[tn, fp], [fn, tp]]
            }
        out["heads"][head] = res
    # Undisclosed ads proxy: English, branded positives without a disclosure core vs all English non-branded.
    y = np.array([r["branded"] for r in rows])
    m = (lang == "en") & ((und == 1) | (y == 0))
    out["en_undisclosed_branded_f1"] = float(f1_score(y[m], (probs[m, 0] >= threshold).astype(int)))
    return out


def plot_all(rows: list[dict], probs: np.ndarray, metrics: dict, folder: str | Path) -> list[str]:
    """PR curves, calibration curves and per-language confusion matrices as PNGs in `folder`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for h, head in enumerate(HEADS):
        y = np.array([r[head] for r in rows])
        prec, rec, _ = precision_recall_curve(y, probs[:, h])
        axes[0].plot(rec, prec, label=f"{head} (AP {metrics['heads'][head]['average_precision']:.3f})")
        bins = metrics["heads"][head]["calibration"]["bins"]
        axes[1].plot([b["mean_p"] for b in bins], [b["frac_pos"] for b in bins], "o-",
                     label=f"{head} (ECE {metrics['heads'][head]['calibration']['ece']:.3f})")
    axes[0].set(xlabel="recall", ylabel="precision", title="PR curve (held-out)")
    axes[1].plot([0, 1], [0, 1], "k--", lw=1)
    axes[1].set(xlabel="mean predicted probability", ylabel="fraction positive", title="Calibration (held-out)")
    for ax in axes:
        ax.legend(loc="lower left")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "pr_calibration.png", dpi=110)
    plt.close(fig)
    written.append("pr_calibration.png")
    langs = list(metrics["heads"]["branded"]["per_language"])
    fig, axes = plt.subplots(2, len(langs), figsize=(2.4 * len(langs), 5))
    for h, head in enumerate(HEADS):
        for j, lg in enumerate(langs):
            cm = np.array(metrics["heads"][head]["per_language"][lg]["confusion"])
            ax = axes[h, j]
            ax.imshow(cm, cmap="Blues")
            for (a, b), v in np.ndenumerate(cm):
                ax.text(b, a, str(v), ha="center", va="center", fontsize=9)
            ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=7)
            ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=7)
            ax.set_title(f"{head} {lg}", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "confusion_per_language.png", dpi=110)
    plt.close(fig)
    written.append("confusion_per_language.png")
    return written


def load_independent(path: str | Path = INDEPENDENT_SET) -> list[dict]:
    """The hand-written set as rows shaped like the generator's (`category` = its `kind`)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows.append(r | {"category": r["kind"], "undisclosed": int(r["branded"] and not r["disclosed"])})
    return rows


def evaluate_independent(model, rows: list[dict] | None = None, threshold: float = 0.5) -> dict:
    """Per-language F1 of `model` (anything with score_texts) on the hand-written set, with its misses."""
    rows = load_independent() if rows is None else rows
    probs = probs_of(model.score_texts([r["text"] for r in rows]))  # (N, 2)
    full = evaluate(rows, probs, threshold)
    out = {"n": len(rows), "threshold": threshold, "en_undisclosed_branded_f1": full["en_undisclosed_branded_f1"]}
    for head in HEADS:
        res = full["heads"][head]
        out[head] = {"f1": res["f1"], "average_precision": res["average_precision"], "ece": res["calibration"]["ece"],
                     "per_language": {lg: {k: v[k] for k in ("f1", "n", "positives", "confusion")} for lg, v in res["per_language"].items()},
                     "per_kind_positive_rate": res["per_category_positive_rate"]}
    out["errors"] = [{"lang": r["lang"], "kind": r["kind"], "branded": r["branded"], "copyright": r["copyright"],
                      "p_branded": round(float(p[0]), 3), "p_copyright": round(float(p[1]), 3), "text": r["text"][:160]}
                     for r, p in zip(rows, probs) if (p[0] >= threshold) != bool(r["branded"]) or (p[1] >= threshold) != bool(r["copyright"])]
    return out


def strip_disclosures(text: str, disclosures: list[str]) -> str:
    """`text` with each disclosure substring removed (longest first), as the real undisclosed-ad test set was made,
    then the spaces and blank lines that left behind tidied."""
    for d in sorted(disclosures, key=len, reverse=True):  # "#ad" must not take the start of "#adventure"
        text = re.sub(("(?<!\\w)" if d[0].isalnum() else "") + re.escape(d) + ("(?!\\w)" if d[-1].isalnum() else ""), " ", text)
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip(" \t|:-") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def load_captions(path: str | Path = CAPTION_SET, split: str | None = None) -> list[dict]:
    """The English caption set (`split` "dev", "test" or None for both): rows with `branded` (1 = sponsored), `kind`,
    `niche`, `writer`, `text` (as posted) and `undisclosed_text` (the disclosures removed; organic posts unchanged)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            if split is None or r.get("split") == split:
                rows.append(r | {"branded": int(r["label"] == "sponsored"),
                                 "undisclosed_text": strip_disclosures(r["text"], r["disclosure"])})
    return rows


def caption_rows(split: str) -> list[dict]:
    """`load_captions` rows of one CAPTION_SPLITS split: "dev", "test" (English) or "test_intl" (fr, de, es, pt)."""
    if split not in CAPTION_SPLITS:
        raise ValueError(f"caption split: expected one of {list(CAPTION_SPLITS)}, got {split!r}")
    path, name = CAPTION_SPLITS[split]
    return load_captions(path, name)


CAPTION_FIELDS = {"undisclosed": "undisclosed_text", "as_posted": "text"}  # what is scored: disclosures removed, or kept


def score_captions(model, rows: list[dict]) -> dict[str, np.ndarray]:
    """`model`'s (N, 2) [P(branded), P(copyright)] of caption rows, per CAPTION_FIELDS version of the text."""
    return {name: probs_of(model.score_texts([r[field] for r in rows])) for name, field in CAPTION_FIELDS.items()}


def evaluate_captions(model, rows: list[dict] | None = None, threshold: float = 0.5,
                      bands: tuple[float, float] = (0.3, 0.9), probs: dict[str, np.ndarray] | None = None) -> dict:
    """The undisclosed-ad test on caption rows (default: the English set): P(branded) of every sponsored caption with its disclosures
    removed against every organic one (F1, precision, recall at `threshold`, average precision), the same with the
    disclosures left in, what the policy's (review_at, fail_at) `bands` do to each kind, and the misses.
    probs: `score_captions` of these rows, when the caller already has them."""
    rows = load_captions() if rows is None else rows
    probs = score_captions(model, rows) if probs is None else probs
    y = np.array([r["branded"] for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    langs = np.array([r.get("lang", "en") for r in rows])
    out: dict = {"n": len(rows), "sponsored": int(y.sum()), "threshold": threshold}
    for name, field in CAPTION_FIELDS.items():
        p, pred = probs[name][:, 0], probs[name][:, 0] >= threshold
        tp = int((pred & (y == 1)).sum())
        out[name] = {"f1": float(f1_score(y, pred)), "precision": tp / max(int(pred.sum()), 1), "recall": tp / max(int(y.sum()), 1),
                     "average_precision": float(average_precision_score(y, p)),
                     "copyright_flagged": int((probs[name][:, 1] >= threshold).sum()),  # none of these posts reuses material
                     "copyright_review_or_fail": int((probs[name][:, 1] >= bands[0]).sum()),
                     "copyright_fail": int((probs[name][:, 1] >= bands[1]).sum()),
                     "per_kind": _rates_by_kind(kinds, p, threshold, bands), "per_language": _f1_by_language(y, pred, langs)}
        if name == "undisclosed":
            out["errors"] = [{"label": r["label"], "kind": r["kind"], "p_branded": round(float(q), 3), "text": r[field][:160]}
                             for r, q, hit in zip(rows, p, pred) if hit != bool(r["branded"])]
    return out


def _rates_by_kind(kinds: np.ndarray, p: np.ndarray, threshold: float, bands: tuple[float, float]) -> dict:
    """Per kind of caption: how many, and the shares at or above `threshold` and each of the policy's (review_at, fail_at)."""
    return {k: {"n": int((kinds == k).sum()), "flagged": float((p[kinds == k] >= threshold).mean()),
                "review_or_fail": float((p[kinds == k] >= bands[0]).mean()), "fail": float((p[kinds == k] >= bands[1]).mean())}
            for k in sorted(set(kinds))}


def _f1_by_language(y: np.ndarray, pred: np.ndarray, langs: np.ndarray) -> dict:
    return {lg: float(f1_score(y[langs == lg], pred[langs == lg])) for lg in sorted(set(langs))}

def caption_metrics(model) -> dict:
    """`evaluate_captions` on each split of the caption set, and on the fr/de/es/pt one as "test_intl", as metrics.json
    keeps them: the test splits without their misses' texts (nobody reads them, so that they stay tests)."""
    out = {split: evaluate_captions(model, caption_rows(split)) for split in CAPTION_SPLITS}
    return {split: res if split == "dev" else _unread(res) for split, res in out.items()}


def _unread(res: dict) -> dict:
    """A test split's `evaluate_captions` results without its misses' texts."""
    return {k: v for k, v in res.items() if k != "errors"} | {"n_errors": len(res["errors"])}


def print_captions(res: dict, text_chars: int = 110, show_misses: bool = True) -> None:
    """`evaluate_captions` results: the two F1s, the rate per kind, then every miss (not for the test split: nobody
    reads its texts, so that it stays a test)."""
    for name in ("undisclosed", "as_posted"):
        v = res[name]
        print(f"{name}: F1 {v['f1']:.3f} (P {v['precision']:.3f}, R {v['recall']:.3f}, AP {v['average_precision']:.3f}); "
              f"copyright flagged {v['copyright_flagged']} of {res['n']} "
              f"(review or fail {v['copyright_review_or_fail']}, fail {v['copyright_fail']})")
    if len(res["undisclosed"]["per_language"]) > 1:
        print("  undisclosed F1 per language: " + ", ".join(f"{lg} {f:.3f}" for lg, f in res["undisclosed"]["per_language"].items()))
    for k, v in res["undisclosed"]["per_kind"].items():
        print(f"  {k:<14} n={v['n']:<4} flagged {v['flagged']:.2f}  review or fail {v['review_or_fail']:.2f}  fail {v['fail']:.2f}")
    print(f"{len(res['errors'])} misses at {res['threshold']} (disclosures removed)" + (":" if show_misses else ""))
    for e in res["errors"] if show_misses else []:
        print(f"  {e['label']:<9} {e['kind']:<14} p={e['p_branded']:.2f}  {e['text'][:text_chars]!r}")


def _one_check_rows(path: str | Path, head: str, positive: str) -> list[dict]:
    """The rows of a JSON Lines test set that labels one check: `head` is 1 where `label` == `positive`, the other check 0."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows.append(r | {h: int(h == head and r["label"] == positive) for h in HEADS})
    return rows


def load_reuse(path: str | Path) -> list[dict]:
    """Written copyright captions: rows with `copyright` (1 = reuses others' material), `branded` (0: none is sponsored),
    `kind`, `niche`, `lang`, `writer` and `text`."""
    return _one_check_rows(path, "copyright", "reuse")


def written_test(rows: list[dict], probs: np.ndarray, head: int, threshold: float = 0.5,
                 bands: tuple[float, float] = (0.3, 0.9)) -> dict:
    """One check's scores on a written test set: rows carry `branded` / `copyright` labels, `kind`, `lang`, `text`;
    probs (N, 2) the model's probabilities. F1, precision, recall at `threshold`, average precision, F1 per language,
    what the policy's (review_at, fail_at) `bands` do to each kind, how many reach `threshold` on the other check,
    and the misses."""
    y = np.array([r[HEADS[head]] for r in rows])
    p = probs[:, head]
    pred = p >= threshold
    kinds, langs = np.array([r["kind"] for r in rows]), np.array([r["lang"] for r in rows])
    tp = int((pred & (y == 1)).sum())
    return {"n": len(rows), "positives": int(y.sum()), "threshold": threshold, "f1": float(f1_score(y, pred)),
            "precision": tp / max(int(pred.sum()), 1), "recall": tp / max(int(y.sum()), 1),
            "average_precision": float(average_precision_score(y, p)),
            "per_language": _f1_by_language(y, pred, langs), "per_kind": _rates_by_kind(kinds, p, threshold, bands),
            "other_check_flagged": int((probs[:, 1 - head] >= threshold).sum()),
            "errors": [{"label": r["label"], "kind": r["kind"], "lang": r["lang"], f"p_{HEADS[head]}": round(float(q), 3),
                        "text": r["text"][:160]} for r, q, hit in zip(rows, p, pred) if hit != bool(r[HEADS[head]])]}


def evaluate_reuse(model, rows: list[dict], threshold: float = 0.5, bands: tuple[float, float] = (0.3, 0.9),
                   probs: np.ndarray | None = None) -> dict:
    """The copyright test on written captions (`load_reuse` rows): `written_test` of P(copyright), reuse against
    original captions; `reuse` counts the positives and `branded_flagged` those flagged as branded (none is).
    probs: `model`'s (N, 2) probabilities of these rows' texts, when the caller already has them."""
    probs = probs_of(model.score_texts([r["text"] for r in rows])) if probs is None else probs  # (N, 2)
    res = written_test(rows, probs, HEADS.index("copyright"), threshold, bands)
    return res | {"reuse": res.pop("positives"), "branded_flagged": res.pop("other_check_flagged")}


def reuse_metrics(model) -> dict:
    """`evaluate_reuse` on the copyright test writers, as metrics.json keeps it (without the misses' texts)."""
    return {"test": _unread(evaluate_reuse(model, load_reuse(REUSE_SETS["test"])))}


def print_kinds(per_kind: dict) -> None:
    """`written_test`'s per-kind rates, one line per kind: flagged at the threshold, at review_at, at fail_at."""
    for k, v in per_kind.items():
        print(f"  {k:<12} n={v['n']:<4} flagged {v['flagged']:.2f}  review or fail {v['review_or_fail']:.2f}  fail {v['fail']:.2f}")


def print_reuse(res: dict, text_chars: int = 110, show_misses: bool = True) -> None:
    """`evaluate_reuse` results: F1, per language, per kind, then the misses (not for the test writers)."""
    print(f"copyright F1 {res['f1']:.3f} (P {res['precision']:.3f}, R {res['recall']:.3f}, AP {res['average_precision']:.3f}) "
          f"on {res['n']} captions ({res['reuse']} reuse); flagged as branded {res['branded_flagged']}")
    print("  F1 per language: " + ", ".join(f"{lg} {f:.3f}" for lg, f in res["per_language"].items()))
    print_kinds(res["per_kind"])
    for e in res.get("errors", []) if show_misses else []:
        print(f"  {e['lang']} {e['label']:<8} {e['kind']:<12} p={e['p_copyright']:.2f}  {e['text'][:text_chars]!r}")


def load_talk(name: str) -> list[dict]:
    """A talk test (`TALK_SETS`: "adtalk" or "copytalk"): rows with `branded` and `copyright` (1 for the positives on the
    test's check, 0 otherwise), `label`, `kind` (organic talk: "ad_talk" / "copyright_talk"), `lang`, `writer`, `text`."""
    path, head, positive = TALK_SETS[name]
    return _one_check_rows(path, head, positive)


def talk_metrics(model, name: str) -> dict:
    """`written_test` of the test's check on a talk test, as metrics.json keeps it (without the misses' texts)."""
    rows = load_talk(name)
    head = HEADS.index(TALK_SETS[name][1])
    return {"test": _unread(written_test(rows, probs_of(model.score_texts([r["text"] for r in rows])), head))}


def heldout_f1(model, bank_path: str | Path, n: int = 10000, seed: int = 1337, name_split: str | None = None) -> dict:
    """Per-language F1 of `model` on the validation split another phrase bank makes (e.g. an older version),
    so two model versions compare on the same held-out families (cross-fitted: `heldout_probs`).
    name_split="train" fills those posts' names from the training lists (see `generate`)."""
    from training.text.generate import generate, load_bank

    rows = generate(n, "val", seed, load_bank(bank_path), name_split=name_split)
    res = evaluate(rows, heldout_probs(model, rows))
    return {h: {"all": res["heads"][h]["f1"], **{lg: v["f1"] for lg, v in res["heads"][h]["per_language"].items()}} for h in HEADS}


def print_independent(res: dict, text_chars: int = 100) -> None:
    """Per-language F1 of `evaluate_independent` results, then every miss."""
    for lg, v in res["branded"]["per_language"].items():
        print(f"{lg}: branded F1 {v['f1']:.3f}  copyright F1 {res['copyright']['per_language'][lg]['f1']:.3f}")
    print(f"all: branded F1 {res['branded']['f1']:.3f} copyright F1 {res['copyright']['f1']:.3f} "
          f"en undisclosed {res['en_undisclosed_branded_f1']:.3f}; {len(res['errors'])} posts with an error:")
    for e in res["errors"]:
        print(f"  {e['lang']} {e['kind']:<20} b={e['branded']} p={e['p_branded']:.2f}  c={e['copyright']} p={e['p_copyright']:.2f}  "
              f"{e['text'][:text_chars]!r}")


if __name__ == "__main__":
    import sys

    from models.text.classifier import DEFAULT_ARTIFACT, load

    args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:] if "=" in a)
    if args.get("captions") == "write":  # python -m training.text.evaluate --captions=write [--artifact=DIR]: into metrics.json and card.md
        from training.text.card import write_card

        folder = Path(args.get("artifact") or DEFAULT_ARTIFACT)
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        model = load(folder)
        metrics["captions"], metrics["reuse"] = caption_metrics(model), reuse_metrics(model)
        metrics |= {name: talk_metrics(model, name) for name in TALK_SETS}
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {write_card(folder)}")
    elif "captions" in args:  # python -m training.text.evaluate --captions=dev|test|test_intl [--artifact=DIR]: the undisclosed-ad test
        split = args["captions"]  # dev | test | test_intl (the fr/de/es/pt test); only dev shows its misses
        print_captions(evaluate_captions(load(args.get("artifact")), caption_rows(split)), show_misses=split == "dev")
    elif "reuse" in args:  # python -m training.text.evaluate --reuse=train|test [--artifact=DIR]: the copyright test
        split = args["reuse"]  # train (the training writers, read) | test (only scored: numbers, no misses)
        print_reuse(evaluate_reuse(load(args.get("artifact")), load_reuse(REUSE_SETS[split])), show_misses=split != "test")
    elif "talk" in args:  # python -m training.text.evaluate --talk=adtalk|copytalk [--artifact=DIR]: a talk test (numbers only)
        print(json.dumps(talk_metrics(load(args.get("artifact")), args["talk"])["test"], indent=1))
    elif "heldout_bank" in args:  # python -m training.text.evaluate --heldout_bank=old_phrases.yaml [--artifact=DIR] [--names=train]
        print(json.dumps(heldout_f1(load(args.get("artifact")), args["heldout_bank"], name_split=args.get("names")), indent=1))
    else:
        print_independent(evaluate_independent(load(args.get("artifact"))))
