from hal.backend import Backend


class CpuReferenceBackend(Backend):
    name = "cpu_reference"
    family = "snn"
    requires = ("numpy",)
