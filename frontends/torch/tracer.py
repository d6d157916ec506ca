"""Concrete-input tracing: run the model once and record every torch call that computes on data.

The model runs for real (Python control flow on shapes, ``len()``, ``x.dim()`` branches all
execute), under a ``TorchFunctionMode`` that sees each torch function and tensor method at the
outermost level.  Forward hooks keep a stack of module paths; spiking neurons are opaque leaves:
while a neuron module runs nothing inside it is recorded, and its call becomes one ``lif`` node.

Each recorded call is turned into IR nodes by the converter table (``converters.py``).  Tensors are
tracked by identity: the model input and every recorded result are *dynamic* values; parameters,
buffers and tensors computed only from constants are *constant* values (folded at trace time).
"""
from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from snncompile import ops
import snncompile
from snncompile import examples
from snncompile.errors import SnnCompileError, UnknownNeuronError, UnsupportedOpError
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph, Node, Value

from . import neurons as neuron_table
from .compat import use_cpu_backends


def _internal_roots() -> tuple[str, ...]:
    """Folders whose frames are never model code: torch and snncompile (its frontends and commands)."""
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.path.dirname(torch.__file__), os.path.dirname(snncompile.__file__), os.path.dirname(here)]
    return tuple(os.path.join(r, "") for r in roots)


def _library_roots() -> tuple[str, ...]:
    """Neuron/model libraries: their frames are model code only inside a composite module's method (the
    file that defines e.g. spikingjelly's ``sew_resnet.BasicBlock``), never in their layer wrappers and helpers."""
    roots = []
    for name in ("spikingjelly", "snntorch", "timm", "lava"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__file__", None):
            roots.append(os.path.dirname(mod.__file__))
    return tuple(os.path.join(r, "") for r in roots)


def _example_roots() -> tuple[str, ...]:
    """The example models ship inside snncompile when installed: their frames are model code."""
    return (os.path.join(os.path.dirname(os.path.abspath(examples.__file__)), ""),)


#: torch.nn classes that only group other modules: a method of a subclass is model code.
_CONTAINERS = (torch.nn.Module, torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)


def _is_composite_method(frame) -> bool:
    """The frame runs a method of a module that is not a torch layer (nor a library's subclass of one)."""
    obj = frame.f_locals.get("self")
    if not isinstance(obj, torch.nn.Module):
        return False
    return not any(c.__module__.startswith("torch.nn.") and c not in _CONTAINERS for c in type(obj).__mro__)


def numpy_of(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t.cpu().numpy().copy()


class _Recorder(TorchFunctionMode):
    def __init__(self, tracer: "Tracer"):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.tracer.opaque_depth == 0 and self.tracer.error is None:
            try:
                self.tracer.record(func, args, kwargs, out)
            except SnnCompileError as e:  # surface after the forward unwinds
                self.tracer.error = e
        return out


@dataclass
class Tracer:
    """Holds the graph under construction and the tensor → value mapping."""

    model: torch.nn.Module
    graph: Graph = field(default_factory=Graph)
    opaque_depth: int = 0
    scope: list[str] = field(default_factory=list)
    error: Optional[SnnCompileError] = None

    def __post_init__(self):
        # id(tensor) -> (weak reference, value name): tensors are not kept alive by the trace, and a
        # recycled id is recognised because its weak reference no longer points at the same object
        self._values: dict[int, tuple[weakref.ref, str]] = {}
        self._params = {}
        for name, p in self.model.named_parameters(remove_duplicate=True):
            self._params.setdefault(id(p), name)
        for name, b in self.model.named_buffers(remove_duplicate=True):
            self._params.setdefault(id(b), name)
        self._paths = {}
        for name, m in self.model.named_modules(remove_duplicate=False):
            self._paths.setdefault(id(m), name)
        self._internal = _internal_roots()
        self._libraries = _library_roots()
        self._examples = _example_roots()
        self._count = 0

    # -- values ------------------------------------------------------------------------------------
    def lookup(self, t: torch.Tensor) -> Optional[str]:
        entry = self._values.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def is_dynamic(self, t: Any) -> bool:
        if not isinstance(t, torch.Tensor):
            return False
        name = self.lookup(t)
        return name is not None and not self.graph.values[name].constant

    def bind(self, t: torch.Tensor, name: str) -> None:
        self._values[id(t)] = (weakref.ref(t), name)

    def new_value(self, t: torch.Tensor, hint: str, domain: Optional[Domain] = None) -> str:
        name = self.graph.unique_name(hint)
        self.graph.add_value(Value(name, tuple(t.shape), str(t.dtype).replace("torch.", ""), domain))
        self.bind(t, name)
        return name

    def value(self, t: Any, hint: str = "const") -> str:
        """The value name of a tensor or Python number, adding a constant when it is not tracked."""
        if isinstance(t, torch.Tensor):
            known = self.lookup(t)
            if known is not None:
                return known
            pname = self._params.get(id(t))
            name = self.graph.unique_name(pname or hint)
            self.graph.add_constant(name, numpy_of(t))
            self.bind(t, name)
            return name
        name = self.graph.unique_name(hint)
        # Python numbers are doubles: keep them exact (the executor casts to the run's dtype)
        self.graph.add_constant(name, np.asarray(t, dtype=np.float64))
        return name

    def constant_value(self, t: torch.Tensor, hint: str = "const") -> str:
        name = self.graph.unique_name(hint)
        self.graph.add_constant(name, numpy_of(t))
        self.bind(t, name)
        return name

    # -- nodes -------------------------------------------------------------------------------------
    def emit(self, op: str, inputs: Sequence[str], outputs: Sequence[torch.Tensor], attrs: dict | None = None,
             *, out_domains: Sequence[Optional[Domain]] = ()) -> Node:
        self._count += 1
        base = (self.current_module or "root").replace(".", "_")
        name = self.graph.unique_name(f"{base}__{op}")
        outs = [self.new_value(t, f"{name}_out", out_domains[i] if i < len(out_domains) else None)
                for i, t in enumerate(outputs)]
        node = Node(name, op, list(inputs), outs, dict(attrs or {}), self.current_module, self.source_line())
        return self.graph.add_node(node)

    @property
    def current_module(self) -> str:
        return self.scope[-1] if self.scope else ""

    def source_line(self) -> str:
        """file:line of the model code that called the op: the innermost frame outside torch and snncompile
        that is either user code or, inside a library (spikingjelly, snnTorch, timm), a method of a composite
        module (a model class such as ``sew_resnet.BasicBlock``, not a layer wrapper or a helper function)."""
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not _TRACE_CODE:  # nothing past trace() is model code
            fname = frame.f_code.co_filename
            if fname.startswith(self._examples) or not (fname.startswith(self._internal) or fname.startswith("<")):
                if not fname.startswith(self._libraries) or _is_composite_method(frame):
                    return f"{_short_path(fname)}:{frame.f_lineno}"
            frame = frame.f_back
        return ""

    # -- recording ---------------------------------------------------------------------------------
    def record(self, func, args, kwargs, out) -> None:
        from .converters import convert

        tensors_in = [a for a in _flatten((args, kwargs)) if isinstance(a, torch.Tensor)]
        outs = [o for o in _flatten(out) if isinstance(o, torch.Tensor)]
        if not outs:
            return  # shape queries, .item(), comparisons to Python values…
        if not any(self.is_dynamic(t) for t in tensors_in):
            for o in outs:  # computed from constants only: fold
                if self.lookup(o) is None and id(o) not in self._params:
                    self.constant_value(o)
            return
        convert(self, func, args, kwargs, out)

    # -- module hooks ------------------------------------------------------------------------------
    def pre_hook(self, module, args):
        path = self._paths.get(id(module), "")
        self.scope.append(path)
        if self.opaque_depth == 0 and neuron_table.neuron_extractor(module) is not None:
            self.opaque_depth += 1
            module._snncompile_opaque = True
        elif self.opaque_depth == 0 and neuron_table.looks_like_neuron(module) and self.error is None:
            cls = neuron_table.qualified_name(type(module))
            self.error = UnknownNeuronError(
                f"module {path or '<root>'} of class {cls} looks like a spiking neuron (it has a threshold) but is "
                f"not in snncompile's neuron table; define snncompile_neuron_attrs() on the class or use a "
                f"supported neuron (spikingjelly LIF/IF/PLIF, snnTorch Leaky)")

    def post_hook(self, module, args, out):
        if getattr(module, "_snncompile_opaque", False):
            del module._snncompile_opaque
            self.opaque_depth -= 1
            if self.opaque_depth == 0 and self.error is None:
                try:
                    self._record_neuron(module, args, out)
                except SnnCompileError as e:
                    self.error = e
        self.scope.pop()

    def _record_neuron(self, module, args, out) -> None:
        attrs = neuron_table.neuron_extractor(module)(module)
        op = attrs.pop("op", "lif")  # integer-spike neurons are their own op ("ilif")
        path = self._paths.get(id(module), "")
        attrs["neuron_class"] = neuron_table.qualified_name(type(module))
        if attrs["step_mode"] == "single":
            attrs["state_key"] = path
        x = args[0]
        if not isinstance(x, torch.Tensor):
            raise UnsupportedOpError(f"neuron {path} was called without a tensor input")
        inputs = [self.value(x, "neuron_in")]
        if len(args) > 1 and isinstance(args[1], torch.Tensor):  # explicit membrane (snnTorch)
            inputs.append(self.value(args[1], "mem"))
        outs = [o for o in _flatten(out) if isinstance(o, torch.Tensor)]
        if not self.is_dynamic(x):
            for o in outs:
                self.constant_value(o)
            return
        self.emit(op, inputs, outs[:2], attrs)


def _flatten(obj) -> list:
    if isinstance(obj, (list, tuple)):
        return [y for x in obj for y in _flatten(x)]
    if isinstance(obj, dict):
        return [y for x in obj.values() for y in _flatten(x)]
    return [obj]


def _short_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def trace(model: torch.nn.Module, example_inputs: Sequence[torch.Tensor] | torch.Tensor,
          input_domains: Sequence[Domain] | None = None, *, name: str = "", time_major: bool = False) -> Graph:
    """Run ``model`` once on ``example_inputs`` and return its IR graph (pruned to live nodes).

    ``input_domains`` defaults to ``real`` for every input (an analog image); pass
    ``Domain.binary()`` for event (spike) inputs. ``time_major``: the model takes its first input
    ``[T, B, …]``; ``example_inputs[0]`` is given batch first (``[B, T, …]``) and transposed, as a
    recorded op of the graph, before the call (batches stay on axis 0 for the whole toolchain).
    """
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    model.eval()
    use_cpu_backends(model)
    neuron_table.reset_states(model)
    tracer = Tracer(model)
    g = tracer.graph
    for i, x in enumerate(example_inputs):
        dom = input_domains[i] if input_domains else Domain.real()
        vname = tracer.new_value(x, "input" if i == 0 else f"input_{i}", dom)
        g.inputs.append(vname)
    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(tracer.pre_hook))
        handles.append(m.register_forward_hook(tracer.post_hook))
    try:
        with torch.no_grad(), _Recorder(tracer):
            args = (example_inputs[0].transpose(0, 1),) + example_inputs[1:] if time_major else example_inputs
            out = model(*args)
    except SnnCompileError:
        raise
    except Exception as e:  # the model itself failed on this input
        if tracer.error is not None:
            raise tracer.error from None
        where = tracer.current_module or "<root>"
        raise SnnCompileError(f"the model raised {type(e).__name__} while tracing (in {where}): "
                              f"{str(e).splitlines()[0] if str(e) else ''}") from e
    finally:
        for h in handles:
            h.remove()
        neuron_table.reset_states(model)
    if tracer.error is not None:
        raise tracer.error
    for o in _flatten(out):
        if isinstance(o, torch.Tensor):
            g.outputs.append(tracer.value(o, "output"))
    if not g.outputs:
        raise SnnCompileError("the model returned no tensor")
    g.meta.update(_meta(model, example_inputs, g, name))
    g.prune()
    g.validate()
    return g


def _meta(model, inputs, g: Graph, name: str) -> dict:
    steps = [n for n in g.nodes if ops.get(n.op).across_time and n.attrs.get("step_mode") == "multi"]
    t = g.values[steps[0].inputs[0]].shape[0] if steps else None
    return {
        "model": name or type(model).__name__,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "input_shapes": [list(x.shape) for x in inputs],
        "batch": int(inputs[0].shape[0]) if inputs and inputs[0].dim() else 1,
        "time_steps": getattr(model, "T", None) or t,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


_TRACE_CODE = trace.__code__
