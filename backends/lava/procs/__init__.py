"""Custom Lava processes of the Loihi backend, one package per process.

Lava finds a process's models by importing every ``.py`` file in the folder of the module that defines
the process, so each process lives in its own package whose ``process.py`` holds the process and its
models (``floating_pt`` and ``fixed_pt``) and nothing else runs on import.  :mod:`.runtime` holds the
helpers they share (the clock of a pipelined run and the recording files) and :mod:`.base` the undecorated bases
(ports table, number formats ``FLOAT``/``FIXED``, the ``@model_of`` decorator, the clocked step skeleton); neither
is a process folder.
"""
