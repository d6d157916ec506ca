"""The rule table.  Importing this package registers every rule (one module per rule)."""
from . import (snn101_int_float_multiplication, snn102_mac_outside_io, snn103_dynamic_real_product,  # noqa: F401
               snn104_nonspike_nonlinearity, snn105_graded_spike_input, snn900_unsupported)
from .base import RULES, CheckContext, Rule

__all__ = ["RULES", "CheckContext", "Rule"]
