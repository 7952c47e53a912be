"""Bitrix24 wire JSON ⇄ the CRM-neutral model. Pure functions, no I/O.

Legacy ``crm.deal.*`` answers carry almost every scalar as a string (ids,
amounts, flags ``"Y"``/``"N"``), dates as ISO-8601 with the portal's offset, and
money user fields as ``"300|RUB"``. The universal ``crm.item.*`` API uses
camelCase names and JSON numbers; :func:`legacy_keys` folds it into the legacy
shape so one decoder serves both. Writes go the other way: every value becomes
the string Bitrix24 expects inside a ``batch`` command (never a Python bool or
``None``, which fast-bitrix24 and PHP would turn into ``"True"``/``"None"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bridge.bitrix.scalars import (
    WireValue,
    day,
    decimal,
    flag,
    link_id,
    money,
    text,
    timestamp,
    wire_field,
    wire_scalar,
    wire_time,
)
from bridge.crm import CodecError
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

# The scalar converters of :mod:`bridge.bitrix.scalars` are part of this interface.
__all__ = [
    "ITEM_SELECT",
    "ORIGINATOR",
    "Wire",
    "WireValue",
    "day",
    "deal_amount",
    "deal_stamp",
    "decimal",
    "decode_contact",
    "decode_deal",
    "decode_field_def",
    "decode_legacy_deal",
    "decode_note",
    "decode_pipeline",
    "decode_stage",
    "encode_company",
    "encode_contact",
    "encode_draft",
    "encode_move",
    "encode_note",
    "encode_patch",
    "field_value",
    "flag",
    "item_name",
    "legacy_keys",
    "link_id",
    "money",
    "multifield",
    "stage_entity",
    "stage_semantics",
    "text",
    "timestamp",
    "wire_field",
    "wire_scalar",
    "wire_time",
]

ORIGINATOR = "partner-bridge"  # ORIGINATOR_ID of every deal the bridge creates

Wire = Mapping[str, Any]

_USER_TYPES = {
    "string": FieldKind.STRING,
    "url": FieldKind.STRING,
    "integer": FieldKind.NUMBER,
    "double": FieldKind.NUMBER,
    "money": FieldKind.MONEY,
    "enumeration": FieldKind.ENUM,
    "boolean": FieldKind.BOOLEAN,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "employee": FieldKind.USER,
}
_SEMANTICS = {None: Semantics.OPEN, "": Semantics.OPEN, "P": Semantics.OPEN}
_SEMANTICS |= {"S": Semantics.WON, "F": Semantics.LOST}
_EXTRA_SEMANTICS = {"process": Semantics.OPEN, "success": Semantics.WON}
_EXTRA_SEMANTICS |= {"failure": Semantics.LOST, "apology": Semantics.LOST}
_ITEM_KEYS = {
    "id": "ID",
    "title": "TITLE",
    "categoryId": "CATEGORY_ID",
    "stageId": "STAGE_ID",
    "opportunity": "OPPORTUNITY",
    "currencyId": "CURRENCY_ID",
    "assignedById": "ASSIGNED_BY_ID",
    "createdTime": "DATE_CREATE",
    "updatedTime": "DATE_MODIFY",
    "updatedBy": "MODIFY_BY_ID",
    "companyId": "COMPANY_ID",
    "contactId": "CONTACT_ID",
    "contactIds": "CONTACT_IDS",
    "originatorId": "ORIGINATOR_ID",
    "originId": "ORIGIN_ID",
}
_LEGACY_KEYS = {legacy: camel for camel, legacy in _ITEM_KEYS.items()}
# Standard deal fields the adapter reads through crm.item.list; custom fields are
# added by their original UF_CRM_* names (useOriginalUfNames=Y).
ITEM_SELECT = tuple(_ITEM_KEYS)


def deal_amount(raw: Wire) -> Money | None:
    currency = text(raw.get("CURRENCY_ID"))
    amount = raw.get("OPPORTUNITY")
    if currency is None or amount is None or amount == "":
        return None
    return Money(decimal(amount), currency)


# --- custom fields -------------------------------------------------------------


def decode_field_def(raw: Wire) -> FieldDef:
    """One ``crm.deal.userfield.list`` row."""
    name = str(raw["FIELD_NAME"])
    options = tuple(
        EnumOption(str(o["ID"]), str(o.get("VALUE", ""))) for o in raw.get("LIST") or ()
    )
    label = raw.get("EDIT_FORM_LABEL") or raw.get("LIST_COLUMN_LABEL")
    return FieldDef(
        id=name,
        name=str(label) if isinstance(label, str) and label else name,
        kind=_USER_TYPES.get(str(raw.get("USER_TYPE_ID")), FieldKind.OTHER),
        multiple=flag(raw.get("MULTIPLE", "N")),
        options=options,
        code=text(raw.get("XML_ID")),
    )


def _one_value(kind: FieldKind, value: Any) -> FieldValue:
    if kind is FieldKind.MONEY:
        return money(value)
    if kind is FieldKind.NUMBER:
        return decimal(value)
    if kind is FieldKind.BOOLEAN:
        return flag(value)
    if kind is FieldKind.DATE:
        return day(value)
    if kind is FieldKind.DATETIME:
        return timestamp(value)
    return str(value)


def field_value(definition: FieldDef | None, value: Any) -> FieldValue:
    """A custom field's wire value → model value (enumerations stay option ids)."""
    if definition is None:
        if isinstance(value, list):
            return tuple(str(v) for v in value)
        return text(value)
    if definition.multiple:
        items = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        return tuple(str(v) for v in items if v not in (None, ""))
    if value is None or (value == "" and definition.kind is not FieldKind.BOOLEAN):
        return None
    return _one_value(definition.kind, value)


# --- records: wire → model ------------------------------------------------------


def legacy_keys(item: Wire) -> dict[str, Any]:
    """A ``crm.item.*`` deal (camelCase) → legacy UPPER_CASE keys."""
    return {_ITEM_KEYS.get(k, k): v for k, v in item.items()}


def item_name(legacy: str) -> str:
    """The ``crm.item.*`` name of a legacy field (custom fields keep theirs)."""
    return _LEGACY_KEYS.get(legacy, legacy)


def decode_deal(
    item: Wire, fields: Mapping[str, FieldDef], *, stamp_field: str = "ORIGIN_ID"
) -> Deal:
    """A ``crm.item.list`` deal (numbers, camelCase, original UF names) → :class:`Deal`."""
    return decode_legacy_deal(legacy_keys(item), fields, stamp_field=stamp_field)


def _contact_ids(raw: Wire) -> tuple[str, ...]:
    many = raw.get("CONTACT_IDS")
    if isinstance(many, list):
        return tuple(str(c) for c in many if link_id(c))
    one = link_id(raw.get("CONTACT_ID"))
    return (one,) if one else ()


def deal_stamp(raw: Wire, stamp_field: str = "ORIGIN_ID") -> str | None:
    """The bridge's stamp; ``ORIGIN_ID`` counts only on deals the bridge created."""
    if stamp_field == "ORIGIN_ID" and raw.get("ORIGINATOR_ID") != ORIGINATOR:
        return None
    return text(raw.get(stamp_field))


def decode_legacy_deal(
    raw: Wire, fields: Mapping[str, FieldDef], *, stamp_field: str = "ORIGIN_ID"
) -> Deal:
    """A ``crm.deal.get/list`` row (or a :func:`legacy_keys` item) → :class:`Deal`."""
    custom = {
        key: field_value(fields.get(key), value)
        for key, value in raw.items()
        if key.startswith("UF_") and key != stamp_field
    }
    return Deal(
        id=str(raw["ID"]),
        title=str(raw.get("TITLE") or ""),
        pipeline_id=str(raw.get("CATEGORY_ID") or "0"),
        stage_id=str(raw.get("STAGE_ID") or ""),
        amount=deal_amount(raw),
        created_at=timestamp(raw["DATE_CREATE"]),
        updated_at=timestamp(raw["DATE_MODIFY"]),
        responsible_id=link_id(raw.get("ASSIGNED_BY_ID")),
        contact_ids=_contact_ids(raw),
        company_id=link_id(raw.get("COMPANY_ID")),
        stamp=deal_stamp(raw, stamp_field),
        fields=custom,
        modified_by=link_id(raw.get("MODIFY_BY_ID")),
    )


def multifield(raw: Wire, kind: str) -> tuple[str, ...]:
    """``PHONE``/``EMAIL`` rows → their values; the key is absent when empty."""
    rows = raw.get(kind) or ()
    return tuple(str(r["VALUE"]) for r in rows if isinstance(r, Mapping) and r.get("VALUE"))


def decode_contact(raw: Wire) -> Contact:
    parts = (text(raw.get(k)) for k in ("NAME", "SECOND_NAME", "LAST_NAME"))
    return Contact(
        name=" ".join(p for p in parts if p),
        phones=multifield(raw, "PHONE"),
        emails=multifield(raw, "EMAIL"),
        id=str(raw["ID"]),
    )


def decode_user(raw: Wire) -> User:
    parts = (text(raw.get(k)) for k in ("NAME", "LAST_NAME"))
    name = " ".join(p for p in parts if p) or text(raw.get("EMAIL")) or str(raw["ID"])
    return User(id=str(raw["ID"]), name=name, email=text(raw.get("EMAIL")) or None)


def decode_company(raw: Wire) -> Company:
    return Company(
        name=text(raw.get("TITLE")) or "",
        phones=multifield(raw, "PHONE"),
        emails=multifield(raw, "EMAIL"),
        id=str(raw["ID"]),
    )


def decode_note(raw: Wire) -> Note:
    created = raw.get("CREATED")
    return Note(
        deal_id=str(raw["ENTITY_ID"]),
        text=str(raw.get("COMMENT") or ""),
        id=str(raw["ID"]),
        created_at=timestamp(created) if created else None,
    )


def stage_semantics(raw: Wire) -> Semantics:
    """``SEMANTICS`` null/``S``/``F``; ``EXTRA.SEMANTICS`` wins when present."""
    extra = raw.get("EXTRA")
    if isinstance(extra, Mapping) and extra.get("SEMANTICS") in _EXTRA_SEMANTICS:
        return _EXTRA_SEMANTICS[str(extra["SEMANTICS"])]
    found = _SEMANTICS.get(raw.get("SEMANTICS"))
    if found is None:
        raise CodecError(f"unknown stage semantics {raw.get('SEMANTICS')!r}")
    return found


def decode_stage(raw: Wire, pipeline_id: str) -> Stage:
    return Stage(
        id=str(raw["STATUS_ID"]),
        name=str(raw.get("NAME") or raw["STATUS_ID"]),
        pipeline_id=pipeline_id,
        semantics=stage_semantics(raw),
        sort=int(str(raw.get("SORT") or 0)),
    )


def stage_entity(pipeline_id: str) -> str:
    """``crm.status.list`` ENTITY_ID of a pipeline's stages."""
    return "DEAL_STAGE" if pipeline_id == "0" else f"DEAL_STAGE_{pipeline_id}"


def decode_pipeline(category: Wire, stage_rows: Iterable[Wire]) -> Pipeline:
    """A ``crm.category.list`` row plus its ``crm.status.list`` rows."""
    pid = str(category["id"])
    stages = sorted((decode_stage(r, pid) for r in stage_rows), key=lambda s: s.sort)
    return Pipeline(
        id=pid,
        name=str(category.get("name") or pid),
        stages=tuple(stages),
        is_default=flag(category.get("isDefault", "N")),
    )


# --- model → wire ---------------------------------------------------------------


def _common(
    title: str | None,
    amount: Money | None,
    responsible: str | None,
    fields: Mapping[str, FieldValue],
) -> dict[str, WireValue]:
    out: dict[str, WireValue] = {}
    if title is not None:
        out["TITLE"] = title
    if amount is not None:
        out["OPPORTUNITY"] = wire_scalar(amount.amount)
        out["CURRENCY_ID"] = amount.currency
        out["IS_MANUAL_OPPORTUNITY"] = "Y"
    if responsible is not None:
        out["ASSIGNED_BY_ID"] = responsible
    out.update({name: wire_field(value) for name, value in fields.items()})
    return out


def encode_draft(draft: DealDraft, *, stamp_field: str = "ORIGIN_ID") -> dict[str, WireValue]:
    """``crm.deal.add`` fields (contact/company links are added by the caller)."""
    out = _common(draft.title, draft.amount, draft.responsible_id, draft.fields)
    out["CATEGORY_ID"] = draft.pipeline_id
    out["STAGE_ID"] = draft.stage_id
    if draft.stamp is not None:
        out["ORIGINATOR_ID"] = ORIGINATOR
        out[stamp_field] = draft.stamp
    return out


def encode_patch(patch: DealPatch, *, stamp_field: str = "ORIGIN_ID") -> dict[str, WireValue]:
    """``crm.deal.update`` fields: only what the patch names (stage in-pipeline only)."""
    out = _common(patch.title, patch.amount, patch.responsible_id, patch.fields)
    if patch.stage_id is not None and patch.pipeline_id is None:
        out["STAGE_ID"] = patch.stage_id
    if patch.stamp is not None:
        out["ORIGINATOR_ID"] = ORIGINATOR
        out[stamp_field] = patch.stamp
    return out


def encode_move(patch: DealPatch) -> dict[str, WireValue] | None:
    """``crm.item.update`` fields for a pipeline move, which ``crm.deal.update`` ignores."""
    if patch.pipeline_id is None:
        return None
    out: dict[str, WireValue] = {"categoryId": patch.pipeline_id}
    if patch.stage_id is not None:
        out["stageId"] = patch.stage_id
    return out


def encode_note(note: Note) -> dict[str, WireValue]:
    """``crm.timeline.comment.add`` fields: a comment on the deal's timeline."""
    return {"ENTITY_ID": note.deal_id, "ENTITY_TYPE": "deal", "COMMENT": note.text}


def _multi(values: Sequence[str]) -> list[dict[str, str]]:
    return [{"VALUE": v, "VALUE_TYPE": "WORK"} for v in values]


def encode_contact(person: Contact) -> dict[str, Any]:
    out: dict[str, Any] = {"NAME": person.name, "OPENED": "Y"}
    if person.phones:
        out["PHONE"] = _multi(person.phones)
    if person.emails:
        out["EMAIL"] = _multi(person.emails)
    return out


def encode_company(firm: Company) -> dict[str, Any]:
    out: dict[str, Any] = {"TITLE": firm.name, "OPENED": "Y"}
    if firm.phones:
        out["PHONE"] = _multi(firm.phones)
    if firm.emails:
        out["EMAIL"] = _multi(firm.emails)
    return out
