"""The bridge's HTTP app: webhook receivers, health, readiness, metrics.

Webhooks are hints, never data: a receiver authenticates the request, turns it
into :class:`~bridge.model.Hint` values, and **persists them before answering
200**. If it cannot persist, it answers 503 so the sender retries (amoCRM does;
Bitrix24 does not, and polling is the safety net). Anything malformed, forged or
oversized gets a short 4xx that reveals nothing and changes nothing.

Handlers are plain ``def`` functions: FastAPI runs them on worker threads, so
blocking store writes never stall the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from bridge.logs import log_event
from bridge.model import Hint
from bridge.secrets import Secret, constant_time_equal
from sync.runtime.metrics import Metrics

log = logging.getLogger(__name__)

MAX_HOOK_BODY = 64 * 1024  # real event bodies are ~1 KB; anything near this is abuse
FORM = "application/x-www-form-urlencoded"


class HookRejected(ValueError):
    """A webhook that must not be acted on. ``status`` is the 4xx to answer."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


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

    @app.post("/hooks/bitrix24")
    async def bitrix24_agency(request: Request) -> Response:
        body = await _read_body(request)
        return await _run_sync(receiver.accept, "bitrix24", routes().agency, body, request)

    @app.post("/hooks/bitrix24/{partner}")
    async def bitrix24_partner(partner: str, request: Request) -> Response:
        body = await _read_body(request)
        parser = routes().bitrix_partners.get(partner)
        return await _run_sync(receiver.accept, "bitrix24-partner", parser, body, request)

    @app.post("/hooks/amocrm/{partner}/{secret}")
    async def amocrm(partner: str, secret: str, request: Request) -> Response:
        body = await _read_body(request)
        entry = routes().amocrm.get(partner)
        parser = None
        if entry is not None and constant_time_equal(entry[0].reveal(), secret):
            parser = entry[1]
        return await _run_sync(receiver.accept, "amocrm", parser, body, request)

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

    @app.exception_handler(HookRejected)
    async def rejected(_: Request, exc: HookRejected) -> Response:
        return PlainTextResponse(str(exc), status_code=exc.status)

    return app


class _Receiver:
    def __init__(self, sink: HintSink, metrics: Metrics) -> None:
        self._sink = sink
        self._metrics = metrics

    def accept(self, route: str, parser: Parser | None, body: bytes, content_type: str) -> Response:
        if parser is None:
            # Unknown partner and wrong secret look the same from outside.
            return self._reject(route, HookRejected("unknown hook", 404))
        if content_type not in (FORM, "application/json"):
            return self._reject(route, HookRejected("unsupported content type", 415))
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
        except Exception:
            log.exception("hook.persist_failed", extra={"route": route})
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


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_HOOK_BODY):
        raise HookRejected("body too large", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_HOOK_BODY:
            raise HookRejected("body too large", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _run_sync(
    accept: Callable[[str, Parser | None, bytes, str], Response],
    route: str,
    parser: Parser | None,
    body: bytes,
    request: Request,
) -> Response:
    from starlette.concurrency import run_in_threadpool

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return await run_in_threadpool(accept, route, parser, body, content_type)


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
