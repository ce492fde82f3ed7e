"""One TF32 setting for matmul and cuDNN alike, restored after; one inference context."""

from __future__ import annotations

import torch
from torch import nn

from profiler.realrun import inference, tf32


def test_tf32_sets_matmul_and_cudnn_together_and_restores_them():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    for allowed in (True, False):
        with tf32(allowed):
            assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (allowed, allowed)
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_inference_is_eval_and_no_grad_and_leaves_the_model_in_train_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with inference(model):
        assert not model.training and not model[1].training and not torch.is_grad_enabled()
    assert model.training and model[1].training and torch.is_grad_enabled()
