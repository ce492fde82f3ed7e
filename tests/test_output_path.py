"""The one output path's promises: -k is the K heaviest everywhere, one name for the root row,
one-line usage errors, one CPU-fallback note, `print(report)` is the table, every command reachable."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import profiler
from conftest import run_cli
from profiler.cli.app import app, command_words

MNV1 = "examples/mobilenet_v1.py"


def test_top_without_sort_keeps_the_heaviest_rows(capsys):
    code, out, err = run_cli([MNV1, "-k", "3", "-f", "csv"], capsys)
    assert code == 0, err
    rows = out.strip().splitlines()[1:]
    macs = [int(row.split(",")[5]) for row in rows]
    # the heaviest layers are the width-keeping 1x1 convs: 512*512*14*14 = 51,380,224 MACs each
    assert macs == [51_380_224] * 3


def test_top_without_sort_uses_latency_with_hardware():
    report = profiler.profile(nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 8)), torch.randn(64, 256),
                              hardware="a4000")
    (heaviest,) = report.rows(top=1)
    assert heaviest.name == max(report.estimate.layers, key=lambda row: row.latency_s).name


def test_compare_top_keeps_the_k_heaviest_matched_layers(capsys):
    code, out, err = run_cli(["compare", MNV1, "--hw", "a4000", "--hw", "t4", "-k", "3", "-f", "json"], capsys)
    assert code == 0, err
    layers = json.loads(out)["layers"]
    assert len(layers) == 3
    latency = [max(cell["latency_s"] for cell in row["cells"]) for row in layers]
    assert latency == sorted(latency, reverse=True)


def test_the_root_row_is_named_root_in_the_table_and_markdown(capsys):
    model = "import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
            "        self.fc = nn.Linear(4, 4)\n    def forward(self, x):\n        return self.fc(x) + 1\n" \
            "def example_inputs():\n    return torch.randn(1, 4)\n"
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.py"
        path.write_text(model)
        _, table, _ = run_cli([path], capsys)
        _, markdown, _ = run_cli([path, "-f", "markdown"], capsys)
        _, data, _ = run_cli([path, "-f", "json"], capsys)
    assert "│(root) " in table and "(Net)" not in table
    assert "| `(root)` |" in markdown
    assert json.loads(data)["layers"][0]["name"] == ""  # the JSON key of the root stays ""


def test_a_mistyped_option_is_one_line_and_exit_2(capsys):
    code, out, err = run_cli([MNV1, "--hww", "a4000"], capsys)
    assert code == 2
    assert err.strip().splitlines() == ["effprof: error: No such option: --hww (Possible options: --hw) "
                                        "(see `effprof profile --help`)"]
    assert "Usage:" not in err and out == ""


def test_a_missing_argument_is_one_line_and_exit_2(capsys):
    code, _, err = run_cli(["hw", "show"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("effprof: error: Missing argument")


def test_the_cpu_fallback_note_is_said_once(write_model, capsys):
    path = write_model(
        "import torch\nfrom torch import nn\nclass ItemModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(6, 6)\n    def forward(self, x):\n        return self.fc(x) * int(x.abs().sum().item() > -1)\n"
        "def example_inputs():\n    return torch.randn(2, 6)\n"
    )
    code, out, err = run_cli([path, "-f", "json"], capsys)
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert sum("real CPU tensors" in note for note in notes) == 1, notes


def test_print_report_is_the_table():
    report = profiler.profile(nn.Sequential(nn.Linear(4, 4)), torch.randn(1, 4))
    text = str(report)
    assert "┃Layer" in text and "MACs" in text and "16  (16)" in text  # 4*4 MACs


EVERY_COMMAND = {"profile", "hw", "check", "conv", "compare", "crosscheck", "calibrate", "validate", "advise", "llm"}


def test_every_command_file_registers_itself():
    """A command is one file, cli/NAME_cmd.py: no list elsewhere to forget, so `effprof NAME` is
    never routed to `profile NAME` in silence."""
    import profiler.cli  # noqa: F401  (loads every command file)

    assert command_words() == EVERY_COMMAND


def test_a_newly_registered_command_is_routed_to_itself():
    from profiler.cli import _route

    assert _route(["newcmd", "x.py"]) == ["profile", "newcmd", "x.py"]  # not a command: a model file
    app.command("newcmd")(lambda: None)
    try:
        assert _route(["newcmd", "x.py"]) == ["newcmd", "x.py"]  # registering it is all it takes
    finally:
        app.registered_commands.pop()


@pytest.mark.parametrize("name", sorted(EVERY_COMMAND))
def test_every_command_is_reachable_by_name(name, capsys):
    code, out, err = run_cli([name, "--help"], capsys)
    assert code == 0, err
    assert f"effprof {name}" in out
