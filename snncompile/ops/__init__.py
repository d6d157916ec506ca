"""All registered ops.  Importing this package registers every op family."""
from . import arith, neurons, nonlinear, pool, reduce, shape, weights  # noqa: F401
from . import graded  # noqa: F401  (integer-spike neurons, declared apart from lif)
from .registry import Cost, MissingHook, OpDef, all_ops, get, implements, refuses, register

__all__ = ["Cost", "MissingHook", "OpDef", "all_ops", "get", "implements", "refuses", "register"]
