"""Device strings of the counting engine: ``cpu`` or ``cuda[:N]``, refused in one line when absent."""
from __future__ import annotations

import re

from snncompile.errors import InputError

_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


def resolve_device(spec: str):
    """The :class:`torch.device` of ``spec``; :class:`InputError` when it is malformed or this machine
    has no such device (no CUDA build, no driver, or an index past the visible GPUs)."""
    import torch

    m = _DEVICE.match(spec.strip().lower())
    if not m or (m.group(1) == "cpu" and m.group(2) not in (None, "0")):
        raise InputError(f"--device must be cpu or cuda[:N], got {spec!r}")
    if m.group(1) == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
        raise InputError(f"--device {spec}: CUDA is not available on this machine ({why}; torch {torch.__version__})")
    if m.group(2) is None:
        return torch.device("cuda")  # the current device (under torchrun: this process's LOCAL_RANK)
    index = int(m.group(2))
    if index >= torch.cuda.device_count():
        raise InputError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return torch.device("cuda", index)
