"""Triple modular redundancy as a lowering transform, so every target runs it.

Each chosen population ``P`` becomes three replicas ``P~r0``, ``P~r1``, ``P~r2`` (copies
of ``P`` with copies of its input connections) and a voter that keeps the name ``P``, so
outputs, recorded populations and downstream connections are unchanged. The voter has one
neuron per neuron of ``P`` and an identity connection from each replica; it spikes when at
least two replicas spike on the same step:

- fixed point: weight mantissa 1, exponent 0, du = dv = 2**decay_bits - 1 (u and v forget
  the previous step), vth = 1: v = 64 k after k replica spikes (align_bits = 6), and v >
  vth << 6 = 64 exactly when k >= 2.
- float: weight 1, du = dv = 1, vth = 1.5.

Each voter adds one step of delay (one more Dense). Voters are the single points of
failure of TMR and are assumed hardened: neuron faults skip them unless the plan sets
``hit_voters=1``. Non-spiking populations (LI readouts) cannot be voted and are left as
they are.

Example:
    >>> import hal
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 5, 2, seed=1), target="cpu", tmr=True)
    >>> sorted(exe.net.populations)[:4], exe.faults.tmr["neurons"]
    (['lif1', 'lif1~r0', 'lif1~r1', 'lif1~r2'], {'before': 7, 'after': 28})
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.sparse as sp

from hal.compilers.snn import Connection, Lowered, Population, _depths
from hal.errors import ValidationError


def choose(net: Lowered, tmr: Any) -> list[str]:
    """The populations ``tmr`` names: True/"default" = every spiking population (hidden and
    output), or a list/comma string of names."""
    if tmr is True or tmr == "default":
        return [n for n, p in net.populations.items() if p.spiking]
    names = [s.strip() for s in tmr.split(",")] if isinstance(tmr, str) else list(tmr)
    for n in names:
        if n not in net.populations:
            raise ValidationError(f"tmr: no population '{n}'; choose from "
                                  f"{', '.join(net.populations)}")
        if not net.populations[n].spiking:
            raise ValidationError(f"tmr: '{n}' does not spike, so it cannot be voted")
    return names


def _identity(n: int, like: Any, value: float | int) -> Any:
    if sp.issparse(like):
        return (sp.identity(n, format="csr") * value).astype(type(value))
    return np.eye(n, dtype=type(value)) * value


def triplicate(net: Lowered, tmr: Any = True) -> dict[str, Any]:
    """Apply TMR to ``net`` in place; return the voters and the neuron/synapse counts."""
    names = choose(net, tmr)
    fixed = net.quantization is not None
    before = _counts(net)
    pops: dict[str, Population] = {}
    conns = [c for c in net.connections if c.target not in names]
    for name, p in net.populations.items():
        if name not in names:
            pops[name] = p
            continue
        for r in range(3):
            rep = f"{name}~r{r}"
            pops[rep] = copy.deepcopy(p)
            pops[rep].name = rep
            for c in net.connections:
                if c.target == name:
                    conns.append(Connection(c.source, rep, copy.deepcopy(c.weight),
                                            copy.deepcopy(c.mant), c.exp, c.delay))
            like = net.connections[0].weight if net.connections else np.zeros(0)
            conns.append(Connection(rep, name, _identity(p.size, like, 1.0),
                                    _identity(p.size, like, 1) if fixed else None, 0, 0))
        pops[name] = _voter(p, net)
    net.populations, net.connections = pops, conns
    net.depth = _depths(net)
    return {"populations": names, "voters": names, "neurons": {
        "before": before[0], "after": net.num_neurons}, "synapses": {
        "before": before[1], "after": _counts(net)[1]}}


def _voter(p: Population, net: Lowered) -> Population:
    n = p.size
    v = Population(p.name, n, np.ones(n), np.ones(n), np.full(n, 1.5), np.zeros(n),
                   spiking=True, shape=p.shape)
    if net.quantization is not None:
        top = 2 ** int(net.quantization["format"]["decay_bits"]) - 1
        v.fixed = {"du": np.full(n, top), "dv": np.full(n, top), "vth": np.ones(n, int),
                   "bias_mant": np.zeros(n, int), "bias_exp": np.zeros(n, int)}
    return v


def _counts(net: Lowered) -> tuple[int, int]:
    syn = 0
    for c in net.connections:
        m = c.mant if c.mant is not None else c.weight
        syn += int(m.count_nonzero() if sp.issparse(m) else np.count_nonzero(m))
    return net.num_neurons, syn
