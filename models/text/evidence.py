"""Rule-based evidence spans for the text model.

`SpanExtractor` compiles the regexes of `patterns.yaml` (one alternation per
label) and returns, for each text, the character spans that fired. Matching runs
on the original string with re.IGNORECASE, never on a lower-cased or normalised
copy, so `start`/`end` are Python str indices into the text exactly as given
(code points: one per emoji, one per accented letter, whatever the encoding).

The same spans feed the classifier as binary features (`features`), one per
label plus one for a negation ("not sponsored", "keine Werbung").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["SpanExtractor", "CHECKS"]

CHECKS = ("no_branded_content", "no_copyrighted_content")
_FLAGS = re.IGNORECASE | re.MULTILINE


class SpanExtractor:
    """Find labelled evidence spans with the regexes of one patterns file.

    Args:
        spec: the parsed patterns file: {"labels": {label: {"check", "patterns"}}, "negations": [...]}.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        labels = spec.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise ValueError(f"patterns.labels: expected a non-empty mapping, got {labels!r}")
        self.spec = spec
        self.labels: tuple[str, ...] = tuple(labels)
        self.checks: dict[str, str] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        for label, entry in labels.items():
            if entry.get("check") not in CHECKS:
                raise ValueError(f"patterns.labels.{label}.check: expected one of {CHECKS}, got {entry.get('check')!r}")
            self.checks[label] = entry["check"]
            self._regex[label] = re.compile("|".join(f"(?:{p})" for p in entry["patterns"]), _FLAGS)
        self._negation = re.compile("|".join(f"(?:{p})" for p in spec.get("negations", [])) or r"(?!x)x", _FLAGS)

    @classmethod
    def from_file(cls, path: str | Path) -> "SpanExtractor":
        with open(path, encoding="utf-8") as f:
            return cls(yaml.safe_load(f))

    @property
    def n_features(self) -> int:
        return len(self.labels) + 1  # one per label, plus "a negation fired"

    def negations(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._negation.finditer(text)]

    def spans(self, text: str, negs: list[tuple[int, int]] | None = None) -> list[dict[str, Any]]:
        """All evidence spans in `text`, sorted by start; branded spans inside a negation (`negs`,
        found here when not given) are dropped."""
        negs = self.negations(text) if negs is None else negs
        out: list[dict[str, Any]] = []
        for label, rx in self._regex.items():
            check = self.checks[label]
            for m in rx.finditer(text):
                start, end = m.span()
                # Trim the whitespace/punctuation some patterns consume at their edges.
                while start < end and not (text[start].isalnum() or text[start] in "#@%🎥📹🎬🎵"):
                    start += 1
                while end > start and not (text[end - 1].isalnum() or text[end - 1] in "%/_"):
                    end -= 1
                if end <= start:
                    continue
                if check == CHECKS[0] and any(s < end and start < e for s, e in negs):
                    continue
                out.append({"start": start, "end": end, "label": label, "check": check, "text": text[start:end]})
        out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
        return out

    def features(self, texts: list[str]) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Binary rule features (N, n_features) and the spans of each text."""
        index = {label: i for i, label in enumerate(self.labels)}
        feats = np.zeros((len(texts), self.n_features), dtype=np.float32)  # (N, L+1)
        all_spans = []
        for row, text in enumerate(texts):
            negs = self.negations(text)
            spans = self.spans(text, negs)
            for s in spans:
                feats[row, index[s["label"]]] = 1.0
            if negs:
                feats[row, -1] = 1.0
            all_spans.append(spans)
        return feats, all_spans
