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

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from bridge.bitrix import codec, companies, listing, writes
from bridge.bitrix.batch import MAX_COMMANDS, PAGE_SIZE, command, ref
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
NOTES_METHOD = "crm.timeline.comment.list"


def _chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _plain_rows(result: Any) -> list[dict[str, Any]]:
    return [r for r in result or () if isinstance(r, dict)]


def _notes_params(deal_id: str) -> dict[str, Any]:
    return {"filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}, "order": {"ID": "ASC"}}


def _oldest_first(notes: Iterable[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: int(n.id or 0))


def _stages_command(entity: str) -> str:
    """A ``crm.status.list`` batch command: one pipeline's stages in their order."""
    return command("crm.status.list", {"filter": {"ENTITY_ID": entity}, "order": {"SORT": "ASC"}})


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
        self._presets: list[dict[str, Any]] | None = None
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
        """Every deal pipeline with its stages, in one ``batch`` request for up to 48.

        The batch lists the categories and, chained through ``$result`` references, the
        stages of the category at each position (unused positions refer to nothing and
        list no stages); the default pipeline (id 0) has its own entity name. Categories
        beyond the chained positions are read in further batches of 50.
        """
        commands = {
            "cat": command("crm.category.list", {"entityTypeId": 2}),
            "s0": _stages_command(codec.stage_entity("0")),
        }
        slots = MAX_COMMANDS - len(commands)
        for k in range(slots):
            entity = codec.stage_entity(ref("cat", "categories", k, "id"))
            commands[f"k{k}"] = _stages_command(entity)
        found = self._read_batch(commands)
        result = found["cat"] if isinstance(found["cat"], dict) else {}
        listed = [c for c in result.get("categories") or [] if isinstance(c, dict)]
        stage_rows: dict[str, list[dict[str, Any]]] = {"0": list(found["s0"] or ())}
        for k, category in enumerate(listed[:slots]):
            if str(category["id"]) != "0":
                stage_rows[str(category["id"])] = list(found[f"k{k}"] or ())
        rest = [str(c["id"]) for c in listed[slots:] if str(c["id"]) != "0"]
        for group in _chunks(rest, MAX_COMMANDS):
            more = self._read_batch(
                {f"s{pid}": _stages_command(codec.stage_entity(pid)) for pid in group}
            )
            stage_rows.update({key[1:]: list(rows or ()) for key, rows in more.items()})
        categories = sorted(listed, key=lambda c: (int(c.get("sort") or 0), int(c["id"])))
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

    def _commands_by(
        self,
        method: str,
        key: str,
        chunks: Sequence[Sequence[str]],
        base: dict[str, Any],
        prefix: str,
    ) -> dict[str, str]:
        """One list command per chunk of ≤ 50 values of ``key``."""
        commands = {}
        for n, chunk in enumerate(chunks):
            params = {**base, "filter": {**base.get("filter", {}), f"@{key}": list(chunk)}}
            commands[f"{prefix}{n}"] = command(method, {**params, "start": "-1"})
        return commands

    def _read_all(self, commands: dict[str, str]) -> dict[str, Any]:
        """Read commands of any number, 50 per request."""
        found: dict[str, Any] = {}
        for group in _chunks(list(commands), MAX_COMMANDS):
            found.update(self._read_batch({k: commands[k] for k in group}))
        return found

    def _list_by(
        self,
        method: str,
        key: str,
        values: Sequence[str],
        base: dict[str, Any],
        rows_of: Callable[[Any], list[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """Rows whose ``key`` is in ``values``: 50 values per command, 50 commands per request."""
        chunks = list(_chunks(_unique(values), PAGE_SIZE))
        found = self._read_all(self._commands_by(method, key, chunks, base, "q"))
        return [row for result in found.values() for row in rows_of(result)]

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
        """Companies with their ИНН: ``crm.company.list`` per 50 ids and ``crm.requisite.list``
        per 25, in the same ``batch`` requests (``python -m benchmarks.company_inn``)."""
        if not ids:
            return {}
        base: dict[str, Any] = {"select": list(COMPANY_SELECT)}
        unique = _unique(ids)
        chunks = list(_chunks(unique, PAGE_SIZE))
        commands = self._commands_by("crm.company.list", "ID", chunks, base, "q")
        # Half as many companies per requisite command: a company mostly has one
        # requisite, so its page stays short of 50 rows and needs no second page.
        owners = list(_chunks(unique, companies.OWNERS_PER_COMMAND))
        for n, chunk in enumerate(owners):
            commands[f"r{n}"] = command("crm.requisite.list", companies.requisite_query(chunk))
        found = self._read_all(commands)
        rows = [r for k, v in found.items() if k.startswith("q") for r in _plain_rows(v)]
        requisites: list[dict[str, Any]] = []
        for n, chunk in enumerate(owners):
            requisites += self._all_requisites(chunk, _plain_rows(found.get(f"r{n}")))
        inn = companies.tax_ids(requisites)
        return {
            str(r["ID"]): dataclasses.replace(codec.decode_company(r), tax_id=inn.get(str(r["ID"])))
            for r in rows
        }

    def _all_requisites(
        self, chunk: Sequence[str], page: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """A full page of requisites (companies with several) is followed by the next."""
        rows = list(page)
        while len(page) == PAGE_SIZE:
            params = companies.requisite_query(chunk, after=str(page[-1]["ID"]))
            page = _plain_rows(self.transport.request("crm.requisite.list", params).get("result"))
            rows += page
        return rows

    def _requisite_preset(self, drafts: Sequence[DealDraft]) -> dict[str, str]:
        """ИНН → the requisite template for it, read once per adapter when a draft needs one."""
        wanted = {d.company.tax_id for d in drafts if d.company is not None and d.company.tax_id}
        if not wanted:
            return {}
        with self._fields_lock:
            presets = self._presets
        if presets is None:
            presets = self._list_all(companies.PRESET_METHOD, companies.PRESET_PARAMS)
            with self._fields_lock:
                self._presets = presets
        chosen = {inn: companies.pick_preset(presets, inn) for inn in wanted}
        return {inn: preset for inn, preset in chosen.items() if preset is not None}

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        for rows, watermark in listing.changes(self.transport, since, self._deal_select()):
            deals = tuple(self._decode(rows))
            del rows  # 2,500 raw rows: not kept while the page is handled
            yield ChangePage(deals, watermark)

    def list_notes(self, deal_id: str) -> list[Note]:
        rows = self._list_all(NOTES_METHOD, _notes_params(deal_id))
        return _oldest_first(codec.decode_note(r) for r in rows)

    def list_notes_many(self, deal_ids: Sequence[str]) -> dict[str, list[Note]]:
        """One ``crm.timeline.comment.list`` per deal, 50 of them per ``batch``; a deal with
        more than a page of comments has its next page in a later batch."""
        rows: dict[str, list[dict[str, Any]]] = {i: [] for i in _unique(deal_ids)}
        starts: dict[str, Any] = dict.fromkeys(rows, 0)
        while starts:
            group = list(starts)[:MAX_COMMANDS]
            commands = {
                f"n{i}": command(NOTES_METHOD, {**_notes_params(i), "start": starts[i]})
                for i in group
            }
            reply, _ = self.transport.batch(commands)
            for deal_id in group:
                result, error = reply.outcome(f"n{deal_id}")
                if error is not None:
                    raise classify(error, system=self._system)
                rows[deal_id].extend(_plain_rows(result))
                following = reply.nexts.get(f"n{deal_id}")
                if following is None:
                    del starts[deal_id]
                else:
                    starts[deal_id] = following
        return {i: _oldest_first(codec.decode_note(r) for r in found) for i, found in rows.items()}

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
        presets = self._requisite_preset(drafts)
        return writes.create(self.transport, drafts, stamp_field=self._stamp_field, presets=presets)

    def whole_creates(self, drafts: Sequence[DealDraft]) -> int:
        return writes.whole_items([writes.create_commands(d) for d in drafts])

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
