"""Where the crop classifier (the cascade's second stage) looks: a square of the near-source
frame around a box the frame CNN proposed, resized to the classifier's input.

At 256x256 a YouTube mark 5-10 % of a portrait frame wide is a few pixels of red and
grey; in a square crop of the near-source frame around the CNN's box it is 15-40 pixels
of logo and word. Training (`training/watermark/train_crops.py`) and inference
(`WatermarkDetector`) cut crops with this one function, so the geometry cannot drift.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["anchor_boxes", "crop_window", "peak_boxes", "relative_window", "square_crop"]

CROP_EXPAND = 1.6  # the square's side is this times the box's longer side in pixels...
CROP_MIN_FRAC = 0.25  # ...and at least this fraction of the frame's shorter side (CNN boxes are coarse)


def crop_window(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel window (x0, y0, x1, y1) of the square around relative box (x, y, w, h) in a width x height
    frame: centred on the box, shifted to stay inside the frame, never larger than its shorter side."""
    short = min(width, height)
    side = max(box[2] * width, box[3] * height) * CROP_EXPAND
    side = int(round(min(short, max(side, CROP_MIN_FRAC * short))))
    cx, cy = (box[0] + box[2] / 2) * width, (box[1] + box[3] / 2) * height
    x0 = int(round(min(max(cx - side / 2, 0), width - side)))
    y0 = int(round(min(max(cy - side / 2, 0), height - side)))
    return x0, y0, x0 + side, y0 + side



def relative_window(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    """`crop_window` of relative box (x, y, w, h) in a width x height frame, as relative (x, y, w, h) (evidence)."""
    x0, y0, x1, y1 = crop_window(box, width, height)
    return round(x0 / width, 4), round(y0 / height, 4), round((x1 - x0) / width, 4), round((y1 - y0) / height, 4)


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """The `crop_window` of an RGB uint8 image (H, W, 3), resized to (size, size, 3)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = crop_window(box, w, h)
    patch = image[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def anchor_boxes(width: int, height: int) -> list[tuple[float, float, float, float]]:
    """Relative boxes (x, y, w, h) whose `crop_window` is one of the six smallest squares (CROP_MIN_FRAC of
    the shorter side) at the places platforms stamp their marks: the four corners and the middle of the two
    long sides (mid-left and mid-right of a portrait frame, where TikTok's mark jumps). Each box is centred in
    its window and 1 / CROP_EXPAND of its side, so cropping it with `square_crop` cuts exactly that window."""
    side = int(round(CROP_MIN_FRAC * min(width, height)))
    inner = side / CROP_EXPAND
    xs, ys = (0, (width - side) / 2, width - side), (0, (height - side) / 2, height - side)
    spots = [(x, y) for y in (ys[0], ys[2]) for x in (xs[0], xs[2])]  # the corners
    spots += [(xs[0], ys[1]), (xs[2], ys[1])] if height >= width else [(xs[1], ys[0]), (xs[1], ys[2])]
    return [((x + (side - inner) / 2) / width, (y + (side - inner) / 2) / height, inner / width, inner / height)
            for x, y in spots]


def peak_boxes(cells: np.ndarray, n: int) -> list[tuple[float, float, float, float]]:
    """Relative boxes (x, y, w, h), two cells a side, centred on the `n` strongest local maxima of a (gh, gw) map of
    per-cell probabilities, strongest first (ties in raster order). The frame CNN's groups of strong cells
    (`WatermarkDetector.cell_boxes`) follow its peak; a mark it saw only faintly is often a lesser local maximum
    elsewhere, and the `crop_window` of such a box is the smallest square around it."""
    gh, gw = cells.shape
    cells = np.asarray(cells, np.float32)
    # at least as strong as its 8 neighbours, and not part of an empty plateau
    ys, xs = np.nonzero((cells >= cv2.dilate(cells, np.ones((3, 3), np.uint8))) & (cells > 0))
    order = np.argsort(-cells[ys, xs], kind="stable")[:n]
    return [(float(xs[k] - 0.5) / gw, float(ys[k] - 0.5) / gh, 2 / gw, 2 / gh) for k in order]
