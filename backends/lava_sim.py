from hal.backend import Backend


class LavaSimBackend(Backend):
    name = "lava_sim"
    family = "snn"
    requires = ("lava",)
