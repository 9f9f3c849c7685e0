"""`gae`: symmetric convolutional autoencoder with a learnable gamma-correction module."""

from __future__ import annotations

import torch
from torch import nn

from colorize.training.models.base import RegressionModel, scaled


class GammaCorrection(nn.Module):
    """X_out = sign(X)·|X|^γ with one learnable γ > 0 (γ = exp(ρ), initialised to 1)."""

    def __init__(self):
        super().__init__()
        self.log_gamma = nn.Parameter(torch.zeros(()))

    @property
    def gamma(self) -> torch.Tensor:
        return self.log_gamma.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the epsilon keeps the gradient finite at x = 0 when γ < 1
        return torch.sign(x) * (x.abs() + 1e-6).pow(self.gamma)


class GAE(RegressionModel):
    loss_kind = "mse"

    def __init__(self, width: float = 1.0):
        super().__init__()
        chans = [scaled(c, width) for c in (32, 64, 128, 256, 256)]
        enc, cin = [], 1
        for c in chans:  # 5 strided conv layers, BatchNorm after each
            enc += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.BatchNorm2d(c),
                    nn.ReLU(inplace=True)]
            cin = c
        self.encoder = nn.Sequential(*enc)
        dec = []
        outs = list(reversed(chans[:-1])) + [2]
        for i, c in enumerate(outs):  # 5 transposed conv layers up
            dec.append(nn.ConvTranspose2d(cin, c, 4, stride=2, padding=1))
            if i < len(outs) - 1:
                dec += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            cin = c
        self.decoder = nn.Sequential(*dec)
        self.gamma = GammaCorrection()

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        return self.gamma(torch.tanh(self.decoder(self.encoder(light))))
