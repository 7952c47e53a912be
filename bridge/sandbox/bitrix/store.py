"""The whole in-memory portal: pipelines, custom fields, deals, contacts,
companies and their requisites, timeline comments, users. One re-entrant lock guards it all.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from typing import Any

from bridge.sandbox.bitrix.core import legacy_error
from bridge.sandbox.bitrix.deals import Change, Deals
from bridge.sandbox.bitrix.parties import COMPANY_FIELDS, CONTACT_FIELDS, Parties
from bridge.sandbox.bitrix.pipelines import Pipelines
from bridge.sandbox.bitrix.requisites import COMPANY_TYPE, CONTACT_TYPE, Requisites
from bridge.sandbox.bitrix.userfields import UserFields
from bridge.sandbox.emulator import SimClock

# (event name, data[FIELDS]) → whoever delivers events.
EventSink = Callable[[str, dict[str, str]], None]


class Portal:
    def __init__(self, clock: SimClock, emit: EventSink | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.emit: EventSink = emit or (lambda event, fields: None)
        self.pipelines = Pipelines()
        self.userfields = UserFields()
        self._multifield_ids = itertools.count(101)
        self.contacts = Parties(CONTACT_FIELDS, self.now, self._next_multifield)
        self.companies = Parties(COMPANY_FIELDS, self.now, self._next_multifield)
        self.requisites = Requisites(self.now, self._owner_exists)
        self.deals = Deals(self.pipelines, self.userfields, self.now, self._contact_exists)
        self.comments: dict[int, dict[str, Any]] = {}
        self._comment_ids = itertools.count(1)
        self.users: dict[int, dict[str, Any]] = {}
        self.admins: set[int] = set()
        self.add_user(1, "Анна", "Смирнова", "anna@agency.example", admin=True)

    def now(self) -> dt.datetime:
        """Portal time from the sandbox clock, at the 1-second resolution of DATE_MODIFY."""
        return self.clock.now().replace(microsecond=0)

    def _next_multifield(self) -> int:
        return next(self._multifield_ids)

    def _contact_exists(self, contact_id: int) -> bool:
        return contact_id in self.contacts.rows

    def _owner_exists(self, entity_type: int, entity_id: int) -> bool:
        owners = {CONTACT_TYPE: self.contacts.rows, COMPANY_TYPE: self.companies.rows}
        return entity_id in owners.get(entity_type, {})

    # ---- deals with events -----------------------------------------------------

    def fire(self, change: Change) -> None:
        if change.event is not None:
            self.emit(change.event, {"ID": str(change.deal_id), **change.data})

    def add_deal(self, fields: dict[str, Any], *, user_id: int, events: bool = True) -> int:
        change = self.deals.add(fields, user_id=user_id)
        if events:
            self.fire(change)
        return change.deal_id

    def update_deal(
        self,
        deal_id: int,
        fields: dict[str, Any],
        *,
        user_id: int,
        item_api: bool = False,
        allow_move: bool = False,
    ) -> Change:
        """``item_api``: crm.item.update rules (moves allowed, no-op writes skipped)."""
        change = self.deals.update(
            deal_id,
            fields,
            user_id=user_id,
            allow_move=item_api or allow_move,
            skip_unchanged=item_api,
        )
        self.fire(change)
        return change

    def fire_update(self, deal_id: int) -> None:
        self.emit("ONCRMDEALUPDATE", {"ID": str(deal_id)})

    def delete_deal(self, deal_id: int) -> None:
        self.fire(self.deals.delete(deal_id))
        for comment_id in [
            cid
            for cid, c in self.comments.items()
            if c["ENTITY_TYPE"] == "deal" and c["ENTITY_ID"] == deal_id
        ]:
            del self.comments[comment_id]

    # ---- contacts / companies -------------------------------------------------

    def add_contact(self, fields: dict[str, Any], *, user_id: int) -> int:
        contact_id = self.contacts.add(fields, user_id=user_id)
        self.emit("ONCRMCONTACTADD", {"ID": str(contact_id)})
        return contact_id

    def update_contact(self, contact_id: int, fields: dict[str, Any], *, user_id: int) -> None:
        if contact_id not in self.contacts.rows:
            raise legacy_error("Not found")
        self.contacts.update(contact_id, fields, user_id=user_id)
        self.emit("ONCRMCONTACTUPDATE", {"ID": str(contact_id)})

    def delete_contact(self, contact_id: int) -> None:
        if self.contacts.rows.pop(contact_id, None) is None:
            raise legacy_error("Not found")
        self.deals.forget_contact(contact_id)
        self.requisites.forget_owner(CONTACT_TYPE, contact_id)
        self.emit("ONCRMCONTACTDELETE", {"ID": str(contact_id)})

    def add_company(self, fields: dict[str, Any], *, user_id: int) -> int:
        company_id = self.companies.add(fields, user_id=user_id)
        self.emit("ONCRMCOMPANYADD", {"ID": str(company_id)})
        return company_id

    def add_userfield(self, fields: dict[str, Any]) -> int:
        return self.userfields.add(fields)

    # ---- timeline --------------------------------------------------------------

    def add_comment(self, entity_type: str, entity_id: int, text: str, author: int) -> int:
        comment_id = next(self._comment_ids)
        self.comments[comment_id] = {
            "ID": comment_id,
            "ENTITY_ID": entity_id,
            "ENTITY_TYPE": entity_type,
            "CREATED": self.now(),
            "COMMENT": text,
            "AUTHOR_ID": author,
            "FILES": {},
        }
        return comment_id

    # ---- users -------------------------------------------------------------------

    def add_user(
        self, user_id: int, name: str, last_name: str, email: str, *, admin: bool = False
    ) -> None:
        if admin:
            self.admins.add(user_id)
        self.users[user_id] = {
            "ID": str(user_id),
            "ACTIVE": True,
            "NAME": name,
            "LAST_NAME": last_name,
            "SECOND_NAME": "",
            "EMAIL": email,
            "LAST_LOGIN": "2026-11-20T09:30:00+03:00",
            "DATE_REGISTER": "2023-08-24T03:00:00+03:00",
            "IS_ONLINE": "N",
            "TIMESTAMP_X": "24.08.2023 13:19:39",
            "LAST_ACTIVITY_DATE": "2024-08-29 10:30:11",
            "PERSONAL_GENDER": "",
            "PERSONAL_BIRTHDAY": "",
            "WORK_POSITION": "Администратор" if admin else "Менеджер",
            "UF_EMPLOYMENT_DATE": "",
            "UF_DEPARTMENT": [1],
            "USER_TYPE": "employee",
        }
