"""Zoo: ViT-Tiny/16 (DeiT-Ti sizes) from a transformers config, 224x224: 12 layers, width 192, 3 heads.

Built from `ViTConfig` alone: random weights, nothing downloaded.
"""

import torch
from torch import nn
from transformers import ViTConfig, ViTForImageClassification

CONFIG = dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768,
              image_size=224, patch_size=16, num_labels=1000)


def build_model() -> nn.Module:
    return ViTForImageClassification(ViTConfig(**CONFIG))


def example_inputs() -> dict:
    return {"pixel_values": torch.randn(1, 3, 224, 224)}
