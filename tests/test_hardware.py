"""Hardware specs: every bundled file loads with a source for each number; bad files fail in one line."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from profiler.errors import SpecError
from profiler.hardware import HardwareSpec, bundled_names, bundled_specs, load_spec, parse_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "hardware"

REQUIRED = {"a4000", "t4", "cortex-a76", "a100", "h100", "h200", "orin-nano"}

GOOD = """\
name: my-board
description: a test board
kind: gpu
memory_bandwidth_gb_per_s: {value: 100, source: "datasheet"}
matrix_engine:
  name: tensor cores
  peak_tflop_per_s:
    fp16: {value: 20, source: "datasheet"}
vector_units:
  name: cores
  peak_tflop_per_s:
    fp32: {value: 5, source: "datasheet"}
efficiency:
  compute: {value: 0.5, source: "assumed"}
  memory: {value: 0.8, source: "assumed"}
launch_overhead_us: {value: 3, source: "assumed"}
caches:
  l2: {size_kib: 2048, per: device, source: "datasheet"}
"""


def _write(tmp_path: Path, text: str, name: str = "board.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------ bundled


def test_required_specs_are_bundled_with_an_x86_server_cpu():
    names = set(bundled_names())
    assert REQUIRED <= names
    cpus = [s for s in bundled_specs() if s.kind == "cpu" and "xeon" in s.name]
    assert cpus, "an x86 server CPU spec is bundled"


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("*.yaml")))
def test_every_bundled_spec_loads_and_sources_every_number(name):
    spec = load_spec(name)
    assert isinstance(spec, HardwareSpec)
    assert spec.name == name  # the file stem is the name users type
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())

    def walk(node, where):
        # every number sits next to a non-empty `source` string
        if isinstance(node, dict):
            numbers = [k for k, v in node.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numbers:
                assert isinstance(node.get("source"), str) and node["source"].strip(), f"{name}: {where} has no source"
            for key, value in node.items():
                walk(value, f"{where}.{key}")

    walk(raw, name)
    sources = spec.sources()
    assert all(text.strip() for text in sources.values())
    # bandwidth, memory capacity, two efficiencies, launch, every peak, every cache, every cache tier
    # and every latency-model field (10 of them): each named once
    assert spec.memory_capacity_gib is not None, f"{name}: a bundled spec gives its memory capacity"
    peaks = sum(len(u.peak_tflop_per_s) for u in spec.units().values())
    model_fields = 10 if spec.latency_model is not None else 0
    assert len(sources) == 5 + peaks + len(spec.caches) + len(spec.cache_bandwidth) + model_fields


@pytest.mark.parametrize("name, gib", [
    ("a4000", 16), ("t4", 16), ("a100", 80), ("h100", 80), ("h200", 141), ("orin-nano", 8), ("cortex-a76", 8), ("xeon-8480", 256),
])
def test_memory_capacity_of_every_bundled_spec(name, gib):
    # datasheet capacities read as GiB: 80 GiB = 80 * 2**30 = 85,899,345,920 bytes
    spec = load_spec(name)
    assert spec.memory_capacity_gib.value == gib
    assert spec.memory_capacity_bytes == gib * 1_073_741_824
    if spec.kind == "cpu":
        assert spec.memory_capacity_gib.source.startswith("assumed:"), "a CPU's RAM is a stated assumption"


def test_datasheet_bandwidths_of_the_issue():
    assert load_spec("a4000").memory_bandwidth_gb_per_s.value == 448
    assert load_spec("t4").memory_bandwidth_gb_per_s.value == 320


def test_gpu_tensor_cores_list_no_fp32_and_vector_units_list_no_tf32():
    # tensor cores compute tf32/fp16/bf16/int8 only; tf32 is a matrix-engine format
    for spec in bundled_specs():
        if spec.kind == "gpu" and spec.name != "gtx1080ti":  # Pascal has no tensor cores
            assert spec.matrix_engine is not None and spec.matrix_engine.peak("fp32") is None
        assert spec.vector_units.peak("tf32") is None
        assert spec.vector_units.peak("fp32") is not None


def test_turing_has_no_tf32_or_bf16_and_a76_has_no_matrix_engine():
    t4 = load_spec("t4")
    assert t4.matrix_engine.peak("tf32") is None and t4.matrix_engine.peak("bf16") is None
    assert load_spec("cortex-a76").matrix_engine is None
    assert load_spec("gtx1080ti").matrix_engine is None and load_spec("cortex-a57").matrix_engine is None


def test_load_spec_passes_a_spec_object_through():
    spec = load_spec("t4")
    assert load_spec(spec) is spec


def test_bundled_specs_come_from_the_package_resources():
    from importlib.resources import files

    folder = files("profiler._configs").joinpath("hardware")
    assert sorted(e.name for e in folder.iterdir() if e.name.endswith(".yaml")) == sorted(
        p.name for p in CONFIGS.glob("*.yaml")
    )


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_pyproject_lists_every_package():
    # packages are listed by hand (configs/ maps into profiler._configs): a new subpackage must be added
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "profiler").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert setup["package-dir"]["profiler._configs"] == "configs"
    assert "*.yaml" in setup["package-data"]["profiler._configs.hardware"]


# ------------------------------------------------------------------------------------ user files


def test_a_user_yaml_loads_by_path(tmp_path):
    spec = load_spec(str(_write(tmp_path, GOOD)))
    assert spec.name == "my-board"
    assert spec.memory_bandwidth_gb_per_s.value == 100.0
    assert spec.matrix_engine.peak("fp16").value == 20.0
    assert spec.caches[0].size_kib == 2048.0
    assert spec.launch_overhead_s == pytest.approx(3e-6, rel=1e-12)


def test_name_defaults_to_the_file_stem(tmp_path):
    text = GOOD.replace("name: my-board\n", "")
    assert load_spec(_write(tmp_path, text, "jetson-x.yaml")).name == "jetson-x"


def test_matrix_engine_is_optional(tmp_path):
    start = GOOD.index("matrix_engine:")
    end = GOOD.index("vector_units:")
    spec = load_spec(str(_write(tmp_path, GOOD[:start] + GOOD[end:])))
    assert spec.matrix_engine is None
    assert list(spec.units()) == ["vector"]


BAD = [
    # (what to change, words the one-line error must contain)
    (lambda t: t.replace("memory_bandwidth_gb_per_s: {value: 100, source: \"datasheet\"}\n", ""),
     ["missing field 'memory_bandwidth_gb_per_s'"]),
    (lambda t: t.replace("{value: 100,", "{value: fast,"),
     ["memory_bandwidth_gb_per_s.value", "number in GB/s", "'fast'"]),
    (lambda t: t.replace("{value: 100,", "{value: 100e9,"),
     ["memory_bandwidth_gb_per_s.value", "PyYAML reads 448e9 as text"]),
    (lambda t: t.replace("{value: 100,", "{value: -448,"),
     ["memory_bandwidth_gb_per_s.value", "positive number", "-448"]),
    (lambda t: t.replace("memory_bandwidth_gb_per_s:", "memory_bandwith_gb_per_s:"),
     ["unknown field 'memory_bandwith_gb_per_s'", "did you mean 'memory_bandwidth_gb_per_s'"]),
    (lambda t: t.replace("compute: {value: 0.5,", "compute: {value: 1.5,"),
     ["efficiency.compute.value", "at most 1"]),
    (lambda t: t.replace('launch_overhead_us: {value: 3, source: "assumed"}', "launch_overhead_us: {value: 3}"),
     ["missing field 'launch_overhead_us.source'"]),
    (lambda t: t.replace("fp16: {value: 20,", "fp4: {value: 20,"),
     ["unknown field 'matrix_engine.peak_tflop_per_s.fp4'"]),
    (lambda t: t.replace("kind: gpu", "kind: tpu"),
     ["field 'kind'", "one of gpu, cpu", "'tpu'"]),
    (lambda t: t.replace("fp32: {value: 5,", "fp16: {value: 5,"),
     ["missing field 'vector_units.peak_tflop_per_s.fp32'"]),
    (lambda t: t.replace("per: device", "per: socket"),
     ["caches.l2.per", "one of core, sm, cluster, device"]),
    (lambda t: t.replace("memory_bandwidth_gb_per_s: {value: 100, source: \"datasheet\"}", "memory_bandwidth_gb_per_s: 100"),
     ["memory_bandwidth_gb_per_s", "{value: <number in GB/s>, source"]),
    (lambda t: t.replace("vector_units:\n  name: cores\n", "vector_units:\n  name: [cores\n"),
     ["not valid YAML at line"]),
    (lambda t: "", ["the file is empty"]),
]


@pytest.mark.parametrize("change, words", BAD)
def test_bad_spec_files_fail_with_one_line_naming_file_and_field(tmp_path, change, words):
    path = _write(tmp_path, change(GOOD))
    with pytest.raises(SpecError) as caught:
        load_spec(str(path))
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match=r"hardware spec file '.*nope\.yaml' not found"):
        load_spec(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("typed, closest", [("a400", "a4000"), ("h10", "h100"), ("orin_nano", "orin-nano")])
def test_unknown_name_lists_the_bundled_ones_and_suggests_the_closest(typed, closest):
    with pytest.raises(SpecError) as caught:
        load_spec(typed)
    message = str(caught.value)
    assert f"did you mean '{closest}'" in message
    assert all(name in message for name in REQUIRED)


def test_parse_spec_validates_a_dict():
    spec = parse_spec(yaml.safe_load(GOOD), "inline")
    assert spec.path == "inline"
    with pytest.raises(SpecError, match="inline: field 'efficiency'"):
        parse_spec({**yaml.safe_load(GOOD), "efficiency": [0.5]}, "inline")


def test_user_file_is_loaded_relative_to_the_working_directory(tmp_path, monkeypatch):
    _write(tmp_path, textwrap.dedent(GOOD), "board.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_spec("board.yaml").name == "my-board"


def test_the_annotated_example_in_the_docs_is_a_valid_spec():
    text = (ROOT / "docs" / "roofline.md").read_text()
    start = text.index("```yaml\nname: my-board")
    block = text[start + len("```yaml\n"): text.index("```", start + 7)]
    spec = parse_spec(yaml.safe_load(block), "docs/roofline.md")
    assert spec.name == "my-board" and spec.matrix_engine.peak("fp16").value == 16.4


def test_memory_capacity_in_bytes_is_refused_with_the_fix():
    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "hardware" / "t4.yaml").read_text())
    data["memory_capacity_gib"] = {"value": 17_179_869_184, "source": "16 GiB written in bytes"}
    with pytest.raises(SpecError, match=r"memory_capacity_gib.value.*if 1.71799e\+10 is in bytes, write 16"):
        parse_spec(data, "t4.yaml")


def test_the_calibration_record_keeps_its_old_name():
    # effprof 0.1 called hardware.FamilyCalibration KernelFamily; code importing it still works
    from profiler.hardware import FamilyCalibration, KernelFamily
    from profiler.vocabulary import KernelFamily as FamilyWord

    assert KernelFamily is FamilyCalibration and KernelFamily is not FamilyWord
