"""Zoo: a BERT encoder (BERT-small sizes: 4 layers, width 512, 8 heads) from a transformers config, 128 tokens.

Built from `BertConfig` alone: random weights, nothing downloaded.
"""

import torch
from torch import nn
from transformers import BertConfig, BertModel

CONFIG = dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048)
SEQUENCE = 128


def build_model() -> nn.Module:
    return BertModel(BertConfig(**CONFIG), add_pooling_layer=False)


def example_inputs() -> dict:
    return {"input_ids": torch.ones(1, SEQUENCE, dtype=torch.long)}
