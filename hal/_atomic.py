"""Output files written atomically: into a temporary file beside the target, then renamed
over it with ``os.replace``, so a failure (disk full, Ctrl-C, an error) never leaves a
partial file. :func:`check_writable` says before a run that an output cannot be written.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from hal.errors import ValidationError


def check_writable(path: str | Path, what: str = "output") -> Path:
    """Raise ValidationError unless ``path`` can be created or replaced: its folder must
    exist and be writable, and ``path`` must not be a folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ValidationError(f"{what} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise ValidationError(f"{what} {path}: folder {folder} does not exist; create it "
                              "first (nothing was run)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValidationError(f"{what} {path}: folder {folder} is not writable (nothing was "
                              "run)")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValidationError(f"{what} {path}: file exists and is read-only")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) to write; on success it replaces
    ``path``; on any failure it is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
