"""MobileNetV1's twin: every depthwise-separable block replaced by one standard 3x3 conv.

Same channels, strides and depth as examples/mobilenet_v1.py; the paper's "Conv MobileNet"
(Table 4: 4866M Mult-Adds, 29.3M params). Compare the two to see that 8-9x the MACs does not
cost 8-9x the latency on a GPU:

    effprof compare examples/mobilenet_v1.py examples/mobilenet_v1_standard.py --hw a4000
"""

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mobilenet_v1 import MobileNetV1, conv_bn_relu  # noqa: E402


class StandardBlock(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(*conv_bn_relu(in_channels, out_channels, 3, stride))


def build_model() -> nn.Module:
    return MobileNetV1(block=StandardBlock)


def example_inputs() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224)
