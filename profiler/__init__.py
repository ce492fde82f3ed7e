"""effprof: params, MACs, FLOPs, bytes moved and roofline latency of PyTorch models, per layer."""

from .api import profile
from .errors import EffprofError
from .report import Report

__all__ = ["profile", "Report", "EffprofError"]
__version__ = "0.1.0"
