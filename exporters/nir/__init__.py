"""NIR export of the spike-graph IR (https://neuroir.org; pip ``nir``).

:func:`to_nir` folds BatchNorm into the weight layers, takes the graph of **one time step**
(``snncompile.passes.slice_time``: NIR graphs are stepped by their consumer) and emits it op by op
through the ``"nir"`` hooks of :mod:`.emitters`.  Conventions:

* **time** — neurons are written at time step ``dt`` (default :data:`DEFAULT_DT` = 1e-4 s, the step
  snnTorch's importer assumes; pass the same ``dt`` to Norse's ``from_nir``); the mapping of each
  traced neuron is in :mod:`.neurons`.  The Input node receives the model input at every step (a
  static image that the model repeats over time is presented at every step).
* **after the time loop** — what the model computes from a reduction over time (a mean of the
  readout over T) runs once after the last step; NIR graphs have no such stage.  Those nodes are
  not exported; the graph's Output is the per-step value they read, and the graph's metadata
  ``snncompile_after_time_loop`` lists them.
* **refusals** — an op NIR cannot carry (a product of two dynamic tensors, softmax, a soft reset…)
  makes :func:`to_nir` raise one line naming the nodes; with ``partial=True`` those nodes are cut
  and the expressible subgraphs are exported with named ``input_<value>``/``output_<value>`` nodes
  (listed, with every cut, in :attr:`NirExport.sidecar`).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from snncompile import strictjson
from snncompile.analysis.domains import infer_domains
from snncompile.errors import SnnCompileError
from snncompile.ir.graph import Graph
from snncompile.outputs import check_file_target, write_file
from snncompile.passes import run_passes, slice_time

from . import emitters  # noqa: F401 - registers the ops' "nir" hooks
from .builder import NirBuilder

DEFAULT_DT = 1e-4
PREPARE = ("drop_identity", "fold_batch_norm", "simplify_shapes")


def _nir():
    try:
        import nir
    except ImportError:
        raise SnnCompileError("NIR export needs the 'nir' package: pip install 'snncompile[interop]' "
                              "(or pip install nir==1.0.8)") from None
    return nir


class NirRefusal(SnnCompileError):
    """The graph holds nodes NIR cannot carry (and ``partial`` was not asked for)."""


@dataclass
class NirExport:
    graph: Any  # nir.NIRGraph
    sidecar: dict  # cuts, boundaries, dt, what runs after the time loop

    @property
    def cut(self) -> list:
        return self.sidecar["cut"]


def step_program(graph: Graph):
    """BatchNorm folded, domains inferred, and the one-step program (see the module docstring)."""
    folded, _ = run_passes(graph, PREPARE)
    infer_domains(folded)
    return slice_time(folded)


def to_nir(graph: Graph, *, dt: float = DEFAULT_DT, partial: bool = False) -> NirExport:
    """The NIR graph of ``graph`` (see the module docstring)."""
    nir = _nir()
    if not dt > 0:
        raise SnnCompileError(f"dt must be positive, got {dt}")
    program = step_program(graph)
    b = NirBuilder(program.step, float(dt))
    for name, axis in program.input_axes.items():  # the batch axis, and an event input's time axis after it
        b.lead[name] = 1 if axis is None else max(1, axis.axis + 1)
    b.run()
    if b.cuts and not partial:
        worst = sorted(b.cuts, key=lambda c: "dynamic tensors" not in c.reason)  # products (attention) first
        shown = "; ".join(f"{c.node} ({c.op}{' in ' + c.module if c.module else ''}): {c.reason}" for c in worst[:3])
        more = f"; and {len(b.cuts) - 3} more" if len(b.cuts) > 3 else ""
        raise NirRefusal(f"cannot export to NIR: {len(b.cuts)} node(s) have no NIR form: {shown}{more} "
                         f"(--partial exports the expressible subgraphs and lists the cuts)")
    after = [{"node": n.name, "op": n.op, "module": n.module} for n in program.post.nodes]
    sidecar = {
        "format": "nir", "nir_version": nir.version, "dt": float(dt), "time_steps": program.T,
        "model": graph.meta.get("name") or graph.meta.get("model", ""),
        "cut": [c.to_dict() for c in b.cuts],
        "inputs": [x.to_dict() for x in b.boundaries if x.kind == "input"],
        "outputs": [x.to_dict() for x in b.boundaries if x.kind == "output"],
        "after_time_loop": after,
    }
    meta = {"snncompile_dt": float(dt), "snncompile_time_steps": int(program.T),
            "snncompile_after_time_loop": json.dumps(after), "snncompile_cut": json.dumps(sidecar["cut"])}
    try:  # nir.read checks types the same way: a graph nir rejects here could not be read back
        g = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=meta, type_check=True)
    except (ValueError, AssertionError) as e:
        raise SnnCompileError(f"nir {nir.version} rejects the exported graph: {' '.join(str(e).split())[:200]}") \
            from None
    return NirExport(g, sidecar)


def save_nir(export: NirExport, path: str, *, sidecar_path: str | None = None) -> None:
    """Write the NIR graph (HDF5, ``nir.write``) and, if asked, the JSON sidecar, each under the output
    contract (``snncompile.outputs.write_file``: complete or not at all, never through a link, never over
    anything but a regular file).  The HDF5 bytes are built in memory first."""
    import nir

    buffer = io.BytesIO()
    nir.write(buffer, export.graph)
    if sidecar_path:
        check_file_target(sidecar_path)
    write_file(path, buffer.getvalue())
    if sidecar_path:
        write_file(sidecar_path, strictjson.dumps(export.sidecar, indent=2) + "\n")
