"""Spiking networks: NIR graphs lowered to populations and connections (see
:mod:`hal.snn.api`)."""

from hal.workloads import Workload

WORKLOAD = Workload(
    name="spiking",
    accepts=("nir.ir.graph:NIRGraph",),
    suffixes=(".nir",),
    results=("hal.snn.result:SimResult",),
    compile="hal.snn.api:compile",
    compare="hal.snn.fidelity:compare",
    load="hal.snn.api:load_saved",
)
