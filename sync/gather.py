"""Step one of a pass: turn cursors and hints into fresh snapshots, fetched in bulk.

Sources of "what may have changed": the agency's and each partner's polling
window, the due hints in the inbox, and (when asked) every parked link. The
result holds each affected agency deal, its links, and the partner deals of
those links — each list read with as few calls as the batch sizes allow. A
partner whose CRM fails is set aside in ``down`` and its links are not touched.

Two halves, for the engine's lanes: :meth:`Gatherer.agency_side` (once per pass, on
the pass thread: the agency window, the due hints, the agency deals they name, their
links and clients) and, per partner in its lane, :meth:`Gatherer.poll_partner` then
:meth:`Gatherer.lane` (its window, the agency deals its own changes name, its deals,
stamps and notes — only what concerns that partner).

:class:`Gathered` is frozen once returned: the steps after it (planning, apply,
record) read it and keep what they learn (e.g. partners failing later) themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from sqlmodel import Session

from bridge.crm import Crm, CrmError, group_by_stamp
from bridge.mapping.compiled import CompiledMapping
from bridge.model import Company, Contact, Deal, LinkState, LinkStatus, Note
from bridge.store import links, stamps
from bridge.store.cursors import Cursor
from bridge.store.db import Store
from bridge.store.inbox import DueHint
from sync.echoes import EchoCheck
from sync.plan.leads import parse_lead_stamp
from sync.sources import inbox, poll
from sync.sources.poll import Window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gathered:
    """What one pass starts from: windows, hints, snapshots and the stored links."""

    agency_window: Window | None
    partner_windows: Mapping[str, Window]
    down: Mapping[str, CrmError]  # partners set aside while gathering
    hints: tuple[DueHint, ...]
    agency_deals: Mapping[str, Deal]
    agency_missing: Set[str]
    links: Mapping[str, Mapping[str, LinkState]]  # agency id → code → state
    partner_deals: Mapping[str, Mapping[str, Deal | None]]  # None: gone
    contacts: Mapping[str, Contact]
    companies: Mapping[str, Company]
    agency_notes: Mapping[str, tuple[Note, ...]]  # by agency deal
    partner_notes: Mapping[tuple[str, str], tuple[Note, ...]]
    # The identity lookup before creates: per partner, the agency ids searched by stamp
    # and the stamped partner deals found (oldest first). An id searched and not found
    # has no partner deal anywhere; one not searched must not be created this pass.
    searched: Mapping[str, frozenset[str]]
    stamped: Mapping[str, Mapping[str, tuple[Deal, ...]]]


@dataclass
class _Gathering:
    """:class:`Gathered` while it is being filled in."""

    agency_window: Window | None = None
    partner_windows: dict[str, Window] = field(default_factory=dict)
    down: dict[str, CrmError] = field(default_factory=dict)
    hints: list[DueHint] = field(default_factory=list)
    agency_deals: dict[str, Deal] = field(default_factory=dict)
    agency_missing: set[str] = field(default_factory=set)
    links: dict[str, dict[str, LinkState]] = field(default_factory=dict)
    partner_deals: dict[str, dict[str, Deal | None]] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    agency_notes: dict[str, tuple[Note, ...]] = field(default_factory=dict)
    partner_notes: dict[tuple[str, str], tuple[Note, ...]] = field(default_factory=dict)
    # The identity lookup before creates: per partner, the agency ids searched by stamp
    # and the stamped partner deals found (oldest first). An id searched and not found
    # has no partner deal anywhere; one not searched must not be created this pass.
    searched: dict[str, frozenset[str]] = field(default_factory=dict)
    stamped: dict[str, dict[str, tuple[Deal, ...]]] = field(default_factory=dict)

    def freeze(self) -> Gathered:
        return Gathered(
            agency_window=self.agency_window,
            partner_windows=MappingProxyType(self.partner_windows),
            down=MappingProxyType(self.down),
            hints=tuple(self.hints),
            agency_deals=MappingProxyType(self.agency_deals),
            agency_missing=frozenset(self.agency_missing),
            links=MappingProxyType({k: MappingProxyType(v) for k, v in self.links.items()}),
            partner_deals=MappingProxyType(
                {k: MappingProxyType(v) for k, v in self.partner_deals.items()}
            ),
            contacts=MappingProxyType(self.contacts),
            companies=MappingProxyType(self.companies),
            agency_notes=MappingProxyType(self.agency_notes),
            partner_notes=MappingProxyType(self.partner_notes),
            searched=MappingProxyType(self.searched),
            stamped=MappingProxyType({k: MappingProxyType(v) for k, v in self.stamped.items()}),
        )


@dataclass(frozen=True)
class PartnerPoll:
    """One partner's listing since its cursor, or why it failed."""

    window: Window | None
    error: CrmError | None = None


@dataclass(frozen=True)
class AgencySide:
    """The part of a pass every partner's lane shares (:meth:`Gatherer.agency_side`):
    ``got`` holds the agency window, every due hint, the agency deals, their links and
    clients; ``live`` the partners to call (the others are in ``got.down``)."""

    got: Gathered
    live: tuple[str, ...]


@dataclass(frozen=True)
class Routed:
    """What the agency job found (:meth:`Gatherer.route_agency`): the window read (its
    cursor moves once the routes are recorded), the hints taken, and per partner the
    agency deals that concern it."""

    window: Window | None
    hints: tuple[DueHint, ...]
    by_partner: Mapping[str, frozenset[str]]


class Gatherer:
    def __init__(
        self,
        store: Store,
        mapping: CompiledMapping,
        agency: Crm,
        partners: Mapping[str, Crm],
        overlap: dt.timedelta,
        *,
        echoes: EchoCheck | None = None,
    ) -> None:
        """``echoes``: leave out listed deals that are only the bridge's own writes coming
        back (:mod:`sync.echoes`), so nothing is fetched for them."""
        self.echoes = echoes
        self.store = store
        self.mapping = mapping
        self.agency = agency
        self.partners = partners
        self.overlap = overlap

    def agency_side(
        self,
        codes: Sequence[str],
        now: dt.datetime,
        *,
        parked: bool,
        polling: bool = True,
        resting: Mapping[str, CrmError] | None = None,
        routed_to: str | None = None,
        chunk: Window | None = None,
        later: bool = False,
    ) -> AgencySide:
        """What every partner's lane of a pass starts from, read once on the pass thread:
        the agency's window, the due hints, the agency deals they name (and the parked
        ones), their links, and the clients of the deals to be created.

        ``routed_to`` (a partner job of the scale-out runner): no agency window — the
        agency job routed the agency's changes to this partner as hints addressed to
        it, taken here with the partner's own hints (:meth:`route_agency`).
        ``chunk``: the part of the agency's window this side covers (a pass that reads its
        window chunk by chunk, :class:`sync.sources.poll.Listing`), else the whole window
        is listed here. ``later``: a chunk after the first — the hints and parked links
        were the first chunk's, so only the chunk's deals are read."""
        got = _Gathering(down=dict(resting or {}))
        if chunk is not None:
            got.agency_window = chunk
        elif polling and routed_to is None:
            got.agency_window = poll.fetch(self.store, self.agency, self.overlap)
        live = [c for c in codes if c not in got.down]
        own = [self.partners[c].system for c in live]
        systems = own if routed_to is not None else [self.agency.system, *own]
        if not later:
            got.hints = inbox.take_due(self.store, now, systems, address=routed_to)
        agency_ids = self._agency_ids(got, live, parked=parked and not later)
        self._agency_snapshots(got, agency_ids)
        self._contacts(got, live)
        return AgencySide(got.freeze(), tuple(live))

    def route_agency(
        self, now: dt.datetime, *, polling: bool, size: int = poll.DEFAULT_CHUNK
    ) -> Routed:
        """The agency job of the scale-out runner: the agency's window (when ``polling``)
        and its due unaddressed hints, less the bridge's own writes coming back, and
        for each partner the agency deals that concern it — routed to it by the deal's
        routing field, or linked with it (a fan-out deal concerns several). The window
        is read ``size`` deals at a time and only the routes are kept, so a first mirror
        of any size is never held whole; hinted deals the window does not hold are read
        (one bulk call) to be routed. Nothing is written here."""
        hints = inbox.take_due(self.store, now, [self.agency.system], address=False)
        hinted = {h.hint.deal_id for h in hints}
        by_partner: dict[str, set[str]] = defaultdict(set)
        listing = poll.Listing(self.store, self.agency, self.overlap, size) if polling else None
        covered: set[str] = set()  # hinted deals a chunk of the window held
        for chunk in listing.chunks() if listing is not None else ():
            listed = {d.id: d for d in chunk.deals}
            covered |= hinted & listed.keys()
            self._route(chunk, listed, hinted & listed.keys(), by_partner)
        self._route(None, {}, hinted - covered, by_partner)
        window = listing.window() if listing is not None else None
        return Routed(window, tuple(hints), {c: frozenset(i) for c, i in by_partner.items()})

    def _route(
        self,
        window: Window | None,
        listed: dict[str, Deal],
        hinted: set[str],
        by_partner: dict[str, set[str]],
    ) -> None:
        """Add the routes of ``listed`` (a chunk of the window) and ``hinted`` deals (read
        here unless listed) to ``by_partner``."""
        ids = set(listed) | hinted
        if not ids:
            return
        got = _Gathering(agency_window=window)
        linked: dict[str, set[str]] = defaultdict(set)
        with self.store.transaction() as session:
            for aid in self._agency_echoes(session, got, set(listed) - hinted):
                del listed[aid]
            for state in links.states(session, set(listed) | hinted):
                linked[state.agency_deal_id].add(state.partner_code)
        missing = sorted(hinted - listed.keys())
        deals = {**listed, **(self.agency.fetch_deals(missing) if missing else {})}
        routing = self.mapping.agency.routing_field_id
        for aid in set(listed) | hinted:
            codes = set(linked.get(aid, ()))
            if (deal := deals.get(aid)) is not None:
                codes.update(p.code for p in self.mapping.routed_partners(deal.fields.get(routing)))
            for code in codes & self.mapping.partners.keys():
                by_partner[code].add(aid)

    def poll_partner(self, code: str, cursor: Cursor | None = None) -> PartnerPoll:
        """List what changed at ``code`` since its cursor (a lane does this first, while
        the pass thread reads the agency side); ``cursor``: read already (the pass reads
        every partner's at once), else it is read here."""
        got = _Gathering()
        self._poll_partner(code, got, cursor)
        return PartnerPoll(got.partner_windows.get(code), got.down.get(code))

    def lane(
        self,
        code: str,
        side: AgencySide,
        polled: PartnerPoll | None = None,
        *,
        later: bool = False,
    ) -> Gathered:
        """One partner's share of a pass, read in its lane: its window (``polled``; None
        when the pass does not poll), the agency deals its changes name (fetched here
        unless the agency side has them), its deals, stamps and notes. Only agency
        deals routed to or linked with ``code`` are kept.

        ``later``: a later chunk of the agency's window. The partner's window was handled
        with the first chunk; here it only answers the stamp lookup (its census), and
        the chunk's links are read again, since the pass thread read them while the
        chunk before was still being recorded."""
        common = side.got
        system = self.partners[code].system
        got = _Gathering(agency_window=common.agency_window)
        got.hints = [h for h in common.hints if h.hint.system == system]
        if polled is not None:
            if polled.error is not None:
                got.down[code] = polled.error
                return got.freeze()
            if polled.window is not None:
                window = polled.window
                got.partner_windows[code] = replace(window, deals=()) if later else window
        ids = self._agency_ids(got, [code], parked=False)
        extra = sorted(ids - common.agency_deals.keys() - common.agency_missing)
        fetched = self.agency.fetch_deals(extra) if extra else {}
        if extra:
            with self.store.transaction() as session:
                for state in links.states(session, set(extra)):
                    got.links.setdefault(state.agency_deal_id, {})[state.partner_code] = state
        for aid, per_code in common.links.items():
            got.links.setdefault(aid, {}).update(per_code)
        got.agency_deals = {
            **{i: d for i, d in common.agency_deals.items() if self._concerns(d, code, got)},
            **fetched,
        }
        if later and got.agency_deals:
            with self.store.transaction() as session:
                for state in links.states(session, set(got.agency_deals)):
                    got.links.setdefault(state.agency_deal_id, {})[state.partner_code] = state
        got.agency_missing = {i for i in common.agency_missing if code in got.links.get(i, {})} | (
            set(extra) - fetched.keys()
        )
        got.contacts = dict(common.contacts)
        got.companies = dict(common.companies)
        if fetched:
            self._contacts(got, [code], only=fetched.values())
        self._partner_snapshots(got, [code])
        self._stamps(got, [c for c in [code] if c not in got.down])
        if code not in got.down:
            self._notes(got, [code])
        return got.freeze()

    def _concerns(self, deal: Deal, code: str, got: _Gathering) -> bool:
        routed = self.mapping.routed_partners(deal.fields.get(self.mapping.agency.routing_field_id))
        return code in got.links.get(deal.id, {}) or code in {p.code for p in routed}

    def _poll_partner(self, code: str, got: _Gathering, cursor: Cursor | None = None) -> None:
        try:
            crm = self.partners[code]
            got.partner_windows[code] = poll.fetch(self.store, crm, self.overlap, cursor)
        except CrmError as exc:
            # DEBUG: the daemon logs an account going down once, and its recovery once.
            log.debug("partner %s: polling failed: %s", code, exc)
            got.down[code] = exc

    def _agency_ids(self, got: _Gathering, live: Sequence[str], *, parked: bool) -> set[str]:
        ids = {d.id for d in got.agency_window.deals} if got.agency_window else set()
        by_system = {self.partners[c].system: c for c in live}
        partner_ids: dict[str, set[str]] = defaultdict(set)
        hinted: set[str] = set()
        for hint in (due.hint for due in got.hints):
            if hint.system == self.agency.system:
                hinted.add(hint.deal_id)
            elif hint.system in by_system:
                partner_ids[by_system[hint.system]].add(hint.deal_id)
        for code, window in got.partner_windows.items():
            got.partner_deals[code] = {d.id: d for d in window.deals}
        listed = any(window.deals for window in got.partner_windows.values())
        echoes = bool(ids) and self.echoes is not None
        if not (parked or listed or echoes or any(partner_ids.values())):
            return ids | hinted  # nothing to look up: no store round trip
        with self.store.transaction() as session:
            ids -= self._agency_echoes(session, got, ids)
            for code, window in got.partner_windows.items():
                partner_ids[code].update(self._partner_changes(session, code, window))
        ids |= hinted
        with self.store.transaction() as session:
            for code, deal_ids in partner_ids.items():
                ids.update(links.agency_ids_of(session, code, deal_ids))
                if code in got.partner_windows:
                    self._census(session, code, got.partner_windows[code])
            if parked:
                ids.update(
                    p.state.agency_deal_id
                    for p in links.parked_links(session)
                    if p.state.partner_code in live
                )
        return ids

    def _agency_echoes(self, session: Session, got: _Gathering, ids: set[str]) -> set[str]:
        """Listed agency deals that are only the bridge's own writes coming back."""
        if self.echoes is None or got.agency_window is None or not ids:
            return set()
        stored: dict[str, dict[str, LinkState]] = defaultdict(dict)
        for state in links.states(session, ids):
            stored[state.agency_deal_id][state.partner_code] = state
        return {
            d.id
            for d in got.agency_window.deals
            if d.id in stored and self.echoes.agency_echo(d, stored[d.id])
        }

    def _partner_changes(self, session: Session, code: str, window: Window) -> set[str]:
        """The deals of a partner's window, less the bridge's own writes coming back."""
        listed = {d.id for d in window.deals}
        if self.echoes is None or not listed:
            return listed
        echoes = self.echoes
        states = {
            row.partner_deal_id: links.state_of(row)
            for row in links.by_partner_ids(session, code, listed)
        }
        return {
            d.id
            for d in window.deals
            if d.id not in states or not echoes.partner_echo(d, states[d.id])
        }

    def _agency_snapshots(self, got: _Gathering, ids: set[str]) -> None:
        listed = got.agency_window.deals if got.agency_window else ()
        known = {d.id: d for d in listed if d.id in ids}
        missing = sorted(ids - known.keys())
        fetched = self.agency.fetch_deals(missing) if missing else {}
        got.agency_deals = {**known, **fetched}
        got.agency_missing = set(missing) - fetched.keys()
        with self.store.transaction() as session:
            for state in links.states(session, ids):
                got.links.setdefault(state.agency_deal_id, {})[state.partner_code] = state

    def _partner_snapshots(self, got: _Gathering, live: Sequence[str]) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)
        for per_code in got.links.values():
            for code, link in per_code.items():
                if code in live and link.partner_deal_id and _syncable(link):
                    wanted[code].add(link.partner_deal_id)
        for code in live:
            have = got.partner_deals.setdefault(code, {})
            ids = sorted(wanted[code] - have.keys())
            if not ids:
                continue
            try:
                fetched = self.partners[code].fetch_deals(ids)
            except CrmError as exc:
                got.down[code] = exc
                continue
            have.update({i: fetched.get(i) for i in ids})

    def _census(self, session: Session, code: str, window: Window) -> None:
        """Stamped deals in a partner's window that no link of this store names: another
        store or process made them. Remembered, so a later create finds them."""
        named = links.linked_partner_ids(session, code, [d.id for d in window.deals])
        foreign = [(d.stamp, d.id) for d in window.deals if d.stamp and d.id not in named]
        stamps.record(session, code, foreign, window.watermark)

    def _stamps(self, got: _Gathering, live: Sequence[str]) -> None:
        """Which partner deals already carry the stamps of the deals about to be created.

        The CRMs, not the store, know which partner deal belongs to which agency deal:
        an empty or restored store, another store, or another process may have created
        it. A pass that polled the partner knows from the store's census and its window
        (:mod:`bridge.store.stamps`) at no cost; any other pass asks the CRM in bulk.
        """
        for code in live:
            deals = got.agency_deals.values()
            ids = sorted(d.id for d in deals if self._needs_create(d, code, got))
            if not ids:
                continue
            try:
                if code in got.partner_windows:
                    got.stamped[code] = self._from_census(code, ids, got)
                else:
                    pipeline = self.mapping.partners[code].pipeline_id
                    crm = self.partners[code]
                    got.stamped[code] = crm.find_stamped(ids, pipeline_id=pipeline)
            except CrmError as exc:
                got.down[code] = exc
                continue
            got.searched[code] = frozenset(ids)

    def _from_census(
        self, code: str, ids: Sequence[str], got: _Gathering
    ) -> dict[str, tuple[Deal, ...]]:
        window = got.partner_windows[code].deals
        with self.store.transaction() as session:
            recorded = stamps.lookup(session, code, ids)
        known = {d.id: d for d in window}
        missing = sorted({i for found in recorded.values() for i in found} - known.keys())
        if missing:
            known.update(self.partners[code].fetch_deals(missing))
        return group_by_stamp(known.values(), ids)

    def _contacts(
        self, got: _Gathering, live: Sequence[str], only: Iterable[Deal] | None = None
    ) -> None:
        """The client contact and company travel with a new partner deal: read only those
        (of ``only`` when given), adding to what ``got`` already holds."""
        contacts: set[str] = set()
        companies: set[str] = set()
        for deal in got.agency_deals.values() if only is None else only:
            if any(self._needs_create(deal, code, got) for code in live):
                contacts.update(deal.contact_ids[:1])
                companies.update([deal.company_id] if deal.company_id else [])
        contacts -= got.contacts.keys()
        companies -= got.companies.keys()
        if contacts:
            got.contacts.update(self.agency.fetch_contacts(sorted(contacts)))
        if companies:
            got.companies.update(self.agency.fetch_companies(sorted(companies)))

    def _needs_create(self, deal: Deal, code: str, got: _Gathering) -> bool:
        routed = self.mapping.routed_partners(deal.fields.get(self.mapping.agency.routing_field_id))
        if code not in {p.code for p in routed}:
            return False
        link = got.links.get(deal.id, {}).get(code)
        if link is None and (lead := parse_lead_stamp(deal.stamp)) and lead[0] == code:
            return False  # a partner-registered lead: its partner deal exists (sync.leads)
        return link is None or link.partner_deal_id is None

    def _notes(self, got: _Gathering, live: Sequence[str]) -> None:
        """Both sides' notes of the active links whose partner mirrors notes
        (``policies.mirror_notes`` of the mapping in force), read in bulk: one
        ``list_notes_many`` for the agency and one per partner."""
        agency_ids: list[str] = []
        wanted: dict[str, list[str]] = defaultdict(list)
        for agency_id, links_of in got.links.items():
            mirrored = [r for c, r in links_of.items() if c in live and self._mirrors(r)]
            if not mirrored or agency_id not in got.agency_deals:
                continue
            agency_ids.append(agency_id)
            for link in mirrored:
                wanted[link.partner_code].append(link.partner_deal_id or "")
        if not agency_ids:
            return
        found = self.agency.list_notes_many(agency_ids)
        got.agency_notes.update({i: tuple(found.get(i, ())) for i in agency_ids})
        for code, deal_ids in wanted.items():
            try:
                notes = self.partners[code].list_notes_many(deal_ids)
            except CrmError as exc:
                got.down[code] = exc
                continue
            got.partner_notes.update({(code, i): tuple(notes.get(i, ())) for i in deal_ids})

    def _mirrors(self, link: LinkState) -> bool:
        partner = self.mapping.partners.get(link.partner_code)
        return bool(
            partner
            and partner.policies.mirror_notes
            and link.partner_deal_id
            and link.status == LinkStatus.ACTIVE
        )


def _syncable(link: LinkState) -> bool:
    return link.status in (LinkStatus.ACTIVE, LinkStatus.PARKED, LinkStatus.PENDING_CREATE)
