"""amoCRM API v4 JSON ⇄ the bridge's model. Pure functions, no I/O.

Wire facts (reference §5–§9): times are Unix seconds, ``price`` is a whole number
in the account's currency (amoCRM has no currency per lead, so the caller passes
it in), custom fields arrive as ``custom_fields_values`` — ``null`` when nothing
is filled — and enumerations carry ``enum_id`` (and sometimes ``enum_code``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bridge.amocrm import companies
from bridge.amocrm.scalars import (
    from_unix,
    money_to_price,
    price_to_money,
    to_date,
    to_datetime,
    wire_scalar,
)
from bridge.model import (
    Company,
    Contact,
    Deal,
    DealDraft,
    DealPatch,
    EnumOption,
    FieldDef,
    FieldKind,
    FieldValue,
    Money,
    Note,
    Pipeline,
    Semantics,
    Stage,
    User,
)

Json = dict[str, Any]

WON_STATUS = 142
LOST_STATUS = 143
PHONE_CODE = "PHONE"
EMAIL_CODE = "EMAIL"
DEFAULT_PHONE_ENUM = "WORK"
DEFAULT_EMAIL_ENUM = "WORK"

_KINDS: Mapping[str, FieldKind] = {
    "text": FieldKind.STRING,
    "textarea": FieldKind.STRING,
    "url": FieldKind.STRING,
    "streetaddress": FieldKind.STRING,
    "numeric": FieldKind.NUMBER,
    "monetary": FieldKind.MONEY,
    "price": FieldKind.MONEY,
    "select": FieldKind.ENUM,
    "radiobutton": FieldKind.ENUM,
    "multiselect": FieldKind.ENUM,
    "category": FieldKind.ENUM,
    "checkbox": FieldKind.BOOLEAN,
    "date": FieldKind.DATE,
    "birthday": FieldKind.DATE,
    "date_time": FieldKind.DATETIME,
}
_MULTIPLE = frozenset({"multiselect", "category"})


# --- custom fields -----------------------------------------------------------


def decode_field_def(raw: Mapping[str, Any]) -> FieldDef:
    kind_name = str(raw.get("type", ""))
    options = tuple(EnumOption(str(e["id"]), str(e["value"])) for e in raw.get("enums") or ())
    return FieldDef(
        id=str(raw["id"]),
        name=str(raw["name"]),
        kind=_KINDS.get(kind_name, FieldKind.OTHER),
        multiple=kind_name in _MULTIPLE,
        options=options,
        code=raw.get("code") or None,
    )


def _decode_boolean(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


_SCALAR_DECODERS: Mapping[FieldKind, Callable[[Any], FieldValue]] = {
    FieldKind.BOOLEAN: _decode_boolean,
    FieldKind.NUMBER: lambda v: Decimal(str(v)),
    FieldKind.MONEY: lambda v: Decimal(str(v)),
    FieldKind.DATE: to_date,
    FieldKind.DATETIME: to_datetime,
}


def _decode_value(field_type: str, values: Sequence[Mapping[str, Any]]) -> FieldValue:
    kind = _KINDS.get(field_type, FieldKind.OTHER)
    if kind is FieldKind.ENUM:
        ids = tuple(str(v["enum_id"]) for v in values if v.get("enum_id") is not None)
        return ids if field_type in _MULTIPLE else (ids[0] if ids else None)
    first = values[0].get("value")
    if first is None:
        return None
    decoder = _SCALAR_DECODERS.get(kind)
    return decoder(first) if decoder else str(first)


def decode_fields(raw: Sequence[Mapping[str, Any]] | None) -> dict[str, FieldValue]:
    """``custom_fields_values`` → ``{field_id: value}``; ``null`` and empty values → nothing."""
    fields: dict[str, FieldValue] = {}
    for item in raw or ():
        values = item.get("values") or []
        if values:
            fields[str(item["field_id"])] = _decode_value(str(item.get("field_type", "")), values)
    return fields


def _encode_values(value: FieldValue, kind: FieldKind) -> list[Json]:
    if isinstance(value, tuple):
        return [{"enum_id": int(v)} for v in value]
    if kind is FieldKind.ENUM:
        return [{"enum_id": int(str(value))}]
    return [{"value": wire_scalar(value)}]


def encode_fields(fields: Mapping[str, FieldValue], defs: Mapping[str, FieldDef]) -> list[Json]:
    """``{field_id: value}`` → ``custom_fields_values``; None clears (``values: null``)."""
    encoded: list[Json] = []
    for field_id, value in fields.items():
        known = defs.get(field_id)
        kind = known.kind if known else FieldKind.STRING
        values = None if value is None else _encode_values(value, kind)
        encoded.append({"field_id": int(field_id), "values": values})
    return encoded


# --- leads -------------------------------------------------------------------


def _embedded_ids(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(item["id"]) for item in (raw.get("_embedded") or {}).get(key) or ())


def decode_deal(raw: Mapping[str, Any], *, currency: str, stamp_field_id: str | None) -> Deal:
    fields = decode_fields(raw.get("custom_fields_values"))
    stamp = fields.pop(stamp_field_id, None) if stamp_field_id else None
    companies = _embedded_ids(raw, "companies")
    responsible = raw.get("responsible_user_id")
    return Deal(
        id=str(raw["id"]),
        title=str(raw.get("name") or ""),
        pipeline_id=str(raw["pipeline_id"]),
        stage_id=str(raw["status_id"]),
        amount=price_to_money(raw, currency),
        created_at=from_unix(raw["created_at"]),
        updated_at=from_unix(raw["updated_at"]),
        responsible_id=str(responsible) if responsible else None,
        contact_ids=_embedded_ids(raw, "contacts"),
        company_id=companies[0] if companies else None,
        stamp=str(stamp) if stamp is not None else None,
        fields=fields,
        modified_by=str(raw["updated_by"]) if raw.get("updated_by") else None,
    )


def _multitext(code: str, values: Sequence[str], enum_code: str) -> list[Json]:
    if not values:
        return []
    return [{"field_code": code, "values": [{"value": v, "enum_code": enum_code} for v in values]}]


def encode_contact(contact: Contact | Company) -> Json:
    """A contact (or company: the same shape) embedded in a complex add."""
    body: Json = {"name": contact.name}
    custom = [
        *_multitext(PHONE_CODE, contact.phones, DEFAULT_PHONE_ENUM),
        *_multitext(EMAIL_CODE, contact.emails, DEFAULT_EMAIL_ENUM),
    ]
    if custom:
        body["custom_fields_values"] = custom
    return body


def encode_company(company: Company, *, tax_field_id: str | None = None) -> Json:
    """A company embedded in a complex add; its ИНН goes to ``tax_field_id`` if known."""
    body = encode_contact(company)
    extra = companies.encode_tax_id(company, field_id=tax_field_id)
    if extra:
        body["custom_fields_values"] = [*body.get("custom_fields_values", []), *extra]
    return body


def _common(
    *,
    title: str | None,
    pipeline_id: str | None,
    stage_id: str | None,
    amount: Money | None,
    responsible_id: str | None,
    currency: str,
) -> Json:
    body: Json = {}
    if title is not None:
        body["name"] = title
    if pipeline_id is not None:
        body["pipeline_id"] = int(pipeline_id)
    if stage_id is not None:
        body["status_id"] = int(stage_id)
    if amount is not None:
        body["price"] = money_to_price(amount, currency)
    if responsible_id is not None:
        body["responsible_user_id"] = int(responsible_id)
    return body


def encode_draft(
    draft: DealDraft,
    *,
    request_id: str,
    currency: str,
    defs: Mapping[str, FieldDef],
    stamp_field_id: str | None,
    tax_field_id: str | None = None,
) -> Json:
    """One element of ``POST /api/v4/leads/complex``, contact and company embedded."""
    body = _common(
        title=draft.title,
        pipeline_id=draft.pipeline_id,
        stage_id=draft.stage_id,
        amount=draft.amount,
        responsible_id=draft.responsible_id,
        currency=currency,
    )
    fields: dict[str, FieldValue] = dict(draft.fields)
    if draft.stamp is not None and stamp_field_id is not None:
        fields[stamp_field_id] = draft.stamp
    if fields:
        body["custom_fields_values"] = encode_fields(fields, defs)
    embedded: Json = {}
    if draft.contact is not None:
        embedded["contacts"] = [{**encode_contact(draft.contact), "is_main": True}]
    if draft.company is not None:
        embedded["companies"] = [encode_company(draft.company, tax_field_id=tax_field_id)]
    if embedded:
        body["_embedded"] = embedded
    body["request_id"] = request_id
    return body


def encode_patch(
    patch: DealPatch,
    *,
    currency: str,
    defs: Mapping[str, FieldDef],
    pipeline_id: str | None,
    stamp_field_id: str | None = None,
) -> Json:
    """One element of ``PATCH /api/v4/leads``.

    amoCRM wants the pipeline with every stage move (and 142/143 exist in every
    pipeline), so the adapter passes in ``pipeline_id``: the one pipeline holding the
    stage, or for won/lost the lead's current one. The planner never sends it.
    """
    body = _common(
        title=patch.title,
        pipeline_id=patch.pipeline_id or pipeline_id,
        stage_id=patch.stage_id,
        amount=patch.amount,
        responsible_id=patch.responsible_id,
        currency=currency,
    )
    fields: dict[str, FieldValue] = dict(patch.fields)
    if patch.stamp is not None and stamp_field_id is not None:
        fields[stamp_field_id] = patch.stamp
    if fields:
        body["custom_fields_values"] = encode_fields(fields, defs)
    return {"id": int(patch.deal_id), **body}


# --- contacts, pipelines, notes ----------------------------------------------


def _multitext_values(raw: Sequence[Mapping[str, Any]] | None, code: str) -> tuple[str, ...]:
    found: list[str] = []
    for item in raw or ():
        if item.get("field_code") == code:
            found.extend(str(v["value"]) for v in item.get("values") or () if v.get("value"))
    return tuple(found)


def decode_contact(raw: Mapping[str, Any]) -> Contact:
    custom = raw.get("custom_fields_values")
    return Contact(
        name=str(raw.get("name") or ""),
        phones=_multitext_values(custom, PHONE_CODE),
        emails=_multitext_values(custom, EMAIL_CODE),
        id=str(raw["id"]),
    )


def decode_user(raw: Mapping[str, Any]) -> User:
    email = raw.get("email")
    return User(
        id=str(raw["id"]), name=str(raw.get("name") or ""), email=str(email) if email else None
    )


def decode_company(raw: Mapping[str, Any]) -> Company:
    custom = raw.get("custom_fields_values")
    return Company(
        name=str(raw.get("name") or ""),
        phones=_multitext_values(custom, PHONE_CODE),
        emails=_multitext_values(custom, EMAIL_CODE),
        id=str(raw["id"]),
    )


def stage_semantics(status_id: int) -> Semantics:
    if status_id == WON_STATUS:
        return Semantics.WON
    if status_id == LOST_STATUS:
        return Semantics.LOST
    return Semantics.OPEN


def is_closing(status_id: str | None) -> bool:
    """Won or lost: ids that exist in every pipeline, so a move there must name one."""
    return status_id in {str(WON_STATUS), str(LOST_STATUS)}


def stage_homes(pipelines: Sequence[Pipeline]) -> dict[str, str]:
    """Status id → the one pipeline holding it (won/lost, held by all, are left out)."""
    return {
        stage.id: pipeline.id
        for pipeline in pipelines
        for stage in pipeline.stages
        if not is_closing(stage.id)
    }


def decode_pipeline(raw: Mapping[str, Any]) -> Pipeline:
    pipeline_id = str(raw["id"])
    statuses = sorted(
        (raw.get("_embedded") or {}).get("statuses") or (), key=lambda s: int(s.get("sort", 0))
    )
    stages = tuple(
        Stage(
            id=str(s["id"]),
            name=str(s["name"]),
            pipeline_id=pipeline_id,
            semantics=stage_semantics(int(s["id"])),
            sort=int(s.get("sort", 0)),
        )
        for s in statuses
    )
    return Pipeline(pipeline_id, str(raw["name"]), stages, is_default=bool(raw.get("is_main")))


def decode_note(raw: Mapping[str, Any]) -> Note:
    params = raw.get("params") or {}
    created = raw.get("created_at")
    return Note(
        deal_id=str(raw["entity_id"]),
        text=str(params.get("text") or ""),
        id=str(raw["id"]),
        created_at=from_unix(created) if created is not None else None,
    )


def encode_note(note: Note, *, request_id: str) -> Json:
    return {
        "entity_id": int(note.deal_id),
        "note_type": "common",
        "params": {"text": note.text},
        "request_id": request_id,
    }
