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
from bridge.phpform import PhpFormError, parse
from bridge.secrets import Secret

MAX_BODY: Final = 16 * 1024  # a deal event is well under 2 KiB
_MAX_ID_LEN: Final = 20
EVENT_KINDS: Final = {
    "ONCRMDEALADD": HintKind.ADDED,
    "ONCRMDEALUPDATE": HintKind.UPDATED,
    "ONCRMDEALDELETE": HintKind.DELETED,
    "ONCRMDEALMOVETOCATEGORY": HintKind.MOVED,
}


class WebhookRejected(Exception):
    """The request is not an authentic deal event. Answer 4xx and drop it.

    ``reason`` is one of ``too_large``, ``malformed``, ``unsupported_event``,
    ``forbidden``; safe to log and to send back.
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
        raise WebhookRejected("malformed") from exc
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


def parse_event(
    body: bytes,
    *,
    content_type: str,
    application_token: Secret,
    system: str,
    received_at: dt.datetime,
) -> Hint:
    """One event POST → a hint that deal ``data[FIELDS][ID]`` may have changed."""
    if len(body) > MAX_BODY:
        raise WebhookRejected("too_large")
    payload = _decode(body, content_type)
    _check_token(payload, application_token)
    kind = EVENT_KINDS.get(_dig(payload, "event").upper())
    if kind is None:
        raise WebhookRejected("unsupported_event")
    deal_id = _dig(payload, "data", "FIELDS", "ID")
    if not deal_id.isdigit() or len(deal_id) > _MAX_ID_LEN:
        raise WebhookRejected("malformed")
    return Hint(system=system, deal_id=deal_id, kind=kind, received_at=received_at)
