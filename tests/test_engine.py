"""Tracing and aggregation: attribution, the model left as found, meta and its CPU fallback."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profiler import profile
from profiler.errors import InputMismatchError, MetaUnsupportedError


class Block(nn.Module):
    """Functional ops inside a module: a matmul with `@` and a residual `+`."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8, bias=False)
        self.weight = nn.Parameter(torch.randn(8, 8))

    def forward(self, x):
        return self.proj(x) @ self.weight + x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(torch.relu(self.block(x)))


def test_functional_ops_go_to_the_innermost_running_module():
    report = profile(Net(), torch.randn(4, 8))
    rows = {layer.name: layer for layer in report.layers}
    # block: (x @ W) 4*8*8 = 256 MACs, residual add 32 FLOPs; proj 256 MACs is its own
    assert rows["block.proj"].macs == 256
    assert (rows["block"].macs, rows["block"].flops) == (256, 512 + 32)
    assert rows["block"].params == 64  # its own weight; proj's belong to proj
    # relu is called in Net.forward, outside every submodule: the root's
    assert (rows[""].macs, rows[""].flops) == (0, 32)
    assert sum(l.flops for l in report.layers) == report.totals.flops


def test_layers_add_up_to_totals_and_folding_keeps_sums():
    report = profile(Net(), torch.randn(4, 8))
    folded = report.rows(depth=1)
    assert [row.name for row in folded] == ["", "block", "head"]
    assert sum(row.macs for row in folded) == report.totals.macs
    assert {row.name: row.macs for row in folded}["block"] == 512


class Stage(nn.Module):
    """A container whose first child's output (8 channels, 6x6) is not its own (4 channels, 1x1);
    its convs sit in a ModuleList, which is never called itself and so has no output of its own."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1)])
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        for conv in self.convs:
            x = conv(x)
        return self.pool(x)


class StagedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage = Stage()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x):
        return self.head(self.stage(x))


def test_a_container_row_shows_its_own_output_never_its_first_childs():
    report = profile(StagedNet(), torch.randn(1, 3, 6, 6))
    shapes = {depth: {row.name: row.output_shape for row in report.rows(depth=depth)} for depth in (0, 1, 2)}
    # first children: stage.convs.0 gives (1, 8, 6, 6), head.0 (Flatten) gives (1, 4)
    assert shapes[0] == {"": (1, 2)}
    assert shapes[1] == {"stage": (1, 4, 1, 1), "head": (1, 2)}
    assert shapes[2]["stage.convs"] is None  # a ModuleList returns nothing: no shape, not convs.0's
    assert shapes[2]["stage.pool"] == (1, 4, 1, 1)


def test_sort_and_top():
    report = profile(Net(), torch.randn(4, 8))
    top = report.rows(sort="macs", top=2)
    assert [row.macs for row in top] == [256, 256]


def snapshot(model: nn.Module):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [(name, m.training) for name, m in model.named_modules()],
        [(name, len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in model.named_modules()],
        sorted(vars(model)),
        [p.device for p in model.parameters()],
    )


def assert_same(before, after):
    state_before, *rest_before = before
    state_after, *rest_after = after
    assert state_before.keys() == state_after.keys()
    assert all(torch.equal(state_before[k], state_after[k]) for k in state_before)
    assert rest_before == rest_after


def test_model_left_exactly_as_found():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).train()
    before = snapshot(model)
    profile(model, torch.randn(1, 3, 8, 8))
    assert_same(before, snapshot(model))
    assert model.training


def test_model_left_as_found_when_forward_raises():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).view(7, -1)  # cannot fit

    model = Broken().train()
    before = snapshot(model)
    with pytest.raises(InputMismatchError):
        profile(model, torch.randn(1, 3, 8, 8))
    assert_same(before, snapshot(model))


def test_input_mismatch_names_the_layer_and_both_shapes():
    model = nn.Sequential(nn.Linear(8, 4), nn.Linear(5, 2))
    with pytest.raises(InputMismatchError) as caught:
        profile(model, torch.randn(3, 8))
    error = caught.value
    assert error.layer == "1" and error.layer_type == "Linear"
    # addmm(bias, x, W^T): the input (3, 4) and the transposed weight (5, 2)
    assert (3, 4) in error.input_shapes and (5, 2) in error.input_shapes


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode, torch.enable_grad])
def test_works_under_grad_modes_and_counts_do_not_leak(context):
    model = Net()
    with context():
        first = profile(model, torch.randn(4, 8))
        second = profile(model, torch.randn(4, 8))
    assert first.totals == second.totals
    # proj 4*8*8 + (x @ W) 4*8*8 + head 4*8*2
    assert first.totals.macs == 256 + 256 + 64


class ItemModel(nn.Module):
    """Reads a value with .item(): impossible on meta, so effprof must fall back to real CPU."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        steps = int(x.abs().sum().item() > -1) + 1  # always 2, but data-dependent for torch
        for _ in range(steps):
            x = self.fc(x)
        return x


def test_data_dependent_model_falls_back_to_cpu_and_says_so():
    report = profile(ItemModel(), torch.randn(2, 6))
    assert report.device == "cpu"
    assert any("real CPU tensors" in note for note in report.notes)
    assert report.layer("fc").macs == 2 * (2 * 6 * 6)  # called twice


def test_meta_model_that_cannot_run_on_meta_raises_for_the_caller_to_rebuild():
    with torch.device("meta"):
        model = ItemModel()
    with pytest.raises(MetaUnsupportedError):
        profile(model, torch.empty(2, 6, device="meta"))


def test_kwargs_inputs_and_batch_override():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4, bias=False)

        def forward(self, a, b=None):
            return self.fc(a) + b

    report = profile(TwoInputs(), {"a": torch.randn(1, 4), "b": torch.randn(1, 4)}, batch=8)
    assert report.layer("fc").macs == 8 * 4 * 4
    assert [i.shape for i in report.inputs] == [(8, 4), (8, 4)]


def test_shared_module_called_twice_accumulates():
    shared = nn.Linear(3, 3, bias=False)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    report = profile(model, torch.randn(1, 3))
    assert report.layer("0").macs == 2 * 9
    assert report.layer("0").calls == 2
    assert report.totals.params == 9
    assert shared.weight.device.type == "cpu"  # the weights came back (tests/test_model_untouched.py: all of it)


def test_json_schema_is_stable():
    data = profile(Net(), torch.randn(4, 8)).to_dict()
    assert set(data) == {
        "schema_version", "model", "inputs", "inputs_guessed", "dtype", "device", "totals", "layers", "unsupported_ops", "notes",
    }
    assert data["inputs_guessed"] is False  # the caller gave them
    assert data["schema_version"] == 1
    assert set(data["totals"]) >= {"params", "buffers", "macs", "flops", "bytes_read", "bytes_written"}
    assert set(data["layers"][0]) >= {
        "name", "type", "conv_kind", "output_shape", "params", "macs", "flops", "bytes_read", "bytes_written", "intensity",
    }
    assert data["inputs"] == [{"name": "input", "shape": [4, 8], "dtype": "fp32"}]


def test_large_model_on_meta_allocates_nothing():
    # 16 layers of 8192x8192 would be 4.3 GB in fp32; on meta it is free
    with torch.device("meta"):
        model = nn.Sequential(*[nn.Linear(8192, 8192, bias=False) for _ in range(16)])
    report = profile(model, torch.empty(1, 8192, device="meta"))
    assert report.totals.params == 16 * 8192 * 8192
    assert report.totals.macs == 16 * 8192 * 8192


def test_an_exception_of_the_model_itself_is_named_as_such():
    class Refuses(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) if x.shape[-1] == 5 else (_ for _ in ()).throw(ValueError("needs 5 features"))

    with pytest.raises(InputMismatchError, match=r"the model's forward raised at layer '\(root\)' \(Refuses\), given tensors \[2, 4\]: ValueError: needs 5 features"):
        profile(Refuses(), torch.randn(2, 4))


def test_a_model_given_keyword_inputs_only_is_not_said_to_have_no_tensors():
    # module hooks see positional arguments only: a keyword-only call must not read "given tensors no tensors"
    class KeywordOnly(nn.Module):
        def forward(self, *, pixel_values):
            raise ValueError("wants a video")

    with pytest.raises(InputMismatchError) as raised:
        profile(KeywordOnly(), {"pixel_values": torch.randn(1, 3, 8, 8)})
    message = str(raised.value)
    assert "no tensors" not in message
    assert "raised at layer '(root)' (KeywordOnly): ValueError: wants a video" in message
