"""Offline scoring: a file of posts in, one verdict per row out, in input order.

* Streams: rows are read and scored in chunks; memory stays flat whatever the size.
* Every core: with workers > 1, chunks go to worker processes that each load
  the models once; at most 2 chunks per worker are in flight, and results are
  written in submission order, so the output keeps the input's order.
* Safe to interrupt: verdicts go to a hidden `.partial` file next to the
  output; after each durable write a checkpoint records how far input and
  output got. `resume=True` truncates the partial file to the checkpoint and
  reads on from there, so a crash or kill -9 loses nothing and scores nothing
  twice. The output appears under its real name only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator

from .batch_io import BadRow, InputError, detect_format, finish_output, open_reader
from .pipeline import DEFAULT_MODELS_DIR, Pipeline
from .policy import policy_file
from .signals import cap_model_threads

__all__ = ["InputError", "ScoreSummary", "load_worker_pipeline", "score_file", "score_rows", "verdicts_for_rows"]

CHECKPOINT_EVERY_S = 1.0


@dataclass
class ScoreSummary:
    posts: int = 0
    seconds: float = 0.0
    decisions: Counter = field(default_factory=Counter)
    failed_checks: Counter = field(default_factory=Counter)
    error_codes: Counter = field(default_factory=Counter)

    def add(self, verdict: dict[str, Any]) -> None:
        self.posts += 1
        self.decisions[verdict["decision"]] += 1
        self.failed_checks.update(name for name, check in verdict["checks"].items() if check["status"] == "fail")
        if verdict["error"]:
            self.error_codes[verdict["error"]["code"]] += 1

    def merge(self, counts: dict[str, Any]) -> None:
        self.posts += counts["posts"]
        for name in ("decisions", "failed_checks", "error_codes"):
            getattr(self, name).update(counts[name])

    def counts(self) -> dict[str, Any]:
        return {"posts": self.posts, "decisions": dict(self.decisions), "failed_checks": dict(self.failed_checks), "error_codes": dict(self.error_codes)}

    def as_dict(self) -> dict[str, Any]:
        rate = round(self.posts / self.seconds, 1) if self.seconds else None
        return {**self.counts(), "seconds": round(self.seconds, 3), "posts_per_second": rate}

    def lines(self) -> list[str]:
        out = [f"{self.posts} posts in {self.seconds:.1f} s"]
        out.append("decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(self.decisions.items())) or "none"))
        out.append("failed checks: " + (", ".join(f"{k} {v}" for k, v in self.failed_checks.most_common()) or "none"))
        if self.error_codes:
            out.append("errors: " + ", ".join(f"{k} {v}" for k, v in self.error_codes.most_common()))
        return out


def verdicts_for_rows(pipeline: Pipeline, rows: list[tuple[int, Any]], label: str = "line") -> list[tuple[dict[str, Any], str]]:
    """One (verdict as a JSON-ready dict, the same as one JSON line) per (row_number, value), in order.

    An error verdict's message starts with "<label> <row_number>:" so the bad row can be found.
    """
    good = [value for _, value in rows if not isinstance(value, BadRow)]
    scored = iter(pipeline.evaluate(good))
    out = []
    for number, value in rows:
        if isinstance(value, BadRow):
            verdict = pipeline.error_verdict(value.post_id, value.code, value.message)
        else:
            verdict = next(scored)
        if verdict.error is not None:
            verdict.error.message = f"{label} {number}: {verdict.error.message}"
        data = verdict.model_dump(mode="json")
        out.append((data, json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
    return out


def score_rows(pipeline: Pipeline, rows: list[tuple[int, Any]], label: str = "line") -> tuple[str, dict[str, Any]]:
    """Score one chunk into verdict JSON lines (one text to append) plus their counts."""
    summary, text = ScoreSummary(), []
    for data, line in verdicts_for_rows(pipeline, rows, label):
        summary.add(data)
        text.append(line + "\n")
    return "".join(text), summary.counts()


# -- worker processes: forked from a parent that loaded the pipeline once ----
_WORKER_PIPELINE: Pipeline | None = None


def load_worker_pipeline(pipeline_args: dict[str, Any]) -> Pipeline:
    """A pipeline for one process among many: one model thread, since there is one process per core."""
    cap_model_threads(1)
    return Pipeline.load(**pipeline_args)


def _score_in_worker(rows: list[tuple[int, Any]], label: str) -> tuple[str, dict[str, Any]]:
    assert _WORKER_PIPELINE is not None
    return score_rows(_WORKER_PIPELINE, rows, label)


# -- checkpoints ----------------------------------------------------------
def _fingerprint(in_path: Path, in_fmt: str, out_fmt: str, pipeline_args: dict[str, Any]) -> str:
    """What must not change between a run and its resume: the input, the policy, the models."""
    stat = in_path.stat()
    policy = policy_file(pipeline_args.get("policy_path"))
    models = Path(pipeline_args.get("models_dir") or DEFAULT_MODELS_DIR)
    artifacts = sorted((str(p.relative_to(models)), p.stat().st_size) for p in models.glob("*/artifact/*") if p.is_file())
    parts = [str(in_path.resolve()), stat.st_size, stat.st_mtime_ns, in_fmt, out_fmt, policy.read_bytes().hex(), artifacts,
             str(pipeline_args.get("media_root"))]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def _chunks(rows: Iterator[tuple[int, Any, int]], size: int) -> Iterator[tuple[list[tuple[int, Any]], int, int]]:
    """(chunk, cursor after its last row, number of its last row)."""
    chunk: list[tuple[int, Any]] = []
    for number, value, cursor in rows:
        chunk.append((number, value))
        if len(chunk) == size:
            yield chunk, cursor, number
            chunk = []
    if chunk:
        yield chunk, cursor, number


def score_file(
    in_path: Path,
    out_path: Path,
    *,
    pipeline_args: dict[str, Any],
    in_format: str | None = None,
    out_format: str | None = None,
    workers: int = 1,
    batch_size: int = 256,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScoreSummary:
    """Score `in_path` into `out_path`; `on_progress(done, total)` is called as chunks land (total: bytes or rows)."""
    in_fmt, out_fmt = detect_format(in_path, in_format), detect_format(out_path, out_format)
    reader = open_reader(in_path, in_fmt)
    partial = out_path.with_name(f".{out_path.name}.partial")
    checkpoint = out_path.with_name(f".{out_path.name}.checkpoint")
    fingerprint = _fingerprint(in_path, in_fmt, out_fmt, pipeline_args)
    state = {"fingerprint": fingerprint, "cursor": 0, "rows": 0, "out_bytes": 0, "counts": ScoreSummary().counts()}
    if resume and checkpoint.is_file() and partial.is_file():
        saved = json.loads(checkpoint.read_text(encoding="utf-8"))
        if saved.get("fingerprint") != fingerprint:
            raise InputError("--resume: the input, policy or models changed since the interrupted run; rerun without --resume")
        state = saved
    summary = ScoreSummary()
    summary.merge(state["counts"])
    start = time.perf_counter()

    with open(partial, "a+b") as dst:
        dst.truncate(state["out_bytes"])  # drop whatever was written after the last checkpoint
        dst.seek(state["out_bytes"])
        last_checkpoint = 0.0

        def land(result: tuple[str, dict[str, Any]], cursor: int, number: int) -> None:
            nonlocal last_checkpoint
            text, counts = result
            dst.write(text.encode("utf-8"))
            summary.merge(counts)
            state.update(cursor=cursor, rows=number)
            if on_progress:
                on_progress(cursor, reader.total)
            if time.monotonic() - last_checkpoint >= CHECKPOINT_EVERY_S:
                dst.flush()
                os.fsync(dst.fileno())
                state.update(out_bytes=dst.tell(), counts=summary.counts())
                _write_checkpoint(checkpoint, state)
                last_checkpoint = time.monotonic()

        chunks = _chunks(reader.rows(state["cursor"], state["rows"]), batch_size)
        if workers <= 1:
            pipeline = Pipeline.load(**pipeline_args)
            for chunk, cursor, number in chunks:
                land(score_rows(pipeline, chunk, reader.label), cursor, number)
        else:
            # Load once here, then fork: workers share the loaded models copy-on-write and start
            # at once. The parent never runs a model, so no OpenMP pool exists to be forked.
            global _WORKER_PIPELINE
            _WORKER_PIPELINE = load_worker_pipeline(pipeline_args)
            with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
                pending: deque[tuple[Future, int, int]] = deque()
                for chunk, cursor, number in chunks:
                    pending.append((pool.submit(_score_in_worker, chunk, reader.label), cursor, number))
                    while len(pending) >= 2 * workers:
                        fut, c, n = pending.popleft()
                        land(fut.result(), c, n)
                while pending:
                    fut, c, n = pending.popleft()
                    land(fut.result(), c, n)
        dst.flush()
        os.fsync(dst.fileno())

    finish_output(partial, out_path, out_fmt)
    checkpoint.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - start
    return summary
