"""The numpy reference executor of the IR: the specification every other backend must match.

* :mod:`.executor` — :class:`ReferenceExecutor` runs a graph node by node through each op's
  registered reference function (float32/float64).
* :mod:`.verify` — :func:`verify_domains` checks observed values against the static value domains.
* :mod:`.counts` — :func:`count_events`: exact synaptic ops, spikes, neuron updates, firing rates.
* :mod:`.compare` — spike-for-spike comparison with another run, counting threshold ties.
* :mod:`.batching` — running N samples through a graph traced with batch B.
"""
from .compare import SpikeComparison, compare_spikes, membrane_traces
from .counts import EventCounts, NodeCount, count_events
from .executor import ExecutionError, ExecutionResult, ReferenceExecutor, neuron_values, run
from .verify import DomainReport, Violation, verify_domains

__all__ = ["ReferenceExecutor", "ExecutionResult", "ExecutionError", "neuron_values", "run",
           "verify_domains", "DomainReport", "Violation", "count_events", "EventCounts", "NodeCount",
           "compare_spikes", "membrane_traces", "SpikeComparison"]
