"""One partner's state in one short text, the same for ``/readyz`` and ``bridge status``.

The state is derived, never stored: from the partner's persisted health row
(:class:`~bridge.store.health.PartnerHealth`, written by every pass) and from
what the active mapping says about it. In order of precedence:

- ``"paused in mapping.yaml"`` — an admin paused it on purpose;
- ``"failing: <reason>"`` — its CRM could not be opened or read when the mapping
  was resolved (down, wrong credentials): it waits for the next re-resolve;
- ``"unresolved: <reason>"`` — its CRM answers but the mapping's names (its
  pipeline) do not exist there;
- ``"paused by the bridge until HH:MM UTC: <last error>"`` — the circuit breaker
  opened after :data:`~sync.engine.BREAKER_AFTER` failed passes in a row;
- ``"failing: <last error>"`` — the last pass that tried it failed;
- ``"ok"`` — exactly this, and only when nothing above holds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bridge.store.health import PartnerHealth
from sync.engine import breaker_open

OK = "ok"
MAX_TEXT = 200  # a check's value is a short text, not a log
# How the resolver words a partner whose CRM it could not reach (bridge.mapping.resolve).
_READ_FAILURES = ("cannot read the CRM", "no connection was opened")
_NOT_AVAILABLE = "is not available: "  # how the engine words a set-aside partner


@dataclass(frozen=True, slots=True)
class MappingView:
    """What the active mapping says about one partner (both None/False when it is clean)."""

    paused: bool = False  # paused: true in mapping.yaml
    unavailable: str | None = None  # why it did not resolve, if it did not


def partner_state(
    row: PartnerHealth | None,
    now: dt.datetime,
    mapping: MappingView | None = None,
    *,
    breaker: bool = True,
) -> str:
    """``"ok"`` or a short text naming what is wrong with this partner now.

    ``breaker=False`` for the agency: the bridge never pauses it, it only fails."""
    view = mapping or MappingView()
    if view.paused:
        return "paused in mapping.yaml"
    if view.unavailable is not None:
        return _set_aside(view.unavailable)
    if row is None or row.consecutive_failures == 0:
        return OK
    error = row.last_error or row.error_kind or "unknown error"
    if _NOT_AVAILABLE in error:  # the store-only view of a partner that did not resolve
        return _set_aside(error.split(_NOT_AVAILABLE, 1)[1])
    until = breaker_open(row, now) if breaker else None
    if until is not None:
        return _short(f"paused by the bridge until {until:%H:%M} UTC: {_plain(error)}")
    return _short(f"failing: {_plain(error)}")


def _set_aside(reason: str) -> str:
    kind = "failing" if reason.startswith(_READ_FAILURES) else "unresolved"
    return _short(f"{kind}: {_plain(reason)}")


def _plain(error: str) -> str:
    """The first line, without the ``[code]`` prefix the engine puts on its own errors."""
    line = (error.strip().splitlines() or [""])[0]
    if line.startswith("[") and "] " in line:
        line = line.split("] ", 1)[1]
    return line


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
