"""Speed of the text model: posts/s batched and single-post latency (CPU).

    python benchmarks/bench_text.py                 # defaults below
    python benchmarks/bench_text.py --threads=2 --batch_size=512

Synthetic posts (the training generator's held-out split), warm-up left out of the
timing, perf_counter; prints one summary line and writes benchmarks/results/text.json.
"""

from __future__ import annotations

import os
import sys

# -----------------------------------------------------------------------------
batch_size = 256  # posts per score_texts call in the batched pass
iterations = 20  # timed batched calls
single_iterations = 500  # timed one-post calls (for p50/p99 latency)
warmup = 3  # untimed batched calls before timing
threads = 2  # BLAS/OpenMP threads (the CI machine has 2 cores)
device = "cpu"  # the text model runs on CPU only
seed = 0  # synthetic data seed
artifact = ""  # artifact folder; "" = the shipped models/text/artifact
out = "benchmarks/results/text.json"
# -----------------------------------------------------------------------------
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from training.configurator import apply_overrides  # noqa: E402

apply_overrides(globals(), sys.argv[1:])
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(threads)

import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402

from models.text import load  # noqa: E402
from training.text.generate import generate  # noqa: E402


def main() -> None:
    assert device == "cpu", f"--device: expected 'cpu', got {device!r}"
    model = load(artifact or None)
    posts = [r["text"] for r in generate(batch_size * (iterations + warmup), "val", seed)]
    batches = [posts[i * batch_size : (i + 1) * batch_size] for i in range(iterations + warmup)]
    for b in batches[:warmup]:
        model.score_texts(b)
    t0, c0 = time.perf_counter(), time.process_time()
    for b in batches[warmup:]:
        model.score_texts(b)
    batched_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    posts_per_s = iterations * batch_size / batched_s
    posts_per_cpu_s = iterations * batch_size / cpu_s  # robust to other load on a shared machine
    load1 = os.getloadavg()[0]
    lat = []
    for text in posts[:single_iterations]:
        t = time.perf_counter()
        model.score_texts([text])
        lat.append((time.perf_counter() - t) * 1e3)
    p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
    try:
        commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        commit = "nogit"
    record = {
        "model": model.version, "device": device, "threads": threads, "batch_size": batch_size,
        "iterations": iterations, "warmup": warmup, "posts_per_s": round(posts_per_s, 1),
        "posts_per_cpu_s": round(posts_per_cpu_s, 1), "load_avg_1min_after": round(load1, 2),
        "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "mean_chars": round(float(np.mean([len(p) for p in posts])), 1),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__}, "git_commit": commit,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"text {model.version}: {posts_per_s:,.0f} posts/s batched (bs {batch_size}, {threads} threads), "
          f"{posts_per_cpu_s:,.0f} posts/cpu-s, single post p50 {p50:.2f} ms p99 {p99:.2f} ms, load {load1:.1f} -> {out}")


if __name__ == "__main__":
    main()
