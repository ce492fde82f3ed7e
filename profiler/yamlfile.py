"""The one YAML reader for every file effprof reads (hardware specs, budgets).

PyYAML's `safe_load` lets a repeated key silently replace the first (`macs: 600M` then
`macs: 700M` checks 700M): here a repeated key is an error naming the file and both lines.
Syntax errors stay `yaml.YAMLError`, for the caller to word in its own file's terms.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import SpecError

__all__ = ["load_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (`<<` merges may be overridden)."""

    origin = "<yaml>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            line = key_node.start_mark.line + 1
            if seen is not None:
                raise SpecError(
                    f"{self.origin} line {line}: key '{key}' is repeated (first at line {seen}); "
                    "YAML would keep only the last one: delete or rename one of them"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, origin: str) -> Any:
    """Parse one YAML document; SpecError for a repeated key, yaml.YAMLError for bad syntax."""
    loader = _StrictLoader(text)
    loader.origin = origin
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
