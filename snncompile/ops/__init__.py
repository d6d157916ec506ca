"""All registered ops.  Importing this package registers every op family."""
from . import arith, neurons, nonlinear, pool, reduce, shape, weights  # noqa: F401
from . import graded  # noqa: F401  (integer-spike neurons, declared apart from lif)
from .registry import (COST_LABELS, Cost, LinearMap, MissingHook, Neuron, OpDef, Scale, WeightLayer, all_ops, check_node, get,
                       implements, is_dynamic_contraction, is_dynamic_product, is_synaptic, linear_operand, load_graph,
                       nonzero_mask, produces_events, refuses, register, scaled_operand)

__all__ = ["COST_LABELS", "Cost", "LinearMap", "MissingHook", "Neuron", "OpDef", "Scale", "WeightLayer", "all_ops", "check_node", "get",
           "implements", "is_dynamic_contraction", "is_dynamic_product", "is_synaptic", "linear_operand", "load_graph",
           "nonzero_mask", "produces_events", "refuses", "register", "scaled_operand"]
