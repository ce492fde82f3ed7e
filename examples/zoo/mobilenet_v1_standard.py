"""Zoo: MobileNetV1 with standard 3x3 convs (the paper's "Conv MobileNet"). Loaded from examples/."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "mobilenet_v1_standard.py"
_SPEC = importlib.util.spec_from_file_location("_effprof_zoo_mobilenet_v1_standard", _PATH)
_EXAMPLE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_EXAMPLE)

build_model = _EXAMPLE.build_model
example_inputs = _EXAMPLE.example_inputs
