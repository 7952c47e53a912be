"""Parse and authenticate a Bitrix24 deal event. Pure: bytes in, a ``Hint`` out.

:class:`Webhook` binds the credentials; its ``parse`` has the shape every adapter's
webhook module shares (``docs/adapters.md``).

Bitrix24 POSTs events form-encoded with PHP brackets (``data[FIELDS][ID]=…``,
``auth[application_token]=…``); the docs render the same keys as JSON, which is
accepted too. Deal events carry only the deal id, so the result is a
:class:`~bridge.model.Hint`, never data (reference §11). The application token
is compared in constant time. Anything else — too big, not decodable, unknown
event, wrong token, replay — raises the shared :class:`bridge.crm.WebhookRejected`
with a short reason (``too_large``, ``malformed``, ``unsupported_event``,
``forbidden``, ``stale``) that reveals nothing about what was expected.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bridge.crm import WebhookRejected
from bridge.model import Hint, HintKind
from bridge.phpform import PhpFormError, PhpFormLimit, parse
from bridge.secrets import Secret

MAX_BODY: Final = 16 * 1024  # a deal event is well under 2 KiB
_MAX_ID_LEN: Final = 20
EVENT_KINDS: Final = {
    "ONCRMDEALADD": HintKind.ADDED,
    "ONCRMDEALUPDATE": HintKind.UPDATED,
    "ONCRMDEALDELETE": HintKind.DELETED,
    "ONCRMDEALMOVETOCATEGORY": HintKind.MOVED,
}


FUTURE_SKEW = dt.timedelta(minutes=10)  # clocks drift; an event from further ahead is forged


# Rejection reasons → the status that tells the sender the truth (default 400).
_STATUS: Final = {"forbidden": 403, "too_large": 413}


def _rejected(reason: str) -> WebhookRejected:
    return WebhookRejected(reason, _STATUS.get(reason, 400))


def _decode(body: bytes, content_type: str) -> Mapping[str, Any]:
    try:
        text = body.decode("utf-8")
        if content_type.split(";", maxsplit=1)[0].strip().lower() == "application/json":
            payload = json.loads(text)
        else:
            payload = parse(text)
    except (UnicodeDecodeError, ValueError, PhpFormError, RecursionError) as exc:
        raise _rejected(str(exc) if isinstance(exc, PhpFormLimit) else "malformed") from exc
    if not isinstance(payload, Mapping):
        raise _rejected("malformed")
    return payload


def _dig(payload: Mapping[str, Any], *path: str) -> str:
    node: Any = payload
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise _rejected("malformed")
        node = node[key]
    if not isinstance(node, str | int) or isinstance(node, bool):
        raise _rejected("malformed")
    return str(node)


def _check_token(payload: Mapping[str, Any], expected: Secret) -> None:
    try:
        given = _dig(payload, "auth", "application_token").encode()
    except WebhookRejected:
        raise _rejected("forbidden") from None
    wanted = expected.reveal().encode()
    # compare_digest also runs in constant time when the lengths differ.
    if not wanted or not hmac.compare_digest(given, wanted):
        raise _rejected("forbidden")


def _check_fresh(payload: Mapping[str, Any], now: dt.datetime, max_age: dt.timedelta) -> None:
    raw = _dig(payload, "ts")
    if not raw.isdigit():
        raise _rejected("malformed")
    sent = dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
    if not now - max_age <= sent <= now + FUTURE_SKEW:
        raise _rejected("stale")


@dataclass(frozen=True, slots=True)
class Webhook:
    """One Bitrix24 outgoing webhook: its application token and the adapter's ``system``.

    With ``max_age``, an event whose ``ts`` is older than that (or far in the future)
    is refused as ``stale``: Bitrix24 sends events once, at once, so an old body is a
    replay. Within the window a repeat is harmless — it is only a hint, folded per deal.
    """

    token: Secret
    system: str
    max_age: dt.timedelta | None = None

    def parse(self, body: bytes, content_type: str, *, now: dt.datetime) -> list[Hint]:
        """One event POST → a hint that deal ``data[FIELDS][ID]`` may have changed."""
        if len(body) > MAX_BODY:
            raise _rejected("too_large")
        payload = _decode(body, content_type)
        _check_token(payload, self.token)
        if self.max_age is not None:
            _check_fresh(payload, now, self.max_age)
        kind = EVENT_KINDS.get(_dig(payload, "event").upper())
        if kind is None:
            raise _rejected("unsupported_event")
        deal_id = _dig(payload, "data", "FIELDS", "ID")
        if not deal_id.isdigit() or len(deal_id) > _MAX_ID_LEN:
            raise _rejected("malformed")
        return [Hint(system=self.system, deal_id=deal_id, kind=kind, received_at=now)]
