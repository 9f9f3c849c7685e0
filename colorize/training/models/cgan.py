"""`cgan`: pix2pix. U-Net generator, 70x70 PatchGAN discriminator, BCE + λ·L1 (λ = 100)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorize.training.models.base import ColorModel, backward_step, scaled
from colorize.training.models.unet import ResNetUNet

L1_WEIGHT = 100.0


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


class Pix2Pix(ColorModel):
    def __init__(self, pretrained: bool = True, width: float = 1.0):
        super().__init__()
        self.generator = ResNetUNet(pretrained=pretrained, width=width)
        self.discriminator = PatchGAN(width)

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        return self.generator(light)

    def load_init(self, ckpt: dict) -> None:
        state = ckpt["model"]
        if ckpt.get("model_name") == "unet":
            self.generator.load_state_dict(state)
        else:
            self.load_state_dict(state)

    def configure_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        betas = (0.5, 0.999)
        return [torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)]

    def loss(self, out: torch.Tensor, light: torch.Tensor, ab: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, float]]:
        l1 = F.l1_loss(out, ab)
        return L1_WEIGHT * l1, {"l1": float(l1)}

    def training_step(self, light, ab, optimizers, scaler, autocast, clip):
        opt_g, opt_d = optimizers
        with torch.autocast(**autocast):
            fake = self.generator(light)
        # discriminator: real pairs -> 1, generated pairs -> 0
        opt_d.zero_grad(set_to_none=True)
        with torch.autocast(**autocast):
            real_logits = self.discriminator(light, ab)
            fake_logits = self.discriminator(light, fake.detach())
        d_loss = 0.5 * (
            F.binary_cross_entropy_with_logits(real_logits.float(),
                                               torch.ones_like(real_logits.float()))
            + F.binary_cross_entropy_with_logits(fake_logits.float(),
                                                 torch.zeros_like(fake_logits.float())))
        backward_step(d_loss, opt_d, scaler, self.discriminator.parameters(), clip)
        # generator: fool D and stay close to the truth
        opt_g.zero_grad(set_to_none=True)
        with torch.autocast(**autocast):
            logits = self.discriminator(light, fake)
        adv = F.binary_cross_entropy_with_logits(logits.float(), torch.ones_like(logits.float()))
        l1 = F.l1_loss(fake.float(), ab)
        g_loss = adv + L1_WEIGHT * l1
        backward_step(g_loss, opt_g, scaler, self.generator.parameters(), clip)
        scaler.update()
        return {"loss": float(g_loss.detach()), "d_loss": float(d_loss.detach()),
                "adv": float(adv.detach()), "l1": float(l1.detach())}
