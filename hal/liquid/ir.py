"""Liquid (continuous-time) networks as data: CfC layers with ncps semantics.

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
    def state_size(self) -> int:
        return sum(layer.hidden for layer in self.layers)

    @property
    def n_out(self) -> int:
        return self.layers[-1].hidden if self.readout is None else self.readout[0].shape[0]
