"""Speed of the watermark check, end to end: decode + sample frames + score.

    .venv/bin/python benchmarks/bench_watermark.py [--key=value ...]

Synthetic inputs are generated here (a 30 s 720x1280 H.264 clip, 1080x1350 JPEGs of blurred noise
and of clean photographs held out from watermark training), and the
same clip carrying a TikTok-style corner mark plus an end card, so the OCR cascade's cost is
measured on the path that runs it (clean clips mostly skip OCR; marked ones read 1-3 frames).
Baselines: decoding every frame of the same clip to RGB, what a naive sampler pays; the frame
CNN alone (`load(ocr=False, crops=False)`); and the frame CNN + OCR without the crop classifier
(`load(crops=False)`), the behaviour before it; and the cascade without its anchor windows (`load(anchors=False)`).
Writes benchmarks/results/watermark.json and prints one summary line.
"""

from __future__ import annotations

import json
import os
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

from benchmarks.machine import machine  # noqa: E402
from models.watermark import load  # noqa: E402
from service.frames import sample_frames  # noqa: E402
from training.configurator import apply_overrides  # noqa: E402

# -----------------------------------------------------------------------------
iterations = 20  # timed runs per measurement (median reported)
warmup = 3  # untimed runs first (allocators, caches, lazy init)
threads = 2  # torch intra-op threads; the target machine has 2 cores
decoder_threads = 2  # ffmpeg frame threads: the sampled keyframes decode as one batch (service default)
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


def tiktok_layer(width: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB patch, alpha mask) of a TikTok-style corner mark about `width` pixels wide."""
    from PIL import Image, ImageDraw, ImageFont  # Pillow: a train/dev package, as in the tests
    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    fs = width // 5
    img = Image.new("RGBA", (width, int(fs * 3.6)), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    for dx, col in ((-2, (37, 244, 238)), (2, (254, 44, 85)), (0, (255, 255, 255))):
        d.ellipse([dx, fs + dx, fs * 0.8 + dx, fs * 1.8 + dx], outline=col, width=max(2, fs // 6))
        d.rectangle([fs * 0.6 + dx, dx, fs * 0.8 + dx, fs * 1.4 + dx], fill=col)
    d.text((0, fs * 2.0), "TikTok", font=ImageFont.truetype(font, fs), fill=(255, 255, 255, 255))
    d.text((0, fs * 3.0), "@bench.clip", font=ImageFont.truetype(font, fs // 2), fill=(255, 255, 255, 255))
    a = np.asarray(img)
    return a[..., :3].copy(), a[..., 3:] > 0


def end_card(w: int, h: int) -> np.ndarray:
    """A dark TikTok-style end card: big note, "TikTok", a search bar with the handle."""
    card = np.full((h, w, 3), 20, np.uint8)
    patch, mask = tiktok_layer(w // 2)
    y, x = h // 3, w // 4
    card[y: y + patch.shape[0], x: x + patch.shape[1]][mask[..., 0]] = patch[mask[..., 0]]
    return card


def make_video(path: Path, marked: bool = False) -> None:
    """Moving textured footage with noise, so the encoder has real work (not a flat frame);
    `marked`: a TikTok corner mark throughout and an end card in the last 2 seconds."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (video_height // 8, video_width // 8, 3), dtype=np.uint8),
                      (video_width * 2, video_height * 2), interpolation=cv2.INTER_CUBIC)
    opts = {"crf": str(crf), "preset": "veryfast"} | ({"g": str(gop)} if gop else {})
    patch, mask = tiktok_layer(video_width // 5) if marked else (None, None)
    card = end_card(video_width, video_height) if marked else None
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options=opts)
        stream.width, stream.height, stream.pix_fmt = video_width, video_height, "yuv420p"
        for i in range(video_seconds * fps):
            x, y = (i * 3) % video_width, (i * 2) % video_height
            frame = base[y: y + video_height, x: x + video_width].copy()
            frame = cv2.add(frame, rng.integers(0, 12, frame.shape, dtype=np.uint8))
            if marked and i >= (video_seconds - 2) * fps:
                frame = card.copy()
            elif marked:
                ph, pw = patch.shape[:2]
                region = frame[40: 40 + ph, 30: 30 + pw]
                region[mask[..., 0]] = patch[mask[..., 0]]
            for pkt in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(pkt)
        for pkt in stream.encode():
            container.mux(pkt)


def write_photo_images(folder: Path, rng: np.random.Generator) -> list[Path]:
    """n_images clean JPEGs of natural content: random crops of the photographs held out from watermark
    training (training/watermark/data.py), resized to image_width x image_height."""
    from training.watermark.data import TEST_PHOTOS, load_photos

    photos, out = load_photos(TEST_PHOTOS), []
    for i in range(n_images):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = cv2.resize(img[y: y + ch, x: x + cw], (image_width, image_height), interpolation=cv2.INTER_CUBIC)
        p = folder / f"photo{i}.jpg"
        cv2.imwrite(str(p), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        out.append(p)
    return out


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


def ms(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs) * 1e3, 2), "p95": round(float(np.percentile(xs, 95)) * 1e3, 2)}


def main() -> None:
    apply_overrides(globals(), sys.argv[1:])  # in main, so importing this file changes nothing
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    detector = load(artifact or None, num_threads=threads)
    cnn_only = load(artifact or None, num_threads=threads, ocr=False, crops=False)
    cnn_ocr = load(artifact or None, num_threads=threads, crops=False)  # before the crop classifier: the same-process baseline
    no_anchors = load(artifact or None, num_threads=threads, anchors=False)  # the cascade before its anchor windows
    with tempfile.TemporaryDirectory() as tmp:
        video, marked = Path(tmp) / "clip.mp4", Path(tmp) / "marked.mp4"
        make_video(video)
        make_video(marked, marked=True)
        rng = np.random.default_rng(seed)
        images = []
        for i in range(n_images):
            p = Path(tmp) / f"img{i}.jpg"
            img = cv2.GaussianBlur(rng.integers(0, 255, (image_height, image_width, 3), dtype=np.uint8), (9, 9), 3)
            cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            images.append(p)

        photo_images = write_photo_images(Path(tmp), rng)
        sampled = sample_frames(video, "video", size=detector.input_size, threads=decoder_threads)

        def end_to_end(det, path):
            s = sample_frames(path, "video", size=det.input_size, threads=decoder_threads)
            return det.score_media(s)

        def images_batch(det=detector, paths=images):  # the service path: sample each file, then one batched call
            return det.score_media_batch([sample_frames(p, "image", size=det.input_size) for p in paths])

        video_s = timed(lambda: end_to_end(detector, video), iterations)
        calls0 = detector.verifier.calls
        clean_score = end_to_end(detector, video)
        clean_calls = detector.verifier.calls - calls0
        calls0 = detector.verifier.calls
        marked_score = end_to_end(detector, marked)
        marked_calls = detector.verifier.calls - calls0
        marked_s = timed(lambda: end_to_end(detector, marked), iterations)
        cnn_video_s = timed(lambda: end_to_end(cnn_only, video), iterations)
        no_anchor_video_s = timed(lambda: end_to_end(no_anchors, video), iterations)
        cnn_ocr_video_s = timed(lambda: end_to_end(cnn_ocr, video), iterations)
        cnn_marked_s = timed(lambda: end_to_end(cnn_only, marked), iterations)
        marked_cnn_score = end_to_end(cnn_only, marked)
        decode_s = timed(lambda: sample_frames(video, "video", size=detector.input_size, threads=decoder_threads), iterations)
        image_s = [t / n_images for t in timed(images_batch, max(3, iterations // 4))]
        def photo_run(det) -> tuple[int, list[float]]:
            """OCR passes of one untimed pass over the photographs, then seconds per photograph of timed passes."""
            calls0 = det.verifier.calls if det.verifier else 0
            images_batch(det, photo_images)
            calls = (det.verifier.calls - calls0) if det.verifier else 0
            return calls, [t / len(photo_images) for t in timed(lambda: images_batch(det, photo_images), max(3, iterations // 4))]

        photo_calls, photo_s = photo_run(detector)
        _, photo_cnn_s = photo_run(cnn_only)
        photo_no_anchor_calls, photo_no_anchor_s = photo_run(no_anchors)
        photo_cnn_ocr_calls, photo_cnn_ocr_s = photo_run(cnn_ocr)
        t0 = time.perf_counter()
        n_all = [decode_every_frame(video) for _ in range(baseline_runs)][0]
        baseline = (time.perf_counter() - t0) / baseline_runs

    med_video, med_image, med_decode = statistics.median(video_s), statistics.median(image_s), statistics.median(decode_s)
    import onnxruntime
    import rapidocr_onnxruntime
    record = {
        "benchmark": "watermark", "commit": git_commit(), "threads": threads,
        "machine": machine(),  # with the load averages at the end: the 2-core box is shared, timings scale with load
        "torch": torch.__version__, "av": av.__version__, "opencv": cv2.__version__,
        "onnxruntime": onnxruntime.__version__, "rapidocr_onnxruntime": getattr(rapidocr_onnxruntime, "__version__", "1.4.4"),
        "model_version": detector.version,
        "video": {"seconds": video_seconds, "size": [video_width, video_height], "fps": fps, "gop": gop or "x264 default",
                  "crf": crf, "frames_sampled": int(len(sampled.frames)), "frames_total": n_all},
        "video_end_to_end_ms": ms(video_s),  # clean clip, CNN + OCR cascade (the shipped behaviour)
        "clean_video": {"cascade_ms": ms(video_s), "cnn_only_ms": ms(cnn_video_s), "cnn_ocr_ms": ms(cnn_ocr_video_s),
                        "before_anchors_ms": ms(no_anchor_video_s), "ocr_calls": clean_calls,
                        "probability": clean_score.probability},
        "marked_video": {"cascade_ms": ms(marked_s), "cnn_only_ms": ms(cnn_marked_s), "ocr_calls": marked_calls,
                         "probability": marked_score.probability, "platform": marked_score.platform,
                         "cnn_only_probability": marked_cnn_score.probability},
        "video_sampling_only_ms": round(med_decode * 1e3, 2),
        "baseline_decode_every_frame_ms": round(baseline * 1e3, 1),
        "speedup_vs_decode_every_frame": round(baseline / med_video, 1),
        "image_ms_each_in_batch": {"median": round(med_image * 1e3, 2), "batch": n_images, "size": [image_width, image_height],
                                   "note": "sample_frames + score_media_batch (cascade: OCR only on proposed images)"},
        "photo_image_ms_each_in_batch": {"median": round(statistics.median(photo_s) * 1e3, 2), "cnn_only_median": round(statistics.median(photo_cnn_s) * 1e3, 2),
                                         "cnn_ocr_median": round(statistics.median(photo_cnn_ocr_s) * 1e3, 2), "cnn_ocr_calls": photo_cnn_ocr_calls,
                                         "before_anchors_median": round(statistics.median(photo_no_anchor_s) * 1e3, 2),
                                         "before_anchors_ocr_calls": photo_no_anchor_calls,
                                         "batch": len(photo_images), "ocr_calls": photo_calls, "size": [image_width, image_height],
                                         "note": "clean photographs (scikit-image samples held out from watermark training), JPEG q90"},
        "targets": {"video_ms": 100, "image_ms": 10},
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(record, indent=2) + "\n")
    c, mk = record["clean_video"], record["marked_video"]
    print(f"watermark: video {video_seconds}s {video_width}x{video_height} end-to-end clean {c['cascade_ms']['median']} ms median "
          f"/ {c['cascade_ms']['p95']} p95 ({c['ocr_calls']} OCR; CNN only {c['cnn_only_ms']['median']}), marked "
          f"{mk['cascade_ms']['median']} / {mk['cascade_ms']['p95']} ({mk['ocr_calls']} OCR, p={mk['probability']}; CNN only "
          f"{mk['cnn_only_ms']['median']} ms, p={mk['cnn_only_probability']}); {len(sampled.frames)} frames; decode-every-frame "
          f"{record['baseline_decode_every_frame_ms']} ms; images {record['image_ms_each_in_batch']['median']} ms each "
          f"(batch {n_images}; clean photographs {record['photo_image_ms_each_in_batch']['median']} ms, CNN only "
          f"{record['photo_image_ms_each_in_batch']['cnn_only_median']}), threads {threads}")


if __name__ == "__main__":
    main()
