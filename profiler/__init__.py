"""effprof: params, MACs, FLOPs, bytes moved and roofline latency of PyTorch models, per layer."""

from .api import profile
from .costs.registry import OpCost, register_op, unregister_op
from .errors import EffprofError
from .events import OpEvent, TensorMeta
from .report import Report

__all__ = ["profile", "Report", "EffprofError", "register_op", "unregister_op", "OpCost", "OpEvent", "TensorMeta"]
__version__ = "0.1.0"
