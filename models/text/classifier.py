"""Text model inference: `load(path)` and `TextClassifier.score_texts`.

Scores each post for two checks with one linear model over three feature blocks:

    char_wb n-grams (hashed, sublinear tf-idf, l2)  ─┐
    word n-grams    (hashed, sublinear tf-idf, l2)  ─┼─► logits (N, 2) ─► Platt ─► P(branded), P(copyright)
    rule features   (patterns.yaml, binary × w)     ─┘

Evidence spans come from the same patterns (models/text/evidence.py). The artifact
is a folder: config.json, weights.safetensors (idf vectors, coefficients, Platt
parameters), patterns.yaml, card.md, metrics.json. No pickle is loaded.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from .config import TextConfig
from .evidence import CHECKS, SpanExtractor

__all__ = ["TextScore", "TextClassifier", "load", "DEFAULT_ARTIFACT"]

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifact"
PATTERNS_FILE = Path(__file__).resolve().parent / "patterns.yaml"
_WEIGHT_SHAPES = ("idf_char", "idf_word", "coef", "intercept", "platt")


@dataclass(frozen=True)
class TextScore:
    """What the text model says about one post.

    branded:   calibrated P(brand partnership), in [0, 1].
    copyright: calibrated P(reuses copyrighted material), in [0, 1].
    spans:     evidence, each {"start", "end", "label", "check", "text"}; start/end are
               Python str indices into the text as given, so text[start:end] == span["text"].
    """

    branded: float
    copyright: float
    spans: tuple[dict, ...]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


class TextClassifier:
    """Hashed n-gram + rule-feature logistic model with Platt calibration, two heads.

    Args:
        config: the feature and model settings the weights were trained with.
        weights: idf_char (char_features,), idf_word (word_features,), coef (D, 2),
            intercept (2,), platt (2, 2) rows [slope, bias] per head; D = char + word + rules.
        patterns: the parsed patterns file (see patterns.yaml).
    """

    def __init__(self, *, config: TextConfig, weights: dict[str, np.ndarray], patterns: dict[str, Any]) -> None:
        self.config = config
        self.version = config.version
        self.extractor = SpanExtractor(patterns)
        missing = [k for k in _WEIGHT_SHAPES if k not in weights]
        if missing:
            raise ValueError(f"TextClassifier weights: missing {missing}; expected {list(_WEIGHT_SHAPES)}")
        dim = config.char_features + config.word_features + self.extractor.n_features
        expected = {
            "idf_char": (config.char_features,),
            "idf_word": (config.word_features,),
            "coef": (dim, 2),
            "intercept": (2,),
            "platt": (2, 2),
        }
        for key, shape in expected.items():
            if tuple(weights[key].shape) != shape:
                raise ValueError(f"TextClassifier weights[{key!r}]: expected shape {shape}, got {tuple(weights[key].shape)}")
        self.weights = {k: np.ascontiguousarray(weights[k], dtype=np.float32) for k in _WEIGHT_SHAPES}
        self._char = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(config.char_ngram_min, config.char_ngram_max),
            n_features=config.char_features,
            alternate_sign=False,
            norm=None,
            lowercase=True,
        )
        self._word = HashingVectorizer(
            analyzer="word",
            token_pattern=r"(?u)[#@]?\w\w*",
            ngram_range=(1, config.word_ngram_max),
            n_features=config.word_features,
            alternate_sign=False,
            norm=None,
            lowercase=True,
        )

    # ---- features -------------------------------------------------------------------------
    @staticmethod
    def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        counts = counts.astype(np.float32)
        np.log1p(counts.data, out=counts.data)  # sublinear tf: 1 + log(1 + tf); absent n-grams stay 0
        counts.data += 1.0
        counts.data *= idf[counts.indices]  # idf weighting in place, (nnz,)
        return normalize(counts, norm="l2", copy=False)

    def features(self, texts: list[str]) -> tuple[sp.csr_matrix, list[list[dict[str, Any]]]]:
        """The design matrix (N, D) and the evidence spans of each text."""
        x_char = self._tfidf(self._char.transform(texts), self.weights["idf_char"])  # (N, Fc)
        x_word = self._tfidf(self._word.transform(texts), self.weights["idf_word"])  # (N, Fw)
        rules, spans = self.extractor.features(texts)  # (N, L+1)
        x = sp.hstack([x_char, x_word, sp.csr_matrix(rules * self.config.rule_weight)], format="csr")
        return x, spans

    def logits(self, x: sp.csr_matrix) -> np.ndarray:
        return np.asarray(x @ self.weights["coef"]) + self.weights["intercept"]  # (N, 2)

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        platt = self.weights["platt"]  # (2, 2): [slope, bias] per head
        return _sigmoid(logits * platt[:, 0] + platt[:, 1])  # (N, 2)

    # ---- public API -----------------------------------------------------------------------
    def score_texts(self, texts: Sequence[str]) -> list[TextScore]:
        """Score a batch of post texts; one TextScore per text, in order.

        Args:
            texts: a sequence (list, tuple) of str; "" is allowed and scores as an organic post.
        Returns:
            list of TextScore, empty for an empty batch.
        """
        if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
            raise TypeError(f"texts: expected a sequence of str, got {type(texts).__name__}")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}]: expected str, got {type(t).__name__}")
        if not texts:
            return []
        x, spans = self.features(texts)
        probs = self.calibrate(self.logits(x))  # (N, 2)
        floor = self.config.evidence_min_score
        out = []
        for p, sp_ in zip(probs, spans):
            keep = {CHECKS[0]: p[0] >= floor, CHECKS[1]: p[1] >= floor}
            out.append(TextScore(float(p[0]), float(p[1]), tuple(s for s in sp_ if keep[s["check"]])))
        return out

    def save(self, path: str | Path) -> Path:
        """Write config.json, weights.safetensors and patterns.yaml into folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.config.to_json(path / "config.json")
        save_file(self.weights, str(path / "weights.safetensors"), metadata={"version": self.version})
        (path / "weights.safetensors").chmod(0o644)
        (path / "patterns.yaml").write_text(_dump_patterns(self.extractor.spec), encoding="utf-8")
        return path


def _dump_patterns(spec: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=1000)


def load(path: str | Path | None = None) -> TextClassifier:
    """Load the text model from an artifact folder (default: the shipped models/text/artifact/).

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
    """
    import yaml

    folder = Path(path) if path is not None else DEFAULT_ARTIFACT
    needed = [folder / "config.json", folder / "weights.safetensors", folder / "patterns.yaml"]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"text model artifact {folder}: missing {missing}; train it with `make train-text` "
            f"(python -m training.text.train) or pass the folder of a trained artifact"
        )
    config = TextConfig.from_json(folder / "config.json")
    weights = load_file(str(folder / "weights.safetensors"))
    with open(folder / "patterns.yaml", encoding="utf-8") as f:
        patterns = yaml.safe_load(f)
    return TextClassifier(config=config, weights=weights, patterns=patterns)
