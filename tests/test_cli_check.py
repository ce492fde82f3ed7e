"""`effprof check` as CI runs it: exit codes 0/1/2, formats, baselines, and one-line errors.

The models are hand-counted (input 1x3x8x8 or 1x100, fp32):
  NET:    conv Conv2d(3, 8, 3, padding=1, bias=False): 512 * 27 = 13,824 MACs, 216 params;
          fc Linear(512, 10, bias=False): 5,120 MACs, 5,120 params; totals 18,944 MACs, 5,336 params
  LINEAR: Linear(N, 10, bias=False): 10 * N MACs, 10 * N params (N = 100, then 103: +3 %)
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import ROOT, SMALL_NET as NET, run_cli
from profiler.budget import check
from profiler.render.budget import budget_tables


LINEAR = """
import torch
from torch import nn

def build_model():
    return nn.Linear({n}, 10, bias=False)

def example_inputs():
    return torch.randn(1, {n})
"""


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch):
    # the baseline test rewrites a model file; a cached .pyc must never answer for it
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "net.py").write_text(NET)
    return tmp_path


def budgets(folder: Path, body: str, name: str = "budgets.yaml") -> Path:
    path = folder / name
    path.write_text("models:\n  - model: net.py\n    inputs: [[1, 3, 8, 8]]\n" + body)
    return path


def check_cli(args, capsys):
    code, out, err = run_cli(["check", *args], capsys)
    assert "Traceback" not in out + err
    return code, out, err


def test_within_budget_exits_0(project, capsys):
    path = budgets(project, "    budgets: {macs: 20K, params: 5.5K, bytes: 40KB}\n")
    code, out, err = check_cli([path], capsys)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "1 model, 3 budgets: all within"
    assert "1.06 K left (5.3%)" in out  # 20,000 - 18,944 = 1,056 = 5.28 % of 20,000


def test_over_budget_exits_1_with_the_overshoot(project, capsys):
    path = budgets(project, "    budgets: {macs: 18K, params: 5.5K}\n")
    code, out, err = check_cli([path], capsys)
    assert code == 1
    assert "944 over (+5.2%)" in out  # 18,944 - 18,000 = 944 = 5.24 % of 18,000
    assert out.strip().splitlines()[-1] == "1 model, 2 budgets: 1 over budget"
    assert err == ""


def test_overshoot_is_red(project):
    path = budgets(project, "    budgets: {macs: 18K, params: 5.5K}\n")
    buffer = io.StringIO()
    Console(file=buffer, width=100, force_terminal=True, color_system="standard").print(budget_tables(check(path)))
    lines = buffer.getvalue().splitlines()
    over = next(line for line in lines if "944 over" in line)
    within = next(line for line in lines if "164 left" in line)  # 5,500 - 5,336
    red = "\x1b[1;31m"
    assert red in over and red not in within


def test_json_output(project, capsys):
    path = budgets(project, "    budgets: {macs: 18K}\n    layers: {'conv': {params: 216}}\n")
    code, out, _ = check_cli([path, "--format", "json"], capsys)
    assert code == 1
    data = json.loads(out)
    assert (data["ok"], data["budgets"], data["over"]) == (False, 2, 1)
    macs, conv = data["models"][0]["budgets"]
    assert macs["values"] == [{"layer": None, "actual": 18_944, "headroom": -944.0, "over": True,
                               "baseline": None, "change": None, "regressed": False}]
    assert (conv["layers"], conv["status"], conv["values"][0]["actual"]) == ("conv", "within", 216)


def test_markdown_output(project, capsys):
    path = budgets(project, "    budgets: {macs: 20K, params: 5K}\n    layers: {'*': {macs: 10K}}\n")
    code, out, _ = check_cli([path, "--format", "markdown"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "## ❌ effprof check: 1 model, 3 budgets: 2 over budget"
    assert "| Metric | Budget | Actual | Headroom |" in lines
    assert "| `macs` | ≤ 20.00 K | 18.94 K | 1.06 K left (5.3%) |" in lines
    assert "| `params` | ≤ 5.00 K | 5.34 K | ❌ **336 over (+6.7%)** |" in lines  # 5,336 - 5,000
    # the glob row shows its worst layer: conv, 13,824 MACs, 3,824 over 10,000
    assert "| `macs @ *` (conv: 1 of 3 layers over) | ≤ 10.00 K | 13.82 K | ❌ **3.82 K over (+38.2%)** |" in lines
    assert lines[-1] == "**1 model, 3 budgets: 2 over budget**"


def test_markdown_all_within(project, capsys):
    path = budgets(project, "    budgets: {macs: 20K}\n")
    code, out, _ = check_cli([path, "-f", "markdown"], capsys)
    assert code == 0
    assert out.splitlines()[0] == "## ✅ effprof check: 1 model, 1 budget: all within"


def test_globs_from_the_cli(project, capsys):
    path = budgets(project, "    layers: {'c*': {macs: 13824}, 'fc': {params: 5119}}\n")
    code, out, _ = check_cli([path], capsys)
    assert code == 1
    assert "1 model, 2 budgets: 1 over budget" in out
    assert "fc: 1 of 1 layer over" in out and "1 over (+0.0%)" in out


def test_relative_paths_from_another_folder(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "repo" / "ci"
    folder.mkdir(parents=True)
    (folder / "net.py").write_text(NET)
    budgets(folder, "    budgets: {macs: 20K}\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = check_cli(["repo/ci/budgets.yaml"], capsys)
    assert code == 0, err


# --- baselines ---------------------------------------------------------------------------------------


def test_baseline_tolerance(tmp_path, capsys):
    model = tmp_path / "linear.py"
    model.write_text(LINEAR.format(n=100))
    path = tmp_path / "budgets.yaml"
    path.write_text("models:\n  - name: head\n    model: linear.py\n    budgets: {macs: 2K}\n")
    baseline = tmp_path / "baseline.json"
    code, out, err = check_cli([path, "--write-baseline", baseline], capsys)
    assert code == 0, err
    written = json.loads(baseline.read_text())
    assert written["effprof_baseline"] == 1
    assert written["models"]["head"]["totals"]["macs"] == 1_000
    assert written["models"]["head"]["layers"][""]["macs"] == 1_000  # the Linear is the root

    model.write_text(LINEAR.format(n=103))  # 1,030 MACs: +3.00 %, still far under 2K
    code, out, _ = check_cli([path, "--baseline", baseline, "--tolerance", "2%"], capsys)
    assert code == 1
    assert "+3.00%" in out
    assert out.strip().splitlines()[-1] == f"1 model, 1 budget: all within; 1 grew more than 2% since {baseline}"

    code, out, _ = check_cli([path, "--baseline", baseline, "--tolerance", "5%"], capsys)
    assert code == 0
    assert out.strip().splitlines()[-1] == f"1 model, 1 budget: all within; none grew more than 5% since {baseline}"

    code, out, _ = check_cli([path, "--baseline", baseline, "--tolerance", "5%", "-f", "markdown"], capsys)
    assert "| `macs` | ≤ 2.00 K | 1.03 K | 970 left (48.5%) | 1.00 K | +3.00% |" in out.splitlines()


def test_baseline_without_tolerance_allows_no_growth(tmp_path, capsys):
    model = tmp_path / "linear.py"
    model.write_text(LINEAR.format(n=100))
    path = tmp_path / "budgets.yaml"
    path.write_text("models:\n  - model: linear.py\n    budgets: {params: 2K}\n")
    baseline = tmp_path / "baseline.json"
    assert check_cli([path, "--write-baseline", baseline], capsys)[0] == 0
    assert check_cli([path, "--baseline", baseline], capsys)[0] == 0  # unchanged
    model.write_text(LINEAR.format(n=101))
    assert check_cli([path, "--baseline", baseline], capsys)[0] == 1  # +1 % at the default 0 %


def test_a_glob_shows_the_layer_over_and_the_layer_that_grew(project, capsys):
    path = budgets(project, "    layers: {'*': {macs: 10K}}\n")
    baseline = project / "baseline.json"
    assert check_cli([path, "--write-baseline", baseline], capsys)[0] == 1  # conv is over: 13,824 > 10,000
    (project / "net.py").write_text(NET.replace("nn.Linear(512, 10", "nn.Linear(512, 11"))  # fc: 5,120 -> 5,632 MACs
    code, out, _ = check_cli([path, "--baseline", baseline, "--tolerance", "5%", "-f", "markdown"], capsys)
    assert code == 1
    # conv over its limit (unchanged); fc +10.00 % = 512 / 5,120, named because it is another layer
    assert ("| `macs @ *` (conv: 1 of 3 layers over) | ≤ 10.00 K | 13.82 K | ❌ **3.82 K over (+38.2%)** "
            "| 5.12 K | ❌ **+10.00% (fc)** |") in out.splitlines()
    assert out.splitlines()[-1] == f"**1 model, 1 budget: 1 over budget; 1 grew more than 5% since {baseline}**"


# --- bad input: one line on stderr, exit 2, never 0 ------------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        ("    budgets: {maccs: 20K}\n", "unknown metric 'maccs' (did you mean 'macs'?)"),
        ("    budgets: {macs: lots}\n", "models[0] (net.py): budgets.macs: malformed count 'lots'"),
        ("    budgets: {latency_ms: 2}\n", "budget 'latency_ms' needs a roofline estimate: add 'hw:'"),
        ("    hw: t44\n    budgets: {latency_ms: 2}\n", "models[0] (net.py): hw: unknown hardware 't44' (did you mean 't4'?)"),
        ("    layers: {'head.*': {macs: 1M}}\n", "layers.head.*: matches no layer"),
        ("    budgets: {macs: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_budget_file_exits_2(project, capsys, body, message):
    code, out, err = check_cli([budgets(project, body)], capsys)
    assert code == 2
    assert message in err
    assert err.startswith("effprof: error: ") and err.count("\n") == 1


def test_a_model_that_fails_to_import_exits_2_never_0(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("import torch\nraise ImportError('no module named tensorflow')\n")
    (tmp_path / "net.py").write_text(NET)
    path = tmp_path / "budgets.yaml"
    # a generous budget that would pass on any model: the failure alone must decide
    path.write_text("models:\n  - model: net.py\n    inputs: [[1, 3, 8, 8]]\n    budgets: {macs: 1T}\n"
                    "  - model: broken.py\n    budgets: {macs: 1T}\n")
    code, out, err = check_cli([path], capsys)
    assert code == 2
    assert "models[1] (broken.py): importing" in err and "raised ImportError: no module named tensorflow" in err
    assert "all within" not in out


def test_a_model_whose_inputs_do_not_fit_exits_2(project, capsys):
    path = project / "budgets.yaml"
    path.write_text("models:\n  - model: net.py\n    inputs: [[1, 3, 9, 9]]\n    budgets: {macs: 1T}\n")
    code, _, err = check_cli([path], capsys)
    assert code == 2 and "inputs do not fit the model at layer 'fc'" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tolerance", "2%"], "--tolerance needs --baseline FILE"),
        (["--baseline", "{dir}/absent.json"], "absent.json' not found; write one with"),
        (["--baseline", "{dir}/b.json", "--tolerance", "two"], "bad --tolerance 'two': expected a percentage such as 2 or 2%"),
        (["--format", "yml"], "unknown --format 'yml'"),
    ],
)
def test_bad_options_exit_2(project, capsys, extra, message):
    (project / "b.json").write_text('{"effprof_baseline": 1, "models": {}}')
    path = budgets(project, "    budgets: {macs: 20K}\n")
    code, _, err = check_cli([path, *[a.format(dir=project) for a in extra]], capsys)
    assert code == 2 and message in err


def test_missing_budget_file_exits_2(tmp_path, capsys):
    code, _, err = check_cli([tmp_path / "nope.yaml"], capsys)
    assert code == 2 and "nope.yaml' not found" in err


# --- the project's own gate ----------------------------------------------------------------------------


def test_the_example_budgets_pass(capsys):
    code, out, err = check_cli([ROOT / "configs" / "budgets.example.yaml", "--format", "json"], capsys)
    assert code == 0, err + out
    data = json.loads(out)
    totals = {m["name"]: {b["metric"]: b["values"][0]["actual"] for b in m["budgets"] if b["layers"] is None}
              for m in data["models"]}
    assert totals["mobilenet_v1"]["macs"] == 568_740_352
    assert totals["mobilenet_v1"]["params"] == 4_231_976
    assert totals["mobilenet_v1_standard"]["macs"] == 4_867_293_184
    assert totals["mobilenet_v1_standard"]["params"] == 29_294_088
    # the deployment entry holds a latency budget on the T4 estimate
    assert "latency_ms" in totals["mobilenet_v1-t4-fp16"]
    assert data["summary"] == "3 models, 9 budgets: all within"


@pytest.mark.parametrize("text", ["2", "2%", " 2 % "])
def test_tolerance_is_a_percentage_with_or_without_the_sign(text):
    from profiler.cli.options import parse_tolerance

    assert parse_tolerance(text) == 0.02
