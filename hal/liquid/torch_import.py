"""``hal.from_torch``: read an ncps ``CfC`` (plain or wired) into a :class:`CfCNet`."""

from __future__ import annotations

from typing import Any

import numpy as np

from hal.errors import CompileError
from hal.liquid.ir import CfCLayer, CfCNet


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


def from_torch(module: Any) -> CfCNet:
    """Convert an ``ncps.torch.CfC`` (with or without a wiring) to hal's liquid IR.

    Raises:
        CompileError: for modules or options hal cannot represent (named in the message).
    """
    kind = type(module).__name__
    if kind != "CfC":
        raise CompileError(f"from_torch: a {kind} is not supported; hal reads ncps.torch.CfC "
                           "(plain or wired)")
    if getattr(module, "use_mixed", False):
        raise CompileError("from_torch: CfC(mixed_memory=True) adds an LSTM, which hal does "
                           "not lower; build the CfC without mixed memory")
    if not module.batch_first:
        raise CompileError("from_torch: build the CfC with batch_first=True")
    cell = module.rnn_cell
    cells = list(cell._layers) if type(cell).__name__ == "WiredCfCCell" else [cell]
    readout = None if type(module.fc).__name__ == "Identity" else _affine(module.fc)
    return CfCNet(cells[0].input_size, [_layer(c) for c in cells], readout, name="cfc")
