"""Peak activation memory from the liveness of traced tensors."""

from __future__ import annotations

import torch
from torch import nn

from profiler.events import OpEvent, TensorMeta
from profiler.liveness import peak_live_bytes
from profiler.tracing import ModelInputs, trace_model


def _tensor(token: int, elements: int) -> TensorMeta:
    return TensorMeta((elements,), torch.float32, token)


def test_a_tensor_lives_from_its_op_to_its_last_reader_and_views_extend_their_base():
    x = _tensor(0, 100)  # input: exists before the forward, not counted
    a, a_view, b, c = _tensor(1, 10), _tensor(2, 10), _tensor(3, 20), _tensor(4, 5)
    events = [
        OpEvent("relu", (x,), {}, (a,), ""),  # a: 40 B
        OpEvent("view", (a,), {}, (a_view,), ""),  # shares a's storage
        OpEvent("sigmoid", (x,), {}, (b,), ""),  # a + b live: 40 + 80 = 120
        OpEvent("neg", (b,), {}, (c,), ""),  # b dies here; a still live through its view: 40 + 80 + 20 = 140
        OpEvent("add", (a_view, c), {}, (_tensor(5, 5),), ""),  # a, c and the sum: 40 + 20 + 20 = 80
    ]
    assert peak_live_bytes(events, {2: 1}) == 140
    # excluding a (say, a parameter) removes its 40 B everywhere: peak 80 + 20 = 100
    assert peak_live_bytes(events, {2: 1}, exclude=frozenset({1})) == 100


def test_mlp_peak_is_its_two_widest_tensors():
    # x (1, 1024) fp32 is an input. fc1 -> h (1, 4096) 16,384 B; relu -> r 16,384 B while h is
    # still being read; fc2 -> y (1, 1024) 4,096 B after h died. Peak: h + r = 32,768 B.
    model = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 1024))
    trace = trace_model(model, ModelInputs((torch.empty(1, 1024),)))
    assert peak_live_bytes(trace.events, trace.view_of, trace.tags["parameters"]) == 32_768


def test_in_place_ops_allocate_nothing():
    # h = fc(x) 16,384 B; relu_ writes into h: the peak stays 16,384 B
    model = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(inplace=True))
    trace = trace_model(model, ModelInputs((torch.empty(1, 1024),)))
    assert peak_live_bytes(trace.events, trace.view_of, trace.tags["parameters"]) == 16_384
