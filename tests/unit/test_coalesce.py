"""Coalescer: concurrent one-item calls are judged together, each caller gets its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.coalesce import Coalescer


class GatedDouble:
    """batch_fn doubling each item; the first batch waits on `gate` so others can queue behind it."""

    def __init__(self) -> None:
        self.gate, self.started, self.calls = threading.Event(), threading.Event(), []

    def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        if len(self.calls) == 1:
            self.started.set()
            assert self.gate.wait(10)
        return [2 * x for x in items]


def wait_queued(c: Coalescer, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(c._queue) < n:
        assert time.monotonic() < deadline, "callers never queued"
        time.sleep(0.005)


def test_a_lone_call_runs_at_once():
    c = Coalescer(lambda xs: [x + 1 for x in xs])
    assert [c(i) for i in range(3)] == [1, 2, 3]
    assert list(c.batch_sizes) == [1, 1, 1]


def test_calls_arriving_during_a_batch_share_the_next_one():
    fn = GatedDouble()
    c = Coalescer(fn, max_items=64)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(c, 100)
        assert fn.started.wait(10)
        rest = [pool.submit(c, i) for i in range(6)]
        wait_queued(c, 6)
        fn.gate.set()
        assert first.result(10) == 200
        assert [f.result(10) for f in rest] == [0, 2, 4, 6, 8, 10]
    assert fn.calls[0] == [100] and sorted(fn.calls[1]) == list(range(6)) and len(fn.calls) == 2


def test_max_items_bounds_a_batch():
    fn = GatedDouble()
    c = Coalescer(fn, max_items=4)
    with ThreadPoolExecutor(12) as pool:
        first = pool.submit(c, -1)
        assert fn.started.wait(10)
        rest = [pool.submit(c, i) for i in range(10)]
        wait_queued(c, 10)
        fn.gate.set()
        assert [f.result(10) for f in rest] == [2 * i for i in range(10)] and first.result(10) == -2
    assert max(c.batch_sizes) == 4 and sum(c.batch_sizes) == 11


def test_a_failing_batch_fails_its_callers_only():
    def fn(items):
        if "bad" in items:
            raise ValueError("bad item in batch")
        return [s.upper() for s in items]

    c = Coalescer(fn)
    with pytest.raises(ValueError, match="bad item"):
        c("bad")
    assert c("ok") == "OK"  # the coalescer keeps working after a failure


def test_wrong_result_count_is_an_error_not_a_hang():
    c = Coalescer(lambda xs: [])
    with pytest.raises(RuntimeError, match="returned 0 results for 1 items"):
        c(1)


def test_max_running_lets_batches_overlap():
    inside, both = [0], threading.Event()
    lock = threading.Lock()

    def fn(items):
        with lock:
            inside[0] += 1
            if inside[0] == 2:
                both.set()
        both.wait(2)
        with lock:
            inside[0] -= 1
        return items

    c = Coalescer(fn, max_running=2)
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(c, [1, 2])) == [1, 2]
    assert both.is_set()  # two batches were inside batch_fn at the same time


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_items >= 1"):
        Coalescer(lambda xs: xs, max_items=0)
