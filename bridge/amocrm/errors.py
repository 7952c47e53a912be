"""amoCRM failures → the shared error tree of :mod:`bridge.crm`. Pure, no I/O.

amoCRM tells errors apart by HTTP status, with an RFC 7807 problem body
(``title``, ``detail``, and ``validation-errors`` on a 400 that names batch
elements, reference §13):

* 429 — :class:`RateLimited` after ``Retry-After`` (or the body's
  ``retry_after``) seconds;
* 403 — :class:`AccountBlocked` (amoCRM blocks the API after repeated 429s;
  retrying only prolongs the block);
* 401 (after one refresh failed to help), 402 (account unpaid) — :class:`AuthError`;
* 404 — :class:`NotFound`; other 4xx — :class:`PermanentError` (400 validation
  errors come as :class:`BatchRejected` with the failing batch positions);
* 5xx, and an answer that cannot be read — reads: :class:`TransientError`;
  writes: :class:`OutcomeUnknown` (the write may have happened: look the records
  up by their stamp before writing again).

Server texts pass through :func:`bridge.secrets.redact` before they reach a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.crm import (
    AccountBlocked,
    AuthError,
    CrmError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
)
from bridge.secrets import redact

DEFAULT_RETRY_AFTER = 5.0

# 401 arrives here only after one refresh failed to help; 402 = account unpaid.
_BY_STATUS: dict[int, type[CrmError]] = {401: AuthError, 402: AuthError, 404: NotFound}


class BatchRejected(PermanentError):
    """A 400 naming the batch elements it refused; the others were not written either."""

    def __init__(self, message: str, *, items: Mapping[str, str], system: str = "") -> None:
        super().__init__(message, system=system, code="validation")
        self.items = dict(items)  # request_id (or position) -> what was wrong


@dataclass(frozen=True, slots=True)
class WireError:
    """What amoCRM answered: HTTP status, the JSON problem body, the ``Retry-After`` header."""

    status: int
    problem: Mapping[str, Any] = field(default_factory=dict)
    retry_after: str | None = None


def _validation_items(problem: Mapping[str, Any]) -> dict[str, str]:
    items: dict[str, str] = {}
    for entry in problem.get("validation-errors") or ():
        details = "; ".join(
            f"{e.get('path', '')}: {e.get('detail') or e.get('code', '')}"
            for e in entry.get("errors") or ()
        )
        items[str(entry.get("request_id", ""))] = details or "rejected"
    return items


def _retry_after(error: WireError) -> float:
    raw = error.retry_after or error.problem.get("retry_after")
    try:
        return float(raw) if raw is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def classify(error: WireError, *, system: str, write: bool = False) -> CrmError:
    """The one error a non-2xx answer becomes. ``write``: a non-idempotent request."""
    status = error.status
    problem = error.problem
    detail = redact(str(problem.get("detail") or problem.get("title") or f"HTTP {status}"))
    code = f"http_{status}"
    if status == 429:
        return RateLimited(
            "amoCRM rate limit hit (HTTP 429)",
            retry_after=_retry_after(error),
            system=system,
            code=code,
        )
    if status == 403:
        return AccountBlocked(
            "amoCRM refuses every API call (HTTP 403: API blocked, IP not whitelisted or "
            "rights removed); this account is stopped until an admin acts",
            system=system,
            code=code,
        )
    if status >= 500:
        return lost(f"HTTP {status}", system=system, write=write)
    if status == 400 and problem.get("validation-errors"):
        return BatchRejected(detail, items=_validation_items(problem), system=system)
    kind = _BY_STATUS.get(status, PermanentError)
    return kind(f"amoCRM refused the call: {detail}", system=system, code=code)


def lost(what: str, *, system: str, write: bool) -> TransientError:
    """The connection failed or the answer could not be read."""
    if not write:
        return TransientError(f"amoCRM gave no usable answer ({what})", system=system)
    return OutcomeUnknown(
        f"amoCRM gave no usable answer to a write ({what}); look the records up by stamp",
        system=system,
    )
