"""The one table from the Python API's keywords to the command line's flags.

Library errors name settings by keyword (`option("fuse", True)`, `option("hardware", "a4000")`,
profiler/errors.py); the CLI reads every error through `COMMAND_LINE`, so the same error says
`fuse=True, hardware='a4000'` to a Python caller and `--fuse --hw a4000` here. Where commands name
one setting differently in Python (llm's `batches`, profile's `batch`), both keywords map to the
flag. `tests/test_errors.py` fails when a keyword used in profiler/ is missing here.
"""

from __future__ import annotations

from ..errors import Option, Spelling

__all__ = ["FLAGS", "NEGATED", "SHORT", "COMMAND_LINE", "flag"]

FLAGS = {
    # profile(), profile_loaded(), Report.rows(), compare(), loading
    "hardware": "--hw",
    "fuse": "--fuse",
    "dtype": "--dtype",
    "batch": "--batch",
    "input_shape": "--input-shape",
    "depth": "--depth",
    "sort": "--sort",
    "top": "--top",
    "precision": "--weights/--activations/--kv-cache",
    "weights": "--weights",
    "activations": "--activations",
    "kv_cache": "--kv-cache",
    "group_size": "--group-size",
    # llm
    "batches": "--batch",
    "prompt": "--prompt",
    "generate": "--generate",
    # conv
    "in_channels": "--in-channels",
    "out_channels": "--out-channels",
    "kernel": "--kernel",
    "size": "--size",
    "stride": "--stride",
    "groups": "--groups",
    "padding": "--padding",
    # measuring and calibrating
    "measure": "--measure",
    "repeats": "--repeats",
    "device": "--device",
    "threads": "--threads",
    "keep_implausible": "--keep-implausible",
    # output, and the command line's own
    "format": "--format",
    "output": "--output",
    "plot": "--plot",
    "debug": "--debug",
}

# Settings that are on by default: the command line has only the flag that turns them off.
NEGATED = {
    "families": "--no-families",
    "cache_tiers": "--no-cache-tiers",
}

# One-letter flags a message may show (`-i 1,3,224,224`); only those that mean one thing in every command.
SHORT = {
    "input_shape": "-i",
}


def flag(named: Option) -> str:
    """`--fuse` for fuse=True, `--hw a4000` for hardware='a4000', `--no-families` for families=False."""
    long = FLAGS.get(named.keyword, "--" + named.keyword.replace("_", "-"))  # never a KeyError while reporting one
    if named.value is False:
        return NEGATED.get(named.keyword, "--no-" + long.removeprefix("--"))
    text = SHORT.get(named.keyword, long) if named.short else long
    return text if named.value is True or not named.has_value else f"{text} {named.value}"


COMMAND_LINE = Spelling(flag)
