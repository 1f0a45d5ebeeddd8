"""On-the-fly training frames at the detector's input size: many backgrounds, marks and look-alikes.

The rendered H.264 clips (data.py) carry real codec artefacts but only ~15 photographs as
backgrounds, which a CNN memorises: anything unfamiliar then looks like a mark. Here every
sample is new: a random crop (scale, aspect, flip, rotation, colour) of a training photograph
or of real TikTok footage away from its mark, a procedural scene (gradients, noise textures,
shapes, text, dark screens), or a mosaic of those; then an alpha-blended mark at a random
opacity, size and position (TikTok, YouTube / Shorts in several drawings, end cards) or none,
look-alike overlays, blur / resampling, and a JPEG round trip as the codec stand-in. Optionally,
cut-out photographs of everyday objects (`stamps`, backgrounds.py) are pasted into the scene first.

Marks and overlays are drawn once into pools at full-frame scale and squashed to the input
size exactly as a W x H frame would be, so their geometry matches what the service samples.
Everything uses training photographs and fonts only (held-out ones stay held out).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import data as D
from . import render as R

TIKTOK, YOUTUBE = D.CLASSES.index("tiktok"), D.CLASSES.index("youtube")
SLOTS_TT = ("top-left", "mid-left", "bottom-right", "top-right", "bottom-left", "any-any")
SLOTS_TT_P = (0.3, 0.2, 0.25, 0.05, 0.05, 0.15)
SLOTS_YT = ("top-left", "top-right", "bottom-left", "bottom-right", "mid-left", "mid-right", "any-any")


def _premult_resize(rgba: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize an RGBA layer without dark fringes (premultiplied alpha); returns float32 RGBA, alpha in [0, 1]."""
    a = rgba[..., 3:4].astype(np.float32) / 255
    pm = np.concatenate([rgba[..., :3].astype(np.float32) * a, a], axis=2)
    interp = cv2.INTER_AREA if w < rgba.shape[1] else cv2.INTER_LINEAR
    out = cv2.resize(pm, (max(1, w), max(1, h)), interpolation=interp)
    if out.ndim == 2:
        out = out[..., None]
    rgb = out[..., :3] / np.maximum(out[..., 3:4], 1e-4)
    return np.concatenate([rgb, out[..., 3:4]], axis=2)


def _blend(img: np.ndarray, layer: np.ndarray, x: int, y: int, opacity: float) -> tuple[float, float, float, float]:
    """Blend a float RGBA layer onto a float RGB image in place; returns the relative box (clipped)."""
    H, W = img.shape[:2]
    h, w = layer.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return (0.0, 0.0, 0.0, 0.0)
    part = layer[y0 - y: y1 - y, x0 - x: x1 - x]
    a = part[..., 3:4] * opacity
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + part[..., :3] * a
    return (x0 / W, y0 / H, (x1 - x0) / W, (y1 - y0) / H)


def _tight(layer: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(x, y, layer cropped to where its alpha is non-zero) so blending touches only those pixels."""
    ys, xs = np.nonzero(layer[..., 3] > 1e-3)
    if len(xs) == 0:
        return 0, 0, layer[:1, :1].astype(np.float32)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return int(x0), int(y0), np.ascontiguousarray(layer[y0:y1, x0:x1], dtype=np.float32)


class Synth:
    """Args: photos / footage: lists of RGB uint8 images to crop backgrounds from (training sources only);
    fonts: training font names; out_size: (H, W) of the network input; seed: pools are drawn from it."""

    def __init__(self, photos: list[np.ndarray], footage: list[np.ndarray], fonts, out_size, seed: int,
                 n_marks: int = 240, n_overlays: int = 400, n_cards: int = 40, min_opacity: float = 0.3,
                 yt_min_width: float = 0.04, mono_min_width: float = 0.0, yt_random_frac: float = 0.0,
                 n_red_negatives: int = 0, hue_p: float = 0.0, class_p=(0.45, 0.25, 0.25, 0.05),
                 stamps: list[np.ndarray] | None = None, stamp_p: float = 0.0) -> None:
        rng = np.random.default_rng(seed)
        # mark opacity starts at min_opacity; YouTube marks at yt_min_width of the frame width; marks
        # without any red (a plain white Shorts logo + handle) at mono_min_width, since small they look
        # like the bare @handles that are negatives. yt_random_frac of the YouTube pool is drawn by
        # R.youtube_mark_random (random logo shape, layout and glyphs), the rest by the fixed drawings;
        # n_red_negatives red UI shapes join the look-alike pool; hue_p: share of backgrounds whose hue is
        # rotated (see _jitter); class_p: none, tiktok, youtube, end card; stamp_p: share of frames that get
        # 1-3 of the RGBA object cut-outs `stamps` (backgrounds.load_stamps) pasted in (`_objects`)
        self.hue_p = hue_p
        self.stamps, self.stamp_p = list(stamps or []), stamp_p
        self.min_opacity, self.yt_min_width, self.mono_min_width = min_opacity, yt_min_width, mono_min_width
        self.class_p = tuple(class_p)
        self.photos, self.footage, self.fonts, self.out_size = photos, footage, list(fonts), tuple(out_size)
        font = lambda: self.fonts[rng.integers(len(self.fonts))]  # noqa: E731
        self.tt_marks = [(R.tiktok_mark if i % 2 else R.tiktok_mark_variant)(rng, font()) for i in range(n_marks)]
        n_random = int(round(n_marks * yt_random_frac))
        self.yt_marks = [(R.youtube_mark if i % 3 == 0 else R.youtube_mark_variant)(rng, font()) for i in range(n_marks - n_random)]
        self.yt_marks += [R.youtube_mark_random(rng, font()) for _ in range(n_random)]
        self.yt_mono = [bool(((m[..., 0].astype(int) - m[..., 1]) * (m[..., 3] > 128) < 80).all()) for m in self.yt_marks]
        H, W = self.out_size
        self.overlays = []  # full-frame look-alike layers squashed to the input size
        for _ in range(n_overlays):
            w, h = D.FRAME_SIZES[rng.choice(len(D.FRAME_SIZES), p=D.SIZE_WEIGHTS)]
            layer, kind = R.hard_negative(rng, font(), w, h)
            self.overlays.append(_tight(_premult_resize(layer, W, H)))
        for _ in range(n_red_negatives):
            w, h = D.FRAME_SIZES[rng.choice(len(D.FRAME_SIZES), p=D.SIZE_WEIGHTS)]
            self.overlays.append(_tight(_premult_resize(R.red_shape_negative(rng, w, h), W, H)))
        self.cards = []
        for _ in range(n_cards):
            w, h = D.FRAME_SIZES[rng.choice(len(D.FRAME_SIZES), p=D.SIZE_WEIGHTS)]
            self.cards.append(_tight(_premult_resize(R.tiktok_end_card(rng, w, h, font()), W, H)))

    # --- backgrounds -----------------------------------------------------------------------
    def _crop(self, rng, src: np.ndarray) -> np.ndarray:
        H, W = self.out_size
        sh, sw = src.shape[:2]
        aspect = float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))  # crop w / h before squashing
        ch = int(min(sh, sw / aspect) * rng.uniform(0.12, 1.0))
        cw = max(8, min(sw, int(ch * aspect)))
        ch = max(8, ch)
        y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
        out = cv2.resize(src[y: y + ch, x: x + cw], (W, H), interpolation=cv2.INTER_AREA if cw > W else cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        if rng.random() < 0.15:
            out = cv2.resize(np.rot90(out).copy(), (W, H))
        return out.astype(np.float32)

    def _procedural(self, rng) -> np.ndarray:
        H, W = self.out_size
        kind = rng.integers(0, 5)
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) / max(H, W)
        if kind == 0:  # gradient
            c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
            t = np.clip(xx * rng.uniform(-1.5, 1.5) + yy * rng.uniform(-1.5, 1.5) + rng.uniform(-0.5, 0.5), 0, 1)[..., None]
            img = c0 * (1 - t) + c1 * t
        elif kind == 1:  # smooth noise texture
            s = int(rng.integers(2, 24))
            small = rng.uniform(0, 255, (s, s, 3)).astype(np.float32)
            img = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
            img = img + rng.normal(0, rng.uniform(0, 25), img.shape)
        elif kind == 2:  # random shapes on a flat or gradient field
            img = np.empty((H, W, 3), np.uint8)
            img[:] = rng.integers(0, 256, 3)
            for _ in range(int(rng.integers(3, 25))):
                col = tuple(float(c) for c in rng.uniform(0, 255, 3))
                p = rng.integers(0, max(H, W), 4)
                r = rng.integers(0, 4)
                if r == 0:
                    cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), col, -1)
                elif r == 1:
                    cv2.circle(img, (int(p[0]), int(p[1])), int(p[2] // 4 + 2), col, -1)
                elif r == 2:
                    cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), col, int(rng.integers(1, 8)))
                else:
                    cv2.ellipse(img, (int(p[0]), int(p[1])), (int(p[2] // 3 + 2), int(p[3] // 5 + 2)), float(rng.uniform(0, 180)), 0, 360, col, -1)
        elif kind == 3:  # dark screen (like an end card without the card) with some UI text
            img = np.empty((H, W, 3), np.uint8)
            img[:] = rng.integers(0, 40, 3)
            for _ in range(int(rng.integers(0, 4))):
                cv2.putText(img, R.sentence(rng, int(rng.integers(1, 4))), (int(rng.integers(0, W // 2)), int(rng.integers(20, H))),
                            int(rng.integers(0, 8)), float(rng.uniform(0.3, 0.9)), tuple(float(c) for c in rng.uniform(120, 255, 3)), 1, cv2.LINE_AA)
        else:  # stripes / checker textures
            f = rng.uniform(3, 40)
            ang = rng.uniform(0, np.pi)
            t = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * f * 6.28)
            if rng.random() < 0.5:
                t = np.sign(t) * np.sign(np.sin((xx * -np.sin(ang) + yy * np.cos(ang)) * f * 6.28))
            c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
            img = c0 + (c1 - c0) * ((t[..., None] + 1) / 2)
        return np.clip(img, 0, 255).astype(np.float32)

    def _jitter(self, rng, img: np.ndarray) -> np.ndarray:
        """Colour jitter on uint8 through per-channel lookup tables (cheap): saturation, white
        balance, contrast, brightness, gamma, sometimes a channel swap or a hue rotation."""
        img = np.clip(img, 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            img = np.ascontiguousarray(img[..., rng.permutation(3)])
        if self.hue_p and rng.random() < self.hue_p:  # draws nothing when off: the shipped model's stream
            # natural objects in every hue: the top false alarms on clean photos were red things with
            # white highlights (a saucer, a motorbike), which the few training photos barely show
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(rng.integers(0, 180))) % 180).astype(np.uint8)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        sat = float(rng.uniform(0.3, 1.5))
        gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        img = cv2.addWeighted(img, sat, gray, 1 - sat, 0)
        v = np.arange(256, dtype=np.float32)
        gain = rng.uniform(0.6, 1.3, 3) * rng.uniform(0.7, 1.2)
        bias = rng.uniform(-30, 30)
        g = rng.uniform(0.6, 1.6) if rng.random() < 0.4 else 1.0
        lut = np.stack([255 * (np.clip(v * gain[c] + bias, 0, 255) / 255) ** g for c in range(3)], axis=1)
        return cv2.LUT(img, np.clip(lut, 0, 255).astype(np.uint8).reshape(256, 1, 3)).astype(np.float32)

    def background(self, rng) -> np.ndarray:
        H, W = self.out_size
        r = rng.random()
        if r < 0.35:
            img = self._crop(rng, self.photos[rng.integers(len(self.photos))])
        elif r < 0.65 and self.footage:
            img = self._crop(rng, self.footage[rng.integers(len(self.footage))])
        elif r < 0.85:
            img = self._procedural(rng)
        else:  # mosaic / split screen of two or four sources
            a, b = self.background_simple(rng), self.background_simple(rng)
            img = a.copy()
            if rng.random() < 0.5:
                cut = int(rng.integers(H // 5, 4 * H // 5))
                img[cut:] = b[cut:]
            else:
                cut = int(rng.integers(W // 5, 4 * W // 5))
                img[:, cut:] = b[:, cut:]
            if rng.random() < 0.4:  # picture in picture
                c = self.background_simple(rng)
                ph, pw = int(H * rng.uniform(0.2, 0.5)), int(W * rng.uniform(0.2, 0.5))
                py, px = int(rng.integers(0, H - ph)), int(rng.integers(0, W - pw))
                img[py: py + ph, px: px + pw] = cv2.resize(c, (pw, ph), interpolation=cv2.INTER_AREA)
        return self._jitter(rng, img)

    def background_simple(self, rng) -> np.ndarray:
        r = rng.random()
        if r < 0.4:
            return self._crop(rng, self.photos[rng.integers(len(self.photos))])
        if r < 0.8 and self.footage:
            return self._crop(rng, self.footage[rng.integers(len(self.footage))])
        return self._procedural(rng)

    def _objects(self, rng, img: np.ndarray) -> None:
        """Paste 1-3 object cut-outs (fruit, animals, road signs, flags, letters) into `img` in place, each 4-50 %
        of the frame width, squashed as a frame of a random aspect would be: red, round and lettered things that
        are not marks, in front of any background and under the marks (so they are no cue for "none")."""
        H, W = img.shape[:2]
        fw, fh = D.FRAME_SIZES[rng.choice(len(D.FRAME_SIZES), p=D.SIZE_WEIGHTS)]
        for _ in range(int(rng.integers(1, 4))):
            obj = self.stamps[rng.integers(len(self.stamps))]
            frac = float(np.exp(rng.uniform(np.log(0.04), np.log(0.5))))
            ow = max(3, int(round(frac * W)))
            oh = max(3, int(round(obj.shape[0] / obj.shape[1] * frac * fw / fh * H)))
            layer = _premult_resize(obj, ow, min(oh, H))
            x, y = int(rng.integers(-ow // 4, W - ow // 2)), int(rng.integers(-oh // 4, max(1, H - oh // 2)))
            _blend(img, layer, x, y, float(rng.uniform(0.8, 1.0)))

    # --- marks -----------------------------------------------------------------------------
    def _mark(self, rng, img: np.ndarray, label: int) -> tuple[float, float, float, float]:
        H, W = img.shape[:2]
        fw, fh = D.FRAME_SIZES[rng.choice(len(D.FRAME_SIZES), p=D.SIZE_WEIGHTS)]  # the frame this came from
        pool = self.tt_marks if label == TIKTOK else self.yt_marks
        k = rng.integers(len(pool))
        mark = pool[k]
        frac = rng.uniform(0.07, 0.28) if label == TIKTOK else float(np.exp(rng.uniform(np.log(self.yt_min_width), np.log(0.22))))
        flat = rng.random() < 0.15  # a mark drawn in one flat colour (white / grey) at any opacity
        if label == YOUTUBE and (self.yt_mono[k] or flat):
            frac = max(frac, self.mono_min_width)
        mw = max(3, int(round(frac * W)))
        mh = max(3, int(round(mark.shape[0] / mark.shape[1] * frac * fw / fh * H)))
        layer = _premult_resize(mark, mw, mh)
        if flat:
            layer[..., :3] = rng.uniform(180, 255)
        slot = str(rng.choice(SLOTS_TT, p=SLOTS_TT_P) if label == TIKTOK else rng.choice(SLOTS_YT))
        x, y = D.mark_position(rng, W, H, mw, mh, slot)
        x, y = min(max(0, x), W - mw), min(max(0, y), H - mh)
        opacity = float(rng.choice([rng.uniform(self.min_opacity, 0.7), rng.uniform(0.7, 1.0), 1.0], p=[0.3, 0.4, 0.3]))
        return _blend(img, layer, x, y, opacity)

    def sample(self, rng, label: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
        """One frame: (uint8 (H, W, 3), class, box relative xywh or nan)."""
        if label is None:
            label = int(rng.choice(4, p=self.class_p))  # none, tiktok, youtube, end card
        img = self.background(rng)
        if self.stamp_p and self.stamps and rng.random() < self.stamp_p:  # draws nothing when off: older runs' stream
            self._objects(rng, img)
        box = np.full(4, np.nan, np.float32)
        n_over = int(rng.integers(1, 4)) if (label == 0 and rng.random() < 0.5) else int(rng.random() < 0.3)
        for _ in range(n_over):  # look-alikes, also under marks so co-occurrence is no cue
            ox, oy, layer = self.overlays[rng.integers(len(self.overlays))]
            _blend(img, layer, ox, oy, float(rng.uniform(0.7, 1.0)))
        if label == 3:
            ox, oy, layer = self.cards[rng.integers(len(self.cards))]
            _blend(img, layer, ox, oy, float(rng.uniform(0.75, 1.0)))
            label = TIKTOK
        elif label in (TIKTOK, YOUTUBE):
            box = np.asarray(self._mark(rng, img, label), np.float32)
        # degradations: blur, low-resolution source, sensor noise, JPEG as the codec stand-in
        if rng.random() < 0.2:
            img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.2)))
        if rng.random() < 0.2:
            H, W = img.shape[:2]
            s = rng.uniform(0.5, 0.85)
            img = cv2.resize(cv2.resize(img, (int(W * s), int(H * s)), interpolation=cv2.INTER_AREA), (W, H), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.3:
            img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1, 6))
        out = np.clip(img, 0, 255).astype(np.uint8)
        if rng.random() < 0.8:
            out = D.jpeg(rng, out, 30, 95)
        return out, label, box

    def batch(self, rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        items = [self.sample(rng) for _ in range(n)]
        return np.stack([i[0] for i in items]), np.array([i[1] for i in items], np.int64), np.stack([i[2] for i in items])


def footage_crops(videos: dict, ids, rng, per_frame: int = 1) -> list[np.ndarray]:
    """Real TikTok footage away from the mark (training videos only): backgrounds without any mark."""
    out = []
    for vid in ids:
        for rgb, box, _ in videos[vid]:
            if box is None:
                continue
            for _ in range(per_frame):
                crop = D.crop_away_from_box(rng, rgb, box)
                if crop is not None and min(crop.shape[:2]) >= 48:
                    out.append(np.ascontiguousarray(crop))
    return out
