"""Secrets that never show up in logs, reprs or error messages.

Every credential the bridge holds is wrapped in :class:`Secret`; its ``repr`` and
``str`` are masked and the raw value is only reachable through ``reveal()``.
Revealed values are registered with :class:`RedactingFilter`, which masks them in
every log record, whatever library emitted it (fast-bitrix24 logs URLs that
contain the webhook secret).
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from typing import Final

MASK: Final = "***"
_MIN_SECRET_LEN: Final = 4

_known: set[str] = set()
_known_lock = threading.Lock()
_WEBHOOK_PATH = re.compile(r"(/rest/\d+/)([^/\s?#]+)")


def _register(value: str) -> None:
    if len(value) >= _MIN_SECRET_LEN:
        with _known_lock:
            _known.add(value)


class Secret:
    """A credential. Compare with ``==``; print it and you get ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        _register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def constant_time_equal(presented: str, expected: str) -> bool:
    """Compare a presented credential with the expected one without a timing side channel."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def redact(text: str) -> str:
    """Mask every registered secret, and the secret part of Bitrix24 webhook URLs."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    return _WEBHOOK_PATH.sub(rf"\g<1>{MASK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_log_redaction() -> None:
    """Attach the filter to every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
