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

import cv2
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


def _play_triangle(cx: float, cy: float, t: float) -> list[tuple[float, float]]:
    """The play glyph of YouTube-style logos: a right-pointing triangle of half-height t centred near (cx, cy)."""
    return [(cx - t * 0.8, cy - t), (cx - t * 0.8, cy + t), (cx + t, cy)]


def play_button(h: int, color=YT_RED, ratio: float = 1.42, radius: float = 0.28, glyph: str = "triangle") -> Image.Image:
    w = int(h * ratio)
    img, draw = _canvas(w, h)
    draw.rounded_rectangle([0, 0, w - 1, h - 1], radius=h * radius, fill=tuple(color) + (255,))
    cx, cy, t = w / 2, h / 2, h * 0.22
    if glyph == "triangle":
        draw.polygon(_play_triangle(cx, cy, t), fill="white")
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
    draw.polygon(_play_triangle(cx, cy, t), fill="white")
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
    ImageDraw.Draw(img).polygon(_play_triangle(cx, cy, t), fill=(0, 0, 0, 0))
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


# --- procedural YouTube / Shorts marks with randomised geometry and glyphs (synth.py) -----------
# The fixed drawings above teach one logo shape, one text/logo ratio and DejaVu glyphs; a renderer
# the net never saw (or a real download) draws the logo and text its own way. Here every parameter
# is drawn: logo shape (rounded rectangle of any ratio and corner radius, the two-pill S, a tilted
# rounded square, a skewed quad), red hue, triangle size, word and handle sizes relative to the
# logo, layout, text colour, shadow or outline, and the glyphs: DejaVu styles (training faces plus
# obliques / light / serif book, never the held-out condensed faces) or OpenCV's Hershey stroke fonts.
YT_TEXT_FONTS = TRAIN_FONTS + ("DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf",
                               "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "DejaVuSans-ExtraLight.ttf")
HERSHEY_FACES = (0, 1, 2, 3, 4, 6, 7)  # cv2.FONT_HERSHEY_* (5 = script simplex reads poorly even large)


def _text_any(img: Image.Image, xy, text: str, size: float, face, fill, effect: str) -> float:
    """Draw `text` at `xy` (top-left) with a DejaVu file name or a Hershey face (int) at about `size`
    pixels cap-to-descender; effect: "shadow", "outline" or "none". Returns the drawn width."""
    x, y = int(xy[0]), int(xy[1])
    if isinstance(face, str):
        fnt = font(face, size)
        draw = ImageDraw.Draw(img)
        if effect == "shadow":
            draw.text((x + max(1, size // 24), y + max(1, size // 24)), text, font=fnt, fill=(0, 0, 0, 140))
        kw = {"stroke_width": max(1, int(size / 14)), "stroke_fill": (0, 0, 0, 200)} if effect == "outline" else {}
        draw.text((x, y), text, font=fnt, fill=fill, **kw)
        return draw.textlength(text, font=fnt)
    # Hershey stroke fonts (OpenCV): a glyph style no TrueType face above has
    scale = cv2.getFontScaleFromHeight(face, max(4, int(size * 0.75)), 1)
    thick = max(1, int(round(size / 14)))
    (tw, th), base = cv2.getTextSize(text, face, scale, thick)
    pad = thick + 3
    mask = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(mask, text, (pad, pad + th), face, scale, 255, thick, cv2.LINE_AA)
    def paste(m: np.ndarray, colour, dx: int, dy: int) -> None:
        layer = Image.new("RGBA", (m.shape[1], m.shape[0]), tuple(colour[:3]) + (0,))
        layer.putalpha(Image.fromarray((m.astype(np.float32) * colour[3] / 255).astype(np.uint8)))
        img.alpha_composite(layer, (max(0, x + dx), max(0, y + dy)))
    if effect == "outline":
        paste(cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=max(1, thick // 2)), (0, 0, 0, 200), 0, 0)
    elif effect == "shadow":
        paste(mask, (0, 0, 0, 140), 1, 1)
    paste(mask, fill, 0, 0)
    return float(tw)


def youtube_logo_random(rng: np.random.Generator, h: int, mono: bool = False) -> Image.Image:
    """A YouTube / Shorts logo of random shape and red (or one colour with the triangle cut out, `mono`)."""
    red = (int(rng.integers(205, 256)), int(rng.integers(0, 40)), int(rng.integers(0, 45)))
    if not mono:
        col = red
    elif rng.random() < 0.85:
        col = (255, 255, 255)
    else:
        col = (int(rng.integers(180, 256)),) * 3  # light grey
    shape = rng.choice(["rect", "pills", "tilted", "skew"], p=[0.45, 0.2, 0.2, 0.15])
    if shape == "pills":
        return shorts_logo_mono(h, col) if mono else shorts_logo(h)
    w = int(h * (rng.uniform(1.15, 1.65) if shape == "rect" else 1.0))
    img, draw = _canvas(w * 1.5, h * 1.5)
    ox, oy = w * 0.25, h * 0.25
    if shape == "rect":
        draw.rounded_rectangle([ox, oy, ox + w - 1, oy + h - 1], radius=h * rng.uniform(0.12, 0.45), fill=col + (255,))
    elif shape == "tilted":  # one rounded square turned by 20-45 degrees (a Shorts-like "S" block)
        sq, sd = _canvas(w, h)
        sd.rounded_rectangle([0, 0, w - 1, h - 1], radius=h * rng.uniform(0.15, 0.4), fill=col + (255,))
        sq = sq.rotate(float(rng.uniform(20, 45)) * rng.choice([-1, 1]), expand=True, resample=Image.BICUBIC)
        img, draw = _canvas(sq.width, sq.height)
        img.alpha_composite(sq)
        w, h, ox, oy = sq.width, sq.height, 0, 0
    else:  # skewed quad (parallelogram / rhombus-like)
        k = rng.uniform(0.15, 0.35)
        pts = [(ox + w * k, oy), (ox + w, oy + h * k), (ox + w * (1 - k), oy + h), (ox, oy + h * (1 - k))]
        draw.polygon(pts, fill=col + (255,))
    cx, cy, t = ox + w / 2, oy + h / 2, h * rng.uniform(0.15, 0.26)
    draw.polygon(_play_triangle(cx, cy, t), fill=(0, 0, 0, 0) if mono else (255, 255, 255, 255))
    return Image.fromarray(_crop_alpha(img))


def youtube_mark_random(rng: np.random.Generator, font_name: str, mono: bool | None = None) -> np.ndarray:
    """A YouTube / Shorts mark with every drawing parameter random (see the section comment);
    `mono` (None = 20 % of marks): a one-colour logo. Always carries a word or an @handle."""
    mono = bool(rng.random() < 0.2) if mono is None else mono
    lh = int(48 * rng.uniform(0.8, 1.5))
    logo = youtube_logo_random(rng, lh, mono)
    face = YT_TEXT_FONTS[rng.integers(len(YT_TEXT_FONTS))] if rng.random() < 0.75 else int(rng.choice(HERSHEY_FACES))
    if rng.random() < 0.4:  # the mark's own font, as the other drawings use
        face = font_name
    r = rng.random()  # text colour: white, light grey or dark
    if r < 0.65:
        fill = (255, 255, 255, 255)
    elif r < 0.75:
        fill = (int(rng.integers(190, 240)),) * 3 + (255,)
    else:
        fill = (int(rng.integers(10, 70)),) * 3 + (255,)
    effect = str(rng.choice(["shadow", "outline", "none"], p=[0.45, 0.15, 0.4])) if fill[0] > 128 else "none"
    word = str(rng.choice(["YouTube", "Shorts", "YouTube Shorts", ""], p=[0.4, 0.3, 0.15, 0.15]))
    ws = logo.height * rng.uniform(0.55, 1.15)  # word size relative to the logo
    hs = ws * rng.uniform(0.5, 0.9)  # handle size relative to the word
    layout = str(rng.choice(["beside_under", "beside", "stack_beside", "under_logo"]))
    if not word:
        layout = "handle_beside" if rng.random() < 0.6 else "under_logo"
    img, _ = _canvas(lh * 24, lh * 6)
    img.alpha_composite(logo, (0, 0))
    gap = logo.width + lh * rng.uniform(0.08, 0.35)
    if layout == "beside":  # logo + word on one line, no handle
        _text_any(img, (gap, logo.height / 2 - ws * 0.6), word, ws, face, fill, effect)
    elif layout == "beside_under":  # logo + word, handle under the whole mark
        _text_any(img, (gap, logo.height / 2 - ws * 0.6), word, ws, face, fill, effect)
        _text_any(img, (lh * rng.uniform(0, 0.3), logo.height + lh * rng.uniform(0.05, 0.4)), handle(rng), hs, face, fill, effect)
    elif layout == "stack_beside":  # word above handle, both right of the logo
        _text_any(img, (gap, 0), word, ws, face, fill, effect)
        _text_any(img, (gap, ws * 1.15), handle(rng), hs, face, fill, effect)
    elif layout == "handle_beside":  # logo + @handle only (downloaded Shorts)
        _text_any(img, (gap, logo.height / 2 - hs * 0.6), handle(rng), hs * rng.uniform(1.0, 1.4), face, fill, effect)
    else:  # under_logo: word (if any) beside, handle under the logo
        if word:
            _text_any(img, (gap, logo.height / 2 - ws * 0.6), word, ws, face, fill, effect)
        _text_any(img, (0, logo.height + lh * 0.1), handle(rng), hs, face, fill, effect)
    return _crop_alpha(img)


def red_shape_negative(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Red UI shapes that are not YouTube's mark, as a full-frame RGBA layer: a red circle or square
    with a play triangle, a heart, a notification badge, a record dot, a red pill without a glyph."""
    img, _ = _canvas(w, h)
    s = int(w * rng.uniform(0.04, 0.16))
    red = (int(rng.integers(200, 256)), int(rng.integers(0, 60)), int(rng.integers(0, 70)), 255)
    btn, d = _canvas(s * 2.2, s)
    kind = rng.integers(0, 5)
    if kind == 0:  # circle or square with a play triangle
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([0, 0, s - 1, s - 1], fill=red)
        t = s * 0.22
        d.polygon([(s / 2 - t * 0.7, s / 2 - t), (s / 2 - t * 0.7, s / 2 + t), (s / 2 + t, s / 2)], fill="white")
    elif kind == 1:  # heart
        d.ellipse([0, 0, s * 0.55, s * 0.55], fill=red)
        d.ellipse([s * 0.45, 0, s, s * 0.55], fill=red)
        d.polygon([(s * 0.03, s * 0.38), (s * 0.97, s * 0.38), (s * 0.5, s * 0.95)], fill=red)
    elif kind == 2:  # notification badge with a count
        d.ellipse([0, 0, s - 1, s - 1], fill=red)
        d.text((s * 0.28, s * 0.15), str(int(rng.integers(1, 99))), font=font(TRAIN_FONTS[0], s * 0.55), fill="white")
    elif kind == 3:  # record dot + REC / LIVE
        d.ellipse([0, s * 0.25, s * 0.5, s * 0.75], fill=red)
        d.text((s * 0.6, s * 0.2), str(rng.choice(["REC", "LIVE"])), font=font(TRAIN_FONTS[0], s * 0.55), fill="white")
    else:  # a red pill / rounded bar without a glyph
        d.rounded_rectangle([0, 0, s * 1.4, s * 0.7], radius=s * 0.3, fill=red)
    img.alpha_composite(btn, (int(rng.uniform(0.02, 0.85) * w), int(rng.uniform(0.02, 0.92) * h)))
    return np.asarray(img)
