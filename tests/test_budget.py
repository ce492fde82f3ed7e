"""budget.py: budgets.yaml validation, quantities, per-layer globs, baselines and tolerance.

The tiny model used throughout (NET), input 1x3x8x8, fp32:
  conv  Conv2d(3, 8, 3, padding=1, bias=False): MACs 8*8*8 * 3*3*3 = 512 * 27 = 13,824; params 8*3*3*3 = 216
  root  relu on 8*8*8 = 512 elements, flatten (a view): 0 MACs
  fc    Linear(512, 10, bias=False): MACs 512 * 10 = 5,120; params 5,120
  totals: MACs 18,944; params 5,336
  bytes read:    conv 3*64*4 + 216*4 = 1,632; relu 512*4 = 2,048; fc 512*4 + 5,120*4 = 22,528 -> 26,208
  bytes written: conv 512*4 = 2,048;          relu 2,048;           fc 10*4 = 40                 -> 4,136
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from conftest import SMALL_NET as NET
from profiler import budget as B
from profiler.budgets import is_regressed
from profiler.errors import ModelLoadError, SpecError, UsageError
from profiler.units import parse_bytes, parse_count, parse_percent, parse_seconds


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch):
    # tests rewrite model files within the same second; a cached .pyc must never answer for them
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def write_budgets(folder: Path, text: str, name: str = "budgets.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def net(tmp_path) -> Path:
    path = tmp_path / "net.py"
    path.write_text(NET)
    return path


def entry_with(tmp_path, net, budgets: str, extra: str = "") -> B.ModelEntry:
    path = write_budgets(tmp_path, f"models:\n  - model: net.py\n    inputs: [[1, 3, 8, 8]]\n{extra}    budgets: {budgets}\n")
    return B.load_budgets(path).models[0]


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parse, text, expected",
    [
        (parse_count, "4.5M", 4_500_000),
        (parse_count, "600M", 600_000_000),
        (parse_count, "1.2G", 1_200_000_000),
        (parse_count, "2T", 2_000_000_000_000),
        (parse_count, "5K", 5_000),
        (parse_count, 216, 216),
        (parse_count, "1e9", 1_000_000_000),  # PyYAML hands 1e9 over as a string
        (parse_bytes, "40MB", 40_000_000),
        (parse_bytes, "40KB", 40_000),
        (parse_bytes, "2GB", 2_000_000_000),
        (parse_bytes, "1GiB", 2**30),
        (parse_bytes, "1.5KiB", 1536),
        (parse_bytes, "3MiB", 3 * 2**20),
        (parse_bytes, 512, 512),
        (parse_seconds, "1.5ms", 0.0015),
        (parse_seconds, "0.3ms", 0.0003),
        (parse_seconds, "800us", 0.0008),
        (parse_seconds, "800µs", 0.0008),
        (parse_seconds, "2s", 2.0),
        (parse_percent, "2%", 0.02),
        (parse_percent, "0.5%", 0.005),
    ],
)
def test_quantities_parse_to_exact_values(parse, text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("parse, text", [(parse_count, "lots"), (parse_count, "4.5X"), (parse_bytes, "40MiBs"),
                                         (parse_seconds, "1.5 hours"), (parse_percent, "2"), (parse_percent, "two%")])
def test_malformed_quantities_raise(parse, text):
    with pytest.raises(UsageError, match="malformed"):
        parse(text)


def test_budget_file_limits_in_base_units(tmp_path, net):
    path = write_budgets(tmp_path, """
models:
  - model: net.py
    hw: t4
    budgets: {params: 4.5M, macs: 600M, bytes: 40MB, bytes_read: 1GiB, latency_ms: 1.5, latency_us: 800,
              latency_s: 2ms, memory_bound_fraction: 60%, throughput_per_s: 1.2K, intensity: 8}
""")
    limits = {b.metric: b.limit for b in B.load_budgets(path).models[0].budgets}
    assert limits == {
        "params": 4_500_000, "macs": 600_000_000, "bytes": 40_000_000, "bytes_read": 2**30,
        "latency_ms": 0.0015, "latency_us": 0.0008, "latency_s": 0.002,  # all in seconds
        "memory_bound_fraction": 0.6, "throughput_per_s": 1_200, "intensity": 8,
    }


# --- validation: one line naming the file, the entry and the key --------------------------------


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("models:\n  - model: net.py\n    budgets: {maccs: 1M}\n",
         ["budgets.yaml: models[0] (net.py): budgets: unknown metric 'maccs' (did you mean 'macs'?)"]),
        ("models:\n  - model: net.py\n    budgets: {macs: lots}\n",
         ["budgets.yaml: models[0] (net.py): budgets.macs: malformed count 'lots'", "such as 4.5M"]),
        ("models:\n  - model: net.py\n    budgets: {bytes: 40 parsecs}\n",
         ["models[0] (net.py): budgets.bytes: malformed size '40 parsecs'", "40MB"]),
        ("models:\n  - model: net.py\n    budgets: {macs: yes}\n", ["budgets.macs: expected a quantity such as 600M, got True"]),
        ("models:\n  - model: net.py\n    budgets: {latency_ms: }\n    hw: t4\n",
         ["budgets.latency_ms: expected a quantity such as 1.5ms, got nothing"]),
        ("models:\n  - model: net.py\n    budgets: {macs: .nan}\n", ["budgets.macs: the limit must be a finite number, 0 or more"]),
        ("models:\n  - model: net.py\n    budgets: {params: -5}\n", ["budgets.params: the limit must be a finite number, 0 or more, got -5"]),
        ("models:\n  - model: net.py\n    budget: {macs: 1M}\n", ["unknown key 'budget' (did you mean 'budgets'?)"]),
        ("models:\n  - model: net.py\n    budgets: {macs: 1M, dtype: fp16}\n",
         ["budgets: 'dtype' is a setting of the entry, not a metric: move it out of 'budgets', next to 'model:'"]),
        ("model: net.py\n", ["unknown key 'model' (did you mean 'models'?)"]),
        ("models: []\n", ["'models' must be a non-empty list"]),
        ("models:\n  - model: net.py\n", ["models[0] (net.py): no budgets"]),
        ("models:\n  - budgets: {macs: 1M}\n", ["models[0]: 'model:' is required"]),
        ("models:\n  - model: absent.py\n    budgets: {macs: 1M}\n",
         ["models[0] (absent.py): model file", "absent.py' not found (model paths are relative to the budget file's folder)"]),
        ("models:\n  - model: net.py\n    budgets: {latency_ms: 1.5}\n",
         ["models[0] (net.py): budget 'latency_ms' needs a roofline estimate: add 'hw:'"]),
        ("models:\n  - model: net.py\n    layers: {'fc': {memory_bound_fraction: 0.5}}\n    hw: t4\n",
         ["layers.fc: 'memory_bound_fraction' is a model total, not a per-layer number"]),
        ("models:\n  - model: net.py\n    budgets: {memory_bound_fraction: 1.5}\n    hw: t4\n",
         ["a fraction must lie between 0 and 1"]),
        ("models:\n  - model: net.py\n    inputs: [[1, three]]\n    budgets: {macs: 1M}\n",
         ["models[0] (net.py): input [1, 'three'] must be a list of integers"]),
        ("models:\n  - model: net.py\n    inputs: ['1,0']\n    budgets: {macs: 1M}\n",
         ["models[0] (net.py): inputs: bad input '1,0': every dimension must be a positive integer"]),
        ("models:\n  - model: net.py\n    dtype: fp17\n    budgets: {macs: 1M}\n", ["dtype: unknown dtype 'fp17' (did you mean 'fp16'?)"]),
        ("models:\n  - model: net.py\n    batch: 0\n    budgets: {macs: 1M}\n", ["'batch:' must be a positive integer, got 0"]),
        ("models:\n  - model: net.py\n    fuse: true\n    budgets: {macs: 1M}\n",
         ["models[0] (net.py): 'fuse:' changes only the latency estimate: add 'hw:'"]),
        ("models:\n  - model: net.py\n    fuse: yes please\n    hw: t4\n    budgets: {macs: 1M}\n",
         ["'fuse:' must be true or false, got 'yes please'"]),
        ("models:\n  - model: net.py\n    budgets: {macs: 1M}\n  - model: net.py\n    budgets: {params: 1M}\n",
         ["models[1] (net.py): the name 'net.py' is already used by models[0]; give each entry a distinct 'name:'"]),
        ("models:\n  - model: net.py\n    budgets: {macs: 1M\n", ["budgets.yaml line", "not valid YAML"]),
    ],
)
def test_bad_budget_files_name_file_entry_and_key(tmp_path, net, yaml_text, expected):
    path = write_budgets(tmp_path, yaml_text)
    with pytest.raises(SpecError) as raised:
        B.load_budgets(path)
    message = str(raised.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_missing_budget_file(tmp_path):
    with pytest.raises(SpecError, match="budget file '.*nope.yaml' not found"):
        B.load_budgets(tmp_path / "nope.yaml")


def test_inputs_take_the_input_shape_rules(tmp_path, net):
    path = write_budgets(tmp_path, """
models:
  - {model: net.py, inputs: [[1, 3, 8, 8], "1,128:int64", "2x4"], budgets: {macs: 1M}}
  - {name: flat, model: net.py, inputs: [1, 3, 8, 8], budgets: {macs: 1M}}
""")
    first, flat = B.load_budgets(path).models
    assert [str(s) for s in first.inputs] == ["1,3,8,8:fp32", "1,128:int64", "2,4:fp32"]
    assert [str(s) for s in flat.inputs] == ["1,3,8,8:fp32"]  # a flat list of ints is one input


def test_unknown_hardware_fails_before_profiling(tmp_path, net):
    path = write_budgets(tmp_path, "models:\n  - model: net.py\n    hw: t5\n    budgets: {latency_ms: 1}\n")
    with pytest.raises(SpecError) as raised:
        B.load_budgets(path)
    assert "budgets.yaml: models[0] (net.py): hw: unknown hardware 't5' (did you mean 't4'?)" in str(raised.value)


# --- relative paths -----------------------------------------------------------------------------


def test_a_hardware_spec_path_is_relative_to_the_budget_file(tmp_path, net, monkeypatch):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "t4.yaml").write_text((Path(__file__).resolve().parents[1] / "configs" / "hardware" / "t4.yaml").read_text())
    path = write_budgets(tmp_path, "models:\n  - model: net.py\n    hw: specs/t4.yaml\n    budgets: {latency_ms: 1}\n")
    monkeypatch.chdir(net.parent.parent)
    assert B.load_budgets(path).models[0].hw == str(specs / "t4.yaml")


def test_model_paths_are_relative_to_the_budget_file(tmp_path, monkeypatch):
    folder = tmp_path / "project" / "ci"
    folder.mkdir(parents=True)
    (folder / "net.py").write_text(NET)
    write_budgets(folder, "models:\n  - model: net.py:Net\n    inputs: [[1, 3, 8, 8]]\n    budgets: {macs: 20K}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    entry = B.load_budgets(Path("..") / "project" / "ci" / "budgets.yaml").models[0]
    assert Path(entry.target.rpartition(":")[0]).resolve() == (folder / "net.py").resolve()
    assert entry.target.endswith(":Net") and entry.name == "net.py:Net"
    assert B.profile_entry(entry).totals.macs == 18_944


# --- measuring ------------------------------------------------------------------------------------


def test_profile_entry_measures_the_hand_counted_net(tmp_path, net):
    entry = entry_with(tmp_path, net, "{macs: 20K}")
    totals = B.profile_entry(entry).totals
    assert (totals.macs, totals.params) == (18_944, 5_336)
    assert (totals.bytes_read, totals.bytes_written) == (26_208, 4_136)


def test_batch_and_dtype_reach_the_profile(tmp_path, net):
    # batch 2 doubles every MAC: 2 * 18,944; bytes are priced at 2 per element, weights read once per call
    entry = entry_with(tmp_path, net, "{macs: 100K}", extra="    batch: 2\n    dtype: fp16\n")
    totals = B.profile_entry(entry).totals
    assert totals.macs == 37_888
    # fp16, batch 2: conv in 2*3*64*2 = 768 + w 216*2 = 432; relu 2*512*2 = 2,048; fc in 2*512*2 = 2,048 + w 5,120*2 = 10,240
    assert totals.bytes_read == 768 + 432 + 2_048 + 2_048 + 10_240
    # written: conv 2*512*2 = 2,048; relu 2,048; fc 2*10*2 = 40
    assert totals.bytes_written == 2_048 + 2_048 + 40


def test_every_report_total_is_budgetable(tmp_path, net):
    report = B.profile_entry(entry_with(tmp_path, net, "{macs: 20K}"))
    assert set(B.numbers_of(report).totals) <= set(B.METRICS)
    assert set(report.to_dict()["totals"]) <= set(B.METRICS)


def test_every_roofline_total_is_budgetable(tmp_path, net):
    # fails when the report grows a total that METRICS neither budgets nor sets aside as a setting
    report = B.profile_entry(entry_with(tmp_path, net, "{latency_ms: 1}", extra="    hw: t4\n"))
    document = report.to_dict()
    numbers = B.numbers_of(report)
    assert {"latency_s", "throughput_per_s", "memory_bound_fraction", "launches"} <= set(numbers.totals)
    assert set(document["totals"]) - B.NOT_METRICS <= set(B.METRICS)
    assert set(numbers.totals) - B.NOT_METRICS <= set(B.METRICS)
    for metric in B.METRICS.values():
        if metric.per_layer:  # every per-layer metric is a number of each layer
            assert set(metric.sources) <= set(numbers.layers["conv"]), metric.name


def test_a_model_that_fails_to_import_is_an_error_naming_the_entry(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    path = write_budgets(tmp_path, "models:\n  - model: broken.py\n    budgets: {macs: 1G}\n")
    with pytest.raises(ModelLoadError) as raised:
        B.check(path)
    assert "budgets.yaml: models[0] (broken.py): importing" in str(raised.value)
    assert "raised RuntimeError: boom" in str(raised.value)


def test_inputs_that_do_not_fit_are_an_error_naming_the_entry(tmp_path, net):
    path = write_budgets(tmp_path, "models:\n  - model: net.py\n    inputs: [[1, 3, 9, 9]]\n    budgets: {macs: 1G}\n")
    with pytest.raises(ModelLoadError, match=r"models\[0\] \(net.py\): inputs do not fit the model at layer 'fc'"):
        B.check(path)


# --- checking a report dict -----------------------------------------------------------------------

REPORT = {
    "dtype": "fp32",
    "totals": {"params": 5_336, "buffers": 0, "macs": 18_944, "flops": 38_400, "bytes_read": 26_208,
               "bytes_written": 4_136, "intensity": 38_400 / 30_344},
    "layers": [
        {"name": "", "params": 0, "macs": 0, "flops": 512, "bytes_read": 2_048, "bytes_written": 2_048, "intensity": 0.125},
        {"name": "conv", "params": 216, "macs": 13_824, "flops": 27_648, "bytes_read": 1_632, "bytes_written": 2_048,
         "intensity": 27_648 / 3_680},
        {"name": "fc", "params": 5_120, "macs": 5_120, "flops": 10_240, "bytes_read": 22_528, "bytes_written": 40,
         "intensity": 10_240 / 22_568},
    ],
    "unsupported_ops": {},
}

ROOFLINE = {**REPORT, "totals": {**REPORT["totals"], "latency_s": 0.0015, "throughput_per_s": 666.0,
                                 "memory_bound_fraction": 0.75}}


def one(tmp_path, net, budgets: str, report=REPORT, extra: str = "", baseline=None, tolerance=0.0) -> B.ModelResult:
    return B.check_model(entry_with(tmp_path, net, budgets, extra), B.ModelNumbers.from_document(report), baseline, tolerance)


@pytest.mark.parametrize(
    "budgets, over",
    [
        ("{macs: 18944}", False),          # exactly at the limit is within
        ("{macs: 18943}", True),
        ("{macs: 18.944K}", False),
        ("{params: 5336, buffers: 0}", False),
        ("{bytes: 30344}", False),         # bytes = bytes_read + bytes_written = 26,208 + 4,136
        ("{bytes: 30343}", True),
        ("{bytes_read: 26208}", False),
        ("{bytes_written: 4KB}", True),    # 4,136 > 4,000
        ("{bytes_written: 4KiB}", True),   # 4,136 > 4,096
        ("{bytes_written: 4.1KB}", True),
        ("{bytes_written: 4.2KB}", False),
        ("{intensity: 1.25}", False),      # a floor: 38,400 / 30,344 = 1.2655 >= 1.25
        ("{intensity: 1.3}", True),
    ],
)
def test_model_totals_within_and_over(tmp_path, net, budgets, over):
    result = one(tmp_path, net, budgets)
    assert bool(result.over) is over


@pytest.mark.parametrize(
    "budgets, over",
    [
        ("{latency_ms: 1.5}", False),       # 0.0015 s
        ("{latency_ms: 1.49}", True),
        ("{latency_us: 1500}", False),
        ("{latency_us: 1499}", True),
        ("{latency_s: 1.5ms}", False),
        ("{latency_s: 0.001}", True),
        ("{throughput_per_s: 666}", False),  # a floor: at least 666 per second
        ("{throughput_per_s: 667}", True),
        ("{memory_bound_fraction: 0.75}", False),
        ("{memory_bound_fraction: 70%}", True),
    ],
)
def test_roofline_metrics_and_their_units(tmp_path, net, budgets, over):
    result = one(tmp_path, net, budgets, report=ROOFLINE, extra="    hw: t4\n")
    assert bool(result.over) is over


def test_headroom_is_signed_by_direction(tmp_path, net):
    result = one(tmp_path, net, "{macs: 20K, intensity: 1.5}")
    macs, intensity = result.results
    assert macs.headroom(macs.values[0]) == 20_000 - 18_944
    assert intensity.headroom(intensity.values[0]) == pytest.approx(38_400 / 30_344 - 1.5)
    assert intensity.over and not macs.over


def test_an_unmeasured_metric_never_passes(tmp_path, net):
    report = {**REPORT, "totals": {**REPORT["totals"], "intensity": None}}
    result = one(tmp_path, net, "{intensity: 0}", report=report)
    assert result.over == 1 and result.results[0].values[0].actual is None


def test_unsupported_ops_are_noted(tmp_path, net):
    report = {**REPORT, "unsupported_ops": {"aten.weird": 3}}
    result = one(tmp_path, net, "{macs: 20K}", report=report)
    assert result.notes == ("3 calls of unsupported ops (aten.weird) are not counted: MACs, FLOPs, bytes and latency are lower bounds",)


@pytest.mark.parametrize(
    "metric, value, text",
    [
        ("macs", 568_740_352, "568.74 M"),
        ("bytes", 40_000_000, "40.00 MB"),
        ("latency_ms", 0.0006028, "0.603 ms"),  # in the unit the budget is written in
        ("latency_us", 0.0006028, "602.80 µs"),
        ("latency_s", 0.0015, "1.500 ms"),
        ("memory_bound_fraction", 0.6, "60%"),
        ("memory_bound_fraction", 0.7359, "73.6%"),
        ("throughput_per_s", 1_300, "1.30 K/s"),
        ("intensity", 8.3132, "8.31 FLOP/B"),
        ("macs", None, "n/a"),
    ],
)
def test_values_print_in_their_metric_unit(metric, value, text):
    assert B.format_value(B.METRICS[metric], value) == text


# --- per-layer globs --------------------------------------------------------------------------------


def test_a_glob_budget_applies_to_each_layer_not_their_sum(tmp_path, net):
    # every layer is at most 13,824 MACs although together they are 18,944
    result = one(tmp_path, net, "{}", extra="    layers: {'*': {macs: 14K}}\n")
    (layer_result,) = result.results
    assert [v.layer for v in layer_result.values] == ["", "conv", "fc"]
    assert [v.actual for v in layer_result.values] == [0, 13_824, 5_120]
    assert not layer_result.over
    assert layer_result.worst.layer == "conv"  # the least headroom


def test_a_glob_over_in_one_layer(tmp_path, net):
    result = one(tmp_path, net, "{}", extra="    layers: {'*': {macs: 10K}, 'f?': {params: 5K, bytes: 22568}}\n")
    star, fc_params, fc_bytes = result.results
    assert star.over and [v.layer for v in star.values if v.over] == ["conv"]
    assert fc_params.over and fc_params.worst.actual == 5_120
    assert not fc_bytes.over  # fc moves 22,528 + 40 = 22,568 bytes
    assert result.over == 2


@pytest.mark.parametrize(
    "pattern, hint",
    [
        ("head.*", "the layers are named like conv, fc"),
        ("fcc", "did you mean 'fc'?"),
    ],
)
def test_a_glob_matching_nothing_is_an_error(tmp_path, net, pattern, hint):
    with pytest.raises(SpecError) as raised:
        one(tmp_path, net, "{}", extra=f"    layers: {{'{pattern}': {{macs: 1M}}}}\n")
    assert f"models[0] (net.py): layers.{pattern}: matches no layer" in str(raised.value)
    assert hint in str(raised.value)


def test_a_container_name_suggests_its_glob(tmp_path, net):
    report = {**REPORT, "layers": [{**layer, "name": f"features.{layer['name']}"} for layer in REPORT["layers"][1:]]}
    with pytest.raises(SpecError, match=r"did you mean 'features\.\*'\?"):
        one(tmp_path, net, "{}", report=report, extra="    layers: {'features': {macs: 1M}}\n")


# --- baselines and tolerance -------------------------------------------------------------------------

def grown(factor_macs: int) -> dict:
    return {**REPORT, "totals": {**REPORT["totals"], "macs": factor_macs}}


@pytest.mark.parametrize(
    "actual, tolerance, regressed",
    [
        (19_512, 0.02, True),    # 18,944 * 1.03 = 19,512.32 -> 19,512 is +2.997 %
        (19_512, 0.05, False),
        (19_322, 0.02, False),   # +1.995 %
        (18_944, 0.0, False),    # unchanged at zero tolerance
        (18_945, 0.0, True),     # one MAC more at zero tolerance
        (10_000, 0.0, False),    # shrinking is never a regression
    ],
)
def test_growth_beyond_tolerance_is_a_regression_even_within_budget(tmp_path, net, actual, tolerance, regressed):
    baseline = B.baseline_dict(B.ModelNumbers.from_document(REPORT))
    result = one(tmp_path, net, "{macs: 1G}", report=grown(actual), baseline=baseline, tolerance=tolerance)
    assert result.over == 0
    assert bool(result.regressed) is regressed


def test_growth_of_exactly_the_tolerance_passes():
    # 100 -> 102 at 2 %: in floats 102 / 100 - 1 = 0.020000000000000018 > 0.02; the check must not be fooled
    metric = B.METRICS["macs"]
    assert not is_regressed(metric, 102, 100, 0.02)
    assert is_regressed(metric, 103, 100, 0.02)


def test_a_floor_regresses_when_it_drops(tmp_path, net):
    baseline = B.baseline_dict(B.ModelNumbers.from_document(ROOFLINE))
    report = {**ROOFLINE, "totals": {**ROOFLINE["totals"], "throughput_per_s": 646.0}}  # 666 -> 646 = -3.0 %
    for tolerance, regressed in ((0.02, True), (0.05, False)):
        result = one(tmp_path, net, "{throughput_per_s: 100}", report=report, extra="    hw: t4\n",
                     baseline=baseline, tolerance=tolerance)
        assert bool(result.regressed) is regressed


def test_per_layer_baselines(tmp_path, net):
    baseline = B.baseline_dict(B.ModelNumbers.from_document(REPORT))
    layers = [dict(layer) for layer in REPORT["layers"]]
    layers[2]["macs"] = 5_300  # fc: 5,120 -> 5,300 = +3.5 %
    result = one(tmp_path, net, "{}", report={**REPORT, "layers": layers}, extra="    layers: {'*': {macs: 1M}}\n",
                 baseline=baseline, tolerance=0.02)
    (layer_result,) = result.results
    assert [v.regressed for v in layer_result.values] == [False, False, True]
    assert layer_result.worst_change.layer == "fc"
    assert layer_result.worst_change.change == pytest.approx(180 / 5_120)


def test_growth_from_zero_is_infinite(tmp_path, net):
    baseline = B.baseline_dict(B.ModelNumbers.from_document({**REPORT, "totals": {**REPORT["totals"], "buffers": 0}}))
    report = {**REPORT, "totals": {**REPORT["totals"], "buffers": 4}}
    (result,) = one(tmp_path, net, "{buffers: 10}", report=report, baseline=baseline, tolerance=0.5).results
    assert result.values[0].change == math.inf and result.regressed


def test_baseline_dict_keeps_numbers_only():
    data = B.baseline_dict(B.ModelNumbers.from_document(REPORT))
    assert data["totals"]["macs"] == 18_944
    assert data["layers"]["conv"] == {"params": 216, "macs": 13_824, "flops": 27_648, "bytes_read": 1_632,
                                      "bytes_written": 2_048, "intensity": 27_648 / 3_680}


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "is not valid JSON (line 1"),
        ('{"models": {}}', "is not an effprof baseline (version 1)"),
        ('{"effprof_baseline": 1, "models": {"net.py": {"layers": {}}}}', "model 'net.py' lacks its 'totals' mapping"),
    ],
)
def test_bad_baselines(tmp_path, text, message):
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(SpecError) as raised:
        B.load_baseline(path)
    assert message in str(raised.value) and "--write-baseline" in str(raised.value)


def test_missing_baseline(tmp_path):
    with pytest.raises(SpecError, match="baseline '.*absent.json' not found; write one with"):
        B.load_baseline(tmp_path / "absent.json")


def test_a_model_missing_from_the_baseline_is_noted_not_failed(tmp_path, net):
    path = write_budgets(tmp_path, "models:\n  - model: net.py\n    inputs: [[1, 3, 8, 8]]\n    budgets: {macs: 20K}\n")
    baseline = tmp_path / "baseline.json"
    baseline.write_text('{"effprof_baseline": 1, "models": {}}')
    result = B.check(path, baseline=baseline, tolerance=0.02, measure=lambda entry: B.ModelNumbers.from_document(REPORT))
    assert result.ok
    assert "not in the baseline" in result.models[0].notes[0]
    assert result.models[0].results[0].values[0].change is None


def test_summary_lines(tmp_path, net):
    path = write_budgets(tmp_path, """
models:
  - {name: a, model: net.py, budgets: {macs: 20K, params: 5K}}
  - {name: b, model: net.py, budgets: {macs: 20K}, layers: {'c*': {macs: 14K}}}
""")
    result = B.check(path, measure=lambda entry: B.ModelNumbers.from_document(REPORT))
    assert result.summary() == "2 models, 4 budgets: 1 over budget"
    assert not result.ok
    ok = B.check(path, measure=lambda entry: B.ModelNumbers.from_document({**REPORT, "totals": {**REPORT["totals"], "params": 4_000}}))
    assert ok.summary() == "2 models, 4 budgets: all within" and ok.ok


# --- latency through the real roofline ---------------------------------------------------------------


def test_fuse_and_hw_reach_the_profile(tmp_path, net):
    plain = B.profile_entry(entry_with(tmp_path, net, "{launches: 10}", extra="    hw: t4\n")).estimate.total
    fused = B.profile_entry(entry_with(tmp_path, net, "{launches: 10}", extra="    hw: t4\n    fuse: true\n")).estimate.total
    assert (plain.fused, fused.fused) == (False, True)
    # unfused: conv, relu, fc are three kernels (the flatten is a view); fused: conv + relu is one
    assert (plain.launches, fused.launches) == (3, 2)


def test_latency_budget_on_t4(tmp_path, net):
    entry = entry_with(tmp_path, net, "{macs: 20K}", extra="    hw: t4\n")
    latency_s = B.profile_entry(entry).estimate.latency_s
    assert latency_s > 0
    # 1 % either side of the estimate, written in microseconds: a unit slip of 1000x cannot pass both
    for factor, over in ((1.01, False), (0.99, True)):
        path = write_budgets(tmp_path, f"models:\n  - model: net.py\n    inputs: [[1, 3, 8, 8]]\n    hw: t4\n"
                                       f"    budgets: {{latency_us: {latency_s * 1e6 * factor!r}}}\n")
        assert (B.check(path).over == 1) is over


def test_per_layer_latency_on_t4(tmp_path, net):
    report = B.profile_entry(entry_with(tmp_path, net, "{macs: 20K}", extra="    hw: t4\n"))
    conv_us = report.estimate.layer("conv").latency_s * 1e6
    for factor, over in ((1.01, False), (0.99, True)):
        entry = entry_with(tmp_path, net, "{}", extra=f"    hw: t4\n    layers: {{conv: {{latency_us: {conv_us * factor!r}}}}}\n")
        assert bool(B.check_model(entry, report).over) is over
