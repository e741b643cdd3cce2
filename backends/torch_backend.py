from hal.backend import Backend


class TorchBackend(Backend):
    name = "torch_backend"
    family = "snn"
    requires = ("torch",)
