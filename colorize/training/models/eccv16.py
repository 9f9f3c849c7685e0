"""`eccv16`: Zhang, Isola & Efros 2016, colour as classification over in-gamut ab bins."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorize.core.color import AB_SCALE
from colorize.training import bins
from colorize.training.models.base import ColorModel, conv_bn_relu, scaled


def _block(cin: int, cout: int, n: int, stride_last: int = 1, dilation: int = 1
           ) -> tuple[nn.Sequential, int]:
    layers = []
    for i in range(n):
        stride = stride_last if i == n - 1 else 1
        layers.append(conv_bn_relu(cin, cout, stride=stride, dilation=dilation))
        cin = cout
    return nn.Sequential(*layers), cout


class ECCV16(ColorModel):
    def __init__(self, width: float = 1.0, temperature: float = 0.38,
                 rebalance_lambda: float = 0.5):
        super().__init__()
        w = [scaled(c, width) for c in (64, 128, 256, 512, 256)]
        self.conv1, c = _block(1, w[0], 2, stride_last=2)  # 1/2
        self.conv2, c = _block(c, w[1], 2, stride_last=2)  # 1/4
        self.conv3, c = _block(c, w[2], 3, stride_last=2)  # 1/8
        self.conv4, c = _block(c, w[3], 3)
        self.conv5, c = _block(c, w[3], 3, dilation=2)
        self.conv6, c = _block(c, w[3], 3, dilation=2)
        self.conv7, c = _block(c, w[3], 3)
        self.conv8, c = _block(c, w[4], 3)  # after a resize to 1/4
        centres = torch.from_numpy(bins.in_gamut_bins())
        self.head = nn.Conv2d(c, centres.shape[0], 1)
        self.register_buffer("centres", centres)
        self.register_buffer("prior", torch.full((centres.shape[0],), 1 / centres.shape[0]))
        self.register_buffer("class_weights", torch.ones(centres.shape[0]))
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.rebalance_lambda = rebalance_lambda

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(light))
        quarter = x
        x = self.conv7(self.conv6(self.conv5(self.conv4(self.conv3(x)))))
        x = F.interpolate(x, size=quarter.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.conv8(x))  # logits at 1/4 resolution

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return bins.annealed_mean(out, self.centres, self.temperature)

    def colorize(self, light: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        ab = self.decode(self(light))
        return F.interpolate(ab, size=light.shape[-2:], mode="bilinear", align_corners=False)

    def prepare(self, files: Sequence[Path]) -> None:
        prior = bins.ab_prior(files, self.centres.numpy())
        self.prior.copy_(torch.from_numpy(prior).float())
        self.class_weights.copy_(torch.from_numpy(
            bins.rebalance_weights(prior, self.rebalance_lambda)))

    def loss(self, out: torch.Tensor, light: torch.Tensor, ab: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, float]]:
        target = F.interpolate(ab, size=out.shape[-2:], mode="area") * AB_SCALE
        return bins.rebalanced_cross_entropy(out, target, self.centres, self.class_weights), {}
