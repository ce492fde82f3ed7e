"""Zoo: ShuffleNetV2 1.0x (Ma et al., 2018), 224x224: 146M Mult-Adds, 2.3M params.

Units split the channels in two halves (`chunk`), run a 1x1 / depthwise 3x3 / 1x1 branch on one,
concatenate and shuffle the channels (view, transpose, contiguous): the memory-access-heavy
design the paper argues for.
"""

import torch
from torch import nn


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, c, h, w)


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int, groups: int, relu: bool) -> nn.Sequential:
    layers = [nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ShuffleUnit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = out_channels // 2
        branch_in = in_channels if stride > 1 else half
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(in_channels, in_channels, 3, stride, in_channels, False),
                                         conv_bn(in_channels, half, 1, 1, 1, True))
        self.branch2 = nn.Sequential(conv_bn(branch_in, half, 1, 1, 1, True),
                                     conv_bn(half, half, 3, stride, half, False),
                                     conv_bn(half, half, 1, 1, 1, True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            left, right = x.chunk(2, dim=1)
            out = torch.cat((left, self.branch2(right)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = conv_bn(3, 24, 3, 2, 1, True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, in_channels = [], 24
        for out_channels, repeats in [(116, 4), (232, 8), (464, 4)]:
            units = [ShuffleUnit(in_channels, out_channels, 2)]
            units += [ShuffleUnit(out_channels, out_channels, 1) for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*units))
            in_channels = out_channels
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = conv_bn(in_channels, 1024, 1, 1, 1, True)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean((2, 3)))


def build_model() -> nn.Module:
    return ShuffleNetV2()


def example_inputs() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224)
