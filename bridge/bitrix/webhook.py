"""Parse and authenticate a Bitrix24 deal event. Pure: bytes in, a ``Hint`` out.

Bitrix24 POSTs events form-encoded with PHP brackets (``data[FIELDS][ID]=…``,
``auth[application_token]=…``); the docs render the same keys as JSON, which is
accepted too. Deal events carry only the deal id, so the result is a
:class:`~bridge.model.Hint`, never data (reference §11). The application token
is compared in constant time. Anything else — too big, not decodable, unknown
event, wrong token — raises :class:`WebhookRejected` with a short reason that
reveals nothing about what was expected.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Mapping
from typing import Any, Final

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


class WebhookRejected(Exception):
    """The request is not an authentic deal event. Answer 4xx and drop it.

    ``reason`` is one of ``too_large``, ``malformed``, ``unsupported_event``,
    ``forbidden``, ``stale``; safe to log and to send back.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _decode(body: bytes, content_type: str) -> Mapping[str, Any]:
    try:
        text = body.decode("utf-8")
        if content_type.split(";", maxsplit=1)[0].strip().lower() == "application/json":
            payload = json.loads(text)
        else:
            payload = parse(text)
    except (UnicodeDecodeError, ValueError, PhpFormError, RecursionError) as exc:
        raise WebhookRejected(str(exc) if isinstance(exc, PhpFormLimit) else "malformed") from exc
    if not isinstance(payload, Mapping):
        raise WebhookRejected("malformed")
    return payload


def _dig(payload: Mapping[str, Any], *path: str) -> str:
    node: Any = payload
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise WebhookRejected("malformed")
        node = node[key]
    if not isinstance(node, str | int) or isinstance(node, bool):
        raise WebhookRejected("malformed")
    return str(node)


def _check_token(payload: Mapping[str, Any], expected: Secret) -> None:
    try:
        given = _dig(payload, "auth", "application_token").encode()
    except WebhookRejected:
        raise WebhookRejected("forbidden") from None
    wanted = expected.reveal().encode()
    # compare_digest also runs in constant time when the lengths differ.
    if not wanted or not hmac.compare_digest(given, wanted):
        raise WebhookRejected("forbidden")


def _check_fresh(payload: Mapping[str, Any], now: dt.datetime, max_age: dt.timedelta) -> None:
    raw = _dig(payload, "ts")
    if not raw.isdigit():
        raise WebhookRejected("malformed")
    sent = dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
    if not now - max_age <= sent <= now + FUTURE_SKEW:
        raise WebhookRejected("stale")


def parse_event(
    body: bytes,
    *,
    content_type: str,
    application_token: Secret,
    system: str,
    received_at: dt.datetime,
    max_age: dt.timedelta | None = None,
) -> Hint:
    """One event POST → a hint that deal ``data[FIELDS][ID]`` may have changed.

    With ``max_age``, an event whose ``ts`` is older than that (or far in the future)
    is refused as ``stale``: Bitrix24 sends events once, at once, so an old body is a
    replay. Within the window a repeat is harmless — it is only a hint, folded per deal.
    """
    if len(body) > MAX_BODY:
        raise WebhookRejected("too_large")
    payload = _decode(body, content_type)
    _check_token(payload, application_token)
    if max_age is not None:
        _check_fresh(payload, received_at, max_age)
    kind = EVENT_KINDS.get(_dig(payload, "event").upper())
    if kind is None:
        raise WebhookRejected("unsupported_event")
    deal_id = _dig(payload, "data", "FIELDS", "ID")
    if not deal_id.isdigit() or len(deal_id) > _MAX_ID_LEN:
        raise WebhookRejected("malformed")
    return Hint(system=system, deal_id=deal_id, kind=kind, received_at=received_at)
