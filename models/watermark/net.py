"""A compact fully-convolutional CNN: per-cell platform logits plus a whole-frame head.

The cell head localises corner marks (evidence boxes); the frame head also sees
global context, which is what an end card (a whole dark screen with a big logo) needs.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .config import WatermarkConfig

__all__ = ["WatermarkNet"]


class ConvBnAct(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class SeparableBlock(nn.Module):
    """Depthwise 3x3 then pointwise 1x1; residual when the shape is kept."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.dw = ConvBnAct(c_in, c_in, 3, stride, groups=c_in)
        self.pw = ConvBnAct(c_in, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


class WatermarkNet(nn.Module):
    def __init__(self, config: WatermarkConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [ConvBnAct(3, config.stem_channels, 3, 2)]
        c = config.stem_channels
        for c_out in config.stage_channels:
            layers.append(SeparableBlock(c, c_out, 2))
            layers.extend(SeparableBlock(c_out, c_out, 1) for _ in range(config.blocks_per_stage))
            c = c_out
        self.features = nn.Sequential(*layers)
        self.cell_head = nn.Conv2d(c, len(config.classes), 1)
        self.frame_head = nn.Linear(2 * c, len(config.classes))
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, 3, H, W) float in [0, 1]. Returns (B, C, H/s, W/s) features."""
        x = (x - self.mean) / self.std
        return self.features(x)  # (B, C, h, w)

    def forward_head(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (frame_logits (B, K), cell_logits (B, K, h, w))."""
        cell_logits = self.cell_head(feats)  # (B, K, h, w)
        pooled = torch.cat([feats.mean(dim=(2, 3)), feats.amax(dim=(2, 3))], dim=1)  # (B, 2C)
        return self.frame_head(pooled), cell_logits  # (B, K), (B, K, h, w)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_head(self.forward_features(x))

    def folded(self) -> "WatermarkNet":
        """A copy for inference with each BatchNorm folded into the convolution before it (running statistics).
        Same outputs to float rounding (logits within about 1e-5) in about a quarter less time per 256x256 frame on
        CPU (less for 128x128 crops): batch norm was a separate pass over every activation. Its state_dict no longer
        matches the config, so it is never saved (`save` takes the network itself)."""
        net = copy.deepcopy(self).eval()
        for m in net.modules():
            if isinstance(m, ConvBnAct):
                m[0], m[1] = fuse_conv_bn_eval(m[0], m[1]), nn.Identity()
        return net
