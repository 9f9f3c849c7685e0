"""`unet`: U-Net with a ResNet-18 encoder, resize-then-conv decoder, L1 loss."""

from __future__ import annotations

import torch
from torch import nn

from colorize.training.models.base import RegressionModel, UpBlock, conv_bn_relu, scaled, upsample
from colorize.training.models.baseline import ImageNetInput
from colorize.training.pretrained import torchvision_weights


class ResNetUNet(RegressionModel):
    loss_kind = "l1"

    def __init__(self, pretrained: bool = True, width: float = 1.0):
        super().__init__()
        import torchvision.models as tvm

        net = torchvision_weights(tvm.resnet18, tvm.ResNet18_Weights, pretrained)
        self.prep = ImageNetInput()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu)  # 64, /2
        self.pool = net.maxpool
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        d = [scaled(c, width) for c in (256, 128, 64, 64, 32)]
        self.up16 = UpBlock(512, 256, d[0])
        self.up8 = UpBlock(d[0], 128, d[1])
        self.up4 = UpBlock(d[1], 64, d[2])
        self.up2 = UpBlock(d[2], 64, d[3])
        self.full = conv_bn_relu(d[3] + 1, d[4])
        self.head = nn.Conv2d(d[4], 2, 3, padding=1)

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        x2 = self.stem(self.prep(light))
        x4 = self.layers[0](self.pool(x2))
        x8 = self.layers[1](x4)
        x16 = self.layers[2](x8)
        x32 = self.layers[3](x16)
        x = self.up16(x32, x16)
        x = self.up8(x, x8)
        x = self.up4(x, x4)
        x = self.up2(x, x2)
        x = upsample(x, light.shape[-2:], 2)
        return torch.tanh(self.head(self.full(torch.cat([x, light], dim=1))))
