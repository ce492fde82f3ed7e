"""Calibrate this machine, then check effprof's latency estimates against the model zoo.

    python benchmarks/validate_zoo.py                      # calibrate (tens of seconds), then validate
    python benchmarks/validate_zoo.py --spec my_laptop.yaml --batches 1,8 --markdown zoo.md
    python benchmarks/validate_zoo.py --quick --batches 1  # a smoke run

Every model of examples/zoo/ runs for real at each batch (warm-up, then medians of --repeats
forward calls, and one hooked run for the per-layer times). Each model is measured once and
predicted with several variants of the calibration, so the table shows what each refinement of
the roofline buys (docs/accuracy.md). It calibrates twice, with and without cache tiers (the
kernel families are probed against the spec they belong to):
  plain          measured bandwidth, GEMM peaks and launch overhead only
  +family        plus the kernel-family fixed costs and efficiencies   (calibrate --no-cache-tiers)
  +cache         plus the cache-resident bandwidth tiers          (calibrate --no-families)
  +family+cache  both                                             (calibrate: the default)
  by-work        the default with GEMM-shaped families (convolutions, matmuls) priced by the probes
                 nearest the kernel's work instead of nearest its GEMM shape (rows, reduction)
  median-eff     the default with one efficiency per family (the median of its probes) instead of
                 the efficiency of the probes nearest the kernel's shape or size
  -in-model      the default without what a kernel pays inside a model (weights streamed from DRAM
                 when the model outgrows the last-level cache, fresh pages for big buffers)
The plain variant leaves those out too; +family, +cache, by-work and median-eff keep them.
With --spec, only the variants that spec can give (itself, less its families, less its tiers).
On a GPU machine the same script measures the GPU (CUDA events, synchronised). Timings are only
as quiet as the machine: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from profiler.api import profile_loaded  # noqa: E402
from profiler.calibrate import calibrate, write_spec  # noqa: E402
from profiler.hardware import parse_spec  # noqa: E402
from profiler.loading import load_model  # noqa: E402
from profiler.measure import Measurement, measurement_of  # noqa: E402
from profiler.realrun import (  # noqa: E402
    device_name, median, num_threads, pick_device, tf32, threads_in_use, time_forward, time_layers,
)

ZOO = sorted((ROOT / "examples" / "zoo").glob("*.py"))
TOLERANCE = 20.0
TIERS, FAMILIES = "cache_bandwidth_gb_per_s", "kernel_families"
IN_MODEL = ("cold_weights_gb_per_s", "fresh_pages")  # what a kernel pays inside a model (profiler/in_model.py)


def _variant(data: dict, origin: str, name: str, dropped: tuple[str, ...], dropped_per_family: tuple[str, ...] = ()):
    """The spec less its `dropped` top-level fields and, in each kernel family, `dropped_per_family`."""
    variant = copy.deepcopy(data)
    for key in dropped:
        variant.pop(key, None)
    for family in (variant.get(FAMILIES) or {}).values():
        for key in dropped_per_family:
            family.pop(key, None)
    return parse_spec(variant, f"{origin} ({name})", name)


def variants(spec_path: Path, untiered_path: Path | None) -> dict:
    """Spec variants by name: from the default calibration and, when given, the --no-cache-tiers one."""
    data = yaml.safe_load(spec_path.read_text())
    found = {"plain": _variant(data, str(spec_path), "plain", (TIERS, FAMILIES, *IN_MODEL))}
    if untiered_path is not None:
        untiered = yaml.safe_load(untiered_path.read_text())
        found["+family"] = _variant(untiered, str(untiered_path), "+family", ())
    if TIERS in data:
        found["+cache"] = _variant(data, str(spec_path), "+cache", (FAMILIES,))
        found["+family+cache"] = _variant(data, str(spec_path), "+family+cache", ())
    else:
        found["+family"] = _variant(data, str(spec_path), "+family", ())
    if any(key in data for key in IN_MODEL):
        # the same calibration without cold weights and fresh pages: what pricing them changes
        found["-in-model"] = _variant(data, str(spec_path), "-in-model", IN_MODEL)
    families = data.get(FAMILIES) or {}
    if any("gemm_points" in family for family in families.values()):
        # the same calibration with GEMM-shaped families priced by the probes nearest in work
        # instead of nearest in shape: what per-shape pricing changes
        found["by-work"] = _variant(data, str(spec_path), "by-work", (), ("gemm_points",))
    if any("points" in family or "gemm_points" in family for family in families.values()):
        # the same calibration with one efficiency per family (the median over its probes) instead
        # of the efficiency of the probes nearest in size or shape: what per-probe pricing changes
        found["median-eff"] = _variant(data, str(spec_path), "median-eff", (), ("points", "gemm_points"))
    return found


def measure(path: Path, batch: int, specs: dict, device: str, warmup: int, repeats: int) -> dict[str, Measurement]:
    loaded = load_model(str(path), None, batch)
    model, inputs = loaded.rebuild_real()
    model = model.to(device)
    inputs = inputs.map_tensors(lambda t: t.to(device))
    with tf32(False):  # fp32 in matmuls and convolutions alike, as --measure runs an fp32 profile
        forward = time_forward(model, inputs, warmup=warmup, repeats=repeats)
        layers = time_layers(model, inputs, warmup=1, repeats=repeats)
    label = device_name(device)
    return {
        name: measurement_of(profile_loaded(loaded, hardware=spec), layers, forward, device=device, device_label=label,
                      warmup=warmup, repeats=repeats)
        for name, spec in specs.items()
    }


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, help="Use this calibrated spec instead of calibrating now.")
    parser.add_argument("--output", type=Path, default=Path("calibrated.yaml"),
                        help="Where to write the calibration (and NAME-no-cache-tiers.yaml beside it).")
    parser.add_argument("--quick", action="store_true", help="Quick calibration (CI-sized).")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's).")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present).")
    parser.add_argument("--markdown", type=Path, help="Also write the tables as Markdown to FILE.")
    parser.add_argument("models", nargs="*", type=Path, help="Model files (default: examples/zoo/*.py).")
    args = parser.parse_args()
    device = pick_device(args.device)
    batches = [int(b) for b in args.batches.split(",")]
    models = args.models or ZOO
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    with num_threads(args.threads):
        say(f"device: {device_name(device)} ({device}, {threads_in_use()} threads), torch {torch.__version__}")
        say(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        untiered_path = None
        if args.spec is None:
            untiered_path = args.output.with_name(args.output.stem + "-no-cache-tiers.yaml")
            for path, tiers in ((args.output, True), (untiered_path, False)):
                started = time.perf_counter()
                write_spec(calibrate(device=device, quick=args.quick, cache_tiers=tiers), path)
                say(f"calibrated{'' if tiers else ' without cache tiers'} in {time.perf_counter() - started:.0f} s -> {path}")
            spec_path = args.output
        else:
            spec_path = args.spec
        specs = variants(spec_path, untiered_path)
        main_variant = "+family+cache" if "+family+cache" in specs else "+family"
        results: list[tuple[str, int, dict[str, Measurement]]] = []
        say()
        say("| model | batch | measured (ms) | " + " | ".join(f"{v} pred (ms) | {v} err" for v in specs)
            + f" | Spearman ({main_variant}) |")
        say("|---|---:|---:|" + "---:|---:|" * len(specs) + "---:|")
        for path in models:
            for batch in batches:
                found = measure(path, batch, specs, device, args.warmup, args.repeats)
                results.append((path.name, batch, found))
                main = found[main_variant]
                cells = " | ".join(f"{ms(m.predicted_total_s)} | {m.error_percent:+.1f}%" for m in found.values())
                rho = f"{main.spearman:.3f}" if main.spearman is not None else "-"
                say(f"| {path.name} | {batch} | {ms(main.measured_total_s)} | {cells} | {rho} |")
        say()
        say(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        say()
        say(f"| variant | batch | within ±{TOLERANCE:g}% | median abs error | Spearman median (min) | Spearman >= 0.8 |")
        say("|---|---:|---:|---:|---:|---:|")
        for variant in specs:
            for batch in [*batches, None]:
                rows = [found[variant] for _, b, found in results if batch is None or b == batch]
                errors = [m.error_percent for m in rows]
                rhos = [m.spearman for m in rows if m.spearman is not None]
                inside = sum(1 for e in errors if abs(e) <= TOLERANCE)
                say(f"| {variant} | {'all' if batch is None else batch} | {inside} of {len(rows)} | "
                    f"{median([abs(e) for e in errors]):.1f}% | {median(rhos):.3f} ({min(rhos):.3f}) | "
                    f"{sum(1 for r in rhos if r >= 0.8)} of {len(rhos)} |")
    if args.markdown is not None:
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
