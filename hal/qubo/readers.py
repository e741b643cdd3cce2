"""Readers for QUBO-family inputs: allocation YAML/JSON, OR-Library GAP, Gset, LP files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hal._yaml import read_text
from hal.errors import Infeasible, ValidationError
from hal.qubo.problem import AllocationProblem, LPProblem, MaxCutProblem

FORMATS = ("yaml", "json", "lp", "gap", "gset")


class _Tokens:
    """Whitespace-separated numbers of a text file, each with its line, read in order;
    every value is checked (finite, integer where the format says so, >= 0 where it
    must be) and errors name the file, the line and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = read_text(path)
        self.items = [(tok, n + 1) for n, line in enumerate(text.splitlines())
                      for tok in line.split()]
        self.pos = 0

    def fail(self, line: int | None, msg: str) -> ValidationError:
        return ValidationError(f"{self.path}:{line}: {msg}" if line else f"{self.path}: {msg}")

    def take(self, field: str, integer: bool = False, minimum: float | None = 0) -> float:
        if self.pos >= len(self.items):
            last = self.items[-1][1] if self.items else None
            raise self.fail(last, f"file ends where {field} was expected (truncated?)")
        tok, line = self.items[self.pos]
        self.pos += 1
        try:
            value = float(tok)
        except ValueError:
            raise self.fail(line, f"{field}: expected a number, got '{tok}'") from None
        if not math.isfinite(value):
            raise self.fail(line, f"{field}: must be finite, got {tok}")
        if integer and value != int(value):
            raise self.fail(line, f"{field}: must be an integer, got {tok}")
        if minimum is not None and value < minimum:
            raise self.fail(line, f"{field}: must be >= {minimum:g}, got {tok}")
        return value

    def array(self, count: int, field: str) -> np.ndarray:
        return np.array([self.take(f"{field} value {k + 1}") for k in range(count)])


#: largest m*n accepted from a GAP header (a typo must not allocate gigabytes)
GAP_MAX_CELLS = 10_000_000


def read_gap(path: str | Path, sense: str | None = None) -> list[AllocationProblem]:
    """All instances of an OR-Library GAP file (``P``, then per instance ``m n``,
    ``cost[m][n]``, ``resource[m][n]``, ``capacity[m]``).

    gap1-gap12 are maximisation problems, gapa-gapd minimisation (OR-Library's
    convention); ``sense`` overrides the guess made from the file name. Counts must be
    positive integers, costs finite, resources and capacities finite and >= 0.
    """
    path = Path(path)
    tok = _Tokens(path)
    if sense is None:
        sense = "min" if path.stem[-1:].isalpha() and path.stem[-1] in "abcd" else "max"
    count = int(tok.take("instance count P", integer=True, minimum=1))
    out = []
    for k in range(count):
        what = f"instance {k + 1}"
        m = int(tok.take(f"{what}: agents m", integer=True, minimum=1))
        n = int(tok.take(f"{what}: jobs n", integer=True, minimum=1))
        if m * n > GAP_MAX_CELLS:
            raise tok.fail(tok.items[tok.pos - 1][1], f"{what}: {m}x{n} is above the limit "
                           f"of {GAP_MAX_CELLS} cells (GAP_MAX_CELLS)")
        cost = np.array([tok.take(f"{what}: cost value {c + 1}", minimum=None)
                         for c in range(m * n)]).reshape(m, n)
        res = tok.array(m * n, f"{what}: resource").reshape(m, n)
        cap = tok.array(m, f"{what}: capacity")
        out.append(AllocationProblem(
            jobs=[f"j{j}" for j in range(n)], hosts=[f"a{i}" for i in range(m)],
            resources=["r"], demand=res.T[:, :, None], capacity=cap[:, None], cost=cost.T,
            sense=sense, name=f"{path.stem}-{k + 1}"))
    if tok.pos < len(tok.items):
        raise tok.fail(tok.items[tok.pos][1], f"{len(tok.items) - tok.pos} values after the "
                       f"last of the {count} instances the header announces")
    return out


def read_gset(path: str | Path) -> MaxCutProblem:
    """A Gset max-cut graph in rudy format (``n m``, then ``i j w`` 1-based): node counts
    and endpoints are positive integers, weights finite."""
    path = Path(path)
    text = read_text(path)
    rows = [(n + 1, line.split()) for n, line in enumerate(text.splitlines()) if line.strip()]
    if not rows:
        raise ValidationError(f"{path}: empty file; a Gset graph starts with 'n m'")
    line, head = rows[0]
    if len(head) < 2:
        raise ValidationError(f"{path}:{line}: header must be 'nodes edges', got "
                              f"'{' '.join(head)}'")
    n, m = (_int_field(path, line, f, t) for f, t in (("nodes", head[0]), ("edges", head[1])))
    if n < 1:
        raise ValidationError(f"{path}:{line}: nodes: must be >= 1, got {n}")
    if len(rows) - 1 != m:
        raise ValidationError(f"{path}: header says {m} edges, found {len(rows) - 1}")
    edges, weights = np.zeros((m, 2), dtype=np.int64), np.ones(m)
    for k, (line, parts) in enumerate(rows[1:]):
        if len(parts) not in (2, 3):
            raise ValidationError(f"{path}:{line}: expected 'i j' or 'i j weight', got "
                                  f"{len(parts)} values")
        for c, name in enumerate(("i", "j")):
            v = _int_field(path, line, name, parts[c])
            if not 1 <= v <= n:
                raise ValidationError(f"{path}:{line}: {name}: node {v} outside 1..{n}")
            edges[k, c] = v - 1
        if len(parts) == 3:
            try:
                weights[k] = float(parts[2])
            except ValueError:
                raise ValidationError(f"{path}:{line}: weight: expected a number, got "
                                      f"'{parts[2]}'") from None
            if not math.isfinite(weights[k]):
                raise ValidationError(f"{path}:{line}: weight: must be finite, got {parts[2]}")
        if edges[k, 0] == edges[k, 1]:
            raise ValidationError(f"{path}:{line}: self-loop {parts[0]}-{parts[1]}; max-cut "
                                  "graphs need two distinct endpoints")
    return MaxCutProblem(n, edges, weights, name=path.stem)


def _int_field(path: Path, line: int, field: str, tok: str) -> int:
    try:
        return int(tok)
    except ValueError:
        raise ValidationError(f"{path}:{line}: {field}: expected an integer, got "
                              f"'{tok}'") from None


def detect_format(path: Path) -> str:
    """Guess the format from the suffix, then from the content."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix in (".json", ".lp"):
        return suffix[1:]
    head = [line for line in read_text(path).split("\n") if line.strip()][:2] or [""]
    first = head[0].split()
    if len(first) == 1:
        return "gap"
    if len(first) == 2 and len(head) > 1 and len(head[1].split()) == 3:
        return "gset"
    raise ValidationError(f"{path}: cannot tell the format; pass --format one of {FORMATS}")


def load_problem(path: str | Path, fmt: str | None = None, instance: int | None = None) -> Any:
    """Load any supported problem file; GAP files need ``instance`` (1-based) when they
    hold several."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file")
    if path.is_dir():
        raise ValidationError(f"{path}: is a folder, expected a problem file")
    fmt = fmt or detect_format(path)
    if fmt in ("yaml", "json"):
        return AllocationProblem.from_file(path)
    if fmt == "gset":
        return read_gset(path)
    if fmt == "lp":
        text = read_text(path)
        if not text.strip():
            raise ValidationError(f"{path}: empty LP file; write an objective and constraints")
        lp = LPProblem.from_lp_text(text, name=path.stem)
        check_model(lp.cqm, str(path))
        return lp
    if fmt == "gap":
        problems = read_gap(path)
        if instance is None:
            if len(problems) == 1:
                return problems[0]
            raise ValidationError(f"{path} holds {len(problems)} instances; choose one with "
                                  f"--instance 1..{len(problems)}")
        if not 1 <= instance <= len(problems):
            raise ValidationError(f"{path}: --instance must be 1..{len(problems)}")
        return problems[instance - 1]
    raise ValidationError(f"unknown format '{fmt}'; choose one of {FORMATS}")


def one_line(exc: BaseException) -> str:
    """An exception's text on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def check_model(model: Any, source: str = "model") -> None:
    """Refuse a dimod BQM or CQM with no variables or a NaN/inf bias, naming where."""
    import dimod

    if isinstance(model, dimod.BinaryQuadraticModel):
        parts = [("objective", model)]
    elif isinstance(model, dimod.ConstrainedQuadraticModel):
        parts = [("objective", model.objective)] + [
            (f"constraint '{label}'", c.lhs) for label, c in model.constraints.items()]
        for label, c in model.constraints.items():
            if not math.isfinite(c.rhs):
                raise ValidationError(f"{source}: constraint '{label}': right-hand side "
                                      f"{c.rhs} is not finite")
    else:
        return
    if not len(model.variables):
        raise ValidationError(f"{source}: the model has no variables; nothing to solve")
    for where, m in parts:
        for v, bias in m.iter_linear():
            if not math.isfinite(bias):
                raise ValidationError(f"{source}: {where}: linear bias of '{v}' is {bias}; "
                                      "biases must be finite")
        for u, v, bias in m.iter_quadratic():
            if not math.isfinite(bias):
                raise ValidationError(f"{source}: {where}: quadratic bias of ('{u}', '{v}') "
                                      f"is {bias}; biases must be finite")
        if not math.isfinite(m.offset):
            raise ValidationError(f"{source}: {where}: offset {m.offset} is not finite")


def check_problem(problem: Any) -> None:
    """Before solving: a dimod model must be finite, and an allocation problem that cheap
    checks prove infeasible raises :class:`hal.errors.Infeasible` with the reasons."""
    check_model(problem, getattr(problem, "name", None) or type(problem).__name__)
    if isinstance(problem, AllocationProblem):
        reasons = problem.infeasibility()
        if reasons:
            raise Infeasible(f"{problem.name}: infeasible, no assignment can satisfy every "
                             f"constraint: {'; '.join(reasons)}", reasons)
