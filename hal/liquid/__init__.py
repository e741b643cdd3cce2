"""Liquid networks: CfC, LTC and multi-timescale nets (see :mod:`hal.liquid.api`)."""

from hal.workloads import Workload

WORKLOAD = Workload(
    name="liquid",
    accepts=("hal.liquid.ir:CfCNet", "hal.liquid.ir:LTCNet", "hal.liquid.ir:MultiTimescaleNet",
             "ncps.torch.cfc:CfC", "ncps.torch.ltc:LTC",
             "hal.liquid.torch_modules:MultiTimescale"),
    results=("hal.liquid.api:LiquidResult",),
    compile="hal.liquid.api:compile",
    compare="hal.liquid.api:compare_liquid",
    load="hal.liquid.api:load_saved",
)
