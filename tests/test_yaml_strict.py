"""Every YAML file effprof reads: repeated keys refused, spec magnitudes checked against what
hardware can be, and bits told from bytes in budgets."""

from __future__ import annotations

import pytest
from conftest import SMALL_NET
from test_hardware import GOOD, _write

from profiler import budget as B
from profiler.errors import SpecError, UsageError
from profiler.hardware import load_spec
from profiler.units import parse_bytes


def test_a_repeated_budget_key_is_refused_with_both_lines(tmp_path):
    (tmp_path / "net.py").write_text(SMALL_NET)
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "models:\n"
        "  - model: net.py\n"
        "    inputs: [[1, 3, 8, 8]]\n"
        "    budgets:\n"
        "      macs: 600M\n"     # line 5
        "      macs: 700M\n"     # line 6: would silently win under yaml.safe_load
    )
    with pytest.raises(SpecError) as caught:
        B.load_budgets(path)
    message = str(caught.value)
    assert f"{path} line 6" in message and "'macs' is repeated (first at line 5)" in message


def test_a_repeated_spec_field_is_refused(tmp_path):
    text = GOOD.replace("kind: gpu\n", "kind: gpu\nkind: cpu\n")
    path = _write(tmp_path, text)
    with pytest.raises(SpecError, match=r"line 4: key 'kind' is repeated \(first at line 3\)"):
        load_spec(str(path))


def test_merge_keys_may_be_overridden_without_being_called_repeats():
    # `<<: *base` then an explicit key is YAML's way of overriding, not a repeat
    from profiler.yamlfile import load_yaml

    assert load_yaml("base: &b {macs: 1M}\nnet:\n  <<: *b\n  macs: 2M\n", "x.yaml")["net"] == {"macs": "2M"}


@pytest.mark.parametrize(
    "change, words",
    [
        # bytes/s in a GB/s field: 3.0e+11 B/s is 300 GB/s; loaded as GB/s the ridge point was 0.0
        (("{value: 100, source: \"datasheet\"}", "{value: 3.0e+11, source: \"datasheet\"}"),
         ["memory_bandwidth_gb_per_s.value", "expected a number in GB/s", "got 3e+11", "write 300"]),
        # GFLOP/s in a TFLOP/s field: 30300 GFLOP/s is 30.3 TFLOP/s
        (("fp32: {value: 5,", "fp32: {value: 30300,"),
         ["vector_units.peak_tflop_per_s.fp32.value", "TFLOP/s", "got 30300", "write 30.3"]),
        (("fp16: {value: 20,", "fp16: {value: 20000,"),
         ["matrix_engine.peak_tflop_per_s.fp16.value", "more than any hardware", "write 20"]),
        # seconds in a µs field: 3e-06 s is 3 µs
        (("launch_overhead_us: {value: 3,", "launch_overhead_us: {value: 3.0e-6,"),
         ["launch_overhead_us.value", "expected a number in µs", "less than any hardware", "write 3"]),
    ],
)
def test_spec_numbers_no_hardware_can_have_name_the_expected_unit(tmp_path, change, words):
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SpecError) as caught:
        load_spec(str(path))
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_a_bytes_cache_size_in_a_kib_field_is_refused(tmp_path):
    # 50 MiB written in bytes (52428800) where KiB is expected: 51200 KiB is right
    text = GOOD.replace("size_kib: 2048,", "size_kib: 52428800,")
    with pytest.raises(SpecError, match=r"caches.l2.size_kib.*if 5.24288e\+07 is in bytes, write 51200"):
        load_spec(str(_write(tmp_path, text)))


@pytest.mark.parametrize(
    "text, words",
    [
        ("150Mb", ["megabits", "write 150MB", "18.75MB for 150Mb"]),  # 150 / 8 = 18.75
        ("2Gib", ["gibibits", "write 2GiB", "0.25GiB"]),             # 2 / 8 = 0.25
        ("64kb", ["kilobits", "write 64KB", "8KB"]),                 # 64 / 8 = 8
    ],
)
def test_bits_are_not_bytes(text, words):
    with pytest.raises(UsageError) as caught:
        parse_bytes(text)
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("text, expected", [("150MB", 150e6), ("150MiB", 150 * 2**20), ("100kB", 100e3), ("1.5GB", 1.5e9)])
def test_byte_units_still_read_as_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_a_budget_in_megabits_is_refused_naming_the_entry(tmp_path):
    (tmp_path / "net.py").write_text(SMALL_NET)
    path = tmp_path / "budgets.yaml"
    path.write_text("models:\n  - model: net.py\n    inputs: [[1, 3, 8, 8]]\n    budgets: {bytes: 150Mb}\n")
    with pytest.raises(SpecError, match=r"models\[0\].*budgets.bytes.*'150Mb' is in megabits"):
        B.load_budgets(path)
