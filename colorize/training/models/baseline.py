"""`baseline`: a frozen ImageNet encoder (ResNet-18 or VGG16) and a decoder-only network."""

from __future__ import annotations

import torch
from torch import nn

from colorize.training.models.base import RegressionModel, scaled
from colorize.training.pretrained import torchvision_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetInput(nn.Module):
    """Normalised L in [-1, 1] -> 3-channel ImageNet-normalised gray."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        gray = (light + 1) / 2
        return (gray - self.mean) / self.std


def _decoder(cin: int, widths: list[int], ups_after: set[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, c in enumerate(widths):
        layers += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        if i in ups_after:
            layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
        cin = c
    layers += [nn.Conv2d(cin, 2, 3, padding=1), nn.Tanh(),
               nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
    return nn.Sequential(*layers)


class Baseline(RegressionModel):
    loss_kind = "mse"

    def __init__(self, backbone: str = "resnet18", pretrained: bool = True, width: float = 1.0):
        super().__init__()
        import torchvision.models as tvm

        self.prep = ImageNetInput()
        if backbone == "resnet18":
            net = torchvision_weights(tvm.resnet18, tvm.ResNet18_Weights, pretrained)
            self.features = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool,
                                          net.layer1, net.layer2, net.layer3, net.layer4)
            widths = [scaled(c, width) for c in (256, 128, 64, 32)]
            self.decoder = _decoder(512, widths, ups_after={0, 1, 2, 3})
        elif backbone == "vgg16":
            net = torchvision_weights(tvm.vgg16, tvm.VGG16_Weights, pretrained)
            self.features = net.features  # 7x7x512 at 224
            # 256, 128, up, 64, up, 32, up, 16, up, 2 (Tanh), up
            widths = [scaled(c, width) for c in (256, 128, 64, 32, 16)]
            self.decoder = _decoder(512, widths, ups_after={1, 2, 3, 4})
        else:
            raise ValueError(f"unknown backbone {backbone!r}; choose resnet18 or vgg16")
        for p in self.features.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> Baseline:
        super().train(mode)
        self.features.eval()  # frozen: BatchNorm statistics stay the ImageNet ones
        return self

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            feats = self.features(self.prep(light))
        return self.decoder(feats)
