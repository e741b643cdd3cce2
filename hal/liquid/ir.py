"""Liquid (continuous-time) networks as data: CfC layers with ncps semantics, ncps LTC,
and a multi-timescale liquid layer (:class:`MultiTimescaleNet`).

A ``CfCNet`` is a chain of ``CfCLayer``s (one for a plain ncps ``CfC``, one per wiring
layer for a wired one) and an optional linear readout. One step with input ``u``,
per-layer state ``h`` and elapsed time ``ts`` (ncps ``timespans``, default 1.0):

    z  = backbone([u, h])            (Linear + activation, repeated; identity if none)
    f1 = (W1 * M) z + b1             (M: the wiring's sparsity mask, else all ones)
    default:  h' = tanh(f1) (1 - s) + s tanh(f2),   s = sigmoid(ta(z) ts + tb(z))
    no_gate:  h' = tanh(f1) + s tanh(f2)
    pure:     h' = -A exp(-ts (|w_tau| + |f1|)) f1 + A
    f2 = (W2 * M) z + b2;  the next layer's u is this layer's h'; y = readout(h'_last)

Activations: ``lecun_tanh`` 1.7159 tanh(0.666 x), ``tanh``, ``relu``, ``silu``, ``gelu``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hal.errors import ValidationError

MODES = ("default", "pure", "no_gate")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")

Affine = tuple[np.ndarray, np.ndarray]  # (weight (out, in), bias (out,))


@dataclass
class CfCLayer:
    """One ncps ``CfCCell`` (parameters as float64 arrays)."""

    mode: str
    n_in: int
    hidden: int
    ff1: Affine
    ff2: Affine | None = None
    time_a: Affine | None = None
    time_b: Affine | None = None
    w_tau: np.ndarray | None = None  # pure mode
    A: np.ndarray | None = None  # pure mode
    backbone: list[Affine] = field(default_factory=list)
    activation: str = "lecun_tanh"
    mask: np.ndarray | None = None  # (hidden, features) applied to ff1 and ff2

    def validate(self, name: str) -> None:
        """Check modes, shapes and finiteness; errors name the layer and field."""
        if self.mode not in MODES:
            raise ValidationError(f"{name}: mode '{self.mode}' is not one of {MODES}")
        if self.activation not in ACTIVATIONS:
            raise ValidationError(f"{name}: activation '{self.activation}' is not one of "
                                  f"{ACTIVATIONS}")
        width = self.n_in + self.hidden
        for k, (w, b) in enumerate(self.backbone):
            if w.shape[1] != width or b.shape != (w.shape[0],):
                raise ValidationError(f"{name}.backbone[{k}]: weight {w.shape} / bias "
                                      f"{b.shape} do not take {width} features")
            width = w.shape[0]
        needed = ["ff1"] + (["w_tau", "A"] if self.mode == "pure" else
                            ["ff2", "time_a", "time_b"])
        for key in needed:
            value = getattr(self, key)
            if value is None:
                raise ValidationError(f"{name}.{key}: missing (needed in mode '{self.mode}')")
            arrays = value if isinstance(value, tuple) else (value,)
            if isinstance(value, tuple) and (value[0].shape != (self.hidden, width)
                                             or value[1].shape != (self.hidden,)):
                raise ValidationError(f"{name}.{key}: weight {value[0].shape} / bias "
                                      f"{value[1].shape}, expected ({self.hidden}, {width})")
            for a in arrays:
                if not np.isfinite(a).all():
                    raise ValidationError(f"{name}.{key}: contains NaN or infinity")
        if self.mask is not None and self.mask.shape != (self.hidden, width):
            raise ValidationError(f"{name}.mask: shape {self.mask.shape}, expected "
                                  f"({self.hidden}, {width})")


@dataclass
class CfCNet:
    """A CfC network: layers in a chain and an optional linear readout."""

    n_in: int
    layers: list[CfCLayer]
    readout: Affine | None = None
    name: str = "cfc"

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValidationError(f"{self.name}: needs at least one layer")
        n = self.n_in
        for k, layer in enumerate(self.layers):
            if layer.n_in != n:
                raise ValidationError(f"{self.name}.layers[{k}]: takes {layer.n_in} inputs, "
                                      f"the previous stage gives {n}")
            layer.validate(f"{self.name}.layers[{k}]")
            n = layer.hidden
        if self.readout is not None and self.readout[0].shape[1] != n:
            raise ValidationError(f"{self.name}.readout: weight {self.readout[0].shape} "
                                  f"does not take the last layer's {n} units")

    @property
    def state_sizes(self) -> list[int]:
        """Size of each state vector a stepper keeps (one per layer)."""
        return [layer.hidden for layer in self.layers]

    @property
    def n_out(self) -> int:
        return self.layers[-1].hidden if self.readout is None else self.readout[0].shape[0]


@dataclass
class LTCNet:
    """An ncps ``LTC`` (liquid time-constant) network. One step with input ``u``, state
    ``v`` (all ``units`` neurons) and elapsed time ``ts``, ``p(.)`` = softplus when
    ``implicit_constraints`` else identity, ``sig(x, mu, s) = sigmoid(s (x - mu))``:

        u  = u * input_w + input_b                            (input mapping)
        ws = p(sensory_w) sig(u_i, sensory_mu, sensory_sigma) * sensory_mask   (i -> j)
        cm_t = p(cm) / (ts / ode_unfolds)
        repeat ode_unfolds times (semi-implicit Euler):
            w  = p(w) sig(v_i, mu, sigma) * mask                               (i -> j)
            v  = (cm_t v + p(gleak) vleak + sum_i w erev + sum_i ws sensory_erev)
                 / (cm_t + p(gleak) + sum_i w + sum_i ws + epsilon)
        y = v[:motor] * output_w + output_b                   (output mapping)
    """

    n_in: int
    units: int
    motor: int
    params: dict[str, np.ndarray]
    ode_unfolds: int = 6
    epsilon: float = 1e-8
    implicit_constraints: bool = False
    input_mapping: str = "affine"
    output_mapping: str = "affine"
    name: str = "ltc"

    def __post_init__(self) -> None:
        shapes = {"gleak": (self.units,), "vleak": (self.units,), "cm": (self.units,),
                  "sigma": (self.units, self.units), "mu": (self.units, self.units),
                  "w": (self.units, self.units), "erev": (self.units, self.units),
                  "sparsity_mask": (self.units, self.units),
                  "sensory_sigma": (self.n_in, self.units), "sensory_mu": (self.n_in, self.units),
                  "sensory_w": (self.n_in, self.units), "sensory_erev": (self.n_in, self.units),
                  "sensory_sparsity_mask": (self.n_in, self.units)}
        for key, shape in shapes.items():
            value = self.params.get(key)
            if value is None or value.shape != shape:
                raise ValidationError(f"{self.name}.{key}: expected shape {shape}, got "
                                      f"{None if value is None else value.shape}")
            if not np.isfinite(value).all():
                raise ValidationError(f"{self.name}.{key}: contains NaN or infinity")
        if self.ode_unfolds < 1:
            raise ValidationError(f"{self.name}.ode_unfolds: must be >= 1")

    @property
    def n_out(self) -> int:
        return self.motor

    @property
    def state_sizes(self) -> list[int]:
        return [self.units]


@dataclass
class MultiTimescaleNet:
    """A layer of leaky liquid neurons whose time constants come from a bank of bands
    (e.g. 0.01, 0.1, 1 and 10 s), one band per neuron, with the closed-form update of a
    linear ODE held constant over the step. With state ``x``, input ``u``, step length
    ``dt`` seconds and elapsed time ``ts`` (in steps, default 1.0):

        tau_i = bands[band[i]],   a_i = exp(-ts dt / tau_i)
        x' = a x + (1 - a) (W_in u + W_rec tanh(x) + b)      (W_rec optional)
        y  = readout(x')                                      (identity if none)

    Without ``w_rec`` each neuron low-passes its drive ``W_in u + b`` exactly (no solver
    error at any dt); fast bands follow the input, slow bands remember it.
    """

    n_in: int
    units: int
    bands: np.ndarray  # (K,) time constants, seconds
    band: np.ndarray  # (units,) int index into bands
    dt: float
    w_in: np.ndarray  # (units, n_in)
    b: np.ndarray  # (units,)
    w_rec: np.ndarray | None = None  # (units, units), acts on tanh(x)
    readout: Affine | None = None
    name: str = "multi-timescale"

    def __post_init__(self) -> None:
        self.bands = np.asarray(self.bands, np.float64).reshape(-1)
        self.band = np.asarray(self.band).reshape(-1)
        n = self.name
        if not self.bands.size or not np.isfinite(self.bands).all() or (self.bands <= 0).any():
            raise ValidationError(f"{n}.bands: time constants must be finite and > 0 seconds, "
                                  f"got {self.bands.tolist()}")
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise ValidationError(f"{n}.dt: must be a step length > 0 seconds, got {self.dt}")
        if self.band.shape != (self.units,) or not np.issubdtype(self.band.dtype, np.integer):
            raise ValidationError(f"{n}.band: expected {self.units} integer band indices, got "
                                  f"shape {self.band.shape} dtype {self.band.dtype}")
        if self.units and (self.band.min() < 0 or self.band.max() >= self.bands.size):
            raise ValidationError(f"{n}.band: indices must lie in 0..{self.bands.size - 1}")
        shapes = {"w_in": (self.units, self.n_in), "b": (self.units,),
                  "w_rec": (self.units, self.units)}
        for key, shape in shapes.items():
            value = getattr(self, key)
            if value is None and key == "w_rec":
                continue
            if value is None or np.shape(value) != shape:
                raise ValidationError(f"{n}.{key}: expected shape {shape}, got "
                                      f"{None if value is None else np.shape(value)}")
            if not np.isfinite(value).all():
                raise ValidationError(f"{n}.{key}: contains NaN or infinity")
        if self.readout is not None and self.readout[0].shape[1] != self.units:
            raise ValidationError(f"{n}.readout: weight {self.readout[0].shape} does not "
                                  f"take the layer's {self.units} units")

    @property
    def tau(self) -> np.ndarray:
        """Each neuron's time constant in seconds."""
        return self.bands[self.band]

    def decay(self, ts: float = 1.0) -> np.ndarray:
        """``exp(-ts dt / tau)`` per neuron: the share of the state kept over one step."""
        return np.exp(-ts * self.dt / self.tau)

    @property
    def n_out(self) -> int:
        return self.units if self.readout is None else self.readout[0].shape[0]

    @property
    def state_sizes(self) -> list[int]:
        return [self.units]


LiquidNet = CfCNet | LTCNet | MultiTimescaleNet


def random_cfc(n_in: int, hidden: int, n_out: int | None = None, seed: int = 0,
               mode: str = "default", backbone: int = 16) -> CfCNet:
    """A seeded random CfC (xavier-like weights) for tests and benchmarks; no torch needed."""
    rng = np.random.default_rng(seed)

    def affine(n_out_: int, n_in_: int) -> Affine:
        bound = np.sqrt(6.0 / (n_in_ + n_out_))
        return rng.uniform(-bound, bound, (n_out_, n_in_)), rng.normal(0, 0.1, n_out_)

    layers = [affine(backbone, n_in + hidden)] if backbone else []
    width = backbone or n_in + hidden
    extra = ({"w_tau": np.zeros(hidden), "A": np.ones(hidden)} if mode == "pure" else
             {"ff2": affine(hidden, width), "time_a": affine(hidden, width),
              "time_b": affine(hidden, width)})
    layer = CfCLayer(mode, n_in, hidden, affine(hidden, width), backbone=layers, **extra)
    readout = affine(n_out, hidden) if n_out else None
    return CfCNet(n_in, [layer], readout, name=f"random-cfc-{seed}")


def random_multi_timescale(n_in: int, units: int, n_out: int | None = None, seed: int = 0,
                           bands: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0),
                           dt: float = 0.01, recurrent: bool = True) -> MultiTimescaleNet:
    """A seeded random multi-timescale layer, neurons spread evenly over ``bands``."""
    rng = np.random.default_rng(seed)
    w_rec = rng.normal(0, 0.9 / np.sqrt(units), (units, units)) if recurrent else None
    readout = (rng.normal(0, 1 / np.sqrt(units), (n_out, units)), np.zeros(n_out)) \
        if n_out else None
    return MultiTimescaleNet(n_in, units, np.asarray(bands), np.arange(units) % len(bands), dt,
                             rng.normal(0, 1 / np.sqrt(n_in), (units, n_in)),
                             rng.normal(0, 0.1, units), w_rec, readout,
                             name=f"random-mts-{seed}")
