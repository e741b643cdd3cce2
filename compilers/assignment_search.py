"""Tabu search over assignments, the last step of repairing an allocation answer.

Moves one job to another host per step (the best move not tabu), scoring cost plus
``alpha`` x capacity overload, with ``alpha`` raised while the current assignment is
infeasible and lowered while feasible (strategic oscillation, as in Diaz & Fernandez's
tabu search for the generalised assignment problem). A job may not return to a host it
left within ``tenure`` steps unless that gives the best feasible cost seen. The best
feasible assignment seen is returned. Deterministic under ``seed``.

Example:
    >>> import numpy as np, hal
    >>> p = hal.AllocationProblem.random_gap(3, 9, seed=1)
    >>> x = np.zeros((9, 3), bool); x[:, 0] = True          # all on one host: overloaded
    >>> y = tabu_search(p, x, iterations=200)
    >>> p.evaluate_matrix(y)[1]
    True
"""

from __future__ import annotations

import numpy as np


def tabu_search(problem, x: np.ndarray, iterations: int = 0, tenure: int | None = None,
                seed: int = 0, swap_limit: int = 120) -> np.ndarray:
    """Improve a (J, H) 0/1 assignment, or make an infeasible one feasible (jobs left
    unplaced start on their smallest-demand host); see the module docstring.

    ``iterations`` defaults to 40 x jobs. Swap moves (two jobs exchange hosts) are
    scored too when there are at most ``swap_limit`` jobs (their cost grows as jobs^2).
    Problems with affinity pairs, anti-affinity pairs or host costs are returned
    unchanged (the moves would not respect them).
    """
    if problem.affinity or problem.anti_affinity or problem.host_cost is not None:
        return x
    if (x.sum(axis=1) > 1).any():
        return x
    start = x
    x = x.copy()
    for j in np.flatnonzero(~x.any(axis=1)):  # unplaced: start on its smallest demand
        x[j, int(np.argmin(problem.demand_jhr[j].sum(axis=1)))] = True
    rng = np.random.default_rng(seed)
    sign = 1.0 if problem.sense == "min" else -1.0
    c, dem, cap = sign * problem.cost, problem.demand_jhr, problem.capacity
    J, H = c.shape
    host = x.argmax(axis=1)
    load = problem.load(x)
    iterations = iterations or 40 * J
    tenure = tenure or max(5, J // 5)
    tabu = np.full((J, H), -1)
    alpha = float(np.abs(c).max() + 1.0) / max(float(dem.min(initial=1.0)), 1e-9)
    cost = c[np.arange(J), host].sum()
    best_cost = cost if _feasible(load, cap) else np.inf
    best = host.copy()
    jobs = np.arange(J)
    for it in range(iterations):
        d_cost = c - c[jobs, host][:, None]
        over_now = _over(load, cap)                                        # (H,)
        added = _over(load[None, :, :] + dem, cap[None])                  # (J, H)
        removed = _over(load[host] - dem[jobs, host], cap[host])          # (J,)
        d_over = added - over_now[None, :] + (removed - over_now[host])[:, None]
        score = d_cost + alpha * d_over + 1e-9 * rng.random((J, H))
        score[jobs, host] = np.inf
        new_cost = cost + d_cost
        aspire = (new_cost < best_cost - 1e-9) & (over_now.sum() + d_over <= 1e-9)
        score[(tabu > it) & ~aspire] = np.inf
        j, h = np.unravel_index(np.argmin(score), score.shape)
        swap = _best_swap(c, dem, cap, load, host, alpha, tabu, it, cost, best_cost,
                          over_now) if J <= swap_limit else None
        if swap is not None and swap[0] < score[j, h]:
            _, j1, j2 = swap
            h1, h2 = host[j1], host[j2]
            tabu[j1, h1] = tabu[j2, h2] = it + tenure
            load[h1] += dem[j2, h1] - dem[j1, h1]
            load[h2] += dem[j1, h2] - dem[j2, h2]
            cost += c[j1, h2] + c[j2, h1] - c[j1, h1] - c[j2, h2]
            host[j1], host[j2] = h2, h1
        elif not np.isfinite(score[j, h]):
            break
        else:
            h0 = host[j]
            tabu[j, h0] = it + tenure
            load[h0] -= dem[j, h0]
            load[h] += dem[j, h]
            host[j] = h
            cost += d_cost[j, h]
        if _feasible(load, cap):
            alpha = max(alpha / 1.1, 1e-3)
            if cost < best_cost - 1e-9:
                best_cost, best = cost, host.copy()
        else:
            alpha *= 1.1
    if not np.isfinite(best_cost):
        return start
    out = np.zeros_like(x, dtype=bool)
    out[jobs, best] = True
    return out


def _best_swap(c, dem, cap, load, host, alpha, tabu, it, cost, best_cost, over_now):
    """(score, j1, j2) of the best admissible swap, or None."""
    J = len(host)
    jobs = np.arange(J)
    own = c[jobs, host]
    cross = c[:, host]                                   # cross[a, b] = c[a, host[b]]
    d_cost = cross + cross.T - own[:, None] - own[None, :]
    dem_own = dem[jobs, host]                            # (J, R)
    dem_cross = dem[:, host]                             # (J, J, R): dem[a, host[b]]
    # host of j1 gets j2: load[h1] - dem[j1,h1] + dem[j2,h1]
    new1 = load[host][:, None, :] - dem_own[:, None, :] + dem_cross.transpose(1, 0, 2)
    new2 = new1.transpose(1, 0, 2)
    cap1 = cap[host][:, None, :]
    d_over = (_over(new1, cap1) + _over(new2, cap1.transpose(1, 0, 2))
              - over_now[host][:, None] - over_now[host][None, :])
    score = d_cost + alpha * d_over
    same = host[:, None] == host[None, :]
    score[same] = np.inf
    score[np.tril_indices(J)] = np.inf
    blocked = (tabu[jobs[:, None], host[None, :]] > it) | (tabu[jobs[None, :], host[:, None]] > it)
    aspire = (cost + d_cost < best_cost - 1e-9) & (over_now.sum() + d_over <= 1e-9)
    score[blocked & ~aspire] = np.inf
    k = int(np.argmin(score))
    j1, j2 = divmod(k, J)
    return (score[j1, j2], j1, j2) if np.isfinite(score[j1, j2]) else None


def _over(load: np.ndarray, cap: np.ndarray) -> np.ndarray:
    return np.maximum(load - cap, 0.0).sum(axis=-1)


def _feasible(load: np.ndarray, cap: np.ndarray) -> bool:
    return bool((load <= cap + 1e-9).all())
