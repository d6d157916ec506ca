"""Exporters: the spike-graph IR written in formats other tools read (installed as
``snncompile.exporters``).  One subpackage per format; each emits op by op through the registry's
per-op emitter hooks (``OpDef.hook("<format>")``) and refuses, in one line naming the node, any op
whose hook it lacks.  Exporters sit beside the backends: they may import ``snncompile`` (ir, ops,
analyses, passes, loihi) but nothing imports them except the commands.
"""
