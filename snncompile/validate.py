"""The one input-validation layer: every check of what a user hands the CLI, each refusal one line.

Every function raises ``InputError`` (exit 2) naming the file or option and the field at fault, or
returns the validated value.  Depends only on ``snncompile.errors`` and numpy, so any command, loader or
reader can use it without import cycles.

Resource budgets are derived, never fixed: ``require_memory(nbytes, ...)`` compares what an input
*declares* it will need (a zip member's uncompressed size, a model config's parameter count, an array of
N x steps x elements) with the memory this process can still get (``available_memory``: the smaller of
the system's available memory and the address-space limit ``RLIMIT_AS`` less what the process maps), and
refuses before anything is allocated.
"""
from __future__ import annotations

import os
import stat
import zipfile
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from snncompile.errors import InputError

NUMERIC_KINDS = {"b": "boolean", "i": "integer", "u": "unsigned integer", "f": "floating point"}


# -- files --------------------------------------------------------------------------------------------------

def regular_file(path: str, what: str = "") -> str:
    """``path`` must name an existing regular file (a FIFO or device would block or never end)."""
    label = f"{what} {path}".strip()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except PermissionError:
        raise InputError(f"{label}: permission denied") from None
    except OSError as e:
        raise InputError(f"{label}: cannot read it ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{label} is a directory; give a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{label} is not a regular file (a FIFO, socket or device); give a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{label}: permission denied")
    return path


def load_array(path: str, what: str) -> np.ndarray:
    """A ``.npy`` file as a validated numeric array (``array``); no pickles, no FIFOs, sizes checked."""
    regular_file(path, what)
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(fh) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(fh))
        require_memory(int(np.prod(shape, dtype=np.float64)) * dtype.itemsize, f"{what} {path}",
                       "declared by its header")
        x = np.load(path, allow_pickle=False)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to parse a user's file is an input error
        raise InputError(f"{what} {path}: not a readable .npy file ({type(e).__name__}: {_short(e)})") from None
    return array(x, f"{what} {path}")


def array(x: Any, what: str) -> np.ndarray:
    """A numeric (boolean, integer or floating) array without NaN or infinities."""
    x = np.asarray(x)
    kind = x.dtype.kind
    if kind == "c":
        raise InputError(f"{what}: complex values ({x.dtype}); give real numbers")
    if kind not in NUMERIC_KINDS:
        raise InputError(f"{what}: {x.dtype} values; give numbers (boolean, integer or floating point)")
    if kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{what}: {int(bad.sum())} non-finite value(s) (NaN or infinity), the first at "
                             f"index {list(where)}")
    return x


def array_rows(x: np.ndarray, what: str, rows: int = 1024) -> np.ndarray:
    """``array`` for a possibly memory-mapped ``[N, ...]`` array, read ``rows`` samples at a time."""
    array(x[:0], what)  # dtype checks
    if x.dtype.kind == "f":
        for start in range(0, len(x), rows):
            bad = ~np.isfinite(np.asarray(x[start:start + rows]))
            if bad.any():
                first = np.argwhere(bad)[0]
                where = [int(first[0]) + start, *(int(i) for i in first[1:])]
                raise InputError(f"{what}: non-finite value(s) (NaN or infinity), the first at index {where}")
    return x


def samples_match(x: np.ndarray, labels: Optional[np.ndarray], what: str = "--labels") -> None:
    """One label per input sample."""
    if labels is None:
        return
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputError(f"{what}: labels must be one number per input, got shape {labels.shape}")
    if len(labels) != len(x):
        raise InputError(f"{what}: {len(labels)} label(s) for {len(x)} input(s); give one label per input")


def positive_dims(shape: Sequence[int], what: str) -> tuple[int, ...]:
    dims = tuple(int(d) for d in shape)
    if not dims or any(d <= 0 for d in dims):
        raise InputError(f"{what}: every dimension must be a positive integer, got {','.join(map(str, dims))}")
    return dims


# -- documents --------------------------------------------------------------------------------------------

def fields(doc: Any, table: Mapping[str, type | tuple], where: str) -> dict:
    """``doc`` must be an object with every field of ``table`` of the given type(s)."""
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    for name, types in table.items():
        if name not in doc:
            raise InputError(f"{where}: field {name!r} is missing")
        value = doc[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            want = " or ".join(t.__name__ for t in _tuple(types))
            raise InputError(f"{where}: field {name!r} must be {want}, got {type(value).__name__}")
    return doc


def _tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


# -- archives -----------------------------------------------------------------------------------------------

def zip_archive(zf: zipfile.ZipFile, where: str, *, verify_crc: bool = True) -> None:
    """Refuse an archive whose declared uncompressed size does not fit in memory (a zip bomb is refused
    before one byte is inflated), and one whose members fail their CRC check."""
    declared = sum(info.file_size for info in zf.infolist())
    require_memory(declared, where, "its members declare that much uncompressed data")
    if verify_crc:
        try:
            bad = zf.testzip()
        except Exception as e:  # noqa: BLE001 - a corrupt member of a user's file is an input error
            raise InputError(f"{where}: corrupt archive ({type(e).__name__}: {_short(e)})") from None
        if bad is not None:
            raise InputError(f"{where}: member {bad} fails its CRC check (the file is corrupt)")


# -- memory ---------------------------------------------------------------------------------------------------

def available_memory() -> int:
    """Bytes this process can still allocate: min(system available memory, RLIMIT_AS - mapped)."""
    budget = _meminfo_available()
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            budget = min(budget, max(0, soft - _mapped_bytes()))
    except (ImportError, OSError, ValueError):
        pass
    return budget


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def require_memory(nbytes: int, what: str, why: str) -> None:
    """Refuse ``what`` when ``nbytes`` (``why``: where the figure comes from) exceeds ``available_memory``."""
    budget = available_memory()
    if nbytes > budget:
        raise InputError(f"{what}: needs about {human_bytes(nbytes)} ({why}), more than the "
                         f"{human_bytes(budget)} of memory available")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def _short(e: BaseException, width: int = 200) -> str:
    return " ".join(str(e).split())[:width]
