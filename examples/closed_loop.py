"""Hardware in the loop: a CfC policy drives a pendulum simulated in numpy, one step at a
time, through ``exe.open()`` / ``session.step``. The same (seeded, untrained) policy runs
on every liquid target; the trajectories are compared against cpu-float, and each
session's measured step time is printed against the 50 ms control period (on Lava the
first step also starts the runtime, which is the slowest step). Needs the torch extra
(the policy is an ncps CfC).

Run: .venv/bin/python examples/closed_loop.py
"""

from __future__ import annotations

import numpy as np

import hal

G, LENGTH, MASS, DAMPING, DT, MAX_TORQUE = 9.81, 1.0, 1.0, 0.1, 0.05, 2.0


def pendulum_step(theta: float, omega: float, torque: float) -> tuple[float, float]:
    """Semi-implicit Euler for a damped pendulum (theta = 0 hangs down)."""
    alpha = -G / LENGTH * np.sin(theta) - DAMPING * omega + torque / (MASS * LENGTH**2)
    omega = omega + DT * alpha
    return theta + DT * omega, omega


def make_policy(seed: int = 0):
    """A seeded ncps CfC with 3 observations in and 1 torque out."""
    import torch
    from ncps.torch import CfC
    from ncps.wirings import AutoNCP

    torch.manual_seed(seed)
    return hal.from_torch(CfC(3, AutoNCP(12, 1, seed=seed)))


def rollout(net, target: str, steps: int = 200, latency: dict | None = None,
            **compile_kw) -> np.ndarray:
    """(steps, 3) trajectory: theta, omega, torque, with the policy stepped on ``target``
    (``compile_kw``: e.g. ``faults=...``, ``fault_seed=...``). ``latency``, when given, is
    filled with the session's measured step times against the control period ``DT``."""
    exe = hal.compile(net, target=target, fallback=False, **compile_kw)
    theta, omega, out = np.pi - 0.3, 0.0, []
    with exe.open() as session:
        for _ in range(steps):
            obs = np.array([np.cos(theta), np.sin(theta), omega / 8.0])
            torque = MAX_TORQUE * float(np.tanh(session.step(obs)[0]))
            theta, omega = pendulum_step(theta, omega, torque)
            out.append((theta, omega, torque))
        if latency is not None:
            latency.update(session.latency(deadline_s=DT))
    return np.array(out)


def control_cost(traj: np.ndarray) -> float:
    """Mean per-step cost of a trajectory, as Gymnasium's Pendulum-v1 counts it:
    angle from upright squared + 0.1 omega^2 + 0.001 torque^2."""
    up = (traj[:, 0] - np.pi + np.pi) % (2 * np.pi) - np.pi
    return float(np.mean(up**2 + 0.1 * traj[:, 1] ** 2 + 0.001 * traj[:, 2] ** 2))


def targets() -> list[str]:
    names = ["cpu-float", "torch", "loihi2-sim-float"]
    return [n for n in names if hal.get_backend(hal.get_target(n).backend).availability().ok]


def main() -> dict[str, float]:
    net = make_policy()
    lat: dict[str, dict] = {t: {} for t in targets()}
    runs = {t: rollout(net, t, latency=lat[t]) for t in lat}
    ref = runs["cpu-float"]
    diffs = {t: float(np.abs(r - ref).max()) for t, r in runs.items()}
    for t, d in diffs.items():
        q = lat[t]
        print(f"{t:<18} final theta {runs[t][-1, 0]: .6f}  max |diff| vs cpu-float {d:.2e}"
              f"  step p50 {q['p50_us']:,.0f} us, p99 {q['p99_us']:,.0f} us, max "
              f"{q['max_us'] / 1e3:,.1f} ms: {q['over_deadline']} of {q['count']} over the "
              f"{DT * 1e3:.0f} ms period")
    return diffs


if __name__ == "__main__":
    import importlib.util
    import sys

    if importlib.util.find_spec("ncps") is None or importlib.util.find_spec("torch") is None:
        sys.exit("closed_loop.py needs ncps and torch: pip install 'nq-hal[torch]'")
    main()
