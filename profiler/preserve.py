"""Leave the user's model exactly as found, whatever running it did.

effprof runs the user's model several ways (on meta stand-ins swapped into `_parameters` and
`_buffers`, on real CPU tensors, under fvcore's tracer, in timing runs with hooks), and each of
those touches the module objects: old-style `weight_norm` and `spectral_norm` store a freshly
computed `weight` attribute on every forward, hooks are added and removed, `eval()` flips flags,
a forward may cache tensors on `self`. (`torch.func.functional_call`, which effprof once used,
does not even restore a module registered under two names: its weights came back on meta.)
Rather than trust each step to undo itself, `preserved()` snapshots every module object
reachable from the model (once each, however many names it has): its class, its `__dict__`, and
the contents of every container in it (`_parameters`, `_buffers`, `_modules`, every hooks dict,
the parametrization lists), and restores all of it in a `finally`. Tensors keep their identity;
their storage (`.data`) and `requires_grad` are put back too.

Values: a run on stand-ins cannot write to the model's tensors. A run on real tensors can (a
buffer updated in place, a counter); `ModelState.protect()` copies a tensor's values before its
first in-place write (the tracer calls it for every mutating op it dispatches), and
`copy_buffers=True` copies the real buffers up front for runs nothing intercepts (fvcore,
timing). Either copy is written back only when the tensor's version counter moved.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

__all__ = ["ModelState", "preserved"]

_CONTAINERS = (dict, set, list)


@dataclass
class _TensorState:
    tensor: torch.Tensor
    alias: torch.Tensor  # shares the original storage: puts `.data` back if it was swapped
    requires_grad: bool
    version: int


@dataclass
class _ModuleState:
    module: nn.Module
    cls: type
    attributes: dict[str, Any]
    containers: dict[str, Any]  # id-preserving copies of the dicts, sets and lists in __dict__


@dataclass
class ModelState:
    """A snapshot of every module object reachable from one model, restorable exactly."""

    modules: list[_ModuleState]
    tensors: dict[int, _TensorState]
    saved_values: dict[int, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def take(cls, model: nn.Module) -> ModelState:
        modules = []
        tensors: dict[int, _TensorState] = {}
        for module in _every_module(model):
            attributes = dict(module.__dict__)
            containers = {k: _copy_container(v) for k, v in attributes.items() if isinstance(v, _CONTAINERS)}
            modules.append(_ModuleState(module, type(module), attributes, containers))
            for tensor in [*module._parameters.values(), *module._buffers.values()]:
                if isinstance(tensor, torch.Tensor) and id(tensor) not in tensors:
                    tensors[id(tensor)] = _TensorState(tensor, tensor.detach(), tensor.requires_grad, tensor._version)
        return cls(modules, tensors)

    def protect(self, tensor: torch.Tensor) -> None:
        """Copy the values of `tensor` (or of the model tensor it is a view of) before a write."""
        base = tensor._base if tensor._base is not None else tensor
        key = id(base)
        if key in self.tensors and key not in self.saved_values and not base.is_meta:
            with torch.no_grad():
                self.saved_values[key] = base.detach().clone()

    def copy_buffers(self) -> None:
        for module in self.modules:
            for buffer in module.module._buffers.values():
                if isinstance(buffer, torch.Tensor):
                    self.protect(buffer)

    def restore(self) -> None:
        for state in self.modules:
            _restore_module(state)
        for key, kept in self.tensors.items():
            tensor = kept.tensor
            if _storage_swapped(tensor, kept.alias):
                tensor.data = kept.alias
            if tensor.requires_grad != kept.requires_grad:
                tensor.requires_grad_(kept.requires_grad)
            saved = self.saved_values.get(key)
            if saved is not None and tensor._version != kept.version:
                with torch.no_grad():
                    tensor.copy_(saved)
        self.saved_values.clear()


def _storage_swapped(tensor: torch.Tensor, alias: torch.Tensor) -> bool:
    """Whether `tensor.data` was replaced since `alias` was taken (meta tensors have no data to lose)."""
    if tensor.device != alias.device or tensor.dtype != alias.dtype or tensor.shape != alias.shape:
        return True
    return not tensor.is_meta and (tensor.data_ptr(), tensor.stride()) != (alias.data_ptr(), alias.stride())


def _every_module(model: nn.Module) -> Iterator[nn.Module]:
    """Every module object reachable through `_modules`, once each (shared ones included)."""
    seen: set[int] = set()
    todo = [model]
    while todo:
        module = todo.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        yield module
        todo.extend(child for child in module.__dict__.get("_modules", {}).values() if isinstance(child, nn.Module))


def _copy_container(value: Any) -> Any:
    return value.copy()


def _same_contents(current: Any, saved: Any) -> bool:
    if isinstance(saved, dict):
        return current.keys() == saved.keys() and all(current[k] is v for k, v in saved.items())
    if isinstance(saved, list):
        return len(current) == len(saved) and all(a is b for a, b in zip(current, saved))
    return bool(current == saved)  # sets


def _restore_module(state: _ModuleState) -> None:
    module = state.module
    if type(module) is not state.cls:
        module.__class__ = state.cls  # a parametrization swaps the class
    current = module.__dict__
    for key in [k for k in current if k not in state.attributes]:
        del current[key]
    for key, value in state.attributes.items():
        if current.get(key, _MISSING) is not value:
            current[key] = value
    for key, saved in state.containers.items():
        container = current[key]
        if not _same_contents(container, saved):
            container.clear()
            container.update(saved) if not isinstance(container, list) else container.extend(saved)


_MISSING = object()


@contextlib.contextmanager
def preserved(model: nn.Module, *, copy_buffers: bool = False) -> Iterator[ModelState]:
    """Snapshot `model` now and restore it exactly when the block ends, also when it raises."""
    state = ModelState.take(model)
    if copy_buffers:
        state.copy_buffers()
    try:
        yield state
    finally:
        state.restore()
