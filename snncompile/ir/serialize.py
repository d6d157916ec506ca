"""Saving and loading graphs: one ``.snnir`` file.

The file is a zip archive that ``numpy.load`` also opens (an ``.npz``):

* ``graph.json`` — the structure: ``format`` (``"snncompile-ir"``), ``version``, the ``values``
  (name, shape, dtype, domain — structured, plus ``domain_text`` for reading —, constant flag and,
  for constants, the member holding the array),
  the ``nodes`` in execution order (name, op, inputs, outputs, attrs, module, source), the graph
  ``inputs``, ``outputs`` and ``meta``;
* one ``<member>.npy`` per constant, written with ``numpy.save`` (no pickles): dtype, shape and
  bytes are kept exactly.

Domains are stored structurally as ``{"lo", "hi", "integer"}`` (``str(Domain)`` rounds to six
digits; the structured form is exact).  Attribute and meta values may be ``None``, bools, ints,
floats (``inf``/``nan`` included), strings, lists, tuples and dicts with string keys, nested
freely; they round-trip exactly.  The JSON is strict (no ``Infinity`` literals): a non-finite
float is written ``{"$float": "inf"}``, a tuple ``{"$tuple": [...]}``, and a dict whose only key
starts with ``$`` is wrapped as ``{"$dict": {...}}`` so it cannot be mistaken for a tag.

``load_graph`` checks the format and version, that every referenced value is defined, that every
constant's array matches its declared shape and dtype, and (given ``check_node``, as
``snncompile.ops.load_graph`` gives the registry's) that every op is registered and accepts its operands; anything wrong raises :class:`snncompile.errors.InputError` with a one-line
message.  ``save_graph`` writes to a temporary file in the target folder and renames it over the
target, so an error never leaves a half-written file behind.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from typing import Any, BinaryIO, Callable, Optional

import numpy as np

from snncompile.errors import InputError

from .domain import Domain
from .graph import Graph, GraphError, Node, Value
from snncompile.outputs import write_file
from snncompile import validate

NodeCheck = Callable[[Node], Optional[str]]

FORMAT = "snncompile-ir"
VERSION = 1
GRAPH_MEMBER = "graph.json"
SUFFIX = ".snnir"

_SAFE_MEMBER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_TAGS = ("$float", "$tuple", "$dict")


# -- JSON encoding of attribute values -------------------------------------------------------------

def encode_value(obj: Any, where: str = "value") -> Any:
    """A strict-JSON form of an attribute/meta value (see the module docstring); raises TypeError."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if math.isfinite(x):
            return x
        return {"$float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}
    if isinstance(obj, list):
        return [encode_value(x, where) for x in obj]
    if isinstance(obj, tuple):
        return {"$tuple": [encode_value(x, where) for x in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"{where}: dict keys must be strings, got {sorted(map(repr, obj))}")
        out = {k: encode_value(v, where) for k, v in obj.items()}
        if len(out) == 1 and next(iter(out)).startswith("$"):
            return {"$dict": out}
        return out
    raise TypeError(f"{where}: cannot serialise a {type(obj).__name__} ({obj!r:.60})")


def decode_value(obj: Any) -> Any:
    """Inverse of :func:`encode_value`."""
    if isinstance(obj, list):
        return [decode_value(x) for x in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            (key, inner), = obj.items()
            if key == "$float":
                if inner not in ("inf", "-inf", "nan"):
                    raise ValueError(f"bad $float tag {inner!r}")
                return float(inner)
            if key == "$tuple":
                if not isinstance(inner, list):
                    raise ValueError("bad $tuple tag")
                return tuple(decode_value(x) for x in inner)
            if key == "$dict":
                if not isinstance(inner, dict):
                    raise ValueError("bad $dict tag")
                return {k: decode_value(v) for k, v in inner.items()}
        return {k: decode_value(v) for k, v in obj.items()}
    return obj


def encode_domain(d: Domain | None) -> dict | None:
    if d is None:
        return None
    out = {"lo": encode_value(d.lo), "hi": encode_value(d.hi), "integer": bool(d.integer)}
    if d.graded:  # written only when set: files without graded spikes are unchanged
        out["graded"] = True
    return out


def decode_domain(obj: Any) -> Domain | None:
    if obj is None:
        return None
    lo, hi, integer = decode_value(obj["lo"]), decode_value(obj["hi"]), obj["integer"]
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (lo, hi)) or \
            not isinstance(integer, bool):
        raise ValueError(f"bad domain {obj!r}")
    graded = obj.get("graded", False)
    if not isinstance(graded, bool):
        raise ValueError(f"bad domain {obj!r}")
    return Domain(lo, hi, integer, graded)


# -- save ------------------------------------------------------------------------------------------

def graph_to_json(graph: Graph) -> tuple[dict, dict[str, str]]:
    """The ``graph.json`` document and the map constant value name → archive member."""
    members: dict[str, str] = {}
    used: set[str] = {GRAPH_MEMBER}
    values = []
    for v in graph.values.values():
        entry: dict[str, Any] = {"name": v.name, "shape": [int(s) for s in v.shape], "dtype": v.dtype,
                                 "domain": encode_domain(v.domain), "constant": bool(v.constant)}
        if v.domain is not None:
            entry["domain_text"] = str(v.domain)  # for people reading graph.json; ignored on load
        if v.constant and v.name not in graph.constants:
            raise GraphError(f"constant value {v.name!r} has no array in graph.constants")
        if v.constant:
            member, i = f"{v.name}.npy", 0
            while not _SAFE_MEMBER.match(member) or member in used:
                member, i = f"const_{i:05d}.npy", i + 1
            used.add(member)
            members[v.name] = member
            entry["array"] = member
        values.append(entry)
    nodes = [{"name": n.name, "op": n.op, "inputs": list(n.inputs), "outputs": list(n.outputs),
              "attrs": encode_value(dict(n.attrs), f"node {n.name} attrs"),
              "module": n.module, "source": n.source} for n in graph.nodes]
    doc = {"format": FORMAT, "version": VERSION, "values": values, "nodes": nodes,
           "inputs": list(graph.inputs), "outputs": list(graph.outputs),
           "meta": encode_value(dict(graph.meta), "graph meta")}
    return doc, members


def save_graph(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` to ``path`` (conventionally ``*.snnir``) atomically.

    Raises ``TypeError`` (before touching the file system) when an attribute or meta value has a
    type the format cannot hold.
    """
    atomic_write(path, graph_writer(graph))


def graph_writer(graph: Graph) -> Callable[[BinaryIO], None]:
    """``fn(binary_file)`` that writes ``graph`` as a ``.snnir`` archive (for ``snncompile.outputs``);
    encoding errors are raised here, before any file is touched."""
    doc, members = graph_to_json(graph)
    text = json.dumps(doc, allow_nan=False, ensure_ascii=False, indent=1)

    def write(fh) -> None:
        with zipfile.ZipFile(fh, "w") as zf:  # arrays stored (as np.savez does), JSON deflated
            zf.writestr(GRAPH_MEMBER, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
            for name, member in members.items():
                with zf.open(member, "w", force_zip64=True) as out:
                    np.save(out, np.asarray(graph.constants[name]), allow_pickle=False)

    return write


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(fh)`` under the output contract (``snncompile.outputs.write_file``): a temporary
    sibling renamed over ``path``; only a regular file is replaced; umask respected."""

    write_file(path, write)


# -- load ------------------------------------------------------------------------------------------

class _Corrupt(Exception):
    """Internal: the reason a file is not a usable graph."""


def load_graph(path: str | os.PathLike, *, check_node: Optional[NodeCheck] = None) -> Graph:
    """Read a graph written by :func:`save_graph`; raises ``InputError`` on any unusable file (and on a
    node ``check_node`` finds fault with)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not an snncompile IR file")

    validate.regular_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            # declared sizes checked before anything is inflated; member CRCs are checked as they are read
            validate.zip_archive(zf, path, verify_crc=False)
            try:
                raw = zf.read(GRAPH_MEMBER)
            except KeyError:
                raise _Corrupt(f"no {GRAPH_MEMBER} inside") from None
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise _Corrupt(f"{GRAPH_MEMBER} is not valid JSON ({e})") from None
            _check_header(doc)
            arrays = {}
            entries = doc.get("values")
            if not isinstance(entries, list):
                raise _Corrupt(f"malformed {GRAPH_MEMBER}: 'values' is not a list")
            for entry in entries:
                if isinstance(entry, dict) and entry.get("array") is not None:
                    arrays[entry.get("name")] = _read_array(zf, entry["array"])
        return graph_from_json(doc, arrays, check_node)
    except _Corrupt as e:
        raise InputError(f"{path}: not a valid snncompile IR file: {_one_line(e)}") from None
    except RecursionError:
        raise InputError(f"{path}: not a valid snncompile IR file: {GRAPH_MEMBER} is nested too deeply") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError,
            zlib.error, struct.error) as e:
        raise InputError(f"{path}: not a valid snncompile IR file (not a readable .snnir archive: "
                         f"{_one_line(e) or type(e).__name__})") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _check_header(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _Corrupt(f"{GRAPH_MEMBER} does not declare format {FORMAT!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _Corrupt(f"format version {version!r} is not an integer")
    if version > VERSION:
        raise _Corrupt(f"format version {version} is newer than this snncompile reads ({VERSION}); upgrade snncompile")
    if version < 1:
        raise _Corrupt(f"unknown format version {version}")


def _read_array(zf: zipfile.ZipFile, member: Any) -> np.ndarray:
    if not isinstance(member, str):
        raise _Corrupt(f"bad array member {member!r}")
    try:
        data = zf.read(member)
    except KeyError:
        raise _Corrupt(f"constant array {member} is missing") from None
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise _Corrupt(f"constant array {member} is unreadable ({e})") from None



def graph_from_json(doc: dict, arrays: dict[str, np.ndarray], check_node: Optional[NodeCheck] = None) -> Graph:
    """Rebuild and validate a graph from its ``graph.json`` document and constant arrays; ``check_node``
    says what is wrong with a node (unknown op, bad operands) or None."""
    try:
        g = Graph()
        for e in doc["values"]:
            name = _str(e["name"], "value name")
            if not isinstance(e["shape"], list) or \
                    any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in e["shape"]):
                raise _Corrupt(f"value {name}: bad shape {e['shape']!r}")
            shape = tuple(e["shape"])
            constant = e["constant"]
            if not isinstance(constant, bool):
                raise _Corrupt(f"value {name}: bad constant flag")
            value = Value(name, shape, _str(e["dtype"], "dtype"), decode_domain(e["domain"]), constant)
            g.add_value(value)
            if name in arrays:
                arr = arrays[name]
                if not constant:
                    raise _Corrupt(f"value {name} has an array but is not constant")
                if tuple(arr.shape) != shape or str(arr.dtype) != value.dtype:
                    raise _Corrupt(f"constant {name}: array {arr.dtype}{list(arr.shape)} does not match "
                                   f"declared {value.dtype}{list(shape)}")
                g.constants[name] = arr
        for e in doc["nodes"]:
            name, op = _str(e["name"], "node name"), _str(e["op"], "op")
            attrs = decode_value(e["attrs"])
            if not isinstance(attrs, dict):
                raise _Corrupt(f"node {name}: attrs is not an object")
            node = Node(name, op, [_str(v, "input") for v in e["inputs"]],
                        [_str(v, "output") for v in e["outputs"]], attrs,
                        _str(e.get("module", ""), "module"), _str(e.get("source", ""), "source"))
            problem = check_node(node) if check_node is not None else None
            if problem:
                raise _Corrupt(f"node {name}: {problem}")
            g.add_node(node)
        g.inputs = [_str(v, "input") for v in doc["inputs"]]
        g.outputs = [_str(v, "output") for v in doc["outputs"]]
        for v in g.inputs + g.outputs:
            if v not in g.values:
                raise _Corrupt(f"graph input/output {v!r} is not a declared value")
        meta = decode_value(doc.get("meta", {}))
        if not isinstance(meta, dict):
            raise _Corrupt("meta is not an object")
        g.meta = meta
        missing = [v.name for v in g.values.values() if v.constant and v.name not in g.constants]
        if missing:
            raise _Corrupt(f"constant {missing[0]} has no array")
        g.validate()
    except _Corrupt:
        raise
    except GraphError as e:
        raise _Corrupt(str(e)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        detail = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        raise _Corrupt(f"malformed {GRAPH_MEMBER}: {detail}") from None
    return g


def _str(x: Any, what: str) -> str:
    if not isinstance(x, str):
        raise _Corrupt(f"{what} {x!r} is not a string")
    return x
