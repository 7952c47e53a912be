"""The six correctness invariants of DESIGN §9, checked by one reusable function.

``check_invariants(world, store, mapping, ...)`` reads both CRMs through the same
``Crm`` adapters the engine uses (fakes or real HTTP sandboxes alike) and the
store, and returns an :class:`InvariantReport`. Every report is also kept in
:data:`REPORTS` so ``tests/reliability/conftest.py`` prints them all in the
terminal summary of the run.

1. no lost change — every routed agency deal has an active link whose partner
   deal agrees on stage and amount, or is parked/orphaned with a readable reason;
2. no duplicate — at most one partner deal per stamp, and the link names it; at most one
   agency deal per stamp (a partner-registered lead reaches the agency once);
3. ledger exactly-once — booked entries equal a recomputation from the stored
   observation histories, and deriving again adds nothing; at quiescence, every
   active link's outcome is its own partner deal's (read from that CRM) and its
   ``percent_of_amount`` commission is the rate × that deal's amount when it is won,
   else nothing (per-link truth: never the shared agency deal under fan-out);
4. no silent overwrite — every audited conflict was won by the field's owner
   and keeps the losing value;
5. cursor safety — no deal changed before its account's cursor is unapplied
   (unless a hint for it still waits in the inbox);
6. no secret leaked — none of the configured secrets in any text given
   (logs, CLI output, HTTP bodies, metrics) nor in the store's text columns.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from sqlmodel import Session, select

from bridge.crm import Crm
from bridge.ledger import book
from bridge.ledger.entries import Entry, quantize
from bridge.ledger.observations import history
from bridge.ledger.rules import entries_for, rule_names
from bridge.ledger.tables import LedgerObservationRow
from bridge.mapping.compiled import CompiledMapping, RuleKind, Side
from bridge.model import Deal, LinkStatus, Semantics
from bridge.store import cursors as cursor_store
from bridge.store import leads, starts
from bridge.store.db import Store
from bridge.store.links import state_of
from bridge.store.tables import AuditRow, HintRow, LinkRow, PartnerHealthRow
from sync.plan.types import AMOUNT_KEY, STAGE_KEY

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
NAMES = (
    "1 no lost change",
    "2 no duplicate",
    "3 ledger exactly-once",
    "4 no silent overwrite",
    "5 cursor safety",
    "6 no secret leaked",
)
REPORTS: list[InvariantReport] = []


class HasCrms(Protocol):
    @property
    def agency(self) -> Crm: ...

    @property
    def partners(self) -> Mapping[str, Crm]: ...


@dataclass(frozen=True)
class Crms:
    """The simplest ``world``: the agency adapter and one adapter per partner code."""

    agency: Crm
    partners: Mapping[str, Crm]


@dataclass
class InvariantReport:
    scenario: str
    faults: str = ""
    changes: int = 0
    checked: Counter[str] = field(default_factory=Counter)
    violations: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, invariant: str, detail: str) -> None:
        self.violations.setdefault(invariant, []).append(detail)

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def held(self) -> list[str]:
        return [n for n in NAMES if n not in self.violations]

    def render(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.checked.items()))
        lines = [
            f"[{'OK' if self.ok else 'VIOLATED'}] {self.scenario}",
            f"    faults: {self.faults or 'none'}; changes made: {self.changes}",
            f"    checked: {counts}",
        ]
        for name in NAMES:
            problems = self.violations.get(name, [])
            mark = "held" if not problems else f"VIOLATED ({len(problems)})"
            lines.append(f"    {name}: {mark}")
            lines.extend(f"      - {p}" for p in problems[:5])
        return "\n".join(lines)

    def assert_ok(self) -> None:
        assert self.ok, self.render()


def check_invariants(
    world: HasCrms,
    store: Store,
    mapping: CompiledMapping,
    *,
    scenario: str,
    faults: str = "",
    changes: int = 0,
    quiescent: bool = True,
    secrets: Iterable[str] = (),
    texts: Iterable[str] = (),
    record: bool = True,
) -> InvariantReport:
    """Check all six invariants; ``quiescent=False`` skips "no lost change" (mid-run)."""
    report = InvariantReport(scenario, faults, changes)
    agency_deals = _all_deals(world.agency)
    partner_deals = {c: _all_deals(world.partners[c]) for c in _live(mapping, world)}
    with store.transaction() as session:
        rows = list(session.exec(select(LinkRow)))
        if quiescent:
            kept = _History(starts.read(session), _closed_stages(world.agency, mapping))
            _no_lost_change(report, session, mapping, agency_deals, partner_deals, rows, kept)
            _ledger_per_link(report, session, mapping, world, partner_deals, rows)
        _no_duplicate(report, partner_deals, rows)
        _no_agency_duplicate(report, agency_deals)
        _ledger_exactly_once(report, session, mapping)
        _no_silent_overwrite(report, session, mapping)
        _cursor_safety(report, session, world, mapping, agency_deals, partner_deals, rows)
        stored = _stored_texts(session)
    _no_secret(report, [s for s in secrets if s], [*texts, *stored])
    if record:
        REPORTS.append(report)
    return report


def _live(mapping: CompiledMapping, world: HasCrms) -> list[str]:
    return [c for c, p in mapping.partners.items() if c in world.partners and not p.paused]


def _all_deals(crm: Crm) -> dict[str, Deal]:
    deals: dict[str, Deal] = {}
    for page in crm.list_changed(EPOCH):
        deals.update({d.id: d for d in page.deals})
    return deals


def _routed(mapping: CompiledMapping, deal: Deal) -> set[str]:
    if deal.pipeline_id != mapping.agency.pipeline_id:
        return set()
    value = deal.fields.get(mapping.agency.routing_field_id)
    return {p.code for p in mapping.routed_partners(value)}


@dataclass(frozen=True)
class _History:
    """What the checker needs to tell history from a lost deal: each partner's start (from
    the store) and the agency's closing stages (from the agency CRM)."""

    starts: Mapping[str, dt.datetime]
    closed_stages: frozenset[str]

    def allows(self, mapping: CompiledMapping, code: str, deal: Deal, stamped: bool) -> bool:
        """A deal closed before the partner's start (per policies.history), never stamped
        on a partner deal, may stay a closed link (DESIGN §5, the first connection)."""
        start = self.starts.get(code)
        policy = mapping.partners[code].policies.history
        if start is None or policy == "all" or stamped or deal.stage_id not in self.closed_stages:
            return False
        if isinstance(policy, dt.date):
            start = min(start, dt.datetime.combine(policy, dt.time(), dt.UTC))
        return deal.created_at < start


def _closed_stages(agency: Crm, mapping: CompiledMapping) -> frozenset[str]:
    pipeline = next((p for p in agency.pipelines() if p.id == mapping.agency.pipeline_id), None)
    if pipeline is None:
        return frozenset()
    return frozenset(s.id for s in pipeline.stages if s.semantics is not Semantics.OPEN)


# --- 1 -------------------------------------------------------------------------------
def _no_lost_change(
    report: InvariantReport,
    session: Session,
    mapping: CompiledMapping,
    agency: Mapping[str, Deal],
    partners: Mapping[str, Mapping[str, Deal]],
    rows: Sequence[LinkRow],
    kept: _History,
) -> None:
    name = NAMES[0]
    by_key = {(r.agency_deal_id, r.partner_code): r for r in rows}
    reasons = _status_reasons(session)
    for deal in agency.values():
        for code in sorted(_routed(mapping, deal) & set(partners)):
            report.checked["routed deals"] += 1
            row = by_key.get((deal.id, code))
            if row is None:
                report.fail(name, f"agency deal {deal.id} routed to {code} has no link")
            elif row.status in (LinkStatus.PARKED, LinkStatus.ORPHANED):
                report.checked["parked"] += 1
                if not (row.park_reason or "").strip() and not reasons.get((deal.id, code)):
                    report.fail(name, f"{deal.id}→{code} is {row.status} without a reason")
            elif row.status == LinkStatus.CLOSED and kept.allows(
                mapping, code, deal, any(p.stamp == deal.id for p in partners[code].values())
            ):
                report.checked["history kept"] += 1
            elif row.status != LinkStatus.ACTIVE:
                report.fail(name, f"{deal.id}→{code} left {row.status} after quiescence")
            else:
                siblings = [
                    by_key[(deal.id, c)]
                    for c in _routed(mapping, deal) & set(partners)
                    if c != code and (deal.id, c) in by_key
                ]
                problem = _mirror_problem(mapping, code, deal, partners[code], row, siblings)
                if problem:
                    report.fail(name, f"{deal.id}→{code}: {problem}")


def _status_reasons(session: Session) -> dict[tuple[str, str], str]:
    """The audit's reason for each link's latest status change (an orphan keeps it there)."""
    rows = session.exec(select(AuditRow).where(AuditRow.action == "status"))
    return {(r.agency_deal_id, r.partner_code): (r.detail or "").strip() for r in rows}


def _mirror_problem(
    mapping: CompiledMapping,
    code: str,
    deal: Deal,
    partner_deals: Mapping[str, Deal],
    row: LinkRow,
    siblings: Sequence[LinkRow] = (),
) -> str | None:
    partner = partner_deals.get(row.partner_deal_id or "")
    if partner is None:
        return f"active link to partner deal {row.partner_deal_id}, which does not exist"
    if siblings:
        return _fanout_problem(deal, partner, row, siblings)
    stages = mapping.partners[code].stages
    agrees = (
        stages.to_partner.get(deal.stage_id) == partner.stage_id
        or stages.to_agency.get(partner.stage_id) == deal.stage_id
    )
    if not agrees:
        return f"stage {deal.stage_id} (agency) vs {partner.stage_id} (partner) disagree"
    a, p = deal.amount, partner.amount
    if a is not None and p is not None and a.currency == p.currency and a.amount != p.amount:
        return f"amount {a.amount} (agency) vs {p.amount} (partner) disagree"
    return None


def _fanout_problem(
    deal: Deal, partner: Deal, row: LinkRow, siblings: Sequence[LinkRow]
) -> str | None:
    """A deal handed to several partners: the agency can agree with only one of them.

    A value one partner's link wrote into the agency deal is deliberately not pushed
    on to the other partners (sync/plan/mirror.py ``_unless_sibling_echo``). So: the
    partner's values must be the ones this link last synced (nothing of the partner's
    is unmirrored), and the agency's must be the synced ones or a sibling link's write.
    """
    state = state_of(row)
    sibling_writes: dict[str, list[object]] = {}
    for other in siblings:
        for name, value in state_of(other).agency_writes().items():
            sibling_writes.setdefault(name, []).append(value)
    now = {STAGE_KEY: (deal.stage_id, partner.stage_id), AMOUNT_KEY: (deal.amount, partner.amount)}
    for name, (agency_value, partner_value) in now.items():
        pair = state.pair(name)
        if pair is None:
            continue
        if partner_value != pair[1]:
            return f"{name}: partner holds {partner_value}, last synced {pair[1]}"
        if agency_value != pair[0] and agency_value not in sibling_writes.get(name, []):
            return f"{name}: agency holds {agency_value}, synced {pair[0]}, no sibling wrote it"
    return None


# --- 2 -------------------------------------------------------------------------------
def _no_duplicate(
    report: InvariantReport,
    partners: Mapping[str, Mapping[str, Deal]],
    rows: Sequence[LinkRow],
) -> None:
    name = NAMES[1]
    linked = {(r.partner_code, r.agency_deal_id): r.partner_deal_id for r in rows}
    for code, deals in partners.items():
        stamps = Counter(d.stamp for d in deals.values() if d.stamp)
        report.checked["stamped partner deals"] += sum(stamps.values())
        for stamp, n in stamps.items():
            if n > 1:
                report.fail(name, f"{code}: {n} partner deals carry stamp {stamp}")
                continue
            chosen = linked.get((code, stamp))
            owner = next(d.id for d in deals.values() if d.stamp == stamp)
            if chosen is not None and chosen != owner:
                report.fail(name, f"{code}: link of {stamp} names {chosen}, stamped deal {owner}")


def _no_agency_duplicate(report: InvariantReport, agency: Mapping[str, Deal]) -> None:
    """The agency side: the bridge creates there for partner-registered leads, each agency
    deal stamped ``lead:<partner>:<deal id>``; two agency deals with one stamp are a lead
    that reached the agency twice."""
    stamps = Counter(d.stamp for d in agency.values() if d.stamp)
    report.checked["stamped agency deals"] += sum(stamps.values())
    for stamp, n in sorted(stamps.items()):
        if n > 1:
            ids = sorted((d.id for d in agency.values() if d.stamp == stamp), key=int_or_text)
            report.fail(
                NAMES[1], f"agency: {n} agency deals carry stamp {stamp} ({', '.join(ids)})"
            )


def int_or_text(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


# --- 3 -------------------------------------------------------------------------------
def _ledger_exactly_once(
    report: InvariantReport, session: Session, mapping: CompiledMapping
) -> None:
    name = NAMES[2]
    keys = set(
        session.exec(select(LedgerObservationRow.partner_code, LedgerObservationRow.agency_deal_id))
    )
    booked_all = book.read(session)
    report.checked["ledger entries"] += len(booked_all)
    seen_links = set()
    for code, deal_id in sorted(keys):
        partner = mapping.partners.get(code)
        if partner is None:
            continue
        seen_links.add((code, deal_id))
        past = history(session, code, deal_id)
        booked = book.read(session, partner=code, deal_id=deal_id)
        commission = partner.commission
        if partner.leads is not None and leads.sourced(session, code, deal_id):
            commission = partner.leads.commission  # the rule for leads the partner brought
        fresh = entries_for(past, commission, [])
        if sorted(_key(e) for e in fresh) != sorted(_key(e) for e in booked):
            report.fail(name, f"{code}/{deal_id}: booked {len(booked)} ≠ recomputed {len(fresh)}")
        again = entries_for(past, commission, booked)
        if again:
            report.fail(name, f"{code}/{deal_id}: a replay would book {len(again)} more")
    causes = Counter((e.partner, e.deal_id, e.cause) for e in booked_all)
    for key, n in causes.items():
        if n > 1:
            report.fail(name, f"cause {key} booked {n} times")
    stray = {(e.partner, e.deal_id) for e in booked_all if e.deal_id} - seen_links
    for code, deal_id in sorted(stray):
        if code in mapping.partners and not deal_id.startswith("*"):
            report.fail(name, f"{code}/{deal_id}: entries without any observation")


def _ledger_per_link(
    report: InvariantReport,
    session: Session,
    mapping: CompiledMapping,
    world: HasCrms,
    partners: Mapping[str, Mapping[str, Deal]],
    rows: Sequence[LinkRow],
) -> None:
    """Per-link truth: every active link's outcome is its own partner deal's (read from
    that partner's CRM), and what its ``percent_of_amount`` rule booked is the rate × its
    partner deal's amount when that deal is won, else nothing — never the shared agency
    deal's stage or amount (under fan-out each partner is judged on its own deal)."""
    name = NAMES[2]
    semantics = {c: _stage_semantics(world.partners[c], mapping, c) for c in partners}
    for row in rows:
        partner = mapping.partners.get(row.partner_code)
        deal = partners.get(row.partner_code, {}).get(row.partner_deal_id or "")
        if partner is None or deal is None or row.status != LinkStatus.ACTIVE:
            continue
        report.checked["per-link outcomes"] += 1
        outcome = semantics[row.partner_code].get(deal.stage_id)
        if outcome is not None and row.outcome != outcome.value:
            report.fail(
                name,
                f"{row.agency_deal_id}→{row.partner_code}: outcome {row.outcome}, its partner "
                f"deal is {outcome.value}",
            )
            continue
        commission = partner.commission
        if partner.leads is not None and leads.sourced(
            session, row.partner_code, row.agency_deal_id
        ):
            commission = partner.leads.commission  # the rule for leads the partner brought
        names = rule_names(commission)
        entries = book.read(session, partner=row.partner_code, deal_id=row.agency_deal_id)
        for rule_name, rule in zip(names, commission.rules, strict=True):
            if rule.kind is not RuleKind.PERCENT_OF_AMOUNT or rule.tiers is not None:
                continue  # a tiered rule's due depends on the period's volume: checked above
            booked = sum((e.amount for e in entries if e.rule == rule_name), Decimal(0))
            amount = deal.amount if outcome is Semantics.WON else None
            # A partner keeping its own currency: its amount as the entries converted it.
            fx = next((e.fx for e in entries if e.rule == rule_name and e.fx), None)
            if amount is not None and fx is not None and fx.source == amount:
                amount = fx.result
            due = quantize(rule.rate * amount.amount, amount.currency) if amount else Decimal(0)
            if booked != due:
                report.fail(
                    name,
                    f"{row.agency_deal_id}→{row.partner_code}: {rule_name} booked {booked}, "
                    f"its own deal ({outcome.value if outcome else '?'}, {deal.amount}) "
                    f"implies {due}",
                )


def _stage_semantics(crm: Crm, mapping: CompiledMapping, code: str) -> dict[str, Semantics]:
    wanted = mapping.partners[code].pipeline_id
    pipeline = next((p for p in crm.pipelines() if p.id == wanted), None)
    return {s.id: s.semantics for s in pipeline.stages} if pipeline else {}


def _key(entry: Entry) -> tuple[str, str, str, str]:
    return (entry.cause, entry.rule, f"{entry.amount.normalize():f}", entry.currency)


# --- 4 -------------------------------------------------------------------------------
def _owner(mapping: CompiledMapping, code: str, field_name: str | None) -> str | None:
    partner = mapping.partners.get(code)
    if partner is None:
        return None
    for fm in partner.fields:
        if fm.name == field_name:
            return fm.owner.value if fm.owner else None
    if field_name in (STAGE_KEY, AMOUNT_KEY):
        return Side.PARTNER.value
    return None


def _no_silent_overwrite(
    report: InvariantReport, session: Session, mapping: CompiledMapping
) -> None:
    name = NAMES[3]
    rows = session.exec(select(AuditRow).where(AuditRow.action == "conflict"))
    for row in rows:
        report.checked["conflicts"] += 1
        owner = _owner(mapping, row.partner_code, row.field)
        where = f"{row.agency_deal_id}→{row.partner_code} {row.field}"
        if owner is not None and row.winner != owner:
            report.fail(name, f"{where}: won by {row.winner}, owner is {owner}")
        if row.loser_value is None and row.old_value != row.new_value:
            report.fail(name, f"{where}: the losing value is not in the audit")


# --- 5 -------------------------------------------------------------------------------
def _cursor_safety(
    report: InvariantReport,
    session: Session,
    world: HasCrms,
    mapping: CompiledMapping,
    agency: Mapping[str, Deal],
    partners: Mapping[str, Mapping[str, Deal]],
    rows: Sequence[LinkRow],
) -> None:
    hinted = {(h.system, h.deal_id) for h in session.exec(select(HintRow))}
    sides: list[tuple[Crm, Mapping[str, Deal], str]] = [(world.agency, agency, "agency")]
    sides += [(world.partners[c], partners[c], c) for c in partners]
    for crm, deals, code in sides:
        cursor = cursor_store.load(session, crm.system)
        if cursor.value is None:
            continue
        report.checked["cursors"] += 1
        for deal in deals.values():
            if deal.updated_at >= cursor.value or (crm.system, deal.id) in hinted:
                continue
            problem = _unapplied(mapping, code, deal, rows)
            if problem:
                report.fail(NAMES[4], f"{crm.system} cursor {cursor.value:%H:%M:%S.%f}: {problem}")


def _unapplied(
    mapping: CompiledMapping, code: str, deal: Deal, rows: Sequence[LinkRow]
) -> str | None:
    """Why ``deal`` (changed before the cursor) is not reflected in the store, or None."""
    if code == "agency":
        for partner in sorted(_routed(mapping, deal)):
            row = next(
                (r for r in rows if r.agency_deal_id == deal.id and r.partner_code == partner),
                None,
            )
            if row is None and not mapping.partners[partner].paused:
                return f"agency deal {deal.id} routed to {partner} has no link"
            if row is not None and _stale(row, deal, "agency"):
                return f"agency deal {deal.id} changed at {deal.updated_at} is unapplied"
        return None
    row = next((r for r in rows if r.partner_code == code and r.partner_deal_id == deal.id), None)
    if row is not None and _stale(row, deal, "partner"):
        return f"partner deal {code}/{deal.id} changed at {deal.updated_at} is unapplied"
    return None


def _stale(row: LinkRow, deal: Deal, side: str) -> bool:
    """The store has neither seen this change nor holds the values it carries."""
    if row.status in (LinkStatus.PARKED, LinkStatus.CLOSED, LinkStatus.ORPHANED):
        return False
    seen = row.agency_updated_at if side == "agency" else row.partner_updated_at
    if seen is not None and seen >= deal.updated_at:
        return False
    stage = row.agency_stage if side == "agency" else row.partner_stage
    amount = row.agency_amount if side == "agency" else row.partner_amount
    same_amount = deal.amount is None or amount is None or deal.amount.amount == amount
    return not (stage == deal.stage_id and same_amount)


# --- 6 -------------------------------------------------------------------------------
def _stored_texts(session: Session) -> list[str]:
    out: list[str] = []
    for audit_row in session.exec(select(AuditRow)):
        out += [
            audit_row.detail or "",
            audit_row.old_value or "",
            audit_row.new_value or "",
            audit_row.loser_value or "",
        ]
    out += [r.park_reason or "" for r in session.exec(select(LinkRow))]
    out += [r.last_error or "" for r in session.exec(select(PartnerHealthRow))]
    return out


def _no_secret(report: InvariantReport, secrets: Sequence[str], texts: Sequence[str]) -> None:
    report.checked["texts scanned"] += len(texts)
    report.checked["secrets"] += len(secrets)
    for text in texts:
        for secret in secrets:
            if secret in text:
                at = text.index(secret)
                context = text[max(0, at - 40) : at].replace("\n", " ")
                report.fail(NAMES[5], f"a configured secret appears after: …{context}")


def secrets_of(env: Mapping[str, str], *, also: Iterable[str] = ()) -> list[str]:
    """The secret parts of a sandbox world's ``.env``: tokens, and webhook URLs' keys."""
    found = [v for k, v in env.items() if "TOKEN" in k or "SECRET" in k]
    for key, value in env.items():
        if key.endswith("_WEBHOOK"):  # https://host/rest/<user>/<key>/
            found.append(value.rstrip("/").rsplit("/", 1)[-1])
    return [*found, *also]


def render_all(reports: Sequence[InvariantReport] | None = None) -> str:
    chosen = REPORTS if reports is None else reports
    header = f"invariant checker: {len(chosen)} reports, {sum(not r.ok for r in chosen)} violated"
    return "\n".join([header, *(r.render() for r in chosen)])
