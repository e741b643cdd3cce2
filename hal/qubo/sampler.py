"""``hal.Sampler``: any QUBO-family target as a ``dimod.Sampler``, so Ocean code runs on
nq-hal unchanged.

Example:
    >>> import dimod, hal
    >>> sampler = hal.Sampler("dimod-sa", num_reads=20)
    >>> bqm = dimod.BinaryQuadraticModel({"a": 1, "b": -1}, {"ab": 0.5}, 0, "SPIN")
    >>> ss = sampler.sample(bqm, seed=0)
    >>> {k: int(v) for k, v in ss.first.sample.items()}, ss.vartype is dimod.SPIN
    ({'a': -1, 'b': 1}, True)
"""

from __future__ import annotations

from typing import Any

import dimod

from hal.backend import QuboBackend
from hal.errors import ValidationError
from hal.registry import get_backend
from hal.target import get_target


class Sampler(dimod.Sampler):
    """A ``dimod.Sampler`` over a QUBO-family target (``dimod-sa``, ``aer-statevector``,
    ``highs``, ...).

    ``sample`` runs :func:`hal.solve` without validation or fallback and returns its
    ``sampleset``: every sample in the BQM's own vartype and variables, with
    ``num_occurrences`` (shots or reads) and energies of the BQM given.

    Args:
        target: a QUBO-family target name.
        **options: backend options for every call (a call's keywords override them).
    """

    def __init__(self, target: str, **options: Any) -> None:
        self.target = get_target(target)
        backend = get_backend(self.target.backend)
        if not isinstance(backend, QuboBackend):
            raise ValidationError(f"target '{target}' runs {', '.join(backend.workloads)} "
                                  "workloads; hal.Sampler needs a QUBO-family target")
        backend.resolve_options(self.target, options)  # unknown options raise now
        self._backend = backend
        self._options = dict(options)

    @property
    def parameters(self) -> dict[str, list]:
        """Keywords ``sample`` takes: ``seed`` and every backend option."""
        return {"seed": [], **{name: [] for name in self._backend.options}}

    @property
    def properties(self) -> dict[str, Any]:
        """The target, its backend, and the option defaults in force."""
        return {"target": self.target.name, "backend": self._backend.name,
                "options": {**{k: o.default for k, o in self._backend.options.items()},
                            **self.target.options, **self._options}}

    def sample(self, bqm: dimod.BinaryQuadraticModel, seed: int | None = None,
               **options: Any) -> dimod.SampleSet:
        """Sample ``bqm`` on the target; the answer keeps the BQM's vartype."""
        from hal.qubo.api import solve

        if not bqm.num_variables:
            return dimod.SampleSet.from_samples([], bqm.vartype, energy=[])
        res = solve(bqm, target=self.target.name, seed=seed, validate=False, fallback=False,
                    **{**self._options, **options})
        ss = res.sampleset
        info = {"target": res.target, "timing": res.timing}
        return dimod.SampleSet(ss.record, ss.variables, info, ss.vartype)
