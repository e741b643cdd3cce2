"""``hal.from_torch``: read an ncps ``CfC`` (plain or wired) or ``LTC``, or hal's own
``MultiTimescale`` module, into hal's liquid IR."""

from __future__ import annotations

from typing import Any

import numpy as np

from hal.errors import CompileError
from hal.liquid.ir import CfCLayer, CfCNet, LiquidNet, LTCNet, MultiTimescaleNet


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


def _affine(linear: Any) -> tuple[np.ndarray, np.ndarray]:
    return _np(linear.weight), _np(linear.bias)


def _activation(cell: Any) -> str:
    if cell.backbone is None:
        return "lecun_tanh"
    kind = type(cell.backbone[1]).__name__
    return {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu",
            "GELU": "gelu"}[kind]


def _layer(cell: Any) -> CfCLayer:
    backbone = [] if cell.backbone is None else \
        [_affine(m) for m in cell.backbone if type(m).__name__ == "Linear"]
    mask = None if cell.sparsity_mask is None else _np(cell.sparsity_mask)
    common = {"mode": cell.mode, "n_in": cell.input_size, "hidden": cell.hidden_size,
              "ff1": _affine(cell.ff1), "backbone": backbone, "activation": _activation(cell),
              "mask": mask}
    if cell.mode == "pure":
        return CfCLayer(**common, w_tau=_np(cell.w_tau).reshape(-1), A=_np(cell.A).reshape(-1))
    return CfCLayer(**common, ff2=_affine(cell.ff2), time_a=_affine(cell.time_a),
                    time_b=_affine(cell.time_b))


def _ltc(module: Any) -> LTCNet:
    cell = module.rnn_cell
    params = {k: _np(v) for k, v in cell._params.items()}
    n_in = params["sensory_w"].shape[0]
    for key, default in (("input_w", np.ones(n_in)), ("input_b", np.zeros(n_in)),
                         ("output_w", np.ones(cell.motor_size)),
                         ("output_b", np.zeros(cell.motor_size))):
        params.setdefault(key, default)
    return LTCNet(n_in, cell.state_size, cell.motor_size, params, cell._ode_unfolds,
                  float(cell._epsilon), bool(cell._implicit_param_constraints),
                  cell._input_mapping, cell._output_mapping)


def _multi_timescale(module: Any) -> MultiTimescaleNet:
    readout = None if type(module.fc).__name__ == "Identity" else _affine(module.fc)
    w_rec = None if module.recurrent is None else _np(module.recurrent.weight)
    return MultiTimescaleNet(module.input_size, module.units, _np(module.bands),
                             module.band.cpu().numpy(), module.dt, *_affine(module.input_map),
                             w_rec, readout)


def from_torch(module: Any) -> LiquidNet:
    """Convert an ``ncps.torch.CfC`` or ``LTC`` (with or without a wiring), or a
    :class:`hal.liquid.torch_modules.MultiTimescale`, to hal's liquid IR.

    Raises:
        CompileError: for modules or options hal cannot represent (named in the message).
    """
    kind = type(module).__name__
    if kind == "MultiTimescale" and type(module).__module__.startswith("hal."):
        return _multi_timescale(module)
    if kind not in ("CfC", "LTC"):
        raise CompileError(f"from_torch: a {kind} is not supported; hal reads ncps.torch.CfC "
                           "and ncps.torch.LTC (plain or wired) and "
                           "hal.liquid.torch_modules.MultiTimescale")
    if getattr(module, "use_mixed", False):
        raise CompileError(f"from_torch: {kind}(mixed_memory=True) adds an LSTM, which hal "
                           f"does not lower; build the {kind} without mixed memory")
    if not module.batch_first:
        raise CompileError(f"from_torch: build the {kind} with batch_first=True")
    if kind == "LTC":
        return _ltc(module)
    cell = module.rnn_cell
    cells = list(cell._layers) if type(cell).__name__ == "WiredCfCCell" else [cell]
    readout = None if type(module.fc).__name__ == "Identity" else _affine(module.fc)
    return CfCNet(cells[0].input_size, [_layer(c) for c in cells], readout, name="cfc")
