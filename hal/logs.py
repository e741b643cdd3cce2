"""Structured logs through the standard :mod:`logging` module.

The library logs to the ``hal`` logger (and children such as ``hal.snn``) and never
prints; it adds no handler, so an application decides where logs go. Each record carries
its facts as ``extra`` fields (``target``, ``backend``, ``steps``, ``seconds``, ...), which
:class:`JsonFormatter` writes as one JSON object per line. The CLI's ``--log-level`` and
``--log-json`` call :func:`configure`.

Example:
    >>> import json, logging
    >>> rec = logging.LogRecord("hal", logging.INFO, __file__, 1, "ran", None, None)
    >>> rec.target = "cpu"
    >>> line = json.loads(JsonFormatter().format(rec))
    >>> line["level"], line["message"], line["target"]
    ('INFO', 'ran', 'cpu')
"""

from __future__ import annotations

import json
import logging
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def get_logger(name: str = "hal") -> logging.Logger:
    """The ``hal`` logger or one of its children."""
    return logging.getLogger(name)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: level, logger, message, time and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"level": record.levelname, "logger": record.name,
                               "message": record.getMessage(),
                               "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")}
        for key, value in vars(record).items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "WARNING", as_json: bool = False) -> None:
    """Send the ``hal`` logger's records at ``level`` and above to stderr, as text or JSON
    lines (what the CLI's ``--log-level`` and ``--log-json`` do)."""
    logger = get_logger()
    for handler in list(logger.handlers):
        if getattr(handler, "_hal_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._hal_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if as_json else
                         logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
