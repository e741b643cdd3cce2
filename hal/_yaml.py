"""YAML loading that remembers line numbers, so errors can name the line of a field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hal.errors import ValidationError


class LocatedYAML:
    """Parsed YAML data plus the line of every mapping key and sequence item.

    Example:
        >>> doc = LocatedYAML.from_text("a:\\n  b: 1\\n", "x.yaml")
        >>> doc.data, doc.line_of(("a", "b"))
        ({'a': {'b': 1}}, 2)
    """

    def __init__(self, data: Any, lines: dict[tuple, int], source: str) -> None:
        self.data = data
        self._lines = lines
        self.source = source

    @classmethod
    def from_path(cls, path: str | Path) -> LocatedYAML:
        """Read and parse a YAML file; a syntax error names the file and line."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValidationError(f"{path}: cannot read file ({exc.strerror})") from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<string>") -> LocatedYAML:
        """Parse YAML text; ``source`` names it in error messages."""
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark else source
            problem = getattr(exc, "problem", None) or str(exc)
            raise ValidationError(f"{where}: invalid YAML: {problem}") from None
        lines: dict[tuple, int] = {}
        if node is not None:
            _index(node, (), lines)
        return cls(data, lines, source)

    def line_of(self, loc: Sequence[Any]) -> int | None:
        """Line (1-based) of the deepest known prefix of ``loc``, or None."""
        loc = tuple(loc)
        while loc:
            if loc in self._lines:
                return self._lines[loc]
            loc = loc[:-1]
        return self._lines.get((), None)

    def where(self, loc: Sequence[Any]) -> str:
        """``file:line`` for a location path, for error messages."""
        line = self.line_of(loc)
        return f"{self.source}:{line}" if line else self.source


def _index(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            _index(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _index(item, path + (i,), lines)


def pydantic_error_text(doc: LocatedYAML, exc: Exception, prefix: tuple = ()) -> str:
    """One line per pydantic error: ``file:line: field.path: message``."""
    out = []
    for err in exc.errors():  # type: ignore[attr-defined]
        loc = prefix + tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        out.append(f"{doc.where(loc)}: {field}: {err['msg']}")
    return "\n".join(out)
