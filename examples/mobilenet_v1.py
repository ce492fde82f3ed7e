"""MobileNetV1 (Howard et al., 2017), width 1.0, 224x224: 569M Mult-Adds, 4.2M params.

Built from the seed note's code with its bug fixed: the depthwise conv there was written
`Conv2d(in_channels, 64, groups=4)`; a depthwise conv has one filter per input channel,
`Conv2d(in_channels, in_channels, groups=in_channels)`.

    effprof examples/mobilenet_v1.py --hw a4000
"""

import torch
from torch import nn

# (out_channels, stride) of the 13 depthwise-separable blocks, paper Table 1
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv (one filter per channel) then 1x1 pointwise conv, each with BN + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.dw = conv_bn_relu(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pw = conv_bn_relu(in_channels, out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 1000, block=DepthwiseSeparable) -> None:
        super().__init__()
        layers = [conv_bn_relu(3, 32, 3, 2)]
        in_channels = 32
        for out_channels, stride in BLOCKS:
            layers.append(block(in_channels, out_channels, stride))
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))
        return self.fc(torch.flatten(x, 1))


def build_model() -> nn.Module:
    return MobileNetV1()


def example_inputs() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224)
