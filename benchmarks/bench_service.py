"""HTTP service speed: /evaluate with request coalescing vs one pipeline call per request.

Usage: .venv/bin/python benchmarks/bench_service.py [--key=value ...]   (see the defaults block)

Two real `bonuscheck serve` subprocesses, one after the other, on the same generated media root
(720x1280 JPEG/PNG images with drawn content, short H.264 clips): the baseline with
BONUSCHECK_COALESCE_MAX=1 (each request its own pipeline call) and the default (concurrent
requests coalesced, so frames of many posts share one CNN forward). Each gets a warm-up, then
`concurrency` client threads send every post once (throughput, latency percentiles), then one
client sends `n_single` posts one by one (latency of a lone request, where coalescing cannot help).
Every response must be 200; anything else is counted, never hidden.
One summary line on stdout; the record goes to benchmarks/results/service.json.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import av
import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# -- defaults (override with --key=value; the type of the default is kept) --
n_images = 200  # image posts in the timed concurrent run (each carries one image)
n_videos = 4  # video posts mixed into that run (0: images only)
n_image_files = 12  # distinct image files the posts point at (half JPEG, half PNG)
n_video_files = 2
video_seconds = 4  # short clips: the sampler still takes keyframes plus the end-card tail
concurrency = 16  # client threads in the throughput run
n_single = 20  # posts sent one at a time for single-request latency (0 skips it)
warmup = 16  # untimed posts first, sent concurrently: lazy init, OCR engine, page cache
request_timeout = 300.0  # seconds; a request that takes longer counts as an error, not a hang
ready_timeout = 240.0  # seconds for a server to load its models and answer /readyz
seed = 0
keep_tmp = False  # keep the media root and the server logs (printed path) for inspection
results_name = "service"  # record written to benchmarks/results/<results_name>.json
# ---------------------------------------------------------------------------
from benchmarks.machine import machine  # noqa: E402
from tests.integration.server_process import free_port, stop  # noqa: E402
from training.configurator import apply_overrides, git_commit  # noqa: E402

CONFIG = apply_overrides(globals(), sys.argv[1:])
BONUSCHECK = str(Path(sys.executable).with_name("bonuscheck"))
KEY = "bench-key"
WORDS = "sunset run river coffee morning code review trip city light market friends dinner rain book".split()


def make_image(path: Path, rng: np.random.Generator) -> None:
    """A portrait photo stand-in: smooth colour field, shapes, a caption and sensor noise (not a flat frame)."""
    h, w = 1280, 720
    img = cv2.resize(rng.integers(0, 255, (h // 64, w // 64, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(30, 200)), colour, -1)
        else:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(50, 300)), y + int(rng.integers(50, 300))), colour, -1)
    cv2.putText(img, " ".join(rng.choice(WORDS, 3)), (40, h - 120), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 3)
    img = cv2.add(img, rng.integers(0, 10, img.shape, dtype=np.uint8))
    cv2.imwrite(str(path), img)


def make_video(path: Path, rng: np.random.Generator) -> None:
    """A panning textured 720x1280 H.264 clip (same recipe as bench_watermark, shorter)."""
    w, h, fps = 720, 1280, 30
    base = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(video_seconds * fps):
            x, y = (i * 3) % w, (i * 2) % h
            frame = cv2.add(base[y: y + h, x: x + w], rng.integers(0, 12, (h, w, 3), dtype=np.uint8))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())


def make_post(rng: random.Random, post_id: str, media: dict) -> dict:
    """Public, above the view threshold, with text: the rules pass, so every model (and the watermark CNN) runs."""
    views = rng.randint(2_500, 200_000)
    steps = sorted(rng.sample(range(60, 7 * 86400), 6))
    likes = int(views * rng.uniform(0.005, 0.08))
    return {"post_id": post_id, "author": {"id": f"c{rng.randint(0, 996)}", "is_public": True, "follower_count": rng.randint(100, 10**6)},
            "text": " ".join(rng.choices(WORDS, k=rng.randint(3, 25))), "media": [media], "views": views,
            "view_history": [[0, 0]] + [[t, int(views * (1 - 0.5 ** (t / 20000)))] for t in steps],
            "engagement": {"likes": likes, "replies": likes // 10, "reposts": likes // 30, "quotes": 0}}


def start_server(media: Path, log_path: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen, str, float]:
    drop = ("BONUSCHECK_TORCH_THREADS", "BONUSCHECK_COALESCE_MAX", "BONUSCHECK_POLICY", "HOST", "PORT")
    env = {k: v for k, v in os.environ.items() if k not in drop}  # the service's own defaults, as deployed
    env.update(BENTOML_DO_NOT_TRACK="true", BENTOML_HOME=str(log_path.parent / "bentoml_home"),
               BONUSCHECK_MEDIA_ROOT=str(media), BONUSCHECK_API_KEYS=KEY, **extra_env)
    port, t0 = free_port(), time.perf_counter()
    with open(log_path, "wb") as log:  # its own session: stop() can signal the whole process group
        proc = subprocess.Popen([BONUSCHECK, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; log: {log_path}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return proc, url, time.perf_counter() - t0
            if time.perf_counter() - t0 > ready_timeout:
                raise RuntimeError(f"server not ready after {ready_timeout:.0f} s; log: {log_path}")
            time.sleep(0.25)
    except BaseException:
        stop(proc)
        raise


def percentile(sorted_ms: list[float], q: float) -> float:
    return round(sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)], 1) if sorted_ms else float("nan")


def send_all(url: str, posts: list[dict], threads: int) -> dict:
    """Each of `threads` clients sends the next post as soon as its previous answer is in (a closed loop)."""
    statuses, decisions, watermark, latencies, versions, lock = Counter(), Counter(), Counter(), [], {}, threading.Lock()
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=request_timeout, limits=limits)

    def one(post: dict) -> None:
        t0 = time.perf_counter()
        try:
            r = client.post("/evaluate", json={"post": post})
            status = str(r.status_code)
        except httpx.HTTPError as exc:  # a timeout or dropped connection is a failure to count, not to raise
            r, status = None, type(exc).__name__
        ms = (time.perf_counter() - t0) * 1000
        v = r.json() if r is not None and r.status_code == 200 else None
        with lock:
            latencies.append(ms)
            statuses[status] += 1
            if v is not None:
                # an `error` verdict (media_not_found...) would mean the benchmark measured the wrong path
                decisions[f"error:{v['error']['code']}" if v.get("error") else v["decision"]] += 1
                watermark[v["checks"]["no_platform_watermark"]["status"]] += 1  # pass/fail/review: the CNN ran
                versions.update(v["versions"])

    load_before = os.getloadavg()[0]
    pool = ThreadPoolExecutor(threads)
    t0 = time.perf_counter()
    try:
        list(pool.map(one, posts))
    except BaseException:
        # Ctrl-C: drop the queued posts; the in-flight ones fail once the caller stops the server.
        # The client stays open under them: closing it would leave their recv() waiting out request_timeout.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    wall = time.perf_counter() - t0
    pool.shutdown()
    client.close()
    ms = sorted(latencies)
    return {"concurrency": threads, "requests": len(posts), "wall_s": round(wall, 2), "posts_per_s": round(len(posts) / wall, 2),
            "latency_ms": {"p50": percentile(ms, 0.5), "p90": percentile(ms, 0.9), "p99": percentile(ms, 0.99), "max": percentile(ms, 1.0)},
            "statuses": dict(statuses), "non_200": len(posts) - statuses["200"], "decisions": dict(decisions), "watermark_check": dict(watermark),
            "load_1m_before": round(load_before, 2), "load_1m_after": round(os.getloadavg()[0], 2), "versions": versions}


def bench_server(name: str, extra_env: dict[str, str], media: Path, tmp: Path, warm: list, timed: list, single: list) -> dict:
    proc, url, startup = start_server(media, tmp / f"{name}.log", extra_env)
    try:
        send_all(url, warm, concurrency)
        run = {"env": extra_env, "startup_s": round(startup, 1), "concurrent": send_all(url, timed, concurrency)}
        if single:
            run["single"] = send_all(url, single, 1)
        print(f"{name}: {run['concurrent']['posts_per_s']} posts/s at c={concurrency}, "
              f"p50 {run['concurrent']['latency_ms']['p50']} ms, statuses {run['concurrent']['statuses']}", file=sys.stderr)
        return run
    finally:
        stop(proc)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed benchmark still runs the `finally`s below
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    try:
        nrng = np.random.default_rng(seed)
        media = tmp / "media"
        (media / "img").mkdir(parents=True)
        (media / "clips").mkdir()
        images = [f"img/{i}.{'jpg' if i % 2 == 0 else 'png'}" for i in range(n_image_files)]
        clips = [f"clips/{i}.mp4" for i in range(n_video_files if n_videos else 0)]
        for rel in images:
            make_image(media / rel, nrng)
        for rel in clips:
            make_video(media / rel, nrng)

        def posts(prefix: str, n_img: int, n_vid: int) -> list[dict]:
            rng = random.Random(f"{seed}-{prefix}")  # one stream per set: the single-request posts do not shift with n_images
            out = [make_post(rng, f"{prefix}{i}", {"type": "image", "path": images[i % len(images)]}) for i in range(n_img)]
            out += [make_post(rng, f"{prefix}v{i}", {"type": "video", "path": clips[i % len(clips)]}) for i in range(n_vid if clips else 0)]
            rng.shuffle(out)  # videos spread through the run, not all at its end
            return out

        # the same posts, in the same order, for both servers
        warm, timed, single = posts("w", warmup, min(2, n_videos)), posts("t", n_images, n_videos), posts("s", n_single, 0)
        load_start = os.getloadavg()
        runs = {"baseline": bench_server("baseline", {"BONUSCHECK_COALESCE_MAX": "1"}, media, tmp, warm, timed, single),
                "coalesced": bench_server("coalesced", {}, media, tmp, warm, timed, single)}
    finally:
        if keep_tmp:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    base, coal = runs["baseline"], runs["coalesced"]
    ratio = round(coal["concurrent"]["posts_per_s"] / base["concurrent"]["posts_per_s"], 2)
    dirty = subprocess.run(["git", "status", "--porcelain", "service"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = {
        "benchmark": "service", "commit": git_commit(), "service_uncommitted_changes": bool(dirty), "config": CONFIG,
        "media": {"images": f"{n_image_files} files 720x1280 (JPEG+PNG)", "videos": f"{len(clips)} files 720x1280 H.264 {video_seconds} s"},
        "coalesced_over_baseline_posts_per_s": ratio,
        "runs": runs,
        # a 2-core box shared with training jobs: load averages say how much of it the benchmark had
        "machine": machine(load_average_at_start=[round(x, 2) for x in load_start]),  # its own load_average: at the end
        "packages": {p: version(p) for p in ("bentoml", "httpx", "torch", "av", "opencv-python-headless")},
        # the same for every response; kept once, not per run
        "versions": [r[k].pop("versions") for r in runs.values() for k in ("concurrent", "single") if k in r][-1],
    }
    out = ROOT / "benchmarks" / "results" / f"{results_name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    bad = sum(r[k]["non_200"] for r in runs.values() for k in ("concurrent", "single") if k in r)
    single_p50 = "/".join(str(r.get("single", {}).get("latency_ms", {}).get("p50", "-")) for r in (base, coal))
    print(f"service: {coal['concurrent']['posts_per_s']} posts/s coalesced vs {base['concurrent']['posts_per_s']} baseline "
          f"at concurrency {concurrency} (x{ratio}); p50 {coal['concurrent']['latency_ms']['p50']}/{base['concurrent']['latency_ms']['p50']} ms; "
          f"single-request p50 {single_p50} ms (baseline/coalesced); non-200 {bad}; load 1m {load_start[0]:.2f}->{record['machine']['load_average'][0]:.2f}")


if __name__ == "__main__":
    main()
