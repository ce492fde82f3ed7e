"""`effprof advise MODEL.py --hw DEVICE`: design guidelines as findings, each priced on the device.

Exit 0; 1 with --fail-on when a finding of that rule (or of any, with `any`) saves more than
--min-saving (default: any saving at all); 2 for bad input. Reference: docs/advise.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..advise import RULES, advise_loaded, select_rules
from ..errors import UsageError
from ..hardware import load_spec
from ..loading import load_model, parse_input_spec
from ..advise import AdviceReport
from ..render import choose_format, emit, formats_of
from ..units import parse_percent
from .app import app, progress, stdout

ADVICE_FORMATS = formats_of(AdviceReport)

ANY_RULE = "any"


def _split(values: Optional[List[str]]) -> list[str] | None:
    """Repeated options and comma-separated lists alike: --rule G1 --rule G4 or --rule G1,G4."""
    if not values:
        return None
    return [part for value in values for part in value.split(",") if part.strip()]


@app.command("advise")
def advise_command(
    target: str = typer.Argument(..., metavar="MODEL.py[:NAME]", help="Model file; NAME picks a module, class or builder function."),
    hw: Optional[str] = typer.Option(None, "--hw", help="The device every change is priced on: a bundled spec (see `effprof hw list`) or a YAML path."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", "-i", help="Input shape, e.g. 1,3,224,224; repeat for several inputs."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Price floating tensors as fp32|tf32|fp16|bf16|int8 (default: the model's dtype)."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Override the batch (first) dimension of every input."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(ADVICE_FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal."),
    min_saving: Optional[str] = typer.Option(None, "--min-saving", help="Show only findings saving at least this share of the latency, e.g. 1%."),
    rule: Optional[List[str]] = typer.Option(None, "--rule", "-r", help=f"Run only these rules (repeat or comma-separate): {', '.join(RULES)}."),
    fail_on: Optional[List[str]] = typer.Option(None, "--fail-on", help="Exit 1 when a finding of RULE (or 'any') saves more than --min-saving."),
) -> None:
    """Review a model against the design guidelines; price every change on the device (--hw)."""
    fmt = choose_format(fmt_text, output, ADVICE_FORMATS)
    if hw is None:
        raise UsageError("advise prices every change on a device: add --hw, e.g. --hw a4000 (see `effprof hw list`)")
    try:
        threshold = parse_percent(min_saving) if min_saving is not None else None
    except UsageError as error:
        raise UsageError(f"bad --min-saving: {error}") from None
    rules = select_rules(_split(rule))
    failing = _split(fail_on)
    fail_rules = None if failing is None else (
        set(RULES) if any(name.strip().lower() == ANY_RULE for name in failing)
        else set(select_rules(failing))
    )
    spec = load_spec(hw)  # a bad --hw fails before the slow trace
    specs = [parse_input_spec(text) for text in input_shape or []]
    with progress(f"Building {target} on the meta device…"):
        loaded = load_model(target, specs, batch)
    with progress(f"Pricing {loaded.name}'s findings on {spec.name}…"):
        report = advise_loaded(loaded, hardware=spec, dtype=dtype, rules=rules, min_saving=threshold)
    emit(report, fmt, output, stdout)
    if fail_rules is not None:
        floor = threshold or 0.0
        if any(f.rule in fail_rules and f.saving_fraction > floor for f in report.findings):
            raise typer.Exit(1)
