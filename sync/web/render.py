"""Rendering pages: the Jinja2 environment, the page language and the security headers.

Templates are written in Russian; :mod:`sync.web.i18n` gives the English of each
phrase. Money and dates are formatted by :class:`bridge.ledger.locale.Texts`
(``1 200 000,00 ₽``, a real minus sign), so pages and statements agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bridge.ledger.locale import Texts
from sync.web.i18n import translate

LANG_COOKIE = "pb_lang"
LANGUAGES = ("ru", "en")

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # cabinet links carry their token in the path
    "Cache-Control": "no-store",
}

_ENV = Environment(
    loader=PackageLoader("sync.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    saved = request.cookies.get(LANG_COOKIE)
    return saved if saved in LANGUAGES else "ru"


class Formats:
    """Formatting helpers for one language, exposed to templates as ``fmt``."""

    def __init__(self, lang: str) -> None:
        self.texts = Texts(lang)
        self.lang = lang

    def money(self, amount: Decimal | None, currency: str | None) -> str:
        if amount is None:
            return "—"
        return self.texts.money(amount, currency or "RUB").replace("-", "\u2212")

    def date(self, value: dt.date | dt.datetime | None) -> str:
        return "—" if value is None else self.texts.date(value)

    def when(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        return f"{self.texts.date(value)} {value.astimezone(dt.UTC):%H:%M} UTC"

    def ago(self, value: dt.datetime | None, now: dt.datetime) -> str:
        if value is None:
            return translate("никогда", self.lang)
        seconds = max(0, int((now - value).total_seconds()))
        if seconds < 120:
            return translate("{n} с назад", self.lang).format(n=seconds)
        if seconds < 7200:
            return translate("{n} мин назад", self.lang).format(n=seconds // 60)
        if seconds < 172800:
            return translate("{n} ч назад", self.lang).format(n=seconds // 3600)
        return translate("{n} дн назад", self.lang).format(n=seconds // 86400)

    def seconds(self, value: float) -> str:
        """``1,5 с`` / ``1.5 s``."""
        number = format_decimal(round(value, 1), "0.0", locale=self.texts.locale)
        return f"{number} {translate('сек', self.lang)}"

    def lag(self, value: dt.datetime | None, now: dt.datetime) -> str:
        """How far behind now a cursor is: ``12 с``, ``3 мин``."""
        if value is None:
            return "—"
        return self.ago(value, now).replace(translate(" назад", "ru"), "").replace(" ago", "")

    def percent(self, value: Decimal | None) -> str:
        if value is None:
            return "—"
        return self.texts.percent(value.quantize(Decimal("0.001")))

    def fx_rate(self, pair: str | None, rate: Decimal | None, day: dt.date | None) -> str:
        """The rate a ledger entry was converted at, as kept with it (``fx_pair`` "USD/KZT"
        means 1 USD = ``rate`` KZT): ``1 USD = 460 KZT, 01.11.2026``."""
        if pair is None or rate is None:
            return "—"
        base, _, quote = pair.partition("/")
        number = format_decimal(rate.normalize(), "#,##0.##########", locale=self.texts.locale)
        text = f"1 {base} = {number} {quote}"
        return text if day is None else f"{text}, {self.texts.date(day)}"


def page(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **values: Any,
) -> Response:
    lang = language(request)
    body = _ENV.get_template(template).render(
        t=lambda text: translate(text, lang),
        lang=lang,
        fmt=Formats(lang),
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
    remember_language(request, response)
    return response


def remember_language(request: Request, response: Response) -> None:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 86400, path="/", samesite="strict", httponly=True
        )
