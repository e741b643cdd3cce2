"""Problem specs for the QUBO family: resource allocation and max-cut.

``AllocationProblem`` (generalised assignment / VM placement):

    minimise (or maximise)  sum_jh c[j,h] x[j,h] + sum_h f[h] y[h]
    subject to              sum_h x[j,h] == 1            (or <= 1, paying u[j] if left out)
                            sum_j d[j,r] x[j,h] <= C[h,r] y[h]    for every host h, resource r
                            x[a,h] + x[b,h] <= 1          for anti-affinity pairs (a, b)
                            x[a,h] == x[b,h]              for affinity pairs (a, b)

``MaxCutProblem``: maximise sum_(i,j) w_ij [s_i != s_j] over s in {0,1}^n.

Example:
    >>> import hal
    >>> p = hal.AllocationProblem(jobs=["a", "b"], hosts=["h1", "h2"], resources=["cpu"],
    ...     demand=[[2], [2]], capacity=[[3], [3]], cost=[[1, 2], [2, 1]])
    >>> p.evaluate({"a": "h1", "b": "h2"})
    (2.0, True, [])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hal._yaml import LocatedYAML
from hal.errors import HALError, ValidationError


@dataclass
class AllocationProblem:
    """Assign jobs to hosts under per-resource capacities (see module docstring).

    Attributes:
        jobs, hosts, resources: names.
        demand: (J, R) demand of each job per resource, or (J, H, R) when it depends on
            the host (as in the generalised assignment problem).
        capacity: (H, R) capacity of each host per resource.
        cost: (J, H) assignment cost (``sense="min"``) or profit (``sense="max"``).
        sense: ``min`` or ``max``.
        host_cost: optional (H,) cost of using a host at all (opens y[h] variables).
        assign: ``exactly`` (each job once) or ``at_most`` (may be left out).
        unassigned_cost: (J,) cost of leaving a job out when ``assign="at_most"``.
        anti_affinity, affinity: pairs of job names.
        name: label for reports.
    """

    jobs: list[str]
    hosts: list[str]
    resources: list[str]
    demand: Any
    capacity: Any
    cost: Any
    sense: Literal["min", "max"] = "min"
    host_cost: Any = None
    assign: Literal["exactly", "at_most"] = "exactly"
    unassigned_cost: Any = None
    anti_affinity: list[tuple[str, str]] = field(default_factory=list)
    affinity: list[tuple[str, str]] = field(default_factory=list)
    name: str = "allocation"

    def __post_init__(self) -> None:
        self.jobs = [str(j) for j in self.jobs]
        self.hosts = [str(h) for h in self.hosts]
        self.resources = [str(r) for r in self.resources]
        J, H, R = len(self.jobs), len(self.hosts), len(self.resources)
        for names, what in ((self.jobs, "job"), (self.hosts, "host"),
                            (self.resources, "resource")):
            if not names:
                raise ValidationError(f"{what}s: none given; an allocation problem needs at "
                                      f"least one {what}")
        dem = np.asarray(self.demand, dtype=float) if _is_numeric(self.demand) else None
        shape = (J, H, R) if dem is not None and dem.ndim == 3 else (J, R)
        self.demand = _matrix(self.demand, shape, "demand")
        self.capacity = _matrix(self.capacity, (H, R), "capacity")
        self.cost = _matrix(self.cost, (J, H), "cost")
        if self.host_cost is not None:
            self.host_cost = _matrix(self.host_cost, (H,), "host_cost")
        if self.unassigned_cost is not None:
            self.unassigned_cost = _matrix(self.unassigned_cost, (J,), "unassigned_cost")
        self.anti_affinity = [tuple(map(str, p)) for p in self.anti_affinity]
        self.affinity = [tuple(map(str, p)) for p in self.affinity]
        self.validate()

    @classmethod
    def random_gap(cls, agents: int, jobs: int, seed: int = 0) -> AllocationProblem:
        """A seeded random generalised assignment instance of Chu & Beasley's type C
        (minimise cost): resource a[j,i] ~ U{5..25}, cost c[j,i] ~ U{10..50}, capacity of
        agent i = 0.8 * sum_j a[j,i] / agents.

        Example:
            >>> p = AllocationProblem.random_gap(3, 9, seed=1)
            >>> p.demand.shape, p.sense
            ((9, 3, 1), 'min')
        """
        rng = np.random.default_rng(seed)
        a = rng.integers(5, 26, size=(jobs, agents)).astype(float)
        c = rng.integers(10, 51, size=(jobs, agents)).astype(float)
        cap = np.floor(0.8 * a.sum(axis=0) / agents)
        return cls(jobs=[f"j{j}" for j in range(jobs)], hosts=[f"a{i}" for i in range(agents)],
                   resources=["r"], demand=a[:, :, None], capacity=cap[:, None], cost=c,
                   name=f"gapC-{agents}x{jobs}-{seed}")

    # -- checks ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValidationError for malformed problems (:meth:`infeasibility` tells which
        well-formed ones have no feasible answer)."""
        for names, what in ((self.jobs, "job"), (self.hosts, "host")):
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValidationError(f"{what} names repeat: {sorted(dup)}")
        if self.sense not in ("min", "max"):
            raise ValidationError(f"sense: must be 'min' or 'max', got '{self.sense}'")
        if self.assign not in ("exactly", "at_most"):
            raise ValidationError(f"assign: must be 'exactly' or 'at_most', got '{self.assign}'")
        if (self.demand < 0).any():
            at = tuple(np.argwhere(self.demand < 0)[0])
            raise ValidationError(f"demand of job '{self.jobs[at[0]]}' for "
                                  f"'{self.resources[at[-1]]}' is negative ({self.demand[at]})")
        if (self.capacity < 0).any():
            h, r = np.argwhere(self.capacity < 0)[0]
            raise ValidationError(f"capacity of host '{self.hosts[h]}' for "
                                  f"'{self.resources[r]}' is negative ({self.capacity[h, r]})")
        for kind, pairs in (("anti_affinity", self.anti_affinity), ("affinity", self.affinity)):
            for a, b in pairs:
                for j in (a, b):
                    if j not in self.jobs:
                        raise ValidationError(f"{kind} pair ({a}, {b}) names unknown job '{j}'; "
                                              f"jobs are {self.jobs}")

    def infeasibility(self) -> list[str]:
        """Reasons this problem provably has no feasible assignment, from cheap checks
        (empty when none is found; the solver may still prove infeasibility).

        Checked, when every job must be placed (``assign="exactly"``): jobs that fit no
        host; total demand above total capacity per resource; affinity groups (jobs that
        must share a host) that fit no host or hold an anti-affinity pair; more jobs that
        pairwise may not share a host than there are hosts.

        Example:
            >>> p = AllocationProblem(jobs=["a", "b"], hosts=["h"], resources=["cpu"],
            ...     demand=[[1], [1]], capacity=[[4]], cost=[[0], [0]],
            ...     anti_affinity=[("a", "b")])
            >>> p.infeasibility()
            ['anti-affinity: jobs a, b may not share a host pairwise, but there is only 1 host']
        """
        if self.assign != "exactly":
            return []
        reasons: list[str] = []
        dem, cap = self.demand_jhr, self.capacity
        fits = (dem <= cap[None, :, :] + 1e-9).all(axis=2)  # (J, H)
        for j in np.flatnonzero(~fits.any(axis=1)):
            r = int(np.argmax((dem[j] - cap).min(axis=0)))
            reasons.append(f"job '{self.jobs[j]}' fits no host: it needs {dem[j, :, r].min():g} "
                           f"{self.resources[r]}, the largest host has {cap[:, r].max():g}")
        least = dem.min(axis=1).sum(axis=0)  # (R,) the least each resource can be loaded
        for r in np.flatnonzero(least > cap.sum(axis=0) + 1e-9):
            reasons.append(f"total demand: jobs need {least[r]:g} {self.resources[r]} in all, "
                           f"the hosts have {cap[:, r].sum():g}")
        reasons += self._affinity_reasons(fits)
        return reasons

    def _affinity_reasons(self, fits: np.ndarray) -> list[str]:
        idx = {j: i for i, j in enumerate(self.jobs)}
        parent = list(range(len(self.jobs)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for a, b in self.affinity:
            parent[root(idx[a])] = root(idx[b])
        reasons, groups = [], {}
        for i in range(len(self.jobs)):
            groups.setdefault(root(i), []).append(i)
        for members in groups.values():
            if len(members) < 2:
                continue
            names = ", ".join(self.jobs[i] for i in members)
            together = self.demand_jhr[members].sum(axis=0)  # (H, R)
            if not (together <= self.capacity + 1e-9).all(axis=1).any() or \
                    not fits[members].all(axis=0).any():
                reasons.append(f"affinity: jobs {names} must share a host, and no host holds "
                               "them all")
        edges = set()
        for a, b in self.anti_affinity:
            ra, rb = root(idx[a]), root(idx[b])
            if ra == rb:
                reasons.append(f"contradictory rules: jobs {a} and {b} must share a host "
                               "(affinity) and may not (anti-affinity)")
            else:
                edges.add((min(ra, rb), max(ra, rb)))
        clique = _greedy_clique(edges)
        if len(clique) > len(self.hosts):
            names = ", ".join(self.jobs[i] for i in sorted(clique))
            reasons.append(f"anti-affinity: jobs {names} may not share a host pairwise, but "
                           f"there {'is' if len(self.hosts) == 1 else 'are'} only "
                           f"{len(self.hosts)} host{'' if len(self.hosts) == 1 else 's'}")
        return reasons

    @property
    def demand_jhr(self) -> np.ndarray:
        """Demand as a (J, H, R) array (broadcast when it does not depend on the host)."""
        if self.demand.ndim == 3:
            return self.demand
        return np.broadcast_to(self.demand[:, None, :],
                               (len(self.jobs), len(self.hosts), len(self.resources)))

    def load(self, x: np.ndarray) -> np.ndarray:
        """(H, R) resource load of a (J, H) assignment matrix."""
        return np.einsum("jh,jhr->hr", x.astype(float), self.demand_jhr)

    @property
    def num_assignment_variables(self) -> int:
        """Binary x[j,h] variables (plus y[h] when hosts have a cost)."""
        extra = len(self.hosts) if self.host_cost is not None else 0
        return len(self.jobs) * len(self.hosts) + extra

    # -- evaluation -----------------------------------------------------------------------
    def evaluate(self, assignment: dict[str, str | None]) -> tuple[float, bool, list[str]]:
        """Objective (in the problem's own sense), feasibility, and violated constraints."""
        jidx = {j: i for i, j in enumerate(self.jobs)}
        hidx = {h: i for i, h in enumerate(self.hosts)}
        x = np.zeros((len(self.jobs), len(self.hosts)), dtype=bool)
        for j, h in assignment.items():
            if h is not None:
                x[jidx[j], hidx[h]] = True
        return self.evaluate_matrix(x)

    def evaluate_matrix(self, x: np.ndarray) -> tuple[float, bool, list[str]]:
        """As :meth:`evaluate` for a (J, H) boolean assignment matrix."""
        violations = []
        per_job = x.sum(axis=1)
        for j in np.flatnonzero(per_job > 1):
            violations.append(f"job '{self.jobs[j]}' assigned {per_job[j]} times")
        if self.assign == "exactly":
            for j in np.flatnonzero(per_job == 0):
                violations.append(f"job '{self.jobs[j]}' not assigned")
        load = self.load(x)
        for h, r in np.argwhere(load > self.capacity + 1e-9):
            violations.append(f"host '{self.hosts[h]}' {self.resources[r]} "
                              f"{load[h, r]:g} > {self.capacity[h, r]:g}")
        for a, b in self.anti_affinity:
            ia, ib = self.jobs.index(a), self.jobs.index(b)
            if (x[ia] & x[ib]).any():
                violations.append(f"anti-affinity ({a}, {b}) share a host")
        for a, b in self.affinity:
            ia, ib = self.jobs.index(a), self.jobs.index(b)
            if (x[ia] != x[ib]).any():
                violations.append(f"affinity ({a}, {b}) on different hosts")
        return self.objective_of(x), not violations, violations

    def objective_of(self, x: np.ndarray) -> float:
        """Objective value of a (J, H) assignment matrix, in the problem's sense."""
        value = float((self.cost * x).sum())
        if self.host_cost is not None:
            value += float(self.host_cost[x.any(axis=0)].sum())
        if self.assign == "at_most" and self.unassigned_cost is not None:
            value += float(self.unassigned_cost[~x.any(axis=1)].sum())
        return value

    # -- files ----------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> AllocationProblem:
        """Load a YAML or JSON spec; errors name the file, line and field.

        The file lists ``resources``, ``hosts`` (name, capacity per resource, optional
        cost), ``jobs`` (name, demand per resource, optional ``cost`` per host), and
        optional ``sense``, ``assign``, ``anti_affinity``, ``affinity``.
        """
        doc = LocatedYAML.from_path(Path(path))
        return cls.from_dict(doc.data, doc)

    @classmethod
    def from_dict(cls, data: Any, doc: LocatedYAML | None = None) -> AllocationProblem:
        """Build from the dict form of :meth:`from_file`."""
        doc = doc or LocatedYAML(data, {}, "<dict>")
        return _SpecReader(doc).read(cls)


def _greedy_clique(edges: set[tuple[int, int]]) -> set[int]:
    """A large clique of the graph (greedy from each vertex; a lower bound on the largest)."""
    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    best: set[int] = set()
    for v in adj:
        clique = {v}
        for u in sorted(adj[v], key=lambda u: -len(adj[u])):
            if clique <= adj[u]:
                clique.add(u)
        best = max(best, clique, key=len)
    return best


def _is_numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def _matrix(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: must be numbers, got {repr(value)[:80]}") from None
    if arr.shape != shape:
        raise ValidationError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        at = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValidationError(f"{name}: non-finite value {arr[at]} at index {at}")
    return arr


class _SpecReader:
    """Reads the YAML/JSON allocation spec, naming file, line and field on error."""

    def __init__(self, doc: LocatedYAML) -> None:
        self.doc = doc

    def fail(self, loc: tuple, msg: str) -> ValidationError:
        field_name = ".".join(str(p) for p in loc) or "(top level)"
        return ValidationError(f"{self.doc.where(loc)}: {field_name}: {msg}")

    def need(self, obj: Any, key: str, loc: tuple, kind: type | tuple) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise self.fail(loc, f"missing field '{key}'")
        value = obj[key]
        if not isinstance(value, kind):
            raise self.fail(loc + (key,), f"expected {getattr(kind, '__name__', kind)}, "
                            f"got {type(value).__name__}")
        return value

    def number(self, value: Any, loc: tuple, signed: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(loc, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(loc, f"must be a finite number, got {value}")
        if value < 0 and not signed:
            raise self.fail(loc, f"must be >= 0, got {value}")
        return float(value)

    def read(self, cls: type[AllocationProblem]) -> AllocationProblem:
        data = self.doc.data
        if not isinstance(data, dict):
            raise self.fail((), "the file must be a mapping with resources, hosts and jobs")
        resources = [str(r) for r in self.need(data, "resources", (), list)]
        hosts = self.need(data, "hosts", (), list)
        jobs = self.need(data, "jobs", (), list)
        unassigned = data.get("unassigned_cost")
        if unassigned is not None:
            if not isinstance(unassigned, list) or len(unassigned) != len(jobs):
                raise self.fail(("unassigned_cost",), f"expected a list of {len(jobs)} "
                                "numbers, one per job")
            unassigned = [self.number(u, ("unassigned_cost", i), signed=True)
                          for i, u in enumerate(unassigned)]
        for key in ("sense", "assign", "name"):
            if key in data and not isinstance(data[key], (str, int)):
                raise self.fail((key,), f"expected a string, got {type(data[key]).__name__}")
        host_names = [str(self.need(h, "name", ("hosts", i), (str, int)))
                      for i, h in enumerate(hosts)]
        capacity = [[self.number(self.need(h, "capacity", ("hosts", i), dict).get(r, 0),
                                 ("hosts", i, "capacity", r)) for r in resources]
                    for i, h in enumerate(hosts)]
        for i, h in enumerate(hosts):
            for r in h["capacity"]:
                if r not in resources:
                    raise self.fail(("hosts", i, "capacity", r),
                                    f"unknown resource '{r}'; resources are {resources}")
        host_cost = None
        if any("cost" in h for h in hosts):
            host_cost = [self.number(h.get("cost", 0), ("hosts", i, "cost"))
                         for i, h in enumerate(hosts)]
        job_names, demand, cost = [], [], []
        for i, j in enumerate(jobs):
            job_names.append(str(self.need(j, "name", ("jobs", i), (str, int))))
            dem = self.need(j, "demand", ("jobs", i), dict)
            for r in dem:
                if r not in resources:
                    raise self.fail(("jobs", i, "demand", r),
                                    f"unknown resource '{r}'; resources are {resources}")
            demand.append([self.number(dem.get(r, 0), ("jobs", i, "demand", r))
                           for r in resources])
            jc = j.get("cost", {})
            if not isinstance(jc, dict):
                raise self.fail(("jobs", i, "cost"), "expected a mapping host -> cost")
            for h in jc:
                if str(h) not in host_names:
                    raise self.fail(("jobs", i, "cost", h),
                                    f"unknown host '{h}'; hosts are {host_names}")
            cost.append([self.number(jc.get(h, 0), ("jobs", i, "cost", h), signed=True)
                         for h in host_names])
        for key, items in (("resources", resources), ("hosts", host_names), ("jobs", job_names)):
            if not items:
                raise self.fail((key,), f"is empty; list at least one {key[:-1]}")
        pairs = {}
        for kind in ("anti_affinity", "affinity"):
            pairs[kind] = []
            for i, p in enumerate(data.get(kind, []) or []):
                if not (isinstance(p, list) and len(p) == 2):
                    raise self.fail((kind, i), "each pair must be a list of two job names")
                for j in p:
                    if str(j) not in job_names:
                        raise self.fail((kind, i), f"unknown job '{j}'; jobs are {job_names}")
                pairs[kind].append(tuple(str(j) for j in p))
        try:
            return cls(jobs=job_names, hosts=host_names, resources=resources, demand=demand,
                       capacity=capacity, cost=cost, host_cost=host_cost,
                       sense=data.get("sense", "min"), assign=data.get("assign", "exactly"),
                       unassigned_cost=unassigned,
                       anti_affinity=pairs["anti_affinity"], affinity=pairs["affinity"],
                       name=str(data.get("name", Path(self.doc.source).stem)))
        except ValidationError as exc:
            raise ValidationError(f"{self.doc.source}: {exc}") from None


@dataclass
class MaxCutProblem:
    """Max-cut on a weighted graph: maximise the weight of edges across the cut.

    Attributes:
        num_nodes: n (nodes are 0..n-1).
        edges: (m, 2) int array of node pairs.
        weights: (m,) edge weights.
        name: label for reports.
    """

    num_nodes: int
    edges: Any
    weights: Any = None
    name: str = "maxcut"
    sense: str = field(default="max", init=False)

    def __post_init__(self) -> None:
        self.edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        m = len(self.edges)
        self.weights = (np.ones(m) if self.weights is None
                        else np.asarray(self.weights, dtype=float).reshape(m))
        if m and (self.edges.min() < 0 or self.edges.max() >= self.num_nodes):
            raise ValidationError(f"{self.name}: edge endpoints must lie in 0..{self.num_nodes-1}")
        if (self.edges[:, 0] == self.edges[:, 1]).any():
            raise ValidationError(f"{self.name}: self-loop edges are not allowed in max-cut")

    @classmethod
    def random_regular(cls, n: int, degree: int = 3, seed: int = 0) -> MaxCutProblem:
        """A uniform random simple ``degree``-regular graph on n nodes (pairing model with
        rejection; fine for the small graphs QAOA simulates)."""
        if n * degree % 2 or degree >= n:
            raise ValidationError(f"no simple {degree}-regular graph on {n} nodes")
        rng = np.random.default_rng(seed)
        for _ in range(10_000):
            stubs = rng.permutation(np.repeat(np.arange(n), degree)).reshape(-1, 2)
            a, b = stubs.min(axis=1), stubs.max(axis=1)
            if (a != b).all() and len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(a):
                return cls(n, np.stack([a, b], 1), name=f"{degree}reg-{n}-{seed}")
        raise HALError(f"could not draw a simple {degree}-regular graph on {n} nodes")

    def cut_value(self, spins: np.ndarray) -> float:
        """Cut weight of a 0/1 vector (or a (S, n) batch)."""
        s = np.asarray(spins)
        across = s[..., self.edges[:, 0]] != s[..., self.edges[:, 1]]
        return across @ self.weights

    def evaluate_vector(self, spins: np.ndarray) -> tuple[float, bool, list[str]]:
        return float(self.cut_value(spins)), True, []


@dataclass
class LPProblem:
    """A model read from an LP file: a dimod CQM (binary, integer and real variables,
    from Binary/General/Bounds sections) and the file's sense. dimod's reader negates a
    ``Maximize`` objective into a minimisation; ``sense`` keeps the caller's, so reported
    objectives are the file's own.

    Example:
        >>> p = LPProblem.from_lp_text("Maximize\\n obj: x + 2 y\\nSubject To\\n"
        ...     " c: x + y <= 1\\nBinary\\n x y\\nEnd\\n")
        >>> p.sense, float(p.cqm.objective.linear["y"])
        ('max', -2.0)
    """

    cqm: Any
    sense: str = "min"
    name: str = "lp"

    @classmethod
    def from_lp_text(cls, text: str, name: str = "lp") -> LPProblem:
        """Read LP text (CPLEX LP format, as written by docplex, Gurobi, dimod)."""
        import re

        import dimod

        try:
            cqm = dimod.lp.loads(text)
        except Exception as exc:  # dimod raises several types for bad LP text
            raise ValidationError(f"{name}: cannot read LP text: {exc}") from None
        head = re.search(r"^\s*(max(imi[sz]e)?|min(imi[sz]e)?)\b", text,
                         re.IGNORECASE | re.MULTILINE)
        sense = "max" if head and head.group(1).lower().startswith("max") else "min"
        return cls(cqm, sense, name)
