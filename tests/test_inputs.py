"""Inputs as users give them: every tensor of a dict or keyword input recorded by name, keyword
inputs on the command line, dtype hints, models whose constructor needs arguments, and errors
raised by the model's own code named at their line."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli
from torch import nn

from profiler import profile
from profiler.errors import InputMismatchError, ModelLoadError
from profiler.loading import InputSpec, load_model, parse_input_spec

# conv 3->8, 3x3, no padding, on 64x64: output 62x62; MACs 2 * 8*62*62 * 3*3*3 = 1,660,608 (batch 2)
DICT_INPUT_MODEL = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, bias=False)
        self.emb = nn.Embedding(100, 8)

    def forward(self, batch):
        return self.conv(batch["image"]).mean() + self.emb(batch["tokens"]).mean()

def example_inputs():
    return ({"image": torch.randn(2, 3, 64, 64), "tokens": torch.ones(2, 16, dtype=torch.long)},)
"""


def test_a_dict_passed_positionally_records_every_tensor_by_key(write_model, capsys):
    code, out, err = run_cli([write_model(DICT_INPUT_MODEL), "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["inputs"] == [
        {"name": "input.image", "shape": [2, 3, 64, 64], "dtype": "fp32"},
        {"name": "input.tokens", "shape": [2, 16], "dtype": "int64"},
    ]
    assert data["totals"]["macs"] == 1_660_608


def test_the_table_header_names_every_input_tensor(write_model, capsys):
    code, out, err = run_cli([write_model(DICT_INPUT_MODEL)], capsys)
    assert code == 0, err
    assert "inputs input.image 2×3×64×64, input.tokens 2×16" in out


def test_nested_and_keyword_inputs_from_python():
    class Net(nn.Module):
        def forward(self, pair, mask=None):
            return pair[0] + pair[1] * mask

    report = profile(Net(), {"pair": (torch.randn(2, 3), torch.randn(2, 3)), "mask": torch.ones(2, 3)})
    assert [(i.name, i.shape) for i in report.inputs] == [("pair[0]", (2, 3)), ("pair[1]", (2, 3)), ("mask", (2, 3))]


# --- keyword inputs on the command line -----------------------------------------------------

# embedding 100x16 then linear 16->4 on 512 tokens: MACs 512 * 16 * 4 = 32,768 (the lookup is 0 MACs)
TOKEN_MODEL = """
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 4, bias=False)

    def forward(self, input_ids, attention_mask=None):
        return self.fc(self.emb(input_ids))
"""


def test_keyword_input_spec_parsing():
    assert parse_input_spec("input_ids=1,512:int64") == InputSpec((1, 512), torch.int64, "input_ids")
    assert str(parse_input_spec("attention_mask = 1x512:int64")) == "attention_mask=1,512:int64"
    assert parse_input_spec("1,3,224,224").name is None


def test_keyword_inputs_reach_forward_as_keywords(write_model, capsys):
    path = write_model(TOKEN_MODEL)
    code, out, err = run_cli([path, "-i", "input_ids=1,512:int64", "-i", "attention_mask=1,512:int64", "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [i["name"] for i in data["inputs"]] == ["input_ids", "attention_mask"]
    assert data["totals"]["macs"] == 32_768
    assert data["inputs_guessed"] is False


def test_float_ids_say_to_write_int64(write_model, capsys):
    code, _, err = run_cli([write_model(TOKEN_MODEL), "-i", "1,512"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "integer inputs" in err and "-i 1,512:int64" in err


def test_an_fp16_input_on_an_fp32_model_warns_and_points_to_dtype(examples_dir, capsys):
    code, out, err = run_cli([examples_dir / "mobilenet_v1.py", "-i", "1,3,224,224:fp16", "-f", "json"], capsys)
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert any("input is fp16 but the model's weights are fp32" in n and "--dtype fp16" in n for n in notes), notes


def test_no_warning_when_the_dtypes_agree_or_dtype_is_given():
    model = nn.Linear(4, 4)
    assert not any("warning" in n for n in profile(model, torch.randn(1, 4)).notes)
    assert not any("warning" in n for n in profile(model, torch.randn(1, 4, dtype=torch.float16), dtype="fp16").notes)


# --- models whose constructor needs arguments -----------------------------------------------

NEEDS_ARGS = """
from torch import nn

class Net(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return self.fc(x)
"""


@pytest.mark.parametrize("suffix", ["", ":Net"])
def test_a_class_that_needs_arguments_says_so_and_how_to_give_a_builder(write_model, suffix):
    path = write_model(NEEDS_ARGS)
    with pytest.raises(ModelLoadError) as caught:
        load_model(f"{path}{suffix}")
    message = str(caught.value)
    assert "needs arguments to be built (width)" in message
    assert "def build_model(): return Net(width=...)" in message and f"{path}:build_model" in message


def test_a_builder_that_needs_arguments_says_to_give_defaults(write_model):
    path = write_model(NEEDS_ARGS + "\ndef build_model(width):\n    return Net(width)\n")
    with pytest.raises(ModelLoadError, match=r"build_model' needs arguments \(width\).*defaults \(width=\.\.\.\)"):
        load_model(str(path))


# --- errors raised by the model's own code ----------------------------------------------------

TINY_ATTENTION = """
import torch
from torch import nn

class Attention(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)

    def forward(self, x):
        B, T, C = x.shape  # line 11: a 2-d guessed input does not unpack
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)

class Block(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d)

    def forward(self, x):
        return x + self.attn(self.ln1(x))

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(), Block())

    def forward(self, x):
        return self.blocks(x)
"""


def test_an_error_in_the_models_code_names_its_line_its_module_and_the_guess(write_model, capsys):
    path = write_model(TINY_ATTENTION)
    code, _, err = run_cli([f"{path}:Tiny"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "at layer 'blocks.0.attn' (Attention)" in err  # not blocks.0.ln1, which had returned
    assert f"raised at {path}:11 in Attention.forward" in err
    assert "the input shape 1,64:fp32 was guessed from the first layer" in err


def test_a_torch_error_names_the_models_line_that_made_the_call():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(InputMismatchError) as caught:
        profile(Net(), torch.randn(2, 5))
    assert "called at" in str(caught.value) and "in test_a_torch_error_names_the_models_line_that_made_the_call.<locals>.Net.forward" in str(caught.value)
