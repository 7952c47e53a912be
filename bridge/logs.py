"""Structured, redacted logging for the daemon and the CLI.

Every line is an event name plus fields (``log_event(log, "deal.mirrored",
partner="alfa", deal="42")``). On a terminal it reads as text; elsewhere each
line is one JSON object, ready for a log shipper. Whatever a library logs passes
through :func:`bridge.secrets.redact` first, so webhook URLs and tokens never
reach a handler.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

from bridge.secrets import RedactingFilter, redact

_FIELDS: Final = "bridge_fields"
# Attributes every LogRecord has; anything else on a record is a caller's field.
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Alembic logs a line per migration step at INFO; the store logs one line for an upgrade.
_QUIET_LIBRARIES: Final = ("fast_bitrix24", "urllib3", "aiohttp", "apscheduler", "httpx", "alembic")


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with ``fields``; the formatter decides how they are rendered."""
    logger.log(level, event, extra={_FIELDS: fields})


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields: Mapping[str, Any] = getattr(record, _FIELDS, {})
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and k != _FIELDS}
    return {**extra, **fields}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update({k: _jsonable(v) for k, v in _fields(record).items()})
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(payload, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level event key=value …`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, tz=dt.UTC).strftime("%H:%M:%S")
        parts = [f"{k}={_jsonable(v)}" for k, v in _fields(record).items()]
        line = " ".join([stamp, f"{record.levelname.lower():7}", record.getMessage(), *parts])
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def configure_logging(
    *, verbose: bool = False, json_lines: bool | None = None, stream: TextIO | None = None
) -> None:
    """Route every logger through one redacting handler (idempotent).

    ``json_lines=None`` picks JSON unless ``stream`` is a terminal.
    """
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_bridge", False):
            root.removeHandler(old)
    handler._bridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # fast-bitrix24 logs call arguments and URLs (which hold the webhook secret) at DEBUG.
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
