"""Coalescer: concurrent one-item calls share one batched call (adaptive batching for /evaluate).

/evaluate takes one post per request, so BentoML's batching (which needs a list body)
cannot merge those requests. The coalescer does, with no timer: while `max_running`
batches run, new arrivals wait in a queue; the next free caller takes everything queued
(up to `max_items`) as one batch. At low traffic a request runs alone at once; under load
batches grow with the queue, so frames of many requests share one CNN call.

    score_one = Coalescer(pipeline.evaluate, max_items=64)
    verdict = score_one(post)          # from any number of threads
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Generic, Sequence, TypeVar

__all__ = ["Coalescer"]

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("item", "result", "error", "taken", "done")

    def __init__(self, item: T) -> None:
        self.item, self.result, self.error = item, None, None
        self.taken = self.done = False  # taken: in a running batch; done: its result is in


class Coalescer(Generic[T, R]):
    """Call `batch_fn(items) -> results` (same length, same order) for items arriving from many threads.

    Args:
        batch_fn: scores a list of items; an exception fails every item of that batch.
        max_items: the largest batch handed to batch_fn.
        max_running: how many batches may run at once (one per core that the model leaves free).
    """

    def __init__(self, batch_fn: Callable[[list[T]], Sequence[R]], max_items: int = 64, max_running: int = 1) -> None:
        if max_items < 1 or max_running < 1:
            raise ValueError(f"Coalescer: expected max_items >= 1 and max_running >= 1, got {max_items}, {max_running}")
        self.batch_fn, self.max_items, self.max_running = batch_fn, max_items, max_running
        self._queue: list[_Slot[T, R]] = []
        self._running = 0
        self._cond = threading.Condition()
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # the latest batches' sizes, for tests and metrics

    def __call__(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            self._queue.append(slot)
        while True:
            with self._cond:
                while not slot.done and (slot.taken or self._running >= self.max_running):
                    self._cond.wait()
                if slot.done:
                    break
                # lead one batch: the oldest items first, so this caller's own turn comes
                batch, self._queue = self._queue[: self.max_items], self._queue[self.max_items :]
                for s in batch:
                    s.taken = True
                self._running += 1
            self._run(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self.batch_fn([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"Coalescer: batch_fn returned {len(results)} results for {len(batch)} items")
            for s, r in zip(batch, results):
                s.result = r
        except BaseException as exc:  # every waiter of this batch sees the failure, none hangs
            for s in batch:
                s.error = exc
        with self._cond:
            for s in batch:
                s.done = True
            self._running -= 1
            self.batch_sizes.append(len(batch))
            self._cond.notify_all()
