"""Sweep results as a Parquet dataset: a folder of part files, each written atomically.

Rows are buffered and written as a new part file every ``flush_rows`` rows or
``flush_s`` seconds, and on close (also after Ctrl-C): each part appears whole (written
beside its final name with a leading ``.``, which Parquet readers skip, then renamed), so
the folder is readable at any moment by ``pyarrow.parquet.read_table(PATH)`` or
``pandas.read_parquet(PATH)``. A finished sweep compacts its parts into one. A job rerun
(``--retry-failed``) adds a newer row; :func:`read_results` keeps the newest per job.

Example:
    >>> import tempfile, os
    >>> from hal.sweep.spec import expand, load_sweep_text
    >>> from hal.sweep.jobs import run_job
    >>> spec = load_sweep_text('''
    ... name: demo
    ... workloads: [{name: n, random_network: {n_in: 2, n_hidden: 3, n_out: 1}, steps: 5}]
    ... targets: [cpu]
    ... ''')
    >>> out = os.path.join(tempfile.mkdtemp(), "r.parquet")
    >>> with ResultStore(out) as store:
    ...     store.add(run_job(expand(spec)[0], 60))
    >>> table = read_results(out)
    >>> table.num_rows, table.column("status").to_pylist()
    (1, ['ok'])
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from hal.errors import ValidationError


def schema() -> Any:
    """The Arrow schema of a results row (JSON columns are strings)."""
    import pyarrow as pa

    return pa.schema([
        ("job_id", pa.string()), ("sweep", pa.string()), ("workload", pa.string()),
        ("family", pa.string()), ("target", pa.string()), ("seed", pa.int64()),
        ("axes", pa.string()), ("params", pa.string()), ("status", pa.string()),
        ("error", pa.string()), ("wall_s", pa.float64()), ("compile_s", pa.float64()),
        ("run_s", pa.float64()), ("spike_total", pa.int64()), ("steps_per_s", pa.float64()),
        ("objective", pa.float64()), ("feasible", pa.bool_()), ("gap", pa.float64()),
        ("summary", pa.string()), ("provenance", pa.string()), ("worker", pa.string()),
        ("pid", pa.int64()), ("finished", pa.timestamp("us", tz="UTC")),
    ])


def _parts(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("part-*.parquet") if p.is_file())


def _check_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ValidationError(f"{path}: exists and is a file; sweep results are a Parquet "
                              "folder (one part file per batch): choose another --out")


def read_results(path: str | Path, latest: bool = True) -> Any:
    """The rows of a results folder as a ``pyarrow.Table`` (``latest``: one row per job,
    the newest).

    Raises:
        ValidationError: no results there, or a part file is not Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    _check_folder(path)
    parts = _parts(path) if path.is_dir() else []
    if not parts:
        raise ValidationError(f"{path}: no sweep results there (run hal sweep SPEC --out "
                              f"{path} first)")
    try:
        table = pa.concat_tables([pq.read_table(p, schema=schema()) for p in parts])
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(f"{path}: cannot read sweep results ({exc})") from None
    return _latest(table) if latest else table


def _latest(table: Any) -> Any:
    import pyarrow as pa

    ids = table.column("job_id").to_pylist()
    finished = table.column("finished").to_pylist()
    best: dict[str, int] = {}
    for i, (jid, when) in enumerate(zip(ids, finished, strict=True)):
        if jid not in best or when >= finished[best[jid]]:
            best[jid] = i
    return table.take(pa.array(sorted(best.values()), type=pa.int64()))


class ResultStore:
    """Appends rows to a results folder as they arrive.

    Args:
        path: the results folder (created; an existing one is added to).
        flush_rows: write a part file once this many rows wait.
        flush_s: or once the oldest waiting row is this old.
    """

    def __init__(self, path: str | Path, flush_rows: int = 16, flush_s: float = 2.0) -> None:
        self.path = Path(path)
        _check_folder(self.path)
        if not self.path.parent.is_dir():
            raise ValidationError(f"{self.path}: folder {self.path.parent} does not exist")
        self.path.mkdir(exist_ok=True)
        self.flush_rows, self.flush_s = flush_rows, flush_s
        self._buffer: list[dict[str, Any]] = []
        self._since = time.monotonic()
        self._seq = 0
        self._run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.written = 0

    def done(self, retry_failed: bool = False) -> set[str]:
        """Ids of the jobs already in the folder (``retry_failed``: only those that
        succeeded)."""
        if not _parts(self.path):
            return set()
        table = read_results(self.path)
        ids, status = table.column("job_id").to_pylist(), table.column("status").to_pylist()
        return {j for j, s in zip(ids, status, strict=True) if s == "ok" or not retry_failed}

    def add(self, row: dict[str, Any]) -> None:
        """Queue a row; writes a part file when enough rows wait or enough time passed."""
        if not self._buffer:
            self._since = time.monotonic()
        self._buffer.append(row)
        if (len(self._buffer) >= self.flush_rows
                or time.monotonic() - self._since >= self.flush_s):
            self.flush()

    def flush(self) -> None:
        """Write the waiting rows as one part file (atomically)."""
        if not self._buffer:
            return
        import pyarrow as pa

        names = schema().names
        rows = [{k: r.get(k) for k in names} for r in self._buffer]
        self._write(pa.Table.from_pylist(rows, schema=schema()))
        self.written += len(rows)
        self._buffer = []

    def _write(self, table: Any, name: str | None = None) -> Path:
        import pyarrow.parquet as pq

        from hal.saved import write_atomically

        self._seq += 1
        final = self.path / (name or f"part-{self._run}-{self._seq:05d}.parquet")
        write_atomically(final, lambda tmp: pq.write_table(table, tmp))
        return final

    def compact(self) -> None:
        """Rewrite every part as one (newest row per job). The new part is in place before
        the old ones go, so a crash in between leaves duplicates that readers drop."""
        old = _parts(self.path)
        if len(old) <= 1:
            return
        merged = self._write(read_results(self.path),
                             f"part-{self._run}-compact.parquet")
        for p in old:
            if p != merged:
                p.unlink(missing_ok=True)

    def close(self, compact: bool = True) -> None:
        """Flush what waits, then (``compact``) merge the parts."""
        self.flush()
        if compact:
            self.compact()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # Ctrl-C or a crash: keep every row that arrived, skip the slower compaction
        self.close(compact=exc_type is None)


__all__ = ["ResultStore", "read_results", "schema"]
