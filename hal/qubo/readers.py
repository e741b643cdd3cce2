"""Readers for QUBO-family inputs: allocation YAML/JSON, OR-Library GAP, Gset, LP files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hal.errors import ValidationError
from hal.qubo.problem import AllocationProblem, LPProblem, MaxCutProblem

FORMATS = ("yaml", "json", "lp", "gap", "gset")


def read_gap(path: str | Path, sense: str | None = None) -> list[AllocationProblem]:
    """All instances of an OR-Library GAP file (``P``, then per instance ``m n``,
    ``cost[m][n]``, ``resource[m][n]``, ``capacity[m]``).

    gap1-gap12 are maximisation problems, gapa-gapd minimisation (OR-Library's
    convention); ``sense`` overrides the guess made from the file name.
    """
    path = Path(path)
    try:
        tokens = path.read_text().split()
        nums = np.array([float(t) for t in tokens])
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{path}: not an OR-Library GAP file ({exc})") from None
    if sense is None:
        sense = "min" if path.stem[-1:].isalpha() and path.stem[-1] in "abcd" else "max"
    pos, out = 1, []
    count = int(nums[0]) if len(nums) else 0
    for k in range(count):
        if pos + 2 > len(nums):
            raise ValidationError(f"{path}: instance {k + 1} is truncated")
        m, n = int(nums[pos]), int(nums[pos + 1])
        pos += 2
        need = 2 * m * n + m
        if pos + need > len(nums):
            raise ValidationError(f"{path}: instance {k + 1} ({m}x{n}) is truncated")
        cost = nums[pos:pos + m * n].reshape(m, n)
        res = nums[pos + m * n:pos + 2 * m * n].reshape(m, n)
        cap = nums[pos + 2 * m * n:pos + need]
        pos += need
        out.append(AllocationProblem(
            jobs=[f"j{j}" for j in range(n)], hosts=[f"a{i}" for i in range(m)],
            resources=["r"], demand=res.T[:, :, None], capacity=cap[:, None], cost=cost.T,
            sense=sense, name=f"{path.stem}-{k + 1}"))
    return out


def read_gset(path: str | Path) -> MaxCutProblem:
    """A Gset max-cut graph in rudy format (``n m``, then ``i j w`` 1-based)."""
    path = Path(path)
    try:
        with open(path) as f:
            n, m = (int(t) for t in f.readline().split()[:2])
            edges = np.loadtxt(f, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{path}: not a rudy/Gset graph ({exc})") from None
    if len(edges) != m or edges.shape[1] < 2:
        raise ValidationError(f"{path}: header says {m} edges, found {len(edges)}")
    w = edges[:, 2] if edges.shape[1] > 2 else None
    return MaxCutProblem(n, edges[:, :2].astype(int) - 1, w, name=path.stem)


def detect_format(path: Path) -> str:
    """Guess the format from the suffix, then from the content."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix in (".json", ".lp"):
        return suffix[1:]
    try:
        head = path.read_text().split("\n", 2)
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read file ({exc.strerror})") from None
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
    fmt = fmt or detect_format(path)
    if fmt in ("yaml", "json"):
        return AllocationProblem.from_file(path)
    if fmt == "gset":
        return read_gset(path)
    if fmt == "lp":
        return LPProblem.from_lp_text(path.read_text(), name=path.stem)
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
