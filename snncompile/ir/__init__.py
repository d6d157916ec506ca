"""The spike-graph IR: graphs of registered ops over typed tensors, with value domains.

``save_graph``/``load_graph`` read and write ``.snnir`` files, ``format_graph`` is the text dump
(``snncompile show``).  ONNX export lives in ``snncompile.exporters.onnx``.
"""
from .domain import Domain
from .graph import Graph, GraphError, Node, Value
from .printer import format_graph
from .serialize import load_graph, save_graph

__all__ = ["Domain", "Graph", "GraphError", "Node", "Value", "format_graph", "load_graph", "save_graph"]
