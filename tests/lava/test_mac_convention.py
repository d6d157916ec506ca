"""One MAC convention (``backends.reference.counts.mac_count``): ``report`` and the Lava ledger count the
layers fed real values (the encoding conv on the analog image, the host readout) as the same structural
MACs, padding taps included, and so give the same 45 nm energy; events stay events."""
import numpy as np
import pytest

from snncompile.backends.lava import lava_status
from snncompile.backends.reference import count_events

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]


def test_ledger_and_report_count_the_same_macs_and_energy(case):
    from snncompile.backends.lava.host import run_post
    from snncompile.backends.lava.ledger import build_ledger
    from snncompile.energy import build_report

    low = case.lowered("float")
    rec = case.lava("float")
    n = len(case.x)
    _, host = run_post(low.program, rec.readouts, n)
    led = build_ledger(low.prepared.network, low.part, rec, samples=n, original=case.graph, host_counts=host)
    counts = count_events(case.graph, case.x)
    rep = build_report(case.graph, counts)
    tot = led.totals()
    assert tot["macs"] == rep.totals["all"]["macs"] * n
    np.testing.assert_allclose(led.energy()["paper_45nm_pJ"], rep.totals["all"]["e45"] * n, rtol=1e-12)
    # the convention is the dense layer's, not the events: the encoding conv's zero pixels and padding taps
    # are MACs, and its events (nonzero pixels × synapses) are fewer
    mac_cores = [c for c in led.cores if c.op_kind == "mac"]
    assert mac_cores and sum(c.macs for c in mac_cores) > sum(c.synaptic_ops for c in mac_cores) > 0
    assert tot["by_kind"]["mac"] == sum(c.synaptic_ops for c in mac_cores) + sum(
        h["synaptic_ops"] for h in led.host.values() if h["kind"] == "mac")
