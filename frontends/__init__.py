"""Frontends: turn a trained model into the spike-graph IR (installed as ``snncompile.frontends``)."""
