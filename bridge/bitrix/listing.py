"""Keyset listing of deals (``>ID`` + ``start=-1``), chained inside ``batch``.

Offset paging with a modification-time filter skips rows when deals change
mid-listing (they leave earlier pages and shift later ones). Paging by id does
not: an id never changes, so every deal that matched when the listing started
is met exactly once (reference §5). Up to 50 pages travel in one ``batch``:
page *k* filters ``>id`` by ``$result[c{k-1}][items][49][id]``, the last id of
the page before (reference §4, the PHP SDK's ``getTraversableList``). Deals are
read through ``crm.item.list``, which returns ``contactIds`` with each deal.

Once a page comes back short, the pages after it had nothing to refer to (the
portal sends an unresolved placeholder as literal text), so their answers are
ignored.

:func:`changes` walks the listing through the adapter's transport; everything
else here is pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from bridge.bitrix import codec
from bridge.bitrix.batch import MAX_COMMANDS, PAGE_SIZE, BatchReply, command, ref
from bridge.bitrix.errors import WireError, classify
from bridge.crm import TransientError

if TYPE_CHECKING:  # the transport pulls in aiohttp; the pure half of this module does not
    from bridge.bitrix.transport import Transport


def since_filter(since: dt.datetime) -> str:
    """``>=DATE_MODIFY`` value: whole seconds rounded down, so the boundary second is kept."""
    return codec.wire_time(since.replace(microsecond=0))


METHOD = "crm.item.list"
BASE = {"entityTypeId": "2", "useOriginalUfNames": "Y"}


def rows_of(result: Any) -> list[dict[str, Any]]:
    """The deals of one ``crm.item.list`` answer (``{"items": [...]}``)."""
    items = result.get("items") if isinstance(result, Mapping) else None
    return [r for r in items or () if isinstance(r, dict)]


def page_params(filters: Mapping[str, Any], select: Sequence[str], after: str) -> dict[str, Any]:
    return {
        **BASE,
        "filter": {**filters, ">id": after},
        "order": {"id": "ASC"},
        "select": list(select),
        "start": "-1",
    }


def chain(
    filters: Mapping[str, Any], select: Sequence[str], after: str, pages: int
) -> dict[str, str]:
    """``pages`` (≤ 50) chained page commands ``c0``…, the first after id ``after``."""
    pages = max(1, min(pages, MAX_COMMANDS))
    page = _anchored(filters, select)
    commands = {"c0": page(quote(after, safe=""))}
    for k in range(1, pages):
        commands[f"c{k}"] = page(_QUOTED_ANCHORS[k])
    return commands


# Page k's anchor, the last id of page k-1, quoted as it goes into a command: the same
# 49 references in every chain, quoted once.
_QUOTED_ANCHORS = (
    "",
    *(
        quote(ref(f"c{k - 1}", "items", PAGE_SIZE - 1, "id"), safe="")
        for k in range(1, MAX_COMMANDS)
    ),
)


_MARK = "\x00after\x00"  # never in a filter or a field name


def _anchored(filters: Mapping[str, Any], select: Sequence[str]) -> Callable[[str], str]:
    """The page command for any ``>id`` anchor (given quoted), its params encoded once.

    A chain's pages differ only in that anchor; encoding the same filter and select
    list fifty times over was most of the bridge's CPU in a quiet poll. The result is
    exactly what :func:`command` gives for each anchor (it is the fallback)."""
    template = command(METHOD, page_params(filters, select, _MARK))
    marked = quote(_MARK, safe="")
    if template.count(marked) != 1:
        return lambda quoted: command(METHOD, page_params(filters, select, unquote(quoted)))
    head, tail = template.split(marked)
    return lambda quoted: f"{head}{quoted}{tail}"


def walk(reply: BatchReply, pages: int) -> tuple[list[dict[str, Any]], bool, WireError | None]:
    """Rows of the chained pages in order, whether more may follow, and a real error."""
    rows: list[dict[str, Any]] = []
    for k in range(pages):
        result, error = reply.outcome(f"c{k}")
        if error is not None:
            return rows, False, error
        page = rows_of(result)
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


def changes(
    transport: Transport, since: dt.datetime, select: Sequence[str]
) -> Iterator[tuple[list[dict[str, Any]], dt.datetime]]:
    """Raw deal rows modified at or after ``since``, page by page, each with the watermark.

    Every request is one ``batch`` of 50 chained pages (2,500 rows), the first one
    included: the batch's own ``time`` block is the watermark (when the portal started
    answering), so a quiet poll costs one request and a busy one no extra request for a
    first page. The first chunk is yielded even when empty (it carries the watermark).
    """
    filters = {">=updatedTime": since_filter(since)}
    after, watermark, first = "0", None, True
    while True:
        commands = chain(filters, select, after, MAX_COMMANDS)
        reply, time_block = transport.batch(commands, halt=True)
        if watermark is None:
            watermark = portal_time(time_block)
        if watermark is None:
            raise TransientError("the portal's answer had no time block", system=transport.system)
        rows, more, error = walk(reply, len(commands))
        del reply  # the rows are what is kept of the answer
        if error is not None:
            raise classify(error, system=transport.system)
        if rows:
            after = str(rows[-1]["id"])
        if rows or first:
            # Handed over with no reference kept here: the caller decodes the rows and
            # lets go of them before it reads the next request's.
            page, rows = [rows], []
            yield page.pop(), watermark
        first = False
        if not more:
            return
