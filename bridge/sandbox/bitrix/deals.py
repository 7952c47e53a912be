"""Deals: one typed store behind both ``crm.deal.*`` and ``crm.item.*``. Pure state.

Writes go through :meth:`Deals.apply`, which knows the pipeline rules: a
legacy update cannot move a deal to another pipeline (a foreign ``STAGE_ID`` is
ignored), ``crm.item.update`` can, and such a move is reported as
``ONCRMDEALMOVETOCATEGORY`` rather than ``ONCRMDEALUPDATE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bridge.sandbox.bitrix.core import PORTAL_CURRENCY, legacy_error, parse_int
from bridge.sandbox.bitrix.fields import (
    DEAL_FIELDS,
    DEAL_SPECS,
    DERIVED,
    coerce,
    coerce_uf,
    uf_empty,
)
from bridge.sandbox.bitrix.pipelines import Pipelines
from bridge.sandbox.bitrix.userfields import UserFields

Record = dict[str, Any]
_DEFAULTS: Record = {
    "TYPE_ID": "SALE",
    "CATEGORY_ID": 0,
    "CURRENCY_ID": PORTAL_CURRENCY,
    "OPPORTUNITY": Decimal("0"),
    "TAX_VALUE": Decimal("0"),
    "IS_MANUAL_OPPORTUNITY": False,
    "IS_RECURRING": False,
    "IS_RETURN_CUSTOMER": False,
    "IS_REPEATED_APPROACH": False,
    "OPENED": True,
}
_AUTHOR_FIELDS = ("ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "MOVED_BY_ID")


@dataclass(slots=True)
class Change:
    """What a write did: which event it fires (None: nothing changed)."""

    deal_id: int
    event: str | None
    data: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Deals:
    pipelines: Pipelines
    userfields: UserFields
    now: Callable[[], dt.datetime]
    contact_exists: Callable[[int], bool]
    rows: dict[int, Record] = field(default_factory=dict)
    _next_id: int = 1

    # ---- writes --------------------------------------------------------------

    def add(self, fields: dict[str, Any], *, user_id: int) -> Change:
        deal_id = self._next_id
        self._next_id += 1
        record = self._blank(deal_id, user_id)
        self.apply(record, fields, creating=True, allow_move=True, user_id=user_id)
        if not record["TITLE"]:
            record["TITLE"] = f"Сделка #{deal_id}"
        self.rows[deal_id] = record
        return Change(deal_id, "ONCRMDEALADD")

    def _blank(self, deal_id: int, user_id: int) -> Record:
        """A new deal as the portal fills it in before the client's fields are applied."""
        now = self.now()
        record: Record = {spec.name: None for spec in DEAL_FIELDS} | _DEFAULTS
        record |= {"ID": deal_id, "DATE_CREATE": now, "DATE_MODIFY": now, "CONTACTS": []}
        record |= {"BEGINDATE": now.date(), "CLOSEDATE": now.date() + dt.timedelta(days=7)}
        record |= {key: user_id for key in _AUTHOR_FIELDS}
        record |= {name: uf_empty(uf) for name, uf in self.userfields.fields.items()}
        return record

    def update(
        self,
        deal_id: int,
        fields: dict[str, Any],
        *,
        user_id: int,
        allow_move: bool = False,
        skip_unchanged: bool = False,
    ) -> Change:
        record = self.require(deal_id)
        before_category = record["CATEGORY_ID"]
        changed = self.apply(record, fields, creating=False, allow_move=allow_move, user_id=user_id)
        if not changed and skip_unchanged:
            return Change(deal_id, None)
        record["DATE_MODIFY"] = self.now()
        record["MODIFY_BY_ID"] = user_id
        if record["CATEGORY_ID"] != before_category:
            data = {"CATEGORY_ID": str(record["CATEGORY_ID"]), "STAGE_ID": record["STAGE_ID"]}
            return Change(deal_id, "ONCRMDEALMOVETOCATEGORY", data)
        return Change(deal_id, "ONCRMDEALUPDATE")

    def delete(self, deal_id: int) -> Change:
        self.require(deal_id)
        del self.rows[deal_id]
        return Change(deal_id, "ONCRMDEALDELETE")

    def require(self, deal_id: int) -> Record:
        record = self.rows.get(deal_id)
        if record is None:
            raise legacy_error("Not found")
        return record

    def apply(
        self,
        record: Record,
        fields: dict[str, Any],
        *,
        creating: bool,
        allow_move: bool,
        user_id: int,
    ) -> set[str]:
        """Write legacy-named ``fields`` into ``record``; the keys whose value changed."""
        changed: set[str] = set()
        stage_wanted: str | None = None
        category_wanted: int | None = None
        for raw_key, value in fields.items():
            key = raw_key.upper()
            if key == "STAGE_ID":
                stage_wanted = None if value in (None, "") else str(value)
            elif key == "CATEGORY_ID":
                category_wanted = parse_int(value) if (creating or allow_move) else None
            elif key in {"CONTACT_IDS", "CONTACT_ID"}:
                ids = value if isinstance(value, list) else [value]
                if self._set_contacts(record, ids, primary_only=key == "CONTACT_ID"):
                    changed.add("CONTACT_IDS")
            elif key in DEAL_SPECS and not DEAL_SPECS[key].readonly and key not in DERIVED:
                self._put(record, key, coerce(DEAL_SPECS[key].type, value), changed)
            elif key in self.userfields.fields:
                self._put(record, key, coerce_uf(self.userfields.fields[key], value), changed)
        self._place(record, stage_wanted, category_wanted, creating, changed, user_id)
        now = self.now()
        record["LAST_ACTIVITY_TIME"] = record["LAST_ACTIVITY_TIME"] or now
        record["LAST_ACTIVITY_BY"] = record["LAST_ACTIVITY_BY"] or user_id
        self.derive(record)
        return changed

    @staticmethod
    def _put(record: Record, key: str, value: Any, changed: set[str]) -> None:
        if record.get(key) != value:
            record[key] = value
            changed.add(key)

    def _place(
        self,
        record: Record,
        stage: str | None,
        category: int | None,
        creating: bool,
        changed: set[str],
        user_id: int,
    ) -> None:
        current = record["CATEGORY_ID"]
        if category is not None and category not in self.pipelines.categories:
            category = None
        if category is None and creating and stage is not None:
            category = self.pipelines.category_of(stage)
        target = current if category is None else category
        if stage is not None and self.pipelines.category_of(stage) != target:
            stage = None  # a stage of another pipeline is silently ignored
        if stage is None and (target != current or creating):
            stage = self.pipelines.first_stage(target)
        if target != current:
            record["CATEGORY_ID"] = target
            changed.add("CATEGORY_ID")
        if stage is not None and stage != record["STAGE_ID"]:
            record["STAGE_ID"] = stage
            record["MOVED_TIME"] = self.now()
            record["MOVED_BY_ID"] = user_id
            changed.add("STAGE_ID")

    def _set_contacts(self, record: Record, raw_ids: list[Any], *, primary_only: bool) -> bool:
        ids = [i for i in (parse_int(v) for v in raw_ids) if i and self.contact_exists(i)]
        current = [link["CONTACT_ID"] for link in record["CONTACTS"]]
        if primary_only:
            ids = ids[:1] + [i for i in current if i not in ids[:1]]
        if ids == current:
            return False
        record["CONTACTS"] = [
            {"CONTACT_ID": cid, "SORT": (n + 1) * 10, "ROLE_ID": 0, "IS_PRIMARY": n == 0}
            for n, cid in enumerate(dict.fromkeys(ids))
        ]
        return True

    def set_links(self, deal_id: int, items: list[dict[str, Any]]) -> None:
        """``crm.deal.contact.items.set``: replace all links; first ``Y`` wins primary."""
        record = self.require(deal_id)
        links: list[dict[str, Any]] = []
        for n, item in enumerate(items):
            cid = parse_int(item.get("CONTACT_ID"))
            if (
                not cid
                or not self.contact_exists(cid)
                or any(x["CONTACT_ID"] == cid for x in links)
            ):
                continue
            sort = parse_int(item.get("SORT")) or (n + 1) * 10
            primary = str(item.get("IS_PRIMARY", "N")).upper() == "Y"
            links.append({"CONTACT_ID": cid, "SORT": sort, "ROLE_ID": 0, "IS_PRIMARY": primary})
        first_primary = next((x for x in links if x["IS_PRIMARY"]), links[0] if links else None)
        for link in links:
            link["IS_PRIMARY"] = link is first_primary
        record["CONTACTS"] = links
        record["DATE_MODIFY"] = self.now()
        self.derive(record)

    def derive(self, record: Record) -> None:
        semantics = self.pipelines.semantics(record["STAGE_ID"])
        record["STAGE_SEMANTIC_ID"] = semantics
        record["CLOSED"] = semantics != "P"
        record["IS_NEW"] = record["STAGE_ID"] == self.pipelines.first_stage(record["CATEGORY_ID"])
        links = sorted(record["CONTACTS"], key=lambda x: (not x["IS_PRIMARY"], x["SORT"]))
        record["CONTACT_IDS"] = [x["CONTACT_ID"] for x in links]
        record["CONTACT_ID"] = links[0]["CONTACT_ID"] if links else None

    def forget_contact(self, contact_id: int) -> None:
        for record in self.rows.values():
            record["CONTACTS"] = [x for x in record["CONTACTS"] if x["CONTACT_ID"] != contact_id]
            self.derive(record)
