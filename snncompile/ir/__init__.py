"""The spike-graph IR: graphs of registered ops over typed tensors, with value domains.

``save_graph``/``load_graph`` read and write ``.snnir`` files, ``format_graph`` is the text dump
(``snncompile show``), ``to_onnx``/``save_onnx`` export to ONNX (``onnx`` imported lazily).
"""
from .domain import Domain
from .graph import Graph, GraphError, Node, Value
from .onnx_export import save_onnx, to_onnx
from .printer import format_graph
from .serialize import load_graph, save_graph

__all__ = ["Domain", "Graph", "GraphError", "Node", "Value", "format_graph", "load_graph", "save_graph",
           "save_onnx", "to_onnx"]
