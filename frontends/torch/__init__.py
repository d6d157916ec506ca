"""The torch frontend: concrete-input tracing with neuron modules as opaque leaves."""
from .tracer import trace

__all__ = ["trace"]
