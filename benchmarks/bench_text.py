"""Speed of the text model: posts/s batched and single-post latency (CPU), cascade vs lexical stage alone.

    python benchmarks/bench_text.py                 # defaults below
    python benchmarks/bench_text.py --workers=1 --batch_size=512
    python benchmarks/bench_text.py --posts=captions --out=benchmarks/results/text_captions.json

Synthetic posts (the training generator's held-out split; `--posts=captions`: the 960 written captions of the
undisclosed-ad tests as posted, English and fr/de/es/pt, cycled, which are longer and route differently), warm-up left out of the
timing, perf_counter; the whole text stage (lexical + routed posts through the contextual
transformer) and, in the same process on the same posts, the lexical stage alone (the
baseline); then the whole stage again with `workers` forked processes sharing the loaded
model (all cores, the way the batch CLI runs); last, the lexical stage's character n-gram counts by
scikit-learn against models/text/hashing.py (same counts) on the same posts; prints one summary line and writes
benchmarks/results/text.json.
"""

from __future__ import annotations

import os
import sys

# -----------------------------------------------------------------------------
batch_size = 256  # posts per score_texts call in the batched pass
iterations = 60  # timed batched calls (20 left the all-cores pass at about 5 s, within this VM's noise)
single_iterations = 500  # timed one-post calls (for p50/p99 latency)
warmup = 3  # untimed batched calls before timing
workers = 2  # processes for the all-cores pass: one 1-thread worker per core, forked after load, as service/batch.py runs them
threads = 1  # torch/OpenMP threads per process: the service gives each worker cpu_count // 2 = 1 thread on the
# 2-core box and batch runs one 1-thread worker per core (signals.cap_model_threads); 2 threads on a shared box oversubscribe
device = "cpu"  # the text model runs on CPU only
seed = 0  # synthetic data seed
posts = "heldout"  # "heldout": the generator's held-out split; "captions": the written caption test sets, as posted
artifact = ""  # artifact folder; "" = the shipped models/text/artifact
out = "benchmarks/results/text.json"
# -----------------------------------------------------------------------------
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from training.configurator import apply_overrides  # noqa: E402

apply_overrides(globals(), sys.argv[1:])
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(threads)

import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402

from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import replace  # noqa: E402
from multiprocessing import get_context  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from models.text import TextClassifier, load  # noqa: E402
from training.text.generate import generate  # noqa: E402


def _time(model, batches, posts) -> dict:
    for b in batches[:warmup]:
        model.score_texts(b)
    t0, c0 = time.perf_counter(), time.process_time()
    routed = 0
    for b in batches[warmup:]:
        routed += sum(s.stage == "contextual" for s in model.score_texts(b))
    batched_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    lat = []
    for text in posts[:single_iterations]:
        t = time.perf_counter()
        model.score_texts([text])
        lat.append((time.perf_counter() - t) * 1e3)
    n = iterations * batch_size
    return {
        "posts_per_s": round(n / batched_s, 1), "posts_per_cpu_s": round(n / cpu_s, 1),  # cpu-s: robust to other load
        "routed_fraction": round(routed / n, 4), "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p90_ms": round(float(np.percentile(lat, 90)), 3), "p99_ms": round(float(np.percentile(lat, 99)), 3),
    }


_MODEL = None  # set before forking: workers inherit the loaded model copy-on-write


def _routed_in(batch: list[str]) -> int:
    return sum(s.stage == "contextual" for s in _MODEL.score_texts(batch))


def _time_workers(model, batches) -> dict:
    """The batched pass spread over `workers` processes; wall-clock posts/s for all of them together."""
    global _MODEL
    _MODEL = model
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(_routed_in, batches[:warmup]))
        t0 = time.perf_counter()
        routed = sum(pool.map(_routed_in, batches[warmup:]))
        wall = time.perf_counter() - t0
    n = iterations * batch_size
    return {"workers": workers, "threads_per_worker": threads, "posts_per_s": round(n / wall, 1), "routed_fraction": round(routed / n, 4)}


def _time_char_hashing(model, texts: list[str]) -> dict:
    """The lexical stage's character n-gram counts: scikit-learn's HashingVectorizer (what the weights were trained
    with) against models/text/hashing.py (what runs), same posts, alternated 3 times; best of each."""
    from sklearn.feature_extraction.text import HashingVectorizer

    cfg = model.config
    baseline = HashingVectorizer(analyzer="char_wb", ngram_range=(cfg.char_ngram_min, cfg.char_ngram_max),
                                 n_features=cfg.char_features, alternate_sign=False, norm=None, lowercase=True)
    best = {"sklearn": float("inf"), "numpy": float("inf")}
    for _ in range(3):
        for name, hasher in (("sklearn", baseline), ("numpy", model._char)):
            t0 = time.perf_counter()
            for i in range(0, len(texts), batch_size):
                hasher.transform(texts[i : i + batch_size])
            best[name] = min(best[name], (time.perf_counter() - t0) / len(texts) * 1e3)
    return {"sklearn_ms_per_post": round(best["sklearn"], 4), "numpy_ms_per_post": round(best["numpy"], 4),
            "speedup": round(best["sklearn"] / best["numpy"], 2)}


def _posts(n: int) -> list[str]:
    """`n` post texts of the kind `posts` names."""
    if posts == "heldout":
        return [r["text"] for r in generate(n, "val", seed)]
    if posts == "captions":
        from training.text.evaluate import CAPTION_SPLITS, caption_rows

        captions = [r["text"] for split in CAPTION_SPLITS for r in caption_rows(split)]
        return [captions[i % len(captions)] for i in range(n)]
    raise ValueError(f"--posts: expected 'heldout' or 'captions', got {posts!r}")


def main() -> None:
    assert device == "cpu", f"--device: expected 'cpu', got {device!r}"
    torch.set_num_threads(threads)
    model = load(artifact or None)
    lexical = TextClassifier(config=replace(model.config, contextual=False), weights=model.weights, patterns=model.extractor.spec)
    texts = _posts(batch_size * (iterations + warmup))
    batches = [texts[i * batch_size : (i + 1) * batch_size] for i in range(iterations + warmup)]
    load0 = os.getloadavg()[0]
    whole = _time(model, batches, texts)
    base = _time(lexical, batches, texts)
    spread = _time_workers(model, batches) if workers > 1 else None
    hashing = _time_char_hashing(model, texts)
    load1 = os.getloadavg()[0]
    try:
        commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        commit = "nogit"
    record = {
        "model": model.version, "device": device, "threads": threads, "batch_size": batch_size,
        "iterations": iterations, "warmup": warmup, "single_iterations": single_iterations,
        "whole_text_stage": whole, "lexical_only_baseline": base, "whole_text_stage_all_cores": spread,
        "char_ngram_hashing": hashing,
        "posts_per_s": whole["posts_per_s"], "posts_per_s_all_cores": spread and spread["posts_per_s"], "p50_ms": whole["p50_ms"],
        "load_avg_1min_before": round(load0, 2), "load_avg_1min_after": round(load1, 2),
        "posts": posts, "mean_chars": round(float(np.mean([len(p) for p in texts])), 1),
        "contextual_precision": model.contextual.precision if model.contextual is not None else None,
        # the contextual stage runs bf16 only where the CPU has it natively, else fp32 at about a third the speed
        "machine": machine(note="shared 2-core VM; other jobs may run: compare posts_per_cpu_s and the load averages"),
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "torch": torch.__version__},
        "git_commit": commit, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"text {model.version}: whole stage {whole['posts_per_s']:,.0f} posts/s batched (bs {batch_size}, {threads} threads, "
          f"{whole['routed_fraction']:.1%} routed), single p50 {whole['p50_ms']:.2f} ms p99 {whole['p99_ms']:.2f} ms; "
          f"lexical only {base['posts_per_s']:,.0f} posts/s, p50 {base['p50_ms']:.2f} ms; "
          f"whole stage on {workers} worker(s) {spread['posts_per_s'] if spread else whole['posts_per_s']:,.0f} posts/s; "
          f"char n-gram hashing {hashing['speedup']}x scikit-learn's; load {load0:.1f}->{load1:.1f} -> {out}")


if __name__ == "__main__":
    main()
