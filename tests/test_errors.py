"""Library errors speak the Python API's words (`fuse=True`, `hardware='a4000'`); the CLI reads the
same errors with its flag table (`--fuse`, `--hw a4000`), every line as it always read."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import profiler
from conftest import run_cli
from profiler.cli.flags import COMMAND_LINE, FLAGS, NEGATED, SHORT
from profiler.errors import EffprofError, InputMismatchError, UsageError, on_command_line, option, spelled_as

PACKAGE = Path(profiler.__file__).resolve().parent

LINEAR = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)

def example_inputs():
    return torch.randn(1, 4)
"""

EMBEDDING = """
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 8)

    def forward(self, x):
        return self.emb(x)
"""

RAISES = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        if x.shape[0] == 1:
            raise ValueError("batch 1 is refused")
        return self.fc(x)

def example_inputs():
    return torch.randn(1, 4)
"""


def _namespace(source: str) -> dict:
    found: dict = {}
    exec(compile(source, "net.py", "exec"), found)
    return found


def _python_error(call) -> EffprofError:
    with pytest.raises(EffprofError) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------------------------------------
# the mechanism


def test_an_option_reads_as_a_keyword_in_python_and_as_its_flag_on_the_command_line():
    error = UsageError(option("fuse", True), " changes only the latency estimate: give a device too, e.g. ",
                       option("hardware", "a4000"))
    assert str(error) == "fuse=True changes only the latency estimate: give a device too, e.g. hardware='a4000'"
    assert error.spelled(COMMAND_LINE) == "--fuse changes only the latency estimate: give a device too, e.g. --hw a4000"
    # off-by-default switches, one-letter flags and bare names
    error = UsageError(option("families", False), ", ", option("input_shape", "1,3,8,8", short=True), ", ", option("top"))
    assert str(error) == "families=False, input_shape='1,3,8,8', top"
    assert error.spelled(COMMAND_LINE) == "--no-families, -i 1,3,8,8, --top"


def test_words_that_differ_beyond_a_name_are_chosen_by_the_reader():
    error = UsageError("Check ", on_command_line((option("input_shape"), " (or example_inputs())"), python="example_inputs"), ".")
    assert str(error) == "Check example_inputs."
    assert error.spelled(COMMAND_LINE) == "Check --input-shape (or example_inputs())."


def test_an_error_put_into_another_ones_text_keeps_the_readers_words():
    """Code that wraps an error as text (a budget entry: f"{where}: {error}") says what the reader
    of the outer error expects: the CLI runs every command inside spelled_as(COMMAND_LINE)."""
    inner = UsageError(option("batch"), " must be 1 or more, got 0")
    assert f"models[0]: {inner}" == "models[0]: batch must be 1 or more, got 0"
    with spelled_as(COMMAND_LINE):
        assert f"models[0]: {inner}" == "models[0]: --batch must be 1 or more, got 0"
    assert str(inner) == "batch must be 1 or more, got 0"  # and only there


def test_context_added_to_an_error_keeps_its_options():
    error = InputMismatchError("fc", "Linear", [(1, 5)], "shapes cannot be multiplied")
    added = error.with_context("(give the real one with ", option("input_shape"), ")")
    assert type(added) is InputMismatchError and added.layer == "fc"
    assert str(added).endswith("Check example_inputs. (give the real one with input_shape)")
    assert added.spelled(COMMAND_LINE).endswith("Check --input-shape (or example_inputs()). (give the real one with --input-shape)")


def _option_calls() -> list[tuple[Path, ast.Call]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "option":
                found.append((path, node))
    return found


def test_every_option_a_message_names_has_a_flag_in_the_cli_table():
    calls = _option_calls()
    assert len(calls) > 40  # the walk finds the raise sites
    missing = []
    for path, call in calls:
        keyword = call.args[0]
        if not isinstance(keyword, ast.Constant):  # option(keyword) in a helper: its callers pass literals
            continue
        value = call.args[1] if len(call.args) > 1 else None
        short = any(k.arg == "short" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords)
        negated = isinstance(value, ast.Constant) and value.value is False
        table = NEGATED if negated else SHORT if short else FLAGS
        if keyword.value not in table:
            missing.append(f"{path.relative_to(PACKAGE)}:{call.lineno} {keyword.value}")
    assert not missing, missing


# A flag written into a message's text: `--fuse`, not the '--' of a YAML separator or an em dash.
_FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _message_texts(node: ast.Call) -> list[str]:
    return [part.value for arg in node.args for part in ast.walk(arg)
            if isinstance(part, ast.Constant) and isinstance(part.value, str)]


def test_library_messages_name_no_command_line_flags():
    """Outside cli/ an error names settings through option(); only the CLI's flag table spells them."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Error")):
                continue
            for text in _message_texts(node):
                if _FLAG.search(text):
                    found.append(f"{relative}:{node.lineno} {text!r}")
    assert not found, found


# ---------------------------------------------------------------------------------------------
# one mistake, two readers: a Python caller and a command-line user


def test_fuse_without_a_device(write_model, capsys):
    error = _python_error(lambda: profiler.profile(nn.Linear(4, 3), torch.randn(1, 4), fuse=True))
    assert str(error) == "fuse=True changes only the latency estimate: give a device too, e.g. hardware='a4000'"
    model = write_model(LINEAR)
    code, _, err = run_cli(["compare", model, model, "--fuse"], capsys)  # compare leaves the check to profile()
    assert (code, err) == (2, "effprof: error: --fuse changes only the latency estimate: give a device too, e.g. --hw a4000\n")


def test_batch_below_one(write_model, capsys):
    error = _python_error(lambda: profiler.profile(nn.Linear(4, 3), torch.randn(1, 4), batch=0))
    assert str(error) == "batch must be 1 or more, got 0"
    assert run_cli([write_model(LINEAR), "-b", "0"], capsys)[2] == "effprof: error: --batch must be 1 or more, got 0\n"


@pytest.mark.parametrize("rows, python, command_line", [
    ({"depth": -1}, "depth must be 0 or more, got -1", ["--depth", "-1", "--depth must be 0 or more, got -1"]),
    ({"top": 0}, "top must be 1 or more, got 0", ["--top", "0", "--top must be 1 or more, got 0"]),
    ({"sort": "latency"}, "sort='latency' needs a latency estimate: add hardware, e.g. hardware='a4000'",
     ["--sort", "latency", "--sort latency needs a latency estimate: add --hw, e.g. --hw a4000"]),
])
def test_report_rows(rows, python, command_line, write_model, capsys):
    report = profiler.profile(nn.Linear(4, 3), torch.randn(1, 4))
    assert str(_python_error(lambda: report.rows(**rows))) == python
    *argv, said = command_line
    assert run_cli([write_model(LINEAR), *argv], capsys)[2] == f"effprof: error: {said}\n"


@pytest.mark.parametrize("dtype, python_end, command_line_end", [
    ("fp8", "pick a device that has one (h100, h200), or dtype fp16, bf16 or int8",
     "pick a device that has one (h100, h200), or --dtype fp16, bf16 or int8"),
    ("fp64", "hardware specs give fp32, tf32, fp16, bf16, fp8, int8; pass dtype with one of them",
     "hardware specs give fp32, tf32, fp16, bf16, fp8, int8; pass --dtype with one of them"),
])
def test_a_dtype_the_device_has_no_peak_for(dtype, python_end, command_line_end, write_model, capsys):
    error = _python_error(lambda: profiler.profile(nn.Linear(4, 3), torch.randn(1, 4), dtype=dtype, hardware="a4000"))
    assert str(error).endswith(python_end)
    err = run_cli([write_model(LINEAR), "--dtype", dtype, "--hw", "a4000"], capsys)[2]
    assert err.startswith("effprof: error: ") and err.endswith(command_line_end + "\n")


def test_inputs_that_do_not_fit(write_model, capsys):
    error = _python_error(lambda: profiler.profile(_namespace(LINEAR)["Net"](), torch.randn(1, 5)))
    assert str(error).startswith("inputs do not fit the model at layer 'fc' (Linear), given tensors [3], [1, 5], [4, 3]: ")
    assert str(error).endswith(" in Net.forward). Check example_inputs.")
    err = run_cli([write_model(LINEAR), "-i", "1,5"], capsys)[2]
    assert err.endswith(" in Net.forward). Check --input-shape (or example_inputs()).\n")


def test_floats_given_to_a_layer_that_takes_ids(write_model, capsys):
    error = _python_error(lambda: profiler.profile(_namespace(EMBEDDING)["Net"](), torch.randn(1, 8)))
    assert str(error).endswith("was given floats: give the input an integer dtype, as in torch.long in example_inputs. "
                               "Check example_inputs.")
    err = run_cli([write_model(EMBEDDING), "-i", "1,8"], capsys)[2]
    assert err.endswith("was given floats: give the input an integer dtype, as in -i 1,512:int64 (torch.long in "
                        "example_inputs()). Check --input-shape (or example_inputs()).\n")


def test_a_forward_that_raises(tmp_path, write_model, capsys):
    error = _python_error(lambda: profiler.profile(_namespace(RAISES)["Net"](), torch.randn(1, 4)))
    assert str(error).endswith("Check the inputs it expects, or read the model's traceback on this error's __cause__.")
    assert isinstance(error.__cause__, ValueError)
    err = run_cli([write_model(RAISES)], capsys)[2]
    assert err.startswith("effprof: error: the model's forward raised at layer '(root)' (Net), given tensors [1, 4]: ")
    assert err.endswith("ValueError: batch 1 is refused, raised at " + f"{tmp_path / 'model.py'}:12 in Net.forward. "
                        "Check the inputs it expects, or rerun with --debug for the traceback.\n")


def test_a_guessed_input_shape_is_named_with_the_readers_option(write_model, capsys):
    from profiler.api import profile_loaded
    from profiler.loading import load_model

    guessed = write_model(LINEAR.replace("def example_inputs", "def _unused").replace("nn.Linear(4, 3)", "nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2))"))
    error = _python_error(lambda: profile_loaded(load_model(str(guessed))))
    assert str(error).endswith("(the input shape 1,4:fp32 was guessed from the first layer: give the real one with "
                               "input_shape, or define example_inputs() in the model file)")
    err = run_cli([guessed], capsys)[2]
    assert err.endswith("Check --input-shape (or example_inputs()). (the input shape 1,4:fp32 was guessed from the first "
                        "layer: give the real one with --input-shape, or define example_inputs() in the model file)\n")


def test_a_dtype_and_a_precision_per_role():
    from profiler.precision import Precision

    error = _python_error(lambda: profiler.profile(nn.Linear(4, 3), torch.randn(1, 4), dtype="fp16", precision=Precision()))
    assert str(error) == "give dtype or precision (a format per role), not both"


def test_compare_needs_two_reports():
    from profiler.compare import compare

    error = _python_error(lambda: compare([profiler.profile(nn.Linear(4, 3), torch.randn(1, 4))]))
    assert str(error) == "compare needs two or more models, or one model with two or more hardware"


def test_llm_batches_prompt_and_generate(capsys):
    from profiler.llm import parse_batches, profile_llm

    assert str(_python_error(lambda: parse_batches("1,x"))) == \
        "bad batches '1,x': expected a batch size or a comma-separated list, e.g. 1,8,32,128"
    assert str(_python_error(lambda: profile_llm("unused", "a4000", prompt=0, generate=2))) == "prompt must be 1 or more tokens, got 0"
    assert str(_python_error(lambda: profile_llm("unused", "a4000", prompt=8, generate=1))) == \
        "generate must be 2 or more tokens (the first comes from the prefill), got 1"
    assert str(_python_error(lambda: profile_llm("unused", "a4000", prompt=8, generate=2, batches=[0]))) == \
        "every batch size in batches must be 1 or more"
    # the batch list is read before the model is looked for
    err = run_cli(["llm", "unused", "--hw", "a4000", "-p", "8", "-g", "2", "-b", "1,x"], capsys)[2]
    assert err == "effprof: error: bad --batch '1,x': expected a batch size or a comma-separated list, e.g. 1,8,32,128\n"


def test_crosscheck_inputs_over_the_limit(write_model, capsys):
    err = run_cli(["crosscheck", write_model(LINEAR), "-i", "1,3,3000,3000"], capsys)[2]
    assert err.endswith("has 27.00 M elements (limit 16.00 M): pass a smaller -i/--input-shape\n")


def test_measuring_on_a_device_that_is_not_there(write_model, capsys):
    from profiler.measure import num_threads, pick_device

    if not torch.cuda.is_available():
        assert str(_python_error(lambda: pick_device("cuda"))) == "no CUDA device is available to measure on; use device='cpu'"
        err = run_cli(["validate", write_model(LINEAR), "--hw", "xeon-8480", "--device", "cuda"], capsys)[2]
        assert err == "effprof: error: no CUDA device is available to measure on; use --device cpu\n"

    def enter() -> None:
        with num_threads(0):
            pass

    assert str(_python_error(enter)) == "threads must be 1 or more, got 0"


def test_measuring_an_int8_profile(write_model, capsys):
    from profiler.api import profile_loaded
    from profiler.loading import load_model
    from profiler.measure import measure_loaded

    loaded = load_model(str(write_model(LINEAR)))
    report = profile_loaded(loaded, dtype="int8", hardware="xeon-8480")
    error = _python_error(lambda: measure_loaded(loaded, report, device="cpu"))
    assert str(error) == ("measuring runs the model in a floating dtype (fp32, fp16, bf16) and cannot run int8 on cpu: "
                          "profile with dtype='fp32' (or quantize the model yourself)")
    err = run_cli([write_model(LINEAR), "--dtype", "int8", "--hw", "xeon-8480", "--measure", "--repeats", "1"], capsys)[2]
    assert err == ("effprof: error: --measure runs the model in a floating dtype (fp32, fp16, bf16) and cannot run int8 on cpu: "
                   "profile with --dtype fp32 (or quantize the model yourself)\n")


def test_a_refused_calibration_names_its_switches(monkeypatch):
    import profiler.calibrate as calibrate

    monkeypatch.setattr(calibrate, "load_average", lambda: None)
    error = calibrate._implausible("a probe", SimpleNamespace(worst_spread=1.0))
    assert str(error).endswith("nothing was written: rerun calibrate() on a quiet machine (families=False or "
                               "cache_tiers=False leave those refinements out; keep_implausible=True keeps the numbers anyway, with warnings)")
    assert error.spelled(COMMAND_LINE).endswith(
        "nothing was written: rerun effprof calibrate on a quiet machine (--no-families or --no-cache-tiers leave "
        "those refinements out; --keep-implausible writes the numbers anyway, with warnings)")


def test_output_files(tmp_path, write_model, capsys):
    from profiler.calibrate import write_spec
    from profiler.plot import check_plot_path

    assert str(_python_error(lambda: write_spec(None, tmp_path / "x.txt"))) == \
        f"output '{tmp_path / 'x.txt'}' must end in .yaml (or .yml): it is a hardware spec file"
    assert str(_python_error(lambda: check_plot_path("r.jpg"))) == \
        "plot 'r.jpg': unknown image type '.jpg'; end the name in .png, .svg, .pdf"
    err = run_cli([write_model(LINEAR), "--hw", "a4000", "--plot", "r.jpg"], capsys)[2]
    assert err == "effprof: error: --plot 'r.jpg': unknown image type '.jpg'; end the name in .png, .svg, .pdf\n"
    err = run_cli([write_model(LINEAR), "-o", str(tmp_path / "absent" / "x.json")], capsys)[2]
    assert err == f"effprof: error: cannot write --output '{tmp_path / 'absent' / 'x.json'}': No such file or directory\n"


def test_a_malformed_input_shape_in_each_readers_words(write_model, capsys, tmp_path):
    from profiler.loading import parse_input_spec

    assert str(_python_error(lambda: parse_input_spec("1,0"))) == "bad input_shape '1,0': every dimension must be a positive integer"
    model = write_model(LINEAR)
    assert run_cli([model, "-i", "1,0"], capsys)[2] == \
        "effprof: error: bad --input-shape '1,0': every dimension must be a positive integer\n"
    # a budget file names it as one of the entry's inputs, whoever reads it
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("models:\n  - model: model.py\n    inputs: ['1,0']\n    budgets: {macs: 1M}\n")
    assert run_cli(["check", budgets], capsys)[2] == (
        f"effprof: error: {budgets}: models[0] (model.py): inputs: bad input '1,0': every dimension must be a positive integer\n")
