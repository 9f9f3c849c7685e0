"""`cgan`: pix2pix. U-Net generator, 70x70 PatchGAN discriminator, BCE + λ·L1 (λ = 100)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorize.training.models.adversarial import (
    PatchGAN,
    discriminator_step,
    generator_adversarial_loss,
)
from colorize.training.models.base import ColorModel, backward_step
from colorize.training.models.unet import ResNetUNet

L1_WEIGHT = 100.0


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
        d_loss = discriminator_step(self.discriminator, light, ab, fake, opt_d, scaler, autocast,
                                    clip)
        # generator: fool D and stay close to the truth
        opt_g.zero_grad(set_to_none=True)
        adv = generator_adversarial_loss(self.discriminator, light, fake, autocast)
        l1 = F.l1_loss(fake.float(), ab)
        g_loss = adv + L1_WEIGHT * l1
        backward_step(g_loss, opt_g, scaler, self.generator.parameters(), clip)
        scaler.update()
        return {"loss": float(g_loss.detach()), "d_loss": float(d_loss.detach()),
                "adv": float(adv.detach()), "l1": float(l1.detach())}
