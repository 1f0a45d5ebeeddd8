"""Build and execute notebooks/text.ipynb: per-language confusion, calibration, error table.

    python -m training.text.notebook        # runs every cell in-process, stores outputs

No Jupyter needed: each cell is exec'd in one namespace; stdout and matplotlib
figures become the cell's outputs in a plain nbformat-4 file.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path

CELLS = [
    ("markdown", "# Text model: held-out evaluation\nShipped artifact `models/text/artifact/` (lexical stage + "
                 "contextual MiniLM stage for the posts the lexical stage is unsure about) scored on the held-out "
                 "split of `training/text/generate.py` (unseen phrase families and names). Rebuilt by "
                 "`python -m training.text.notebook`."),
    ("code", """import json, collections
import numpy as np
import torch
torch.set_num_threads(1)  # routed posts run one at a time; a second thread only adds contention
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from models.text import load
from training.text.generate import generate
from training.text.evaluate import cross_recalibrated, evaluate, heldout_probs, HEADS
model = load()
cfg = json.load(open("models/text/artifact/metrics.json"))["config"]
rows = generate(cfg["n_val"], "val", cfg["seed"])
scores = model.score_texts([r["text"] for r in rows])  # stages and evidence as served
# the shipped recalibration (and, from v7, stacking) was fitted on these held-out families: score each half of
# their ideas with fits on the other half, as the card does (cross-fitted)
probs = heldout_probs(model, rows)
m = evaluate(rows, probs)
x, _ = model.features([r["text"] for r in rows])
lex_probs = cross_recalibrated(rows, model.calibrate(model.logits(x)))  # the lexical stage alone, recalibrated the same way
lex = evaluate(rows, lex_probs)
stage = np.array([s.stage for s in scores])
print(model.version, len(rows), "held-out posts;", f"{(stage == 'contextual').mean():.1%} routed to the contextual stage")"""),
    ("markdown", "## Cascade vs lexical stage alone (F1 at 0.5, per language)"),
    ("code", """for h in HEADS:
    for lg, v in m["heads"][h]["per_language"].items():
        print(f"{h:9s} {lg}: cascade {v['f1']:.3f}   lexical alone {lex['heads'][h]['per_language'][lg]['f1']:.3f}")
    print(f"{h:9s} all: cascade {m['heads'][h]['f1']:.3f}   lexical alone {lex['heads'][h]['f1']:.3f}  "
          f"ECE {m['heads'][h]['calibration']['ece']:.3f} vs {lex['heads'][h]['calibration']['ece']:.3f}")"""),
    ("markdown", "## Per-language F1 and confusion matrices (threshold 0.5)"),
    ("code", """for h in HEADS:
    for lg, v in m["heads"][h]["per_language"].items():
        (tn, fp), (fn, tp) = v["confusion"]
        print(f"{h:9s} {lg}: F1 {v['f1']:.3f}  tn {tn:5d} fp {fp:4d} fn {fn:4d} tp {tp:5d}")
fig, axes = plt.subplots(2, 5, figsize=(12, 5))
for i, h in enumerate(HEADS):
    for j, (lg, v) in enumerate(m["heads"][h]["per_language"].items()):
        cm = np.array(v["confusion"]); ax = axes[i, j]
        ax.imshow(cm, cmap="Blues"); ax.set_title(f"{h} {lg}", fontsize=9)
        for (a, b), c in np.ndenumerate(cm): ax.text(b, a, c, ha="center", va="center")
        ax.set_xticks([0, 1], ["pred 0", "pred 1"]); ax.set_yticks([0, 1], ["true 0", "true 1"])
fig.tight_layout()"""),
    ("markdown", "## Calibration (10 equal-width bins)"),
    ("code", """fig, ax = plt.subplots(figsize=(5, 5))
for h in HEADS:
    c = m["heads"][h]["calibration"]
    ax.plot([b["mean_p"] for b in c["bins"]], [b["frac_pos"] for b in c["bins"]], "o-", label=f"{h} ECE {c['ece']:.3f}")
    print(h, "ECE", round(c["ece"], 4), "Brier", round(c["brier"], 4))
    for b in c["bins"]:
        print(f"   [{b['lo']:.1f},{b['hi']:.1f}) n={b['n']:5d} mean_p={b['mean_p']:.3f} frac_pos={b['frac_pos']:.3f}")
ax.plot([0, 1], [0, 1], "k--"); ax.legend(); ax.set_xlabel("predicted"); ax.set_ylabel("observed")"""),
    ("markdown", "## Positive rate per category (hard negatives should be near 0)"),
    ("code", """for h in HEADS:
    print(h, {k: round(v, 3) for k, v in m["heads"][h]["per_category_positive_rate"].items()})
print("English undisclosed-ad proxy F1:", round(m["en_undisclosed_branded_f1"], 3))
print("recommended thresholds:", json.dumps({h: m["heads"][h]["recommended"] for h in HEADS}, indent=1))"""),
    ("markdown", "## F1 against the decision threshold (held-out, per language)\nThe policy's `fail_at` is the "
                 "decision threshold; the card's numbers are at 0.5."),
    ("code", """from sklearn.metrics import f1_score
ts = np.round(np.arange(0.05, 0.96, 0.05), 2)
lang = np.array([r["lang"] for r in rows])
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for i, h in enumerate(HEADS):
    y = np.array([r[h] for r in rows])
    for lg in sorted(set(lang)):
        k = lang == lg
        f1s = [f1_score(y[k], probs[k, i] >= t) for t in ts]
        axes[i].plot(ts, f1s, label=lg)
        print(f"{h:9s} {lg}: best F1 {max(f1s):.3f} at {ts[int(np.argmax(f1s))]:.2f}; at 0.5 {f1s[list(ts).index(0.5)]:.3f}")
    axes[i].set_title(h); axes[i].set_xlabel("threshold"); axes[i].set_ylabel("F1"); axes[i].legend()
fig.tight_layout()"""),
    ("markdown", "## Independent hand-written set (`training/text/independent_posts.jsonl`)\n300 captions, 60 per "
                 "language, written apart from the phrase bank and the patterns; never trained or tuned on."),
    ("code", """from training.text.evaluate import evaluate_independent, print_independent
print_independent(evaluate_independent(model), text_chars=90)"""),
    ("markdown", "## Undisclosed-ad test (`training/text/captions_en.jsonl`, `captions_intl.jsonl`)\n480 English captions in "
                 "the style of real creators' posts, half sponsored with their disclosures removed before scoring, half organic; "
                 "split by writer. The dev writers' misses are shown; the test writers' texts are never read, only scored. "
                 "`test_intl`: the same test in fr, de, es and pt, 480 captions by four other writers, only scored."),
    ("code", """from sklearn.metrics import precision_recall_curve
from training.text.evaluate import CAPTION_SPLITS, calibration_bins, caption_rows, evaluate_captions, print_captions, score_captions
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for split in CAPTION_SPLITS:
    cap_rows = caption_rows(split)
    cap_probs = score_captions(model, cap_rows)
    res = evaluate_captions(model, cap_rows, probs=cap_probs)
    print(f"== {split}"); print_captions(res, text_chars=90, show_misses=split == "dev")
    y, p_und = np.array([r["branded"] for r in cap_rows]), cap_probs["undisclosed"][:, 0]
    prec, rec, _ = precision_recall_curve(y, p_und)
    axes[0].plot(rec, prec, label=f"{split} (AP {res['undisclosed']['average_precision']:.3f})")
    bins = calibration_bins(y, p_und, n_bins=5)["bins"]
    axes[1].plot([b["mean_p"] for b in bins], [b["frac_pos"] for b in bins], "o-", label=split)
axes[0].set_title("undisclosed ads vs organic: PR"); axes[0].set_xlabel("recall"); axes[0].set_ylabel("precision"); axes[0].legend()
axes[1].plot([0, 1], [0, 1], "k--", lw=0.8); axes[1].set_title("calibration (5 bins)"); axes[1].set_xlabel("P(branded)")
axes[1].set_ylabel("share sponsored"); axes[1].legend(); fig.tight_layout()"""),
    ("markdown", "## Copyright test (`training/text/captions_reuse_test.jsonl`)\n600 captions in en, fr, de, es and pt by five "
                 "writers apart from the training ones: half reuse others' material (credited, disclaimed, full episodes, or a "
                 "clip shown with no credit), half show the creator's own (photographer credits on their own shoot, own work, "
                 "talk about films and matches, everyday posts). Only scored, never read: numbers and curves, no texts."),
    ("code", """from training.text.evaluate import REUSE_SETS, evaluate_reuse, load_reuse, print_reuse, probs_of
reuse_rows = load_reuse(REUSE_SETS["test"])
reuse_probs = probs_of(model.score_texts([r["text"] for r in reuse_rows]))  # (N, 2)
res = evaluate_reuse(model, reuse_rows, probs=reuse_probs)
print_reuse(res, show_misses=False)
y, p_cr = np.array([r["copyright"] for r in reuse_rows]), reuse_probs[:, 1]
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
prec, rec, _ = precision_recall_curve(y, p_cr)
axes[0].plot(rec, prec, label=f"AP {res['average_precision']:.3f}"); axes[0].set_title("reuse vs own material: PR")
axes[0].set_xlabel("recall"); axes[0].set_ylabel("precision"); axes[0].legend()
bins = calibration_bins(y, p_cr, n_bins=5)["bins"]
axes[1].plot([b["mean_p"] for b in bins], [b["frac_pos"] for b in bins], "o-"); axes[1].plot([0, 1], [0, 1], "k--", lw=0.8)
axes[1].set_title("calibration (5 bins)"); axes[1].set_xlabel("P(copyright)"); axes[1].set_ylabel("share reusing"); fig.tight_layout()"""),
    ("markdown", "## Talk tests (`training/text/captions_adtalk_test.jsonl`, `captions_copytalk_test.jsonl`)\nCaptions in en, fr, "
                 "de, es and pt by writers who saw nothing of the project: organic posts that talk about ads and name the "
                 "disclosure labels (\"creators who hide #ad\", what #publi means) against disclosed ads, and organic posts that "
                 "talk about copyright and quote reposters' phrases (\"'no copyright intended' protects you from nothing\") "
                 "against reuploads. Only scored, never read: numbers and curves, no texts."),
    ("code", """from training.text.evaluate import TALK_SETS, load_talk, print_kinds, written_test
fig, axes = plt.subplots(1, len(TALK_SETS), figsize=(10, 4))
for ax, (name, (_, check, _)) in zip(axes, TALK_SETS.items()):
    talk_rows = load_talk(name)
    head = HEADS.index(check)
    talk_probs = probs_of(model.score_texts([r["text"] for r in talk_rows]))  # (N, 2)
    res, p_check = written_test(talk_rows, talk_probs, head), talk_probs[:, head]
    print(f"{name}: {check} F1 {res['f1']:.3f} (P {res['precision']:.3f}, R {res['recall']:.3f}, AP {res['average_precision']:.3f})")
    print_kinds(res["per_kind"])
    for kind in sorted({r["kind"] for r in talk_rows}):
        ax.hist(p_check[[r["kind"] == kind for r in talk_rows]], bins=20, range=(0, 1), alpha=0.6, label=kind)
    ax.set_title(f"{name}: P({check}) by kind"); ax.set_xlabel(f"P({check})"); ax.set_ylabel("captions"); ax.legend()
fig.tight_layout()"""),
    ("markdown", "## Error table: most frequent error families, one example each"),
    ("code", """errs = collections.defaultdict(list)
for r, s, p in zip(rows, scores, probs):
    for i, h in enumerate(HEADS):
        if (p[i] >= 0.5) != bool(r[h]):
            errs[(h, r["family"], "FN" if r[h] else "FP")].append((round(float(p[i]), 3), s.stage, r["text"], [x["label"] for x in s.spans]))
print(f"{'head':9s} {'family':24s} kind  n  p      stage       example")
for k, v in sorted(errs.items(), key=lambda kv: -len(kv[1]))[:25]:
    p, st, t, labels = v[0]
    print(f"{k[0]:9s} {k[1]:24s} {k[2]:4s} {len(v):3d} {p:.3f}  {st:11s} {t[:90]!r} {labels}")"""),
]


def _run(cells: list[tuple[str, str]]) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns: dict = {}
    out_cells, count = [], 0
    for kind, src in cells:
        if kind == "markdown":
            out_cells.append({"cell_type": "markdown", "metadata": {}, "source": src.splitlines(True)})
            continue
        count += 1
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(src, f"<cell {count}>", "exec"), ns)
        outputs = []
        if buf.getvalue():
            outputs.append({"output_type": "stream", "name": "stdout", "text": buf.getvalue().splitlines(True)})
        for num in plt.get_fignums():
            png = io.BytesIO()
            plt.figure(num).savefig(png, format="png", dpi=80)
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"image/png": base64.b64encode(png.getvalue()).decode(), "text/plain": ["<Figure>"]}})
        plt.close("all")
        out_cells.append({"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": outputs,
                          "source": src.splitlines(True)})
    return {"cells": out_cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                              "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def main(path: str = "notebooks/text.ipynb") -> None:
    nb = _run(CELLS)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
