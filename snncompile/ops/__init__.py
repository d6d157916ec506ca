"""All registered ops.  Importing this package registers every op family."""
from . import arith, neurons, nonlinear, pool, reduce, shape, weights  # noqa: F401
from .registry import Cost, MissingHook, OpDef, all_ops, check_node, get, implements, load_graph, refuses, register

__all__ = ["Cost", "MissingHook", "OpDef", "all_ops", "check_node", "get", "implements", "load_graph", "refuses",
           "register"]
