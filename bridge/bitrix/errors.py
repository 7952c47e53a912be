"""Bitrix24 failures → the shared error tree of :mod:`bridge.crm`. Pure, no I/O.

Bitrix24 tells errors apart by code, not by status (503 is both the rate limit
and a manual block), and the legacy ``crm.deal.*`` methods answer entity errors
with an empty code and the meaning only in ``error_description`` (reference
§12). Descriptions are never copied into messages verbatim: they are short
server texts, but we pass them through :func:`bridge.secrets.redact` anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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

QUERY_LIMIT = "QUERY_LIMIT_EXCEEDED"
OPERATION_LIMIT = "OPERATION_TIME_LIMIT"
_AUTH_CODES = {
    "EXPIRED_TOKEN",
    "INVALID_TOKEN",
    "INVALID_CREDENTIALS",
    "NO_AUTH_FOUND",
    "INSUFFICIENT_SCOPE",
    "WRONG_AUTH_TYPE",
    "METHOD_CONFIRM_WAITING",
    "USER_ACCESS_ERROR",
}
_BLOCKED_CODES = {"OVERLOAD_LIMIT", "PORTAL_DELETED", "ACCOUNT_BLOCKED"}
_NOT_FOUND_CODES = {"NOT_FOUND", "OWNER_NOT_FOUND", "ERROR_NOT_FOUND"}
_MAX_TEXT = 160


@dataclass(frozen=True, slots=True)
class WireError:
    """What the portal said: HTTP status (0 inside a batch), code, description."""

    status: int
    code: str = ""
    description: str = ""

    @property
    def upper(self) -> str:
        return self.code.upper()


def _message(what: str, error: WireError) -> str:
    detail = redact(error.description)[:_MAX_TEXT]
    return f"{what}: {detail}" if detail else what


def _not_found(error: WireError) -> bool:
    if error.upper in _NOT_FOUND_CODES:
        return True
    return not error.code and "not found" in error.description.lower()


def _is_auth(error: WireError) -> bool:
    # ACCESS_DENIED inside a batch is about one record; at HTTP level (403) the account.
    return error.upper in _AUTH_CODES or error.status in (401, 403)


# First matching rule wins; the order encodes "by code first, status second".
_RULES: tuple[tuple[Callable[[WireError], bool], str], ...] = (
    (lambda e: e.upper == QUERY_LIMIT, "rate"),
    (lambda e: e.upper == OPERATION_LIMIT or e.status == 429, "operating"),
    (lambda e: e.upper in _BLOCKED_CODES or e.status == 410, "blocked"),
    (_is_auth, "auth"),
    (lambda e: 300 <= e.status < 400, "moved"),
    (lambda e: e.status >= 500, "server"),
    (_not_found, "missing"),
)


def _rule(error: WireError) -> str:
    return next((name for test, name in _RULES if test(error)), "rejected")


def classify(
    error: WireError, *, system: str, write: bool = False, retry_after: float = 1.0
) -> CrmError:
    """The one error a failed HTTP request (or batch command) becomes."""
    code = error.upper
    rule = _rule(error)
    if rule in ("rate", "operating"):
        what = "rate limit hit" if rule == "rate" else "method blocked by the operating-time limit"
        return RateLimited(what, retry_after=retry_after, system=system, code=code or "429")
    if rule == "server":
        server: type[CrmError] = OutcomeUnknown if write else TransientError
        return server(f"server error {error.status}", system=system, code=code)
    if rule == "moved":
        return AuthError("portal address changed: update the webhook URL", system=system)
    kinds: dict[str, tuple[type[CrmError], str]] = {
        "blocked": (AccountBlocked, "portal blocked"),
        "auth": (AuthError, "credentials rejected"),
        "missing": (NotFound, "not found"),
        "rejected": (PermanentError, "request rejected"),
    }
    kind, what = kinds[rule]
    return kind(_message(what, error), system=system, code=code)


def lost(*, system: str, write: bool, sent: bool) -> CrmError:
    """The connection failed or the answer could not be read."""
    if write and sent:
        return OutcomeUnknown("the answer to a write was lost", system=system)
    return TransientError("connection to the portal failed", system=system)
