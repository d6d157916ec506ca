"""PNG plots of a report (matplotlib, Agg backend): firing rates, energy per layer, per-core load."""
from __future__ import annotations

import os

from .report import Report
from snncompile.outputs import ensure_dir
from snncompile.outputs import write_file


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _short(name: str, width: int = 44) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def write_plots(report: Report, folder: str) -> list[str]:
    """Write the plots into ``folder`` (created; each file under ``snncompile.outputs``); returns the files."""

    ensure_dir(folder)
    plt = _plt()
    written = []
    if report.neurons:
        names = [_short(n.module or n.node) for n in report.neurons]
        fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(names) + 2), 4.5))
        ax.bar(range(len(names)), [100 * n.firing_rate for n in report.neurons], color="#3b75af")
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_ylabel("firing rate (%)")
        ax.set_title(f"{report.model}: firing rate per neuron layer ({report.samples} image(s))")
        written.append(_save(plt, fig, os.path.join(folder, "firing_rate.png")))
    rows = [r for r in report.rows if r.e45 is not None or r.e_loihi is not None]
    if rows:
        names = [_short(f"{r.module} {r.label if r.label != r.op else ''}".strip()) for r in rows]
        x = range(len(rows))
        fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(rows) + 2), 4.8))
        w = 0.4
        ax.bar([i - w / 2 for i in x], [(r.e45 or 0) / 1e6 for r in rows], w, label="45 nm exact (Horowitz 2014)",
               color="#3b75af")
        ax.bar([i + w / 2 for i in x], [(r.e_loihi or 0) / 1e6 for r in rows], w,
               label="Loihi 23.6 pJ/SOP (Davies 2018)", color="#ef8636")
        ax.set_xticks(list(x), names, rotation=90, fontsize=7)
        ax.set_ylabel("energy per image (µJ)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.set_title(f"{report.model}: energy per layer")
        written.append(_save(plt, fig, os.path.join(folder, "energy_per_layer.png")))
    if report.ledger and any(c["synaptic_ops"] is not None for c in report.ledger["cores"]):
        cores = report.ledger["cores"]
        written.append(plot_core_load(os.path.join(folder, "per_core_load.png"), [c["synaptic_ops"] or 0 for c in cores],
                                      [c.get("layer", "") for c in cores], f"{report.model}: per-core load",
                                      "synaptic ops per image"))
    return written


def plot_core_load(path: str, load, layers, title: str, ylabel: str) -> str:
    """One bar per core (colour = the layer it holds), written atomically as a PNG; returns ``path``."""
    plt = _plt()
    names: list[str] = []
    for layer in layers:
        if layer not in names:
            names.append(layer)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(max(6, min(24, len(load) * 0.12 + 4)), 4))
    ax.bar(range(len(load)), list(load), color=[cmap(names.index(layer) % 20) for layer in layers], width=1.0)
    ax.set_xlabel("core")
    ax.set_ylabel(ylabel)
    ax.set_title(title + (" (colour = layer)" if len(names) > 1 else ""))
    tmp = path + ".tmp.png"
    _save(plt, fig, tmp)
    os.replace(tmp, path)
    return path


def _save(plt, fig, path: str) -> str:
    """Lay out, write as a 110-dpi PNG (``snncompile.outputs.write_file``), release the figure; returns ``path``."""

    fig.tight_layout()
    try:
        write_file(path, lambda fh: fig.savefig(fh, dpi=110, format="png"))
    finally:
        plt.close(fig)
    return path
