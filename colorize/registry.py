"""The one model registry: every architecture colorize knows, looked up by name.

This module is torch-free: the inference path reads it to resolve bundled weights,
and ``colorize.training`` reads the ``builder`` path to construct the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "lite"


class UnknownModelError(ValueError):
    """A model name that is not in the registry."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    description: str
    builder: str  # "module:callable" inside colorize.training.models
    output: str  # "ab" (regression) or "bins" (distribution over ab bins)
    loss: str
    working_size: int
    default_args: dict[str, Any] = field(default_factory=dict)
    bundled: str | None = None  # file name in colorize/weights
    # other bundled files of the same weights, selected as NAME:VARIANT (e.g. lite:int8)
    variants: dict[str, str] = field(default_factory=dict)

    def bundled_path(self, variant: str | None = None) -> Path | None:
        """Path of the bundled ONNX file (or of a variant), None when it is not shipped."""
        fname = self.variants.get(variant) if variant else self.bundled
        if not fname:
            return None
        path = Path(str(resources.files("colorize.weights").joinpath(fname)))
        return path if path.is_file() else None

    def bundled_variants(self) -> list[str]:
        return [v for v in self.variants if self.bundled_path(v) is not None]

    def bundled_checkpoint(self) -> Path | None:
        """The weights-only checkpoint the bundled ONNX was exported from, when shipped."""
        if not self.bundled:
            return None
        name = Path(self.bundled).with_suffix(".pt").name
        path = Path(str(resources.files("colorize.weights").joinpath(name)))
        return path if path.is_file() else None


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model; "default" names the bundled default model."""
    if name == "default":
        name = DEFAULT_MODEL
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(list_models())
        raise UnknownModelError(f"unknown model {name!r}; valid names: {valid}") from None


register(ModelSpec(
    name="gae",
    family="autoencoder",
    description="10-layer conv autoencoder with a learnable gamma correction (seed model)",
    builder="colorize.training.models.gae:GAE",
    output="ab",
    loss="mse",
    working_size=224,
    default_args={"width": 1.0},
    bundled="gae.onnx",
))
register(ModelSpec(
    name="baseline",
    family="frozen-encoder",
    description="frozen ResNet-18 (or VGG16) features + conv/upsample decoder",
    builder="colorize.training.models.baseline:Baseline",
    output="ab",
    loss="mse",
    working_size=224,
    default_args={"backbone": "resnet18", "pretrained": True, "width": 1.0},
))
register(ModelSpec(
    name="unet",
    family="unet",
    description="U-Net with a ResNet-18 encoder, resize-then-conv decoder, L1 loss",
    builder="colorize.training.models.unet:ResNetUNet",
    output="ab",
    loss="l1",
    working_size=256,
    default_args={"pretrained": True, "width": 1.0},
))
register(ModelSpec(
    name="cgan",
    family="gan",
    description="pix2pix: U-Net generator + 70x70 PatchGAN, BCE + 100*L1",
    builder="colorize.training.models.cgan:Pix2Pix",
    output="ab",
    loss="bce+100*l1",
    working_size=256,
    default_args={"pretrained": True, "width": 1.0},
))
register(ModelSpec(
    name="eccv16",
    family="classification",
    description="Zhang et al. 2016: dilated VGG-style net over in-gamut ab bins",
    builder="colorize.training.models.eccv16:ECCV16",
    output="bins",
    loss="rebalanced soft cross-entropy",
    working_size=256,
    default_args={"width": 1.0, "temperature": 0.38},
))
register(ModelSpec(
    name="unet-vae",
    family="vae",
    description="U-Net whose bottleneck is a VAE: sample several colorizations",
    builder="colorize.training.models.unet_vae:UNetVAE",
    output="ab",
    loss="l1+beta*kl",
    working_size=256,
    default_args={"width": 1.0, "z_dim": 8, "beta": 0.01},
))
register(ModelSpec(
    name="lite",
    family="unet",
    description="EfficientNet-Lite0 U-Net, regression + bin heads, tuned decoding (default)",
    builder="colorize.training.models.lite:LiteUNet",
    output="ab",
    loss="smooth-l1 + rebalanced soft cross-entropy",
    working_size=256,
    default_args={"pretrained": True, "width": 1.0},
    bundled="lite.onnx",
    variants={"int8": "lite_int8.onnx"},
))
