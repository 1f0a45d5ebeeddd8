"""Platform-watermark detector: `load(path)` and `WatermarkDetector` (score_frames, score_media)."""

from .detector import FrameScore, MediaScore, WatermarkDetector, load

__all__ = ["FrameScore", "MediaScore", "WatermarkDetector", "load"]
