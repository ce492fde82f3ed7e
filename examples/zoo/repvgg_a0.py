"""Zoo: RepVGG-A0 (Ding et al., 2021) in its deployed form, 224x224: 1.36G Mult-Adds, 8.3M params.

After re-parameterisation every block is one 3x3 conv with bias and a ReLU: a plain stack of
3x3 convs, no branches. Widths a=0.75, b=2.5; blocks per stage 1, 2, 4, 14, 1 (paper Table 2).
"""

import torch
from torch import nn

STAGES = [(48, 1), (48, 2), (96, 4), (192, 14), (1280, 1)]  # (width, blocks); each stage starts with stride 2


class RepVGGBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.ReLU(inplace=True))


class RepVGG(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        blocks, in_channels = [], 3
        for width, count in STAGES:
            for index in range(count):
                blocks.append(RepVGGBlock(in_channels, width, 2 if index == 0 else 1))
                in_channels = width
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def build_model() -> nn.Module:
    return RepVGG()


def example_inputs() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224)
