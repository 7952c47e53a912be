"""Who may see a page: the console's signed-in session, the cabinet's partner session, CSRF.

Every console route depends on :func:`console_user`; every cabinet route on
:func:`cabinet_partner`, which also checks the partner's key version in the
store on each request, so ``bridge cabinet revoke`` takes effect at once. Every
POST goes through :func:`checked_form`: a missing or wrong CSRF token is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from bridge.cabinet import keys
from sync.web.context import WebContext
from sync.web.session import (
    CABINET_COOKIE,
    CONSOLE_COOKIE,
    Session,
    csrf_ok,
    csrf_token,
    decode,
)


class Denied(Exception):
    """Answer with the friendly 403 page; ``reason`` picks its wording."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignInFirst(Exception):
    """A console page asked for without a session: go to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Visitor:
    session: Session
    csrf: str


def ctx_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def key_of(ctx: WebContext) -> bytes:
    if ctx.key is None:
        raise Denied("disabled")
    return ctx.key


def console_user(request: Request) -> Visitor:
    ctx = ctx_of(request)
    key = key_of(ctx)
    session = decode(request.cookies.get(CONSOLE_COOKIE), key, "console", ctx.clock())
    if session is None or ctx.is_signed_out(session.sid):
        if request.method == "GET":
            raise SignInFirst(request.url.path)
        raise Denied("session")
    return Visitor(session, csrf_token(key, session.sid))


def cabinet_partner(request: Request) -> Visitor:
    ctx = ctx_of(request)
    key = key_of(ctx)
    session = decode(request.cookies.get(CABINET_COOKIE), key, "cabinet", ctx.clock())
    if session is None or session.partner is None or ctx.is_signed_out(session.sid):
        raise Denied("cabinet_session")
    if session.partner not in ctx.partner_codes():
        raise Denied("revoked")
    with ctx.store.transaction() as db:
        if keys.current(db, session.partner) != session.version:
            raise Denied("revoked")
    return Visitor(session, csrf_token(key, session.sid))


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes


Form = dict[str, "str | Upload"]
MAX_UPLOAD = 5 * 1024 * 1024 + 1  # one byte over the invoice limit, so "too large" is seen
MAX_BODY = 6 * 1024 * 1024  # a form with the largest invoice and its fields fits


async def checked_form(request: Request, visitor: Visitor) -> Form:
    """The POSTed form as plain values, once its CSRF token matches the visitor's session.

    Uploaded files are read (at most :data:`MAX_UPLOAD` bytes) and their temporary
    files closed here, whatever the outcome.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Denied("too_large")
    async with request.form(max_files=2, max_fields=30) as form:
        if not csrf_ok(key_of(ctx_of(request)), visitor.session.sid, _text(form.get("csrf"))):
            raise Denied("csrf")
        out: Form = {}
        for name, value in form.multi_items():
            if isinstance(value, str):
                out.setdefault(name, value)
            else:
                out.setdefault(name, Upload(value.filename or "", await value.read(MAX_UPLOAD)))
        return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
