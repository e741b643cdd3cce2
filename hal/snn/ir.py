"""The network IR is NIR's own (``nir.NIRGraph`` of ``nir`` node dataclasses), so NIR files
load and save losslessly; this module adds builders for tests and benchmarks.

Node semantics (NIR, continuous time; hal discretises with step ``dt``):
    LIF:      tau dv/dt = (v_leak - v) + r I;  spike when v > v_threshold, v -> v_reset
    CubaLIF:  tau_syn dI/dt = -I + w_in x;  tau_mem dv/dt = (v_leak - v) + r I
    IF:       dv/dt = r I
    Affine:   y = W x + b;  Linear: y = W x
"""

from __future__ import annotations

import nir
import numpy as np


def random_network(n_in: int, n_hidden: int, n_out: int, seed: int = 0, *,
                   recurrent: bool = False, density: float = 1.0, bias: bool = True,
                   tau_spread: float = 0.0) -> nir.NIRGraph:
    """A seeded random LIF network: input -> Affine -> LIF [-> recurrent] -> Affine -> LIF.

    ``tau_spread`` > 0 draws per-neuron time constants (heterogeneous tau).
    """
    rng = np.random.default_rng(seed)

    def weights(n_to: int, n_from: int, scale: float) -> np.ndarray:
        w = rng.normal(0, scale, (n_to, n_from)).astype(np.float32)
        return w * (rng.random(w.shape) < density)

    def lif(n: int) -> nir.LIF:
        tau = 0.002 * (1 + tau_spread * rng.random(n))
        return nir.LIF(tau=tau.astype(np.float32), r=np.ones(n, np.float32),
                       v_leak=np.zeros(n, np.float32),
                       v_threshold=np.full(n, 0.1, np.float32), v_reset=np.zeros(n, np.float32))

    b1 = (rng.normal(0, 0.02, n_hidden) if bias else np.zeros(n_hidden)).astype(np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc1": nir.Affine(weight=weights(n_hidden, n_in, 1.5), bias=b1),
        "lif1": lif(n_hidden),
        "fc2": nir.Linear(weight=weights(n_out, n_hidden, 1.0)),
        "lif2": lif(n_out),
        "output": nir.Output(output_type=np.array([n_out])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    if recurrent:
        nodes["rec"] = nir.Linear(weight=weights(n_hidden, n_hidden, 0.5 / np.sqrt(n_hidden)))
        edges += [("lif1", "rec"), ("rec", "lif1")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def random_suite(steps: int = 40):
    """Twenty seeded networks for conformance checks, 10 to 2000 neurons: feed-forward and
    recurrent, dense and sparse, with and without bias, uniform and heterogeneous tau.

    Yields ``(label, graph, inputs)`` with 0/1 inputs shaped ``(steps, n_in)``.
    """
    cases = [(4, 7 + 10 * i, 3, i % 2 == 1, (1.0, 0.3, 0.05)[i % 3], i % 4 != 3,
              (0.0, 0.5, 1.0)[i % 3]) for i in range(17)]
    cases += [(20, 500, 10, True, 0.1, True, 0.5), (30, 1000, 20, False, 0.2, True, 1.0),
              (50, 1950, 40, True, 0.02, True, 0.3)]
    for i, (ni, nh, no, rec, den, bias, spread) in enumerate(cases):
        g = random_network(ni, nh, no, seed=100 + i, recurrent=rec, density=den, bias=bias,
                           tau_spread=spread)
        x = (np.random.default_rng(i).random((steps, ni)) < 0.3).astype(float)
        label = (f"#{i} {nh + no} neurons, {'recurrent' if rec else 'feed-forward'}, "
                 f"density {den}, {'bias' if bias else 'no bias'}, tau spread {spread}")
        yield label, g, x


def recurrent_network(n: int, n_in: int = 32, *, density: float = 0.1,
                      fan_out: int | None = None, p_in: float = 0.5, tau: float = 0.01,
                      w_in: float = 0.5, w_rec: float = 1.0, seed: int = 0,
                      sparse: bool = False) -> nir.NIRGraph:
    """The throughput benchmark network: ``n_in`` inputs -> Linear -> CubaLIF(``n``), with
    a recurrent Linear (each neuron feeds ``fan_out`` others, default ``density * n``).

    Weights are normal: input ``N(w_in, w_in)`` on a fraction ``p_in`` of input pairs,
    recurrent ``N(0, w_rec / sqrt(fan_out))``; tau_syn = tau_mem = ``tau``, threshold 1.
    With inputs spiking at p = 0.2 and dt = 1 ms about 10% of neurons spike per step.
    ``sparse=True`` keeps both weight matrices as ``scipy.sparse`` CSR in memory (a
    10**5-neuron net with fan-out 100 then takes about 120 MB); hal lowers them as they
    are, but ``nir.write`` needs dense arrays.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    k = max(1, min(n, fan_out if fan_out is not None else round(density * n)))
    cols = np.repeat(np.arange(n), k)  # source neuron of each synapse
    rows = np.concatenate([rng.choice(n, k, replace=False) for _ in range(n)]) if k < n \
        else np.tile(np.arange(n), n)
    vals = rng.normal(0, w_rec / np.sqrt(k), n * k)
    rec = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    mask = rng.random((n, n_in)) < p_in
    win = sp.csr_matrix(np.where(mask, rng.normal(w_in, w_in, (n, n_in)), 0.0))
    if not sparse:
        rec, win = rec.toarray(), win.toarray()
    ones = np.ones(n)
    lif = nir.CubaLIF(tau_syn=tau * ones, tau_mem=tau * ones, r=ones, v_leak=0 * ones,
                      v_threshold=ones, w_in=ones, v_reset=0 * ones)
    nodes = {"input": nir.Input(input_type=np.array([n_in])), "fc": nir.Linear(weight=win),
             "lif": lif, "rec": nir.Linear(weight=rec),
             "output": nir.Output(output_type=np.array([n]))}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=not sparse)
