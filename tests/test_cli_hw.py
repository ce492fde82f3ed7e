"""`effprof hw list|show` and the profile command's --hw, --fuse and --plot: exit codes, no tracebacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from profiler.cli import main

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ("a100", "a4000", "cortex-a57", "cortex-a76", "gtx1080ti", "h100", "h200", "orin-nano", "t4", "xeon-8480")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_hw_list_shows_every_spec_with_ridge_points(capsys):
    code, out, _ = run(capsys, "hw", "list")
    assert code == 0
    for name in BUNDLED:
        assert name in out
    assert "ridge point" in out
    assert "76.68 / 171" in out  # a4000 fp16 tensor cores: 76.68e12 / 448e9 = 171 FLOP/B


def test_hw_list_json(capsys):
    code, out, _ = run(capsys, "hw", "list", "--json")
    assert code == 0
    specs = {s["name"]: s for s in json.loads(out)}
    assert set(specs) == set(BUNDLED)
    assert specs["t4"]["memory_bandwidth_gb_per_s"] == 320
    assert specs["t4"]["ridge_points"]["matrix"]["fp16"] == pytest.approx(65e12 / 320e9, rel=1e-12)


def test_hw_show_prints_every_number_with_its_source(capsys):
    code, out, _ = run(capsys, "hw", "show", "t4")
    assert code == 0
    assert "320 GB/s" in out and "NVIDIA T4 datasheet" in out
    assert "Turing tensor cores" in out and "L2" in out.upper()


def test_hw_show_unknown_name_suggests_the_closest(capsys):
    code, _, err = run(capsys, "hw", "show", "t5")
    assert code == 2
    assert "unknown hardware 't5' (did you mean 't4'?)" in err
    assert "a4000" in err


def test_hw_show_validates_a_user_file(capsys, tmp_path):
    path = tmp_path / "board.yaml"
    text = (ROOT / "configs" / "hardware" / "t4.yaml").read_text()
    path.write_text(text.replace("value: 320\n", "value: -320\n"))
    code, _, err = run(capsys, "hw", "show", str(path))
    assert code == 2
    assert f"{path}: field 'memory_bandwidth_gb_per_s.value': expected a positive number in GB/s, got -320" in err
    assert err.count("\n") == 1  # one line


def test_profile_with_hw_marks_no_depthwise_conv_compute_bound(capsys):
    code, out, _ = run(capsys, "examples/mobilenet_v1.py", "--hw", "a4000", "--format", "json")
    assert code == 0
    data = json.loads(out)
    depthwise = [layer for layer in data["layers"] if layer["conv_kind"] == "depthwise"]
    # the bytes take longer than the 4 µs launch above 4e-6 s x 448e9 B/s x 0.8 = 1,433,600 B
    assert len(depthwise) == 13
    for layer in depthwise:
        moved = layer["bytes_read"] + layer["bytes_written"]
        assert layer["bound"] == ("memory" if moved > 1_433_600 else "overhead"), layer["name"]
    assert data["hardware"]["name"] == "a4000"
    assert {"latency_s", "throughput_per_s", "memory_bound_fraction", "compute_bound_fraction",
            "overhead_fraction"} <= set(data["totals"])
    totals = data["totals"]
    assert totals["memory_bound_fraction"] + totals["compute_bound_fraction"] + totals["overhead_fraction"] == pytest.approx(1.0, rel=1e-12)


def test_profile_table_has_the_estimate_columns(capsys):
    code, out, _ = run(capsys, "examples/mobilenet_v1.py", "--hw", "a4000", "--depth", "1", "--fuse")
    assert code == 0
    for word in ("Latency", "Share", "Bound", "Est. latency", "fused (--fuse)", "Memory-bound"):
        assert word in out


def test_profile_unknown_hw_is_a_usage_error(capsys):
    code, _, err = run(capsys, "examples/mobilenet_v1.py", "--hw", "a400")
    assert code == 2
    assert "did you mean 'a4000'" in err


@pytest.mark.parametrize("flag", [["--fuse"], ["--plot", "x.png"]])
def test_fuse_and_plot_need_hw(capsys, flag):
    code, _, err = run(capsys, "examples/mobilenet_v1.py", *flag)
    assert code == 2
    assert "--hw" in err


def test_plot_writes_an_image(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "roofline.svg"
    code, _, _ = run(capsys, "examples/mobilenet_v1.py", "--hw", "a4000", "--plot", str(target), "--format", "json")
    assert code == 0
    text = target.read_text()
    assert text.lstrip().startswith("<?xml") and "features.1.pw.1" in text  # the heaviest layers are labelled


def test_plot_with_an_unknown_suffix(capsys, tmp_path):
    code, _, err = run(capsys, "examples/mobilenet_v1.py", "--hw", "a4000", "--plot", str(tmp_path / "r.jpg"))
    assert code == 2
    assert "end the name in .png, .svg, .pdf" in err


def test_plot_without_matplotlib_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    code, _, err = run(capsys, "examples/mobilenet_v1.py", "--hw", "a4000", "--plot", str(tmp_path / "r.png"))
    assert code == 2
    # effprof is not on PyPI: the hint names the package itself, and the checkout's extra
    assert err == ('effprof: error: --plot needs matplotlib, which is not installed: pip install matplotlib '
                   '(or, in the effprof checkout, pip install -e ".[plot]")\n')


def test_the_plot_hint_installs_what_the_plot_extra_holds():
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["plot"]
    assert extra == ["matplotlib>=3.7"]  # the hint's `pip install matplotlib` is the whole extra
    from profiler.plot import INSTALL_HINT

    assert INSTALL_HINT.startswith("pip install matplotlib ") and "effprof[" not in INSTALL_HINT


def test_sort_by_latency(capsys):
    import csv
    import io

    code, out, _ = run(capsys, "examples/mobilenet_v1.py", "--hw", "a4000", "--sort", "latency", "--top", "4", "-f", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    latencies = [float(row["latency_s"]) for row in rows]
    assert len(rows) == 4 and latencies == sorted(latencies, reverse=True)
    assert rows[0]["name"] in ("features.1.pw.1", "features.1.pw.2")  # BN and ReLU on 64×112×112: 6.42 MB each


def test_sort_by_latency_needs_hw(capsys):
    code, _, err = run(capsys, "examples/mobilenet_v1.py", "--sort", "latency")
    assert code == 2
    assert "--sort latency needs a latency estimate" in err


# gtx1080ti's latency_model block, as configs/hardware/gtx1080ti.yaml writes it
GTX1080TI_LATENCY_MODEL = {
    "runtime": "cuDNN 7 kernels picked by cudnnFind (benchmark mode), launched one per op (eager) or per fused "
               "conv+bias+activation (fused)",
    "units": 28, "gemm_tiles": [[128, 128], [128, 64], [128, 32]], "k_step": 8, "tile_overhead_k": 8,
    "winograd_tiles": [2, 4], "memory_overlap": 1.0, "eager_per_op_us": 10, "fused_per_op_us": 5,
    "horizontal_fusion": False, "concat_elimination": False,
}
# the same values as `hw show` writes them, with units
GTX1080TI_SHOWN = [
    ("units", "28"), ("gemm_tiles", "128x128, 128x64, 128x32"), ("k_step", "8"), ("tile_overhead_k", "8 k-steps"),
    ("winograd_tiles", "F(2x2, 3x3), F(4x4, 3x3)"), ("memory_overlap", "1"), ("eager_per_op_us", "10 µs"),
    ("fused_per_op_us", "5 µs"), ("horizontal_fusion", "no"), ("concat_elimination", "no"),
]


def test_hw_show_table_has_the_latency_model(capsys):
    import re

    code, out, _ = run(capsys, "hw", "show", "gtx1080ti")
    assert code == 0
    assert "Latency model (kernel-aware pricing)" in out
    for key, value in GTX1080TI_SHOWN:
        assert re.search(rf"│{key} +│ {re.escape(value)} +│", out), key
    assert "GTX 1080 Ti: 28 SMs (3584 / 128 cores per SM)" in out  # units' source


def test_hw_show_json_has_the_latency_model(capsys):
    code, out, _ = run(capsys, "hw", "show", "gtx1080ti", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert data["latency_model"] == GTX1080TI_LATENCY_MODEL
    assert data["cache_bandwidth_gb_per_s"] == [{"working_set_kib": 2816, "gb_per_s": 1114}]  # the L2 tier of the YAML
    assert data["source"]["latency_model.k_step"].startswith("the maxwell_scudnn/SGEMM main loop stages 8")


def test_hw_show_markdown_has_the_latency_model(capsys):
    code, out, _ = run(capsys, "hw", "show", "gtx1080ti", "-f", "markdown")
    assert code == 0
    lines = out.splitlines()
    start = lines.index("**Latency model (kernel-aware pricing)**")
    assert lines[start + 2:start + 5] == ["| Parameter | Value | Source |", "|---|---|---|",
                                          f"| runtime | {GTX1080TI_LATENCY_MODEL['runtime']} |  |"]
    rows = [line.split(" | ")[:2] for line in lines[start + 5:start + 15]]
    assert rows == [[f"| {key}", value] for key, value in GTX1080TI_SHOWN]


def test_hw_show_leaves_out_the_latency_model_of_a_spec_without_one(capsys):
    code, out, _ = run(capsys, "hw", "show", "a4000", "-f", "json")
    assert code == 0 and "latency_model" not in json.loads(out)
    code, out, _ = run(capsys, "hw", "show", "a4000")
    assert code == 0 and "Latency model" not in out


def test_hw_list_has_an_fp8_column_with_a_dash_where_there_is_no_fp8_peak(capsys):
    code, out, _ = run(capsys, "hw", "list", "-f", "markdown")
    assert code == 0
    lines = out.splitlines()
    header = lines[2].strip("| ").split(" | ")
    assert header == ["Name", "Device", "GB/s", "fp32", "tf32", "fp16", "bf16", "fp8", "int8"]
    fp8 = {row.strip("| ").split(" | ")[0]: row.strip("| ").split(" | ")[7] for row in lines[4:4 + len(BUNDLED)]}
    # H100 and H200: 1978.9 TFLOP/s dense fp8; ridge 1978.9e3 / 3350 = 590.7 and / 4800 = 412.3 FLOP/B
    assert fp8 == {**{name: "-" for name in BUNDLED}, "h100": "1978.9 / 591", "h200": "1978.9 / 412"}
    code, out, _ = run(capsys, "hw", "list")
    assert code == 0
    assert "fp8" in out and "1978.9 / 591" in out and "fp8: - where the spec has no fp8 peak" in " ".join(out.split())


def test_hw_show_shows_calibrated_families_alignment_and_capacity(capsys, tmp_path):
    path = tmp_path / "board.yaml"
    path.write_text((ROOT / "configs" / "hardware" / "t4.yaml").read_text() + """
kernel_families:
  conv.depthwise: {efficiency: 0.25, overhead_us: 6.5, source: "probe: depthwise 3x3", points: [[10, 0.2], [100, 0.3]]}
channel_alignment:
  int8: {input: 4, output: 16, source: "NNIE-style rule"}
""")
    code, out, err = run(capsys, "hw", "show", str(path), "-f", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert ("| Memory capacity | 16 GiB | NVIDIA T4 datasheet: 16 GB GDDR6; read as GiB, as GPU memory is sized in "
            "binary units |") in lines
    assert lines[lines.index("**Kernel families (calibrated)**") + 2:][:3] == [
        "| Kernel family | Efficiency | Overhead | Probes | Source |", "|---|---:|---:|---:|---|",
        "| conv.depthwise | 0.25 | 6.5 µs | 2 | probe: depthwise 3x3 |"]
    assert lines[lines.index("**Channel alignment (matrix engine)**") + 2:][:3] == [
        "| dtype | Input channels | Output channels | Source |", "|---|---|---|---|",
        "| int8 | multiple of 4 | multiple of 16 | NNIE-style rule |"]
    code, out, err = run(capsys, "hw", "show", str(path), "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["kernel_families"] == {"conv.depthwise": {"efficiency": 0.25, "overhead_us": 6.5,
                                                          "points": [[10, 0.2], [100, 0.3]], "gemm_points": []}}
    assert data["channel_alignment"] == {"int8": {"input": 4, "output": 16}}
    assert data["source"]["channel_alignment.int8"] == "NNIE-style rule"
    assert data["source"]["kernel_families.conv.depthwise"] == "probe: depthwise 3x3"
    assert "latency_model" not in data and "cache_bandwidth_gb_per_s" not in data  # t4 has neither
