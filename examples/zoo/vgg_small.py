"""Zoo: a small plain VGG-style CNN (VGG-11 layout at half width), 224x224: 3x3 convs, ReLU, max pools, an MLP head."""

import torch
from torch import nn

LAYOUT = [32, "M", 64, "M", 128, 128, "M", 256, 256, "M", 256, 256, "M"]


class SmallVGG(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers, in_channels = [], 3
        for item in LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU(inplace=True)]
                in_channels = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(in_channels * 7 * 7, 1024), nn.ReLU(inplace=True), nn.Linear(1024, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def build_model() -> nn.Module:
    return SmallVGG()


def example_inputs() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224)
