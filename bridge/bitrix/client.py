"""``BitrixCrm``: the :class:`bridge.crm.Crm` protocol over a Bitrix24 inbound webhook.

Reads and writes go in the largest units the API allows: ``batch`` requests of
50 commands, list commands of 50 rows or 50 ids each (2 500 deals per HTTP
request). All HTTP goes through :meth:`bridge.bitrix.transport.Transport.request`,
which maps every failure to one error of :mod:`bridge.crm`
(:func:`bridge.bitrix.errors.classify`); wire ⇄ model conversion is
:mod:`bridge.bitrix.codec`, the change feed :mod:`bridge.bitrix.listing`, batch
writes :mod:`bridge.bitrix.writes`. The amoCRM adapter has the same modules
(``docs/adapters.md``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from bridge.bitrix import codec, listing, writes
from bridge.bitrix.batch import MAX_COMMANDS, PAGE_SIZE, command
from bridge.bitrix.errors import classify
from bridge.bitrix.transport import Transport, pacer_for
from bridge.crm import (
    CodecError,
    PermanentError,
    WriteResult,
    group_by_stamp,
)
from bridge.model import (
    ChangePage,
    Company,
    Contact,
    Deal,
    DealDraft,
    DealPatch,
    FieldDef,
    Note,
    Pipeline,
    User,
)
from bridge.ratelimit import Pacer
from bridge.secrets import Secret

log = logging.getLogger(__name__)

CONTACT_SELECT = ("ID", "NAME", "SECOND_NAME", "LAST_NAME", "PHONE", "EMAIL")
COMPANY_SELECT = ("ID", "TITLE", "PHONE", "EMAIL")


def _chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _plain_rows(result: Any) -> list[dict[str, Any]]:
    return [r for r in result or () if isinstance(r, dict)]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


class BitrixCrm:
    """One Bitrix24 portal, reached through an inbound webhook URL (a ``Secret``)."""

    def __init__(
        self,
        webhook_url: Secret,
        *,
        system: str,
        pacer: Pacer | None = None,
        timeout: float = 30,
        stamp_field: str = "ORIGIN_ID",
        label_lang: str = "ru",
    ) -> None:
        self._system = system
        self._lang = label_lang
        self._stamp_field = stamp_field
        self.transport = Transport(
            webhook_url,
            system=system,
            pacer=pacer or pacer_for("standard"),
            timeout=timeout,
        )
        self._fields: dict[str, FieldDef] | None = None
        self._fields_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BitrixCrm(system={self._system!r})"

    @property
    def system(self) -> str:
        return self._system

    @property
    def requests(self) -> int:
        """HTTP requests this adapter has sent (for metrics and benchmarks)."""
        return self.transport.requests

    # --- catalogue ------------------------------------------------------------------

    def pipelines(self) -> list[Pipeline]:
        answer = self.transport.request("crm.category.list", {"entityTypeId": 2})
        result = answer.get("result") or {}
        categories = sorted(
            result.get("categories") or [], key=lambda c: (int(c.get("sort") or 0), int(c["id"]))
        )
        stage_rows: dict[str, list[dict[str, Any]]] = {}
        for group in _chunks([str(c["id"]) for c in categories], MAX_COMMANDS):
            commands = {
                f"s{pid}": command(
                    "crm.status.list",
                    {"filter": {"ENTITY_ID": codec.stage_entity(pid)}, "order": {"SORT": "ASC"}},
                )
                for pid in group
            }
            found = self._read_batch(commands)
            stage_rows.update({key[1:]: list(rows or ()) for key, rows in found.items()})
        return [codec.decode_pipeline(c, stage_rows.get(str(c["id"]), ())) for c in categories]

    def custom_fields(self) -> list[FieldDef]:
        # Labels only come back when a language is asked for (reference §8).
        params = {"filter": {"LANG": self._lang}, "order": {"SORT": "ASC", "ID": "ASC"}}
        rows = self._list_all("crm.deal.userfield.list", params)
        defs = [codec.decode_field_def(row) for row in rows]
        with self._fields_lock:
            self._fields = {d.id: d for d in defs}
        return defs

    def _catalogue(self) -> dict[str, FieldDef]:
        with self._fields_lock:
            known = self._fields
        return known if known is not None else {d.id: d for d in self.custom_fields()}

    def _deal_select(self) -> list[str]:
        extra = [self._stamp_field] if self._stamp_field.startswith("UF_") else []
        return [*codec.ITEM_SELECT, *self._catalogue(), *extra]

    # --- reads ------------------------------------------------------------------------

    def _decode(self, rows: Iterable[dict[str, Any]]) -> list[Deal]:
        fields = self._catalogue()
        try:
            return [codec.decode_deal(r, fields, stamp_field=self._stamp_field) for r in rows]
        except (CodecError, KeyError, ValueError) as exc:
            raise PermanentError(f"unreadable deal: {exc}", system=self._system) from None

    def _read_batch(self, commands: dict[str, str]) -> dict[str, Any]:
        """Results of read commands (≤ 50); any failed command fails the read."""
        reply, _ = self.transport.batch(commands)
        for key in commands:
            _, error = reply.outcome(key)
            if error is not None:
                raise classify(error, system=self._system)
        return {key: reply.results.get(key) for key in commands}

    def _list_by(
        self,
        method: str,
        key: str,
        values: Sequence[str],
        base: dict[str, Any],
        rows_of: Callable[[Any], list[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """Rows whose ``key`` is in ``values``: 50 values per command, 50 commands per request."""
        commands = {}
        for n, chunk in enumerate(_chunks(_unique(values), PAGE_SIZE)):
            params = {**base, "filter": {**base.get("filter", {}), f"@{key}": chunk}, "start": "-1"}
            commands[f"q{n}"] = command(method, params)
        rows: list[dict[str, Any]] = []
        for group in _chunks(list(commands), MAX_COMMANDS):
            found = self._read_batch({k: commands[k] for k in group})
            for result in found.values():
                rows.extend(rows_of(result))
        return rows

    def _deals_by(self, key: str, values: Sequence[str], **filters: str) -> list[Deal]:
        base = {**listing.BASE, "filter": filters, "select": self._deal_select()}
        return self._decode(self._list_by(listing.METHOD, key, values, base, listing.rows_of))

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        if not ids:
            return {}
        return {d.id: d for d in self._deals_by("id", ids)}

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        return {stamp: deals[0] for stamp, deals in self.find_stamped(stamps).items()}

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        """One filtered list per 50 stamps, 50 lists per batch: 1 request per 2,500 stamps.

        The stamp is an indexed filter, so every pipeline is searched at that price.
        """
        if not stamps:
            return {}
        ours = self._stamp_field == "ORIGIN_ID"
        extra = {"=originatorId": codec.ORIGINATOR} if ours else {}
        deals = self._deals_by(codec.item_name(self._stamp_field), stamps, **extra)
        return group_by_stamp(deals, stamps)

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        if not ids:
            return {}
        base: dict[str, Any] = {"select": list(CONTACT_SELECT)}
        rows = self._list_by("crm.contact.list", "ID", ids, base, _plain_rows)
        return {str(r["ID"]): codec.decode_contact(r) for r in rows}

    def users(self) -> list[User]:
        found: list[User] = []
        start: Any = 0
        while start is not None:
            reply = self.transport.request("user.get", {"start": start})
            found += [codec.decode_user(row) for row in reply.get("result") or ()]
            start = reply.get("next")
        return found

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        if not ids:
            return {}
        base: dict[str, Any] = {"select": list(COMPANY_SELECT)}
        rows = self._list_by("crm.company.list", "ID", ids, base, _plain_rows)
        return {str(r["ID"]): codec.decode_company(r) for r in rows}

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        for rows, watermark in listing.changes(self.transport, since, self._deal_select()):
            yield ChangePage(tuple(self._decode(rows)), watermark)

    def list_notes(self, deal_id: str) -> list[Note]:
        rows = self._list_all(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}, "order": {"ID": "ASC"}},
        )
        return sorted((codec.decode_note(r) for r in rows), key=lambda n: int(n.id or 0))

    def _list_all(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Offset paging for small lists (catalogues, one deal's notes)."""
        rows: list[dict[str, Any]] = []
        start: Any = 0
        while start is not None:
            answer = self.transport.request(method, {**params, "start": start})
            rows.extend(r for r in answer.get("result") or () if isinstance(r, dict))
            start = answer.get("next")
        return rows

    # --- writes -----------------------------------------------------------------------

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        return writes.create(self.transport, drafts, stamp_field=self._stamp_field)

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        return writes.update(self.transport, patches, stamp_field=self._stamp_field)

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        return writes.notes(self.transport, notes)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> BitrixCrm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
