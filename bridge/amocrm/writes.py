"""Bulk writes to amoCRM with one result per input item.

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


class BatchWriter:
    def __init__(self, http: Transport) -> None:
        self.http = http

    def _error(self, message: str, cls: type[CrmError] = PermanentError) -> CrmError:
        return cls(message, system=self.http.system)

    def _send(
        self,
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
                reply = self.http.request(method, path, body=body, idempotent=idempotent)
                return reply.payload, errors
            except AuthError:
                raise
            except BatchRejected as exc:
                bad = _rejected(exc, entries, positional) or {rid: str(exc) for rid, _ in entries}
                errors.update({rid: self._error(f"rejected: {msg}") for rid, msg in bad.items()})
                entries = [e for e in entries if e[0] not in bad]
            except CrmError as exc:
                errors.update(dict.fromkeys((rid for rid, _ in entries), exc))
                return None, errors
        return None, errors

    def _encode(
        self, chunk: list[tuple[int, T]], encode: Callable[[T, str], Json]
    ) -> tuple[list[Entry], dict[str, CrmError]]:
        entries: list[Entry] = []
        errors: dict[str, CrmError] = {}
        for index, item in chunk:
            try:
                entries.append((str(index), encode(item, str(index))))
            except (CodecError, ValueError) as exc:
                errors[str(index)] = self._error(f"cannot encode: {exc}")
        return entries, errors

    @staticmethod
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

    # --- the three writes -------------------------------------------------

    def create(
        self, drafts: Sequence[DealDraft], encode: Callable[[DealDraft, str], Json]
    ) -> list[WriteResult]:
        ids: dict[str, str] = {}
        errors: dict[str, CrmError] = {}
        for chunk in _chunks(drafts, COMPLEX_BATCH):
            entries, bad = self._encode(chunk, encode)
            errors.update(bad)
            payload, failed = self._send("POST", "/api/v4/leads/complex", entries, idempotent=False)
            errors.update(failed)
            for item in payload if isinstance(payload, list) else ():
                for rid in item.get("request_id") or ():
                    ids[str(rid)] = str(item["id"])
        missing = self._error("amoCRM did not report this lead as created")
        return self._results([d.key for d in drafts], ids, errors, missing)

    def update(
        self, patches: Sequence[DealPatch], encode: Callable[[DealPatch], Json]
    ) -> list[WriteResult]:
        ids: dict[str, str] = {}
        errors: dict[str, CrmError] = {}
        for chunk in _chunks(patches, PATCH_BATCH):
            valid = [(i, p) for i, p in chunk if p.deal_id.isdigit()]
            for index, patch in chunk:
                if not patch.deal_id.isdigit():
                    errors[str(index)] = self._error(f"no lead {patch.deal_id!r}", NotFound)
            entries, bad = self._encode(valid, lambda p, _rid: encode(p))
            errors.update(bad)
            payload, failed = self._send(
                "PATCH", "/api/v4/leads", entries, idempotent=True, positional=True
            )
            errors.update(failed)
            updated = {
                str(r["id"]) for r in ((payload or {}).get("_embedded") or {}).get("leads") or ()
            }
            for rid, body in entries:
                if rid not in errors and str(body["id"]) in updated:
                    ids[rid] = str(body["id"])
        missing = self._error("amoCRM did not update this lead", NotFound)
        return self._results([p.key for p in patches], ids, errors, missing)

    def notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        ids: dict[str, str] = {}
        errors: dict[str, CrmError] = {}
        for chunk in _chunks(notes, NOTES_BATCH):
            valid = [(i, n) for i, n in chunk if n.deal_id.isdigit()]
            for index, note in chunk:
                if not note.deal_id.isdigit():
                    errors[str(index)] = self._error(f"no lead {note.deal_id!r}", NotFound)
            entries, bad = self._encode(valid, lambda n, rid: encode_note(n, request_id=rid))
            errors.update(bad)
            payload, failed = self._send("POST", "/api/v4/leads/notes", entries, idempotent=False)
            errors.update(failed)
            for item in ((payload or {}).get("_embedded") or {}).get("notes") or ():
                ids[str(item.get("request_id"))] = str(item["entity_id"])
        missing = self._error("amoCRM did not report this note as added")
        return self._results([n.deal_id for n in notes], ids, errors, missing)
