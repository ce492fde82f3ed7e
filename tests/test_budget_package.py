"""profiler.budgets, seam by seam: the pure check on hand-written numbers, the one reading of a
model target (`~` and `\\`) shared with the command line, hardware validated before profiling,
baselines as typed numbers, and Markdown through the shared escaping table.

The tiny model (conftest.SMALL_NET), input 1x3x8x8, fp32:
  conv Conv2d(3, 8, 3, padding=1, bias=False): MACs 8*8*8 * 3*3*3 = 13,824; fc Linear(512, 10): 5,120
  totals: MACs 18,944; params 216 + 5,120 = 5,336
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from conftest import SMALL_NET as NET, run_cli
from profiler import budget as old_name
from profiler import budgets as B
from profiler.budgets import Budget, LayerBudget, ModelEntry, ModelNumbers
from profiler.errors import SpecError
from profiler.hardware import load_spec, looks_like_path
from profiler.loading import parse_target, split_target
from profiler.render.budget import budget_markdown

PACKAGE = Path(B.__file__).resolve().parent


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def entry(*budgets: Budget, layers: tuple[LayerBudget, ...] = (), name: str = "net") -> ModelEntry:
    return ModelEntry(name=name, target="net.py", where="budgets.yaml: models[0] (net.py)", budgets=budgets, layers=layers)


# numbers written by hand, not profiled: check needs no model
NOW = ModelNumbers(
    dtype="fp32",
    totals={"params": 5_336, "macs": 18_944, "bytes_read": 26_208, "bytes_written": 4_136, "throughput_per_s": 646.0},
    layers={"conv": {"macs": 13_824, "params": 216}, "fc": {"macs": 5_120, "params": 5_120}},
)
BEFORE = ModelNumbers(
    dtype="fp32",
    totals={"params": 5_336, "macs": 18_400, "bytes_read": 26_208, "bytes_written": 4_136, "throughput_per_s": 666.0},
    layers={"conv": {"macs": 13_824}, "fc": {"macs": 4_000}},
)


# --- check: a pure function of typed spec and typed numbers ---------------------------------------


def test_check_on_hand_written_numbers_over_and_regressed_exactly():
    spec = entry(
        Budget("macs", 19_000),  # 18,944 <= 19,000: within; 18,400 -> 18,944 is +544 = +2.96 %
        Budget("bytes", 30_000),  # 26,208 + 4,136 = 30,344 > 30,000: over by 344; unchanged since the baseline
        Budget("throughput_per_s", 600),  # a floor: 646 >= 600 within; 666 -> 646 is -20 / 666 = -3.003 %
        layers=(LayerBudget("*", (Budget("macs", 10_000),)),),  # conv 13,824 over; fc 4,000 -> 5,120 = +28 %
    )
    result = B.check_model(entry=spec, report=NOW, baseline=BEFORE, tolerance=0.03)
    macs, bytes_, throughput, per_layer = result.results

    assert (macs.values[0].actual, macs.over, macs.regressed) == (18_944, False, False)  # +2.96 % <= 3 %
    assert macs.values[0].change == 544 / 18_400
    assert (bytes_.values[0].actual, bytes_.over, bytes_.regressed) == (30_344, True, False)
    assert bytes_.headroom(bytes_.values[0]) == -344
    assert (throughput.over, throughput.regressed) == (False, True)  # a drop of 3.003 % > 3 %
    assert [(v.layer, v.actual, v.over, v.regressed) for v in per_layer.values] == [
        ("conv", 13_824, True, False), ("fc", 5_120, False, True)]
    assert (result.over, result.regressed) == (2, 2)

    tighter = B.check_model(spec, NOW, BEFORE, tolerance=0.02)  # +2.96 % now regresses too
    assert [r.regressed for r in tighter.results] == [True, False, True, True]
    looser = B.check_model(spec, NOW, BEFORE, tolerance=0.031)  # only fc's +28 % is left
    assert [r.regressed for r in looser.results] == [False, False, False, True]


def test_check_reads_a_baseline_mapping_as_the_same_numbers():
    spec = entry(Budget("macs", 19_000), layers=(LayerBudget("f*", (Budget("macs", 6_000),)),))
    typed = B.check_model(spec, NOW, BEFORE, tolerance=0.0)
    plain = B.check_model(spec, NOW, B.baseline_dict(BEFORE), tolerance=0.0)
    assert typed.results == plain.results
    assert [v.baseline for r in plain.results for v in r.values] == [18_400, 4_000]


def test_check_against_notes_an_entry_the_baseline_lacks():
    baseline = B.Baseline("old.json", {"other": BEFORE})
    result = B.check_against(entry(Budget("macs", 19_000)), NOW, baseline, tolerance=0.0)
    assert (result.over, result.regressed) == (0, 0)
    assert result.results[0].values[0].baseline is None
    assert result.notes == ("not in the baseline old.json: no change to compare (rewrite it with --write-baseline)",)


def test_check_module_does_no_io():
    # check.py imports nothing that reads files, runs models or prints
    tree = ast.parse((PACKAGE / "check.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    relative = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
    assert not imported & {"os", "io", "json", "yaml", "torch", "rich", "typer", "shutil", "subprocess"}
    assert not relative & {"loading", "api", "advise", "baseline", "run", "tracing", "hardware", "yamlfile"}


# --- one reading of FILE.py[:NAME] ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, path, name",
    [
        ("net.py", "net.py", None),
        ("net.py:Net", "net.py", "Net"),
        ("models/net.py:build_model", "models/net.py", "build_model"),
        ("c:/models/net.py", "c:/models/net.py", None),  # the tail holds '/': the colon is the path's
        (r"C:\models\net.py", r"C:\models\net.py", None),  # the tail holds '\': the colon is the path's
        (r"C:\models\net.py:Net", r"C:\models\net.py", "Net"),
        ("a:b.py", "a:b.py", None),  # the tail ends in .py: a file name, not a NAME
    ],
)
def test_split_target(text, path, name):
    assert split_target(text) == (Path(path), name)


def test_a_tilde_is_the_home_folder_in_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert split_target("~/models/net.py:Net") == (tmp_path / "models" / "net.py", "Net")
    # a home path is absolute: the budget file's folder does not prefix it
    assert split_target("~/net.py", relative_to=Path("/elsewhere")) == (tmp_path / "net.py", None)
    assert split_target("net.py", relative_to=Path("/elsewhere")) == (Path("/elsewhere/net.py"), None)


def test_the_command_line_and_budget_files_read_a_tilde_alike(tmp_path, monkeypatch, capsys):
    home, project = tmp_path / "home", tmp_path / "project"
    (home / "models").mkdir(parents=True)
    project.mkdir()
    (home / "models" / "net.py").write_text(NET)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)

    assert parse_target("~/models/net.py:Net") == (home / "models" / "net.py", "Net")
    code, out, err = run_cli(["~/models/net.py:Net", "-i", "1,3,8,8", "-f", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["totals"]["macs"] == 18_944

    path = project / "budgets.yaml"
    path.write_text("models:\n  - model: ~/models/net.py:Net\n    inputs: [[1, 3, 8, 8]]\n    budgets: {macs: 18944}\n")
    (model,) = B.load_budgets(path).models
    assert model.target == f"{home / 'models' / 'net.py'}:Net"
    assert B.check(path).ok


def test_a_tilde_in_a_budget_hw_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "specs").mkdir()
    t4 = Path(__file__).resolve().parents[1] / "configs" / "hardware" / "t4.yaml"
    (tmp_path / "specs" / "t4.yaml").write_text(t4.read_text())
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "net.py").write_text(NET)
    path = tmp_path / "ci" / "budgets.yaml"
    path.write_text("models:\n  - model: net.py\n    hw: ~/specs/t4.yaml\n    budgets: {latency_ms: 1}\n")
    assert B.load_budgets(path).models[0].hw == str(tmp_path / "specs" / "t4.yaml")
    assert load_spec("~/specs/t4.yaml").name == load_spec("t4").name


@pytest.mark.parametrize("text, is_path", [("t4", False), ("a4000", False), ("my.yaml", True), ("my.yml", True),
                                           ("specs/t4", True), (r"specs\t4", True)])
def test_looks_like_path(text, is_path):
    assert looks_like_path(text) is is_path


# --- validated before anything is profiled ------------------------------------------------------------


def test_a_misspelt_hw_in_a_later_entry_fails_before_any_model_is_profiled(tmp_path):
    (tmp_path / "net.py").write_text(NET)
    path = tmp_path / "budgets.yaml"
    path.write_text("models:\n"
                    "  - {name: first, model: net.py, inputs: [[1, 3, 8, 8]], budgets: {macs: 20K}}\n"
                    "  - {name: second, model: net.py, inputs: [[1, 3, 8, 8]], hw: a400, budgets: {latency_ms: 1}}\n")
    profiled: list[str] = []

    def measure(model: ModelEntry) -> ModelNumbers:
        profiled.append(model.name)
        return NOW

    with pytest.raises(SpecError) as raised:
        B.check(path, measure=measure)
    assert "models[1] (net.py): hw: unknown hardware 'a400' (did you mean 'a4000'?)" in str(raised.value)
    assert profiled == []


# --- baselines ---------------------------------------------------------------------------------------


def test_a_written_baseline_reads_back_as_the_same_numbers(tmp_path):
    (tmp_path / "net.py").write_text(NET)
    path = tmp_path / "budgets.yaml"
    path.write_text("models:\n  - model: net.py:Net\n    inputs: [[1, 3, 8, 8]]\n    layers: {'*': {macs: 14K}}\n")
    result = B.check(path)
    B.write_baseline(result, tmp_path / "baseline.json")
    baseline = B.read_baseline(tmp_path / "baseline.json")
    recorded = baseline.models["net.py:Net"]
    assert recorded.totals["macs"] == 18_944 and recorded.totals["params"] == 5_336
    assert recorded.layers["conv"]["macs"] == 13_824 and recorded.layers["fc"]["macs"] == 5_120
    again = B.check(path, baseline=tmp_path / "baseline.json")
    assert again.ok and again.regressed == 0
    assert [v.change for v in again.models[0].results[0].values] == [0.0, 0.0, 0.0]


# --- rendering and the first module name ---------------------------------------------------------------


def test_markdown_escapes_pipes_in_names_and_globs():
    spec = entry(Budget("macs", 19_000), layers=(LayerBudget("[c|f]*", (Budget("macs", 14_000),)),), name="net|v2")
    result = B.CheckResult(Path("budgets.yaml"), (B.check_model(spec, NOW),))
    text = budget_markdown(result)
    assert "### net\\|v2  ·  fp32" in text
    assert "| `macs @ [c\\|f]*` (conv: closest of 2 layers) | ≤ 14.00 K | 13.82 K | 176 left (1.3%) |" in text
    for line in text.splitlines():
        if line.startswith("| `macs @"):  # 4 cells: 5 unescaped bars
            assert line.replace("\\|", "").count("|") == 5


def test_the_first_module_name_is_the_same_api():
    for name in old_name.__all__:
        if name != "format_value":
            assert getattr(old_name, name) is getattr(B, name), name
    assert old_name.format_value(B.METRICS["latency_ms"], 0.0006028) == "0.603 ms"


def test_check_result_to_dict_is_the_json_document(tmp_path):
    result = B.CheckResult(Path("budgets.yaml"), (B.check_model(entry(Budget("macs", 19_000)), NOW),))
    data = result.to_dict()
    assert (data["ok"], data["summary"]) == (True, "1 model, 1 budget: all within")
    assert data["models"][0]["budgets"][0]["values"][0]["headroom"] == 56  # 19,000 - 18,944
