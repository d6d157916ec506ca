"""The Lava plan: every process, its parameters and every connection, computed without importing Lava.

:func:`make_plan` turns the unit network of a one-step graph (``snncompile.loihi.network``) into

* one ``StepSource`` per graph input (the host replays the per-step input vectors);
* per ``synapse`` unit, one lava-nc ``Sparse`` per group of input terms with the same matrix (the group's
  producers connect to the one ``s_in`` InPort, which sums them: a residual stream of spike trains arrives
  as graded integers), weights ``A·M`` (``A`` the layer, ``M`` the moves from the producers);
* per ``neuron`` unit one ``LIFStep`` (its input current sums every incoming ``a_out``; constant terms and
  the synapses' biases become the neuron's bias), or one ``GradedStep`` (type ``graded``) for a graded
  (I-LIF) neuron, whose Sparse consumers receive graded messages (``num_message_bits`` = GRADED_BITS);
* per ``pool`` / ``attention`` unit one ``SpikeMaxPool`` / ``SpikeAttention`` (gathers instead of moves);
* per ``product`` unit (a coincidence population, ``snncompile.loihi.coincidence``) one ``LIFStep`` with the
  coincidence registers, fed by one unit-weight ``Sparse`` per operand population;
* per readout value one ``StepReadout`` per group of terms;
* ``StepDelay`` processes where paths of unequal synapse depth meet (delay balancing).

**Emission orders.**  A population may emit its elements in any order (it is elementwise), and a Sparse
may order its rows freely.  Sources that are summed with others (the residual stream) emit in the
stream's order so that all terms of a sum have the *same* matrix and share one InPort; synapse and
attention outputs emit in the order of the neuron they feed, so currents arrive element-aligned.  The
plan records every unit's emission order; recordings are mapped back to the IR's natural order.

**Lags.**  ``lag(unit)`` is the Lava step (minus one) at which the unit emits model step 0 of the first
image: inputs 0; a Sparse adds 1 (it sends what it computed the step before); neurons, pools, attention
and readouts add 0 (a product's lag is its operand Sparses' lag).  Every InPort's producers are delayed to
the latest of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np
import scipy.sparse as sp

from snncompile.errors import UnsupportedOpError
from snncompile.loihi import coincidence
from snncompile.loihi.current_pool import is_current_pool
from snncompile.loihi.affine import (constant_vector, fingerprint, is_permutation, is_selection, numel, pool_windows,
                                     synapse_bias, synapse_matrix, term_matrix)
from snncompile.loihi.fixed import exact_weights, fixed_lif, spike_term_gain
from snncompile.loihi.split_weights import weight_planes
from snncompile.loihi.network import Network, Term, Unit


GRADED_BITS = 24
MAX_TAPS = 8  # outputs of one StepDelay (procs/delay)


@dataclass
class ProcSpec:
    name: str
    type: str  # source | sparse | shared | neuron | pool | attention | delay | readout
    unit: str
    lag: int
    params: dict = field(default_factory=dict)


@dataclass
class Conn:
    src: str
    src_port: str
    dst: str
    dst_port: str


@dataclass
class LavaPlan:
    mode: str
    T: int
    procs: dict[str, ProcSpec]
    conns: list[Conn]
    emission: dict[str, np.ndarray]  # unit -> natural index of each emitted element
    unit_sizes: dict[str, int]
    inputs: dict[str, str]  # graph input value -> source proc
    readouts: dict[str, list[str]]  # readout value -> readout procs (their recordings are summed)
    sparse_of: dict[str, list[str]]  # synapse unit -> its Sparse procs
    max_lag: int = 0

    @property
    def process_count(self) -> int:
        return len(self.procs)

    def summary(self) -> dict:
        kinds: dict[str, int] = {}
        for p in self.procs.values():
            kinds[p.type] = kinds.get(p.type, 0) + 1
        return {"processes": len(self.procs), "by_type": kinds, "connections": len(self.conns),
                "pipeline_depth": self.max_lag}


class _Builder:
    def __init__(self, net: Network, mode: str, T: int, shared_above: int = 4_000_000):
        self.net, self.g, self.mode, self.T = net, net.graph, mode, T
        self.shared_above = shared_above
        self.M: dict[tuple, sp.csr_matrix] = {}
        self.procs: dict[str, ProcSpec] = {}
        self.conns: list[Conn] = []
        self.lag: dict[str, int] = {}
        self.emission: dict[str, np.ndarray] = {}
        self.out_port: dict[str, tuple[str, str]] = {}  # unit -> (proc, port) of its emitted output
        self.delays: dict[tuple, tuple[str, str]] = {}
        self.delay_lines: dict[tuple, list[str]] = {}
        self.sparse_of: dict[str, list[str]] = {}

    # -- matrices -------------------------------------------------------------------------------------
    def tm(self, unit: Unit, port_i: int, term_i: int) -> sp.csr_matrix:
        key = (unit.name, port_i, term_i)
        if key not in self.M:
            self.M[key] = term_matrix(self.g, unit.ports[port_i].terms[term_i])
        return self.M[key]

    def size(self, unit: str) -> int:
        u = self.net.units[unit]
        return numel(self.g, u.output)

    def em(self, unit: str) -> np.ndarray:
        e = self.emission.get(unit)
        return np.arange(self.size(unit)) if e is None else e

    def inv(self, unit: str) -> np.ndarray:
        e = self.em(unit)
        inv = np.empty_like(e)
        inv[e] = np.arange(e.size)
        return inv

    def in_emitted(self, unit: Unit, pi: int, ti: int) -> sp.csr_matrix:
        """Term matrix with columns in the producer's emission order."""
        t = unit.ports[pi].terms[ti]
        return self.tm(unit, pi, ti)[:, self.em(t.source)].tocsr()

    # -- emission orders -------------------------------------------------------------------------------
    def choose_emissions(self) -> None:
        spike_kinds = ("input", "neuron", "pool", "product")
        for name in self.net.order:  # spike sources that are summed with others emit in the sum's order
            u = self.net.units[name]
            for pi, p in enumerate(u.ports):
                terms = [t for t in p.terms if t.source]
                if len(terms) < 2:
                    continue
                for ti, t in enumerate(p.terms):
                    src = self.net.units.get(t.source)
                    if src is None or src.kind not in spike_kinds or t.source in self.emission:
                        continue
                    M = self.tm(u, pi, ti)
                    if is_permutation(M):
                        self.emission[t.source] = M.indices.copy()
        for name in self.net.order:  # currents emit in the order of the neuron they feed
            u = self.net.units[name]
            if u.kind != "neuron":
                continue
            e_n = self.em(name)
            for ti, t in enumerate(u.ports[0].terms):
                src = self.net.units.get(t.source)
                if src is None or src.kind not in ("synapse", "attention") or t.source in self.emission:
                    continue
                M = self.tm(u, 0, ti)
                if is_selection(M) and M.shape[0] == M.shape[1]:
                    self.emission[t.source] = M.indices[e_n].copy()

    # -- processes -------------------------------------------------------------------------------------
    def add(self, spec: ProcSpec) -> ProcSpec:
        self.procs[spec.name] = spec
        return spec

    def connect(self, src: tuple[str, str], dst: str, dst_port: str, delay: int = 0, n: int = 0) -> None:
        if delay > 0:
            key = (src, delay)
            if key not in self.delays:  # a tap on the producer's delay line (a new line every MAX_TAPS)
                lines = self.delay_lines.setdefault(src, [])
                if not lines or len(self.procs[lines[-1]].params["taps"]) >= MAX_TAPS:
                    name = f"delay{len(self.delay_lines)}.{len(lines)}:{src[0]}"
                    self.add(ProcSpec(name, "delay", src[0], self.procs[src[0]].lag,
                                      {"n": n, "taps": [], "tap_lags": []}))
                    self.conns.append(Conn(src[0], src[1], name, "a_in"))
                    lines.append(name)
                line = self.procs[lines[-1]]
                line.params["taps"].append(delay)
                line.params["tap_lags"].append(self.procs[src[0]].lag + delay)
                self.delays[key] = (line.name, f"out{len(line.params['taps']) - 1}")
            src = self.delays[key]
        self.conns.append(Conn(src[0], src[1], dst, dst_port))

    def build(self) -> None:
        self.choose_emissions()
        for name in self.net.order:
            u = self.net.units[name]
            getattr(self, f"_unit_{u.kind}")(u)

    def _unit_input(self, u: Unit) -> None:
        p = self.add(ProcSpec(f"source:{u.name}", "source", u.name, 0, {"n": self.size(u.name)}))
        self.lag[u.name] = 0
        self.out_port[u.name] = (p.name, "s_out")

    def _term_lag(self, t: Term) -> int:
        return self.lag[t.source]

    def _unit_synapse(self, u: Unit) -> None:
        node = self.g.node(u.node)
        terms = [(ti, t) for ti, t in enumerate(u.ports[0].terms) if t.source]
        if any(not t.source for t in u.ports[0].terms):
            raise UnsupportedOpError(f"{node.location}: a constant added to a weight layer's input is not "
                                     f"supported on Loihi")
        for _, t in terms:
            if self.net.units[t.source].kind in ("synapse", "attention"):
                raise UnsupportedOpError(f"{node.location}: its input is a synaptic current, not spikes: two "
                                         f"weight layers without a neuron between them")
        n_out = numel(self.g, node.outputs[0])
        fan_in = int(np.prod(self.g.values[node.inputs[1]].shape[1:]))
        shared = n_out * fan_in > self.shared_above
        groups: dict[tuple, list] = {}
        for ti, t in terms:
            Me = self.in_emitted(u, 0, ti)
            groups.setdefault(fingerprint(Me), []).append((ti, t, Me))
        lag_in = max(self._term_lag(t) for _, t in terms)
        e_out = self.em(u.name)
        self.lag[u.name] = lag_in + 1
        self.sparse_of[u.name] = []
        for plane in weight_planes(self.g, node):  # a split layer (16-bit weights): high and low synapses
            suffix = ":low" if plane is not node else ""
            A = None if shared else synapse_matrix(self.g, plane)
            for gi, members in enumerate(groups.values()):
                name_g = (f":{gi}" if len(groups) > 1 else "") + suffix
                if shared:
                    self._shared(u, plane, name_g, members, lag_in, e_out)
                else:
                    self._sparse(u, plane, name_g, A, members, lag_in, e_out)
        self.out_port[u.name] = None  # several Sparse procs: consumers connect to each

    def _sparse(self, u: Unit, node, name_g: str, A, members, lag_in: int, e_out) -> None:
        """One Sparse process of a weight layer: its synapses from one group of input terms (one plane)."""
        Me = members[0][2]
        if self.mode == "fixed" and node.attrs.get("fixed_input_gain") is not None:
            Me = Me * float(node.attrs["fixed_input_gain"])  # means of spikes as integer sums
            Me.data = np.round(Me.data)
        W = (A @ Me).tocsr()[e_out]
        binary = len(members) == 1 and self.net.units[members[0][1].source].kind in ("neuron", "pool", "product")
        binary = binary and not is_current_pool(self.net.units, members[0][1].source)  # pooled currents
        binary = binary and not self.net.units[members[0][1].source].graded  # graded: a payload per spike
        params = {"weights": W.tocsr(), "num_message_bits": 0 if binary else GRADED_BITS}
        if self.mode == "fixed":
            W = W.tocsr()
            if not np.all(np.mod(W.data, 1) == 0):
                raise UnsupportedOpError(f"{node.location}: non-integer weights in fixed point")
            params["weights"] = sp.csr_matrix((W.data.astype(np.int32), W.indices, W.indptr), shape=W.shape)
            params["weight_exp"] = int(node.attrs["fixed_exp"])
            params["num_weight_bits"] = 8
        name = f"sparse:{u.name}{name_g}"
        self.add(ProcSpec(name, "sparse", u.name, lag_in + 1, params))
        self.sparse_of[u.name].append(name)
        for ti, t, _ in members:
            self.connect(self.out_port[t.source], name, "s_in", lag_in - self._term_lag(t), self.size(t.source))

    def _shared(self, u: Unit, node, name_g: str, members, lag_in: int, e_out) -> None:
        """A weight-shared synapse process (layers too large for a Sparse matrix; one plane)."""
        Me = members[0][2]
        if not is_selection(Me):
            raise UnsupportedOpError(f"{node.location}: its input is not a plain rearrangement of its producers")
        a = node.attrs
        params = {"op": node.op, "attrs": {k: a[k] for k in ("stride", "padding", "dilation", "groups") if k in a},
                  "weight": np.asarray(self.g.constants[node.inputs[1]]),
                  "in_shape": tuple(self.g.values[node.inputs[0]].shape), "gather": Me.indices.copy(),
                  "out_perm": np.asarray(e_out), "n_in": Me.shape[1]}
        if self.mode == "fixed":
            params["weight_exp"] = int(node.attrs["fixed_exp"])
        name = f"shared:{u.name}{name_g}"
        self.add(ProcSpec(name, "shared", u.name, lag_in + 1, params))
        self.sparse_of[u.name].append(name)
        for ti, t, _ in members:
            self.connect(self.out_port[t.source], name, "s_in", lag_in - self._term_lag(t), self.size(t.source))

    def _current_sources(self, unit: str) -> list[tuple[str, str]]:
        if self.net.units[unit].kind == "synapse":
            return [(s, "a_out") for s in self.sparse_of[unit]]
        return [self.out_port[unit]]

    def _unit_neuron(self, u: Unit) -> None:
        node = self.g.node(u.node)
        n = self.size(u.name)
        e_n = self.em(u.name)
        bias = np.zeros(n)
        inputs = []  # (list of (proc, port), lag, size)
        for ti, t in enumerate(u.ports[0].terms):
            if not t.source:
                bias += constant_vector(self.g, t)
                continue
            src = self.net.units[t.source]
            M = self.tm(u, 0, ti)
            if src.kind == "synapse":
                bias += M @ synapse_bias(self.g, self.g.node(src.node))
                Me = M[e_n][:, self.em(t.source)]
                if Me.shape[0] == Me.shape[1] and is_permutation(Me) and np.array_equal(Me.indices, np.arange(n)):
                    inputs.append((self._current_sources(t.source), self.lag[t.source]))
                else:  # a dedicated copy of the synapse with the rows this neuron needs
                    inputs.append(self._dedicated_copy(u, ti, M[e_n]))
            elif src.kind == "attention":
                Me = M[e_n][:, self.em(t.source)]
                if not (is_permutation(Me) and np.array_equal(Me.indices, np.arange(n))):
                    raise UnsupportedOpError(f"{node.location}: the attention output reaches it through a "
                                             f"non-trivial map")
                inputs.append((self._current_sources(t.source), self.lag[t.source]))
            else:  # spikes straight into a neuron: a unit-weight synapse
                W = (M[e_n][:, self.em(t.source)]).tocsr()
                name = f"sparse:{u.name}:from:{t.source}"
                params = {"weights": W, "num_message_bits": GRADED_BITS}
                if self.mode == "fixed" and is_current_pool(self.net.units, t.source):  # integer currents: M
                    Wq, e = exact_weights(W)
                    params.update(weights=Wq, weight_exp=e, num_weight_bits=8)
                elif self.mode == "fixed":  # weight M·K/64, exact (loihi.fixed._scale_spike_terms)
                    Wq, e = exact_weights(W * spike_term_gain(self.g, t, u.node))
                    params.update(weights=Wq, weight_exp=e, num_weight_bits=8)
                self.add(ProcSpec(name, "sparse", u.name, self.lag[t.source] + 1, params))
                self.connect(self.out_port[t.source], name, "s_in", 0, self.size(t.source))
                inputs.append(([(name, "a_out")], self.lag[t.source] + 1))
        lag = max(l for _, l in inputs)
        self.lag[u.name] = lag
        params = {"n": n, "attrs": {k: v for k, v in node.attrs.items() if k != "fixed"}, "bias": bias[e_n]}
        if self.mode == "fixed":
            fx = fixed_lif(self.g, node)
            b = np.asarray(fx["bias"], dtype=np.int64).reshape(-1)
            fx["bias"] = b[e_n] if b.size == n else b
            if np.ndim(fx.get("vth", 0)):  # one threshold per neuron: in emission order
                fx["vth"] = np.asarray(fx["vth"], dtype=np.int64).reshape(-1)[e_n]
            params["fixed"] = fx
        if u.graded:  # an I-LIF population emitting graded spikes 0..D (procs/neuron/graded.py)
            params.update(max_spike=u.max_spike, op=node.op)
        p = self.add(ProcSpec(f"neuron:{u.name}", "graded" if u.graded else "neuron", u.name, lag, params))
        for srcs, l in inputs:
            for s in srcs:
                self.connect(s, p.name, "a_in", lag - l, n)
        self.out_port[u.name] = (p.name, "s_out")

    def _dedicated_copy(self, u: Unit, ti: int, Mrows: sp.csr_matrix):
        t = u.ports[0].terms[ti]
        src = self.net.units[t.source]
        procs = []
        for si, sname in enumerate(self.sparse_of[t.source]):
            base = self.procs[sname]
            if base.type != "sparse":
                raise UnsupportedOpError(f"{u.name}: a weight-shared synapse feeding neurons in two orders")
            # rows of the base are the synapse's emission order; map back to natural, then select
            W_nat = base.params["weights"][self.inv(t.source)]  # rows back in natural order
            W = (Mrows @ W_nat).tocsr()
            name = f"{sname}:for:{u.name}"
            params = dict(base.params, weights=W)
            if self.mode == "fixed":
                if not np.all(np.mod(W.data, 1) == 0):  # the quantiser separates such maps (loihi.mapped)
                    raise UnsupportedOpError(f"{u.name}: its copy of {src.module or src.name}'s synapses has "
                                             f"non-integer weights in fixed point")
                params["weights"] = sp.csr_matrix((W.data.astype(np.int32), W.indices, W.indptr), shape=W.shape)
            self.add(ProcSpec(name, "sparse", src.name, base.lag, params))
            for c in [c for c in self.conns if c.dst == sname]:
                self.conns.append(Conn(c.src, c.src_port, name, "s_in"))
            procs.append((name, "a_out"))
        return procs, self.lag[t.source]

    def _single_spike_term(self, u: Unit, pi: int) -> tuple[Term, sp.csr_matrix]:
        p = u.ports[pi]
        terms = [t for t in p.terms if t.source]
        if len(terms) != 1 or len(p.terms) != 1:
            raise UnsupportedOpError(f"{u.name}: input {p.name} must come from one spiking population")
        t = p.terms[0]
        if self.net.units[t.source].kind not in ("neuron", "pool", "product", "input"):
            raise UnsupportedOpError(f"{u.name}: input {p.name} is not a spike train")
        src = self.net.units[t.source]
        if src.graded:
            raise UnsupportedOpError(f"{u.name}: input {p.name} carries graded spikes (0..{src.max_spike}); "
                                     f"max-pooling and spike matmuls take binary spikes only")
        M = self.tm(u, pi, 0)
        if not is_selection(M):
            raise UnsupportedOpError(f"{u.name}: input {p.name} is not a plain rearrangement of spikes")
        return t, M

    def _unit_pool(self, u: Unit) -> None:
        node = self.g.node(u.node)
        if [self.net.units[t.source].kind if t.source else "" for t in u.ports[0].terms] == ["synapse"]:
            return self._current_pool(u)
        t, M = self._single_spike_term(u, 0)
        win = pool_windows(self.g, node)  # natural out × k, entries: natural port index
        src_inv = self.inv(t.source)
        mapped = np.where(win >= 0, src_inv[M.indices[np.maximum(win, 0)]], -1)
        e = self.em(u.name)
        lag = self.lag[t.source]
        self.lag[u.name] = lag
        p = self.add(ProcSpec(f"pool:{u.name}", "pool", u.name, lag,
                              {"n_in": self.size(t.source), "windows": mapped[e]}))
        self.connect(self.out_port[t.source], p.name, "s_in", 0)
        self.out_port[u.name] = (p.name, "s_out")

    def _current_pool(self, u: Unit) -> None:
        """Max-pooling of one weight layer's synaptic currents before a neuron (the Spike-driven Transformer's
        and QKFormer's ``LIF(MaxPool(BN(Conv(·))))``), float mode: ``SpikeMaxPool`` takes the maximum of
        ``current + bias`` over each window (the layer's bias added first; padding −∞, as torch's), and its
        neuron reads the pooled current through a unit synapse.  Loihi's dendrites only sum: this assumes a
        programmable neuron.  Fixed mode: the integer max of the layer's bias-free currents, padding below any
        24-bit current (the bias moved past the max to the readers, ``snncompile.loihi.current_pool``); a
        weight layer may read it too (graded messages)."""
        node = self.g.node(u.node)
        t, M = u.ports[0].terms[0], self.tm(u, 0, 0)
        if not is_selection(M):
            raise UnsupportedOpError(f"{node.location}: its input is not a plain rearrangement of one layer's "
                                     f"currents")
        readers = ("neuron", "synapse") if self.mode == "fixed" else ("neuron",)  # fixed: loihi.mapped's layers
        if any(self.net.units[c].kind not in readers for c in u.consumers):  # others would take them for spikes
            raise UnsupportedOpError(f"{node.location}: max-pooled synaptic currents must feed neurons only")
        win = pool_windows(self.g, node)
        mapped = np.where(win >= 0, self.inv(t.source)[M.indices[np.maximum(win, 0)]], -1)
        bias = synapse_bias(self.g, self.g.node(self.net.units[t.source].node))[self.em(t.source)]
        pad = -np.inf
        if self.mode == "fixed":  # the quantised layer has no bias; currents stay inside 24 bits
            bias, pad = np.zeros(bias.size, dtype=np.int64), -(2 ** 24)
        lag = self.lag[t.source]
        self.lag[u.name] = lag
        p = self.add(ProcSpec(f"pool:{u.name}", "pool", u.name, lag, {
            "n_in": self.size(t.source), "windows": mapped[self.em(u.name)], "bias": bias, "pad": pad}))
        for s in self._current_sources(t.source):
            self.connect(s, p.name, "s_in")
        self.out_port[u.name] = (p.name, "s_out")

    def _unit_attention(self, u: Unit) -> None:
        terms, gathers, shapes = [], [], []
        for pi in range(3):
            t, M = self._single_spike_term(u, pi)
            terms.append(t)
            gathers.append(self.inv(t.source)[M.indices])
            s = self.g.values[u.ports[pi].value].shape
            shapes.append((int(np.prod(s[:-2])),) + tuple(s[-2:]))
        consumers = [self.net.units[c] for c in u.consumers]
        if len(consumers) != 1 or consumers[0].kind != "neuron":
            raise UnsupportedOpError(f"{u.name}: the spike matmul must feed exactly one neuron population")
        cons = consumers[0]
        ti = next(i for i, t in enumerate(cons.ports[0].terms) if t.source == u.name)
        M = self.tm(cons, 0, ti)[self.em(cons.name)]
        vals = np.unique(M.data)
        if not (np.all(np.diff(M.indptr) == 1) and vals.size == 1 and vals[0] > 0 and M.shape[0] == M.shape[1]):
            raise UnsupportedOpError(f"{u.name}: its output reaches {cons.name} through a non-trivial map")
        gout = M.indices.copy()
        self.emission[u.name] = gout
        self.M[(cons.name, 0, ti)] = sp.csr_matrix(self.tm(cons, 0, ti) / vals[0])
        lag = max(self.lag[t.source] for t in terms)
        self.lag[u.name] = lag
        p = self.add(ProcSpec(f"attention:{u.name}", "attention", u.name, lag, {
            "n_a": self.size(terms[0].source), "n_b": self.size(terms[1].source), "n_c": self.size(terms[2].source),
            "ga": gathers[0], "gb": gathers[1], "gc": gathers[2], "shape_a": shapes[0], "shape_b": shapes[1],
            "shape_c": shapes[2], "order": u.attrs["order"], "gout": gout,
            "mult": int(self.g.node(u.node).attrs["fixed_mult"]) if self.mode == "fixed" else float(vals[0])}))
        for port, t in zip("abc", terms):
            self.connect(self.out_port[t.source], p.name, port, lag - self.lag[t.source], self.size(t.source))
        self.out_port[u.name] = (p.name, "out")

    def _unit_product(self, u: Unit) -> None:
        """A coincidence population: ``LIFStep`` with the registers of ``snncompile.loihi.coincidence``, its
        current the sum of both operands broadcast onto the output — one unit-weight ``Sparse`` per operand
        population (rows: this unit's emission order; columns: the source's), constants as the bias."""
        node = self.g.node(u.node)
        n = self.size(u.name)
        e = self.em(u.name)
        bias = np.zeros(n)
        weights: dict[str, sp.csr_matrix] = {}  # source unit -> its synapses (both operands summed)
        for pi, p in enumerate(u.ports):
            B = coincidence.operand_map(self.g, node, p.value)
            for ti, t in enumerate(p.terms):
                if not t.source:
                    bias += B @ constant_vector(self.g, t)
                    continue
                if self.net.units[t.source].kind not in ("input", "neuron", "pool", "product"):
                    raise UnsupportedOpError(f"{node.location}: operand {p.name} of the product is a synaptic "
                                             f"current, not spikes: it needs a neuron before the product")
                W = (B @ self.tm(u, pi, ti)).tocsr()[e][:, self.em(t.source)]
                weights[t.source] = W if t.source not in weights else weights[t.source] + W
        lag_in = max(self.lag[s] for s in weights)
        lag = lag_in + 1
        self.lag[u.name] = lag
        params = {"n": n, "attrs": coincidence.float_attrs(), "bias": bias[e]}
        if self.mode == "fixed":
            try:
                params["fixed"] = coincidence.fixed_registers(bias[e])
            except UnsupportedOpError as err:
                raise UnsupportedOpError(f"{node.location}: {err}") from None
        p = self.add(ProcSpec(f"neuron:{u.name}", "neuron", u.name, lag, params))
        for src, W in weights.items():
            binary = self.net.units[src].kind != "input"
            sparse = {"weights": W.tocsr(), "num_message_bits": 0 if binary else GRADED_BITS}
            if self.mode == "fixed":
                if not binary:
                    raise UnsupportedOpError(f"{node.location}: a product operand reads the graph input, which "
                                             f"fixed point sends scaled by the input scale: not supported (float "
                                             f"mode lowers it; put a neuron between the input and the product)")
                try:
                    Wq, exp = coincidence.fixed_weights(W)
                except UnsupportedOpError as err:
                    raise UnsupportedOpError(f"{node.location}: {err}") from None
                sparse.update(weights=Wq, weight_exp=exp, num_weight_bits=8)
            name = f"sparse:{u.name}:from:{src}"
            self.add(ProcSpec(name, "sparse", u.name, lag, sparse))
            self.connect(self.out_port[src], name, "s_in", lag_in - self.lag[src], self.size(src))
            self.connect((name, "a_out"), p.name, "a_in")
        self.out_port[u.name] = (p.name, "s_out")

    def _unit_readout(self, u: Unit) -> None:
        value = u.ports[0].value
        c = np.zeros(numel(self.g, value))
        groups: dict[tuple, list] = {}
        lags = []
        for ti, t in enumerate(u.ports[0].terms):
            if not t.source:
                c += constant_vector(self.g, t)
                continue
            src = self.net.units[t.source]
            M = self.tm(u, 0, ti)
            if src.kind == "synapse":
                c += M @ synapse_bias(self.g, self.g.node(src.node))
            Me = M[:, self.em(t.source)].tocsr()
            groups.setdefault(fingerprint(Me), []).append((t, Me))
            lags.append(self.lag[t.source])
        lag = max(lags)
        procs = []
        for gi, members in enumerate(groups.values()):
            name = f"readout:{value}" + (f":{gi}" if len(groups) > 1 else "")
            G = members[0][1]
            params = {"n_in": G.shape[1], "G": G, "c": c if gi == 0 else None}
            if self.mode == "fixed":
                ro = self.g.meta["fixed"]["readouts"][value]
                params["scale"] = float(ro["scale"]) if np.ndim(ro["scale"]) == 0 else np.asarray(ro["scale"], float)
                params["c"] = np.asarray(ro["c"], dtype=np.float64) if gi == 0 else None
            self.add(ProcSpec(name, "readout", u.name, lag, params))
            for t, _ in members:
                for s in self._source_ports(t.source):
                    self.connect(s, name, "a_in", lag - self.lag[t.source], self.size(t.source))
            procs.append(name)
        self.readouts[value] = procs

    def _source_ports(self, unit: str) -> list[tuple[str, str]]:
        if self.net.units[unit].kind == "synapse":
            return self._current_sources(unit)
        return [self.out_port[unit]]


def make_plan(net: Network, T: int, mode: str = "float", *, shared_above: int = 4_000_000) -> LavaPlan:
    """The Lava plan of ``net``.  Weight layers with more than ``shared_above`` synapses (structural) use the
    weight-shared ``SharedSynapse`` process instead of lava-nc's ``Sparse``."""
    b = _Builder(net, mode, T, shared_above)
    b.readouts = {}
    b.build()
    sizes = {u: numel(net.graph, net.units[u].output) for u in net.order if net.units[u].output}
    emission = {u: b.em(u) for u in sizes}
    inputs = {u.name: f"source:{u.name}" for u in net.of_kind("input")}
    return LavaPlan(mode, T, b.procs, b.conns, emission, sizes, inputs, b.readouts, b.sparse_of,
                    max(p.lag for p in b.procs.values()))
