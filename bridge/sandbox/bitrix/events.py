"""Outbound events: ``event.bind``/``get``/``unbind`` and thin ``ONCRM*`` POSTs.

Bodies are form-encoded in PHP bracket notation and carry only the object's ID
(plus CATEGORY_ID/STAGE_ID for a pipeline move) and the five ``auth`` keys of an
outgoing webhook. Delivery goes through the shared :class:`EventOutbox`, which
never retries and can drop, duplicate, delay or reorder on request.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import ApiError, Result
from bridge.sandbox.bitrix.offline import METHODS as OFFLINE_METHODS
from bridge.sandbox.bitrix.offline import OfflineQueue
from bridge.sandbox.emulator import EventOutbox

KNOWN_EVENTS = frozenset(
    {
        "ONCRMDEALADD",
        "ONCRMDEALUPDATE",
        "ONCRMDEALDELETE",
        "ONCRMDEALMOVETOCATEGORY",
        "ONCRMCONTACTADD",
        "ONCRMCONTACTUPDATE",
        "ONCRMCONTACTDELETE",
        "ONCRMCOMPANYADD",
        "ONCRMCOMPANYUPDATE",
        "ONCRMCOMPANYDELETE",
        "ONCRMTIMELINECOMMENTADD",
        "ONOFFLINEEVENT",
    }
)


@dataclass(slots=True)
class Binding:
    id: int
    event: str
    handler: str
    min_timeout: float = 1.0  # ONOFFLINEEVENT only: seconds between notifications
    last_sent: float | None = None
    app_user: int | None = None  # bound by an OAuth app: events carry that user's tokens


class EventHub:
    """Who listens to what, and the POST that tells them."""

    def __init__(
        self,
        outbox: EventOutbox,
        *,
        application_token: str,
        endpoint: Callable[[], str],
        member_id: str,
        now: Callable[[], float],
        offline: OfflineQueue,
    ) -> None:
        self.outbox = outbox
        self.offline = offline
        offline.on_new = self._notify_offline
        # auth_connector of the API call being run: its writes skip matching offline queues.
        self.connector = ""
        # Mints the OAuth part of an app event's ``auth`` for a user (set with OAuth on).
        self.app_auth: Callable[[int], list[tuple[str, str]]] | None = None
        self.application_token = application_token
        self._endpoint = endpoint
        self.member_id = member_id
        self._now = now
        self._lock = threading.Lock()
        self._bindings: list[Binding] = []
        self._next_id = 1

    def bind(
        self, event: str, handler: str, *, min_timeout: float = 1.0, app_user: int | None = None
    ) -> Binding:
        name = _known(event)
        with self._lock:
            for binding in self._bindings:
                if binding.event == name and binding.handler == handler:
                    raise ApiError(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already binded")
            binding = Binding(self._next_id, name, handler, min_timeout, app_user=app_user)
            self._next_id += 1
            self._bindings.append(binding)
        return binding

    def unbind(self, event: str, handler: str | None) -> int:
        name = event.upper()
        with self._lock:
            gone = [
                b
                for b in self._bindings
                if b.event == name and (handler is None or b.handler == handler)
            ]
            self._bindings = [b for b in self._bindings if b not in gone]
        return len(gone)

    def bindings(self) -> list[Binding]:
        with self._lock:
            return list(self._bindings)

    def bind_offline(self, event: str, connector: str) -> None:
        self.offline.bindings[_known(event)] = connector

    def unbind_offline(self, event: str) -> int:
        return 1 if self.offline.bindings.pop(event.upper(), None) is not None else 0

    def emit(self, event: str, fields: dict[str, str]) -> None:
        for binding in self.bindings():
            if binding.event == event:
                self.outbox.send(binding.handler, self.body(binding, fields), key=event)
        self.offline.record(event, fields, self.connector)

    def _notify_offline(self) -> None:
        """ONOFFLINEEVENT says only "the queue has news", at most once per minTimeout."""
        now = self._now()
        for binding in self.bindings():
            if binding.event != "ONOFFLINEEVENT":
                continue
            if binding.last_sent is not None and now - binding.last_sent < binding.min_timeout:
                continue
            binding.last_sent = now
            auth = self._auth(binding.app_user)
            pairs = [("event", "ONOFFLINEEVENT"), ("ts", str(int(now))), *auth]
            self.outbox.send(binding.handler, urlencode(pairs), key="ONOFFLINEEVENT")

    def body(self, binding: Binding, fields: dict[str, str]) -> str:
        pairs = [
            ("event", binding.event),
            ("event_handler_id", str(binding.id)),
            *((f"data[FIELDS][{key}]", value) for key, value in fields.items()),
            ("ts", str(int(self._now()))),
            *self._auth(binding.app_user),
        ]
        return urlencode(pairs)

    def _auth(self, app_user: int | None = None) -> list[tuple[str, str]]:
        """The five outgoing-webhook keys; an app's events add its user's OAuth tokens."""
        endpoint = self._endpoint()
        webhook = {
            "domain": urlsplit(endpoint).netloc,
            "client_endpoint": endpoint,
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "member_id": self.member_id,
            "application_token": self.application_token,
        }
        if app_user is None or self.app_auth is None:
            return [(f"auth[{k}]", v) for k, v in webhook.items()]
        oauth = dict(self.app_auth(app_user))
        merged = webhook | oauth
        return [(f"auth[{k}]", merged[k]) for k in _APP_AUTH_ORDER]


# Key order of the one raw app event the docs have (ONCRMCONTACTADD, PHP SDK test).
_APP_AUTH_ORDER = (
    "access_token",
    "expires",
    "expires_in",
    "scope",
    "domain",
    "server_endpoint",
    "status",
    "client_endpoint",
    "member_id",
    "user_id",
    "application_token",
)


def _known(event: str) -> str:
    name = event.upper()
    if name not in KNOWN_EVENTS:
        raise ApiError(400, "ERROR_EVENT_NOT_FOUND", "Event not found")
    return name


def member_id_for(user: int, secret: str) -> str:
    """A stable 32-hex portal id, as Bitrix24 sends in ``auth[member_id]``."""
    return hashlib.md5(f"bitrix-sandbox:{user}:{secret}".encode()).hexdigest()  # noqa: S324


def event_bind(call: Call) -> Result:
    event = str(call.get("event") or "")
    if str(call.get("event_type") or "online").lower() == "offline":
        if call.user_id not in call.portal.admins:
            raise ApiError(403, "ACCESS_DENIED", "Access denied!")
        call.events.bind_offline(event, str(call.get("auth_connector") or ""))
        return Result(True)
    handler = str(call.get("handler") or "")
    if not handler:
        raise ApiError(400, "ERROR_REQUIRED_PARAMETERS_MISSING", "Handler is required")
    options = call.get("options")
    timeout = options.get("minTimeout") if isinstance(options, dict) else None
    app_user = call.user_id if call.oauth else None
    call.events.bind(event, handler, min_timeout=float(timeout or 1), app_user=app_user)
    return Result(True)


def event_unbind(call: Call) -> Result:
    event = str(call.get("event") or "")
    if str(call.get("event_type") or "online").lower() == "offline":
        return Result({"count": call.events.unbind_offline(event)})
    handler = call.get("handler")
    count = call.events.unbind(event, None if not handler else str(handler))
    return Result({"count": count})


def event_get(call: Call) -> Result:
    rows: list[dict[str, Any]] = [
        {"event": b.event, "handler": b.handler, "auth_type": "0", "offline": 0}
        for b in call.events.bindings()
    ]
    rows += [
        {"event": name, "handler": "", "auth_type": "0", "offline": 1, "connector_id": connector}
        for name, connector in sorted(call.events.offline.bindings.items())
    ]
    return Result(rows)


def events_list(call: Call) -> Result:
    return Result(sorted(KNOWN_EVENTS))


METHODS: dict[str, Handler] = {
    **OFFLINE_METHODS,
    "event.bind": event_bind,
    "event.unbind": event_unbind,
    "event.get": event_get,
    "events": events_list,
}
