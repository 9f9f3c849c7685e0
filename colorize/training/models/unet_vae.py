"""`unet-vae`: a U-Net whose bottleneck is a conditional VAE latent z.

Training encodes (L, ab) into μ, log σ² and samples z; at inference z ~ N(0, I) gives
different plausible colorizations, and z = 0 gives the mean one. Loss: L1 + β·KL.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorize.training.models.base import (
    RegressionModel,
    UpBlock,
    backward_step,
    conv_bn_relu,
    scaled,
    upsample,
)


class UNetVAE(RegressionModel):
    loss_kind = "l1"
    extra_inputs = ("z",)

    def __init__(self, width: float = 1.0, z_dim: int = 8, beta: float = 0.01):
        super().__init__()
        c = [scaled(x, width) for x in (32, 64, 128, 256)]
        self.z_dim = z_dim
        self.beta = beta
        self.enc = nn.ModuleList()
        cin = 1
        for ch in c:
            self.enc.append(nn.Sequential(conv_bn_relu(cin, ch, stride=2), conv_bn_relu(ch, ch)))
            cin = ch
        post = []
        cin = 3
        for ch in c:
            post.append(conv_bn_relu(cin, ch, stride=2))
            cin = ch
        self.posterior = nn.Sequential(*post)
        self.to_stats = nn.Linear(c[-1], 2 * z_dim)
        self.bottleneck = conv_bn_relu(c[-1] + z_dim, c[-1])
        self.up = nn.ModuleList([UpBlock(c[3], c[2], c[2]), UpBlock(c[2], c[1], c[1]),
                                 UpBlock(c[1], c[0], c[0])])
        self.full = conv_bn_relu(c[0] + 1, c[0])
        self.head = nn.Conv2d(c[0], 2, 3, padding=1)

    def encode_posterior(self, light: torch.Tensor, ab: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.posterior(torch.cat([light, ab], dim=1)).mean(dim=(2, 3))
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def forward(self, light: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        skips, x = [], light
        for block in self.enc:
            x = block(x)
            skips.append(x)
        if z is None:
            z = light.new_zeros(light.shape[0], self.z_dim)
        zmap = z[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        x = self.bottleneck(torch.cat([x, zmap], dim=1))
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(x, skip)
        x = upsample(x, light.shape[-2:], 2)
        return torch.tanh(self.head(self.full(torch.cat([x, light], dim=1))))

    def _vae_loss(self, light, ab, sample: bool):
        mu, logvar = self.encode_posterior(light, ab)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        out = self(light, z)
        rec = F.l1_loss(out.float(), ab)
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
        return rec + self.beta * kl, {"l1": float(rec.detach()), "kl": float(kl.detach())}

    def training_step(self, light, ab, optimizers, scaler, autocast, clip):
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        with torch.autocast(**autocast):
            loss, logs = self._vae_loss(light, ab, sample=True)
        backward_step(loss, opt, scaler, self.parameters(), clip)
        scaler.update()
        return {"loss": float(loss.detach()), **logs}

    @torch.no_grad()
    def validation_loss(self, light, ab):
        loss, logs = self._vae_loss(light, ab, sample=False)
        return {"loss": float(loss), **logs}
