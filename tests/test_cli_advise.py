"""`effprof advise` as a user runs it: formats, filters, exit codes and one-line errors."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

# conv 8 -> 32 (1x1) + BN + ReLU on 8x8: BN folding and a fused ReLU are the findings
MODEL = """
import torch
from torch import nn

def build_model():
    return nn.Sequential(nn.Conv2d(8, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU())

def example_inputs():
    return torch.randn(1, 8, 8, 8)
"""


@pytest.fixture
def model(write_model):
    return write_model(MODEL)


def test_table(model, capsys):
    code, out, err = run_cli(["advise", model, "--hw", "a4000"], capsys)
    assert code == 0, err
    assert "G4" in out and "fold 1 batch norms" in out and "on a4000, fp32, batch 1" in out


def test_json_to_a_file(model, tmp_path, capsys):
    target = tmp_path / "advice.json"
    code, _, err = run_cli(["advise", model, "--hw", "a4000", "-f", "json", "-o", target], capsys)
    assert code == 0, err
    data = json.loads(target.read_text())
    assert data["hardware"] == "a4000" and data["model"].endswith("model.py:build_model")
    savings = [f["saving_s"] for f in data["findings"]]
    assert savings == sorted(savings, reverse=True)
    assert {f["rule"] for f in data["findings"]} >= {"G4", "G1"}


def test_markdown_and_rule_filter(model, capsys):
    code, out, err = run_cli(["advise", model, "--hw", "a4000", "-f", "markdown", "--rule", "g1"], capsys)
    assert code == 0, err
    assert out.startswith("**") and "| G1 |" in out and "| G4 |" not in out


def test_fail_on(model, capsys):
    code, _, _ = run_cli(["advise", model, "--hw", "a4000", "--fail-on", "G4", "-f", "json"], capsys)
    assert code == 1
    # no finding saves 90% of the latency: the gate holds
    code, _, err = run_cli(["advise", model, "--hw", "a4000", "--fail-on", "any", "--min-saving", "90%", "-f", "json"], capsys)
    assert code == 0, err
    code, _, _ = run_cli(["advise", model, "--hw", "a4000", "--rule", "G2", "--fail-on", "any"], capsys)
    assert code == 0


@pytest.mark.parametrize("args, message", [
    (["--rule", "g5"], "unknown advice rule 'g5' (did you mean 'G4'?)"),
    (["--fail-on", "alignmnt"], "unknown advice rule 'alignmnt' (did you mean 'alignment'?)"),
    (["--min-saving", "lots"], "bad --min-saving"),
    (["--format", "csv"], "unknown --format 'csv'"),
    (["--hw", "a4001"], "unknown hardware 'a4001'"),
])
def test_bad_input_exits_2(model, capsys, args, message):
    argv = ["advise", model, *args] + ([] if "--hw" in args else ["--hw", "a4000"])
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_needs_a_device(model, capsys):
    code, _, err = run_cli(["advise", model], capsys)
    assert code == 2 and "add --hw" in err


def _budget_file(folder, model, body: str):
    path = folder / "budgets.yaml"
    path.write_text(f"models:\n  - name: net\n    model: {model.name}\n{body}")
    return path


def test_check_budgets_name_advice_rules(model, tmp_path, capsys):
    # the model's BN folding saves about a quarter of its latency on the a4000: over a 5% G4 budget;
    # it has no concatenation, so a concat budget of 1% holds (its largest saving is 0)
    over = _budget_file(tmp_path, model, "    hw: a4000\n    budgets:\n      advice.G4: 5%\n      advice.concat: 1%\n")
    code, out, err = run_cli(["check", over, "-f", "json"], capsys)
    assert code == 1, err
    results = {r["metric"]: r["values"][0] for r in json.loads(out)["models"][0]["budgets"]}
    assert results["advice.G4"]["over"] and results["advice.G4"]["actual"] > 0.05
    assert not results["advice.concat"]["over"] and results["advice.concat"]["actual"] == 0.0
    within = _budget_file(tmp_path, model, "    hw: a4000\n    budgets:\n      advice.any: 90%\n")
    code, _, err = run_cli(["check", within], capsys)
    assert code == 0, err


def test_advice_budgets_need_a_device(model, tmp_path, capsys):
    path = _budget_file(tmp_path, model, "    budgets:\n      advice.G4: 5%\n")
    code, _, err = run_cli(["check", path], capsys)
    assert code == 2 and "needs a roofline estimate: add 'hw:'" in err


def test_render_negative_saving_and_notes():
    from io import StringIO

    from rich.console import Console

    from profiler.advise import AdviceReport, Cost, Finding, ModelTotals
    from profiler.render.advise import advice_markdown, advice_table, saving_text

    before, after = Cost(100e-6, 1000), Cost(108.49e-6, 1500)
    finding = Finding("alignment", ("features.0.0",), "input channels 3 -> 8", {"latency_share": 0.0125, "copy_bytes": 2048},
                      before, after)
    report = AdviceReport("net", "a4000", ModelTotals(before, 1, 2, 4, 3, "fp16", 1), (finding,), ("alignment",),
                          ("alignment: the change to conv could not be priced",))
    assert saving_text(finding) == "-8.49 µs (-8.5%)"
    console = Console(file=StringIO(), width=160)
    console.print(advice_table(report))
    text = console.file.getvalue()
    assert "-8.49 µs (-8.5%)" in text and "latency_share=1.2%" in text and "copy_bytes=2.05 kB" in text
    assert "note: alignment: the change to conv could not be priced" in text
    markdown = advice_markdown(report)
    assert "| alignment | `features.0.0` | input channels 3 -> 8<br>" in markdown
    assert markdown.rstrip().endswith("- alignment: the change to conv could not be priced")
