"""snncompile: trace spiking neural networks into a spike-graph IR, check that every operation is
spike-driven, and lower them to Loihi (Lava) with per-core accounting.

Layout: the repository's top-level folders ``frontends/``, ``backends/`` and ``examples/`` are the
subpackages ``snncompile.frontends``, ``snncompile.backends`` and ``snncompile.examples``.  An
installed copy has them inside this package; in a source checkout (``python -m snncompile`` from
the repository root) the repository root is added to this package's search path so the same
names resolve to those folders.
"""
import os as _os

__version__ = "0.1.0"

_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "setup.cfg")) and _os.path.isdir(_os.path.join(_checkout, "frontends")) \
        and not _os.path.isdir(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "frontends")):
    __path__.append(_checkout)  # type: ignore[name-defined]  # noqa: F821
