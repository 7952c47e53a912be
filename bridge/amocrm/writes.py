"""Bulk writes to amoCRM with one result per input item: ``create``, ``update``, ``notes``.

Each element carries ``request_id`` = its index in the caller's list, and the
answer is matched back by it (complex add echoes a list of them, notes echo one;
a batch PATCH answers with lead ids). A 400 that names elements rejects the
whole request, so those elements fail and the rest are sent once more.
Create and note writes are not idempotent: when their answer is lost the items
get :class:`OutcomeUnknown` and are never re-sent here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from bridge.amocrm.codec import Json, encode_note
from bridge.amocrm.errors import BatchRejected
from bridge.amocrm.transport import Transport
from bridge.crm import AuthError, CodecError, CrmError, NotFound, PermanentError, WriteResult
from bridge.model import DealDraft, DealPatch, Note

COMPLEX_BATCH = 50  # the complex endpoint's own cap (reference §5.5)
PATCH_BATCH = 250
NOTES_BATCH = 50

T = TypeVar("T")
Entry = tuple[str, Json]  # (request_id, body)


def _chunks(items: Sequence[T], size: int) -> Iterator[list[tuple[int, T]]]:
    indexed = list(enumerate(items))
    for start in range(0, len(indexed), size):
        yield indexed[start : start + size]


def _rejected(exc: BatchRejected, entries: Sequence[Entry], positional: bool) -> dict[str, str]:
    """Validation errors keyed by our request ids (the server echoes ids, or positions)."""
    ids = {rid for rid, _ in entries}
    bad: dict[str, str] = {}
    for key, message in exc.items.items():
        if key in ids and not positional:
            bad[key] = message
        elif key.isdigit() and int(key) < len(entries):
            bad[entries[int(key)][0]] = message
    return bad


def _error(transport: Transport, message: str, cls: type[CrmError] = PermanentError) -> CrmError:
    return cls(message, system=transport.system)


def _send(
    transport: Transport,
    method: str,
    path: str,
    entries: list[Entry],
    *,
    idempotent: bool,
    positional: bool = False,
) -> tuple[Any, dict[str, CrmError]]:
    errors: dict[str, CrmError] = {}
    for _ in range(2):
        if not entries:
            return None, errors
        try:
            body = [b for _, b in entries]
            reply = transport.request(method, path, body=body, idempotent=idempotent)
            return reply.payload, errors
        except AuthError:
            raise
        except BatchRejected as exc:
            bad = _rejected(exc, entries, positional) or {rid: str(exc) for rid, _ in entries}
            errors.update({rid: _error(transport, f"rejected: {msg}") for rid, msg in bad.items()})
            entries = [e for e in entries if e[0] not in bad]
        except CrmError as exc:
            errors.update(dict.fromkeys((rid for rid, _ in entries), exc))
            return None, errors
    return None, errors


def _encode(
    transport: Transport, chunk: list[tuple[int, T]], encode: Callable[[T, str], Json]
) -> tuple[list[Entry], dict[str, CrmError]]:
    entries: list[Entry] = []
    errors: dict[str, CrmError] = {}
    for index, item in chunk:
        try:
            entries.append((str(index), encode(item, str(index))))
        except (CodecError, ValueError) as exc:
            errors[str(index)] = _error(transport, f"cannot encode: {exc}")
    return entries, errors


def _results(
    keys: Sequence[str],
    ids: Mapping[str, str],
    errors: Mapping[str, CrmError],
    missing: CrmError,
) -> list[WriteResult]:
    results: list[WriteResult] = []
    for index, key in enumerate(keys):
        rid = str(index)
        if rid in ids:
            results.append(WriteResult(key, deal_id=ids[rid]))
        else:
            results.append(WriteResult(key, error=errors.get(rid, missing)))
    return results


def _by_lead(
    transport: Transport, chunk: list[tuple[int, T]], lead_of: Callable[[T], str]
) -> tuple[list[tuple[int, T]], dict[str, CrmError]]:
    """Items naming a lead id amoCRM could have; the others fail as not found."""
    valid = [(i, item) for i, item in chunk if lead_of(item).isdigit()]
    errors = {
        str(i): _error(transport, f"no lead {lead_of(item)!r}", NotFound)
        for i, item in chunk
        if not lead_of(item).isdigit()
    }
    return valid, errors


# --- the three writes -------------------------------------------------------


def create(
    transport: Transport, drafts: Sequence[DealDraft], encode: Callable[[DealDraft, str], Json]
) -> list[WriteResult]:
    """``POST /api/v4/leads/complex``, 50 at a time; ``encode(draft, request_id)``."""
    ids: dict[str, str] = {}
    errors: dict[str, CrmError] = {}
    for chunk in _chunks(drafts, COMPLEX_BATCH):
        entries, bad = _encode(transport, chunk, encode)
        errors.update(bad)
        payload, failed = _send(
            transport, "POST", "/api/v4/leads/complex", entries, idempotent=False
        )
        errors.update(failed)
        for item in payload if isinstance(payload, list) else ():
            for rid in item.get("request_id") or ():
                ids[str(rid)] = str(item["id"])
    missing = _error(transport, "amoCRM did not report this lead as created")
    return _results([d.key for d in drafts], ids, errors, missing)


def update(
    transport: Transport, patches: Sequence[DealPatch], encode: Callable[[DealPatch], Json]
) -> list[WriteResult]:
    """``PATCH /api/v4/leads``, 250 at a time; ``encode(patch)``."""
    ids: dict[str, str] = {}
    errors: dict[str, CrmError] = {}
    for chunk in _chunks(patches, PATCH_BATCH):
        valid, unknown = _by_lead(transport, chunk, lambda p: p.deal_id)
        errors.update(unknown)
        entries, bad = _encode(transport, valid, lambda p, _rid: encode(p))
        errors.update(bad)
        payload, failed = _send(
            transport, "PATCH", "/api/v4/leads", entries, idempotent=True, positional=True
        )
        errors.update(failed)
        updated = {
            str(r["id"]) for r in ((payload or {}).get("_embedded") or {}).get("leads") or ()
        }
        for rid, body in entries:
            if rid not in errors and str(body["id"]) in updated:
                ids[rid] = str(body["id"])
    missing = _error(transport, "amoCRM did not update this lead", NotFound)
    return _results([p.key for p in patches], ids, errors, missing)


def notes(transport: Transport, notes: Sequence[Note]) -> list[WriteResult]:
    """``POST /api/v4/leads/notes``, 50 at a time; results keyed by the note's lead id."""
    ids: dict[str, str] = {}
    errors: dict[str, CrmError] = {}
    for chunk in _chunks(notes, NOTES_BATCH):
        valid, unknown = _by_lead(transport, chunk, lambda n: n.deal_id)
        errors.update(unknown)
        entries, bad = _encode(transport, valid, lambda n, rid: encode_note(n, request_id=rid))
        errors.update(bad)
        payload, failed = _send(transport, "POST", "/api/v4/leads/notes", entries, idempotent=False)
        errors.update(failed)
        for item in ((payload or {}).get("_embedded") or {}).get("notes") or ():
            ids[str(item.get("request_id"))] = str(item["entity_id"])
    missing = _error(transport, "amoCRM did not report this note as added")
    return _results([n.deal_id for n in notes], ids, errors, missing)
