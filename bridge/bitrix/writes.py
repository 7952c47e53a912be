"""Bulk writes as ``batch`` commands, one result per input item: ``create``, ``update``, ``notes``.

Each input item (a draft, a patch, a note) becomes a few commands with keys
unique in the batch (pure: :func:`create_item`, :func:`update_item`,
:func:`note_item`); items are packed whole into batches of at most 50
commands, and each item's outcome is read back from its own commands only, so
one failed command never fails (or re-sends) its neighbours. The three writes
send the batches through the adapter's :class:`~bridge.bitrix.transport.Transport`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.bitrix import codec, companies
from bridge.bitrix.batch import MAX_COMMANDS, BatchReply, command, ref
from bridge.bitrix.errors import WireError, classify
from bridge.crm import AuthError, CrmError, WriteResult
from bridge.model import DealDraft, DealPatch, Note

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the transport pulls in aiohttp; the pure half of this module does not
    from bridge.bitrix.transport import Transport


@dataclass(frozen=True, slots=True)
class ItemCommands:
    """The commands of one input item. ``id_from`` names the command whose result is the id."""

    key: str
    commands: dict[str, str]
    required: tuple[str, ...]
    id_from: str | None = None
    known_id: str | None = None


def create_item(
    n: int, draft: DealDraft, *, stamp_field: str, presets: Mapping[str, str] | None = None
) -> ItemCommands:
    """Contact, company (with its ИНН as a requisite), then the deal linking both
    through ``$result[...]``. ``presets``: ИНН → requisite template id."""
    cmds: dict[str, str] = {}
    fields: dict[str, Any] = dict(codec.encode_draft(draft, stamp_field=stamp_field))
    if draft.contact is not None:
        cmds[f"p{n}"] = command("crm.contact.add", {"fields": codec.encode_contact(draft.contact)})
        fields["CONTACT_IDS"] = [ref(f"p{n}")]
    if draft.company is not None:
        cmds[f"o{n}"] = command("crm.company.add", {"fields": codec.encode_company(draft.company)})
        fields["COMPANY_ID"] = ref(f"o{n}")
        preset = (presets or {}).get(draft.company.tax_id or "")
        requisite = companies.encode_tax_id(
            draft.company, company_ref=ref(f"o{n}"), preset_id=preset or ""
        )
        if requisite is not None and preset:
            cmds[f"r{n}"] = command("crm.requisite.add", {"fields": requisite})
    cmds[f"d{n}"] = command(
        "crm.deal.add", {"fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}}
    )
    return ItemCommands(draft.key, cmds, required=(f"d{n}",), id_from=f"d{n}")


def update_item(n: int, patch: DealPatch, *, stamp_field: str = "ORIGIN_ID") -> ItemCommands:
    """A pipeline move (``crm.item.update``) and/or a field update (``crm.deal.update``)."""
    cmds: dict[str, str] = {}
    move = codec.encode_move(patch)
    if move is not None:
        params = {"entityTypeId": "2", "id": patch.deal_id, "fields": move}
        cmds[f"m{n}"] = command("crm.item.update", params)
    fields = codec.encode_patch(patch, stamp_field=stamp_field)
    if fields:
        cmds[f"u{n}"] = command("crm.deal.update", {"id": patch.deal_id, "fields": fields})
    return ItemCommands(patch.key, cmds, required=tuple(cmds), known_id=patch.deal_id)


def note_item(n: int, note: Note) -> ItemCommands:
    cmds = {f"n{n}": command("crm.timeline.comment.add", {"fields": codec.encode_note(note)})}
    return ItemCommands(note.deal_id, cmds, required=(f"n{n}",), known_id=note.deal_id)


def pack(items: Iterable[ItemCommands], limit: int = MAX_COMMANDS) -> list[list[ItemCommands]]:
    """Group whole items into batches of at most ``limit`` commands, keeping order."""
    batches: list[list[ItemCommands]] = []
    size = limit
    for item in items:
        if not item.commands:
            continue
        if size + len(item.commands) > limit:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item.commands)
    return batches


def whole_items(sizes: Sequence[int], limit: int = MAX_COMMANDS) -> int:
    """How many items of these command counts, from the first, :func:`pack` puts in
    whole batches: the last batch is left out while another item of its last item's
    size would still fit in it."""
    start, size, last = 0, limit, 0
    for n, count in enumerate(sizes):
        if not count:
            continue
        if size + count > limit:
            start, size = n, 0
        size += count
        last = count
    return start if sizes and last and size + last <= limit else len(sizes)


def create_commands(draft: DealDraft) -> int:
    """The commands :func:`create_item` makes of ``draft`` (a company's ИНН requisite
    counted whenever it has one: its preset may be missing, leaving that one out)."""
    company = draft.company
    requisite = company is not None and bool(company.tax_id)
    return 1 + (draft.contact is not None) + (company is not None) + requisite


def commands_of(batch: Iterable[ItemCommands]) -> dict[str, str]:
    return {k: v for item in batch for k, v in item.commands.items()}


def _created_id(result: Any) -> str | None:
    if isinstance(result, dict):
        inner = result.get("item", result)
        value = inner.get("id", inner.get("ID")) if isinstance(inner, dict) else None
        return codec.link_id(value)
    if isinstance(result, bool):
        return None
    return codec.link_id(result)


def item_result(item: ItemCommands, reply: BatchReply, *, system: str) -> WriteResult:
    """One item's outcome from the commands it owns (an optional one, the company's
    requisite, is logged when it fails: the deal and company stand without the ИНН)."""
    for key in item.commands.keys() - set(item.required):
        _, optional_error = reply.outcome(key)
        if optional_error is not None and key.startswith("r"):
            log.warning("%s: the company's ИНН was not saved (%s)", item.key, optional_error)
    deal_id = item.known_id
    if item.id_from is not None:
        deal_id = _created_id(reply.results.get(item.id_from)) or deal_id
    for key in item.required:
        result, error = reply.outcome(key)
        if error is None and result is False:
            error = WireError(0, "", "the portal answered false")
        if error is not None:
            failure = classify(error, system=system, write=True)
            return WriteResult(item.key, deal_id=deal_id, error=failure)
    if item.id_from is not None and deal_id is None:
        missing = classify(WireError(0, "", "no id in the answer"), system=system, write=True)
        return WriteResult(item.key, error=missing)
    return WriteResult(item.key, deal_id=deal_id)


def failed(batch: Iterable[ItemCommands], error: CrmError) -> list[WriteResult]:
    """Every item of a batch whose HTTP request failed as a whole."""
    return [WriteResult(item.key, deal_id=item.known_id, error=error) for item in batch]


# --- the three writes ---------------------------------------------------------------


def create(
    transport: Transport,
    drafts: Sequence[DealDraft],
    *,
    stamp_field: str,
    presets: Mapping[str, str] | None = None,
) -> list[WriteResult]:
    """Deals with their contact and company; one result per draft, same order."""
    items = [
        create_item(n, d, stamp_field=stamp_field, presets=presets) for n, d in enumerate(drafts)
    ]
    return _write(transport, items)


def update(
    transport: Transport, patches: Sequence[DealPatch], *, stamp_field: str = "ORIGIN_ID"
) -> list[WriteResult]:
    items = [update_item(n, p, stamp_field=stamp_field) for n, p in enumerate(patches)]
    return _write(transport, items)


def notes(transport: Transport, notes: Sequence[Note]) -> list[WriteResult]:
    """Timeline comments; ``WriteResult.key`` is the note's deal id."""
    return _write(transport, [note_item(n, note) for n, note in enumerate(notes)])


def _write(transport: Transport, items: list[ItemCommands]) -> list[WriteResult]:
    """Send items in packed batches; results in input order, never a re-send."""
    outcome: dict[int, WriteResult] = {}
    position = {id(item): n for n, item in enumerate(items)}
    stop: CrmError | None = None
    for batch in pack(items):
        outcome.update(
            zip((position[id(i)] for i in batch), _send(transport, batch, stop), strict=True)
        )
        stop = stop or _fatal(outcome)
    return [
        outcome.get(n) or WriteResult(item.key, deal_id=item.known_id)
        for n, item in enumerate(items)
    ]


def _send(
    transport: Transport, batch: list[ItemCommands], stop: CrmError | None
) -> list[WriteResult]:
    if stop is not None:
        return failed(batch, stop)
    try:
        reply, _ = transport.batch(commands_of(batch), write=True)
    except CrmError as exc:
        return failed(batch, exc)
    return [item_result(item, reply, system=transport.system) for item in batch]


def _fatal(outcome: dict[int, WriteResult]) -> CrmError | None:
    """After a whole-request failure, later batches are not sent at all."""
    for result in outcome.values():
        if isinstance(result.error, AuthError):
            return result.error
    return None
