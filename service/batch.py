"""Offline scoring of a JSONL file: one verdict line per input line, in order.

The input is streamed in chunks (memory stays flat whatever its size); a line
that is not JSON, too long, or not a valid Post becomes an `error` verdict
whose message starts with its line number, and the run goes on. Output is
written to a temporary file beside the target and renamed into place only when
complete, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

from .pipeline import Pipeline
from .schemas import Verdict

__all__ = ["MAX_LINE_BYTES", "ScoreSummary", "read_jsonl", "score_jsonl"]

MAX_LINE_BYTES = 16 * 1024 * 1024  # a post is at most ~1 MB of JSON; anything far larger is refused


@dataclass
class ScoreSummary:
    posts: int = 0
    seconds: float = 0.0
    decisions: Counter = field(default_factory=Counter)
    failed_checks: Counter = field(default_factory=Counter)
    error_codes: Counter = field(default_factory=Counter)

    def add(self, verdict: Verdict) -> None:
        self.posts += 1
        self.decisions[verdict.decision.value] += 1
        for name, check in verdict.checks.items():
            if check.status.value == "fail":
                self.failed_checks[name] += 1
        if verdict.error is not None:
            self.error_codes[verdict.error.code] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "seconds": round(self.seconds, 3),
            "posts_per_second": round(self.posts / self.seconds, 1) if self.seconds else None,
            "decisions": dict(self.decisions),
            "failed_checks": dict(self.failed_checks),
            "error_codes": dict(self.error_codes),
        }

    def lines(self) -> list[str]:
        out = [f"{self.posts} posts in {self.seconds:.1f} s"]
        out.append("decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(self.decisions.items())) or "none"))
        out.append("failed checks: " + (", ".join(f"{k} {v}" for k, v in self.failed_checks.most_common()) or "none"))
        if self.error_codes:
            out.append("errors: " + ", ".join(f"{k} {v}" for k, v in self.error_codes.most_common()))
        return out


@dataclass(frozen=True)
class _Bad:
    """A line that never became a JSON value."""

    code: str
    message: str


def read_jsonl(stream: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(line_number, parsed value or _Bad) for every line, blank ones included."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # drain the rest of the oversized line without holding it
            yield number, _Bad("invalid_json", f"line is longer than {MAX_LINE_BYTES} bytes")
            continue
        if not line.strip():
            yield number, _Bad("invalid_json", "empty line, expected one JSON post")
            continue
        try:
            yield number, json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            yield number, _Bad("invalid_json", f"not valid JSON ({exc})")


def _chunks(rows: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _score_chunk(pipeline: Pipeline, chunk: list[tuple[int, Any]]) -> list[Verdict]:
    good = [value for _, value in chunk if not isinstance(value, _Bad)]
    scored = iter(pipeline.evaluate(good))
    verdicts = []
    for number, value in chunk:
        if isinstance(value, _Bad):
            verdict = pipeline.error_verdict(None, value.code, value.message)
        else:
            verdict = next(scored)
        if verdict.error is not None:
            verdict.error.message = f"line {number}: {verdict.error.message}"
        verdicts.append(verdict)
    return verdicts


def score_jsonl(
    in_path: Path, out_path: Path, pipeline: Pipeline, *, batch_size: int = 256, progress: Any = None
) -> ScoreSummary:
    """Score every line of `in_path` into `out_path` (atomically). `progress` is a tqdm-like bar or None."""
    summary = ScoreSummary()
    start = time.perf_counter()
    tmp = out_path.with_name(f".{out_path.name}.partial")
    with open(in_path, "rb") as src, open(tmp, "w", encoding="utf-8") as dst:
        for chunk in _chunks(read_jsonl(src), batch_size):
            for verdict in _score_chunk(pipeline, chunk):
                dst.write(verdict.model_dump_json() + "\n")
                summary.add(verdict)
            if progress is not None:
                progress.update(src.tell() - progress.n)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, out_path)
    summary.seconds = time.perf_counter() - start
    return summary
