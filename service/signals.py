"""The door between the pipeline and the models.

A *signal* is one installed model seen from the pipeline: it scores a batch of
posts and says, per check it owns, a calibrated probability and the evidence.
Each model folder keeps its own inference class; the small adapters here turn a
`Post` into that class's input, so models never import the service.

The pipeline (service/pipeline.py) is the only reader of these results.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from .schemas import Post

__all__ = ["CheckSignal", "PostError", "Signal", "SignalSpec", "SIGNAL_SPECS", "cap_model_threads", "load_signals"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckSignal:
    """What one model says about one check of one post.

    score:    calibrated probability that the violation is present, in [0, 1];
              None when the model could not look.
    evidence: what fired (text spans, media index/time/box, view-curve feature).
    skipped:  why the model could not look, in words ("no view history").
    blocking: the check should have run but could not, wholly (score None) or in
              part (a score from the media that could be read): unless the score
              already fails, the policy sends such a post to review, never passes it.
    """

    score: float | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    skipped: str | None = None
    blocking: bool = False


class PostError(Exception):
    """A post that cannot be judged at all; it becomes an `error` verdict with this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Signal(Protocol):
    name: str  # key in verdict.versions.models
    version: str  # artifact version, recorded in every verdict
    checks: tuple[str, ...]  # check names this signal scores

    def score_posts(
        self, posts: Sequence[Post], media_paths: Sequence[Sequence[Path]]
    ) -> list[dict[str, CheckSignal]]:
        """One dict per post, keyed by check name. media_paths[i] are post i's resolved files."""
        ...


@dataclass(frozen=True)
class SignalSpec:
    """Where a model lives and what a post must carry for it to have anything to look at."""

    name: str
    checks: tuple[str, ...]
    loader: str  # "module:function" returning a Signal, or raising FileNotFoundError when not shipped
    missing_input: Callable[[Post], str | None] = field(default=lambda post: None)


def _no_media(post: Post) -> str | None:
    return None if post.media else "no media"


def _no_text(post: Post) -> str | None:
    return None if post.text and post.text.strip() else "no text"


SIGNAL_SPECS: tuple[SignalSpec, ...] = (
    SignalSpec("views", ("organic_views",), "service.adapters:load_views_signal"),
    SignalSpec("text", ("no_branded_content", "no_copyrighted_content"), "service.adapters:load_text_signal", _no_text),
    SignalSpec("watermark", ("no_platform_watermark",), "service.adapters:load_watermark_signal", _no_media),
)


def cap_model_threads(threads: int) -> None:
    """Give the models' runtimes (OpenMP, torch) `threads` threads in this process.

    BentoML 1.4 leaves torch at one thread per core in every worker, and batch
    workers run one process per core: either way the cores must be shared.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def load_signals(models_dir: Path, only: Sequence[str] | None = None) -> dict[str, Signal]:
    """Load every shipped model under `models_dir`; a model whose artifact is absent is left out."""
    signals: dict[str, Signal] = {}
    for spec in SIGNAL_SPECS:
        if only is not None and spec.name not in only:
            continue
        module_name, func_name = spec.loader.split(":")
        try:
            loader = getattr(importlib.import_module(module_name), func_name)
            signals[spec.name] = loader(models_dir)
        except (FileNotFoundError, ImportError, AttributeError) as exc:
            log.info("model %s not installed: %s", spec.name, exc)
    return signals
