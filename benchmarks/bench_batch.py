"""Batch scoring speed: workers vs one process, Spark vs local, and memory over a long run.

Usage: .venv/bin/python benchmarks/bench_batch.py [--key=value ...]   (see the defaults block)

Text-only posts (no media), all above the view threshold and public, so the
rules pass and every installed model runs. Three measurements:
  1. local: `score_file` with one process (the baseline) and with one worker per core;
  2. spark: `spark_score` on local[2] vs the local multi-worker run on the same Parquet input;
  3. memory: peak RSS of the scoring process sampled along a long run (streaming means flat).
One summary line on stdout; the record goes to benchmarks/results/batch.json.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# -- defaults (override with --key=value; the type of the default is kept) --
n_posts = 20_000  # posts for the local comparison
n_spark = 100_000  # posts for Spark vs local (0 skips Spark)
n_memory = 1_000_000  # posts for the memory run (0 skips it)
n_video_posts = 40  # posts that each carry a 30 s 720x1280 H.264 video (0 skips it)
workers = os.cpu_count() or 1
batch_size = 256
warmup_posts = 500  # scored first and not timed: model loading, caches
seed = 0
results_name = "batch"  # record written to benchmarks/results/<results_name>.json
# ---------------------------------------------------------------------------
from benchmarks.machine import machine  # noqa: E402
from training.configurator import apply_overrides  # noqa: E402

apply_overrides(globals(), sys.argv[1:])

from service.batch import score_file  # noqa: E402

WORDS = "sunset run river coffee morning code review trip city light market friends dinner rain book".split()
PITCHES = ["use code SAVE20 at checkout", "#ad thanks @brand", "credit to @someone, not my video", "link in bio to shop"]


def synthetic_post(rng: random.Random, i: int) -> dict:
    text = " ".join(rng.choices(WORDS, k=rng.randint(3, 25)))
    if rng.random() < 0.2:
        text += " " + rng.choice(PITCHES)
    views = rng.randint(2_500, 200_000)
    steps = sorted(rng.sample(range(60, 7 * 86400), 6))
    history = [[0, 0]] + [[t, int(views * (1 - 0.5 ** (t / 20000)))] for t in steps]
    likes = int(views * rng.uniform(0.005, 0.08))
    return {"post_id": f"b{i}", "author": {"id": f"c{i % 997}", "is_public": True, "follower_count": rng.randint(100, 10**6)},
            "text": text, "views": views, "view_history": history,
            "engagement": {"likes": likes, "replies": likes // 10, "reposts": likes // 30, "quotes": 0}}


def write_jsonl(path: Path, n: int, rng: random.Random) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(synthetic_post(rng, i)) + "\n")


def timed_run(src: Path, out: Path, n_workers: int) -> float:
    start = time.perf_counter()
    score_file(src, out, pipeline_args={"media_root": str(src.parent)}, workers=n_workers, batch_size=batch_size)
    return time.perf_counter() - start


def memory_run(src: Path, out: Path) -> dict:
    """Run the CLI in a child process and sample its RSS (and its workers') every second."""
    cmd = [str(Path(sys.executable).parent / "bonuscheck"), "score", str(src), "-o", str(out), "--no-progress",
           "--workers", str(workers), "--batch-size", str(batch_size)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    samples = []
    while proc.poll() is None:
        rss = subprocess.run(["ps", "-o", "rss=", "--ppid", str(proc.pid), "-p", str(proc.pid)], capture_output=True, text=True)
        samples.append(sum(int(x) for x in rss.stdout.split()) // 1024)
        time.sleep(1.0)
    quarter = max(1, len(samples) // 4)
    return {"rss_mb_after_first_quarter": max(samples[:quarter]), "rss_mb_peak": max(samples), "samples": len(samples)}


def main() -> None:
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    warm, src = tmp / "warm.jsonl", tmp / "posts.jsonl"
    write_jsonl(warm, warmup_posts, rng)
    write_jsonl(src, n_posts, rng)
    timed_run(warm, tmp / "warm.out.jsonl", 1)  # warm-up: imports, model loading, page cache

    t_one = timed_run(src, tmp / "one.jsonl", 1)
    t_many = timed_run(src, tmp / "many.jsonl", workers)
    record = {"local": {"posts": n_posts, "one_process_posts_per_s": round(n_posts / t_one, 1),
                        "workers": workers, "workers_posts_per_s": round(n_posts / t_many, 1), "speedup": round(t_one / t_many, 2)}}

    if n_spark:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from service.spark_job import spark_score

        rows = [synthetic_post(rng, i) for i in range(n_spark)]
        pq.write_table(pa.Table.from_pylist([{"post_id": r["post_id"], "post_json": json.dumps(r)} for r in rows]), tmp / "spark_in.parquet")
        del rows
        t_local = timed_run(tmp / "spark_in.parquet", tmp / "local_out.parquet", workers)
        start = time.perf_counter()
        spark_score(str(tmp / "spark_in.parquet"), str(tmp / "spark_out.parquet"), master=f"local[{workers}]", media_root=str(tmp))
        t_spark = time.perf_counter() - start
        record["spark"] = {"posts": n_spark, "local_s": round(t_local, 2), "spark_s": round(t_spark, 2), "spark_over_local": round(t_spark / t_local, 2)}

    if n_video_posts:
        from bench_watermark import make_video  # the same synthetic 30 s clip as the watermark benchmark

        make_video(tmp / "clip.mp4", marked=False)
        make_video(tmp / "marked.mp4", marked=True)
        with open(tmp / "video_posts.jsonl", "w", encoding="utf-8") as f:
            for i in range(n_video_posts):
                post = dict(synthetic_post(rng, i), media=[{"type": "video", "path": ("clip.mp4", "marked.mp4")[i % 2]}])
                f.write(json.dumps(post) + "\n")
        t_video = timed_run(tmp / "video_posts.jsonl", tmp / "video_out.jsonl", workers)
        record["video"] = {"posts": n_video_posts, "workers": workers, "videos_per_s": round(n_video_posts / t_video, 2)}

    if n_memory:
        big = tmp / "big.jsonl"
        write_jsonl(big, n_memory, rng)
        record["memory"] = {"posts": n_memory, **memory_run(big, tmp / "big.out.jsonl")}

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    record["machine"] = machine()  # with the load averages at the end: others' work skews a 2-core box
    from service.pipeline import Pipeline

    record["versions"] = Pipeline.load().versions.model_dump()
    record["commit"] = commit
    out = Path(__file__).resolve().parent / "results" / f"{results_name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    spark = record.get("spark", {})
    print(f"batch: {record['local']['workers_posts_per_s']} posts/s with {workers} workers "
          f"(x{record['local']['speedup']} vs one process); spark/local {spark.get('spark_over_local', '-')}; "
          f"peak RSS {record.get('memory', {}).get('rss_mb_peak', '-')} MB; "
          f"{record.get('video', {}).get('videos_per_s', '-')} videos/s")


if __name__ == "__main__":
    main()
