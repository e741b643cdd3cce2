"""YAML and JSON loading that remembers line numbers, so errors can name the line of a
field, and refuses hostile files before they cost time or memory.

Limits (each refusal names the file, the line and the limit):

* ``MAX_BYTES``: files larger than 16 MiB;
* ``MAX_DEPTH``: nesting deeper than 64 levels (deep nesting made the recursive parsers
  raise RecursionError);
* ``MAX_NODES``: documents whose aliases expand to more than 100,000 values (a "billion
  laughs" alias bomb is a few hundred bytes that expand to billions; it is refused from
  the composed graph, before anything walks the expansion).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hal.errors import ValidationError

MAX_BYTES = 16 * 2**20
MAX_DEPTH = 64
MAX_NODES = 100_000


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses nesting deeper than MAX_DEPTH while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _Refused(mark.line + 1, f"nested deeper than {MAX_DEPTH} levels (limit "
                           "MAX_DEPTH); flatten the document")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


def _expanded_size(node: yaml.Node) -> int:
    """Values the node expands to, with aliases counted every time they are used
    (memoised on the shared node objects, so an alias bomb costs its size, not its
    expansion); stops counting once past MAX_NODES."""
    memo: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) in memo:
            return memo[id(n)]
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        memo[id(n)] = total = min(total, MAX_NODES + 1)
        return total

    return size(node)


def check_text_size(text: str | bytes, source: str) -> None:
    """Refuse text over MAX_BYTES (naming the file and the limit)."""
    if len(text) > MAX_BYTES:
        raise ValidationError(f"{source}: file is {len(text)} bytes, above the limit of "
                              f"{MAX_BYTES} (MAX_BYTES); split it or pass the data in Python")


def json_depth_ok(data: Any, source: str) -> None:
    """Refuse JSON data nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationError(f"{source}: nested deeper than {MAX_DEPTH} levels (limit "
                                  "MAX_DEPTH); flatten the document")
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)


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
        text = read_text(path)
        if path.suffix.lower() == ".json":
            return cls.from_json(text, str(path))
        return cls.from_text(text, str(path))

    @classmethod
    def from_json(cls, text: str, source: str = "<string>") -> LocatedYAML:
        """Parse JSON text (no line numbers for fields; syntax errors name the line)."""
        import json

        check_text_size(text, source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise ValidationError(f"{source}: nested deeper than {MAX_DEPTH} levels (limit "
                                  "MAX_DEPTH); flatten the document") from None
        json_depth_ok(data, source)
        return cls(data, {}, source)

    @classmethod
    def from_text(cls, text: str, source: str = "<string>") -> LocatedYAML:
        """Parse YAML text; ``source`` names it in error messages."""
        check_text_size(text, source)
        loader = _LimitedLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node) > MAX_NODES:
                raise _Refused(None, f"expands to more than {MAX_NODES} values through "
                               "aliases (limit MAX_NODES; a 'billion laughs' alias bomb?); "
                               "write the data out without anchors and aliases")
            data = loader.construct_document(node) if node is not None else None
        except _Refused as exc:
            where = f"{source}:{exc.line}" if exc.line else source
            raise ValidationError(f"{where}: refused: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark else source
            problem = getattr(exc, "problem", None) or str(exc)
            raise ValidationError(f"{where}: invalid YAML: {problem}") from None
        except RecursionError:
            raise ValidationError(f"{source}: refused: nested too deeply") from None
        finally:
            loader.dispose()
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


def read_text(path: Path) -> str:
    """A text file's contents; unreadable, binary or oversized files raise ValidationError."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValidationError(f"{path}: file is {size} bytes, above the limit of "
                                  f"{MAX_BYTES} (MAX_BYTES)")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not a UTF-8 text file (byte {exc.start}); is it "
                              "the right file?") from None
    except IsADirectoryError:
        raise ValidationError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read file ({exc.strerror})") from None


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
