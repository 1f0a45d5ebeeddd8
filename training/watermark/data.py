"""Build the watermark training and held-out sets as uint8 arrays at the detector input size.

Two sources:
- real TikTok frames (../shared/data/tiktok-frames, path given by --data_dir): boxed corner
  marks and end cards, plus crops away from the box as genuine footage without a mark;
- rendered clips: real photographs from installed packages (skimage, sklearn, matplotlib)
  with moving crops and camera noise, a rendered mark or look-alike overlay, then a real
  H.264 encode/decode through PyAV at one of several CRFs so codec artefacts are real.
Everything is split by source: real frames by video id, photographs and fonts by name.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from . import render as R

CLASSES = ("none", "tiktok", "youtube")
VIDEO_ID_CHARS = 32  # the first 32 characters of a frame file name identify its source video
FRAME_SIZES = ((360, 640), (540, 960), (720, 1280), (720, 720), (640, 360), (480, 480))  # (w, h)
SIZE_WEIGHTS = (0.3, 0.25, 0.1, 0.15, 0.1, 0.1)
CRFS = (18, 23, 28, 33, 38)


def _site() -> Path:
    import skimage
    return Path(skimage.__file__).parent.parent


PHOTO_FILES = {  # name -> path relative to site-packages
    "astronaut": "skimage/data/astronaut.png", "brick": "skimage/data/brick.png", "camera": "skimage/data/camera.png",
    "chelsea": "skimage/data/chelsea.png", "coffee": "skimage/data/coffee.png", "coins": "skimage/data/coins.png",
    "color": "skimage/data/color.png", "grass": "skimage/data/grass.png", "gravel": "skimage/data/gravel.png",
    "hubble": "skimage/data/hubble_deep_field.jpg", "ihc": "skimage/data/ihc.png", "moon": "skimage/data/moon.png",
    "motorcycle_left": "skimage/data/motorcycle_left.png", "motorcycle_right": "skimage/data/motorcycle_right.png",
    "page": "skimage/data/page.png", "retina": "skimage/data/retina.jpg", "rocket": "skimage/data/rocket.jpg",
    "text": "skimage/data/text.png", "cell": "skimage/data/cell.png",
    "china": "sklearn/datasets/images/china.jpg", "flower": "sklearn/datasets/images/flower.jpg",
    "grace_hopper": "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
}
TEST_PHOTOS = ("rocket", "coffee", "china", "grace_hopper", "motorcycle_left", "motorcycle_right", "grass")


@dataclass
class Split:
    """One data split: frames (N, H, W, 3) uint8, labels (N,), boxes (N, 4) relative xywh (nan = no box)."""

    frames: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    meta: list = field(default_factory=list)

    def add(self, frame: np.ndarray, label: int, box, **meta) -> None:
        self.frames.append(frame)
        self.labels.append(label)
        self.boxes.append(np.full(4, np.nan, np.float32) if box is None else np.asarray(box, np.float32))
        self.meta.append(meta)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.stack(self.frames), np.asarray(self.labels, np.int64), np.stack(self.boxes)


def load_photos(names) -> list[np.ndarray]:
    out = []
    for name in names:
        img = cv2.imread(str(_site() / PHOTO_FILES[name]), cv2.IMREAD_COLOR)
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return out


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (h, w) with area averaging, as the service's frame sampler does."""
    return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def h264_roundtrip(frames: list[np.ndarray], crf: int, fps: int = 30) -> list[np.ndarray]:
    """Encode RGB frames with libx264 at `crf` and decode them again (real codec artefacts)."""
    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "veryfast", "threads": "1"})
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        for f in frames:
            for pkt in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[: h - h % 2, : w - w % 2]), format="rgb24")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    buf.seek(0)
    with av.open(buf) as inp:
        return [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]


def moving_background(rng: np.random.Generator, photo: np.ndarray, w: int, h: int, n: int) -> list[np.ndarray]:
    """A crop of a photograph that pans and zooms over `n` frames, with camera noise."""
    ph, pw = photo.shape[:2]
    aspect = w / h
    ch = int(min(ph, pw / aspect) * rng.uniform(0.45, 1.0))
    cw = int(ch * aspect)
    x0, y0 = rng.integers(0, pw - cw + 1), rng.integers(0, ph - ch + 1)
    x1, y1 = rng.integers(0, pw - cw + 1), rng.integers(0, ph - ch + 1)
    noise, gain = rng.uniform(0, 6), rng.uniform(0.7, 1.2)
    frames = []
    for i in range(n):
        t = i / max(1, n - 1) * rng.uniform(0.1, 0.5)  # a slow pan: a fraction of the way per clip
        x, y = int(x0 + (x1 - x0) * t), int(y0 + (y1 - y0) * t)
        crop = cv2.resize(photo[y: y + ch, x: x + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        crop = crop * gain + rng.normal(0, noise, crop.shape)
        frames.append(np.clip(crop, 0, 255).astype(np.uint8))
    return frames


def mark_position(rng: np.random.Generator, w: int, h: int, mw: int, mh: int, slot: str) -> tuple[int, int]:
    m = int(w * rng.uniform(0.01, 0.05))
    xs = {"left": m, "right": w - mw - m, "any": int(rng.uniform(0, max(1, w - mw)))}
    ys = {"top": int(h * rng.uniform(0.01, 0.12)), "mid": int(h * rng.uniform(0.35, 0.6) - mh / 2),
          "bottom": int(h * rng.uniform(0.82, 0.97) - mh), "any": int(rng.uniform(0, max(1, h - mh)))}
    vert, horiz = slot.split("-")
    return xs[horiz], max(0, ys[vert])


def synth_clip(rng: np.random.Generator, kind: str, photos: list[np.ndarray], fonts, out_size, n: int = 4,
               yt_min: float = 0.05) -> list[tuple]:
    """One rendered clip -> [(frame at out_size, label, box or None, meta)] after an H.264 round trip."""
    w, h = FRAME_SIZES[rng.choice(len(FRAME_SIZES), p=SIZE_WEIGHTS)]
    frames = moving_background(rng, photos[rng.integers(len(photos))], w, h, n)
    font = fonts[rng.integers(len(fonts))]
    labels, boxes, scale = [0] * n, [None] * n, 0.0
    if kind in ("tiktok", "youtube"):
        frac = rng.uniform(0.08, 0.28) if kind == "tiktok" else rng.uniform(yt_min, 0.2)
        scale = frac  # mark width relative to frame width
        mark = R.resize_mark(R.tiktok_mark(rng, font) if kind == "tiktok" else R.youtube_mark(rng, font), int(frac * w))
        slots = ["top-left", "mid-left", "bottom-right", "any-any"] if kind == "tiktok" else \
            ["top-left", "top-right", "bottom-left", "bottom-right", "mid-left", "any-any"]
        slot_a, slot_b = rng.choice(slots), rng.choice(slots)
        jump = rng.integers(1, n + 1)  # TikTok's mark jumps position once in a while
        pos_a = mark_position(rng, w, h, mark.shape[1], mark.shape[0], slot_a)
        pos_b = mark_position(rng, w, h, mark.shape[1], mark.shape[0], slot_b)
        opacity = rng.uniform(0.55, 1.0)
        for i, f in enumerate(frames):
            x, y = pos_a if (kind == "youtube" or i < jump) else pos_b
            boxes[i] = R.composite(f, mark, x, y, opacity)
            labels[i] = CLASSES.index(kind)
    elif kind == "endcard":
        card = R.tiktok_end_card(rng, w, h, font)
        for i, f in enumerate(frames):
            alpha = 1.0 if i > 0 or rng.random() < 0.7 else rng.uniform(0.7, 1.0)  # fade-in on the first frame
            R.composite(f, card, 0, 0, alpha)
            labels[i] = CLASSES.index("tiktok")
    # look-alike overlays: the whole point of hard negatives; also on some positives so co-occurrence is no cue
    n_hard = {"hard": int(rng.integers(1, 4)), "clean": int(rng.random() < 0.3)}.get(kind, int(rng.random() < 0.3))
    hard_kinds = []
    for _ in range(n_hard):
        layer, hk = R.hard_negative(rng, font, w, h)
        hard_kinds.append(hk)
        for f in frames:
            R.composite(f, layer, 0, 0)
    crf = int(rng.choice(CRFS))
    decoded = h264_roundtrip(frames, crf)
    meta = dict(source="render", kind=kind, scale=round(scale, 3), crf=crf, hard=",".join(hard_kinds), font=font)
    return [(resize(f, out_size), labels[i], boxes[i], meta) for i, f in enumerate(decoded)]


def read_real(data_dir: Path) -> dict[str, list[tuple[np.ndarray, tuple | None, str]]]:
    """Real TikTok frames grouped by source video: [(rgb, yolo box as xywh or None = end card, name)].

    Raises FileNotFoundError when `data_dir` holds no frames: training without the real data must not
    pass unnoticed (a relative data_dir once resolved to nothing in a worker process)."""
    videos: dict[str, list] = {}
    data_dir = Path(data_dir)
    images = sorted((data_dir / "images").glob("*.jpg"))
    if not images:
        raise FileNotFoundError(f"no real TikTok frames in {data_dir.resolve()}/images; pass --data_dir=.../shared/data/tiktok-frames")
    for img_path in images:
        label = (data_dir / "labels" / (img_path.stem + ".txt")).read_text().split()
        box = None
        if label:
            cx, cy, bw, bh = map(float, label[1:5])
            box = (cx - bw / 2, cy - bh / 2, bw, bh)
        rgb = cv2.cvtColor(cv2.imread(str(img_path)), cv2.COLOR_BGR2RGB)
        videos.setdefault(img_path.name[:VIDEO_ID_CHARS], []).append((rgb, box, img_path.stem))
    return videos


def split_videos(video_ids, n_test: int, seed: int) -> tuple[list[str], list[str]]:
    ids = sorted(video_ids)
    perm = np.random.default_rng(seed).permutation(len(ids))
    test = sorted(ids[i] for i in perm[:n_test])
    return [v for v in ids if v not in test], test


def crop_keeping_box(rng, img, box, min_scale: float):
    """Random crop that keeps the whole box; returns the crop and the box in crop coordinates."""
    h, w = img.shape[:2]
    cw, ch = int(w * rng.uniform(min_scale, 1)), int(h * rng.uniform(min_scale, 1))
    bx0, by0 = (int(box[0] * w), int(box[1] * h)) if box else (w, h)
    bx1, by1 = (int((box[0] + box[2]) * w), int((box[1] + box[3]) * h)) if box else (0, 0)
    if box:
        cw, ch = max(cw, bx1 - bx0), max(ch, by1 - by0)
    x_lo, x_hi = (max(0, bx1 - cw), min(bx0, w - cw)) if box else (0, w - cw)
    y_lo, y_hi = (max(0, by1 - ch), min(by0, h - ch)) if box else (0, h - ch)
    x, y = int(rng.integers(x_lo, max(x_lo, x_hi) + 1)), int(rng.integers(y_lo, max(y_lo, y_hi) + 1))
    crop = img[y: y + ch, x: x + cw]
    if box is None:
        return crop, None
    nb = ((bx0 - x) / cw, (by0 - y) / ch, (bx1 - bx0) / cw, (by1 - by0) / ch)
    return crop, tuple(float(np.clip(v, 0, 1)) for v in nb)


def crop_away_from_box(rng, img, box, margin: float = 0.03):
    """A window of real footage that does not touch the mark (a genuine mark-free negative)."""
    h, w = img.shape[:2]
    x0, y0, bw, bh = box
    regions = [(0, 0, 1, y0 - margin), (0, y0 + bh + margin, 1, 1 - y0 - bh - margin),
               (0, 0, x0 - margin, 1), (x0 + bw + margin, 0, 1 - x0 - bw - margin, 1)]
    rx, ry, rw, rh = max(regions, key=lambda r: max(r[2], 0) * max(r[3], 0))
    if rw * rh < 0.2:
        return None
    cw, ch = rw * rng.uniform(0.6, 1), rh * rng.uniform(0.6, 1)
    cx, cy = rx + rng.uniform(0, rw - cw), ry + rng.uniform(0, rh - ch)
    return img[int(cy * h): int((cy + ch) * h), int(cx * w): int((cx + cw) * w)]


def jpeg(rng, img, lo: int = 35, hi: int = 95) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(lo, hi))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def add_real(split: Split, rng, videos: dict, ids, out_size, n_aug: int, n_neg: int, augment: bool) -> None:
    for vid in ids:
        for rgb, box, name in videos[vid]:
            for _ in range(n_aug):
                img, b = (crop_keeping_box(rng, rgb, box, 0.7) if augment else (rgb, box))
                img = jpeg(rng, img) if augment else img
                split.add(resize(img, out_size), 1, b, source="real", kind="endcard" if box is None else "tiktok", video=vid, name=name)
            for _ in range(n_neg if box is not None else 0):
                crop = crop_away_from_box(rng, rgb, box)
                if crop is not None and min(crop.shape[:2]) >= 32:
                    split.add(resize(crop, out_size), 0, None, source="real", kind="real_negative", video=vid, name=name)


def build(data_dir: Path, out_size=(256, 256), n_clips: int = 1500, n_test_clips: int = 400, n_test_videos: int = 6,
          seed: int = 1337, log=print) -> tuple[Split, Split, list[str]]:
    """Returns (train, test, test video ids). Test = held-out videos, photos and fonts."""
    rng = np.random.default_rng(seed)
    videos = read_real(data_dir)
    train_ids, test_ids = split_videos(videos, n_test_videos, seed)
    train, test = Split(), Split()
    add_real(train, rng, videos, train_ids, out_size, n_aug=5, n_neg=3, augment=True)
    add_real(test, rng, videos, test_ids, out_size, n_aug=1, n_neg=2, augment=False)
    log(f"real: train {len(train.labels)} frames from {len(train_ids)} videos, test {len(test.labels)} from {len(test_ids)}")
    kinds, kind_p = ("tiktok", "endcard", "youtube", "clean", "hard"), (0.18, 0.07, 0.3, 0.15, 0.3)
    train_photos = load_photos([p for p in PHOTO_FILES if p not in TEST_PHOTOS])
    test_photos = load_photos(TEST_PHOTOS)
    # training marks start at 5 % of frame width (smaller ones are a few pixels at 256 px input);
    # the held-out set goes down to 4 % so the report shows where recall falls off
    for split, photos, fonts, n, yt_min in ((train, train_photos, R.TRAIN_FONTS, n_clips, 0.05),
                                            (test, test_photos, R.TEST_FONTS, n_test_clips, 0.04)):
        for i in range(n):
            for frame, label, box, meta in synth_clip(rng, rng.choice(kinds, p=kind_p), photos, fonts, out_size, yt_min=yt_min):
                split.add(frame, label, box, **meta, video=f"clip{i}")
            if (i + 1) % 250 == 0:
                log(f"rendered {i + 1}/{n} clips")
    return train, test, test_ids
