"""`effprof crosscheck`: effprof's MACs beside fvcore's and torch's FlopCounterMode's, per module,
with every difference explained by the convention that causes it.

The three tools disagree on the same model for reasons users otherwise spend days on:
- fvcore's "flop" is one multiply-add (so it is compared with MACs as it is), but its default
  table also counts BatchNorm, LayerNorm, GroupNorm, bilinear/nearest upsampling and adaptive
  average pooling in that unit, while effprof counts those as FLOPs and 0 MACs; it has no handle
  for `aten::scaled_dot_product_attention` and lists it as unsupported; it costs einsum with
  numpy's `einsum_path` FLOPs / 2, which also counts outer products (no MACs for effprof).
- FlopCounterMode counts 2 FLOPs per multiply-add of matmuls, convolutions and attention, so it
  is compared halved; it has formulas for the CUDA SDPA kernels but not for the one CPU runs
  (`aten._scaled_dot_product_flash_attention_for_cpu`), so on CPU attention counts zero.
Both must execute the model (fvcore traces it with `torch.jit`, FlopCounterMode dispatches real
ops), so crosscheck needs a real model on the CPU and small inputs; it refuses models above a
size limit instead of running for minutes.

Differences are derived from per-op data, never from the tool's name alone: each module's counts
are split by op family (matrix products and attention, norms, resampling, pooling, other), and
each family that differs gets its cause, with per-element rates measured from the ops that ran.
What no rule explains is reported as `unexplained`, with its size, never hidden.
"""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

from torch import nn
from torch._ops import OpOverload
from torch.utils._python_dispatch import TorchDispatchMode

from .api import profile
from .errors import UsageError, on_command_line, option
from .realrun import inference
from .report import Report
from .tracing import ModelInputs, is_meta_module
from .units import si
from .vocabulary import KernelFamily

__all__ = [
    "Difference",
    "ModuleCheck",
    "Crosscheck",
    "crosscheck",
    "MAX_PARAMS",
    "MAX_INPUT_ELEMENTS",
    "MAX_MACS",
]

# Both peers run the model for real on the CPU (2 cores in CI): beyond these it takes minutes.
MAX_PARAMS = 200_000_000
MAX_INPUT_ELEMENTS = 16_000_000  # per input tensor: a 1x3x2300x2300 image, a 16M-token batch
MAX_MACS = 50_000_000_000  # ~12 ResNet-50s at 224; counted by effprof on meta before anything runs

FVCORE = "fvcore"
FLOP_COUNTER = "FlopCounterMode"

# fvcore's op names (its handle keys without "aten::", conv renamed "conv") by family
_FVCORE_MATRIX = {"conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum"}
_FVCORE_NORM = {"batch_norm": "BatchNorm", "layer_norm": "LayerNorm", "group_norm": "GroupNorm",
                "instance_norm": "InstanceNorm"}
_FVCORE_RESAMPLE = {"upsample_nearest2d": "nearest upsampling", "upsample_bilinear2d": "bilinear upsampling",
                    "grid_sampler": "grid sampling"}
_FVCORE_POOL = {"adaptive_avg_pool2d": "adaptive average pooling"}

# effprof op families that carry MACs
_MATRIX_FAMILIES = {KernelFamily.CONV, KernelFamily.MATMUL, KernelFamily.ATTENTION}


@dataclass(frozen=True)
class Difference:
    """One cause of a tool's count differing from effprof's in one module (or summed over many)."""

    tool: str  # FVCORE or FLOP_COUNTER
    category: str  # norm | resample | pool | attention | einsum | other | effprof-unsupported | unexplained
    cause: str
    macs: int  # the tool's count minus effprof's that this cause accounts for
    modules: int = 1

    @property
    def text(self) -> str:
        where = f" over {self.modules} modules" if self.modules > 1 else ""
        return f"{self.cause}: {self.macs:+,} MACs{where}"


@dataclass(frozen=True)
class ModuleCheck:
    """One module's own (self) MACs by each tool; None where the tool could not run."""

    module: str
    type: str
    effprof_macs: int
    fvcore_macs: int | None
    flop_counter_macs: int | None
    differences: tuple[Difference, ...] = ()



@dataclass(frozen=True)
class Crosscheck:
    model: str
    inputs: tuple[tuple[int, ...], ...]
    rows: tuple[ModuleCheck, ...]
    total: ModuleCheck
    summary: tuple[Difference, ...]  # differences added up over modules, by tool and cause
    fvcore_unsupported: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def row(self, module: str) -> ModuleCheck:
        for row in self.rows:
            if row.module == module:
                return row
        raise KeyError(module)

    @property
    def unexplained(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.summary if d.category == "unexplained")



# ---------------------------------------------------------------------------------------------
# running the peers


class _KeywordAdapter(nn.Module):
    """fvcore traces with positional inputs only: this feeds them to the model as keywords."""

    def __init__(self, model: nn.Module, args: tuple[Any, ...], names: list[str]) -> None:
        super().__init__()
        self.model = model
        self._positional = len(args)
        self._names = names

    def forward(self, *values: Any) -> Any:
        args, rest = values[: self._positional], values[self._positional:]
        return self.model(*args, **dict(zip(self._names, rest)))


def _self_counts(inclusive: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    """Per-module counts of a tool that reports subtrees (module + descendants), made self-only.

    Each module's subtree is taken out of its nearest ancestor in the table, not its parent: a
    ModuleList never runs, so FlopCounterMode has no row for `encoder.layer` between `encoder`
    and `encoder.layer.0`.
    """
    result = {name: Counter(counts) for name, counts in inclusive.items()}
    for name, counts in inclusive.items():
        ancestor = _parent(name)
        while ancestor is not None and ancestor not in inclusive:
            ancestor = _parent(ancestor)
        if ancestor is not None:
            result[ancestor].subtract(counts)
    return {name: Counter({op: n for op, n in counts.items() if n}) for name, counts in result.items()}


def _parent(name: str) -> str | None:
    return None if not name else name.rpartition(".")[0]


def _run_fvcore(model: nn.Module, inputs: ModelInputs) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """fvcore's per-module self counts (multiply-adds) and self unsupported ops."""
    from fvcore.nn import FlopCountAnalysis

    target: nn.Module = model
    args: tuple[Any, ...] = inputs.args
    prefix = ""
    if inputs.kwargs:
        target = _KeywordAdapter(model, inputs.args, list(inputs.kwargs))
        args = (*inputs.args, *inputs.kwargs.values())
        prefix = "model"
    analysis = FlopCountAnalysis(target, args)
    # the library never prints: fvcore logs unsupported ops and tracer warnings unless told not to
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    counts = analysis.by_module_and_operator()
    unsupported = {name: Counter(analysis.unsupported_ops(name)) for name in counts}

    def rename(table: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
        if not prefix:
            return table
        renamed: dict[str, Counter[str]] = {}
        for name, value in table.items():
            if name == prefix:
                key = ""
            elif name.startswith(prefix + "."):
                key = name[len(prefix) + 1:]
            else:
                continue  # the adapter itself: it runs no op of its own
            renamed[key] = value
        return renamed

    as_int = {name: Counter({op: int(round(n)) for op, n in ops.items()}) for name, ops in counts.items()}
    return _self_counts(rename(as_int)), _self_counts(rename(unsupported))


class _OpsSeen(TorchDispatchMode):
    """Records which aten op packets ran, so a missing count can name the kernel that ran."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # torch's TorchDispatchMode.__init__ is unannotated
        self.seen: set[Any] = set()

    def __torch_dispatch__(self, func: OpOverload, types: Sequence[type], args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        self.seen.add(func.overloadpacket)
        return func(*args, **(kwargs or {}))


def _run_flop_counter(model: nn.Module, inputs: ModelInputs) -> tuple[dict[str, Counter[str]], list[str]]:
    """FlopCounterMode's per-module self counts halved to MACs, and the attention kernels that ran
    without a formula in its table."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    seen = _OpsSeen()
    with counter, seen:
        model(*inputs.args, **inputs.kwargs)
    root = type(model).__name__  # FlopCounterMode names modules "<RootClass>.child.grandchild"
    inclusive: dict[str, Counter[str]] = {}
    for name, ops in counter.get_flop_counts().items():
        if name == root:
            key = ""
        elif name.startswith(root + "."):
            key = name[len(root) + 1:]
        else:
            continue  # "Global": the same as the root
        inclusive[key] = Counter({_packet_name(op): n for op, n in ops.items()})
    halved = {
        name: Counter({op: n // 2 for op, n in ops.items()})  # every formula there is 2 * multiply-adds
        for name, ops in _self_counts(inclusive).items()
    }
    uncounted = sorted(
        op._qualified_op_name for op in seen.seen
        if "attention" in _packet_name(op) and op not in counter.flop_registry
    )
    return halved, uncounted


def _packet_name(op: Any) -> str:
    return getattr(op, "__name__", str(op)).removeprefix("aten.")


# ---------------------------------------------------------------------------------------------
# explaining


@dataclass
class _EffprofModule:
    matrix_macs: int = 0
    attention_macs: int = 0
    # elements of each norm/resample/pool kernel's input and output, to derive fvcore's rates
    elements: dict[KernelFamily, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))


def _effprof_modules(report: Report) -> dict[str, _EffprofModule]:
    modules: dict[str, _EffprofModule] = defaultdict(_EffprofModule)
    for kernel in report.kernels:
        entry = modules[kernel.event.module]
        family = kernel.cost.family
        if family in _MATRIX_FAMILIES:
            entry.matrix_macs += kernel.cost.macs
            if family is KernelFamily.ATTENTION:
                entry.attention_macs += kernel.cost.macs
        elif family in (KernelFamily.NORM, KernelFamily.UPSAMPLE, KernelFamily.REDUCTION, KernelFamily.POOL):
            first_input = next((a for a in kernel.event.args if hasattr(a, "numel")), None)
            in_elements = first_input.numel if first_input is not None else 0
            out_elements = kernel.event.outputs[0].numel if kernel.event.outputs else 0
            entry.elements[family].append((in_elements, out_elements))
    return modules


def _rate(count: int, elements: int) -> str:
    if not elements:
        return "?"
    value = Fraction(count, elements)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.3g}"


def _explain_fvcore(
    ep: _EffprofModule, fv: Counter[str], unsupported: Counter[str], effprof_unsupported: Mapping[str, int]
) -> list[Difference]:
    diffs: list[Difference] = []
    delta = sum(fv.values()) - ep.matrix_macs

    def add(category: str, cause: str, macs: int) -> None:
        nonlocal delta
        if macs:
            diffs.append(Difference(FVCORE, category, cause, macs))
            delta -= macs

    norm_elements = sum(out for _, out in ep.elements.get(KernelFamily.NORM, []))
    for op, label in _FVCORE_NORM.items():
        if fv.get(op):
            add("norm", f"fvcore counts {label} as MACs ({_rate(fv[op], norm_elements)} per element); "
                        "effprof counts norms as FLOPs, 0 MACs", fv[op])
    resample_out = sum(out for _, out in ep.elements.get(KernelFamily.UPSAMPLE, []))
    for op, label in _FVCORE_RESAMPLE.items():
        if fv.get(op):
            add("resample", f"fvcore counts {label} as MACs ({_rate(fv[op], resample_out)} per output element); "
                            "effprof counts it as FLOPs, 0 MACs", fv[op])
    pool_in = sum(inp for family in (KernelFamily.REDUCTION, KernelFamily.POOL) for inp, _ in ep.elements.get(family, []))
    for op, label in _FVCORE_POOL.items():
        if fv.get(op):
            add("pool", f"fvcore counts {label} as MACs ({_rate(fv[op], pool_in)} per input element); "
                        "effprof counts it as FLOPs, 0 MACs", fv[op])
    for op, count in sorted(fv.items()):
        if op not in _FVCORE_MATRIX and op not in _FVCORE_NORM and op not in _FVCORE_RESAMPLE and op not in _FVCORE_POOL:
            add("other", f"fvcore counts {op} as MACs; effprof counts no MACs for it", count)

    fv_matrix = sum(n for op, n in fv.items() if op in _FVCORE_MATRIX)
    missing_attention = ep.matrix_macs - fv_matrix
    sdpa = unsupported.get("aten::scaled_dot_product_attention", 0)
    if ep.attention_macs and missing_attention == ep.attention_macs:
        listed = " (it lists the op as unsupported)" if sdpa else ""
        add("attention", "fvcore has no handle for aten::scaled_dot_product_attention"
                         f"{listed}, so it misses attention's QK^T and PV products", -ep.attention_macs)
    if 0 < delta <= fv.get("einsum", 0):
        # numpy's einsum_path counts a product that contracts nothing (an outer product) as 1 FLOP
        # per output element, halved by fvcore; effprof counts such products as elementwise FLOPs
        add("einsum", "fvcore estimates einsum with numpy's einsum_path FLOPs / 2, which also counts "
                      "products that contract no index (outer products); effprof counts those as FLOPs, "
                      "0 MACs", delta)
    if delta and effprof_unsupported:
        ops = ", ".join(sorted(effprof_unsupported))
        add("effprof-unsupported", f"effprof has no formula for {ops} (listed as unsupported)", delta)
    if delta:
        add("unexplained", f"fvcore's matrix-product count ({fv_matrix:,}) differs from effprof's "
                           f"({ep.matrix_macs:,}) for no known convention", delta)
    return diffs


def _explain_flop_counter(ep: _EffprofModule, fc: Counter[str], uncounted: list[str],
                          effprof_unsupported: Mapping[str, int]) -> list[Difference]:
    diffs: list[Difference] = []
    # all of FlopCounterMode's formulas are matrix products and attention; when CPU SDPA takes the
    # math path, its bmm calls are counted as matrix products, which the sum below absorbs
    delta = sum(fc.values()) - ep.matrix_macs
    if not delta:
        return diffs
    attention_counted = sum(n for op, n in fc.items() if "attention" in op)
    if ep.attention_macs and not attention_counted and delta == -ep.attention_macs:
        kernel = ", ".join(uncounted) if uncounted else "the SDPA kernel that ran"
        diffs.append(Difference(FLOP_COUNTER, "attention",
                                f"FlopCounterMode has no formula for the CPU SDPA kernel ({kernel}), so it "
                                "misses attention's QK^T and PV products", delta))
        return diffs
    if effprof_unsupported:
        ops = ", ".join(sorted(effprof_unsupported))
        diffs.append(Difference(FLOP_COUNTER, "effprof-unsupported",
                                f"effprof has no formula for {ops} (listed as unsupported)", delta))
        return diffs
    diffs.append(Difference(FLOP_COUNTER, "unexplained",
                            f"FlopCounterMode's count ({sum(fc.values()):,} MACs) differs from effprof's "
                            f"({ep.matrix_macs:,}) for no known convention", delta))
    return diffs


def _summarise(rows: list[ModuleCheck]) -> tuple[Difference, ...]:
    sums: dict[tuple[str, str, str], list[int]] = {}
    for row in rows:
        for diff in row.differences:
            entry = sums.setdefault((diff.tool, diff.category, diff.cause), [0, 0])
            entry[0] += diff.macs
            entry[1] += 1
    return tuple(
        Difference(tool, category, cause, macs, modules)
        for (tool, category, cause), (macs, modules) in sums.items()
    )


# ---------------------------------------------------------------------------------------------
# the entry point


# The command line sets the inputs with -i/--input-shape; Python callers pass the tensors.
SMALLER_INPUTS = on_command_line(("a smaller ", option("input_shape", short=True), "/", option("input_shape")),
                                 python="smaller example_inputs")


def check_size(params: int, inputs: ModelInputs, *, max_params: int = MAX_PARAMS,
               max_input_elements: int = MAX_INPUT_ELEMENTS) -> None:
    """Refuse, before anything runs, a model or input too big to run twice on the CPU."""
    if params > max_params:
        raise UsageError(
            f"crosscheck runs the model on real CPU tensors, and this one has {si(params)} params "
            f"(limit {si(max_params)}): crosscheck a smaller config of the same architecture; "
            "`effprof MODEL.py` profiles any size on the meta device"
        )
    for tensor in inputs.tensors():
        if tensor.numel() > max_input_elements:
            shape = ",".join(str(d) for d in tensor.shape)
            raise UsageError(
                f"crosscheck runs the model on real CPU tensors, and input {shape} has {si(tensor.numel())} "
                f"elements (limit {si(max_input_elements)}): pass ", SMALLER_INPUTS,
            )


def crosscheck(
    model: nn.Module,
    example_inputs: Any,
    *,
    name: str | None = None,
    max_params: int = MAX_PARAMS,
    max_input_elements: int = MAX_INPUT_ELEMENTS,
    max_macs: int = MAX_MACS,
) -> Crosscheck:
    """Count `model`'s MACs per module with effprof, fvcore and FlopCounterMode, and explain
    every difference. `model` and `example_inputs` must be real CPU tensors: the peers run them.

    Raises UsageError for a meta model or inputs, or one above the size limits.
    """
    inputs = ModelInputs.from_example(example_inputs)
    if is_meta_module(model) or any(t.is_meta for t in inputs.tensors()):
        raise UsageError(
            "crosscheck needs a model and inputs with real CPU tensors (fvcore and FlopCounterMode "
            "execute them); build them outside `torch.device('meta')`"
        )
    params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    check_size(params, inputs, max_params=max_params, max_input_elements=max_input_elements)
    report = profile(model, inputs, name=name)
    if report.totals.macs > max_macs:
        raise UsageError(
            f"crosscheck runs the model on real CPU tensors, and this forward is {si(report.totals.macs)} "
            f"MACs (limit {si(max_macs)}): pass ",
            on_command_line((SMALLER_INPUTS, " or ", option("batch")), python=SMALLER_INPUTS),
        )

    notes: list[str] = []
    fvcore_counts: dict[str, Counter[str]] | None = None
    fvcore_unsupported_by_module: dict[str, Counter[str]] = {}
    fc_counts: dict[str, Counter[str]] | None = None
    uncounted: list[str] = []
    with inference(model), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jit's TracerWarnings: a library never prints
        try:
            fvcore_counts, fvcore_unsupported_by_module = _run_fvcore(model, inputs)
        except Exception as error:  # noqa: BLE001 - a peer's failure is a finding, not a crash
            notes.append(f"fvcore could not trace the model: {type(error).__name__}: {_first_line(error)}")
        try:
            fc_counts, uncounted = _run_flop_counter(model, inputs)
        except Exception as error:  # noqa: BLE001
            notes.append(f"FlopCounterMode could not run the model: {type(error).__name__}: {_first_line(error)}")

    effprof = _effprof_modules(report)
    layer_macs = {layer.name: layer.macs for layer in report.layers}
    names = [layer.name for layer in report.layers]
    for table in (fvcore_counts or {}, fc_counts or {}):
        names += [n for n, ops in table.items() if sum(ops.values()) and n not in names]
    rows = []
    for module in names:
        ep = effprof.get(module, _EffprofModule())
        fv = fvcore_counts.get(module, Counter()) if fvcore_counts is not None else None
        fc = fc_counts.get(module, Counter()) if fc_counts is not None else None
        ep_macs = layer_macs.get(module, 0)
        if not ep_macs and not (fv and sum(fv.values())) and not (fc and sum(fc.values())):
            continue
        ep_unsupported = report.unsupported_by_module.get(module, {})
        diffs: list[Difference] = []
        if fv is not None:
            diffs += _explain_fvcore(ep, fv, fvcore_unsupported_by_module.get(module, Counter()), ep_unsupported)
        if fc is not None:
            diffs += _explain_flop_counter(ep, fc, uncounted, ep_unsupported)
        rows.append(ModuleCheck(
            module=module,
            type=report.module_types.get(module, "?"),
            effprof_macs=ep_macs,
            fvcore_macs=sum(fv.values()) if fv is not None else None,
            flop_counter_macs=sum(fc.values()) if fc is not None else None,
            differences=tuple(diffs),
        ))
    summary = _summarise(rows)
    total = ModuleCheck(
        module="(total)",
        type=report.model,
        effprof_macs=report.totals.macs,
        fvcore_macs=sum(sum(ops.values()) for ops in fvcore_counts.values()) if fvcore_counts is not None else None,
        flop_counter_macs=sum(sum(ops.values()) for ops in fc_counts.values()) if fc_counts is not None else None,
        differences=summary,
    )
    root_unsupported: Counter[str] = Counter()
    for ops in fvcore_unsupported_by_module.values():
        root_unsupported.update(ops)
    return Crosscheck(
        model=report.model,
        inputs=tuple(tuple(t.shape) for t in inputs.tensors()),
        rows=tuple(rows),
        total=total,
        summary=summary,
        fvcore_unsupported=dict(root_unsupported.most_common()),
        notes=tuple(report.notes) + tuple(notes),
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
