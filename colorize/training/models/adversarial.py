"""A conditional PatchGAN discriminator and the two halves of an adversarial step.

`cgan` (pix2pix) trains with it at full weight; `lite` can add it as a light term
(``adv_weight``) on top of its regression and bin losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorize.training.models.base import backward_step, scaled


class PatchGAN(nn.Module):
    """C64-C128-C256-C512 + 1-channel conv: each output sees a 70x70 input patch."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        c = [scaled(x, width) for x in (64, 128, 256, 512)]
        self.net = nn.Sequential(
            nn.Conv2d(3, c[0], 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(c[0], c[1], 4, 2, 1, bias=False), nn.BatchNorm2d(c[1]),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(c[1], c[2], 4, 2, 1, bias=False), nn.BatchNorm2d(c[2]),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(c[2], c[3], 4, 1, 1, bias=False), nn.BatchNorm2d(c[3]),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(c[3], 1, 4, 1, 1),
        )

    def forward(self, light: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([light, ab], dim=1))


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    logits = logits.float()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_step(disc: PatchGAN, light: torch.Tensor, real: torch.Tensor,
                       fake: torch.Tensor, opt: torch.optim.Optimizer,
                       scaler: torch.amp.GradScaler, autocast: dict, clip: float
                       ) -> torch.Tensor:
    """One update of ``disc``: real (L, ab) pairs -> 1, generated pairs -> 0. Returns its loss.

    ``fake`` is detached here: this step moves the discriminator alone.
    """
    opt.zero_grad(set_to_none=True)
    with torch.autocast(**autocast):
        real_logits = disc(light, real)
        fake_logits = disc(light, fake.detach())
    loss = 0.5 * (_bce(real_logits, True) + _bce(fake_logits, False))
    backward_step(loss, opt, scaler, disc.parameters(), clip)
    return loss


def generator_adversarial_loss(disc: PatchGAN, light: torch.Tensor, fake: torch.Tensor,
                               autocast: dict) -> torch.Tensor:
    """The non-saturating generator loss: how far ``disc`` is from taking fake as real."""
    with torch.autocast(**autocast):
        logits = disc(light, fake)
    return _bce(logits, True)
