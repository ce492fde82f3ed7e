"""RepVGG-A0 (Ding et al., 2021) in its training-time form, 224x224.

Every block sums three branches, each with its own BN: a 3x3 conv, a 1x1 conv and (where input and
output widths and the grid agree) the identity, then a ReLU. Re-parameterised for inference, each
block is one 3x3 conv with bias and a ReLU: examples/zoo/repvgg_a0.py, which `effprof advise`
(rule `reparam`) prices this model against.

    effprof advise examples/repvgg_a0_train.py --hw a4000
"""

import torch
from torch import nn

STAGES = [(48, 1), (48, 2), (96, 4), (192, 14), (1280, 1)]  # (width, blocks); each stage starts with stride 2


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(out_channels))


class RepVGGBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.rbr_dense = conv_bn(in_channels, out_channels, 3, stride)
        self.rbr_1x1 = conv_bn(in_channels, out_channels, 1, stride)
        self.rbr_identity = nn.BatchNorm2d(in_channels) if in_channels == out_channels and stride == 1 else None
        self.nonlinearity = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return self.nonlinearity(out)


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
