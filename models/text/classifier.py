"""Text model inference: `load(path)` and `TextClassifier.score_texts`.

A two-stage cascade scores each post for two checks:

    char_wb n-grams (hashed, sublinear tf-idf, l2)  ─┐
    word n-grams    (hashed, sublinear tf-idf, l2)  ─┼─► lexical logits z (N, 2) ─► Platt ─► p_lex
    rule features   (patterns.yaml, binary × w)     ─┘
                                                           │ route_low < p_lex < route_high (route_on check),
                                                           │ or copyright_route_low < p_lex[copyright] < ..._high
                                                           ▼
    fine-tuned MiniLM (models/text/contextual.py) ─► contextual logits c ─► p = sigmoid(a·z + b·c + d)

Posts the lexical stage is sure about keep p_lex; the others get the stacked, calibrated
blend of both stages' logits (a, b, d per check, fitted on out-of-fold logits). Last, every
probability is recalibrated on held-out phrase families: p' = sigmoid(s·logit(p) + t) per check.
Out-of-fold logits come from families the bank shares ideas with; posts with a genuinely new idea
score lower while still ranking above the negatives, so held-out families are the closer stand-in
for real captions (training/text/train.py fits s, t; the card reports cross-fitted numbers). Evidence
spans come from patterns.yaml (models/text/evidence.py); when a check is flagged that no rule
span supports, the words that pushed its logit most come back: `contextual_cue` spans for a
routed post (transformer token shares), `lexical_cue` spans otherwise (word n-gram shares).
The artifact is a folder: config.json, weights.safetensors (idf vectors, coefficients, Platt
parameters), patterns.yaml, contextual.safetensors (fine-tuned top layers + head in fp16,
stacking weights), card.md, metrics.json. No pickle is loaded.
"""

from __future__ import annotations

import json
import re
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
from .hashing import CharNgramCounts

__all__ = ["TextScore", "TextClassifier", "load", "recalibrate", "stacked", "DEFAULT_ARTIFACT"]

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifact"
PATTERNS_FILE = Path(__file__).resolve().parent / "patterns.yaml"
_WEIGHT_SHAPES = ("idf_char", "idf_word", "coef", "intercept", "platt", "recalibration")
IDENTITY_CALIBRATION = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)  # [slope, bias] per head: p unchanged


@dataclass(frozen=True)
class TextScore:
    """What the text model says about one post.

    branded:   calibrated P(brand partnership), in [0, 1].
    copyright: calibrated P(reuses copyrighted material), in [0, 1].
    spans:     evidence, each {"start", "end", "label", "check", "text"}; start/end are
               Python str indices into the text as given, so text[start:end] == span["text"].
    stage:     "lexical" (the lexical stage was sure) or "contextual" (routed to the transformer).
    """

    branded: float
    copyright: float
    spans: tuple[dict, ...]
    stage: str = "lexical"


WHOLE_TEXT_CHARS = 200  # a `whole_text` span covers the post's start, so evidence stays small
WORD_TOKEN_PATTERN = r"(?u)[#@]?\w\w*"  # word n-gram tokens keep a leading '#' or '@'
_WORD_TOKEN = re.compile(WORD_TOKEN_PATTERN)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _one_gram(gram: str) -> list[str]:
    return [gram]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


class TextClassifier:
    """Hashed n-gram + rule-feature logistic model with Platt calibration, two heads.

    Args:
        config: the feature and model settings the weights were trained with.
        weights: idf_char (char_features,), idf_word (word_features,), coef (D, 2),
            intercept (2,), platt (2, 2) rows [slope, bias] per head; D = char + word + rules;
            recalibration (2, 2) rows [slope, bias] per head on the logit of the final probability
            (optional: identity when absent, as in artifacts trained before it existed).
        patterns: the parsed patterns file (see patterns.yaml).
        contextual: the contextual stage (models/text/contextual.py), required when config.contextual.
        stack: (2, 3) rows [w_lexical, w_contextual, bias] per head, required with `contextual`.
    """

    def __init__(
        self,
        *,
        config: TextConfig,
        weights: dict[str, np.ndarray],
        patterns: dict[str, Any],
        contextual: Any = None,
        stack: np.ndarray | None = None,
    ) -> None:
        self.config = config
        if config.contextual and (contextual is None or stack is None):
            raise ValueError("TextClassifier: config.contextual is True, expected a contextual stage and stack weights, got none")
        if stack is not None and tuple(np.shape(stack)) != (2, 3):
            raise ValueError(f"TextClassifier stack: expected shape (2, 3), got {tuple(np.shape(stack))}")
        self.contextual = contextual if config.contextual else None
        self.stack = np.asarray(stack, dtype=np.float32) if self.contextual is not None else None
        self.version = config.version
        self.extractor = SpanExtractor(patterns)
        weights = {"recalibration": IDENTITY_CALIBRATION, **weights}
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
            "recalibration": (2, 2),
        }
        for key, shape in expected.items():
            if tuple(weights[key].shape) != shape:
                raise ValueError(f"TextClassifier weights[{key!r}]: expected shape {shape}, got {tuple(weights[key].shape)}")
        self.weights = {k: np.ascontiguousarray(weights[k], dtype=np.float32) for k in _WEIGHT_SHAPES}
        # the counts of HashingVectorizer(analyzer="char_wb", lowercase=True, alternate_sign=False), about 2.5x faster
        # (benchmarks/bench_text.py)
        self._char = CharNgramCounts((config.char_ngram_min, config.char_ngram_max), config.char_features)
        self._word = HashingVectorizer(
            analyzer="word",
            token_pattern=WORD_TOKEN_PATTERN,
            ngram_range=(1, config.word_ngram_max),
            n_features=config.word_features,
            alternate_sign=False,
            norm=None,
            lowercase=True,
        )

        # the same hashing as `_word`, applied to one ready-made n-gram per document (_lexical_cues)
        self._gram_hasher = HashingVectorizer(analyzer=_one_gram, n_features=config.word_features, alternate_sign=False, norm=None)

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
        x, _, spans = self._design(texts)
        return x, spans

    def _design(self, texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix, list[list[dict[str, Any]]]]:
        """`features`, plus its word block (N, Fw) on its own (lexical cues read it)."""
        x_char = self._tfidf(self._char.transform(texts), self.weights["idf_char"])  # (N, Fc)
        x_word = self._tfidf(self._word.transform(texts), self.weights["idf_word"])  # (N, Fw)
        rules, spans = self.extractor.features(texts)  # (N, L+1)
        x = sp.hstack([x_char, x_word, sp.csr_matrix(rules * self.config.rule_weight)], format="csr")
        return x, x_word, spans

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
        texts = _check_texts(texts)
        if not texts:
            return []
        raw, routed, spans, contrib, x_word = self._cascade(texts)
        probs = recalibrate(raw, self.weights["recalibration"])  # (N, 2)
        cues = self._cues(texts, probs, spans, contrib, x_word)
        floor = self.config.evidence_min_score
        out = []
        for i, (p, sp_) in enumerate(zip(probs, spans)):
            keep = {CHECKS[0]: p[0] >= floor, CHECKS[1]: p[1] >= floor}
            ev = tuple(s for s in sp_ if keep[s["check"]]) + tuple(cues.get(i, ()))
            out.append(TextScore(float(p[0]), float(p[1]), ev, "contextual" if routed[i] else "lexical"))
        return out

    def probabilities(self, texts: Sequence[str], recalibrated: bool = True) -> np.ndarray:
        """(N, 2) [P(branded), P(copyright)] as `score_texts` returns them; `recalibrated=False` gives
        the cascade's probabilities before the held-out recalibration (what training fits it on)."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, 2), np.float32)
        raw = self._cascade(texts)[0]
        return recalibrate(raw, self.weights["recalibration"]) if recalibrated else raw

    def _cascade(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[list[dict]], dict[int, list], sp.csr_matrix]:
        """Both stages: probabilities (N, 2) before recalibration, routed (N,) bool, rule spans per text,
        the transformer's token shares of each routed post (by index), and the word tf-idf block (N, Fw)."""
        x, x_word, spans = self._design(texts)
        z, lexical, zc, routed, contrib = self._stages(texts, x)
        return stacked(z, lexical, zc, routed, self.stack), routed, spans, contrib, x_word

    def stage_outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the stacking and the held-out fits see, per post: lexical logits (N, 2), the lexical
        stage's Platt probabilities (N, 2), contextual logits (N, 2; NaN where not routed), routed (N,)."""
        texts = _check_texts(texts)
        z, lexical, zc, routed, _ = self._stages(texts, self.features(texts)[0])
        return z, lexical, zc, routed

    def _stages(self, texts: list[str], x: sp.csr_matrix):
        z = self.logits(x)  # (N, 2)
        lexical = self.calibrate(z)  # (N, 2)
        routed = self.route(lexical)  # (N,)
        zc = np.full_like(z, np.nan, dtype=np.float32)  # (N, 2)
        contrib: dict[int, list] = {}
        if routed.any():
            idx = np.flatnonzero(routed)
            zc[idx], token_shares = self.contextual.logits([texts[i] for i in idx])  # (R, 2)
            contrib.update(zip(idx.tolist(), token_shares))
        return z, lexical, zc, routed, contrib

    def _cues(self, texts: list[str], probs: np.ndarray, spans: list[list[dict]], contrib: dict[int, list],
              x_word: sp.csr_matrix) -> dict[int, list[dict]]:
        """Cue spans for every check that reaches the evidence floor with no regex span, so no flagged
        post comes back without evidence. Routed posts show the tokens that raised the transformer's
        logit (`contextual_cue`); the others (the lexical stage was sure and no pattern fired) show the
        words whose word n-grams raised the lexical logit (`lexical_cue`), which costs no encoder pass."""
        floor, k = self.config.evidence_min_score, self.config.cue_tokens
        wanted = [(i, h) for i in range(len(texts)) for h, check in enumerate(CHECKS)
                  if probs[i, h] >= floor and not any(s["check"] == check for s in spans[i])]
        by_words = [(i, h) for i, h in wanted if i not in contrib]  # the lexical stage answered these posts
        lexical = iter(self._lexical_cues([texts[i] for i, _ in by_words], x_word[[i for i, _ in by_words]],
                                          [h for _, h in by_words], k))
        out: dict[int, list[dict]] = {}
        for i, h in wanted:
            text, check = texts[i], CHECKS[h]
            if i in contrib:
                from .contextual import cue_spans  # torch-backed module: only when the transformer ran

                found = cue_spans(text, contrib[i], h, k, check)
            else:
                found = next(lexical)
            # no word pushes the score up (the score is the model's prior): point at the whole post
            end = min(len(text), WHOLE_TEXT_CHARS)
            out.setdefault(i, []).extend(found or [{"start": 0, "end": end, "label": "whole_text", "check": check, "text": text[:end]}])
        return out

    def lexical_cues(self, text: str, head: int, k: int, check: str) -> list[dict]:
        """The words of the `k` word n-grams that raise lexical logit `head` most, as `lexical_cue` spans
        (`check` names the check they are evidence for)."""
        x_word = self._tfidf(self._word.transform([text]), self.weights["idf_word"])  # (1, Fw)
        return [dict(s, check=check) for s in self._lexical_cues([text], x_word, [head], k)[0]]

    def _lexical_cues(self, texts: list[str], x_word: sp.csr_matrix, heads: list[int], k: int) -> list[list[dict]]:
        """`lexical_cues` for many (text, head) pairs at once; x_word (N, Fw) holds the texts' word tf-idf rows.

        Each n-gram's share is its tf-idf value times its coefficient (the word block of the design
        matrix); character n-grams carry weight too but map to no single word, so they are not shown.
        All n-grams of the batch are hashed in one call: per-text calls cost more than the scoring itself.
        """
        grams = [self._word_grams(text) for text in texts]
        flat = [g for gs in grams for g, _, _ in gs]
        buckets = self._gram_hasher.transform(flat).indices if flat else np.zeros(0, np.int32)  # one bucket per n-gram
        coef = self.weights["coef"][self.config.char_features :]  # (Fw, 2) word block
        out, at = [], 0
        for row, (text, gs, head) in enumerate(zip(texts, grams, heads)):
            lo, hi = x_word.indptr[row], x_word.indptr[row + 1]
            value = dict(zip(x_word.indices[lo:hi].tolist(), x_word.data[lo:hi].tolist()))
            share = [(value.get(int(b), 0.0) * float(coef[b, head]), a, e) for b, (_, a, e) in zip(buckets[at : at + len(gs)], gs)]
            at += len(gs)
            best = sorted((s for s in share if s[0] > 0), key=lambda s: -s[0])[:k]
            found = {(a, e): {"start": a, "end": e, "label": "lexical_cue", "check": CHECKS[head], "text": text[a:e]} for _, a, e in best}
            out.append([found[key] for key in sorted(found)])
        return out

    def _word_grams(self, text: str) -> list[tuple[str, int, int]]:
        """The word n-grams `_word` hashes, each with the character span it covers: (gram, start, end)."""
        tokens = [(m.group().lower(), m.start(), m.end()) for m in _WORD_TOKEN.finditer(text)]
        return [(" ".join(t[0] for t in tokens[j : j + n]), tokens[j][1], tokens[j + n - 1][2])
                for n in range(1, self.config.word_ngram_max + 1) for j in range(len(tokens) - n + 1)]

    def route(self, probs: np.ndarray) -> np.ndarray:
        """Which posts go to the contextual stage, (N,) bool: the lexical probability of a `route_on` check
        inside (route_low, route_high), or the copyright one inside its own band (config)."""
        if self.contextual is None:
            return np.zeros(len(probs), dtype=bool)
        return route_by_config(self.config, probs)

    def save(self, path: str | Path) -> Path:
        """Write config.json, weights.safetensors and patterns.yaml into folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.config.to_json(path / "config.json")
        save_file(self.weights, str(path / "weights.safetensors"), metadata={"version": self.version})
        (path / "weights.safetensors").chmod(0o644)
        (path / "patterns.yaml").write_text(_dump_patterns(self.extractor.spec), encoding="utf-8")
        if self.contextual is not None:
            import torch
            from safetensors.torch import save_file as save_torch

            tensors = dict(self.contextual.delta(), stack=torch.from_numpy(self.stack.copy()))
            save_torch(tensors, str(path / "contextual.safetensors"), metadata={"version": self.version})
            (path / "contextual.safetensors").chmod(0o644)
        return path


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"texts: expected a sequence of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}]: expected str, got {type(t).__name__}")
        # JSON may carry a lone surrogate ("\ud800"), which no UTF-8 step can encode; U+FFFD keeps the length,
        # so spans still index the text as given
        texts[i] = _LONE_SURROGATE.sub("\ufffd", t)
    return texts


def stacked(z: np.ndarray, lexical: np.ndarray, zc: np.ndarray, routed: np.ndarray, stack: np.ndarray | None) -> np.ndarray:
    """Cascade probabilities before recalibration (N, 2): routed posts get
    sigmoid(a * lexical logit + b * contextual logit + d) per head (`stack` rows [a, b, d]),
    the others keep the lexical stage's probability `lexical`. z, zc: logits (N, 2); routed (N,) bool."""
    out = np.array(lexical, dtype=np.float32, copy=True)
    if routed.any():
        out[routed] = _sigmoid(z[routed] * stack[:, 0] + zc[routed] * stack[:, 1] + stack[:, 2])
    return out


def recalibrate(probs: np.ndarray, params: np.ndarray) -> np.ndarray:
    """sigmoid(slope * logit(p) + bias) per head: probs (N, 2), params (2, 2) rows [slope, bias]."""
    if np.array_equal(params, IDENTITY_CALIBRATION):
        return probs  # exactly as before, not a float round trip
    return _sigmoid(logit(probs) * params[:, 0] + params[:, 1]).astype(np.float32)


def logit(probs: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) in float64, with p clipped to [1e-7, 1 - 1e-7] so 0 and 1 stay finite."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1.0 - 1e-7)
    return np.log(p) - np.log1p(-p)


def route_mask(probs: np.ndarray, low: float, high: float, on: str,
               copyright_band: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(N,) bool: the lexical probability (N, 2) of a routing check lies strictly inside (low, high),
    or the copyright probability strictly inside `copyright_band` (empty by default)."""
    cols = {"branded": [0], "copyright": [1], "both": [0, 1]}[on]
    inside = ((probs[:, cols] > low) & (probs[:, cols] < high)).any(axis=1)
    return inside | ((probs[:, 1] > copyright_band[0]) & (probs[:, 1] < copyright_band[1]))


def route_by_config(cfg: TextConfig, probs: np.ndarray) -> np.ndarray:
    """`route_mask` with every band `cfg` sets: the one routing rule inference and training share."""
    return route_mask(probs, cfg.route_low, cfg.route_high, cfg.route_on, (cfg.copyright_route_low, cfg.copyright_route_high))


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
    contextual, stack = None, None
    if config.contextual:
        contextual, stack = _load_contextual(folder, config)
    return TextClassifier(config=config, weights=weights, patterns=patterns, contextual=contextual, stack=stack)


def _load_contextual(folder: Path, config: TextConfig):
    """The contextual stage: base encoder from its pip package, fine-tuned delta from the artifact."""
    from importlib.metadata import PackageNotFoundError, version

    from safetensors.torch import load_file as load_torch

    from .contextual import ContextualStage, base_model_dir

    file = folder / "contextual.safetensors"
    if not file.is_file():
        raise FileNotFoundError(f"text model artifact {folder}: missing ['contextual.safetensors']; train it with `make train-text`")
    dist = config.base_package.replace("_", "-")
    try:
        have = version(dist)
    except PackageNotFoundError:
        have = None
    if config.base_version and have != config.base_version:
        raise FileNotFoundError(
            f"TextConfig.base_package: expected {dist}=={config.base_version} (the base the delta was trained on), "
            f"got {have or 'not installed'}; install it with `pip install {dist}=={config.base_version}`"
        )
    tensors = load_torch(str(file))
    stack = tensors.pop("stack").numpy()
    stage = ContextualStage(
        base_dir=base_model_dir(config.base_package), first_tuned=config.contextual_first_tuned,
        max_tokens=config.max_tokens, n_layers=config.contextual_layers, delta=tensors,
    )
    stage.set_precision(config.precision)
    return stage.eval(), stack
