"""Benchmark the whole organic_views check (cleaning + features + model + evidence) on one core.

    python benchmarks/bench_views.py [--batch_size=4096 --history_points=48 ...]

Synthetic posts (saturating curves with noise, some bursts, some missing fields); warm-up is
left out of the timing; one summary line; a JSON record in benchmarks/results/views.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target is stated per core

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# ---- defaults -----------------------------------------------------------------------------------
batch_size = 4096  # posts per score_posts call
iterations = 20  # timed batches
warmup = 3  # untimed batches first
history_points = 48  # points per view history
long_history_points = 100_000  # one extra post timed alone: a huge history must stay cheap
seed = 0
device = "cpu"  # the model is CPU only
artifact = "models/views/artifact"
# --------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine  # noqa: E402
from training.configurator import apply_overrides  # noqa: E402


def synthetic_posts(n: int, points: int, rng: np.random.Generator) -> list[dict]:
    """Curves v(t) = V (1 - exp(-t/tau)) with noise; a tenth get a burst; 5 % miss each field."""
    posts = []
    for _ in range(n):
        span = rng.uniform(6, 14 * 24) * 3600
        t = np.sort(rng.uniform(0, span, points))
        total = float(np.exp(rng.uniform(np.log(500), np.log(1e6))))
        v = total * (1 - np.exp(-t / rng.uniform(1, 30) / 3600)) * rng.uniform(0.97, 1.03, points)
        if rng.random() < 0.1:
            v += np.where(t > span / 2, total * rng.uniform(0.5, 5), 0)
        history = [[float(a), int(b)] for a, b in zip(t, np.maximum.accumulate(v))]
        likes = int(total * rng.uniform(0.001, 0.08))
        posts.append({
            "views": int(history[-1][1]) + 10,
            "view_history": history if rng.random() > 0.05 else None,
            "engagement": {"likes": likes, "replies": likes // 10, "reposts": likes // 30, "quotes": 1}
            if rng.random() > 0.05 else None,
            "follower_count": int(np.exp(rng.uniform(np.log(50), np.log(1e6)))) if rng.random() > 0.05 else None,
        })
    return posts


def main() -> None:
    apply_overrides(globals(), sys.argv[1:])
    from threadpoolctl import threadpool_limits

    from models.views import load

    model = load(ROOT / artifact)
    rng = np.random.default_rng(seed)
    batches = [synthetic_posts(batch_size, history_points, rng) for _ in range(min(iterations, 4))]
    long_post = synthetic_posts(1, long_history_points, rng)
    with threadpool_limits(1):
        for i in range(warmup):
            model.score_posts(batches[i % len(batches)])
        start, cpu_start = time.perf_counter(), time.process_time()  # CPU only: nothing to synchronise
        for i in range(iterations):
            model.score_posts(batches[i % len(batches)])
        elapsed = time.perf_counter() - start
        cpu_elapsed = time.process_time() - cpu_start  # CPU seconds: what other jobs on the machine do not inflate
        t0 = time.perf_counter()
        model.score_posts(long_post)
        long_ms = (time.perf_counter() - t0) * 1000
    posts_per_s = batch_size * iterations / elapsed
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    import sklearn

    record = {
        "benchmark": "views",
        "posts_per_s": round(posts_per_s, 1),
        "posts_per_cpu_s": round(batch_size * iterations / cpu_elapsed, 1),
        "ms_per_batch": round(1000 * elapsed / iterations, 2),
        "long_history_ms": round(long_ms, 2),
        "settings": {"batch_size": batch_size, "iterations": iterations, "warmup": warmup,
                     "history_points": history_points, "long_history_points": long_history_points,
                     "seed": seed, "device": device, "threads": 1},
        "model_version": model.version,
        "machine": machine(),
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "commit": commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "benchmarks" / "results" / "views.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"views: {posts_per_s:,.0f} posts/s wall ({record['posts_per_cpu_s']:,.0f} per CPU-second) on 1 core, "
          f"batch {batch_size}, {history_points} points/post, load {record['machine']['load_average'][0]}; "
          f"100k-point history {long_ms:.1f} ms -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
