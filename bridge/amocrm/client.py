"""``AmoCrm``: the :class:`bridge.crm.Crm` protocol over amoCRM API v4.

HTTP, pacing and retries live in :mod:`bridge.amocrm.transport`, error mapping
in :mod:`bridge.amocrm.errors`, JSON ⇄ model in :mod:`bridge.amocrm.codec`, the
gap-free change feed in :mod:`bridge.amocrm.listing`, batch writes in
:mod:`bridge.amocrm.writes` — the same modules as the Bitrix24 adapter
(``docs/adapters.md``). This module says which endpoint answers which question,
and offers the :class:`bridge.crm.WebhookSubscriptions` capability.

The bridge's idempotency stamp (the agency deal id) is a text custom field on
leads named ``stamp_field_name``; :meth:`AmoCrm.ensure_stamp_field` creates it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from bridge.amocrm import codec, companies, listing, subscriptions, writes
from bridge.amocrm.listing import LEADS, PAGE
from bridge.amocrm.oauth import TokenSource
from bridge.amocrm.transport import Reply, Transport, shared_pacer
from bridge.crm import HookSubscription, NotFound, PermanentError, WriteResult, group_by_stamp
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

log = logging.getLogger(__name__)

DEFAULT_STAMP_FIELD = "partner-bridge: ID сделки агентства"
NOTE_LEADS = 100  # lead ids per notes request: the query string stays well under 8 KB

Party = TypeVar("Party", Contact, Company)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _oldest_first(notes: Iterable[Note]) -> list[Note]:
    return sorted(
        notes,
        key=lambda n: (n.created_at or dt.datetime.min.replace(tzinfo=dt.UTC), int(n.id or 0)),
    )


def _embedded(reply: Reply, key: str) -> list[dict[str, Any]]:
    if not isinstance(reply.payload, dict):
        return []
    return list((reply.payload.get("_embedded") or {}).get(key) or [])


class AmoCrm:
    """One amoCRM account. Thread-safe; share one instance (and its pacer) per account."""

    def __init__(
        self,
        base_url: str,
        auth: TokenSource,
        *,
        system: str,
        pacer: Pacer | None = None,
        timeout: float = 15,
        stamp_field_name: str = DEFAULT_STAMP_FIELD,
        currency: str = "RUB",
        retry_attempts: int = 4,
        retry_wait: float = 0.5,
        company_tax_field: str = companies.DEFAULT_TAX_FIELD,
    ) -> None:
        self._system = system
        self.company_tax_field = company_tax_field
        self._tax_field_id: str | None = None
        self._tax_field_read = False
        self.currency = currency
        self.stamp_field_name = stamp_field_name
        self.transport = Transport(
            base_url,
            auth,
            system=system,
            pacer=pacer or shared_pacer(base_url.rstrip("/")),
            timeout=timeout,
            attempts=retry_attempts,
            retry_wait=retry_wait,
        )
        self._lock = threading.Lock()
        self._defs: dict[str, FieldDef] | None = None
        self._stamp_id: str | None = None
        self._pipeline_pages: dict[str, int] = {}  # pages of a pipeline, as last read
        self._stage_homes: dict[str, str] | None = None  # status id -> its only pipeline

    def __repr__(self) -> str:
        return f"AmoCrm(system={self._system!r}, base_url={self.transport.base_url!r})"

    @property
    def system(self) -> str:
        return self._system

    @property
    def requests(self) -> int:
        """HTTP requests this adapter has sent (for metrics and benchmarks)."""
        return self.transport.requests

    def close(self) -> None:
        self.transport.close()

    # --- definitions -----------------------------------------------------------

    def pipelines(self) -> Sequence[Pipeline]:
        reply = self.transport.request("GET", f"{LEADS}/pipelines")
        found = [codec.decode_pipeline(p) for p in _embedded(reply, "pipelines")]
        with self._lock:
            self._stage_homes = codec.stage_homes(found)
        return found

    def _all_fields(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"limit": PAGE, "page": page}
            reply = self.transport.request("GET", f"{LEADS}/custom_fields", params=params)
            rows = _embedded(reply, "custom_fields")
            found.extend(rows)
            if not rows or "next" not in (reply.payload.get("_links") or {}):
                return found
            page += 1

    def _load_fields(self) -> dict[str, FieldDef]:
        defs = {d.id: d for d in (codec.decode_field_def(f) for f in self._all_fields())}
        stamp = next((d.id for d in defs.values() if d.name == self.stamp_field_name), None)
        with self._lock:
            self._defs = defs
            self._stamp_id = stamp
        return defs

    def custom_fields(self) -> Sequence[FieldDef]:
        defs = self._load_fields()
        return [d for d in defs.values() if d.id != self._stamp_id]

    def _field_defs(self, needed: Iterable[str] = ()) -> dict[str, FieldDef]:
        """Cached definitions, reloaded when a write names a field created since."""
        defs = self._defs
        if defs is None or any(f not in defs for f in needed):
            defs = self._load_fields()
        return defs

    def _stamp_field(self) -> str | None:
        if self._defs is None:
            self._load_fields()
        return self._stamp_id

    def find_stamp_field(self) -> str | None:
        """The stamp field's id if it exists (read fresh; never creates it)."""
        self._load_fields()
        return self._stamp_id

    def ensure_stamp_field(self) -> str:
        """The stamp field's id; the field is created (text, on leads) if missing."""
        known = self._stamp_field()
        if known is None:
            self._load_fields()  # another process may have created it meanwhile
            known = self._stamp_id
        return known or self._create_stamp_field()

    def _create_stamp_field(self) -> str:
        body = [{"name": self.stamp_field_name, "type": "text", "sort": 10000}]
        reply = self.transport.request(
            "POST", f"{LEADS}/custom_fields", body=body, idempotent=False
        )
        created = _embedded(reply, "custom_fields")
        self._load_fields()
        if self._stamp_id is None and created:
            self._stamp_id = str(created[0]["id"])
        if self._stamp_id is None:
            raise PermanentError("amoCRM did not create the stamp field", system=self._system)
        return self._stamp_id

    # --- reads -------------------------------------------------------------

    def _decode(self, raw: dict[str, Any]) -> Deal:
        return codec.decode_deal(raw, currency=self.currency, stamp_field_id=self._stamp_field())

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        deals: dict[str, Deal] = {}
        numeric = [i for i in dict.fromkeys(ids) if i.isdigit()]
        for chunk in _chunks(numeric, PAGE):
            params = {"filter[id][]": list(chunk), "with": "contacts", "limit": PAGE}
            reply = self.transport.request("GET", LEADS, params=params)
            for raw in _embedded(reply, "leads"):
                deal = self._decode(raw)
                deals[deal.id] = deal
        return deals

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        return {stamp: deals[0] for stamp, deals in self.find_stamped(stamps).items()}

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        """Stamped leads, by the cheaper of two reads.

        amoCRM filters leads by a custom field's value only on accounts enrolled in
        its API-filtering programme, so the portable reads are a full-text ``query``
        per stamp (every pipeline, one request each) or the pipeline the bridge
        creates in, 250 leads a page. With ``pipeline_id`` and more stamps than that
        pipeline has pages (as last seen), the pipeline is read; otherwise each
        stamp is searched. A first mirror into an empty pipeline costs one request.
        """
        unique = list(dict.fromkeys(s for s in stamps if s))
        if not unique or self._stamp_field_now() is None:
            return {}  # no stamp field yet, so no stamped lead either
        if pipeline_id is not None and len(unique) > self._pipeline_pages.get(pipeline_id, 1):
            return group_by_stamp(self._pipeline_leads(pipeline_id), unique)
        found: list[Deal] = []
        for stamp in unique:
            found += self._all_pages({"query": stamp})
        return group_by_stamp(found, unique)

    def _stamp_field_now(self) -> str | None:
        field_id = self._stamp_field()
        if field_id is None:
            # Never trust a cached "no stamp field" here: another process (a second
            # worker, `bridge check --fix`) may have created it and stamped leads since.
            self._load_fields()
            field_id = self._stamp_id
        return field_id

    def _pipeline_leads(self, pipeline_id: str) -> list[Deal]:
        leads = self._all_pages({"filter[pipeline_id][]": [pipeline_id]})
        self._pipeline_pages[pipeline_id] = max(1, -(-len(leads) // PAGE))
        return leads

    def _all_pages(self, params: dict[str, Any]) -> list[Deal]:
        found: list[Deal] = []
        page = 1
        while True:
            query = {**params, "with": "contacts", "limit": PAGE, "page": page}
            reply = self.transport.request("GET", LEADS, params=query)
            rows = _embedded(reply, "leads")
            found += [self._decode(r) for r in rows]
            links = reply.payload.get("_links") if isinstance(reply.payload, dict) else None
            if len(rows) < PAGE or not isinstance(links, dict) or "next" not in links:
                return found
            page += 1

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        self._stamp_field()
        for rows, watermark in listing.changes(self.transport, since):
            deals = tuple(self._decode(r) for r in rows)
            yield ChangePage(deals=deals, watermark=watermark)

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        return self._fetch_parties("contacts", ids, codec.decode_contact)

    def users(self) -> list[User]:
        found: list[User] = []
        page = 1
        while True:
            reply = self.transport.request(
                "GET", "/api/v4/users", params={"limit": PAGE, "page": page}
            )
            rows = _embedded(reply, "users")
            found += [codec.decode_user(row) for row in rows]
            links = reply.payload.get("_links", {}) if isinstance(reply.payload, dict) else {}
            if len(rows) < PAGE or "next" not in links:
                return found
            page += 1

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        """Companies with their ИНН, read from the company rows themselves (its field's
        id is looked up once per adapter)."""
        if not [i for i in ids if i.isdigit()]:
            return {}
        field_id = self._company_tax_field()
        rows: list[Mapping[str, Any]] = []
        found = self._fetch_parties("companies", ids, codec.decode_company, rows)
        inn = companies.tax_ids(rows, field_id)
        return {i: dataclasses.replace(c, tax_id=inn.get(i)) for i, c in found.items()}

    def find_company_tax_field(self) -> str | None:
        """The id of the company field holding the ИНН, read fresh (for ``bridge check``)."""
        with self._lock:
            self._tax_field_read = False
        return self._company_tax_field()

    def _company_tax_field(self) -> str | None:
        """The id of the company field holding the ИНН; None if the account has none."""
        with self._lock:
            if self._tax_field_read:
                return self._tax_field_id
        definitions: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"limit": PAGE, "page": page}
            reply = self.transport.request("GET", companies.FIELDS_PATH, params=params)
            rows = _embedded(reply, "custom_fields")
            definitions += rows
            links = reply.payload.get("_links") if isinstance(reply.payload, dict) else None
            if not rows or not isinstance(links, dict) or "next" not in links:
                break
            page += 1
        field_id = companies.tax_field(definitions, self.company_tax_field)
        if field_id is None:
            log.warning(
                "%s: no company field %r: the ИНН is neither read nor written; create the "
                "field or name another in the mapping (connection: company_tax_id_field)",
                self._system,
                self.company_tax_field,
            )
        with self._lock:
            self._tax_field_id, self._tax_field_read = field_id, True
        return field_id

    def _fetch_parties(
        self,
        entity: str,
        ids: Sequence[str],
        decode: Callable[[Mapping[str, Any]], Party],
        raw_rows: list[Mapping[str, Any]] | None = None,
    ) -> dict[str, Party]:
        found: dict[str, Party] = {}
        numeric = [i for i in dict.fromkeys(ids) if i.isdigit()]
        for chunk in _chunks(numeric, PAGE):
            params = {"filter[id][]": list(chunk), "limit": PAGE}
            reply = self.transport.request("GET", f"/api/v4/{entity}", params=params)
            for raw in _embedded(reply, entity):
                party = decode(raw)
                found[str(party.id)] = party
                if raw_rows is not None:
                    raw_rows.append(raw)
        return found

    def list_notes(self, deal_id: str) -> list[Note]:
        if not deal_id.isdigit():
            raise NotFound(f"no lead {deal_id!r}", system=self._system)
        return _oldest_first(self._notes(f"{LEADS}/{deal_id}/notes", {}))

    def list_notes_many(self, deal_ids: Sequence[str]) -> dict[str, list[Note]]:
        """``GET /api/v4/leads/notes`` filtered by up to :data:`NOTE_LEADS` lead ids at a
        time, 250 notes a page; a lead id that is not a number has no notes."""
        wanted = list(dict.fromkeys(deal_ids))
        found: dict[str, list[Note]] = {i: [] for i in wanted}
        for chunk in _chunks([i for i in wanted if i.isdigit()], NOTE_LEADS):
            for note in self._notes(f"{LEADS}/notes", {"filter[entity_id][]": list(chunk)}):
                if note.deal_id in found:
                    found[note.deal_id].append(note)
        return {i: _oldest_first(notes) for i, notes in found.items()}

    def _notes(self, path: str, filters: dict[str, Any]) -> list[Note]:
        """Every common note at ``path`` under ``filters``, page by page."""
        notes: list[Note] = []
        page = 1
        while True:
            params = {**filters, "filter[note_type]": "common", "limit": PAGE, "page": page}
            reply = self.transport.request("GET", path, params=params)
            rows = _embedded(reply, "notes")
            notes.extend(codec.decode_note(r) for r in rows)
            if len(rows) < PAGE:
                return notes
            page += 1

    # --- webhook subscriptions (the WebhookSubscriptions capability) ---------

    @property
    def hook_events(self) -> tuple[str, ...]:
        return subscriptions.LEAD_EVENTS

    def hook_subscriptions(self) -> list[HookSubscription]:
        return subscriptions.subscriptions(self.transport)

    def subscribe_hook(self, destination: str) -> str:
        return subscriptions.subscribe(self.transport, destination)

    # --- writes ------------------------------------------------------------

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        stamp_id = self.ensure_stamp_field() if any(d.stamp for d in drafts) else None
        defs = self._field_defs(f for d in drafts for f in d.fields)
        with_inn = any(d.company is not None and d.company.tax_id for d in drafts)
        tax_id = self._company_tax_field() if with_inn else None
        return writes.create(
            self.transport,
            drafts,
            lambda draft, rid: codec.encode_draft(
                draft,
                request_id=rid,
                currency=self.currency,
                defs=defs,
                stamp_field_id=stamp_id,
                tax_field_id=tax_id,
            ),
        )

    def whole_creates(self, drafts: Sequence[DealDraft]) -> int:
        return len(drafts) - len(drafts) % writes.COMPLEX_BATCH

    def _stage_pipelines(self, patches: Sequence[DealPatch]) -> dict[str, str]:
        """The pipeline each stage move must name (amoCRM wants it with ``status_id``).

        A status id belongs to one pipeline, except won/lost (142/143), which exist in
        every pipeline: those stay in the lead's current pipeline, read fresh.
        """
        moves = [p for p in patches if p.stage_id is not None and p.pipeline_id is None]
        if not moves:
            return {}
        closing = [p.deal_id for p in moves if codec.is_closing(p.stage_id)]
        homes = self._stage_homes
        if homes is None or any(
            p.stage_id not in homes for p in moves if not codec.is_closing(p.stage_id)
        ):
            self.pipelines()  # a stage created since the catalogue was read
            homes = self._stage_homes or {}
        found = {p.deal_id: homes[p.stage_id] for p in moves if p.stage_id in homes}
        if closing:
            found.update({i: d.pipeline_id for i, d in self.fetch_deals(closing).items()})
        return found

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        pipelines = self._stage_pipelines(patches)
        stamp_id = self.ensure_stamp_field() if any(p.stamp for p in patches) else None
        defs = self._field_defs(f for p in patches for f in p.fields)
        return writes.update(
            self.transport,
            patches,
            lambda patch: codec.encode_patch(
                patch,
                currency=self.currency,
                defs=defs,
                pipeline_id=pipelines.get(patch.deal_id),
                stamp_field_id=stamp_id,
            ),
        )

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        return writes.notes(self.transport, notes)
