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

__all__ = ["crop_window", "square_crop"]

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


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """The `crop_window` of an RGB uint8 image (H, W, 3), resized to (size, size, 3)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = crop_window(box, w, h)
    patch = image[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)
