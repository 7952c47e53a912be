"""The audit trail in words: one sentence per audit row, in the page's language."""

from __future__ import annotations

from collections.abc import Callable

from bridge.store.tables import AuditRow
from sync.web.i18n import translate
from sync.web.queries import scrub

StageName = Callable[[str, str | None], str]
SIDES = {"agency": "агентства", "partner": "партнёра"}


def _side(side: str | None, lang: str) -> str:
    return translate(SIDES.get(side or "", side or "?"), lang)


def describe(row: AuditRow, lang: str, stage: StageName | None = None) -> str:  # noqa: PLR0911
    """``Мост создал сделку у партнёра: №123 «Сайт клиники»`` and the like."""

    def t(text: str) -> str:
        return translate(text, lang)

    action = row.action
    if action.startswith("console."):
        return t("Консоль") + f": {scrub(row.detail)}"
    if action == "create":
        return (
            t("Мост создал сделку у партнёра") + f": № {row.new_value or '?'} «{row.detail or ''}»"
        )
    if action == "update":
        fields = row.field or ""
        return t("Мост обновил сделку {side}").format(side=_side(row.side, lang)) + f": {fields}"
    if action == "note":
        return t("Мост добавил примечание у {side}").format(side=_side(row.side, lang))
    if action == "synced" and row.field == "@stage" and stage is not None:
        return (
            t("Стадия")
            + f": {_stages(row.old_value, row.partner_code, stage)} → "
            + (_stages(row.new_value, row.partner_code, stage))
        )
    if action == "synced":
        who = (
            t("изменение " + _side(row.changed_by, "ru")) if row.changed_by else t("синхронизация")
        )
        return f"{row.field}: {row.old_value or '∅'} → {row.new_value or '∅'} ({who})"
    if action == "conflict":
        return t("Конфликт в поле {field}: победила сторона {side}, отброшено «{lost}»").format(
            field=row.field or "", side=_side(row.winner, lang), lost=row.loser_value or ""
        )
    if action == "agreement":
        return t("Обе стороны изменили {field} одинаково").format(field=row.field or "")
    if action == "status":
        text = (
            t("Состояние связи")
            + f": {t('link_' + (row.old_value or 'new'))} → {t('link_' + (row.new_value or ''))}"
        )
        return text + (f" — {scrub(row.detail)}" if row.detail else "")
    return f"{action}: {scrub(row.detail or row.new_value or '')}"


def _stages(value: str | None, partner: str, stage: StageName) -> str:
    """``C1:LOSE ↔ 143`` (agency ↔ partner stage ids) as stage names."""
    if not value:
        return "∅"
    agency, _, other = value.partition(" ↔ ")
    if not other:
        return stage("agency", agency)
    return f"{stage('agency', agency)} ↔ {stage(partner, other)}"
