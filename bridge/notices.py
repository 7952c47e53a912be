"""Partner- and manager-facing notices: Russian by default, English on request, overridable.

Each notice is a ``str.format`` template with named placeholders. ``mapping.yaml``
may replace any template (per language); an override that names an unknown key or
uses a placeholder the default does not offer is refused up front, so a typo shows
at load time instead of as a ``KeyError`` in the middle of a weekly digest.
Amounts and dates are formatted through Babel with the language's locale.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from babel.dates import format_date
from babel.numbers import format_currency

LOCALES = {"ru": "ru_RU", "en": "en_US"}

RU = {
    "status_request": (
        "Агентство просит обновить статус сделки №{deal}: последнее изменение "
        "{last_change} ({days} дн. назад). Пожалуйста, обновите стадию или напишите "
        "комментарий."
    ),
    "channel_conflict": (
        "Клиент уже передавался партнёру «{partner}» {date} (сделка {deal}). Совпадение: {matches}."
    ),
    "channel_hold": "Сделка не передана партнёру «{target}» до подтверждения менеджером.",
    "match_phone": "телефон {value}",
    "match_email": "e-mail {value}",
    "match_inn": "ИНН {value}",
    "match_domain": "сайт {value}",
    "digest_title": "Сводка по партнёру «{partner}» на {date}",
    "digest_stale": "Сделки без изменений у партнёра более {days} дн.",
    "digest_no_stage": "Сделки без смены стадии более {days} дн.",
    "digest_waiting": "Агентство ждёт",
    "digest_deal": (
        "№{deal} (сделка агентства {agency}): последнее изменение {date}, {days} дн. назад"
    ),
    "digest_parked": "сделка агентства {agency}: {reason}",
    "digest_overdue": "оплата комиссии {amount}, срок {date}",
    "digest_none": "нет",
    "digest_notes": "Запросов статуса отправлено: {sent}, уже отправлены на этой неделе: {skipped}",
    "digest_declines": "Активность падает: последние {window} дн. против {baseline} дн. до них",
    "decline_rate": "{activity}: {recent} против {usual} в месяц обычно ({change})",
    "decline_reaction": (
        "{activity}: {recent} против {usual} обычно ({slower}× медленнее, {change})"
    ),
    "activity_handovers": "принятые сделки",
    "activity_stage_changes": "смены стадий",
    "activity_wins": "выигранные сделки",
    "activity_reaction": "дней до первой смены стадии",
}

EN = {
    "status_request": (
        "The agency asks for a status update on deal #{deal}: last change on "
        "{last_change} ({days} days ago). Please move the stage or leave a comment."
    ),
    "channel_conflict": (
        "This client was already handed to partner “{partner}” on {date} (deal {deal}). "
        "Matched: {matches}."
    ),
    "channel_hold": "Not sent to partner “{target}” until a manager confirms.",
    "match_phone": "phone {value}",
    "match_email": "email {value}",
    "match_inn": "tax id {value}",
    "match_domain": "website {value}",
    "digest_title": "Digest for partner “{partner}” as of {date}",
    "digest_stale": "Deals the partner has not changed for over {days} days",
    "digest_no_stage": "Deals without a stage change for over {days} days",
    "digest_waiting": "The agency is waiting for",
    "digest_deal": "#{deal} (agency deal {agency}): last change {date}, {days} days ago",
    "digest_parked": "agency deal {agency}: {reason}",
    "digest_overdue": "commission payment {amount}, due {date}",
    "digest_none": "none",
    "digest_notes": "Status requests sent: {sent}, already sent this week: {skipped}",
    "digest_declines": "Activity is falling: the last {window} days against the {baseline} before",
    "decline_rate": "{activity}: {recent} vs {usual}/month baseline ({change})",
    "decline_reaction": "{activity}: {recent} vs {usual} baseline ({slower}× slower, {change})",
    "activity_handovers": "hand-overs accepted",
    "activity_stage_changes": "stage changes",
    "activity_wins": "wins",
    "activity_reaction": "days to first stage change",
}

MESSAGES: Mapping[str, Mapping[str, str]] = MappingProxyType({"ru": RU, "en": EN})


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Notices:
    """Templates for one language with ``overrides`` (key → template) applied."""

    def __init__(self, language: str = "ru", overrides: Mapping[str, str] | None = None) -> None:
        if language not in MESSAGES:
            raise ValueError(f"language {language!r} not supported; use one of {sorted(MESSAGES)}")
        defaults = MESSAGES[language]
        for key, template in (overrides or {}).items():
            _check_override(defaults, key, template)
        self.language = language
        self.locale = LOCALES[language]
        self._templates = {**defaults, **(overrides or {})}

    def render(self, key: str, **values: object) -> str:
        return self._templates[key].format_map(values)

    def date(self, value: dt.date | dt.datetime) -> str:
        day = value.date() if isinstance(value, dt.datetime) else value
        pattern = "dd.MM.y" if self.language == "ru" else "d MMM y"
        return format_date(day, pattern, locale=self.locale)

    def money(self, amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=self.locale)


def _check_override(defaults: Mapping[str, str], key: str, template: str) -> None:
    if key not in defaults:
        raise ValueError(f"unknown notice key {key!r}; known: {sorted(defaults)}")
    try:
        extra = placeholders(template) - placeholders(defaults[key])
    except ValueError as exc:  # unbalanced braces
        raise ValueError(f"notice {key!r}: {exc}") from None
    if extra:
        allowed = sorted(placeholders(defaults[key]))
        raise ValueError(f"notice {key!r} uses unknown placeholders {sorted(extra)}; {allowed}")
