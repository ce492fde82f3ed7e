"""Run a model once under observation and record every aten op it calls.

Two interceptors, both scoped by `with` and gone when the forward returns or raises:
- forward pre/post hooks on every submodule keep the stack of running modules, so each op is
  attributed to the innermost one;
- a TorchDispatchMode sees every aten op, however it was called (`x @ w`, `F.interpolate`, a
  residual `+`), which module hooks alone never see.
`F.scaled_dot_product_attention` is caught one level higher, by a TorchFunctionMode, and
recorded as one kernel: below the dispatcher it is a fused kernel on one backend and a dozen math
ops on another (meta among them), and the count must not depend on which.

The model runs on the meta device: each module's parameter and buffer entries point at meta
stand-ins for the duration, so no weights are touched and no arithmetic is done. Only what
cannot run on meta (`.item()`, data-dependent shapes) falls back to real CPU tensors. Whatever
the run did to the module objects, `preserve.preserved` puts back in a `finally`; on real
tensors, every in-place write to the model's own tensors is undone too.
Ops are recorded by their full name (`aten::mm`, `mylib::mm`). No costs are computed here.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, MutableMapping, Protocol, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch._ops import OpOverload
from torch.nn.parameter import UninitializedBuffer, UninitializedParameter
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.hooks import RemovableHandle
from torch.utils.weak import WeakTensorKeyDictionary

from .errors import EffprofError, InputMismatchError, MetaUnsupportedError, TorchLimitError, user_frame
from .events import OpEvent, TensorMeta
from .preserve import ModelState, preserved

__all__ = ["Trace", "Roles", "ModelInputs", "trace_model", "is_meta_module", "eval_mode", "hooks_on_every_module"]

ATTENTION_PSEUDO_OP = "aten::scaled_dot_product_attention"


@dataclass(frozen=True)
class ModelInputs:
    """Positional and keyword arguments for one forward call."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_example(cls, example: Any) -> ModelInputs:
        """A tensor, a tuple/list of positional args, a dict of keyword args, or ModelInputs."""
        if isinstance(example, ModelInputs):
            return example
        if isinstance(example, dict):
            return cls((), dict(example))
        if isinstance(example, (tuple, list)):
            return cls(tuple(example), {})
        return cls((example,), {})

    def tensors(self) -> list[torch.Tensor]:
        found: list[torch.Tensor] = []
        tree_map(lambda v: found.append(v) if isinstance(v, torch.Tensor) else None, (self.args, self.kwargs))
        return found

    def map_tensors(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> ModelInputs:
        mapped = tree_map(lambda v: fn(v) if isinstance(v, torch.Tensor) else v, (self.args, self.kwargs))
        return ModelInputs(tuple(mapped[0]), dict(mapped[1]))


@dataclass
class Trace:
    """What one forward call did: its ops in order, and which modules ran."""

    events: list[OpEvent]
    module_types: dict[str, str]
    module_order: list[str]
    output_shapes: dict[str, tuple[int, ...]]
    module_calls: Counter[str]
    device: str  # "meta" or "cpu"
    notes: list[str] = field(default_factory=list)
    # token of a view -> token of the tensor whose storage it shares (views of views resolved):
    # lets a later pass tell a transposed weight from an activation, and count storage once
    view_of: dict[int, int] = field(default_factory=dict)
    # role name -> tokens of the tensors given that role: "parameters" (the model's parameters
    # and buffers, always), plus any passed to trace_model(tag=...), e.g. a KV cache's buffers
    tags: dict[str, frozenset[int]] = field(default_factory=dict)

    def base_token(self, token: int) -> int:
        return self.view_of.get(token, token)


@dataclass(frozen=True)
class Roles:
    """Which traced tensors are parameters and which the KV cache (base tokens, views resolved)."""

    parameters: frozenset[int]
    kv_cache: frozenset[int]
    view_of: dict[int, int]

    @classmethod
    def from_trace(cls, trace: Trace) -> Roles:
        return cls(
            parameters=trace.tags.get("parameters", frozenset()),
            kv_cache=trace.tags.get("kv_cache", frozenset()),
            view_of=trace.view_of,
        )

    def base(self, tensor: TensorMeta) -> int:
        return self.view_of.get(tensor.token, tensor.token)

    def is_parameter(self, tensor: TensorMeta) -> bool:
        return self.base(tensor) in self.parameters

    def is_kv(self, tensor: TensorMeta) -> bool:
        return self.base(tensor) in self.kv_cache


def is_meta_module(model: nn.Module) -> bool:
    return any(t.is_meta for t in _state_tensors(model))


def _state_tensors(model: nn.Module) -> Iterator[torch.Tensor]:
    yield from model.parameters()
    yield from model.buffers()


class _Recorder:
    """Holds the module stack and turns tensors into TensorMeta with stable identity tokens."""

    def __init__(self) -> None:
        self.events: list[OpEvent] = []
        self.stack: list[str] = []
        self.module_order: list[str] = []
        self.module_calls: Counter[str] = Counter()
        self.output_shapes: dict[str, tuple[int, ...]] = {}
        self.input_shapes: dict[str, list[tuple[int | str, ...]]] = {}  # a ragged dimension shows as "3..5"
        self.suppressed = 0
        # where the forward broke: (module path, aten op, shapes of its tensor arguments)
        self.failure: tuple[str, str, list[tuple[int | str, ...]]] | None = None
        self.raised_in: str | None = None
        # an exception already being handled when the forward started (a CPU rerun happens inside
        # the `except` of the meta attempt): never mistaken for one the forward raised
        self.outer_exception = sys.exc_info()[1]
        self.logged: list[str] = []  # warnings torch logged during the run: often why a kernel refused
        self._tokens: MutableMapping[torch.Tensor, int] = WeakTensorKeyDictionary()
        self._meta_tokens: dict[int, tuple[int, torch.Tensor]] = {}
        self._next_token = 0
        self.view_of: dict[int, int] = {}
        self.tags: dict[str, frozenset[int]] = {}

    def tag(self, role: str, tensors: Iterable[torch.Tensor]) -> None:
        self.tags[role] = self.tags.get(role, frozenset()) | {self.meta_of(t).token for t in tensors}

    def note_views(self, args: Any, out: Any) -> None:
        """`out` shares the storage of the first tensor argument (the op's schema says it aliases)."""
        sources = _flat_tensors(args)
        if not sources:
            return
        source = self.meta_of(sources[0]).token
        base = self.view_of.get(source, source)
        for tensor in _flat_tensors(out):
            token = self.meta_of(tensor).token
            if token != base:
                self.view_of[token] = base

    def meta_of(self, tensor: torch.Tensor) -> TensorMeta:
        if tensor.is_meta:
            # meta tensors cost no memory: hold them for the trace, so an id is never reused,
            # and look them up by id (a weak-key lookup costs ~20 us, a fifth of a traced op)
            entry = self._meta_tokens.get(id(tensor))
            if entry is None:
                entry = self._meta_tokens[id(tensor)] = (self._take_token(), tensor)
            token = entry[0]
        else:
            known = self._tokens.get(tensor)
            if known is None:
                known = self._tokens[tensor] = self._take_token()
            token = known
        jagged = _jagged(tensor)
        if jagged is not None:
            return _jagged_meta(tensor, jagged, token)
        return TensorMeta(tuple(tensor.shape), tensor.dtype, token)

    def _take_token(self) -> int:
        self._next_token += 1
        return self._next_token - 1

    def convert(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self.meta_of(value)
        if isinstance(value, list):
            return [self.convert(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.convert(v) for v in value)
        return value

    def record(self, op: str, args: Any, kwargs: dict[str, Any] | None, out: Any, inplace: bool = False) -> None:
        outputs = tuple(self.meta_of(t) for t in _flat_tensors(out))
        self.events.append(
            OpEvent(
                op=op,
                args=self.convert(tuple(args)),
                kwargs={k: self.convert(v) for k, v in (kwargs or {}).items()},
                outputs=outputs,
                module=self.stack[-1] if self.stack else "",
                inplace=inplace,
            )
        )

    def note_failure(self, op: str, args: Any) -> None:
        if self.failure is None:  # the innermost failing op is seen first
            shapes = [_shape_of(t) for t in _flat_tensors(args)]
            self.failure = (self.stack[-1] if self.stack else "", op, shapes)

    def logged_reasons(self) -> list[str]:
        """What torch logged, without headers ('... not used because:') or repeats, last three."""
        reasons = [m.rstrip(".") for m in dict.fromkeys(self.logged) if m and not m.endswith(":")]
        return reasons[-3:]

    @contextlib.contextmanager
    def suppress(self) -> Iterator[None]:
        self.suppressed += 1
        try:
            yield
        finally:
            self.suppressed -= 1


class _Jagged(Protocol):
    """What a jagged nested tensor adds to `torch.Tensor` (torch's stubs type it as a plain Tensor)."""

    _ragged_idx: int
    shape: torch.Size

    def offsets(self) -> torch.Tensor: ...


def _jagged(tensor: torch.Tensor) -> _Jagged | None:
    """`tensor` seen as a jagged nested tensor, or None when it is not one."""
    if tensor.is_nested and tensor.layout == torch.jagged:
        return cast(_Jagged, tensor)  # torch's stubs have no NestedTensor type to narrow to
    return None


def _shape_of(tensor: torch.Tensor) -> tuple[int | str, ...]:
    """A shape to show: a jagged nested tensor's ragged dimension as its range of lengths ('3..5')."""
    jagged = _jagged(tensor)
    if jagged is not None and not jagged.offsets().is_meta:
        lengths = _lengths(jagged)
        span = f"{min(lengths)}..{max(lengths)}" if lengths else "0"
        return tuple(span if i == jagged._ragged_idx else int(d) for i, d in enumerate(tensor.shape))
    return tuple(tensor.shape)


class _TorchLog(logging.Handler):
    """Collects the warnings torch logs during a run (they often say why no kernel would run)."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__(logging.WARNING)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        self.recorder.logged.append(record.getMessage().strip())


@contextlib.contextmanager
def _torch_log(recorder: _Recorder) -> Iterator[None]:
    handler = _TorchLog(recorder)
    logger = logging.getLogger("torch")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _lengths(tensor: _Jagged) -> tuple[int, ...]:
    """Sequence lengths of a jagged nested tensor (read with tolist(), which dispatches no op)."""
    offsets: list[int] = tensor.offsets().tolist()
    return tuple(end - start for start, end in zip(offsets, offsets[1:]))


def _jagged_meta(tensor: torch.Tensor, jagged: _Jagged, token: int) -> TensorMeta:
    """A jagged nested tensor: its sequence lengths from the offsets, the longest in its shape."""
    ragged_dim = jagged._ragged_idx
    if jagged.offsets().is_meta:
        raise RuntimeError("a jagged nested tensor on meta has no sequence lengths")  # -> the CPU run
    lengths = _lengths(jagged)
    shape = tuple(max(lengths, default=0) if i == ragged_dim else int(d) for i, d in enumerate(tensor.shape))
    return TensorMeta(shape, tensor.dtype, token, lengths, ragged_dim)


def _flat_tensors(value: Any) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    if not _plain_tensors(value, found):  # other containers (ModelOutput, namedtuples...): pytree knows them
        found.clear()
        tree_map(lambda v: found.append(v) if isinstance(v, torch.Tensor) else None, value)
    return found


# Leaves an aten call's arguments are made of. Walking them directly costs a fraction of pytree's
# node-type lookups, which were a fifth of the time of tracing a large model.
_PLAIN_LEAVES = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout, torch.memory_format)


def _plain_tensors(value: Any, found: list[torch.Tensor]) -> bool:
    """Collect the tensors of plain tuples/lists/dicts into `found`; False at any other container."""
    if isinstance(value, torch.Tensor):
        found.append(value)
        return True
    kind = type(value)
    if kind in _PLAIN_LEAVES:
        return True
    if kind is tuple or kind is list:
        return all(_plain_tensors(item, found) for item in value)
    if kind is dict:
        return all(_plain_tensors(item, found) for item in value.values())
    return False


def _written(func: OpOverload, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors a mutating op writes to (`self` of `add_`, `out=`, `running_mean` of BN)."""
    values = dict(zip((a.name for a in func._schema.arguments), args))
    values.update(kwargs)
    written: list[torch.Tensor] = []
    for argument in func._schema.arguments:
        if argument.alias_info is not None and argument.alias_info.is_write and argument.name in values:
            written += _flat_tensors(values[argument.name])
    return written


# Meta kernels stricter about dtypes than the CPU ones (the CPU runs _grouped_mm in fp32, its
# meta kernel wants bf16): on meta only shapes are computed, so run them in the dtype the meta
# kernel accepts and hand back the dtype the real kernel would have produced.
_META_KERNEL_DTYPE = {"aten::_grouped_mm": torch.bfloat16}


def _in_the_dtype_meta_accepts(func: OpOverload, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    dtype = _META_KERNEL_DTYPE.get(func._schema.name)
    tensors = _flat_tensors((args, kwargs))
    floating = [t for t in tensors if t.is_floating_point()]
    if dtype is None or not floating or not all(t.is_meta for t in tensors):
        return None
    produced = kwargs.get("out_dtype") or floating[0].dtype
    cast = lambda v: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v  # noqa: E731
    out = func(*tree_map(cast, args), **tree_map(cast, {k: v for k, v in kwargs.items() if k != "out_dtype"}))
    return tree_map(lambda v: v.to(produced) if isinstance(v, torch.Tensor) else v, out)


class _DispatchRecorder(TorchDispatchMode):
    def __init__(self, recorder: _Recorder, state: ModelState) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # torch's TorchDispatchMode.__init__ is unannotated
        self.recorder = recorder
        self.state = state

    def __torch_dispatch__(self, func: OpOverload, types: Sequence[type], args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        op = func._schema.name  # the full name: aten::mm, mylib::mm
        if func._schema.is_mutable:
            for tensor in _written(func, args, kwargs):
                self.state.protect(tensor)  # the model's own tensors get their values back after
        try:
            out = func(*args, **kwargs)
        except Exception:
            out = _in_the_dtype_meta_accepts(func, args, kwargs)
            if out is None:
                self.recorder.note_failure(op, args)
                raise
        if not self.recorder.suppressed:
            self.recorder.record(op, args, kwargs, out, func._schema.is_mutable)
            if _returns_view(func):
                self.recorder.note_views(args, out)
        return out


def _returns_view(func: OpOverload) -> bool:
    """True for ops whose outputs alias an input without writing it (t, view, expand, split...)."""
    found = _VIEW_FUNCS.get(func)
    if found is None:
        returns = func._schema.returns
        found = bool(returns) and all(r.alias_info is not None and not r.alias_info.is_write for r in returns)
        _VIEW_FUNCS[func] = found
    return found


_VIEW_FUNCS: dict[OpOverload, bool] = {}


class _AttentionRecorder(TorchFunctionMode):
    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Callable[..., Any], types: Sequence[type], args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if func is not F.scaled_dot_product_attention or self.recorder.suppressed:
            return func(*args, **kwargs)
        with self.recorder.suppress():
            out = func(*args, **kwargs)
        self.recorder.record(ATTENTION_PSEUDO_OP, args, kwargs, out)
        return out


@contextlib.contextmanager
def _module_hooks(model: nn.Module, recorder: _Recorder) -> Iterator[None]:
    def pre_hook(name: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            recorder.stack.append(name)
            if name not in recorder.module_calls:
                recorder.module_order.append(name)
                recorder.input_shapes[name] = [_shape_of(t) for t in _flat_tensors(args)]
            recorder.module_calls[name] += 1

        return hook

    def post_hook(name: str) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            # always_call=True runs this even when forward raises, so the stack stays balanced;
            # the innermost module still on the stack when an exception unwinds is where it broke
            in_flight = sys.exc_info()[1]
            if in_flight is not None and in_flight is not recorder.outer_exception and recorder.raised_in is None:
                recorder.raised_in = name
            if recorder.stack and recorder.stack[-1] == name:
                recorder.stack.pop()
            if name not in recorder.output_shapes:
                tensors = _flat_tensors(output)
                if tensors:
                    recorder.output_shapes[name] = tuple(tensors[0].shape)

        return hook

    with hooks_on_every_module(model, pre_hook, post_hook):
        yield


@contextlib.contextmanager
def hooks_on_every_module(
    model: nn.Module,
    pre_hook: Callable[[str], Callable[[nn.Module, Any], None]],
    post_hook: Callable[[str], Callable[[nn.Module, Any, Any], None]],
) -> Iterator[None]:
    """`pre_hook(name)` as a forward pre-hook and `post_hook(name)` as a forward hook (called even
    when the forward raises) on every module, each once under its first name (a shared module keeps
    its first path); all removed after, whatever happens."""
    handles: list[RemovableHandle] = []
    try:
        seen: set[int] = set()
        for name, module in model.named_modules(remove_duplicate=False):
            if id(module) in seen:
                continue  # a shared module keeps its first name
            seen.add(id(module))
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name), always_call=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode for a run on the model's real tensors; the model restored exactly after (its
    modules, hooks and flags; its buffers' values, which nothing intercepts to protect)."""
    with preserved(model, copy_buffers=True):
        model.eval()
        yield


# Failures that come from the meta device itself, not from the model or its inputs.
_META_FAILURE = re.compile(
    r"meta|data.dependent|item\(\)|Cannot copy out|_local_scalar_dense|nonzero|"
    r"expected all tensors to be on the same device|is not on the expected device|"
    r"found at least two devices|Could not run",
    re.IGNORECASE,
)


def _run(model: nn.Module, inputs: ModelInputs, recorder: _Recorder, stand_ins: bool) -> None:
    with preserved(model) as found, _module_hooks(model, recorder), _torch_log(recorder), torch.no_grad():
        model.eval()
        if stand_ins:
            _swap_in_meta_stand_ins(model)
        recorder.tag("parameters", _state_tensors(model))  # the tensors the forward reads, stand-ins included
        with _AttentionRecorder(recorder), _DispatchRecorder(recorder, found):
            model(*inputs.args, **inputs.kwargs)


def _swap_in_meta_stand_ins(model: nn.Module) -> None:
    """Point every module's parameter and buffer entries at meta stand-ins, one per tensor object
    (so tied and shared weights stay tied); `preserved()` puts the real ones back."""
    stand_ins: dict[int, torch.Tensor] = {}
    for module in model.modules():
        tables: tuple[dict[str, Any], ...] = (module._parameters, module._buffers)  # a Parameter's stand-in is one too
        for table in tables:
            for key, tensor in table.items():
                if tensor is None or tensor.is_meta or isinstance(tensor, (UninitializedParameter, UninitializedBuffer)):
                    continue
                stand_in = stand_ins.get(id(tensor))
                if stand_in is None:
                    stand_in = torch.empty_like(tensor, device="meta")
                    if isinstance(tensor, nn.Parameter):
                        stand_in = nn.Parameter(stand_in, requires_grad=tensor.requires_grad)
                    stand_ins[id(tensor)] = stand_in
                table[key] = stand_in


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# torch saying it has no kernel for a combination of inputs, rather than that the inputs are wrong
_TORCH_LIMIT = re.compile(r"not (yet )?(supported|implemented)|no viable backend|no kernel", re.IGNORECASE)


def _mismatch(recorder: _Recorder, error: Exception, types: dict[str, str]) -> EffprofError:
    if isinstance(error, NotImplementedError) or _TORCH_LIMIT.search(str(error)):
        layer = recorder.failure[0] if recorder.failure else (recorder.raised_in or "")
        shapes = recorder.failure[2] if recorder.failure else recorder.input_shapes.get(layer, [])
        detail = f"{type(error).__name__}: {_first_line(error).rstrip('.')}"
        return TorchLimitError(layer or "(root)", types.get(layer, "?"), shapes, detail, recorder.logged_reasons())
    if recorder.failure is not None:
        layer, op, shapes = recorder.failure
        detail = f"{op} failed: {_first_line(error).rstrip('.')}"
    else:  # raised by Python code in a forward, not by an aten op
        layer = recorder.raised_in or ""
        shapes, detail = recorder.input_shapes.get(layer, []), f"{type(error).__name__}: {_first_line(error)}"
    return InputMismatchError(
        layer=layer or "(root)",
        layer_type=types.get(layer, "?"),
        input_shapes=shapes,
        detail=detail,
        frame=user_frame(error),
        # torch's own shape checks raise RuntimeError; anything else is the model's code speaking
        raised_by_model=recorder.failure is None and not isinstance(error, RuntimeError),
    )


def _attempt(
    model: nn.Module, inputs: ModelInputs, stand_ins: bool, device: str, tag: Mapping[str, Iterable[torch.Tensor]]
) -> Trace:
    recorder = _Recorder()
    for role, tensors in tag.items():
        recorder.tag(role, tensors)
    types: dict[str, str] = {name: type(m).__name__ for name, m in model.named_modules()}
    try:
        _run(model, inputs, recorder, stand_ins)
    except Exception as error:  # noqa: BLE001 - classified below, never swallowed
        mismatch = _mismatch(recorder, error, types)
        if device == "meta":
            # a meta kernel may be stricter than the CPU one (aten._grouped_mm wants bf16 on meta):
            # any meta failure earns a real-tensor run, which tells a meta limit from bad inputs
            failed_op = f"{recorder.failure[1]}: " if recorder.failure else ""
            clearly_meta = bool(_META_FAILURE.search(f"{type(error).__name__}: {error}"))
            raise MetaUnsupportedError(f"{failed_op}{_first_line(error)}", mismatch, clearly_meta) from error
        raise mismatch from error
    return Trace(
        events=recorder.events,
        module_types=types,
        module_order=recorder.module_order,
        output_shapes=recorder.output_shapes,
        module_calls=recorder.module_calls,
        device=device,
        view_of=recorder.view_of,
        tags=recorder.tags,
    )


def trace_model(
    model: nn.Module,
    inputs: ModelInputs,
    *,
    allow_real: bool = True,
    tag: Mapping[str, Iterable[torch.Tensor]] | None = None,
) -> Trace:
    """Record one forward call of `model`, on meta where possible.

    A model already on meta runs as it is. A real model runs with meta stand-ins for its
    parameters and buffers (the model is restored exactly after); if an op cannot run on meta and
    `allow_real`, the real model runs on its real tensors instead, and the trace says so.
    Raises MetaUnsupportedError when a meta model fails on meta (the caller may rebuild it on
    CPU to tell a meta limit from bad inputs), InputMismatchError when the inputs do not fit.
    `tag` names roles for tensors the forward will see (role -> tensors): `Trace.tags` gives
    their tokens, next to the "parameters" role every trace has.
    """
    tag = {role: list(tensors) for role, tensors in (tag or {}).items()}
    # Tensors made under inference mode lack the autograd dispatch keys, so composite ops on them
    # would reach the dispatcher undecomposed: make every stand-in outside inference mode.
    with torch.inference_mode(False):
        meta_inputs = inputs.map_tensors(lambda t: torch.empty_like(t, device="meta"))
        if is_meta_module(model):
            return _attempt(model, meta_inputs, False, "meta", tag)
        try:
            return _attempt(model, meta_inputs, True, "meta", tag)
        except MetaUnsupportedError as error:
            if not allow_real:
                raise
            if any(t.is_meta for t in inputs.tensors()):
                raise error.without_fallback("the inputs are meta tensors, so there is no real run to fall back to") from error
            real_inputs = inputs.map_tensors(lambda t: t.clone() if t.is_inference() else t)
            trace = _attempt(model, real_inputs, False, "cpu", tag)
            trace.notes.append(f"ran on real CPU tensors: an op cannot run on the meta device ({error.reason})")
            return trace
