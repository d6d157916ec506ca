"""ONNX export of the spike-graph IR (``snncompile show --onnx``); ``onnx`` is imported lazily."""
from .export import save_onnx, to_onnx

__all__ = ["save_onnx", "to_onnx"]
