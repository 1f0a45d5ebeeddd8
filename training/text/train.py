"""Train the text model (lexical stage) and write models/text/artifact/.

    python -m training.text.train                      # defaults below
    python -m training.text.train --n_train=20000 --out_dir=/tmp/text_artifact

Steps: synthesise train/val posts (held-out phrase families and names, see
generate.py) -> hashed n-gram idf on train -> out-of-fold logits grouped by phrase
family -> Platt calibration on them -> final logistic heads on all of train ->
held-out metrics, plots, card.md, metrics.json. Seeded; one CPU thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import datetime as _dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from models.text.classifier import PATTERNS_FILE, TextClassifier
from models.text.config import TextConfig
from training.configurator import apply_overrides, git_commit
from training.text.evaluate import HEADS, evaluate, plot_all
from training.text.generate import generate, load_bank

# -----------------------------------------------------------------------------
# config: defaults, overridable as --key=value (same type as the default)
seed = 1337  # data and model seed
n_train = 40000  # synthetic training posts (8000 per language)
n_val = 10000  # held-out posts: unseen phrase families and names (2000 per language)
folds = 4  # GroupKFold folds (by phrase family) for the out-of-fold calibration logits
char_ngram_min = 2
char_ngram_max = 5
char_features = 2**18  # hashing space, power of two
word_ngram_max = 2
word_features = 2**17  # hashing space, power of two
rule_weight = 1.0  # 0 disables the pattern features (spans still returned)
c_branded = 8.0  # inverse L2 strength, branded head
c_copyright = 8.0  # inverse L2 strength, copyright head
evidence_min_score = 0.1  # spans of a check returned only at or above this probability
ablate_rules = True  # also train without rule features and report held-out F1 (baseline)
out_dir = "models/text/artifact"
# -----------------------------------------------------------------------------


def _idf(counts, n_docs: int) -> np.ndarray:
    df = np.bincount(counts.indices, minlength=counts.shape[1])  # (F,) document frequency
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


def _fit_head(x, y, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", max_iter=200, random_state=seed).fit(x, y)


def _train(cfg: TextConfig, patterns: dict, train_rows: list[dict], log) -> tuple[TextClassifier, np.ndarray]:
    """Fit idf, out-of-fold Platt calibration and the final heads; returns the model and OOF logits."""
    texts = [r["text"] for r in train_rows]
    n_rules = len(patterns["labels"]) + 1
    dim = cfg.char_features + cfg.word_features + n_rules
    blank = {
        "idf_char": np.ones(cfg.char_features, np.float32),
        "idf_word": np.ones(cfg.word_features, np.float32),
        "coef": np.zeros((dim, 2), np.float32),
        "intercept": np.zeros(2, np.float32),
        "platt": np.array([[1.0, 0.0], [1.0, 0.0]], np.float32),
    }
    model = TextClassifier(config=cfg, weights=blank, patterns=patterns)
    # 1) idf from document frequencies of the hashed n-grams on train
    model.weights["idf_char"] = _idf(model._char.transform(texts).tocsc().tocsr(), len(texts))
    model.weights["idf_word"] = _idf(model._word.transform(texts), len(texts))
    x, _ = model.features(texts)  # (N, D)
    log(f"features: {x.shape}, nnz/post {x.nnz / x.shape[0]:.0f}")
    groups = np.array([r["family"] for r in train_rows])
    ys = {h: np.array([r[h] for r in train_rows]) for h in HEADS}
    cs = {"branded": cfg.c_branded, "copyright": cfg.c_copyright}
    # 2) out-of-fold logits, folds split by phrase family (the calibrator sees unseen wordings)
    oof = np.zeros((len(texts), 2))
    for k, (tr, te) in enumerate(GroupKFold(n_splits=folds).split(x, groups=groups)):
        for h, head in enumerate(HEADS):
            clf = _fit_head(x[tr], ys[head][tr], cs[head])
            oof[te, h] = clf.decision_function(x[te])
        log(f"fold {k + 1}/{folds} done")
    # 3) Platt scaling on the out-of-fold logits: p = sigmoid(a * logit + b)
    platt = np.zeros((2, 2), np.float32)
    for h, head in enumerate(HEADS):
        cal = LogisticRegression(C=1e4, solver="lbfgs").fit(oof[:, h : h + 1], ys[head])
        platt[h] = [cal.coef_[0, 0], cal.intercept_[0]]
    # 4) final heads on all of train
    for h, head in enumerate(HEADS):
        clf = _fit_head(x, ys[head], cs[head])
        model.weights["coef"][:, h] = clf.coef_[0].astype(np.float32)
        model.weights["intercept"][h] = np.float32(clf.intercept_[0])
    model.weights["platt"] = platt
    return model, oof


def _card(cfg: TextConfig, resolved: dict, metrics: dict, command: str, seconds: float) -> str:
    b, c = metrics["heads"]["branded"], metrics["heads"]["copyright"]
    langs = list(b["per_language"])
    table = "\n".join(
        f"| {lg} | {b['per_language'][lg]['f1']:.3f} | {c['per_language'][lg]['f1']:.3f} |" for lg in langs
    )
    base = metrics.get("ablation_no_rules")
    abl = ""
    if base:
        abl = "\n".join(
            f"| {lg} | {base['branded'][lg]:.3f} | {base['copyright'][lg]:.3f} |" for lg in langs
        )
        abl = f"\nBaseline without rule features (n-grams only), held-out F1:\n\n| lang | branded | copyright |\n|---|---|---|\n{abl}\n"
    thr = "\n".join(
        f"| {h} | {m['recommended']['fail_at']['threshold']:.3f} (P {m['recommended']['fail_at']['precision']:.3f}, "
        f"R {m['recommended']['fail_at']['recall']:.3f}) | {m['recommended']['review_at']['threshold']:.3f} "
        f"(P {m['recommended']['review_at']['precision']:.3f}, R {m['recommended']['review_at']['recall']:.3f}) |"
        for h, m in (("no_branded_content", b), ("no_copyrighted_content", c))
    )
    return f"""# Text model card: {cfg.version}

Scores a post's text for two checks: `no_branded_content` (P(brand partnership))
and `no_copyrighted_content` (P(reuses copyrighted material)), with evidence spans.

## Model
Lexical stage only: hashed character n-grams ({cfg.char_ngram_min}-{cfg.char_ngram_max}, `char_wb`, {cfg.char_features} buckets)
+ hashed word 1-{cfg.word_ngram_max}-grams ({cfg.word_features} buckets), sublinear tf-idf, l2, plus {len(metrics['rule_labels']) + 1}
binary rule features from `patterns.yaml`; one L2 logistic regression per check (liblinear),
Platt-calibrated on out-of-fold logits where folds split by phrase family. Evidence spans
are the regex matches of `patterns.yaml` on the original text (Python str offsets).
No transformer stage ships in this version (see "Limits").

## Data
Synthetic only (`training/text/generate.py`, phrase bank `phrases.yaml`): {resolved['n_train']} train,
{resolved['n_val']} held-out posts, balanced over en/fr/es/pt/de, with hard negatives (organic brand mentions,
"not sponsored", "ad" in other senses, talk about ads/copyright, discount stories, own newsletter links,
own copyright notices). Held out: every phrase family with index % 4 == 3 per (language, category),
and all brand/handle/code/link/creator/show/artist/team names of the `*_val` lists. Not held out:
the closed list of disclosure markers ("#ad", "Werbung", "Publicité", "#publi", ...) that law and
platform rules fix; 30% of disclosed posts are such a marker on an organic-looking post.
No public labelled dataset of sponsored posts was used for training or tuning.

## Command
`{command}` (seed {resolved['seed']}, 1 CPU thread, {seconds:.0f} s), git commit `{metrics['git_commit']}`.

## Held-out metrics (threshold 0.5)
| lang | branded F1 | copyright F1 |
|---|---|---|
{table}

All languages: branded F1 {b['f1']:.3f} (AP {b['average_precision']:.3f}), copyright F1 {c['f1']:.3f} (AP {c['average_precision']:.3f}).
English undisclosed-ad proxy (branded posts without a disclosure core vs all English negatives): F1 {metrics['en_undisclosed_branded_f1']:.3f}.
Calibration (10 bins): branded ECE {b['calibration']['ece']:.3f}, Brier {b['calibration']['brier']:.3f};
copyright ECE {c['calibration']['ece']:.3f}, Brier {c['calibration']['brier']:.3f}. Curves: `pr_calibration.png`;
confusion matrices: `confusion_per_language.png`; bins in `metrics.json`.
{abl}
## Recommended policy thresholds (held-out)
fail_at: lowest threshold with precision >= 0.98; review_at: highest threshold with recall >= 0.98.

| check | fail_at | review_at |
|---|---|---|
{thr}

## Limits
- Trained and validated on synthetic posts from one phrase bank; held-out scores measure
  generalisation to unseen phrasings and names within that bank's style, not real captions.
  Expect lower scores on real data, most of all for undisclosed ads without codes or links.
- The rule features and the phrase bank were written by the same author: the held-out score
  of the rule-feature model is optimistic where a held-out phrasing also matches a pattern;
  the n-gram-only baseline above bounds that effect.
- Most generalisation to unseen phrasings comes from the rule features: a pattern that fires
  weighs heavily, so a rule word in another sense ("leaked", "full episode") can still score
  high where no hard negative taught otherwise; read the spans before failing a post.
- German "Anzeige/Werbung wegen Markennennung" (unpaid brand mention, labelled as advertising)
  scores as branded.
- Languages other than en/fr/es/pt/de are not covered.
"""


def main() -> None:
    resolved = apply_overrides(globals(), sys.argv[1:])
    print(json.dumps(resolved, indent=2))
    t0 = time.perf_counter()
    np.random.seed(seed)
    log = lambda msg: print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)
    commit = git_commit()
    cfg = TextConfig(
        char_ngram_min=char_ngram_min, char_ngram_max=char_ngram_max, char_features=char_features,
        word_ngram_max=word_ngram_max, word_features=word_features, rule_weight=rule_weight,
        c_branded=c_branded, c_copyright=c_copyright, evidence_min_score=evidence_min_score,
        version=f"text-{_dt.date.today():%Y%m%d}-{commit}",
    )
    with open(PATTERNS_FILE, encoding="utf-8") as f:
        patterns = yaml.safe_load(f)
    # data: train and held-out splits share no phrase family and no slot name
    bank = load_bank()
    train_rows = generate(n_train, "train", seed, bank)
    val_rows = generate(n_val, "val", seed, bank)
    log(f"data: {len(train_rows)} train, {len(val_rows)} val")
    # train the shipped model
    model, _ = _train(cfg, patterns, train_rows, log)
    log("trained")
    # held-out evaluation
    scores = model.score_texts([r["text"] for r in val_rows])
    probs = np.array([[s.branded, s.copyright] for s in scores])  # (N, 2)
    metrics = evaluate(val_rows, probs)
    metrics.update({"version": cfg.version, "git_commit": commit, "config": resolved,
                    "rule_labels": list(model.extractor.labels)})
    log(f"held-out branded F1 {metrics['heads']['branded']['f1']:.4f}, copyright F1 {metrics['heads']['copyright']['f1']:.4f}")
    # baseline: n-grams only (rule features off)
    if ablate_rules:
        base_cfg = TextConfig(**{**cfg.__dict__, "rule_weight": 0.0})
        base, _ = _train(base_cfg, patterns, train_rows, log)
        bs = base.score_texts([r["text"] for r in val_rows])
        bm = evaluate(val_rows, np.array([[s.branded, s.copyright] for s in bs]))
        metrics["ablation_no_rules"] = {h: {lg: v["f1"] for lg, v in bm["heads"][h]["per_language"].items()} for h in HEADS}
        metrics["ablation_no_rules"]["en_undisclosed_branded_f1"] = bm["en_undisclosed_branded_f1"]
        log("baseline (no rule features) done")
    # write the artifact
    out = Path(out_dir)
    model.save(out)
    seconds = time.perf_counter() - t0
    metrics["train_seconds"] = round(seconds, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    plot_all(val_rows, probs, metrics, out)
    command = "python -m training.text.train " + " ".join(sys.argv[1:])
    (out / "card.md").write_text(_card(cfg, resolved, metrics, command.strip(), seconds), encoding="utf-8")
    for lg, v in metrics["heads"]["branded"]["per_language"].items():
        print(f"{lg}: branded F1 {v['f1']:.4f}  copyright F1 {metrics['heads']['copyright']['per_language'][lg]['f1']:.4f}")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
