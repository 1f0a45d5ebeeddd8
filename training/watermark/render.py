"""Renderers for platform marks, end cards and hard negatives (training data only).

Everything is drawn from primitives with PIL so no platform artwork is copied: a
TikTok-style note logo with cyan/red offsets, "TikTok" and an @handle; the TikTok end
card; YouTube / YouTube Shorts play-button marks with "YouTube"/"Shorts" and an @handle;
and look-alikes that must NOT count (captions, subtitles, a bare @name, other logos,
red play shapes that are not YouTube, app UI, text-heavy frames).
Each mark is returned as an RGBA array; `composite` pastes it and returns its box.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TRAIN_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Bold.ttf")
TEST_FONTS = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSerifCondensed-Bold.ttf")  # never seen in training
WORDS = ("the best day ever wait for it so good omg look at this my new recipe morning routine "
         "try this trick you need to see part two follow for more love it watch until the end "
         "summer vibes game night how to cook tutorial live news sale today new video top ten").split()
CYAN, RED_TT, YT_RED = (37, 244, 238), (254, 44, 85), (255, 0, 0)


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), max(6, int(size)))


def handle(rng: np.random.Generator) -> str:
    chars = string.ascii_lowercase + string.digits + "._"
    return "@" + "".join(rng.choice(list(chars), size=int(rng.integers(5, 16))))


def sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, size=n))


def _canvas(w: int, h: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGBA", (int(w), int(h)), (0, 0, 0, 0))
    return img, ImageDraw.Draw(img)


def _crop_alpha(img: Image.Image) -> np.ndarray:
    arr = np.asarray(img)
    ys, xs = np.nonzero(arr[..., 3] > 0)
    if len(xs) == 0:
        return arr
    return arr[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def note_logo(size: int, main=(255, 255, 255)) -> Image.Image:
    """A music-note glyph with the cyan/red chromatic offset TikTok's logo is known for."""
    img, draw = _canvas(size * 1.3, size * 1.3)
    off = max(1, size // 18)

    def note(dx: int, dy: int, color) -> None:
        s, t = size, max(2, size // 6)
        cx, cy, r = s * 0.38 + dx, s * 0.88 + dy, s * 0.26
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=color, width=t)
        x0 = cx + r - t
        draw.rectangle([x0, s * 0.12 + dy, x0 + t, cy], fill=color)
        draw.arc([x0, s * 0.0 + dy, x0 + s * 0.55, s * 0.5 + dy], 180, 270, fill=color, width=t)
        draw.rectangle([x0, s * 0.12 + dy, x0 + s * 0.3, s * 0.12 + t + dy], fill=color)

    note(off * 2 - off, off, CYAN + (255,))
    note(off * 2 + off, off * 3, RED_TT + (255,))
    note(off * 2, off * 2, tuple(main) + (255,))
    return img


def _text(draw, xy, text, fnt, fill=(255, 255, 255, 255), shadow=True) -> None:
    if shadow:
        draw.text((xy[0] + 1, xy[1] + 1), text, font=fnt, fill=(0, 0, 0, 140))
    draw.text(xy, text, font=fnt, fill=fill)


def tiktok_mark(rng: np.random.Generator, font_name: str) -> np.ndarray:
    """Corner mark: note logo, "TikTok", "@handle"; stacked or logo-beside-word layouts."""
    fs = 48
    word_f, handle_f = font(font_name, fs), font(font_name, int(fs * rng.uniform(0.55, 0.75)))
    img, draw = _canvas(fs * 14, fs * 5)
    logo = note_logo(int(fs * rng.uniform(0.9, 1.4)))
    if rng.random() < 0.5:  # stacked: logo above the word, handle under
        img.alpha_composite(logo, (int(fs * 0.3), 0))
        _text(draw, (0, logo.height), "TikTok", word_f)
        _text(draw, (0, logo.height + fs * 1.15), handle(rng), handle_f)
    else:  # logo left of the word, handle under both
        img.alpha_composite(logo, (0, 0))
        _text(draw, (logo.width, logo.height * 0.25), "TikTok", word_f)
        _text(draw, (int(fs * 0.2), logo.height + 2), handle(rng), handle_f)
    return _crop_alpha(img)


def tiktok_end_card(rng: np.random.Generator, w: int, h: int, font_name: str) -> np.ndarray:
    """The card TikTok appends to downloads: dark screen, big logo, word, search bar with handle."""
    bg = rng.integers(0, 30)
    img = Image.new("RGBA", (w, h), (int(bg), int(bg), int(bg + rng.integers(0, 12)), 255))
    draw = ImageDraw.Draw(img)
    s = int(w * rng.uniform(0.12, 0.22))
    logo = note_logo(s)
    cy = int(h * rng.uniform(0.28, 0.4))
    img.alpha_composite(logo, (w // 2 - logo.width // 2, cy - logo.height // 2))
    f = font(font_name, s * 0.55)
    tw = draw.textlength("TikTok", font=f)
    _text(draw, (w / 2 - tw / 2, cy + logo.height * 0.55), "TikTok", f, shadow=False)
    bw, bh = w * rng.uniform(0.55, 0.8), s * 0.5
    by = h * rng.uniform(0.55, 0.68)
    x0, x1 = w / 2 - bw / 2, w / 2 + bw / 2
    for dx, col in ((-2, CYAN), (2, RED_TT), (0, (255, 255, 255))):
        draw.rounded_rectangle([x0 + dx, by + dx, x1 + dx, by + bh + dx], radius=bh * 0.2, outline=col + (255,), width=3)
    draw.rounded_rectangle([x0 + 3, by + 3, x1 - 3, by + bh - 3], radius=bh * 0.2, fill=(int(bg) + 5,) * 3 + (255,))
    r = bh * 0.2
    draw.ellipse([x0 + bh * 0.3, by + bh * 0.3, x0 + bh * 0.3 + 2 * r, by + bh * 0.3 + 2 * r], outline="white", width=2)
    _text(draw, (x0 + bh * 1.0, by + bh * 0.22), handle(rng), font(font_name, bh * 0.45), shadow=False)
    small = note_logo(int(bh * 0.6))
    img.alpha_composite(small, (int(x1 - bh * 0.9), int(by + bh * 0.15)))
    return np.asarray(img)


def play_button(h: int, color=YT_RED, ratio: float = 1.42, radius: float = 0.28, glyph: str = "triangle") -> Image.Image:
    w = int(h * ratio)
    img, draw = _canvas(w, h)
    draw.rounded_rectangle([0, 0, w - 1, h - 1], radius=h * radius, fill=tuple(color) + (255,))
    cx, cy, t = w / 2, h / 2, h * 0.22
    if glyph == "triangle":
        draw.polygon([(cx - t * 0.8, cy - t), (cx - t * 0.8, cy + t), (cx + t, cy)], fill="white")
    elif glyph == "pause":
        draw.rectangle([cx - t, cy - t, cx - t * 0.3, cy + t], fill="white")
        draw.rectangle([cx + t * 0.3, cy - t, cx + t, cy + t], fill="white")
    elif glyph == "square":
        draw.rectangle([cx - t, cy - t, cx + t, cy + t], fill="white")
    return img


def shorts_logo(h: int) -> Image.Image:
    """Two tilted red pills forming an S, with the white play triangle in the middle."""
    img, draw = _canvas(h * 0.9, h * 1.1)
    w = h * 0.9
    for y0 in (0.05, 0.45):
        pill, pd = _canvas(w, h * 0.5)
        pd.rounded_rectangle([0, 0, w * 0.9, h * 0.42], radius=h * 0.2, fill=YT_RED + (255,))
        pill = pill.rotate(28 if y0 < 0.3 else 28, expand=False)
        img.alpha_composite(pill, (int(w * (0.08 if y0 < 0.3 else 0.0)), int(h * y0)))
    cx, cy, t = w * 0.47, h * 0.52, h * 0.15
    draw = ImageDraw.Draw(img)
    draw.polygon([(cx - t * 0.8, cy - t), (cx - t * 0.8, cy + t), (cx + t, cy)], fill="white")
    return img


def youtube_mark(rng: np.random.Generator, font_name: str) -> np.ndarray:
    """YouTube or YouTube Shorts mark as downloaded Shorts carry it: logo, word, optional @handle."""
    fs = 48
    img, draw = _canvas(fs * 16, fs * 5)
    shorts = rng.random() < 0.45
    logo = shorts_logo(int(fs * 1.2)) if shorts else play_button(int(fs * rng.uniform(0.9, 1.2)))
    word = "Shorts" if shorts else "YouTube"
    txt_col = (255, 255, 255, 255) if rng.random() < 0.75 else (33, 33, 33, 255)
    img.alpha_composite(logo, (0, 0))
    wf = font(font_name, fs * rng.uniform(0.8, 1.05))
    _text(draw, (logo.width + fs * 0.15, logo.height * 0.5 - fs * 0.55), word, wf, fill=txt_col, shadow=txt_col[0] > 128)
    if rng.random() < 0.8:
        _text(draw, (fs * 0.1, logo.height + fs * 0.2), handle(rng), font(font_name, fs * rng.uniform(0.55, 0.8)))
    return _crop_alpha(img)


def hard_negative(rng: np.random.Generator, font_name: str, w: int, h: int) -> tuple[np.ndarray, str]:
    """A look-alike overlay that is not platform branding, as a full-frame RGBA layer."""
    kind = rng.choice(["caption", "subtitle", "at_name", "other_logo", "red_play", "ui", "text_heavy"])
    img, draw = _canvas(w, h)
    fs = w * rng.uniform(0.035, 0.07)
    f = font(font_name, fs)
    if kind == "caption":
        for i in range(int(rng.integers(1, 4))):
            line = sentence(rng, int(rng.integers(2, 6)))
            tw = draw.textlength(line, font=f)
            y = h * rng.uniform(0.15, 0.75) if i == 0 else y + fs * 1.3  # noqa: F821 - set on first line
            draw.text((max(0, w / 2 - tw / 2), y), line, font=f, fill=tuple(int(c) for c in rng.integers(150, 256, 3)) + (255,),
                      stroke_width=max(1, int(fs / 10)), stroke_fill=(0, 0, 0, 255))
    elif kind == "subtitle":
        line = sentence(rng, int(rng.integers(3, 7)))
        tw, y = draw.textlength(line, font=f), h * rng.uniform(0.7, 0.9)
        draw.rectangle([w / 2 - tw / 2 - 6, y - 4, w / 2 + tw / 2 + 6, y + fs * 1.3], fill=(0, 0, 0, int(rng.integers(120, 220))))
        draw.text((w / 2 - tw / 2, y), line, font=f, fill="white")
    elif kind == "at_name":  # a bare handle, exactly where TikTok puts its mark, but without a logo
        x, y = rng.choice([0.03, 0.6]) * w, rng.choice([0.05, 0.45, 0.9]) * h
        _text(draw, (x, y), handle(rng), font(font_name, w * rng.uniform(0.025, 0.05)))
        if rng.random() < 0.5:
            _text(draw, (x, y - fs * 1.2), sentence(rng, 1).capitalize(), f)
    elif kind == "other_logo":
        s = w * rng.uniform(0.06, 0.16)
        x, y = rng.uniform(0.02, 0.8) * w, rng.uniform(0.02, 0.9) * h
        col = tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,)
        shape = [x, y, x + s, y + s]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(shape, fill=col)
        letters = "".join(rng.choice(list(string.ascii_uppercase), size=int(rng.integers(1, 4))))
        draw.text((x + s * 0.15, y + s * 0.25), letters, font=font(font_name, s * 0.4), fill="white")
        if rng.random() < 0.6:
            _text(draw, (x + s * 1.1, y + s * 0.2), rng.choice(["NEWS", "LIVE", "Studio", "Sports", "TV", "Media", "Vlog"]), font(font_name, s * 0.45))
    elif kind == "red_play":  # red play shapes that are not YouTube's mark
        s = int(w * rng.uniform(0.05, 0.15))
        variant = rng.integers(0, 4)
        if variant == 0:
            btn, _ = _canvas(s, s)
            ImageDraw.Draw(btn).ellipse([0, 0, s - 1, s - 1], fill=YT_RED + (255,))
            t = s * 0.22
            ImageDraw.Draw(btn).polygon([(s / 2 - t * 0.7, s / 2 - t), (s / 2 - t * 0.7, s / 2 + t), (s / 2 + t, s / 2)], fill="white")
        elif variant == 1:
            btn = play_button(s, glyph=rng.choice(["pause", "square"]))
        elif variant == 2:
            btn = play_button(s, color=tuple(int(c) for c in rng.choice([(255, 140, 0), (200, 0, 200), (0, 120, 255), (0, 160, 60)])))
        else:  # red badge with a word that is not YouTube
            btn = play_button(s, ratio=2.2, radius=0.15, glyph="none")
            ImageDraw.Draw(btn).text((s * 0.3, s * 0.2), rng.choice(["LIVE", "PLAY", "NEW", "HOT"]), font=font(font_name, s * 0.5), fill="white")
        img.alpha_composite(btn, (int(rng.uniform(0.02, 0.85) * w), int(rng.uniform(0.02, 0.9) * h)))
    elif kind == "ui":  # app UI: a column of icons with counts, a progress bar
        x = w * rng.uniform(0.82, 0.9)
        for i in range(4):
            y = h * (0.45 + i * 0.1)
            draw.ellipse([x, y, x + w * 0.08, y + w * 0.08], fill=(255, 255, 255, 200) if i else (250, 50, 80, 230))
            draw.text((x, y + w * 0.09), f"{int(rng.integers(1, 999))}K", font=font(font_name, w * 0.03), fill="white")
        draw.rectangle([0, h * 0.985, w * rng.uniform(0.1, 1), h], fill=(255, 255, 255, 230))
    else:  # text-heavy: a screenshot of a note or meme
        draw.rectangle([0, 0, w, h], fill=tuple(int(c) for c in rng.integers(0, 256, 3)) + (int(rng.integers(180, 256)),))
        col = (255, 255, 255, 255) if rng.random() < 0.5 else (0, 0, 0, 255)
        for i in range(int(rng.integers(4, 14))):
            draw.text((w * 0.05, h * 0.05 + i * fs * 1.5), sentence(rng, int(rng.integers(2, 6))), font=f, fill=col)
    return np.asarray(img), str(kind)


def composite(frame: np.ndarray, mark: np.ndarray, x: int, y: int, opacity: float = 1.0) -> tuple[float, float, float, float]:
    """Alpha-blend an RGBA mark onto an RGB frame in place; returns its relative (x, y, w, h) box."""
    fh, fw = frame.shape[:2]
    mh, mw = mark.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(fw, x + mw), min(fh, y + mh)
    if x1 <= x0 or y1 <= y0:
        return (0.0, 0.0, 0.0, 0.0)
    m = mark[y0 - y: y1 - y, x0 - x: x1 - x].astype(np.float32)
    a = m[..., 3:4] / 255.0 * opacity
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (region * (1 - a) + m[..., :3] * a).round().astype(np.uint8)
    return (x0 / fw, y0 / fh, (x1 - x0) / fw, (y1 - y0) / fh)


def resize_mark(mark: np.ndarray, width_px: int) -> np.ndarray:
    img = Image.fromarray(mark)
    h = max(2, int(round(mark.shape[0] * width_px / mark.shape[1])))
    return np.asarray(img.resize((max(2, int(width_px)), h), Image.LANCZOS))


# --- extra variants for on-the-fly training data (training/watermark/synth.py) ---------------
# An independent renderer draws YouTube / Shorts marks its own way; training on several layouts
# and colourings keeps the net from learning one drawing. Downloaded Shorts carry a small Shorts
# logo (often plain white and semi-transparent) with the channel @handle beside or under it.
def shorts_logo_mono(h: int, color=(255, 255, 255)) -> Image.Image:
    """A one-colour Shorts glyph: the S of two tilted pills with the play triangle cut out."""
    logo = np.asarray(shorts_logo(h)).copy()
    a = logo[..., 3]
    white = (logo[..., 0] > 200) & (logo[..., 1] > 200)  # the play triangle
    logo[..., :3] = color
    logo[..., 3] = np.where(white, 0, a)
    return Image.fromarray(logo)


def play_button_mono(h: int, color=(255, 255, 255)) -> Image.Image:
    """A one-colour play button with the triangle cut out (transparent)."""
    img = play_button(h, color=color, glyph="none")
    w, cx, cy, t = img.width, img.width / 2, h / 2, h * 0.22
    ImageDraw.Draw(img).polygon([(cx - t * 0.8, cy - t), (cx - t * 0.8, cy + t), (cx + t, cy)], fill=(0, 0, 0, 0))
    return img


def youtube_mark_variant(rng: np.random.Generator, font_name: str) -> np.ndarray:
    """YouTube / Shorts marks in layouts beyond `youtube_mark`: mono white logos, handle beside
    the logo, "YouTube Shorts" word marks, logo-only with a handle, dark text."""
    fs = 48
    img, draw = _canvas(fs * 20, fs * 6)
    style = rng.choice(["mono_handle", "red_handle", "word_stack", "play_word_handle", "shorts_word", "logo_under"])
    white = (255, 255, 255, 255)
    txt = white if rng.random() < 0.8 else (30, 30, 30, 255)
    lh = int(fs * rng.uniform(0.9, 1.4))
    if style in ("mono_handle", "red_handle", "logo_under"):
        logo = shorts_logo_mono(lh) if style != "red_handle" else shorts_logo(lh)
        if rng.random() < 0.3 and style != "red_handle":
            logo = play_button_mono(lh)
        img.alpha_composite(logo, (0, 0))
        hf = font(font_name, fs * rng.uniform(0.6, 0.95))
        if style == "logo_under":
            _text(draw, (0, logo.height + fs * 0.1), handle(rng), hf, fill=txt)
        else:
            _text(draw, (logo.width + fs * 0.2, logo.height * 0.5 - fs * 0.45), handle(rng), hf, fill=txt)
    elif style == "word_stack":
        logo = shorts_logo(lh) if rng.random() < 0.5 else play_button(lh)
        img.alpha_composite(logo, (0, 0))
        wf = font(font_name, fs * 0.8)
        _text(draw, (logo.width + fs * 0.15, logo.height * 0.1), "YouTube", wf, fill=txt)
        _text(draw, (logo.width + fs * 0.15, logo.height * 0.1 + fs * 0.95), "Shorts", wf, fill=txt)
    elif style == "play_word_handle":
        logo = play_button(lh) if rng.random() < 0.8 else play_button_mono(lh)
        img.alpha_composite(logo, (0, 0))
        _text(draw, (logo.width + fs * 0.15, logo.height * 0.5 - fs * 0.55), "YouTube", font(font_name, fs), fill=txt)
        _text(draw, (logo.width + fs * 0.15, logo.height + fs * 0.05), handle(rng), font(font_name, fs * 0.6), fill=txt)
    else:  # shorts_word: logo + "YouTube Shorts" on one line, handle under
        logo = shorts_logo(lh)
        img.alpha_composite(logo, (0, 0))
        _text(draw, (logo.width + fs * 0.15, logo.height * 0.5 - fs * 0.55), "YouTube Shorts", font(font_name, fs * 0.9), fill=txt)
        if rng.random() < 0.6:
            _text(draw, (fs * 0.1, logo.height + fs * 0.15), handle(rng), font(font_name, fs * 0.6), fill=txt)
    return _crop_alpha(img)


def tiktok_mark_variant(rng: np.random.Generator, font_name: str) -> np.ndarray:
    """TikTok corner marks beyond `tiktok_mark`: logo and word on one line with the handle under,
    different logo/word ratios, no shadow (semi-transparent marks come from the opacity)."""
    fs = 48
    img, draw = _canvas(fs * 14, fs * 5)
    logo = note_logo(int(fs * rng.uniform(0.8, 1.6)))
    word_f = font(font_name, fs * rng.uniform(0.8, 1.2))
    shadow = rng.random() < 0.5
    img.alpha_composite(logo, (0, 0))
    wy = logo.height * rng.uniform(0.1, 0.4)
    _text(draw, (logo.width * 0.9, wy), "TikTok", word_f, shadow=shadow)
    if rng.random() < 0.9:
        x = int(fs * 0.2) if rng.random() < 0.6 else int(logo.width * 0.9)
        _text(draw, (x, max(logo.height, wy + word_f.size * 1.2) + 2), handle(rng), font(font_name, fs * rng.uniform(0.5, 0.8)), shadow=shadow)
    return _crop_alpha(img)
