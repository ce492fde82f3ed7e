"""The golden cases: every deterministic command on the examples, in every format it offers.

Each case is a name (the golden file is `tests/golden/outputs/<name>`) and the argv of `effprof`,
run from the repository root. Tables are captured at a fixed width (see `run_case`). Commands that
time a model for real (`calibrate`, `validate`, `--measure`) are not goldens: their shape is tested
in tests/test_golden.py instead.

Regenerate after an intended change of output (and say so in the commit message):

    python tests/golden/regenerate.py            # every case
    python tests/golden/regenerate.py NAME...    # some of them
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = Path(__file__).resolve().parent / "outputs"
WIDTH = 180  # what effprof uses when stdout is not a terminal

MNV1 = "examples/mobilenet_v1.py"
MNV1_STD = "examples/mobilenet_v1_standard.py"
RESNET18 = "examples/zoo/resnet18.py"
VIT = "examples/zoo/vit_tiny.py"
BUDGETS = "configs/budgets.example.yaml"
LLM = "tests/golden/models/tiny-llama"  # a 2-layer Llama config.json: no weights, nothing downloaded
CONV = ["conv", "--in-channels", "64", "--out-channels", "128", "--size", "56"]

CASES: dict[str, list[str]] = {
    # profile: counts only
    "profile-mnv1.table.txt": [MNV1],
    "profile-mnv1.json": [MNV1, "-f", "json"],
    "profile-mnv1.csv": [MNV1, "-f", "csv"],
    "profile-mnv1.md": [MNV1, "-f", "markdown"],
    "profile-mnv1-d2-sort-top.table.txt": [MNV1, "-d", "2", "-s", "macs", "-k", "5"],
    "profile-mnv1-d2-sort-top.csv": [MNV1, "-d", "2", "-s", "macs", "-k", "5", "-f", "csv"],
    "profile-mnv1-fp16-b4.json": [MNV1, "--dtype", "fp16", "-b", "4", "-f", "json"],
    "profile-mnv1std.csv": [MNV1_STD, "-f", "csv"],
    "profile-resnet18.md": [RESNET18, "-f", "markdown"],
    "profile-vit.json": [VIT, "-f", "json"],
    # profile with a roofline
    "profile-mnv1-a4000.table.txt": [MNV1, "--hw", "a4000"],
    "profile-mnv1-a4000.json": [MNV1, "--hw", "a4000", "-f", "json"],
    "profile-mnv1-a4000.csv": [MNV1, "--hw", "a4000", "-f", "csv"],
    "profile-mnv1-a4000.md": [MNV1, "--hw", "a4000", "-f", "markdown"],
    "profile-mnv1-a4000-fuse.table.txt": [MNV1, "--hw", "a4000", "--fuse"],
    "profile-mnv1-a4000-fuse.json": [MNV1, "--hw", "a4000", "--fuse", "-f", "json"],
    "profile-mnv1-t4-fp16-latency.table.txt": [MNV1, "--hw", "t4", "--dtype", "fp16", "-s", "latency", "-k", "10"],
    "profile-resnet18-a100-fuse.json": [RESNET18, "--hw", "a100", "--fuse", "-f", "json"],
    "profile-resnet18-xeon.csv": [RESNET18, "--hw", "xeon-8480", "-f", "csv"],
    "profile-vit-h100-bf16.table.txt": [VIT, "--hw", "h100", "--dtype", "bf16"],
    # --output FILE: a table written to a file is drawn 200 columns wide
    "profile-mnv1-a4000-output.table.txt": [MNV1, "--hw", "a4000", "-o", "{output}"],
    "profile-mnv1-output.json": [MNV1, "-f", "json", "-o", "{output}"],
    # hardware specs
    "hw-list.table.txt": ["hw", "list"],
    "hw-list.json": ["hw", "list", "--json"],
    "hw-show-a4000.table.txt": ["hw", "show", "a4000"],
    "hw-show-a4000.json": ["hw", "show", "a4000", "--json"],
    "hw-list.md": ["hw", "list", "-f", "markdown"],
    "hw-show-a4000.md": ["hw", "show", "a4000", "-f", "markdown"],
    "hw-show-gtx1080ti.table.txt": ["hw", "show", "gtx1080ti"],
    "hw-show-gtx1080ti.json": ["hw", "show", "gtx1080ti", "-f", "json"],
    "hw-show-gtx1080ti.md": ["hw", "show", "gtx1080ti", "-f", "markdown"],
    # budgets
    "check-example.table.txt": ["check", BUDGETS],
    "check-example.json": ["check", BUDGETS, "-f", "json"],
    "check-example.md": ["check", BUDGETS, "-f", "markdown"],
    # one convolution five ways
    "conv.table.txt": CONV,
    "conv.json": [*CONV, "-f", "json"],
    "conv.md": [*CONV, "-f", "markdown"],
    "conv-g4-a4000.table.txt": [*CONV, "-g", "4", "--hw", "a4000"],
    "conv-g4-a4000.json": [*CONV, "-g", "4", "--hw", "a4000", "-f", "json"],
    "conv-g4-a4000.md": [*CONV, "-g", "4", "--hw", "a4000", "-f", "markdown"],
    # comparisons
    "compare-mnv1-std.table.txt": ["compare", MNV1, MNV1_STD],
    "compare-mnv1-std.json": ["compare", MNV1, MNV1_STD, "-f", "json"],
    "compare-mnv1-std.md": ["compare", MNV1, MNV1_STD, "-f", "markdown"],
    "compare-mnv1-devices.table.txt": ["compare", MNV1, "--hw", "a4000", "--hw", "t4"],
    "compare-mnv1-devices.json": ["compare", MNV1, "--hw", "a4000", "--hw", "t4", "-f", "json"],
    "compare-mnv1-devices.md": ["compare", MNV1, "--hw", "a4000", "--hw", "t4", "-f", "markdown"],
    "compare-mnv1-resnet18-a4000.table.txt": ["compare", MNV1, RESNET18, "--hw", "a4000", "-k", "3"],
    "compare-mnv1-resnet18-a4000.json": ["compare", MNV1, RESNET18, "--hw", "a4000", "-k", "3", "-f", "json"],
    "compare-mnv1-resnet18-a4000.md": ["compare", MNV1, RESNET18, "--hw", "a4000", "-k", "3", "-f", "markdown"],
    # design advice priced on a device
    "advise-mnv1-a4000.table.txt": ["advise", MNV1, "--hw", "a4000"],
    "advise-mnv1-a4000.json": ["advise", MNV1, "--hw", "a4000", "-f", "json"],
    "advise-mnv1-a4000.md": ["advise", MNV1, "--hw", "a4000", "-f", "markdown"],
    # an LLM from its config alone: prefill, decode, memory
    "llm-tiny-t4.table.txt": ["llm", LLM, "--hw", "t4", "-p", "16", "-g", "8", "-b", "1,4"],
    "llm-tiny-t4.json": ["llm", LLM, "--hw", "t4", "-p", "16", "-g", "8", "-b", "1,4", "-f", "json"],
    "llm-tiny-t4.md": ["llm", LLM, "--hw", "t4", "-p", "16", "-g", "8", "-b", "1,4", "-f", "markdown"],
    # effprof against fvcore and FlopCounterMode
    "crosscheck-mnv1.table.txt": ["crosscheck", MNV1, "-i", "1,3,64,64"],
    "crosscheck-mnv1.json": ["crosscheck", MNV1, "-i", "1,3,64,64", "-f", "json"],
    "crosscheck-mnv1.md": ["crosscheck", MNV1, "-i", "1,3,64,64", "-f", "markdown"],
}

# environment that would change what rich draws
_ENV_OFF = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "JUPYTER_COLUMNS")


def run_case(argv: list[str], suffix: str = ".txt") -> tuple[int, str]:
    """Run `effprof ARGV` in-process from the repository root with stdout not a terminal.

    Returns (exit code, stdout); when ARGV names `{output}`, that is a file `out<SUFFIX>` in a
    temporary folder, and its text is returned in place of stdout.
    """
    if "{output}" not in argv:
        return _run(argv)
    with tempfile.TemporaryDirectory() as folder:
        written = Path(folder) / f"out{suffix}"
        code, _ = _run([str(written) if a == "{output}" else a for a in argv])
        return code, written.read_text() if written.exists() else ""


def _run(argv: list[str]) -> tuple[int, str]:
    saved_env = {key: os.environ.pop(key) for key in _ENV_OFF if key in os.environ}
    saved_cwd = Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            from profiler.cli import main
            from profiler.cli.app import stdout as console

            saved_width = console.width
            console.width = WIDTH
            try:
                code = main(list(argv))
            finally:
                console.width = saved_width
    finally:
        os.chdir(saved_cwd)
        os.environ.update(saved_env)
    return code, out.getvalue()

