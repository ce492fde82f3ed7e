"""Shared words are enum members: kernel families and conv kinds are never compared as strings."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from profiler.vocabulary import Bound, ConvKind, KernelFamily

PACKAGE = Path(__file__).resolve().parents[1] / "profiler"

# attributes, variables and calls that hold a KernelFamily or a ConvKind
_WORDS = {"family", "conv_kind"}


def _names_a_word(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in _WORDS
    if isinstance(node, ast.Name):
        return node.id in _WORDS
    if isinstance(node, ast.Call):  # ctx.family(index)
        return _names_a_word(node.func)
    return False


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_literal(item) for item in node.elts)
    return False


def _string_comparisons(source: str) -> list[int]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_names_a_word(side) for side in sides) and any(_is_literal(side) for side in sides):
                found.append(node.lineno)
    return found


def test_the_check_sees_a_string_comparison():
    # the detector itself: each of these would compare a family or conv kind with a bare word
    assert _string_comparisons('cost.family == "conv"') == [1]
    assert _string_comparisons('kernel.cost.conv_kind != "depthwise"') == [1]
    assert _string_comparisons('ctx.family(i) in ("norm", "pool")') == [1]
    assert _string_comparisons("cost.family is KernelFamily.CONV") == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_families_and_conv_kinds_are_compared_as_members(path: Path):
    assert _string_comparisons(path.read_text(encoding="utf-8")) == [], f"{path.name}: compare enum members"


@pytest.mark.parametrize("word", [*Bound, *KernelFamily, *ConvKind])
def test_each_word_is_spelled_as_its_value_in_text_and_json(word):
    # the JSON, the tables and the spec YAML spell the value: a member must not leak its name
    assert str(word) == f"{word}" == word.value
    assert json.dumps(word) == json.dumps(word.value)


def test_conv_kinds_are_the_words_of_the_conventions():
    # CONVENTIONS.md: standard, pointwise, depthwise, group; the JSON schema lists the same four
    assert [kind.value for kind in ConvKind] == ["standard", "pointwise", "depthwise", "group"]


def test_calibration_probes_are_keyed_by_the_words_the_roofline_looks_up():
    # roofline.family_keys looks a kernel up as 'family.conv_kind', 'family.op' or 'family': a probe
    # keyed by a misspelt word would be measured and never read
    from profiler.calibrate import PROBES

    families, kinds = {f.value for f in KernelFamily}, {k.value for k in ConvKind}
    for key in PROBES:
        family, _, rest = key.partition(".")
        assert family in families, key
        if family == KernelFamily.CONV.value:
            assert rest in kinds, key
