"""Held-out evaluation on the production path: full-resolution image files through
`service.frames.sample_frames` and `WatermarkDetector.score_media_batch`, as the service runs them.

    python -m training.watermark.evaluate_media --data_dir=../shared/data/tiktok-frames

Three sources, none seen in training:
- real TikTok frames of the held-out source videos (the same split as training), at their
  original resolution, with crops away from the labelled mark as real mark-free footage;
- marks drawn by an independent renderer (this file: OpenCV primitives and matplotlib's
  STIX / Computer Modern fonts, which training never uses) on photographs held out from
  training: YouTube and YouTube Shorts marks (4-20 % of the frame width), TikTok marks;
- clean frames and hard negatives of the same renderer (captions, bare @handles, red play
  shapes that are not YouTube's, text-heavy frames).
Each is written as a JPEG (quality 80-95) and scored three ways: the frame CNN alone; the frame
CNN + OCR of near-source crops (the behaviour before the crop classifier); the shipped cascade,
frame CNN + crop classifier + OCR (when the artifact has a crop classifier), with and without its anchor windows. Writes artifact/media_metrics.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from models.watermark.detector import ARTIFACT_DIR, load
from service.frames import sample_frames
from training.configurator import apply_overrides

from . import data as D

# -----------------------------------------------------------------------------
data_dir = "../shared/data/tiktok-frames"
artifact = str(ARTIFACT_DIR)
seed = 2024
n_test_videos = 6  # must match training: the same held-out source videos
n_per_kind = 60  # rendered images per kind (clean, hard, youtube, tiktok)
size = (720, 1280)  # (w, h) of rendered frames: a portrait 720p video frame
# (w, h) of a second rendered set, scored with the shipped cascade only: the most common photo size on Threads and
# Instagram (4:5), where windows cover more of the scene and the near-source copy is shrunk; () = none
photo_size = (1080, 1350)
threads = 1
out = str(ARTIFACT_DIR / "media_metrics.json")
card = str(ARTIFACT_DIR / "card.md")  # its production-path section is replaced; "" leaves the card alone
# -----------------------------------------------------------------------------
CARD_SECTION = "## Held-out images on the production path"

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = ("STIXGeneralBol.ttf", "cmss10.ttf", "STIXGeneral.ttf")  # never used by training (DejaVu only)
RED = (255, 0, 0)


def held_out_photos() -> list[np.ndarray]:
    return D.load_photos(D.TEST_PHOTOS)


def background(rng, photos, w: int, h: int) -> np.ndarray:
    photo = photos[rng.integers(len(photos))]
    ph, pw = photo.shape[:2]
    ch = int(min(ph, pw * h / w) * rng.uniform(0.5, 1.0))
    cw = int(ch * w / h)
    y, x = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
    img = cv2.resize(photo[y: y + ch, x: x + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return np.clip(img * rng.uniform(0.7, 1.15) + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def text_layer(rng, lines: list[tuple[str, int]], logo: np.ndarray | None, color) -> np.ndarray:
    """RGBA layer: an optional logo (RGBA) left of the first line, further lines below, shadowed text."""
    fnt = [ImageFont.truetype(str(FONT_DIR / FONTS[rng.integers(len(FONTS))]), s) for _, s in lines]
    lw = max(int(f.getlength(t)) for (t, _), f in zip(lines, fnt))
    lh = sum(int(s * 1.3) for _, s in lines)
    ox = logo.shape[1] + 8 if logo is not None else 0
    img = Image.new("RGBA", (ox + lw + 12, max(lh, logo.shape[0] if logo is not None else 0) + 12), (0, 0, 0, 0))
    if logo is not None:
        img.alpha_composite(Image.fromarray(logo), (0, 0))
    d, y = ImageDraw.Draw(img), 2
    for (t, s), f in zip(lines, fnt):
        x = ox if y == 2 else 2
        d.text((x + 1, y + 1), t, font=f, fill=(0, 0, 0, 140))
        d.text((x, y), t, font=f, fill=color)
        y += int(s * 1.3)
    return np.asarray(img)


def play_logo(h: int, shorts: bool, color=RED) -> np.ndarray:
    """YouTube's red rounded rectangle (or a Shorts-like tilted red shape) with a white triangle."""
    w = int(h * (1.0 if shorts else 1.4))
    img = np.zeros((h, w, 4), np.uint8)
    r = h // 4
    col = (*color, 255)
    if shorts:
        pts = np.array([[w * 0.25, 0], [w, h * 0.25], [w * 0.75, h], [0, h * 0.75]], np.int32)
        cv2.fillPoly(img, [pts], col)
    else:
        cv2.rectangle(img, (r, 0), (w - r, h - 1), col, -1)
        cv2.rectangle(img, (0, r), (w - 1, h - r), col, -1)
        for cx, cy in ((r, r), (w - r, r), (r, h - r), (w - r, h - r)):
            cv2.circle(img, (cx, cy), r, col, -1)
    t = h * 0.22
    tri = np.array([[w / 2 - t * 0.8, h / 2 - t], [w / 2 - t * 0.8, h / 2 + t], [w / 2 + t, h / 2]], np.int32)
    cv2.fillPoly(img, [tri], (255, 255, 255, 255))
    return img


def note_logo(h: int) -> np.ndarray:
    """TikTok's note drawn with OpenCV strokes, cyan and red offsets under white."""
    img = np.zeros((h, h, 4), np.uint8)
    s = max(2, h // 8)
    for d, col in ((-s // 2, (37, 244, 238, 255)), (s // 2, (254, 44, 85, 255)), (0, (255, 255, 255, 255))):
        cv2.circle(img, (int(h * 0.35) + d, int(h * 0.7) + d), int(h * 0.2), col, s)
        cv2.line(img, (int(h * 0.55) + d, int(h * 0.7) + d), (int(h * 0.55) + d, int(h * 0.1) + d), col, s)
        cv2.ellipse(img, (int(h * 0.75) + d, int(h * 0.1) + d), (int(h * 0.2), int(h * 0.15)), 0, 90, 180, col, s)
    return img


def handle(rng) -> str:
    return "@" + "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz_.0123456789"), int(rng.integers(5, 14))))


def mark(rng, kind: str) -> np.ndarray:
    white = (255, 255, 255, 255)
    if kind == "youtube":
        shorts = rng.random() < 0.5
        lines = [("Shorts" if shorts else "YouTube", 64)] + ([(handle(rng), 40)] if rng.random() < 0.8 else [])
        color = white if rng.random() < 0.75 else (30, 30, 30, 255)
        return text_layer(rng, lines, play_logo(64, shorts), color)
    return text_layer(rng, [("TikTok", 56), (handle(rng), 36)], note_logo(70), white)


def hard_layer(rng, w: int, h: int) -> np.ndarray:
    """A look-alike that is not a platform mark, as an RGBA layer the size of the frame."""
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    choice = rng.integers(4)
    words = "so happy with how this turned out wait for the end best recipe ever day one of my trip".split()
    if choice == 0:  # burned-in caption
        fnt = ImageFont.truetype(str(FONT_DIR / FONTS[rng.integers(len(FONTS))]), int(h * 0.035))
        ImageDraw.Draw(layer).text((w * 0.08, h * rng.uniform(0.6, 0.85)), " ".join(rng.choice(words, 6)), font=fnt,
                                   fill=(255, 255, 255, 255), stroke_width=3, stroke_fill=(0, 0, 0, 255))
    elif choice == 1:  # a bare @handle where a mark would sit
        patch = text_layer(rng, [(handle(rng), 40)], None, (255, 255, 255, 255))
        layer.alpha_composite(Image.fromarray(patch), (int(w * 0.04), int(h * rng.choice([0.05, 0.9]))))
    elif choice == 2:  # a red play shape that is not YouTube's (circle or square, no word)
        s = int(w * rng.uniform(0.08, 0.2))
        logo = np.zeros((s, s, 4), np.uint8)
        if rng.random() < 0.5:
            cv2.circle(logo, (s // 2, s // 2), s // 2 - 1, (220, 20, 30, 255), -1)
        else:
            cv2.rectangle(logo, (0, 0), (s - 1, s - 1), (220, 20, 30, 255), -1)
        t = s * 0.22
        cv2.fillPoly(logo, [np.array([[s / 2 - t, s / 2 - t], [s / 2 - t, s / 2 + t], [s / 2 + t, s / 2]], np.int32)], (255, 255, 255, 255))
        layer.alpha_composite(Image.fromarray(logo), (int(rng.integers(0, w - s)), int(rng.integers(0, h - s))))
    else:  # text-heavy frame
        fnt = ImageFont.truetype(str(FONT_DIR / FONTS[rng.integers(len(FONTS))]), int(h * 0.03))
        d = ImageDraw.Draw(layer)
        for i in range(int(rng.integers(5, 12))):
            d.text((w * 0.06, h * (0.1 + i * 0.06)), " ".join(rng.choice(words, 5)), font=fnt, fill=(255, 255, 255, 255))
    return np.asarray(layer)


def blend(frame: np.ndarray, layer: np.ndarray, x: int, y: int, opacity: float) -> None:
    lh, lw = layer.shape[:2]
    lh, lw = min(lh, frame.shape[0] - y), min(lw, frame.shape[1] - x)
    a = layer[:lh, :lw, 3:4].astype(np.float32) / 255 * opacity
    region = frame[y: y + lh, x: x + lw].astype(np.float32)
    frame[y: y + lh, x: x + lw] = (region * (1 - a) + layer[:lh, :lw, :3] * a).round().astype(np.uint8)


def rendered(rng, photos, kind: str, frame_size: tuple[int, int]) -> tuple[np.ndarray, float, tuple | None]:
    """(RGB frame of frame_size (w, h), mark width as a fraction of the frame width (0 for negatives), mark box
    (x, y, w, h) or None)."""
    w, h = frame_size
    frame = background(rng, photos, w, h)
    if kind == "hard":
        blend(frame, hard_layer(rng, w, h), 0, 0, 1.0)
        return frame, 0.0, None
    if kind == "clean":
        return frame, 0.0, None
    frac = rng.uniform(0.04, 0.2) if kind == "youtube" else rng.uniform(0.1, 0.25)
    m = mark(rng, kind)
    mw = max(8, int(frac * w))
    m = cv2.resize(m, (mw, max(4, int(m.shape[0] * mw / m.shape[1]))), interpolation=cv2.INTER_AREA)
    x = int(rng.choice([w * 0.03, w - mw - w * 0.03, rng.uniform(0, w - mw)]))
    y = int(rng.choice([h * 0.04, h * 0.45, h * 0.9 - m.shape[0], rng.uniform(0, h - m.shape[0])]))
    x, y = max(0, x), max(0, y)
    blend(frame, m, x, y, rng.uniform(0.6, 1.0))
    return frame, frac, (x / w, y / h, m.shape[1] / w, m.shape[0] / h)


def build(tmp: Path, frame_size: tuple[int, int] | None = None) -> list[dict]:
    """Write every held-out image to `tmp`, rendered ones at frame_size (w, h; default `size`); returns
    [{path, label, kind, width, box}]."""
    rng = np.random.default_rng(seed)
    items = []

    def write(rgb: np.ndarray, label: str, kind: str, width: float = 0.0, box=None) -> None:
        p = tmp / f"{len(items):05d}.jpg"
        cv2.imwrite(str(p), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(80, 96))])
        items.append({"path": p, "label": label, "kind": kind, "width": round(width, 3), "box": box})

    videos = D.read_real(Path(data_dir))
    _, test_ids = D.split_videos(list(videos), n_test_videos, 1337)
    for vid in test_ids:
        for rgb, box, _ in videos[vid]:
            write(rgb, "tiktok", "real_endcard" if box is None else "real_corner", box[2] if box else 0.0, box)
            if box is not None:
                neg = D.crop_away_from_box(rng, rgb, box)
                if neg is not None and min(neg.shape[:2]) >= 64:
                    write(neg, "none", "real_negative")
    photos = held_out_photos()
    for kind, label in (("clean", "none"), ("hard", "none"), ("youtube", "youtube"), ("tiktok", "tiktok")):
        for _ in range(n_per_kind):
            rgb, frac, box = rendered(rng, photos, kind, tuple(frame_size or size))
            write(rgb, label, f"rendered_{kind}", frac, box)
    return items


def score(detector, items) -> tuple[list, float]:
    t0 = time.perf_counter()
    sampled = [sample_frames(it["path"], "image", size=detector.input_size) for it in items]
    scores = []
    for i in range(0, len(sampled), 16):
        scores += detector.score_media_batch(sampled[i: i + 16])
    return scores, (time.perf_counter() - t0) / max(1, len(items))


def scored(detector, items) -> dict:
    """`summarise` of `detector`'s scores on `items`, with its time per image and the OCR passes it spent."""
    calls0 = detector.verifier.calls if detector.verifier else 0
    scores, sec = score(detector, items)
    return summarise(items, scores) | {"ms_per_image": round(sec * 1e3, 1),
                                       "ocr_calls": (detector.verifier.calls - calls0) if detector.verifier else 0}


def summarise(items, scores) -> dict:
    y_any = np.array([it["label"] != "none" for it in items])
    p = np.array([s.probability for s in scores])
    neg = p[~y_any]
    out = {}
    for fpr in (0.005, 0.01):
        thr = float(np.quantile(neg, 1 - fpr, method="higher")) if len(neg) else 1.0
        out[f"threshold_at_{fpr:.1%}_fpr"] = round(thr, 4)
        for plat in ("tiktok", "youtube"):
            pos = p[[it["label"] == plat for it in items]]
            out[f"{plat}_recall_at_{fpr:.1%}_fpr"] = round(float((pos > thr).mean()), 4)
        # the frame target: real TikTok frames (corner marks and end cards) against every negative
        real = p[[it["kind"] in ("real_corner", "real_endcard") for it in items]]
        out[f"real_tiktok_recall_at_{fpr:.1%}_fpr"] = round(float((real > thr).mean()), 4)
    for thr in (0.5, 0.95):
        out[f"negatives_flagged_at_{thr}"] = round(float((neg >= thr).mean()), 4)
        for kind in sorted({it["kind"] for it in items}):
            sel = np.array([it["kind"] == kind for it in items])
            out.setdefault(f"flagged_at_{thr}", {})[kind] = round(float((p[sel] >= thr).mean()), 4)
    yt = [(it["width"], s.probability) for it, s in zip(items, scores) if it["label"] == "youtube"]
    bins = ((0.04, 0.07), (0.07, 0.11), (0.11, 0.15), (0.15, 0.21))
    out["youtube_flagged_at_0.5_by_width"] = {f"{a:.2f}-{b:.2f}": round(float(np.mean([q >= 0.5 for w, q in yt if a <= w < b])), 4)
                                              for a, b in bins if any(a <= w < b for w, _ in yt)}
    wrong_platform = sum(1 for it, s in zip(items, scores) if it["label"] != "none" and s.platform not in ("none", it["label"]))
    out["wrong_platform"] = wrong_platform
    return out


def main() -> None:
    apply_overrides(globals(), sys.argv[1:])
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    cnn = load(artifact, num_threads=threads, ocr=False, crops=False)
    ocr_cascade = load(artifact, num_threads=threads, crops=False)
    shipped = load(artifact, num_threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        items = build(Path(tmp))
        counts = {k: sum(it["kind"] == k for it in items) for k in sorted({it["kind"] for it in items})}
        print(f"{len(items)} held-out images: {counts}", flush=True)
        results = {}
        variants = [("cnn_only", cnn), ("cnn_ocr", ocr_cascade)]
        if shipped.crop_net:
            variants += [("cnn_crop_ocr_no_anchors", load(artifact, num_threads=threads, anchors=False)), ("cnn_crop_ocr", shipped)]
        for name, det in variants:
            results[name] = scored(det, items)
            print(name, json.dumps(results[name]), flush=True)
    record = {"images": len(items), "by_kind": counts, "render_fonts": FONTS, "size": size, "seed": seed,
              "note": "production path: JPEG files -> sample_frames -> score_media_batch; thresholds on all negatives",
              "results": results}
    if photo_size:
        with tempfile.TemporaryDirectory() as tmp:
            record["photo_size"] = {"size": list(photo_size), **scored(shipped, build(Path(tmp), tuple(photo_size)))}
            print("photo_size", json.dumps(record["photo_size"]), flush=True)
    Path(out).write_text(json.dumps(record, indent=2) + "\n")
    if card and Path(card).is_file():
        write_card_section(Path(card), record)


def write_card_section(path: Path, record: dict) -> None:
    """Replace (or append) the production-path section of card.md with this run's table."""
    r = record["results"]
    rows = [
        ("real TikTok frames (corner + end card) recall at 0.5 % FPR", "real_tiktok_recall_at_0.5%_fpr"),
        ("real + rendered TikTok recall at 0.5 % FPR", "tiktok_recall_at_0.5%_fpr"),
        ("YouTube recall at 1 % FPR", "youtube_recall_at_1.0%_fpr"),
        ("negatives flagged at 0.5", "negatives_flagged_at_0.5"),
        ("negatives flagged at 0.95", "negatives_flagged_at_0.95"),
        ("ms per image (sample + score, 1 thread)", "ms_per_image"),
        ("OCR passes", "ocr_calls"),
    ]
    names = list(r)
    lines = [CARD_SECTION, "",
             f"`python -m training.watermark.evaluate_media` ({record['images']} JPEG files: {record['by_kind']}).",
             "Real frames: the held-out source videos at their own resolution; rendered: an independent renderer",
             f"(OpenCV shapes, fonts {', '.join(record['render_fonts'])}) on held-out photos at {record['size'][0]}x{record['size'][1]}.",
             "Each file goes through `sample_frames` and `score_media_batch` as in the service. Columns: CNN only;",
             "frame CNN + OCR of near-source crops; frame CNN + crop classifier + OCR without the anchor windows (the previous",
             "behaviour); the same with them (shipped).", "",
             "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(str(r[n][key]) for n in names) + " |" for label, key in rows]
    for thr in (0.5, 0.95):
        kinds = sorted(r[names[-1]][f"flagged_at_{thr}"])
        lines += ["", f"Flagged at {thr} by kind:", "", "| kind | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        lines += [f"| {k} | " + " | ".join(str(r[n][f"flagged_at_{thr}"][k]) for n in names) + " |" for k in kinds]
    lines += ["", "YouTube flagged at 0.5 by mark width (shipped cascade): " + json.dumps(r[names[-1]]["youtube_flagged_at_0.5_by_width"]), ""]
    if "photo_size" in record:
        ps = record["photo_size"]
        lines += [f"The same seed rendered at {ps['size'][0]}x{ps['size'][1]} (4:5, the common photo size; the real frames as above),",
                  "shipped cascade:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {label} | {ps[key]} |" for label, key in rows]
        lines += [f"| flagged at 0.5, {k} | {v} |" for k, v in sorted(ps["flagged_at_0.5"].items())] + [""]
    text = path.read_text()
    head = text.split(CARD_SECTION)[0].rstrip() + "\n\n"
    tail = text.split(CARD_SECTION, 1)[1] if CARD_SECTION in text else ""
    rest = tail[tail.find("\n## "):] if "\n## " in tail else ""
    path.write_text(head + "\n".join(lines) + rest.rstrip() + "\n")


if __name__ == "__main__":
    main()
