"""Train a small spiking classifier on scikit-learn's 8x8 digits and export it as NIR.

    .venv/bin/python examples/train_digits.py     # about a minute on 2 CPU cores

Network: 64 inputs (rate-coded pixels) -> Affine -> LIF(64) -> Affine -> LIF(10), read out
by spike count. It trains with surrogate gradients in plain torch on *exactly* the
discrete-time equations hal lowers NIR to (``hal.compilers.snn``, forward Euler in Lava's
form, with ``k = dt / tau``, ``r = 1``, ``v_leak = 0``, ``v_reset = 0``):

    v1[t] = (1 - k) v1[t-1] + k (W1 x[t-1] + b1);   s1[t] = v1[t] > 1, then v1 = 0
    v2[t] = (1 - k) v2[t-1] + k (W2 s1[t-1] + b2);  s2[t] = v2[t] > 1, then v2 = 0

(every connection delivers one step late, as Lava's Dense does), so the float model *is*
what ``cpu-float`` runs: the script checks that its spike counts on the test split equal
``cpu-float``'s. ``k = 1/8`` is exact in Loihi's 12-bit decay, so fixed point differs from
float only by weight and bias rounding.

Writes ``examples/models/digits_snn.nir`` and ``examples/data/digits_test.npz`` (the 360
held-out digits, ``x`` in [0, 1], ``y`` labels), both committed; CI runs inference only.
"""

from __future__ import annotations

import time
from pathlib import Path

import nir
import numpy as np

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "digits_snn.nir"
DATA = HERE / "data" / "digits_test.npz"
DT = 1e-4          # hal's default step (s)
K = 1 / 8          # dt / tau: exact in 12-bit decay
TAU = DT / K
HIDDEN, STEPS, SEED = 64, 32, 0


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1]; 360 stratified test digits (seeded)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float64)
    return train_test_split(x, d.target, test_size=360, random_state=SEED, stratify=d.target)


def forward(params, x_spikes, torch, k: float = K):
    """The hal discretisation in torch: x_spikes (B, T, 64) -> output spikes (B, T, 10).

    Sums are ordered as hal's cpu-float does them (``v (1 - k) + u + bias``)."""
    w1, b1, w2, b2 = params
    B, T, _ = x_spikes.shape
    dtype = x_spikes.dtype
    v1 = torch.zeros(B, w1.shape[0], dtype=dtype)
    v2 = torch.zeros(B, w2.shape[0], dtype=dtype)
    a1 = torch.zeros_like(v1)  # input delivered this step (sent last step)
    a2 = torch.zeros_like(v2)
    out = []
    for t in range(T):
        v1 = v1 * (1 - k) + k * a1 + k * b1
        s1 = spike(v1 - 1.0)
        v1 = v1 * (1 - s1.detach())
        v2 = v2 * (1 - k) + k * a2 + k * b2
        s2 = spike(v2 - 1.0)
        v2 = v2 * (1 - s2.detach())
        a1 = x_spikes[:, t] @ w1.T
        a2 = s1 @ w2.T
        out.append(s2)
    return torch.stack(out, dim=1)


def _surrogate(torch):
    class Spike(torch.autograd.Function):
        """Heaviside forward, fast-sigmoid derivative backward (Zenke & Ganguli 2018)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / (1 + 10 * x.abs()) ** 2

    return Spike.apply


spike = None


def train(x_tr: np.ndarray, y_tr: np.ndarray, epochs: int = 40, batch: int = 128):
    import torch

    global spike
    spike = _surrogate(torch)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(SEED)
    w1 = (torch.randn(HIDDEN, 64, generator=g) * 0.5).requires_grad_()
    b1 = torch.zeros(HIDDEN, requires_grad=True)
    w2 = (torch.randn(10, HIDDEN, generator=g) * 0.5).requires_grad_()
    b2 = torch.zeros(10, requires_grad=True)
    params = [w1, b1, w2, b2]
    opt = torch.optim.Adam(params, lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    x_t, y_t = torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y_tr)
    for epoch in range(epochs):
        perm = torch.randperm(len(x_t), generator=g)
        correct = 0
        for i in range(0, len(x_t), batch):
            idx = perm[i:i + batch]
            xs = (torch.rand(len(idx), STEPS, 64, generator=g) < x_t[idx, None]).float()
            counts = forward(params, xs, torch).sum(dim=1)
            loss = torch.nn.functional.cross_entropy(counts, y_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((counts.argmax(1) == y_t[idx]).sum())
        sched.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, train acc "
                  f"{correct / len(x_t):.3f}", flush=True)
    return [p.detach().double().numpy() for p in params]


def to_nir(w1, b1, w2, b2) -> nir.NIRGraph:
    """The trained net as NIR: Affine + LIF layers, tau = dt / k, r = 1, threshold 1."""
    def lif(n: int) -> nir.LIF:
        return nir.LIF(tau=np.full(n, TAU, np.float32), r=np.ones(n, np.float32),
                       v_leak=np.zeros(n, np.float32), v_threshold=np.ones(n, np.float32),
                       v_reset=np.zeros(n, np.float32))

    f32 = np.float32
    nodes = {"input": nir.Input(input_type=np.array([64])),
             "fc1": nir.Affine(weight=w1.astype(f32), bias=b1.astype(f32)),
             "lif1": lif(HIDDEN),
             "fc2": nir.Affine(weight=w2.astype(f32), bias=b2.astype(f32)),
             "lif2": lif(10),
             "output": nir.Output(output_type=np.array([10]))}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def main() -> None:
    import torch

    t0 = time.perf_counter()
    x_tr, x_te, y_tr, y_te = split()
    params = train(x_tr, y_tr)
    graph = to_nir(*params)
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(MODEL), graph)
    np.savez_compressed(DATA, x=x_te.astype(np.float32), y=y_te.astype(np.int64))
    print(f"trained in {time.perf_counter() - t0:.0f} s; wrote {MODEL} and {DATA}")

    # the float model equals cpu-float: same encoded spikes, same counts
    import hal
    from hal.snn.encode import encode

    x_te = np.load(DATA)["x"].astype(np.float64)  # what users load
    xs = encode("rate", x_te, steps=STEPS, seed=0)
    w32 = [p.astype(np.float32).astype(np.float64) for p in params]  # as stored in NIR
    k_nir = DT / float(np.float32(TAU))  # the k hal derives from the float32 tau in the file
    counts_torch = forward([torch.tensor(p) for p in w32], torch.tensor(xs), torch,
                           k_nir).sum(1)
    res = hal.compile(hal.load(MODEL), target="cpu-float").run(xs)
    counts_hal = res.spikes["lif2"].sum(axis=1)
    same = np.array_equal(counts_torch.numpy().astype(int), counts_hal)
    print(f"torch float64 model == cpu-float spike counts on {len(x_te)} test digits: {same}")
    for target in ("cpu-float", "cpu"):
        r = hal.compile(hal.load(MODEL), target=target).run(xs)
        acc = float((r.spikes["lif2"].sum(axis=1).argmax(1) == y_te).mean())
        print(f"test accuracy on {target}: {acc:.4f}")


if __name__ == "__main__":
    main()
