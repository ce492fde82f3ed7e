"""Model files, targets and input specs (loading.py)."""

from __future__ import annotations

import pytest
import torch

from profiler.api import profile_loaded
from profiler.errors import ModelLoadError, UsageError
from profiler.loading import load_model, parse_input_spec

TWO_CLASSES = """
import torch
from torch import nn

class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
    def forward(self, x):
        return self.fc(x)

class Other(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.conv = nn.Conv2d(width, 8, 3)
    def forward(self, x):
        return self.conv(x)
"""


def test_input_spec_parsing():
    assert parse_input_spec("1,3,224,224").shape == (1, 3, 224, 224)
    spec = parse_input_spec("1,128:int64")
    assert (spec.shape, spec.dtype) == ((1, 128), torch.int64)
    assert parse_input_spec("2x3").shape == (2, 3)


@pytest.mark.parametrize("text", ["", "1,a", "1,0,3", "-1,3", "1,2:float7"])
def test_bad_input_specs_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_input_spec(text)


def test_build_model_and_example_inputs_win(write_model):
    path = write_model(TWO_CLASSES + """
def build_model():
    return Small()

def example_inputs():
    return torch.randn(5, 4)
""")
    loaded = load_model(str(path))
    assert loaded.name == "model.py:build_model"
    assert next(iter(loaded.model.parameters())).is_meta
    assert loaded.inputs.tensors()[0].shape == (5, 4)


def test_several_models_is_an_error_that_shows_how_to_pick(write_model):
    path = write_model(TWO_CLASSES)
    with pytest.raises(ModelLoadError, match=r"several models \(Small, Other\).*model.py:Small"):
        load_model(str(path))


def test_name_picks_a_class_and_the_input_is_guessed(write_model):
    path = write_model(TWO_CLASSES)
    loaded = load_model(f"{path}:Other")
    assert loaded.inputs.tensors()[0].shape == (1, 3, 224, 224)
    assert any("guessed" in note for note in loaded.notes)


def test_unknown_name_suggests_the_closest(write_model):
    path = write_model(TWO_CLASSES)
    with pytest.raises(ModelLoadError, match="did you mean 'Small'"):
        load_model(f"{path}:Smal")


def test_module_instance_in_the_file_is_built_on_meta(write_model):
    path = write_model("import torch\nfrom torch import nn\nnet = nn.Linear(10_000, 10_000)\n")
    loaded = load_model(str(path), [parse_input_spec("2,10000")])
    assert loaded.model.weight.is_meta  # no 400 MB allocated at import
    assert profile_loaded(loaded).totals.macs == 2 * 10_000 * 10_000


def test_dict_inputs_from_the_file(write_model):
    path = write_model("""
import torch
from torch import nn
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 8)
        self.fc = nn.Linear(8, 3)
    def forward(self, input_ids, scale=None):
        return self.fc(self.emb(input_ids)) * scale
def example_inputs():
    return {"input_ids": torch.zeros(2, 5, dtype=torch.long), "scale": torch.ones(1)}
""")
    report = profile_loaded(load_model(str(path)))
    assert report.layer("fc").macs == 2 * 5 * 8 * 3


@pytest.mark.parametrize(
    "source, message",
    [
        ("def broken(:\n", "syntax error in .* line 1"),
        ("raise RuntimeError('no GPU here')\n", "importing .* raised RuntimeError: no GPU here"),
        ("x = 1\n", "defines no model"),
        ("from torch import nn\ndef build_model():\n    return 3\n", "returned a int, not an nn.Module"),
    ],
)
def test_broken_files(write_model, source, message):
    path = write_model(source)
    with pytest.raises(ModelLoadError, match=message):
        load_model(str(path))


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(str(tmp_path / "absent.py"))
    with pytest.raises(UsageError, match="must be a Python file"):
        load_model(str(tmp_path / "model.txt"))


def test_model_that_cannot_run_on_meta_is_rebuilt_on_cpu(write_model):
    path = write_model("""
import torch
from torch import nn
class Dynamic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
    def forward(self, x):
        keep = x.abs().sum(dim=1) >= 0          # all rows, but data-dependent
        return self.fc(x[keep])
""")
    report = profile_loaded(load_model(str(path), [parse_input_spec("6,4")]))
    assert report.device == "cpu"
    assert report.layer("fc").macs == 6 * 4 * 4
    assert any("real CPU tensors" in note for note in report.notes)


def test_batch_override(examples_dir):
    loaded = load_model(str(examples_dir / "mobilenet_v1.py"), batch=4)
    assert profile_loaded(loaded).totals.macs == 4 * 568_740_352
