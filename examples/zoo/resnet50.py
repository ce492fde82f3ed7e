"""Zoo: ResNet-50 (He et al., 2016), 224x224: 4.1G Mult-Adds, 25.6M params. Bottleneck blocks (1x1, 3x3, 1x1)."""

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resnet18 import ResNet, shortcut  # noqa: E402


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # stride on the 3x3, as torchvision
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def ResNet50(num_classes: int = 1000) -> nn.Module:
    stages, in_channels = [], 64
    for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        layers = []
        for index in range(blocks):
            layers.append(Bottleneck(in_channels, width, stride if index == 0 else 1))
            in_channels = width * Bottleneck.expansion
        stages.append(nn.Sequential(*layers))
    return ResNet(stages, 2048, num_classes)


def build_model() -> nn.Module:
    return ResNet50()


def example_inputs() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224)
