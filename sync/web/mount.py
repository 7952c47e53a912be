"""Adding the console and the cabinet to the bridge's FastAPI app."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from sync.web.context import WebContext
from sync.web.guards import Denied, SignInFirst
from sync.web.render import SECURITY_HEADERS, page

STATIC = Path(__file__).parent / "static"
WEB_PREFIXES = ("/console", "/p/", "/web/", "/")


async def _security_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    path = request.url.path
    if path == "/" or path.startswith(("/console", "/p/", "/web/")):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def mount(app: FastAPI, ctx: WebContext) -> None:
    """Serve the console under ``/console/`` and the cabinet under ``/p/`` on ``app``."""
    from sync.web import cabinet, console, console_ledger

    app.state.web = ctx
    app.include_router(console.router)
    app.include_router(console_ledger.router)
    app.include_router(cabinet.router)
    app.mount("/web/static", StaticFiles(directory=STATIC), name="web-static")
    app.add_middleware(BaseHTTPMiddleware, dispatch=_security_headers)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/console/", status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)  # no icon; browsers stop asking

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        return page(request, "denied.html", 403, reason=exc.reason)

    @app.exception_handler(SignInFirst)
    async def sign_in_first(request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse(f"/console/login?next={quote(exc.next_path)}", status_code=303)
