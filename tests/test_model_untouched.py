"""The model is left exactly as found, by every entry point that runs it, whatever the model.

One property, checked over model patterns x entry points: a snapshot taken before (every module
object under every name, its class, flags, parameter/buffer/submodule dicts by tensor identity,
hooks, plain tensor attributes, parametrizations; every tensor's identity, device, dtype,
requires_grad and values) equals the snapshot after, and the model still computes what an
identical twin that effprof never saw computes.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from profiler import profile
from profiler.api import profile_loaded
from profiler.crosscheck import crosscheck
from profiler.loading import LoadedModel
from profiler.realrun import time_forward, time_layers
from profiler.tracing import ModelInputs

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*deprecated:FutureWarning")

# --------------------------------------------------------------------------------- model patterns


class Tied(nn.Module):
    """An embedding and an output head sharing one weight tensor (GPT-2 style)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x):
        return self.head(self.embed(x))


class Hooked(nn.Module):
    """A model carrying its own hooks of every kind."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.fc.register_forward_pre_hook(lambda module, args: None)
        self.fc.register_forward_hook(lambda module, args, out: out * 2)
        self.register_forward_pre_hook(lambda module, args, kwargs: None, with_kwargs=True)
        self.register_forward_hook(lambda module, args, out: None, always_call=True)
        self.fc.register_full_backward_hook(lambda module, gin, gout: None)

    def forward(self, x):
        return self.fc(x)


class Stateful(nn.Module):
    """Updates a buffer of its own in place on every forward (a call counter)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.fc(x) * self.calls


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        self.fc(x)
        raise ValueError("this model always fails")


def _shared():
    shared = nn.Linear(4, 4)
    return nn.Sequential(shared, nn.ReLU(), shared)


def _bn_train():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5)).train()


def _vector():
    return torch.randn(2, 4)


# name -> (build the model, build its inputs); built twice from one seed, so the twin is identical
PATTERNS: dict[str, tuple[Callable[[], nn.Module], Callable[[], Any]]] = {
    "shared module under two names": (_shared, _vector),
    "tied weights across modules": (Tied, lambda: torch.tensor([[1, 2, 3]])),
    "parametrizations.weight_norm": (lambda: nn.utils.parametrizations.weight_norm(nn.Linear(4, 4)), _vector),
    "parametrizations.spectral_norm, train": (
        lambda: nn.utils.parametrizations.spectral_norm(nn.Linear(4, 4)).train(), _vector),
    "old-style weight_norm": (lambda: nn.utils.weight_norm(nn.Linear(4, 4)), _vector),
    "old-style spectral_norm, train": (lambda: nn.utils.spectral_norm(nn.Linear(4, 4)).train(), _vector),
    "DataParallel wrapper": (lambda: nn.DataParallel(nn.Sequential(nn.Linear(4, 4), nn.ReLU())), _vector),
    "own hooks": (Hooked, _vector),
    "train mode, BN running stats, dropout": (_bn_train, lambda: torch.randn(2, 3, 8, 8)),
    "buffer updated in place by forward": (Stateful, _vector),
    "forward raises": (Raises, _vector),
}


def build(pattern: str) -> tuple[nn.Module, Any]:
    make_model, make_inputs = PATTERNS[pattern]
    torch.manual_seed(0)
    return make_model(), make_inputs()


# ---------------------------------------------------------------------------------- entry points


class NeedsRealTensors(nn.Module):
    """Reads a value (`.item()`), which the meta device cannot: forces the CPU fallback."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if x.float().sum().item() != x.float().sum().item() + 1:
            return self.inner(x)


def _profile_meta(model, x):
    assert profile(model, x).device == "meta"


def _profile_cpu_fallback(model, x):
    assert profile(NeedsRealTensors(model), x).device == "cpu"


def _profile_loaded(model, x):  # the CLI's path: effprof MODEL, compare, check
    profile_loaded(LoadedModel(model, ModelInputs.from_example(x), "m", ["x"], rebuild_real=lambda: (model, x)))


def _measure(model, x):  # --measure: whole-forward and per-layer timing runs
    inputs = ModelInputs.from_example(x)
    time_forward(model, inputs, warmup=1, repeats=1)
    time_layers(model, inputs, warmup=1, repeats=1)


def _crosscheck(model, x):
    crosscheck(model, x)


def _check(model, x, monkeypatch=None):  # effprof check: budgets profile each entry
    from profiler.budgets import ModelEntry, profile_entry, run

    loaded = LoadedModel(model, ModelInputs.from_example(x), "m", ["x"], rebuild_real=lambda: (model, x))
    monkeypatch.setattr(run, "load_model", lambda *args: loaded)
    profile_entry(ModelEntry(name="m", target="m.py", where="m", hw="a4000"))


def _advise(model, x):
    from profiler.advise import advise

    advise(model, x, hardware="a4000")


ENTRY_POINTS = {
    "profile, meta": _profile_meta,
    "profile, CPU fallback": _profile_cpu_fallback,
    "profile_loaded (CLI, compare)": _profile_loaded,
    "measure": _measure,
    "crosscheck": _crosscheck,
    "check (budgets)": _check,
    "advise": _advise,
}

# ---------------------------------------------------------------------------------- the snapshot

HOOK_DICTS = sorted(k for k, v in vars(nn.Module()).items() if "hook" in k and isinstance(v, dict))


def _ids(mapping: dict) -> dict:
    return {key: id(value) for key, value in mapping.items()}


def snapshot(model: nn.Module) -> tuple[list, dict]:
    modules = []
    for name, module in model.named_modules(remove_duplicate=False):
        modules.append((
            name, id(module), type(module), module.training,
            _ids(module._parameters), _ids(module._buffers), _ids(module._modules),
            {hooks: _ids(getattr(module, hooks)) for hooks in HOOK_DICTS},
            sorted(vars(module)),
            {k: id(v) for k, v in vars(module).items() if isinstance(v, torch.Tensor)},
            parametrize.is_parametrized(module) and {k: len(v) for k, v in module.parametrizations.items()},
        ))
    tensors = {}
    for name, tensor in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        tensors[name] = (id(tensor), tensor.device, tensor.dtype, tensor.requires_grad, tensor.detach().clone())
    return modules, tensors


def assert_same(before: tuple[list, dict], after: tuple[list, dict]) -> None:
    modules_before, tensors_before = before
    modules_after, tensors_after = after
    assert modules_after == modules_before
    assert tensors_after.keys() == tensors_before.keys()
    for name, (*identity, values) in tensors_before.items():
        *identity_after, values_after = tensors_after[name]
        assert identity_after == identity, name
        assert torch.equal(values_after, values), f"{name} changed value"


def outcome(model: nn.Module, x: Any) -> Any:
    torch.manual_seed(1)  # dropout draws the same mask for the model and its twin
    with torch.no_grad():
        try:
            return model(x)
        except Exception as error:  # noqa: BLE001
            return type(error)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_model_left_exactly_as_found(pattern, entry, monkeypatch):
    model, x = build(pattern)
    before = snapshot(model)
    run = ENTRY_POINTS[entry]
    raising = pattern == "forward raises"
    with pytest.raises(Exception) if raising else contextlib.nullcontext():
        run(model, x, monkeypatch) if run is _check else run(model, x)
    assert_same(before, snapshot(model))
    twin, _ = build(pattern)
    expected, got = outcome(twin, x), outcome(model, x)
    if raising:
        assert got is expected is ValueError
    else:
        assert torch.equal(got, expected)
