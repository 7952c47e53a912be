"""The HTTP face of the Bitrix24 sandbox: routing, inputs, limits, envelopes.

``/rest/<user>/<secret>/<method>[.json]``, method names case-insensitive;
parameters from the query string and a JSON or form-encoded body (PHP bracket
keys). Every success is ``{"result", ["next"], ["total"], "time"}`` with
``Content-Type: application/json``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import urlencode

from bridge.phpform import PhpFormError, parse
from bridge.sandbox.bitrix import events as sandbox_events
from bridge.sandbox.bitrix import methods_crm as sandbox_methods_crm
from bridge.sandbox.bitrix import methods_deals as sandbox_methods_deals
from bridge.sandbox.bitrix import methods_fields as sandbox_methods_fields
from bridge.sandbox.bitrix import methods_pipelines as sandbox_methods_pipelines
from bridge.sandbox.bitrix import methods_requisites as sandbox_methods_requisites
from bridge.sandbox.bitrix.batch import run_batch
from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import ApiError, Result, iso
from bridge.sandbox.bitrix.events import EventHub
from bridge.sandbox.bitrix.limits import LeakyBucket, OperatingMeter
from bridge.sandbox.bitrix.oauth import OAuthServer
from bridge.sandbox.bitrix.store import Portal
from bridge.sandbox.emulator import Request, Response, SimClock

log = logging.getLogger(__name__)
APP_ONLY_METHODS = frozenset(
    {"event.bind", "event.unbind", "event.get", "event.offline.get", "event.offline.list"}
    | {"event.offline.clear", "event.offline.error", "placement.bind"}
)

METHODS: dict[str, Handler] = {
    **sandbox_methods_deals.METHODS,
    **sandbox_methods_crm.METHODS,
    **sandbox_methods_requisites.METHODS,
    **sandbox_methods_fields.METHODS,
    **sandbox_methods_pipelines.METHODS,
    **sandbox_events.METHODS,
}


def time_block(start: float, processing: float, operating: float, reset_at: int) -> dict[str, Any]:
    finish = start + processing
    return {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": iso(dt.datetime.fromtimestamp(start, dt.UTC)),
        "date_finish": iso(dt.datetime.fromtimestamp(finish, dt.UTC)),
        "operating_reset_at": reset_at,
        "operating": operating,
    }


def envelope(result: Result, timing: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"result": result.value}
    if result.next is not None:
        body["next"] = result.next
    if result.total is not None:
        body["total"] = result.total
    body["time"] = timing
    return body


class BitrixApp:
    """Implements :class:`bridge.sandbox.emulator.App` for one portal and one inbound webhook."""

    def __init__(
        self,
        portal: Portal,
        events: EventHub,
        *,
        user: int,
        secret: str,
        clock: SimClock,
        bucket: LeakyBucket,
        meter: OperatingMeter,
    ) -> None:
        self.portal = portal
        self.events = events
        self.user = user
        self.secret = secret
        self.clock = clock
        self.bucket = bucket
        self.meter = meter
        self.count: Callable[[str], None] = lambda method: None
        self.oauth: OAuthServer | None = None
        # After a simulated portal rename: the path prefix standing in for the new host.
        self.moved_to: str | None = None
        # Real portals refuse event.bind / event.offline.* through an inbound webhook; the
        # sandbox allows them unless this is set, so tests can bind handlers either way.
        self.app_only_methods_need_oauth = False
        # Scopes the webhook was created without (e.g. {"user"}): calls answer insufficient_scope.
        self.denied_scopes: set[str] = set()

    # ---- App protocol ------------------------------------------------------------

    def api_method(self, request: Request) -> str:
        path = request.path
        if self.moved_to is not None:
            path = path.removeprefix(self.moved_to)
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0] != "rest":
            return ""
        return _method_name(parts[-1])

    def handle(self, request: Request) -> Response:
        if self.moved_to is not None:
            if not request.path.startswith(self.moved_to + "/"):
                return self._redirect(request)
            request = replace(request, path=request.path.removeprefix(self.moved_to))
        try:
            params = _params(request)
            if request.path.rstrip("/") == "/oauth/token":
                return Response.json(self._oauth().token(params))
            user_id, method, oauth = self._authenticate(request.path, params)
            self.bucket.admit()
            if method == "batch":
                return Response.json(self._batch(params, user_id, oauth))
            result, timing = self.run(method, params, user_id, oauth)
            return Response.json(envelope(result, timing))
        except ApiError as error:
            return Response.json(error.body(), error.status)
        except Exception:  # a sandbox bug must still look like a portal's 500
            log.exception("Bitrix24 sandbox failed on %s", self.api_method(request))
            body = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
            return Response.json(body, 500)

    def _redirect(self, request: Request) -> Response:
        """A renamed portal answers 302 to its new address (same socket, new path prefix)."""
        target = f"http://{request.header('host')}{self.moved_to}{request.path}"
        if request.query_string:
            target += f"?{request.query_string}"
        return Response(302, b"", {"Location": target, "Content-Type": "text/html"})

    def _oauth(self) -> OAuthServer:
        if self.oauth is None:
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "OAuth is not enabled on this sandbox")
        return self.oauth

    # ---- calls ---------------------------------------------------------------------

    def run(
        self, method: str, params: dict[str, Any], user_id: int, oauth: bool = False
    ) -> tuple[Result, dict[str, Any]]:
        """One API method (alone or inside a batch), charged to the operating meter."""
        self.count(method)
        handler = METHODS.get(method)
        if handler is None:
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        if not oauth and self.app_only_methods_need_oauth and method in APP_ONLY_METHODS:
            raise ApiError(
                403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method"
            )
        if method.split(".", maxsplit=1)[0] in self.denied_scopes:
            raise ApiError(401, "insufficient_scope", "")
        self.meter.check(method)
        start = self.clock.time()
        began = time.perf_counter()
        try:
            with self.portal.lock:
                self.events.connector = str(params.get("auth_connector") or "")
                try:
                    result = handler(Call(self.portal, self.events, user_id, params, oauth))
                finally:
                    self.events.connector = ""
        finally:
            processing = time.perf_counter() - began
            _, operating, reset_at = self.meter.record(method)
        return result, time_block(start, processing, operating, reset_at)

    def _batch(self, params: dict[str, Any], user_id: int, oauth: bool) -> dict[str, Any]:
        self.count("batch")
        start = self.clock.time()
        began = time.perf_counter()
        inner = run_batch(params, lambda method, args: self.run(method, args, user_id, oauth))
        processing = time.perf_counter() - began
        reset_at = int(start + 600)
        return {"result": inner, "time": time_block(start, processing, 0, reset_at)}

    def _authenticate(self, path: str, params: dict[str, Any]) -> tuple[int, str, bool]:
        """(acting user, method, via OAuth) for a webhook path or an ``auth`` token."""
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "rest":
            if self.oauth is None or not params.get("auth"):
                raise ApiError(401, "NO_AUTH_FOUND", "Wrong authorization data")
            return self.oauth.user_for(params["auth"]), _method_name(parts[1]), True
        if len(parts) != 4 or parts[0] != "rest":
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        user_ok = parts[1] == str(self.user)
        secret_ok = hmac.compare_digest(parts[2].encode(), self.secret.encode())
        if not (user_ok and secret_ok):
            raise ApiError(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        return self.user, _method_name(parts[3]), False


def _method_name(segment: str) -> str:
    name = segment.lower()
    for suffix in (".json", ".xml"):
        name = name.removesuffix(suffix)
    return name


def _params(request: Request) -> dict[str, Any]:
    """Query string, then the body (JSON, multipart or form-encoded) on top."""
    try:
        # The portal is PHP: keys are read the way parse_str reads them (a raw '=' in a
        # key ends it; an unclosed '[' becomes '_'), never refused as malformed.
        params = parse(request.query_string, php=True) if request.query_string else {}
        body = request.body.decode("utf-8") if request.body else ""
        if not body.strip():
            return params
        if request.content_type == "application/json" or body.lstrip().startswith("{"):
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                params |= loaded
        elif request.content_type == "multipart/form-data":
            multipart = _multipart_as_query(request.header("content-type"), request.body)
            params |= parse(multipart, php=True)
        else:
            params |= parse(body, php=True)
    except (ValueError, PhpFormError) as error:
        raise ApiError(400, "INVALID_REQUEST", f"Malformed request: {error}") from None
    return params


def _multipart_as_query(content_type: str, body: bytes) -> str:
    """Flatten multipart fields into a bracket query so one parser handles both."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8") if isinstance(payload, bytes) else ""
            pairs.append((name, text))
    return urlencode(pairs)
