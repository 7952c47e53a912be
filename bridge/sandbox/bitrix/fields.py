"""Deal field catalogue and the two wire encodings of a deal.

Legacy ``crm.deal.*`` writes almost every scalar as a string and links as
``null``; universal ``crm.item.*`` uses camelCase names and real JSON numbers.
Values are kept typed in the store and rendered per API here. Pure, no I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bridge.sandbox.bitrix.core import (
    PORTAL_CURRENCY,
    flag,
    iso,
    iso_date,
    json_number,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_int,
    yn,
)

INT_TYPES = frozenset(
    {"integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_quote", "crm_category"}
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str
    title: str
    readonly: bool = False
    immutable: bool = False
    multiple: bool = False
    status_type: str | None = None
    parent_type: int | None = None
    deprecated: bool = False


def _f(name: str, type_: str, title: str, **extra: Any) -> FieldSpec:
    return FieldSpec(name, type_, title, **extra)


DEAL_FIELDS: tuple[FieldSpec, ...] = (
    _f("ID", "integer", "ID", readonly=True),
    _f("TITLE", "string", "Название"),
    _f("TYPE_ID", "crm_status", "Тип", status_type="DEAL_TYPE"),
    _f("CATEGORY_ID", "crm_category", "Воронка", immutable=True),
    _f("STAGE_ID", "crm_status", "Стадия сделки", status_type="DEAL_STAGE"),
    _f("STAGE_SEMANTIC_ID", "string", "Группа стадии", readonly=True),
    _f("IS_NEW", "char", "Новая сделка", readonly=True),
    _f("IS_RECURRING", "char", "Регулярная сделка"),
    _f("IS_RETURN_CUSTOMER", "char", "Повторная сделка"),
    _f("IS_REPEATED_APPROACH", "char", "Повторное обращение"),
    _f("PROBABILITY", "integer", "Вероятность"),
    _f("CURRENCY_ID", "crm_currency", "Валюта"),
    _f("OPPORTUNITY", "double", "Сумма"),
    _f("IS_MANUAL_OPPORTUNITY", "char", "IS_MANUAL_OPPORTUNITY"),
    _f("TAX_VALUE", "double", "Ставка налога"),
    _f("COMPANY_ID", "crm_company", "Компания", parent_type=4),
    _f("CONTACT_ID", "crm_contact", "Контакт", deprecated=True),
    _f("CONTACT_IDS", "crm_contact", "Контакты", multiple=True),
    _f("QUOTE_ID", "crm_quote", "Предложение", readonly=True, parent_type=7),
    _f("BEGINDATE", "date", "Дата начала"),
    _f("CLOSEDATE", "date", "Предполагаемая дата закрытия"),
    _f("OPENED", "char", "Доступна для всех"),
    _f("CLOSED", "char", "Закрыта"),
    _f("COMMENTS", "string", "Комментарий"),
    _f("ASSIGNED_BY_ID", "user", "Ответственный"),
    _f("CREATED_BY_ID", "user", "Кем создана", readonly=True),
    _f("MODIFY_BY_ID", "user", "Кем изменена", readonly=True),
    _f("MOVED_BY_ID", "user", "MOVED_BY_ID", readonly=True),
    _f("DATE_CREATE", "datetime", "Дата создания", readonly=True),
    _f("DATE_MODIFY", "datetime", "Дата изменения", readonly=True),
    _f("MOVED_TIME", "datetime", "MOVED_TIME", readonly=True),
    _f("SOURCE_ID", "crm_status", "Источник", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Дополнительно об источнике"),
    _f("LEAD_ID", "crm_lead", "Лид", readonly=True, parent_type=1),
    _f("ADDITIONAL_INFO", "string", "Дополнительная информация"),
    _f("LOCATION_ID", "location", "Местоположение"),
    _f("ORIGINATOR_ID", "string", "Внешний источник"),
    _f("ORIGIN_ID", "string", "Идентификатор элемента во внешнем источнике"),
    _f("UTM_SOURCE", "string", "Рекламная система"),
    _f("UTM_MEDIUM", "string", "Тип трафика"),
    _f("UTM_CAMPAIGN", "string", "Обозначение рекламной кампании"),
    _f("UTM_CONTENT", "string", "Содержание кампании"),
    _f("UTM_TERM", "string", "Условие поиска кампании"),
    _f("LAST_ACTIVITY_TIME", "datetime", "LAST_ACTIVITY_TIME", readonly=True),
    _f("LAST_ACTIVITY_BY", "user", "LAST_ACTIVITY_BY", readonly=True),
)
DEAL_SPECS = {spec.name: spec for spec in DEAL_FIELDS}
# Writable through add/update (read-only ones and the derived ones excluded).
DERIVED = frozenset({"STAGE_SEMANTIC_ID", "CLOSED", "IS_NEW", "CONTACT_ID", "CONTACT_IDS"})

_CAMEL_SPECIAL = {
    "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime",
    "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy",
    "MOVED_BY_ID": "movedBy",
}
# Bitrix\Crm\Service\Converter: all-letter names and UF_CRM_<typeId>_<digits|letters>
# camelCase the usual way; other UF names (digits mixed in) keep their tail after "ufCrm_".
_PLAIN = (
    re.compile(r"[A-Z_]+"),
    re.compile(r"UF_CRM_\d{1,4}_[\d_]+"),
    re.compile(r"UF_CRM_\d{1,4}_[A-Z_]+"),
)
_DIGIT_UNDERSCORE = re.compile(r"(\d)_(\d)")
_MARK = "~~~"


@functools.cache  # a portal has a few dozen field names; every listing renders them all
def to_camel(name: str) -> str:
    """``ASSIGNED_BY_ID`` → ``assignedById``; ``UF_CRM_1747309879`` → ``ufCrm_1747309879``."""
    if name in _CAMEL_SPECIAL:
        return _CAMEL_SPECIAL[name]
    if name.upper().startswith("UF_") and not any(p.fullmatch(name) for p in _PLAIN):
        if name.upper().startswith("UF_CRM_"):
            return "ufCrm_" + name[7:]
        return "uf" + name[3:]
    marked = _DIGIT_UNDERSCORE.sub(rf"\1{_MARK}\2", name)
    words = marked.lower().split("_")
    camel = "".join(w[:1].upper() + w[1:] for w in words if w)
    return (camel[:1].lower() + camel[1:]).replace(_MARK, "_")


# ---- standard fields ---------------------------------------------------------


def coerce(type_: str, value: Any) -> Any:
    """A written value, typed for the store."""
    if type_ in INT_TYPES:
        number = parse_int(value)
        return None if number == 0 and type_ != "crm_category" else number
    if type_ == "char":
        return flag(value)
    if type_ == "double":
        return parse_decimal(value)
    if type_ == "date":
        return parse_date(value)
    if type_ == "datetime":
        return parse_datetime(value)
    return None if value is None else str(value)


def render_legacy(type_: str, value: Any) -> Any:  # noqa: PLR0911 - one return per wire type
    if value is None:
        return None
    if type_ in INT_TYPES:
        return str(value)
    if type_ == "char":
        return yn(bool(value))
    if type_ == "double":
        return f"{value:.2f}"
    if type_ == "date":
        return iso_date(value)
    if type_ == "datetime":
        return iso(value)
    return value


_ZERO_WHEN_EMPTY = frozenset({"COMPANY_ID", "CONTACT_ID"})


def render_item(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return 0 if spec.name in _ZERO_WHEN_EMPTY else None
    if spec.type in INT_TYPES:
        return value
    if spec.type == "double":
        return json_number(value)
    return render_legacy(spec.type, value)


# ---- user (UF_*) fields ------------------------------------------------------


def coerce_uf(userfield: dict[str, Any], value: Any) -> Any:
    """A written custom-field value; multiple fields keep a list."""
    multiple = userfield["MULTIPLE"] == "Y"
    if multiple:
        values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        coerced = [_coerce_one_uf(userfield, v) for v in values]
        return [v for v in coerced if v is not None]
    if isinstance(value, list):
        value = value[0] if value else None
    return _coerce_one_uf(userfield, value)


def _coerce_one_uf(userfield: dict[str, Any], value: Any) -> Any:  # noqa: PLR0911 - one return per wire type
    kind = userfield["USER_TYPE_ID"]
    if value is None or value == "":
        return None
    if kind == "money":
        return _money(value)
    if kind == "enumeration":
        option = parse_int(value)
        known = {int(item["ID"]) for item in userfield.get("LIST", [])}
        return option if option in known else None
    if kind == "boolean":
        return flag(value)
    if kind in {"double", "integer"}:
        number = parse_decimal(value)
        return int(number) if number is not None and kind == "integer" else number
    if kind == "date":
        return parse_date(value)
    if kind == "datetime":
        return parse_datetime(value)
    return str(value)


def _money(value: Any) -> str | None:
    """``"300|RUB"``; a bare amount gets the portal currency; ``"|EUR"``/``"EUR"`` clear."""
    text = str(value).strip()
    amount, _, currency = text.partition("|")
    if parse_decimal(amount) is None:
        return None
    return f"{amount.strip()}|{(currency.strip() or PORTAL_CURRENCY).upper()}"


def render_uf(userfield: dict[str, Any], value: Any, *, item: bool) -> Any:
    if userfield["MULTIPLE"] == "Y":
        return [_render_one_uf(userfield, v, item=item, multiple=True) for v in value or []]
    return _render_one_uf(userfield, value, item=item, multiple=False)


def _render_one_uf(userfield: dict[str, Any], value: Any, *, item: bool, multiple: bool) -> Any:  # noqa: PLR0911 - one return per wire type
    kind = userfield["USER_TYPE_ID"]
    if value is None:
        return None
    if kind == "boolean":
        return yn(value) if item else ("1" if value else "0")
    if kind == "enumeration":
        return value if item or multiple else str(value)
    if isinstance(value, Decimal):
        return json_number(value) if item else str(value)
    if isinstance(value, int):
        return value if item else str(value)
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return iso_date(value)
    return value


def uf_empty(userfield: dict[str, Any]) -> Any:
    return [] if userfield["MULTIPLE"] == "Y" else None
