"""realrun: the one home of running for real. Statistics on hand-computed values, the bulk timer
and the CUDA path on a fake clock, device and thread rules, the memory check, and proof that
`calibrate` and `--measure` both run on realrun's clock, TF32 setting and inference context."""

from __future__ import annotations

import ast
import math
import random
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from torch import nn

from profiler.cli.flags import COMMAND_LINE
from profiler import calibrate as C
from profiler.api import profile, profile_loaded
from profiler.errors import UsageError
from profiler.hardware import load_spec
from profiler.loading import LoadedModel
from profiler.measure import measure_loaded
from profiler.realrun import (
    Clock, LayerTimes, Timer, check_fits, error_percent, inference, median, memory_needed_bytes, num_threads,
    pick_device, ranks, spearman, spread, tf32, time_forward, time_layers, within,
)
from profiler.realrun.layers import _ModuleCall, _own_times
from profiler.tracing import ModelInputs

PACKAGE = Path(__file__).resolve().parents[1] / "profiler"

# ------------------------------------------------------------------------------------ statistics


def test_median_of_odd_and_even_counts():
    assert median([3, 1, 2]) == 2.0
    assert median([4, 1, 3, 2]) == 2.5  # (2 + 3) / 2
    assert median([7]) == 7.0
    assert median([0.25, 0.75]) == 0.5
    with pytest.raises(ValueError, match="median of no values"):
        median([])


def test_spread_is_slowest_over_fastest():
    assert spread([2.0, 3.0, 4.0]) == 2.0  # 4 / 2
    assert spread([5.0]) == 1.0
    assert spread([0.0, 1.0]) is None  # a zero-time repeat has no ratio
    with pytest.raises(ValueError):
        spread([])


def test_spearman_of_one_swapped_pair_is_exactly_0_8():
    # ranks 1 2 3 4 against 1 2 4 3: sum d^2 = 2, rho = 1 - 6*2 / (4*(16-1)) = 0.8
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == 0.8


def test_spearman_with_ties_uses_mean_ranks():
    # x ranks 1, 2.5, 2.5, 4 (two 2s share ranks 2 and 3); y ranks 1..4; both centred on 2.5:
    # sum dx*dy = 2.25 + 0 + 0 + 2.25 = 4.5, sum dx^2 = 4.5, sum dy^2 = 5 -> 4.5 / sqrt(22.5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9), abs=1e-15)


def test_spearman_extremes_and_undefined_cases():
    assert spearman([1, 2, 3], [30, 20, 10]) == -1.0
    assert spearman([0.1, 5, 7], [1, 2, 1000]) == 1.0  # ranks only: the values' spread does not matter
    assert spearman([1], [2]) is None  # one pair: no correlation
    assert spearman([3, 3, 3], [1, 2, 3]) is None  # a constant side has no ranking
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2], [1, 2, 3])


def test_spearman_agrees_with_scipy_on_data_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(6)
    x = [rng.randint(0, 9) for _ in range(50)]
    y = [v + rng.randint(-3, 3) for v in x]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


@pytest.mark.parametrize(
    "values, expected",
    [([5, 7, 7, 9], [1, 2.5, 2.5, 4]), ([3, 1, 2], [3, 1, 2]), ([2, 2, 2], [2, 2, 2]), ([], [])],
)
def test_ranks(values, expected):
    assert ranks(values) == expected


def test_error_percent_and_within():
    assert error_percent(12, 10) == pytest.approx(20.0, rel=1e-12)  # predicted 12 for a measured 10: 20% slow
    assert error_percent(8, 10) == pytest.approx(-20.0, rel=1e-12)
    assert error_percent(10, 10) == 0.0
    assert error_percent(3, 2) == 50.0  # (3 - 2) / 2 * 100, exact in binary
    assert within(12, 10, 20) and within(8, 10, 20)
    assert not within(12.5, 10, 20)
    with pytest.raises(ValueError, match="positive"):
        error_percent(1, 0)


# ------------------------------------------------------------------------------ own time per layer


def test_own_time_is_inclusive_minus_direct_children():
    # root 0..100 ns holds a (10..40, which holds a.x 15..25) and b (50..90)
    calls = [_ModuleCall("", -1, 0, 100), _ModuleCall("a", 0, 10, 40), _ModuleCall("a.x", 1, 15, 25),
             _ModuleCall("b", 0, 50, 90)]
    own, inclusive, counts, children = _own_times(calls, Clock(torch.device("cpu")))
    assert own == pytest.approx({"": 30e-9, "a": 20e-9, "a.x": 10e-9, "b": 40e-9})  # 100-30-40, 30-10
    assert inclusive == pytest.approx({"": 100e-9, "a": 30e-9, "a.x": 10e-9, "b": 40e-9})
    assert counts == {"": 1, "a": 1, "a.x": 1, "b": 1}
    assert children == {"": 2, "a": 1}


def test_a_module_called_twice_adds_its_calls():
    calls = [_ModuleCall("", -1, 0, 50), _ModuleCall("relu", 0, 10, 20), _ModuleCall("relu", 0, 30, 35)]
    own, _, counts, children = _own_times(calls, Clock(torch.device("cpu")))
    assert own["relu"] == pytest.approx(15e-9) and own[""] == pytest.approx(35e-9)
    assert counts["relu"] == 2 and children[""] == 2


def test_hook_cost_is_taken_off_each_parent_once_per_child_call():
    times = LayerTimes(
        self_s={"": 10.0, "a": 5.0, "b": 3.0}, inclusive_s={}, forward_s=21.0,
        calls={"": 1, "a": 1, "b": 1}, child_calls={"": 2},
    )
    # hooked 21 s against 18 s without hooks: 3 s over 3 calls = 1 s per call; the root had 2 children
    assert times.corrected_self_s(18.0) == {"": 8.0, "a": 5.0, "b": 3.0}
    # a hook-free run slower than the hooked one (noise) corrects nothing
    assert times.corrected_self_s(25.0) == {"": 10.0, "a": 5.0, "b": 3.0}


def test_timing_leaves_the_model_as_found():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(1, 3, 8, 8)
    times = time_layers(model, ModelInputs((x,)), warmup=1, repeats=2)
    forward = time_forward(model, ModelInputs((x,)), warmup=0, repeats=2)
    assert len(forward) == 2 and all(t > 0 for t in forward)
    assert set(times.self_s) == {"", "0", "1", "2"}
    assert all(m.training for m in model.modules())  # eval only while timing
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    after = model.state_dict()  # eval-mode BN does not touch its running stats
    assert all(torch.equal(before[k], after[k]) for k in before)


# ------------------------------------------------------------------------- the timer on fake clocks


class FakeTime:
    """A clock that moves only when told: `cost_ns` per call of `work`, `tick_ns` per stamp."""

    def __init__(self, monkeypatch, tick_ns: int = 0) -> None:
        self.now = 0
        self.tick_ns = tick_ns
        self.calls = 0

        def stamp(clock):
            self.now += self.tick_ns
            return self.now

        monkeypatch.setattr(Clock, "stamp", stamp)

    def work(self, cost_ns: int):
        def call():
            self.calls += 1
            self.now += cost_ns

        return call


def test_timer_warms_up_then_times_each_call_alone(monkeypatch):
    fake = FakeTime(monkeypatch)
    costs = iter([10, 10, 100, 300, 200])  # two warm-up calls, then three timed ones
    timer = Timer("cpu")

    def fn():
        fake.now += next(costs)

    assert timer.times_s(fn, warmup=2, repeats=3) == [100e-9, 300e-9, 200e-9]
    assert timer.worst_spread == 3.0  # 300 / 100


def test_timer_times_tiny_calls_in_batches_sized_by_batch_s(monkeypatch):
    fake = FakeTime(monkeypatch)
    timer = Timer("cpu")
    # one sizing call of 250 ns; 1100 ns / 250 ns = 4.4 -> batches of 4 calls, each batch 1000 ns
    times = timer.times_s(fake.work(250), warmup=1, repeats=3, batch_s=1.1e-6)
    assert fake.calls == 1 + 1 + 3 * 4
    assert times == [1000e-9 / 4] * 3
    assert timer.median_s(fake.work(250), warmup=0, repeats=1) == 250e-9
    assert timer.best_s(fake.work(500), warmup=0, repeats=2) == 500e-9


def test_on_cuda_every_interval_is_two_events_read_after_a_synchronize(monkeypatch):
    log: list[str] = []

    class Event:
        def __init__(self, enable_timing: bool = False) -> None:
            assert enable_timing
            self.at = 0.0

        def record(self) -> None:
            log.append("record")
            self.at = len(log) * 1.5  # ms

        def elapsed_time(self, end: "Event") -> float:
            assert log[-1] == "sync", "an event was read before the device finished"
            return end.at - self.at

    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: log.append("sync"))
    times = Timer(torch.device("cuda")).times_s(lambda: log.append("call"), warmup=1, repeats=1)
    assert log == ["call", "sync", "record", "call", "record", "sync"]
    # records at log positions 3 and 5: (5 - 3) * 1.5 ms = 3 ms
    assert times == [3e-3]


# --------------------------------------------------------------------------- TF32 and inference


def test_tf32_sets_matmul_and_cudnn_together_and_restores_them():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    for allowed in (True, False):
        with tf32(allowed):
            assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (allowed, allowed)
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_inference_is_eval_and_no_grad_and_leaves_the_model_in_train_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with inference(model):
        assert not model.training and not model[1].training and not torch.is_grad_enabled()
    assert model.training and model[1].training and torch.is_grad_enabled()


# ---------------------------------------------------------------------------- devices and threads


@pytest.mark.parametrize(
    "cuda, requested, spec, expected",
    [
        (True, None, None, "cuda"),  # nothing asked: CUDA when there is one
        (False, None, None, "cpu"),
        (True, None, "a4000", "cuda"),  # a GPU spec runs on the GPU ...
        (False, None, "a4000", "cpu"),  # ... or on the CPU without one (then refused by check_device_kind)
        (True, None, "xeon-8480", "cpu"),  # a CPU spec runs on the CPU even with a GPU present
        (True, " CPU ", "a4000", "cpu"),  # asked for: that one, whatever the spec
        (True, "cuda", "xeon-8480", "cuda"),
    ],
)
def test_device_choice(monkeypatch, cuda, requested, spec, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert pick_device(requested, spec=None if spec is None else load_spec(spec)) == expected


def test_device_choice_refuses_an_unknown_or_absent_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match=r"^unknown device 'tpu'; use cpu or cuda$"):
        pick_device("tpu")
    with pytest.raises(UsageError, match=r"^no CUDA device is available to measure on; use device='cpu'$") as refused:
        pick_device("cuda")
    assert refused.value.spelled(COMMAND_LINE) == "no CUDA device is available to measure on; use --device cpu"


def test_num_threads_sets_and_restores_and_refuses_zero():
    before = torch.get_num_threads()
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with num_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(UsageError, match="^threads must be 1 or more, got 0") as refused:
        with num_threads(0):
            pass
    assert refused.value.spelled(COMMAND_LINE) == "--threads must be 1 or more, got 0"


# ---------------------------------------------------------------------------------- memory check


def test_memory_needed_is_weights_plus_twice_the_largest_kernel():
    # Linear(4, 3) without bias on a 1x4 input: 12 fp32 weights = 48 B; its one kernel (mm) reads the
    # input (16 B) and the weight (48 B) and writes 3 floats (12 B): 76 B. 48 + 2 * 76 = 200.
    report = profile(nn.Linear(4, 3, bias=False), torch.randn(1, 4))
    traffic = [k.cost.bytes_read + k.cost.bytes_written for k in report.kernels]
    assert max(traffic) == 76  # the mm (the weight's transpose is a view: 0 B)
    assert memory_needed_bytes(report.totals.params + report.totals.buffers, traffic, 4) == 200
    assert memory_needed_bytes(12, [], 2) == 24  # no kernel: the weights alone


def test_a_model_too_large_for_a_stated_capacity_is_refused_in_one_line():
    with pytest.raises(UsageError) as refused:
        check_fits(3_000_000_000, "cpu", what="big.py:Net", available=2_000_000_000)
    assert str(refused.value) == (
        "big.py:Net needs about 3.00 GB to run for real (weights + largest layer) but cpu has 2.00 GB free: "
        "try a smaller batch"
    )
    assert refused.value.spelled(COMMAND_LINE).endswith("2.00 GB free: drop --measure, or try a smaller --batch")
    check_fits(900, "cpu", what="m", available=1000)  # 900 B needed, 0.9 x 1000 B usable
    with pytest.raises(UsageError):
        check_fits(901, "cpu", what="m", available=1000)


def test_measure_refuses_a_model_too_large_for_the_memory_free(write_model, capsys, monkeypatch):
    monkeypatch.setattr("profiler.realrun.memory.memory_available_bytes", lambda device: 100)
    path = write_model("import torch\nfrom torch import nn\nmodel = nn.Linear(4, 3)\n"
                       "def example_inputs():\n    return torch.randn(1, 4)\n")
    code, out, err = run_cli([path, "--hw", "xeon-8480", "--measure", "--repeats", "1"], capsys)
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "needs about 0.00 GB to run for real" in err and "drop --measure, or try a smaller --batch" in err


# ------------------------------------------------------------------ one clock, one TF32, one inference


class Recorder(nn.Linear):
    """A linear layer that notes the TF32 flags, grad mode and training flag of every real call."""

    seen: list[tuple[bool, bool, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_meta:
            Recorder.seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                                  torch.is_grad_enabled(), self.training))
        return super().forward(x)


@pytest.fixture
def tf32_on():
    """Both TF32 flags on before the run, so a run that leaves either as it was shows up. Set and
    restored by hand: the cuBLAS flags live behind the module's __getattr__, which pytest 9.2's
    monkeypatch does not see, so its undo would delete them."""
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    Recorder.seen = []
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_measure_runs_on_realruns_clock_tf32_and_inference(monkeypatch, tf32_on):
    FakeTime(monkeypatch, tick_ns=1000)  # every interval between two stamps: 1 µs
    model = Recorder(4, 4).train()
    x = torch.randn(1, 4)
    loaded = LoadedModel(model, ModelInputs.from_example(x), "m", ["x"],
                         rebuild_real=lambda: (model, ModelInputs.from_example(x)))
    report = profile_loaded(loaded, hardware="xeon-8480")
    Recorder.seen = []
    result = measure_loaded(loaded, report, device="cpu", warmup=1, repeats=3, layers=False)
    assert result.measured_total_s == 1e-6  # the fake clock's, so realrun's Clock timed it
    assert Recorder.seen == [(False, False, False, False)] * 4  # fp32 in both, no grad, eval: 1 warm-up + 3


def test_calibrate_runs_on_realruns_clock_tf32_and_inference(monkeypatch, tf32_on):
    FakeTime(monkeypatch, tick_ns=1000)
    # one copy buffer of 1 MiB, one 64^3 GEMM size, batches of one call (1e-9 s / 1 µs rounds down to 1)
    monkeypatch.setattr(C, "_plan", lambda quick, device: C._Plan(1, 3, 1e-9, 2**20, (64,), 1.0, 2**20))
    gemm_flags: list[tuple[bool, bool]] = []
    real_gemm = C._gemm_tflop_per_s

    def gemm(*args):
        gemm_flags.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32))
        return real_gemm(*args)

    monkeypatch.setattr(C, "_gemm_tflop_per_s", gemm)
    monkeypatch.setattr(C, "PROBES", {"matmul": C.Probe(lambda c: Recorder(c, c), (4, ((1, 4),)), ((8, ((1, 8),)),))})
    result = C.calibrate(device="cpu", quick=True, cache_tiers=False, keep_implausible=True)
    # copy of 2^18 floats: 2 * 2^20 B in 1 µs = 2097.152 GB/s; 2 * 64^3 FLOP in 1 µs = 0.524288 TFLOP/s
    assert result.memory_bandwidth_gb_per_s.value == pytest.approx(2097.152, rel=1e-12)
    assert result.matrix_tflop_per_s["fp32"].value == pytest.approx(0.524288, rel=1e-12)
    assert result.launch_overhead_us.value == pytest.approx(1.0, rel=1e-12)
    assert result.families["matmul"].typical_us == pytest.approx((1.0, 1.0), rel=1e-12)  # batch 1 and 8
    assert gemm_flags == [(False, False)] * 4  # fp32, bf16, fp16, int8 on the CPU: TF32 off in both
    assert Recorder.seen and set(Recorder.seen) == {(False, False, False, False)}  # fp32, eval, no_grad while timed


# The settings realrun owns, and the calls that change or read them: nothing else in calibrate or
# measure may touch them (a second clock, TF32 switch or grad context would drift from this one).
OWNED = {
    "perf_counter", "perf_counter_ns", "monotonic", "Event", "synchronize", "allow_tf32", "no_grad", "inference_mode",
    "eval", "set_num_threads", "get_num_threads", "is_available", "mem_get_info", "get_device_name",
}


@pytest.mark.parametrize("module", ["measure.py", "calibrate.py", "crosscheck.py", "cli/calibrate_cmd.py", "cli/profile_cmd.py"])
def test_calibrate_and_measure_leave_clocks_tf32_grad_threads_and_devices_to_realrun(module):
    tree = ast.parse((PACKAGE / module).read_text())
    touched = sorted({n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in OWNED})
    assert not touched, f"{module} uses {touched} itself: use profiler.realrun"
