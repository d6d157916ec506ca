"""Strict JSON (RFC 8259) for every JSON the CLI writes: never a ``NaN`` or ``Infinity`` token.

Python's ``json`` writes non-finite floats as bare ``NaN``/``Infinity``, which strict parsers (JavaScript's
``JSON.parse``, jq, Go) reject.  Here a non-finite float becomes the *string* ``"NaN"``, ``"Infinity"`` or
``"-Infinity"`` (the names JavaScript gives them), so the document parses everywhere and no value is lost;
a reader that wants a number maps those three strings back (``float("Infinity")`` does).  numpy scalars
and arrays become JSON numbers and lists; tuples become lists.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Optional

NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def plain(obj: Any, default: Optional[Callable[[Any], Any]] = None) -> Any:
    """``obj`` with non-finite floats as strings and numpy values as Python ones (recursively)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else NON_FINITE[repr(obj)]
    if isinstance(obj, dict):
        return {(k if isinstance(k, str) else str(plain(k, default))): plain(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, default) for v in obj]
    try:
        import numpy as np

        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.floating):
            return plain(float(obj))
        if isinstance(obj, np.ndarray):
            return plain(obj.tolist(), default)
    except ImportError:  # pragma: no cover - numpy is a core dependency
        pass
    if default is not None:
        return plain(default(obj), default)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(obj: Any, *, default: Optional[Callable[[Any], Any]] = None, **kwargs) -> str:
    """``json.dumps`` of ``plain(obj)`` with ``allow_nan=False`` (a non-finite float that slipped through is
    a bug and raises)."""
    return json.dumps(plain(obj, default), allow_nan=False, **kwargs)
