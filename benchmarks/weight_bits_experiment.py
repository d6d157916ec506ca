"""How much of fixed point's spike mismatch the 8-bit weight mantissa causes: an executor-only experiment.

    python benchmarks/weight_bits_experiment.py ARCH BITS      # e.g. sew_resnet-iand 12

Loihi's synapses hold 8-bit mantissas; this replaces the quantiser's weight rounding by rounding to nearest on a
``BITS``-bit mantissa (same exponent rule, ``BITS − 8`` more fractional bits) and runs the fixed-point executor
(which computes in int64, so it can hold such weights; Lava's ``Sparse`` could not).  Prints the fraction of spikes
(every neuron, every step) that differ from the float64 run over 48 training digits that calibration never saw.
BITS = 8 is the shipped quantiser itself (error-compensating rounding).  Measured 2026-11-26:
sew_resnet-iand 1.92 % (8) / 0.47 % (12) / 0.38 % (16); spikformer 1.71 % / 0.74 % / 0.72 %.
This experiment led to ``--weight-bits 16`` (:mod:`snncompile.loihi.split_weights`: two 8-bit synapses per
connection, which Lava does run; ``python benchmarks/fixed_point.py --config weight16 --split holdout --limit 48
--spikes 48``: sew_resnet-iand 0.51 %, spikformer 0.96 %, error-compensating rounding on the 16-bit grid).
"""
import sys

import numpy as np

import fixed_point as fp
import snncompile.loihi.fixed as quantiser


def main(arch: str, bits: int) -> None:
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.examples.data import load_digits
    from snncompile.frontends.shipped import load_shipped

    shipped = quantiser.quantise_weights

    def wide(w, second_moments=None):
        q, e, mode = shipped(w, second_moments)
        if bits <= 8 or mode == "null":
            return q, e, mode
        e2 = e - (bits - 8)
        unit = 2.0 ** (e2 + 1) if mode == "mixed" else 2.0 ** e2
        return np.round(np.asarray(w, dtype=np.float64) / unit) * (unit / 2.0 ** e2), e2, mode

    quantiser.quantise_weights = wide
    x = load_digits(img_size=16).x_train.numpy().astype(np.float32)
    family = load_shipped(fp.folder_name(arch))
    low = lower_graph(family.graph, mode="fixed", calibration=family.graph_input(x))
    held_out = family.graph_input(x[fp.CALIBRATION_SAMPLES:fp.CALIBRATION_SAMPLES + 48])
    print(f"{arch} {bits}-bit weight mantissas: spike mismatch {fp.spike_mismatch(low, held_out):.4%}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
