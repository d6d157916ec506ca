"""Backends: executors and lowerings of the IR.

* :mod:`snncompile.backends.reference` — the numpy reference executor of the IR (the specification
  every other backend must match), domain verification and exact event counts.
* ``snncompile.backends.lava`` — the Loihi lowering (Lava is imported only there).
"""
