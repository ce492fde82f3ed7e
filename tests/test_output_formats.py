"""Every command takes --format and --output, and a FILE.json, .md or .csv without --format picks it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from cases import BUDGETS, CONV, LLM, MNV1, run_case  # noqa: E402

from profiler.cli.flags import COMMAND_LINE
from profiler.render import Format, choose_format  # noqa: E402
from profiler.errors import UsageError  # noqa: E402


COMMANDS = {
    "profile": [MNV1, "--hw", "a4000"],
    "hw list": ["hw", "list"],
    "hw show": ["hw", "show", "t4"],
    "check": ["check", BUDGETS],
    "conv": CONV,
    "compare": ["compare", MNV1, "--hw", "a4000", "--hw", "t4"],
    "crosscheck": ["crosscheck", MNV1, "-i", "1,3,32,32"],
    "advise": ["advise", MNV1, "--hw", "a4000"],
    "llm": ["llm", LLM, "--hw", "t4", "-p", "8", "-g", "4"],
}
MARKDOWN = {"profile", "check", "conv", "compare", "crosscheck", "advise", "llm"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_output_json_by_its_suffix(command, tmp_path):
    """`-o FILE.json` alone writes JSON (the suffix picks the format), not a box-drawn table."""
    code, text = run_case([*COMMANDS[command], "-o", "{output}"], ".json")
    assert code == 0
    assert isinstance(json.loads(text), (dict, list))


@pytest.mark.parametrize("command", sorted(MARKDOWN))
def test_format_markdown_to_a_file(command):
    code, text = run_case([*COMMANDS[command], "--format", "markdown", "--output", "{output}"], ".txt")
    assert code == 0
    assert "|---" in text or "| --- |" in text


def test_a_table_to_a_file_is_the_table():
    code, text = run_case(["hw", "list", "-o", "{output}"], ".txt")
    assert code == 0 and "Bundled hardware specs" in text and "┏" in text


def test_csv_by_its_suffix():
    code, text = run_case([MNV1, "-o", "{output}"], ".csv")
    assert code == 0 and text.startswith("name,type,conv_kind,output_shape,params,macs")


@pytest.mark.parametrize(
    "text, output, expected",
    [(None, None, Format.TABLE), (None, "r.json", Format.JSON), (None, "r.MD", Format.MARKDOWN), (None, "r.csv", Format.CSV),
     (None, "r.txt", Format.TABLE), ("table", "r.json", Format.TABLE), ("JSON", None, Format.JSON)],
)
def test_choose_format(text, output, expected):
    allowed = (Format.TABLE, Format.JSON, Format.MARKDOWN, Format.CSV)
    assert choose_format(text, Path(output) if output else None, allowed) is expected


def test_a_suffix_the_command_cannot_write_falls_back_to_the_table():
    assert choose_format(None, Path("r.csv"), (Format.TABLE, Format.JSON)) is Format.TABLE


def test_a_format_the_command_lacks_is_refused_with_the_ones_it_has():
    with pytest.raises(UsageError, match=r"^unknown format 'csv'; use one of table, json$") as caught:
        choose_format("csv", None, (Format.TABLE, Format.JSON))
    assert caught.value.spelled(COMMAND_LINE) == "unknown --format 'csv'; use one of table, json"
