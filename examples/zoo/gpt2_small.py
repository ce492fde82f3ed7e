"""Zoo: a small GPT-2 (4 layers, width 384, 6 heads, GPT-2's 50257-token vocabulary) from a transformers config, 128 tokens.

Built from `GPT2Config` alone: random weights, nothing downloaded. The LM head (384 x 50257, tied
to the token embedding) is a large share of the work.
"""

import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

CONFIG = dict(n_layer=4, n_embd=384, n_head=6, n_positions=1024)
SEQUENCE = 128


def build_model() -> nn.Module:
    return GPT2LMHeadModel(GPT2Config(**CONFIG))


def example_inputs() -> dict:
    return {"input_ids": torch.ones(1, SEQUENCE, dtype=torch.long)}
