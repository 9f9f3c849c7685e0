"""Common interface of every colorization network."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorize.core.color import AB_SCALE


class ColorModel(nn.Module):
    """A network from normalised L (N, 1, H, W) to a raw output that ``decode`` maps to ab.

    ``decode`` returns ab in CIELAB units and is part of the exported ONNX graph.
    """

    model_name: str = ""
    model_args: dict = {}
    extra_inputs: tuple[str, ...] = ()
    # the smallest training crop the model can take (a discriminator needs room)
    min_train_size: int = 1

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return out * AB_SCALE

    def colorize(self, light: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        return self.decode(self(light, *extra))

    def loss(self, out: torch.Tensor, light: torch.Tensor, ab: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def prepare(self, files: Sequence[Path]) -> None:
        """Hook for statistics computed from the training files (e.g. a colour prior)."""

    def load_init(self, ckpt: dict) -> None:
        """Start from another run's weights (``--init``)."""
        self.load_state_dict(ckpt["model"])

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def configure_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        return [torch.optim.AdamW(self.trainable_parameters(), lr=lr, weight_decay=weight_decay)]

    def training_step(self, light: torch.Tensor, ab: torch.Tensor,
                      optimizers: list[torch.optim.Optimizer], scaler: torch.amp.GradScaler,
                      autocast: dict, clip: float) -> dict[str, float]:
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        with torch.autocast(**autocast):
            out = self(light)
        loss, logs = self.loss(out.float() if torch.is_tensor(out) else out, light, ab)
        backward_step(loss, opt, scaler, self.trainable_parameters(), clip)
        scaler.update()
        return {"loss": float(loss.detach()), **logs}

    @torch.no_grad()
    def validation_loss(self, light: torch.Tensor, ab: torch.Tensor) -> dict[str, float]:
        loss, logs = self.loss(self(light), light, ab)
        return {"loss": float(loss), **logs}


def backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                  params, clip: float) -> None:
    """Scaled backward, unscale, clip the gradient norm, optimizer step (no scaler update)."""
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    if clip > 0:
        nn.utils.clip_grad_norm_(params, clip)
    scaler.step(opt)


class RegressionModel(ColorModel):
    """Models whose raw output is ab / AB_SCALE in [-1, 1], trained with MSE or L1."""

    loss_kind = "mse"

    def loss(self, out: torch.Tensor, light: torch.Tensor, ab: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, float]]:
        fn = F.mse_loss if self.loss_kind == "mse" else F.l1_loss
        return fn(out, ab), {}


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1
                 ) -> nn.Sequential:
    pad = dilation * (k - 1) // 2
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def upsample(x: torch.Tensor, size, factor: int) -> torch.Tensor:
    """Bilinear resize of x to ``size``, which is ``factor`` times x's size.

    In PyTorch the size is taken as given (any input size works). In an ONNX export the
    factor is written as a constant scale instead of sizes computed from Shape nodes at run
    time: the exported graph's H and W are multiples of 32 (its size_multiple), where both
    give the same result, and a constant scale lets ONNX Runtime run the resize in its
    blocked NCHWc layout beside the convolutions rather than reordering to NCHW and back
    (`lite` 3-5 % faster per image on CPU). No size is frozen into the graph either way.
    """
    if torch.onnx.is_in_onnx_export():
        return F.interpolate(x, scale_factor=float(factor), mode="bilinear",
                             align_corners=False)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def upsample_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Resize x to ref's spatial size, twice x's (a U-Net's next skip connection)."""
    return upsample(x, ref.shape[-2:], 2)


class UpBlock(nn.Module):
    """Resize-then-conv decoder stage with a skip connection (no checkerboard artifacts)."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(conv_bn_relu(cin + cskip, cout), conv_bn_relu(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([upsample_to(x, skip), skip], dim=1))


def scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))
