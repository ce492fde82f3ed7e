"""The profile command as a user runs it: exit codes, formats, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import run_cli


def test_table_shows_layers_totals_and_kinds(examples_dir, capsys):
    code, out, err = run_cli([examples_dir / "mobilenet_v1.py"], capsys)
    assert code == 0, err
    assert "568.74 M" in out and "4.23 M" in out
    assert "depthwise" in out and "pointwise" in out
    assert "features.1.dw.0" in out


def test_json_output_file(examples_dir, tmp_path, capsys):
    target = tmp_path / "report.json"
    code, out, err = run_cli([examples_dir / "mobilenet_v1.py", "--format", "json", "--output", target], capsys)
    assert code == 0, err
    data = json.loads(target.read_text())
    assert data["totals"]["macs"] == 568_740_352
    assert data["totals"]["params"] == 4_231_976
    assert data["inputs"] == [{"name": "input", "shape": [1, 3, 224, 224], "dtype": "fp32"}]
    assert data["unsupported_ops"] == {}


def test_depth_sort_top(examples_dir, capsys):
    code, out, err = run_cli([examples_dir / "mobilenet_v1.py", "-i", "1,3,224,224", "--depth", "2", "--sort", "macs", "--top", "3", "-f", "csv"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 + 3
    assert lines[1].startswith("features.3,DepthwiseSeparable")  # 54.99M MACs, the heaviest block


def test_markdown(examples_dir, capsys):
    code, out, _ = run_cli([examples_dir / "mobilenet_v1.py", "-d", "1", "-f", "markdown"], capsys)
    assert code == 0
    assert out.startswith("| Layer | Type |") and "568.74 M MACs" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["absent.py"], "model file 'absent.py' not found"),
        (["{ex}", "-i", "1,4,224,224"], "inputs do not fit the model at layer 'features.0.0' (Conv2d)"),
        (["{ex}", "-i", "1,x"], "bad --input-shape '1,x'"),
        (["{ex}", "--dtype", "fp17"], "did you mean 'fp16'"),
        (["{ex}", "--sort", "mac"], "did you mean 'macs'"),
        (["{ex}", "--format", "yaml"], "unknown --format 'yaml'"),
        (["{ex}:Nope"], "has no 'Nope'"),
        (["{ex}", "--top", "0"], "--top must be 1 or more"),
        (["{ex}", "-o", "/nonexistent-dir/out.txt"], "cannot write --output '/nonexistent-dir/out.txt'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(examples_dir, capsys, args, message):
    argv = [a.replace("{ex}", str(examples_dir / "mobilenet_v1.py")) for a in args]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(Exception):
        run_cli(["absent.py", "--debug"], capsys)


def test_console_script_runs_as_a_new_user_would(examples_dir):
    done = subprocess.run(
        [sys.executable, "-m", "profiler", str(examples_dir / "mobilenet_v1.py"), "-f", "json"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["macs"] == 568_740_352
