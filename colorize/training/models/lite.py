"""`lite`: the production model. EfficientNet-Lite encoder (ImageNet weights; Lite0 by default,
``encoder="lite1"`` or ``"lite2"`` for the larger ones), U-Net decoder,
and two heads at 1/4 resolution: ab regression and a distribution over the in-gamut ab bins.

Regression alone is right but brownish (it predicts the conditional mean); classification
alone is vivid but often wrong. The exported output can mix the two: per pixel, the annealed
mean of the bin distribution weighted by the distribution's confidence, and the regression
elsewhere, through a soft dead zone on chroma (``knee``) and times a chroma gain. ``mix`` and
``temperature`` (buffers), ``conf_power``, ``knee`` and ``gain`` are tuned on validation data
after training (`colorize tune`); a decoding with mix 0 leaves the bin head out of the
exported graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorize.core.color import AB_SCALE
from colorize.training import bins
from colorize.training.models.adversarial import (
    PatchGAN,
    discriminator_step,
    generator_adversarial_loss,
)
from colorize.training.models.base import (
    ColorModel,
    UpBlock,
    backward_step,
    conv_bn_relu,
    scaled,
    upsample,
)
from colorize.training.pretrained import LITE_VARIANTS, load_lite_imagenet


class LiteEncoder(nn.Module):
    """EfficientNet-Lite features at strides 2, 4, 8, 16, 32 (the 1280-wide head is dropped)."""

    def __init__(self, pretrained: bool, variant: str = "lite0", drop_path: float = 0.0):
        super().__init__()
        import timm

        if variant not in LITE_VARIANTS:
            raise ValueError(f"unknown lite encoder {variant!r}: one of {', '.join(LITE_VARIANTS)}")
        # efficientnet_liteN is tf_efficientnet_liteN with static symmetric padding, so an
        # exported graph has no shape-dependent Pad nodes; the TF weights load one-to-one.
        # drop_path: stochastic depth over the inverted-residual blocks (a regulariser; timm
        # scales it linearly with depth). It holds no weights, so checkpoints fit either way.
        net = timm.create_model(f"efficientnet_{variant}", pretrained=False,
                                drop_path_rate=drop_path)
        if pretrained:
            load_lite_imagenet(net, variant)
        self.stem = nn.Sequential(net.conv_stem, net.bn1)
        self.blocks = net.blocks
        # timm's feature_info: the blocks whose outputs are the stride 2, 4, 8, 16, 32 features
        self.taps = tuple(int(f["module"].split(".")[1]) for f in net.feature_info)
        self.channels = tuple(int(f["num_chs"]) for f in net.feature_info)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                feats.append(x)
        return feats


class LiteUNet(ColorModel):
    def __init__(self, pretrained: bool = True, width: float = 1.0, reg_weight: float = 1.0,
                 cls_weight: float = 0.5, rebalance_lambda: float = 0.5,
                 mix: float = 0.6, temperature: float = 0.4, conf_power: float = 1.0,
                 chroma_weight: float = 0.0, encoder: str = "lite0", gain: float = 1.0,
                 knee: float = 0.0, adv_weight: float = 0.0, adv_width: float = 0.5,
                 drop_path: float = 0.0, dropout: float = 0.0):
        super().__init__()
        self.encoder = LiteEncoder(pretrained, encoder, drop_path)
        c = [scaled(ch, width) for ch in (192, 128, 96, 64)]
        e = self.encoder.channels
        self.bridge = conv_bn_relu(e[4], c[0], k=1)
        self.up16 = UpBlock(c[0], e[3], c[1])
        self.up8 = UpBlock(c[1], e[2], c[2])
        self.up4 = UpBlock(c[2], e[1], c[3])
        centres = torch.from_numpy(bins.in_gamut_bins())
        q = centres.shape[0]
        # regularisers against the gap between training and validation photos (training
        # only; identities in eval mode and in the export): stochastic depth in the encoder
        # (drop_path) and channel dropout on the decoder's last features (dropout)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.reg_head = nn.Conv2d(c[3], 2, 3, padding=1)
        self.cls_head = nn.Conv2d(c[3], q, 1)
        self.register_buffer("centres", centres)
        self.register_buffer("class_weights", torch.ones(q))
        self.register_buffer("mix", torch.tensor(float(mix)))
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.reg_weight = reg_weight
        self.cls_weight = cls_weight
        self.rebalance_lambda = rebalance_lambda
        self.conf_power = float(conf_power)
        self.chroma_weight = float(chroma_weight)
        # chroma gain of the decoded ab (part of the tuned decoding, like conf_power): the
        # regression head's conditional mean is muted, and a gain is a cheaper way to the
        # colourfulness goal than weight on the bins
        self.gain = float(gain)
        # soft dead zone on chroma (tuned with the gain): ab * C² / (C² + knee²), C = |ab|.
        # About half the validation pixels are near-neutral (true chroma < 10), where the
        # model paints faint colour that scores worse than none; the knee takes small
        # chroma back towards gray and leaves large chroma as it is, and the gain restores
        # the colourfulness
        self.knee = float(knee)
        # a light adversarial term (issue 6's last idea, after regression has converged): a
        # conditional PatchGAN judges (L, regression ab) at the heads' 1/4 resolution, where
        # its 70-pixel patches see most of a 224 crop. Training only: not in the export.
        self.adv_weight = float(adv_weight)
        self.discriminator = PatchGAN(adv_width) if self.adv_weight else None
        if self.discriminator is not None:
            # the PatchGAN's four 4x4 stages need 24 px at the heads' 1/4 resolution
            self.min_train_size = 96

    def _chroma_out(self, ab: torch.Tensor) -> torch.Tensor:
        """The knee, then the gain, on ab (N, 2, H, W)."""
        if self.knee:
            c2 = (ab * ab).sum(dim=1, keepdim=True)
            ab = ab * (c2 / (c2 + self.knee * self.knee))
        return ab * self.gain if self.gain != 1.0 else ab

    def features(self, light: torch.Tensor) -> torch.Tensor:
        # TF-style ImageNet input scaling (x - 127.5) / 128 is L_norm repeated on 3 channels.
        f2, f4, f8, f16, f32 = self.encoder(torch.cat([light, light, light], dim=1))
        x = self.bridge(f32)
        x = self.up16(x, f16)
        x = self.up8(x, f8)
        return self.dropout(self.up4(x, f4))

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        x = self.features(light)
        # one tensor out (regression ab first, then bin logits) keeps export simple
        return torch.cat([torch.tanh(self.reg_head(x)), self.cls_head(x)], dim=1)

    def decode(self, out: torch.Tensor, size: torch.Tensor | None = None) -> torch.Tensor:
        """forward()'s output (N, 2 + Q, H, W) -> ab (N, 2, H, W) in CIELAB units."""
        reg = out[:, :2].permute(0, 2, 3, 1) * AB_SCALE
        ab = self._mix(reg, out[:, 2:].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self._chroma_out(ab)

    def _mix(self, reg: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Regression ab (N, H, W, 2) and bin logits (N, H, W, Q), channels last -> ab.

        Bins last, as in bins.annealed_mean: ORT's channel-axis (Log)Softmax is slow.
        """
        probs = F.softmax(logits / self.temperature, dim=-1)
        annealed = torch.matmul(probs, self.centres.to(probs.dtype))
        weight = self.mix
        if self.conf_power:
            # confidence = 1 - normalised entropy of the bin distribution: where the bins
            # are sure, trust their (vivid) answer; elsewhere the (safe) regression
            logp = F.log_softmax(logits, dim=-1)
            entropy = -(logp.exp() * logp).sum(dim=-1, keepdim=True)
            confidence = 1 - entropy / math.log(logits.shape[-1])
            weight = self.mix * confidence.clamp(0, 1).pow(self.conf_power)
        return weight * annealed + (1 - weight) * reg

    def colorize(self, light: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        x = self.features(light)
        ab = torch.tanh(self.reg_head(x)) * AB_SCALE
        if self.mix.item() != 0.0:
            # a decoding tuned to mix 0 gives the bins weight 0 and leaves the bin head, its
            # softmaxes and the entropy out of the (exported) graph. Otherwise the bin head,
            # a 1x1 convolution, is applied as a matmul to the features put channels last:
            # the logits come out bins last without transposing them (64 channels move
            # instead of 261) and without splitting them from the regression again
            # (flattened to 2-D, so that the export is one Gemm with the bias folded in)
            n, c, h, w = x.shape
            pixels = x.permute(0, 2, 3, 1).reshape(-1, c)
            logits = F.linear(pixels, self.cls_head.weight.flatten(1), self.cls_head.bias)
            logits = logits.reshape(n, h, w, -1)
            ab = self._mix(ab.permute(0, 2, 3, 1), logits).permute(0, 3, 1, 2)
        return upsample(self._chroma_out(ab), light.shape[-2:], 4)

    def generator_parameters(self) -> list[nn.Parameter]:
        disc = {id(p) for p in self.discriminator.parameters()} if self.discriminator else set()
        return [p for p in self.parameters() if id(p) not in disc]

    def configure_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        # the ImageNet encoder moves more slowly than the freshly initialised decoder
        enc = list(self.encoder.parameters())
        ids = {id(p) for p in enc}
        rest = [p for p in self.generator_parameters() if id(p) not in ids]
        opts = [torch.optim.AdamW([{"params": enc, "lr_scale": 0.3},
                                   {"params": rest, "lr_scale": 1.0}],
                                  lr=lr, weight_decay=weight_decay)]
        if self.discriminator is not None:
            opts.append(torch.optim.Adam(self.discriminator.parameters(), lr=lr,
                                         betas=(0.5, 0.999)))
        return opts

    def load_init(self, ckpt: dict) -> None:
        """Another run's weights; a discriminator starts afresh when that run had none."""
        missing, unexpected = self.load_state_dict(ckpt["model"], strict=False)
        missing = [k for k in missing if not k.startswith("discriminator.")]
        if missing or unexpected:
            raise RuntimeError(f"--init checkpoint does not fit this lite model: missing "
                               f"{missing[:3]}, unexpected {unexpected[:3]}")

    def training_step(self, light, ab, optimizers, scaler, autocast, clip):
        if self.discriminator is None:
            return super().training_step(light, ab, optimizers, scaler, autocast, clip)
        opt_g, opt_d = optimizers
        with torch.autocast(**autocast):
            out = self(light)
        out = out.float()
        small_light = F.interpolate(light, size=out.shape[-2:], mode="area")
        real = F.interpolate(ab, size=out.shape[-2:], mode="area")
        fake = out[:, :2]
        d_loss = discriminator_step(self.discriminator, small_light, real, fake, opt_d, scaler,
                                    autocast, clip)
        opt_g.zero_grad(set_to_none=True)
        loss, logs = self.loss(out, light, ab)
        adv = generator_adversarial_loss(self.discriminator, small_light, fake, autocast)
        total = loss + self.adv_weight * adv
        backward_step(total, opt_g, scaler, self.generator_parameters(), clip)
        scaler.update()
        return {"loss": float(total.detach()), **logs, "adv": float(adv.detach()),
                "d_loss": float(d_loss.detach())}

    def prepare(self, files: Sequence[Path]) -> None:
        prior = bins.ab_prior(files, self.centres.numpy())
        self.class_weights.copy_(torch.from_numpy(
            bins.rebalance_weights(prior, self.rebalance_lambda)))

    def loss(self, out: torch.Tensor, light: torch.Tensor, ab: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, float]]:
        target = F.interpolate(ab, size=out.shape[-2:], mode="area")
        reg = F.smooth_l1_loss(out[:, :2], target, beta=0.05)
        cls = bins.rebalanced_cross_entropy(out[:, 2:], target * AB_SCALE, self.centres,
                                            self.class_weights)
        total = self.reg_weight * reg + self.cls_weight * cls
        logs = {"reg": float(reg.detach()), "cls": float(cls.detach())}
        if self.chroma_weight:
            chroma = chroma_gap(out[:, :2], target)
            total = total + self.chroma_weight * chroma
            logs["chroma"] = float(chroma.detach())
        return total, logs


def chroma_gap(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean over images of |mean chroma of pred − mean chroma of target| (ab in any units).

    A per-pixel loss on ab predicts the conditional mean, whose chroma is lower than the
    mean chroma of the plausible answers (opposite hues cancel): the muted, brownish look.
    Matching each image's mean chroma asks for the expected saturation instead of the
    saturation of the expected colour, without saying which hue."""
    c_pred = pred.pow(2).sum(dim=1).add(eps).sqrt().mean(dim=(1, 2))
    c_true = target.pow(2).sum(dim=1).add(eps).sqrt().mean(dim=(1, 2))
    return (c_pred - c_true).abs().mean()
