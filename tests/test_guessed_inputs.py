"""A guessed input shape is never silent: the output and the JSON say so, and `check` refuses to
judge a budget at a guessed shape unless the budget file allows it."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

# A model with no example_inputs(): its first layer, Conv2d(3, 8, 3, padding=1, bias=False), makes
# effprof guess 1x3x224x224. MACs at 224x224: 8*224*224 * 3*3*3 = 10,838,016; at 256x256: 14,155,776.
UNET_LIKE = """
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(x)
"""


@pytest.fixture
def net(write_model):
    return write_model(UNET_LIKE, "net.py")


def test_profile_says_it_guessed_in_the_table_and_the_json(net, capsys):
    code, out, err = run_cli([net], capsys)
    assert code == 0, err
    assert "input shape guessed from the first layer: 1,3,224,224:fp32" in out
    code, out, err = run_cli([net, "-f", "json"], capsys)
    data = json.loads(out)
    assert data["inputs_guessed"] is True and data["totals"]["macs"] == 10_838_016
    code, out, err = run_cli([net, "-i", "1,3,256,256", "-f", "json"], capsys)
    data = json.loads(out)
    assert data["inputs_guessed"] is False and data["totals"]["macs"] == 14_155_776


def test_check_refuses_to_guess_and_says_how_to_fix(net, capsys):
    budgets = net.parent / "budgets.yaml"
    budgets.write_text("models:\n  - model: net.py\n    budgets: {macs: 12M}\n")
    code, out, err = run_cli(["check", budgets], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1, err  # one line
    assert "no inputs" in err and "inputs: [[1, 3, 224, 224]]" in err and "guess_inputs: true" in err


def test_check_guesses_when_the_budget_file_says_so_and_says_it_did(net, capsys):
    budgets = net.parent / "budgets.yaml"
    budgets.write_text("models:\n  - model: net.py\n    guess_inputs: true\n    budgets: {macs: 12M}\n")
    code, out, err = run_cli(["check", budgets, "-f", "json"], capsys)
    assert code == 0, err
    (model,) = json.loads(out)["models"]
    assert model["inputs_guessed"] is True
    assert any("guessed" in note for note in model["notes"])
    code, out, err = run_cli(["check", budgets], capsys)
    assert "input shape 1x3x224x224 guessed" in out


def test_guess_inputs_must_be_a_boolean(net, capsys):
    budgets = net.parent / "budgets.yaml"
    budgets.write_text("models:\n  - model: net.py\n    guess_inputs: sometimes\n    budgets: {macs: 12M}\n")
    code, _, err = run_cli(["check", budgets], capsys)
    assert code == 2 and "'guess_inputs:' must be true or false" in err


def test_compare_says_which_model_was_guessed(net, examples_dir, capsys):
    code, out, err = run_cli(["compare", net, examples_dir / "mobilenet_v1.py", "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [entry["inputs_guessed"] for entry in data["entries"]] == [True, False]
    assert len(data["notes"]) == 1 and "net.py:Net: input shape 1x3x224x224 guessed" in data["notes"][0]
    code, out, err = run_cli(["compare", net, examples_dir / "mobilenet_v1.py"], capsys)
    assert "net.py:Net: input shape 1x3x224x224 guessed" in out


def test_measure_and_validate_say_the_shape_was_guessed(net, capsys):
    code, out, err = run_cli([net, "--hw", "xeon-8480", "--measure", "--repeats", "1", "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["inputs_guessed"] is True and data["measurement"]["inputs_guessed"] is True
    code, out, err = run_cli(["validate", net, "--hw", "xeon-8480", "--repeats", "1", "--warmup", "0", "--no-layers"], capsys)
    assert code == 0, err
    assert "(input 1x3x224x224 guessed)" in out
