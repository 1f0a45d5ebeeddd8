"""Configuration of the platform-watermark detector; saved as artifact/config.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = ["WatermarkConfig"]


@dataclass(frozen=True)
class WatermarkConfig:
    """Every knob the network and its inference wrapper need to be rebuilt.

    Args:
        classes: output classes in logit order; index 0 must be "none".
        input_size: (height, width) every frame is resized to (squashed, not letterboxed,
            so a portrait 720x1280 frame keeps its full horizontal resolution for small marks).
        stem_channels: channels of the first stride-2 convolution.
        stage_channels: channels of each depthwise-separable stage; each stage halves the grid.
        blocks_per_stage: depthwise-separable blocks per stage after the strided one.
        mean / std: per-channel RGB normalisation in [0, 1] units.
        cell_threshold: fraction of the peak cell probability a cell needs to join the evidence box.
        version: artifact version string written into every verdict.
    """

    classes: tuple[str, ...] = ("none", "tiktok", "youtube")
    input_size: tuple[int, int] = (256, 256)
    stem_channels: int = 16
    stage_channels: tuple[int, ...] = (32, 64, 128)
    blocks_per_stage: int = 2
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    cell_threshold: float = 0.5
    version: str = "watermark-dev"
    extra: dict = field(default_factory=dict)  # free-form provenance (commit, data), ignored by the net

    def __post_init__(self) -> None:
        if not self.classes or self.classes[0] != "none":
            raise ValueError(f"classes: expected 'none' first, got {self.classes!r}")
        if len(self.input_size) != 2 or min(self.input_size) < 32:
            raise ValueError(f"input_size: expected (height, width) >= 32, got {self.input_size!r}")

    @property
    def stride(self) -> int:
        """Pixels of input per output cell: the stem and every stage halve the grid."""
        return 2 ** (1 + len(self.stage_channels))

    def to_json(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: Path) -> "WatermarkConfig":
        raw = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path.name}: unknown config keys {unknown}")
        for key in ("classes", "input_size", "stage_channels", "mean", "std"):
            if key in raw:
                raw[key] = tuple(raw[key])
        return cls(**raw)
