"""amoCRM webhooks → hints. Pure: no I/O, no side effects.

amoCRM signs nothing (reference §11.4), so each partner's webhook URL carries a
long random secret of its own, compared in constant time before the body is
even parsed. The body is a PHP-style form, ``leads[{action}][{n}][{field}]``,
possibly several entities and actions per POST (§11.2). Only the lead id and the
action are taken: a webhook is a hint to re-read the lead, never its data.

:class:`Webhook` binds the account; its ``parse`` has the shape every adapter's
webhook module shares (``docs/adapters.md``), raising the shared
:class:`bridge.crm.WebhookRejected`.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bridge.crm import WebhookRejected
from bridge.model import Hint, HintKind
from bridge.phpform import PhpFormError, PhpFormLimit, parse
from bridge.secrets import Secret

FORM: Final = "application/x-www-form-urlencoded"
MAX_BODY = 1024 * 1024
MAX_HINTS = 1000

# Actions under ``leads[...]``. ``restore`` brings a lead back from the trash.
_ACTIONS: Mapping[str, HintKind] = {
    "add": HintKind.ADDED,
    "update": HintKind.UPDATED,
    "restore": HintKind.UPDATED,
    "responsible": HintKind.UPDATED,
    "status": HintKind.MOVED,
    "delete": HintKind.DELETED,
    "note": HintKind.UPDATED,
}


def authentic(expected: Secret, presented: str) -> bool:
    """Constant-time comparison of the secret in the URL path with the partner's."""
    return hmac.compare_digest(expected.reveal().encode(), presented.encode())


def _lead_id(action: str, item: Any) -> str:
    if not isinstance(item, dict):
        raise WebhookRejected("malformed lead entry")
    # A note event describes the note; the lead it belongs to is its element.
    raw = item.get("id")
    if action == "note":
        nested = item.get("note")
        note: dict[str, Any] = nested if isinstance(nested, dict) else item
        raw = note.get("element_id") or note.get("entity_id")
    if not isinstance(raw, str) or not raw.isdigit():
        raise WebhookRejected("lead id missing or not a number")
    return raw


def _items(entries: Any) -> list[Any]:
    if isinstance(entries, list):
        return entries
    if isinstance(entries, dict):
        return list(entries.values())
    raise WebhookRejected("malformed lead list")


def _decode(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise WebhookRejected("body too large")
    try:
        return parse(body.decode("utf-8"))
    except PhpFormLimit as exc:
        raise WebhookRejected(str(exc)) from None
    except (UnicodeDecodeError, PhpFormError):
        raise WebhookRejected("body is not a form") from None


def _check_account(form: Mapping[str, Any], subdomain: str | None) -> None:
    if subdomain is None:
        return
    account = form.get("account")
    sent = account.get("subdomain") if isinstance(account, dict) else None
    if sent != subdomain:
        raise WebhookRejected("wrong account")


@dataclass(frozen=True, slots=True)
class Webhook:
    """One partner account's webhook: the adapter's ``system`` and, if known, its subdomain.

    The path secret is checked by the route before the body is read (:func:`authentic`).
    """

    system: str
    subdomain: str | None = None

    def parse(self, body: bytes, content_type: str, *, now: dt.datetime) -> list[Hint]:
        """Hints for every lead the webhook mentions; events on other entities are ignored.

        Raises :class:`WebhookRejected` for a body that is not a form (415 when it
        does not even say it is one), a lead entry without a numeric id, or (if
        ``subdomain`` is given) a webhook from another account. Duplicate (lead,
        kind) pairs collapse to one.
        """
        if content_type != FORM:
            raise WebhookRejected("amoCRM webhooks are form-encoded", 415)
        form = _decode(body)
        if not form:
            raise WebhookRejected("empty body")
        _check_account(form, self.subdomain)
        leads = form.get("leads", {})
        if not isinstance(leads, dict):
            raise WebhookRejected("malformed leads")
        hints: dict[tuple[str, HintKind], Hint] = {}
        for action, entries in leads.items():
            kind = _ACTIONS.get(action)
            if kind is None:
                continue  # an action we have no use for; amoCRM adds new ones over time
            for item in _items(entries):
                lead = _lead_id(action, item)
                hints.setdefault((lead, kind), Hint(self.system, lead, kind, now))
        if len(hints) > MAX_HINTS:
            raise WebhookRejected("too many leads in one webhook")
        return list(hints.values())
