"""Speed of the watermark check, end to end: decode + sample frames + score.

    .venv/bin/python benchmarks/bench_watermark.py [--key=value ...]

Synthetic inputs are generated here (a 30 s 720x1280 H.264 clip, 1080x1350 JPEGs).
Baseline: decoding every frame of the same clip to RGB, what a naive sampler pays.
Writes benchmarks/results/watermark.json and prints one summary line.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.watermark import load  # noqa: E402
from service.frames import sample_frames  # noqa: E402

# -----------------------------------------------------------------------------
iterations = 20  # timed runs per measurement (median reported)
warmup = 3  # untimed runs first (allocators, caches, lazy init)
threads = 2  # torch intra-op threads; the target machine has 2 cores
decoder_threads = 1  # ffmpeg threads for the sampled decode (seeks make frame threading useless)
seed = 0
video_seconds = 30
video_width, video_height, fps = 720, 1280, 30
gop = 0  # keyframe interval in frames; 0 = x264 default (250, plus scene cuts)
crf = 23
n_images = 32  # images per batch
image_width, image_height = 1080, 1350
baseline_runs = 3  # full decodes timed for the baseline
artifact = ""  # artifact folder; empty = the shipped one
out = str(ROOT / "benchmarks" / "results" / "watermark.json")
# -----------------------------------------------------------------------------
for arg in sys.argv[1:]:
    key, value = arg.removeprefix("--").split("=", 1)
    if key not in globals() or key.startswith("_"):
        raise SystemExit(f"--{key}: unknown key")
    globals()[key] = type(globals()[key])(value)


def make_video(path: Path) -> None:
    """Moving textured footage with noise, so the encoder has real work (not a flat frame)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (video_height // 8, video_width // 8, 3), dtype=np.uint8),
                      (video_width * 2, video_height * 2), interpolation=cv2.INTER_CUBIC)
    opts = {"crf": str(crf), "preset": "veryfast"} | ({"g": str(gop)} if gop else {})
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options=opts)
        stream.width, stream.height, stream.pix_fmt = video_width, video_height, "yuv420p"
        for i in range(video_seconds * fps):
            x, y = (i * 3) % video_width, (i * 2) % video_height
            frame = base[y: y + video_height, x: x + video_width].copy()
            frame = cv2.add(frame, rng.integers(0, 12, frame.shape, dtype=np.uint8))
            for pkt in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(pkt)
        for pkt in stream.encode():
            container.mux(pkt)


def decode_every_frame(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for f in container.decode(video=0) if f.to_ndarray(format="rgb24") is not None)


def timed(fn, n: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def main() -> None:
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    detector = load(artifact or None, num_threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        make_video(video)
        rng = np.random.default_rng(seed)
        images = []
        for i in range(n_images):
            p = Path(tmp) / f"img{i}.jpg"
            img = cv2.GaussianBlur(rng.integers(0, 255, (image_height, image_width, 3), dtype=np.uint8), (9, 9), 3)
            cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            images.append(p)

        sampled = sample_frames(video, "video", size=detector.input_size, threads=decoder_threads)

        def video_end_to_end():
            s = sample_frames(video, "video", size=detector.input_size, threads=decoder_threads)
            return detector.score_media(s)

        def images_batch():
            frames = np.concatenate([sample_frames(p, "image", size=detector.input_size).frames for p in images])
            return detector.score_frames(frames)

        video_s = timed(video_end_to_end, iterations)
        decode_s = timed(lambda: sample_frames(video, "video", size=detector.input_size, threads=decoder_threads), iterations)
        image_s = [t / n_images for t in timed(images_batch, max(3, iterations // 4))]
        t0 = time.perf_counter()
        n_all = [decode_every_frame(video) for _ in range(baseline_runs)][0]
        baseline = (time.perf_counter() - t0) / baseline_runs

    med_video, med_image, med_decode = statistics.median(video_s), statistics.median(image_s), statistics.median(decode_s)
    record = {
        "benchmark": "watermark", "commit": git_commit(), "machine": platform.processor() or platform.machine(),
        "cpu_count_visible": len(os.sched_getaffinity(0)), "threads": threads,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),  # the 2-core box is shared: timings scale with load
        "python": platform.python_version(), "torch": torch.__version__, "av": av.__version__, "opencv": cv2.__version__,
        "model_version": detector.version,
        "video": {"seconds": video_seconds, "size": [video_width, video_height], "fps": fps, "gop": gop or "x264 default",
                  "crf": crf, "frames_sampled": int(len(sampled.frames)), "frames_total": n_all},
        "video_end_to_end_ms": {"median": round(med_video * 1e3, 2), "p90": round(float(np.percentile(video_s, 90)) * 1e3, 2)},
        "video_sampling_only_ms": round(med_decode * 1e3, 2),
        "baseline_decode_every_frame_ms": round(baseline * 1e3, 1),
        "speedup_vs_decode_every_frame": round(baseline / med_video, 1),
        "image_ms_each_in_batch": {"median": round(med_image * 1e3, 2), "batch": n_images, "size": [image_width, image_height]},
        "targets": {"video_ms": 100, "image_ms": 10},
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"watermark: video {video_seconds}s {video_width}x{video_height} end-to-end {record['video_end_to_end_ms']['median']} ms median "
          f"({len(sampled.frames)} frames; decode-every-frame {record['baseline_decode_every_frame_ms']} ms, "
          f"x{record['speedup_vs_decode_every_frame']}), images {record['image_ms_each_in_batch']['median']} ms each "
          f"(batch {n_images}), threads {threads}")


if __name__ == "__main__":
    main()
