"""The report's ledger reader (snncompile/energy/ledger.py) on hand-written ledgers: where it looks, which
layouts it accepts (the Lava backend's own ``run`` output included), the per-image normalisation, and the
one-line refusals.  The end-to-end test (tests/lava/test_end_to_end.py) reads a real ledger; this file pins
the layout rules one by one."""
import json

import pytest

from snncompile.energy.ledger import find_ledger, read_ledger
from snncompile.energy.models import LOIHI_SOP
from snncompile.errors import InputError

pytestmark = pytest.mark.nolava

CORES = [{"core": 0, "layer": "u0", "module": "block.0.q", "kind": "linear", "op_kind": "ac",
          "synaptic_ops": 40, "spikes": 8, "neuron_updates": 16},
         {"core": 1, "layer": "u1", "module": "block.0.q", "kind": "linear", "op_kind": "ac",
          "synaptic_ops": 20, "spikes": 4, "neuron_updates": 16},
         {"core": 2, "layer": "u2", "module": "idle", "kind": "neuron", "op_kind": "",
          "synaptic_ops": 0, "spikes": 0, "neuron_updates": 0}]
HOST = {"host:head": {"synaptic_ops": 12, "kind": "mac", "module": "head", "macs": 20}}


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_counts_are_per_image_and_summed_by_module(tmp_path):
    led = read_ledger(str(_write(tmp_path / "l.json", {"samples": 4, "cores": CORES, "host": HOST})))
    assert led["images"] == 4
    assert [c["synaptic_ops"] for c in led["cores"]] == [10.0, 5.0, 0.0]
    assert [c["spikes"] for c in led["cores"]] == [2.0, 1.0, 0.0]
    assert led["by_module"] == {"block.0.q": 15.0, "head": 3.0}
    assert led["on_chip_synaptic_ops"] == 15.0 and led["synaptic_ops"] == 18.0
    assert led["cores_used"] == 2
    assert led["e_loihi"] == pytest.approx(15.0 * LOIHI_SOP.pj_per_sop)
    assert led["cores"][0]["kind"] == "ac" and led["cores"][0]["units"] == ["block.0.q"]


def test_run_output_wrapping_the_ledger_is_read(tmp_path):
    """`snncompile run` writes its whole result, the ledger under "ledger"."""
    doc = {"predictions": [1], "ledger": {"samples": 2, "cores": CORES, "host": HOST}}
    led = read_ledger(str(_write(tmp_path / "ledger.json", doc)))
    assert led["images"] == 2 and led["synaptic_ops"] == 36.0


def test_a_folder_is_searched_for_its_ledger(tmp_path):
    assert find_ledger(str(tmp_path)) is None
    other = _write(tmp_path / "b_ledger.json", {"cores": CORES})
    _write(tmp_path / "a_ledger.json", {"cores": CORES})
    assert find_ledger(str(tmp_path)) == str(tmp_path / "a_ledger.json")  # first in sorted order
    main = _write(tmp_path / "ledger.json", {"cores": CORES})
    assert find_ledger(str(tmp_path)) == str(main)
    assert find_ledger(str(other)) == str(other)
    assert find_ledger(str(tmp_path / "missing.json")) is None


def test_missing_samples_means_one_image_and_aliases_are_read(tmp_path):
    cores = [{"id": 7, "units": ["a", "b"], "sops": 9, "kind": "conv", "module": "m"}]
    led = read_ledger(str(_write(tmp_path / "l.json", {"cores": cores})))
    assert led["images"] == 1
    row = led["cores"][0]
    assert (row["core"], row["units"], row["synaptic_ops"], row["kind"]) == (7, ["a", "b"], 9.0, "conv")
    assert row["spikes"] is None and led["host"] == {}


@pytest.mark.parametrize("doc,match", [
    ({"cores": {"0": {}}}, "needs a 'cores' list of objects"),
    ({"cores": [1, 2]}, "needs a 'cores' list of objects"),
    ({"samples": "many", "cores": CORES}, "'samples' must be an integer"),
    ({"cores": [{"synaptic_ops": "lots"}]}, "malformed ledger entry"),
])
def test_malformed_ledgers_are_one_line_input_errors(tmp_path, doc, match):
    with pytest.raises(InputError, match=match) as info:
        read_ledger(str(_write(tmp_path / "l.json", doc)))
    assert "\n" not in str(info.value)


def test_unreadable_or_absent_ledger(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a readable ledger"):
        read_ledger(str(tmp_path / "bad.json"))
    with pytest.raises(InputError, match="no per-core ledger"):
        read_ledger(str(tmp_path))


def test_lava_ledger_totals_and_layout_round_trip_through_the_reader(tmp_path):
    """The Lava backend's Ledger: totals by hand, and its to_dict() is what the reader expects."""
    from snncompile.backends.lava.ledger import CoreEntry, Ledger

    cores = [CoreEntry(core=c["core"], layer=c["layer"], module=c["module"], kind=c["kind"],
                       synaptic_ops=c["synaptic_ops"], spikes=c["spikes"], neuron_updates=c["neuron_updates"],
                       op_kind=c["op_kind"]) for c in CORES]
    ledger = Ledger(cores, host=dict(HOST), samples=4)
    assert ledger.totals() == {"on_chip": {"synaptic_ops": 60, "spikes": 12, "neuron_updates": 32},
                               "coincidence": {"unit_synapse_events": 0, "compartment_updates": 0},
                               "integrator": {"synaptic_ops": 0, "compartment_updates": 0},
                               "split_synapses": {"synaptic_ops": 0, "macs": 0},
                               "host_synaptic_ops": 12, "synaptic_ops": 72, "by_kind": {"ac": 60, "mac": 12},
                               "macs": 20, "cores_used": 2, "cores": 3}
    energy = ledger.energy(23.6)
    assert energy["chip_pJ"] == pytest.approx(60 * 23.6)
    # 45 nm: AC events, and the MAC convention's structural MACs of the real-valued head (not its 12 events)
    assert energy["paper_45nm_pJ"] == pytest.approx(60 * 0.9 + 20 * 4.6)
    led = read_ledger(str(_write(tmp_path / "ledger.json", ledger.to_dict())))
    assert led["images"] == 4 and led["synaptic_ops"] == 18.0 and led["by_module"] == {"block.0.q": 15.0, "head": 3.0}
    assert led["macs"] == 5.0  # the host head's 20 structural MACs over 4 images
    assert [c["spikes"] for c in led["cores"]] == [2.0, 1.0, 0.0]
    assert [c["neuron_updates"] for c in led["cores"]] == [4.0, 4.0, 0.0]


def test_a_split_layers_low_synapses_are_on_chip_work_the_reader_adds(tmp_path):
    """A core of a split weight layer (two synapses per connection): its low synapses' ops and MACs, listed apart
    in the Lava ledger, are read into the core's synaptic ops and the MAC total."""
    from snncompile.backends.lava.ledger import CoreEntry, Ledger

    cores = [CoreEntry(0, "fc1", "fc1", "linear", synaptic_ops=8, op_kind="mac", macs=12, low_synapse_ops=8,
                       low_macs=12),
             CoreEntry(1, "fc2", "fc2", "linear", synaptic_ops=6, op_kind="ac", low_synapse_ops=6)]
    ledger = Ledger(cores, samples=2)
    assert ledger.totals()["split_synapses"] == {"synaptic_ops": 14, "macs": 12}
    led = read_ledger(str(_write(tmp_path / "ledger.json", ledger.to_dict())))
    assert [c["synaptic_ops"] for c in led["cores"]] == [8.0, 6.0]
    assert led["on_chip_synaptic_ops"] == 14.0 == ledger.totals()["on_chip"]["synaptic_ops"] / 2
    assert led["macs"] == 12.0 == ledger.totals()["macs"] / 2


def test_a_bare_list_of_cores_is_one_image(tmp_path):
    led = read_ledger(str(_write(tmp_path / "l.json", CORES)))
    assert led["images"] == 1 and led["host"] == {}
    assert [c["synaptic_ops"] for c in led["cores"]] == [40.0, 20.0, 0.0]
