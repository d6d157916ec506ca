"""All registered ops.  Importing this package registers every op family."""
from . import arith, neurons, nonlinear, pool, reduce, shape, weights  # noqa: F401
from .registry import Cost, OpDef, all_ops, get, register

__all__ = ["Cost", "OpDef", "all_ops", "get", "register"]
