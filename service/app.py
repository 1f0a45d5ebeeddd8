"""The BentoML service: loads the pipeline once per worker and delegates to it.

Routes: POST /evaluate {"post": Post} -> Verdict (concurrent requests are coalesced
into one pipeline call, service/coalesce.py); POST /evaluate_batch
{"posts": [Post, ...]} -> [Verdict, ...]; POST /evaluate_upload (multipart:
`post` JSON plus `files`, one per post.media item, in order) -> Verdict.
BentoML adds /livez, /readyz, /metrics and the OpenAPI docs at /.
Start it with `make serve` (or `bonuscheck serve`), which also refuses to bind
a public address without API keys.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import bentoml
from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from .coalesce import Coalescer
from .http_guard import RequestGuard
from .schemas import MAX_MEDIA_ITEMS, Post, Verdict
from .signals import cap_model_threads

MAX_BATCH = 1000
# the most /evaluate posts judged in one pipeline call; BONUSCHECK_COALESCE_MAX=1 turns coalescing off (benchmarks)
MAX_COALESCED = int(os.environ.get("BONUSCHECK_COALESCE_MAX", "64"))
MAX_QUEUE_MS = 5000  # a batched request still waiting after this gets 503 (overload): retry later


def _unique_ids(posts: list[Post]) -> list[Post]:
    seen: set[str] = set()
    for i, post in enumerate(posts):
        if post.post_id in seen:
            raise ValueError(f"posts[{i}].post_id: expected unique ids within a batch, got duplicate {post.post_id!r}")
        seen.add(post.post_id)
    return posts


PostBatch = Annotated[list[Post], Field(min_length=1, max_length=MAX_BATCH), AfterValidator(_unique_ids)]
UploadedFiles = Annotated[list[Path], Field(max_length=MAX_MEDIA_ITEMS, description="One file per post.media item, in order.")]


def field_error(field: str, message: str) -> ValidationError:
    """A request-level rule broken: reported like any field error (422, loc/msg)."""
    return ValidationError.from_exception_data(
        "Input", [InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(field,), input=None)]
    )


@bentoml.service(name="bonuscheck", traffic={"timeout": 120}, workers=1)
class BonusCheck:
    def __init__(self) -> None:
        threads = int(os.environ.get("BONUSCHECK_TORCH_THREADS", "0")) or max(1, (os.cpu_count() or 1) // 2)
        cap_model_threads(threads)
        from .pipeline import Pipeline  # heavy model imports happen here, once per worker

        self.pipeline = Pipeline.load()
        # /evaluate requests that arrive while earlier ones run are judged together as one batch
        self.evaluate_one = Coalescer(self.pipeline.evaluate, max_items=MAX_COALESCED, max_running=max(1, (os.cpu_count() or 1) // threads))
        self.ready = True

    def __is_ready__(self) -> bool:
        return getattr(self, "ready", False)

    @bentoml.api
    def evaluate(self, post: Post) -> Verdict:
        """Judge one post: the verdict, every check's status, and the evidence."""
        return self.evaluate_one(post)

    # Batchable: concurrent requests are merged into one pipeline call, so each model sees one
    # larger batch (BentoML splits the verdicts back per request, in order). max_latency_ms is
    # not the batching window (that adapts to traffic) but the longest a request may wait before
    # BentoML sheds it with a 503: a batch with videos or routed texts takes far longer than 50 ms.
    @bentoml.api(batchable=True, max_batch_size=2000, max_latency_ms=MAX_QUEUE_MS)
    def evaluate_batch(self, posts: PostBatch) -> list[Verdict]:
        """Judge up to 1,000 posts (unique post_ids); verdicts come back in input order."""
        return self.pipeline.evaluate(posts)

    @bentoml.api
    def evaluate_upload(self, post: Post, files: UploadedFiles = []) -> Verdict:  # noqa: B006 - BentoML reads the default
        """Judge one post whose media arrive in the request (multipart: `post` JSON, `files` in post.media order)."""
        if len(files) != len(post.media):
            raise field_error("files", f"expected {len(post.media)} files (one per post.media item), got {len(files)}")
        from .media import MediaRoot

        folder = Path(tempfile.mkdtemp(prefix="bonuscheck-upload-"))
        try:
            media = []
            for i, (item, file) in enumerate(zip(post.media, files)):
                name = f"{i}{Path(item.path).suffix.lower()[:8]}"
                shutil.move(str(file), folder / name)
                media.append(item.model_copy(update={"path": name}))
            local = post.model_copy(update={"media": media})
            verdict = self.pipeline.evaluate([local], media_root=MediaRoot(folder))[0]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return verdict


BonusCheck.add_asgi_middleware(RequestGuard)
