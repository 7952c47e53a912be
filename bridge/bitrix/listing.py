"""Keyset listing of deals (``>ID`` + ``start=-1``), chained inside ``batch``. Pure.

Offset paging with a modification-time filter skips rows when deals change
mid-listing (they leave earlier pages and shift later ones). Paging by id does
not: an id never changes, so every deal that matched when the listing started
is met exactly once (reference §5). Up to 50 pages travel in one ``batch``:
page *k* filters ``>ID`` by ``$result[c{k-1}][49][ID]``, the last id of the page
before (reference §4, the PHP SDK's ``getTraversableList``).

Once a page comes back short, the pages after it had nothing to refer to (the
portal sends an unresolved placeholder as literal text), so their answers are
ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.bitrix import codec
from bridge.bitrix.batch import MAX_COMMANDS, PAGE_SIZE, BatchReply, command, ref
from bridge.bitrix.errors import WireError


def since_filter(since: dt.datetime) -> str:
    """``>=DATE_MODIFY`` value: whole seconds rounded down, so the boundary second is kept."""
    return codec.wire_time(since.replace(microsecond=0))


def page_params(filters: Mapping[str, Any], select: Sequence[str], after: str) -> dict[str, Any]:
    return {
        "filter": {**filters, ">ID": after},
        "order": {"ID": "ASC"},
        "select": list(select),
        "start": "-1",
    }


def chain(
    method: str, filters: Mapping[str, Any], select: Sequence[str], after: str, pages: int
) -> dict[str, str]:
    """``pages`` (≤ 50) chained page commands ``c0``…, the first after id ``after``."""
    pages = max(1, min(pages, MAX_COMMANDS))
    commands = {"c0": command(method, page_params(filters, select, after))}
    for k in range(1, pages):
        anchor = ref(f"c{k - 1}", PAGE_SIZE - 1, "ID")
        commands[f"c{k}"] = command(method, page_params(filters, select, anchor))
    return commands


def walk(reply: BatchReply, pages: int) -> tuple[list[dict[str, Any]], bool, WireError | None]:
    """Rows of the chained pages in order, whether more may follow, and a real error."""
    rows: list[dict[str, Any]] = []
    for k in range(pages):
        result, error = reply.outcome(f"c{k}")
        if error is not None:
            return rows, False, error
        page = [r for r in result or () if isinstance(r, dict)]
        rows.extend(page)
        if len(page) < PAGE_SIZE:
            return rows, False, None
    return rows, True, None


def portal_time(time_block: Mapping[str, Any]) -> dt.datetime | None:
    """When the portal started answering: ``date_start``, or ``start`` (unix)."""
    if time_block.get("date_start"):
        return codec.timestamp(time_block["date_start"])
    if time_block.get("start") is not None:
        return dt.datetime.fromtimestamp(int(float(time_block["start"])), tz=dt.UTC)
    return None
