"""The bridge's HTTP app: webhook receivers, health, readiness, metrics.

Webhooks are hints, never data: a receiver authenticates the request, turns it
into :class:`~bridge.model.Hint` values, and **persists them before answering
200**. If it cannot persist, it answers 503 so the sender retries (amoCRM does;
Bitrix24 does not, and polling is the safety net). Anything malformed, forged or
oversized gets a short 4xx that reveals nothing and changes nothing.

Handlers are plain ``def`` functions: FastAPI runs them on worker threads, so
blocking store writes never stall the event loop.

What the URL can prove is checked before the body is read (an unknown partner,
a wrong amoCRM path secret, an unsupported content type), so an unauthenticated
client costs no body read; a body must arrive within :data:`BODY_TIMEOUT`.
Every rejection and every client that hangs up mid-body is one log line with
the route and the reason — never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import ClientDisconnect

from bridge.logs import log_event
from bridge.model import Hint
from bridge.secrets import Secret, constant_time_equal
from sync.runtime.metrics import Metrics

log = logging.getLogger(__name__)

MAX_HOOK_BODY = 64 * 1024  # real event bodies are ~1 KB; anything near this is abuse
BODY_TIMEOUT = 10.0  # seconds for the whole body once the headers are in
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = (FORM, "application/json")


class HookRejected(ValueError):
    """A webhook that must not be acted on. ``status`` is the 4xx to answer."""

    def __init__(self, reason: str, status: int = 400, route: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.route = route


class ClientGone(Exception):
    """The client hung up before its body was complete; nobody is left to answer."""

    def __init__(self, route: str) -> None:
        super().__init__(route)
        self.route = route


class SinkRefused(RuntimeError):
    """The sink will not take hints now, on purpose (e.g. its store file was lost).

    The message is short and safe to show a caller: it is the 503's body.
    """


class HintSink(Protocol):
    """Where accepted hints go. ``put`` returns only once they are durable."""

    def put(self, hints: Sequence[Hint]) -> int:
        """Persist hints; return how many were new (the rest merged into waiting ones)."""
        ...


# body, content type → hints; raises HookRejected (or ValueError) for bad input.
Parser = Callable[[bytes, str], list[Hint]]


@dataclass(frozen=True, slots=True)
class HookRoutes:
    """The parsers behind each webhook route, built from the compiled mapping."""

    agency: Parser | None = None
    amocrm: Mapping[str, tuple[Secret, Parser]] = field(default_factory=dict)
    bitrix_partners: Mapping[str, Parser] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: Mapping[str, str]  # name → "ok" or what is wrong


def create_app(
    *,
    sink: HintSink,
    routes: Callable[[], HookRoutes],
    readiness: Callable[[], Readiness],
    metrics: Metrics,
    admin_token: Secret | None = None,
    oauth_callback: Callable[[str, str], str] | None = None,
) -> FastAPI:
    """Build the app. ``routes`` is called per request so a mapping reload takes effect."""
    app = FastAPI(title="partner-bridge", docs_url=None, redoc_url=None)
    receiver = _Receiver(sink, metrics)

    def hook(route: str, parser: Parser | None, request: Request) -> Awaitable[Response]:
        return _hook(receiver, route, parser, request)

    _install_handlers(app, metrics)

    @app.post("/hooks/bitrix24")
    async def bitrix24_agency(request: Request) -> Response:
        return await hook("bitrix24", routes().agency, request)

    @app.post("/hooks/bitrix24/{partner}")
    async def bitrix24_partner(partner: str, request: Request) -> Response:
        return await hook("bitrix24-partner", routes().bitrix_partners.get(partner), request)

    @app.post("/hooks/amocrm/{partner}/{secret}")
    async def amocrm(partner: str, secret: str, request: Request) -> Response:
        entry = routes().amocrm.get(partner)
        parser = None
        if entry is not None and constant_time_equal(entry[0].reveal(), secret):
            parser = entry[1]
        return await hook("amocrm", parser, request)

    @app.get("/oauth/amocrm/callback")
    def amocrm_oauth(code: str = "", state: str = "") -> Response:
        # The partner admin's browser lands here after "Allow"; the state proves we asked.
        if oauth_callback is None or not code or not state:
            raise HookRejected("unknown grant", 400)
        return PlainTextResponse(oauth_callback(code, state))

    @app.get("/healthz")
    def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/readyz")
    def readyz(request: Request) -> Response:
        # Probes get the verdict; only an admin gets the details (they name CRMs and errors).
        report = readiness()
        payload: dict[str, object] = {"ready": report.ready}
        if _is_admin(request, admin_token):
            payload["checks"] = dict(report.checks)
        return JSONResponse(payload, 200 if report.ready else 503)

    @app.get("/metrics")
    def metrics_endpoint(request: Request) -> Response:
        _require_admin(request, admin_token)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _hook(
    receiver: _Receiver, route: str, parser: Parser | None, request: Request
) -> Response:
    refused = receiver.refuse_early(route, parser, _content_type(request))
    if refused is not None:
        return refused  # decided from the URL and headers: the body is never read
    body = await _read_body(request, route)
    return await _run_sync(receiver.accept, route, parser, body, request)


def _install_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Rejections and hang-ups: one log line each, with the route, never a traceback."""

    @app.exception_handler(HookRejected)
    async def rejected(request: Request, exc: HookRejected) -> Response:
        route = exc.route or _route_of(request)
        if exc.route:
            metrics.hooks_rejected.labels(route).inc()
        log_event(
            log, "hook.rejected", logging.WARNING, route=route, status=exc.status, reason=str(exc)
        )
        return PlainTextResponse(str(exc), status_code=exc.status)

    @app.exception_handler(ClientGone)
    async def client_gone(_: Request, exc: ClientGone) -> Response:
        log_event(log, "hook.client_gone", route=exc.route)
        return PlainTextResponse("incomplete body", status_code=400)


class _Receiver:
    def __init__(self, sink: HintSink, metrics: Metrics) -> None:
        self._sink = sink
        self._metrics = metrics

    def refuse_early(self, route: str, parser: Parser | None, content_type: str) -> Response | None:
        """The answer when the URL or the headers already rule the request out."""
        if parser is None:
            # Unknown partner and wrong secret look the same from outside.
            return self._reject(route, HookRejected("unknown hook", 404))
        if content_type not in CONTENT_TYPES:
            return self._reject(route, HookRejected("unsupported content type", 415))
        return None

    def accept(self, route: str, parser: Parser | None, body: bytes, content_type: str) -> Response:
        early = self.refuse_early(route, parser, content_type)
        if early is not None or parser is None:
            return early or PlainTextResponse("unknown hook", status_code=404)
        try:
            hints = parser(body, content_type)
        except HookRejected as exc:
            return self._reject(route, exc)
        except ValueError as exc:  # the parsers' own rejection types derive from ValueError
            return self._reject(route, HookRejected(_short(exc)))
        return self._persist(route, hints)

    def _persist(self, route: str, hints: list[Hint]) -> Response:
        started = time.monotonic()
        try:
            fresh = self._sink.put(hints)
        except SinkRefused as exc:
            log_event(log, "hook.refused", logging.WARNING, route=route, reason=str(exc))
            return PlainTextResponse(_short(exc), status_code=503)
        except Exception as exc:  # the store is busy or down: the sender retries
            log_event(log, "hook.persist_failed", logging.WARNING, route=route, error=_short(exc))
            return PlainTextResponse("try again", status_code=503)
        self._count(hints, fresh)
        log_event(
            log,
            "hook.accepted",
            route=route,
            hints=len(hints),
            new=fresh,
            persist_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return PlainTextResponse("ok")

    def _count(self, hints: Sequence[Hint], fresh: int) -> None:
        for hint in hints:
            self._metrics.hints_received.labels(hint.system, hint.source).inc()
        if hints and fresh < len(hints):
            self._metrics.hints_deduplicated.labels(hints[0].system).inc(len(hints) - fresh)

    def _reject(self, route: str, exc: HookRejected) -> Response:
        self._metrics.hooks_rejected.labels(route).inc()
        log_event(
            log, "hook.rejected", logging.WARNING, route=route, status=exc.status, reason=str(exc)
        )
        return PlainTextResponse(str(exc), status_code=exc.status)


def _short(exc: Exception) -> str:
    """A rejection reason fit for an untrusted caller: one line, bounded."""
    text = str(exc).splitlines()[0] if str(exc) else "bad request"
    return text[:120]


async def _read_body(request: Request, route: str) -> bytes:
    """The whole body, bounded in size and in time; a hang-up raises :class:`ClientGone`."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_HOOK_BODY):
        raise HookRejected("body too large", 413, route)
    try:
        async with asyncio.timeout(BODY_TIMEOUT):  # no extra task, unlike wait_for
            return await _collect(request, route)
    except TimeoutError:
        raise HookRejected(f"body not received within {BODY_TIMEOUT:g} s", 408, route) from None
    except ClientDisconnect:
        raise ClientGone(route) from None


async def _collect(request: Request, route: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_HOOK_BODY:
            raise HookRejected("body too large", 413, route)
        chunks.append(chunk)
    return b"".join(chunks)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _route_of(request: Request) -> str:
    """The matched route's template (``/hooks/amocrm/{partner}/{secret}``): no secret in it."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "") or "unmatched")


async def _run_sync(
    accept: Callable[[str, Parser | None, bytes, str], Response],
    route: str,
    parser: Parser | None,
    body: bytes,
    request: Request,
) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(accept, route, parser, body, _content_type(request))


def _is_admin(request: Request, token: Secret | None) -> bool:
    if token is None:
        return False
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and constant_time_equal(value.strip(), token.reveal())


def _require_admin(request: Request, token: Secret | None) -> None:
    """Admin endpoints want ``Authorization: Bearer <BRIDGE_ADMIN_TOKEN>``, even on localhost."""
    if token is None:
        raise HookRejected("admin endpoints are disabled: set BRIDGE_ADMIN_TOKEN", 403)
    if not _is_admin(request, token):
        raise HookRejected("unauthorized", 401)
