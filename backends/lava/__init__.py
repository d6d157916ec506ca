"""The Loihi backend: lowering of the IR to Lava processes, CPU simulation, per-core AC ledger.

Lava is imported lazily (only :mod:`.simulate` and the process packages under :mod:`.procs` import it);
everything else — the plan, the ledger, partitioning — runs without Lava.
"""
from .availability import lava_status, require_lava

__all__ = ["lava_status", "require_lava"]
