"""OCR verification for the watermark cascade: read the platform's name where the CNN saw a mark.

Every platform mark we flag carries its name as text ("TikTok" under the note logo and on
the end card, "YouTube" or "Shorts" beside the play button); look-alikes (captions, bare
@handles, other logos, red play shapes) do not. The CNN proposes frames and boxes; PP-OCR
(rapidocr-onnxruntime, models shipped inside the wheel, no download) reads a crop around
each box, or the whole frame for end cards, and `match_platform` decides from the words.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import cv2
import numpy as np

__all__ = ["TextVerifier", "match_platform"]

# word (lower case, letters only) -> platform, with the edit distance an OCR slip may cost
# ("TikTok" -> "TikTak", "TlkTok"). "shorts" must be exact: "sports" is one edit away.
PLATFORM_WORDS = (("tiktok", "tiktok", 1), ("youtube", "youtube", 1), ("shorts", "youtube", 0))
# A whole OCR'd word (split on spaces, letters only, 6-8 long) that starts with "y" may cost two slips: the serif
# "YouTube" of small marks reads "YauTuhe", "YeuTubs", "Yuulube" (3 of 19 unread marks on the tuning set,
# evaluate_media seed 7, read in true-box crops). Without the "y" the rule would take "couture"; with it, no word
# of a 30k English vocabulary or of the text model's five-language phrase bank is within two edits (2026-11-27).
WHOLE_WORD_SLACK = (("youtube", "youtube", 2, "y"),)
_CONFUSABLE = str.maketrans({"0": "o", "1": "l", "|": "l", "!": "l", "5": "s", "8": "b"})
MIN_SIDE = 96  # pixels: smaller images are upscaled to this short side before reading
MAX_SIDE = 720  # pixels: larger images are downscaled to this long side
DET_SIDE = 512  # the text detector's input: min side scaled to this (rapidocr's 736 doubles the cost at 256 px)


def _distance(a: str, b: str, cap: int) -> int:
    """Levenshtein distance, stopping early once every path exceeds `cap`."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) > cap:
            return cap + 1
        prev = cur
    return prev[-1]


def match_platform(texts: list[str]) -> str | None:
    """The platform whose name appears in the OCR'd `texts` ("tiktok", "youtube"), else None.

    Spaces and punctuation inside a line are dropped first ("Tik Tok", "Tik-Tok"), and
    digits OCR confuses with letters are mapped back ("T1kT0k"). A whole word may cost more
    slips than a stretch of a line (WHOLE_WORD_SLACK: "YauTuhe").
    """
    for text in texts:
        low = text.lower().translate(_CONFUSABLE)
        squashed = re.sub(r"[^a-z]", "", low)
        tokens = set(re.findall(r"[a-z]+", low))
        words = {re.sub(r"[^a-z]", "", w) for w in low.split()}
        for word, platform, slack, first in WHOLE_WORD_SLACK:
            if any(w.startswith(first) and abs(len(w) - len(word)) <= 1 and _distance(w, word, slack) <= slack for w in words):
                return platform
        for word, platform, slack in PLATFORM_WORDS:
            if slack == 0:
                if word in tokens:
                    return platform
                continue
            n = len(word)
            for length in range(n - slack, n + slack + 1):
                for s in range(0, max(0, len(squashed) - length) + 1):
                    if _distance(squashed[s: s + length], word, slack) <= slack:
                        return platform
    return None


class TextVerifier:
    """Reads text in frame regions with PP-OCR on CPU; the engine is built on first use.

    Args:
        num_threads: onnxruntime intra-op threads (the service caps CPU use).
        min_text_score: recognition confidence a line needs to count.
    """

    def __init__(self, *, num_threads: int = 1, min_text_score: float = 0.5) -> None:
        self.num_threads = num_threads
        self.min_text_score = min_text_score
        self.calls = 0  # OCR passes run so far (cost accounting for benchmarks)
        self._engine: Any = None
        # rapidocr keeps per-call state on the engine (the detector's resize, set per read below),
        # and the service may read from several request threads: one read at a time
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        try:
            import rapidocr_onnxruntime  # noqa: F401
        except ImportError:
            return False
        return True

    def _get(self):
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR
            n = self.num_threads
            self._engine = RapidOCR(intra_op_num_threads=n, inter_op_num_threads=n, det_limit_side_len=DET_SIDE,
                                    use_cls=False, print_verbose=False)  # marks are upright: no angle classifier
        return self._engine

    def read(self, image: np.ndarray, det_side: int = DET_SIDE) -> list[str]:
        """Text lines in an RGB uint8 image (tiny images are upscaled, large ones downscaled first);
        `det_side`: the text detector's input short side in pixels (cost grows with its square)."""
        h, w = image.shape[:2]
        if h < 8 or w < 8:
            return []
        scale = max(1.0, MIN_SIDE / min(h, w))
        scale = min(scale, MAX_SIDE / max(h, w))
        if abs(scale - 1.0) > 1e-3:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interp)
        with self._lock:
            self.calls += 1
            engine = self._get()
            engine.text_det.limit_side_len = det_side  # read per call by rapidocr's text detector
            result, _ = engine(np.ascontiguousarray(image[..., ::-1]))  # RapidOCR expects BGR like cv2
        return [str(text) for _, text, score in (result or []) if float(score) >= self.min_text_score]

    def platform_in(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None,
                    expand: float = 3.0, det_side: int = DET_SIDE) -> str | None:
        """Platform named in `image`, or in the region `box` (relative x, y, w, h) grown `expand` times."""
        if box is not None:
            image = crop(image, box, expand)
        return match_platform(self.read(image, det_side))


def crop(image: np.ndarray, box: tuple[float, float, float, float], expand: float = 3.0,
         min_frac: tuple[float, float] = (0.4, 0.2)) -> np.ndarray:
    """The region around a relative (x, y, w, h) box, grown `expand` times (at least `min_frac` of (w, h))."""
    h, w = image.shape[:2]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    bw, bh = max(box[2] * expand, min_frac[0]), max(box[3] * expand, min_frac[1])
    x0, x1 = max(0.0, cx - bw / 2), min(1.0, cx + bw / 2)
    y0, y1 = max(0.0, cy - bh / 2), min(1.0, cy + bh / 2)
    return image[int(y0 * h): max(int(y0 * h) + 1, round(y1 * h)), int(x0 * w): max(int(x0 * w) + 1, round(x1 * w))]
