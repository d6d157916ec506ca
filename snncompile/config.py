"""Policy for ``snncompile check``: which rules run and which MACs are allowed.

Read, first found wins, from ``[tool.snncompile]`` in ``pyproject.toml`` or ``[snncompile]`` in
``setup.cfg`` (searched upwards from the working directory), then overridden by the command line::

    [tool.snncompile]
    select = ["SNN1"]          # rule codes or prefixes to run (default: all)
    ignore = ["SNN104"]        # rule codes or prefixes to skip
    allow-encoding-mac = true  # the layer fed the analog input may multiply (default true)
    allow-readout-mac = true   # the readout after the last neuron may multiply (default true)
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, replace
from typing import Optional, Sequence

from snncompile.errors import InputError
from snncompile.validate import regular_file


@dataclass(frozen=True)
class Policy:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    allow_encoding_mac: bool = True
    allow_readout_mac: bool = True
    source: str = "defaults"

    def enabled(self, code: str) -> bool:
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(s) for s in self.ignore)

    def override(self, *, select: Sequence[str] = (), ignore: Sequence[str] = (),
                 allow_encoding_mac: Optional[bool] = None, allow_readout_mac: Optional[bool] = None) -> "Policy":
        p = self
        if select:
            p = replace(p, select=tuple(_codes(select)))
        if ignore:
            p = replace(p, ignore=p.ignore + tuple(_codes(ignore)))
        if allow_encoding_mac is not None:
            p = replace(p, allow_encoding_mac=allow_encoding_mac)
        if allow_readout_mac is not None:
            p = replace(p, allow_readout_mac=allow_readout_mac)
        return p


def _codes(items) -> list[str]:
    out = []
    for item in items:
        out.extend(c.strip().upper() for c in str(item).split(",") if c.strip())
    return out


def _bool(value, key: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise InputError(f"{where}: {key} must be true or false, got {value!r}")


def _from_mapping(table: dict, where: str) -> Policy:
    known = {"select", "ignore", "allow-encoding-mac", "allow-readout-mac"}
    unknown = set(table) - known
    if unknown:
        raise InputError(f"{where}: unknown snncompile setting(s) {', '.join(sorted(unknown))}")

    def listish(v):
        return _codes(v if isinstance(v, (list, tuple)) else str(v).replace("\n", ",").split(","))

    return Policy(
        select=tuple(listish(table.get("select", []))),
        ignore=tuple(listish(table.get("ignore", []))),
        allow_encoding_mac=_bool(table.get("allow-encoding-mac", True), "allow-encoding-mac", where),
        allow_readout_mac=_bool(table.get("allow-readout-mac", True), "allow-readout-mac", where),
        source=where,
    )


def _read_pyproject(path: str) -> Optional[Policy]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            return None
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    table = data.get("tool", {}).get("snncompile")
    return _from_mapping(table, f"{path} [tool.snncompile]") if table is not None else None


def _read_setup_cfg(path: str) -> Optional[Policy]:
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as e:
        raise InputError(f"{path}: cannot read ({' '.join(str(e).split())})") from None
    if not parser.has_section("snncompile"):
        return None
    return _from_mapping(dict(parser.items("snncompile")), f"{path} [snncompile]")


def load_policy(start: Optional[str] = None, explicit: Optional[str] = None) -> Policy:
    """The policy from ``explicit`` (a pyproject.toml or setup.cfg) or the nearest config file."""
    if explicit:
        if not os.path.exists(explicit):
            raise InputError(f"{explicit}: no such config file")

        regular_file(explicit, "--config")
        reader = _read_pyproject if explicit.endswith(".toml") else _read_setup_cfg
        return reader(explicit) or Policy(source=explicit)
    folder = os.path.abspath(start or os.getcwd())
    while True:
        for fname, reader in (("pyproject.toml", _read_pyproject), ("setup.cfg", _read_setup_cfg)):
            path = os.path.join(folder, fname)
            if os.path.isfile(path):  # a FIFO or device named like a config file is not read
                policy = reader(path)
                if policy is not None:
                    return policy
        parent = os.path.dirname(folder)
        if parent == folder:
            return Policy()
        folder = parent


__all__ = ["Policy", "load_policy"]
