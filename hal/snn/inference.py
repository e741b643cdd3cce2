"""Inference on analog data: encode on the host, run, decode, and report accuracy, wall
latency per sample (p50/p95/p99), activity and energy/latency estimates.

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> from hal.snn.inference import predict
    >>> exe = hal.compile(random_network(4, 20, 3, seed=2), target="cpu")
    >>> x = np.random.default_rng(0).random((5, 4))            # 5 samples in [0, 1]
    >>> p = predict(exe, x, encoder="rate", decoder="count", steps=32, seed=0)
    >>> p.labels.shape, sorted(p.latency_ms), p.estimate["estimate"]
    ((5,), ['batch_size', 'mean', 'p50', 'p95', 'p99', 'per_sample'], True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hal.errors import ValidationError
from hal.result import Result
from hal.snn import metrics
from hal.snn.encode import DECODERS, ENCODERS


@dataclass(kw_only=True)
class Prediction(Result):
    """Outputs of :func:`predict` for a batch of samples.

    Attributes:
        labels: class label per sample (B,): the decoder's pick per sample.
        outputs: decoded values per sample and output neuron (B, N).
        output: the population decoded.
        encoder, decoder: their names; ``steps`` and ``seed`` of the encoding.
        accuracy: fraction of labels equal to ``y`` (None without ``y``).
        latency_ms: host wall time per sample (encode share + run + decode): ``p50``,
            ``p95``, ``p99``, ``mean`` and ``per_sample``.
        activity: :func:`hal.snn.metrics.activity` over every sample.
        estimate: :func:`hal.snn.metrics.estimate` per inference on the target.
    """

    labels: np.ndarray
    outputs: np.ndarray
    output: str
    encoder: str | None
    decoder: str
    steps: int
    seed: int
    accuracy: float | None = None
    latency_ms: dict[str, Any] = field(default_factory=dict)
    activity: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)

    def _payload(self) -> dict[str, Any]:
        lat = {k: v for k, v in self.latency_ms.items() if k != "per_sample"}
        return {"samples": int(len(self.labels)), "encoder": self.encoder,
                "decoder": self.decoder, "steps": self.steps, "seed": self.seed,
                "output": self.output, "accuracy": self.accuracy, "latency_ms": lat,
                "labels": self.labels, "activity": self.activity, "estimate": self.estimate}


def encode_inputs(x: Any, encoder: str | Callable | None, steps: int | None, seed: int,
                  options: dict[str, Any] | None = None) -> np.ndarray:
    """``x`` encoded by ``encoder`` (a name in ``hal.encode`` or a function), or as is
    when ``encoder`` is None."""
    if encoder is None:
        return np.asarray(x, dtype=np.float64)
    return ENCODERS.get_fn(encoder)(x, steps, seed=seed, **(options or {}))


def _name(f: str | Callable | None) -> str | None:
    return f if isinstance(f, str) or f is None else getattr(f, "__name__", repr(f))


def predict(exe: Any, x: Any, y: Any = None, *, encoder: str | Callable | None = "rate",
            decoder: str | Callable = "count", steps: int = 32, seed: int = 0,
            encoder_options: dict[str, Any] | None = None,
            decoder_options: dict[str, Any] | None = None, output: str | None = None,
            batch_size: int = 1) -> Prediction:
    """Classify (or decode) a batch of samples with a compiled network.

    Args:
        exe: a spiking :class:`hal.snn.api.Executable`.
        x: analog samples (B, n) for ``rate``/``latency``/``population``, signals
            (B, T, n) for ``delta``, or spikes (B, T, n_in) with ``encoder=None``.
        y: true labels (B,), for ``accuracy``.
        encoder: name in ``hal.encode``, a function ``f(x, steps, seed=..., **opts)``, or
            None (``x`` is the network input already).
        decoder: name in ``hal.decode`` or a function of the output's spikes.
        steps: time steps per sample.
        seed: encoder seed; sample ``b`` uses the stream ``(seed, b)``.
        encoder_options, decoder_options: keyword options of each.
        output: population to decode (default: the graph's first output).
        batch_size: samples per run. 1 (default) measures true per-sample latency;
            larger batches are faster on cpu targets and report the batch time / size.

    Returns:
        a :class:`Prediction`.
    """
    dec = DECODERS.get_fn(decoder)
    out = output or exe.net.outputs[0]
    if out not in exe.net.populations:
        raise ValidationError(f"output '{out}' is not a population; choose from "
                              f"{', '.join(exe.net.populations)}")
    t0 = time.perf_counter()
    if getattr(exe, "faults", None) is not None and encoder is not None:
        x = exe.faults.attack(exe.net, x)
    xs = encode_inputs(x, encoder, steps, seed, encoder_options)
    xs = xs if xs.ndim == 3 else xs[None]
    enc_each = (time.perf_counter() - t0) / len(xs)
    needs_v = getattr(dec, "needs", "spikes") == "v"
    record = ("spikes", "v") if needs_v else ("spikes",)
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1, got {batch_size}")
    spikes: dict[str, list[np.ndarray]] = {p: [] for p in exe.net.populations}
    values, lat, runtime = [], [], {}
    for i in range(0, len(xs), batch_size):
        chunk = xs[i:i + batch_size]
        t1 = time.perf_counter()
        res = exe.run(chunk, steps, seed=seed, record=record)
        data = res.voltage(out) if needs_v else res.spikes[out]
        values.append(np.asarray(dec(data, **(decoder_options or {}))))
        dt = time.perf_counter() - t1
        lat += [1e3 * (enc_each + dt / len(chunk))] * len(chunk)
        for p, s in res.spikes.items():
            spikes[p].append(s)
        for k, v in res.provenance.get("runtime", {}).items():  # e.g. spikes_dropped
            runtime[k] = runtime.get(k, []) + [int(a) for a in np.atleast_1d(v)]
    outputs = np.concatenate(values)
    pick = getattr(dec, "pick", "max")
    labels = outputs.argmin(axis=-1) if pick == "min" else outputs.argmax(axis=-1)
    full = {p: np.concatenate(s) for p, s in spikes.items()}
    counts = metrics.step_counts(exe.net, exe.target, full, xs[:, :steps])
    acc = None
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(labels):
            raise ValidationError(f"y has {len(y)} labels for {len(labels)} samples")
        acc = float((labels == y).mean())
    per = np.asarray(lat)
    latency = {"p50": float(np.percentile(per, 50)), "p95": float(np.percentile(per, 95)),
               "p99": float(np.percentile(per, 99)), "mean": float(per.mean()),
               "per_sample": per, "batch_size": batch_size}
    return Prediction(target=exe.target.name, backend=exe.backend.name,
                      precision=exe.target.precision, labels=labels, outputs=outputs,
                      output=out, encoder=_name(encoder), decoder=_name(decoder) or "",
                      steps=int(steps), seed=int(seed), accuracy=acc, latency_ms=latency,
                      activity=metrics.activity(exe.net, exe.target, full, xs[:, :steps],
                                                counts),
                      estimate=metrics.estimate(exe.net, exe.target, counts),
                      timing={**exe.compile_timing, "predict_s": float(per.sum()) / 1e3},
                      fallbacks=[s.to_dict() for s in exe.skips],
                      provenance={"encoder_options": encoder_options or {},
                                  "decoder_options": decoder_options or {},
                                  "faults": exe.faults.to_dict() if getattr(
                                      exe, "faults", None) is not None else None,
                                  **({"runtime": runtime} if runtime else {})})


def run_metrics(net: Any, target: Any, spikes: dict[str, np.ndarray],
                x: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(activity, estimate)`` of one run, for ``SimResult.activity`` and ``.estimate``."""
    counts = metrics.step_counts(net, target, spikes, x)
    return (metrics.activity(net, target, spikes, x, counts),
            metrics.estimate(net, target, counts))


def check_estimate(graph: Any, target: Any, dt: float = 1e-4, steps: int = 32,
                   rate: float = 0.1, **options: Any) -> dict[str, Any]:
    """An estimate before anything runs: every input and neuron assumed to spike with
    probability ``rate`` per step for ``steps`` steps (``hal check MODEL --target T``)."""
    from hal.snn.api import _compile_options, _prepare
    from hal.target import get_target

    t = get_target(target)
    net = _prepare(graph, t, _compile_options(options), dt)
    est = metrics.estimate(net, t, metrics.assumed_counts(net, t, steps, rate))
    est["assumed"] = {"steps": steps, "spike_probability_per_step": rate}
    return est
