"""Indexed list methods for the Bitrix24 sandbox, installed in the benchmark process only.

The sandbox's ``crm.item.list`` and ``crm.contact.list`` scan and sort every row
for every 50-row page, so reading N deals in chained pages costs O(N²/50) of
sandbox CPU: at 10,000 deals the sandbox, not the bridge, was the bottleneck
(116 s and a client timeout). These variants narrow the candidates with what
the filter itself implies (``>id`` → rows after that id, ``@ID`` → those ids)
and stop after one page when the order is by id ascending with ``start=-1``;
the full filter, order and paging of the original still run on the candidates,
so the answers are the same (``same_answers`` checks it; the quick suite runs
it). The proper fix belongs in ``bridge/sandbox/bitrix/methods_deals.py``
(``item_list``) and ``sandbox_methods_crm.py`` (``_party_list``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bridge.sandbox.bitrix import app as sandbox_app
from bridge.sandbox.bitrix import methods_deals as sandbox_methods_deals
from bridge.sandbox.bitrix.core import PAGE_SIZE, Result, parse_int
from bridge.sandbox.bitrix.methods_deals import _entity, _original
from bridge.sandbox.bitrix.query import page, parse_filter, parse_order, sort_records
from bridge.sandbox.bitrix.render import item_resolver, render_item_deal

Record = dict[str, Any]
ORIGINAL: dict[str, Callable[..., Any]] = {
    "crm.item.list": sandbox_methods_deals.item_list,
    "crm.contact.list": sandbox_app.METHODS["crm.contact.list"],
}


def _candidates(rows: Mapping[int, Record], raw_filter: Any, key: str) -> Iterable[Record]:
    """Rows (in id order) that can possibly match; every row when the filter says nothing."""
    if not isinstance(raw_filter, Mapping):
        return rows.values()
    lowered = {str(k).lower(): v for k, v in raw_filter.items()}
    wanted = lowered.get(f"@{key}")
    if isinstance(wanted, list | tuple):
        ids = sorted({i for i in (parse_int(v) for v in wanted) if i is not None})
        return [rows[i] for i in ids if i in rows]
    after = parse_int(lowered.get(f">{key}"))
    if after is not None:
        keys = list(rows)  # dict order is id order: ids only ever grow
        return (rows[k] for k in keys[bisect.bisect_right(keys, after) :])
    return rows.values()


def _by_id_first_page(order: Any, start: Any) -> bool:
    return parse_int(start) == -1 and order in ([], [("ID", False)], [("id", False)])


def _first(records: Iterable[Record], matches: Callable[[Record], bool]) -> list[Record]:
    chunk: list[Record] = []
    for record in records:
        if matches(record):
            chunk.append(record)
            if len(chunk) == PAGE_SIZE:
                break
    return chunk


def item_list(call: Any) -> Any:
    _entity(call)
    portal = call.portal
    resolve = item_resolver(portal.userfields)
    condition = parse_filter(call.get("filter"), resolve, strict=True)
    order = parse_order(call.get("order"), resolve, strict=True)
    candidates = _candidates(portal.deals.rows, call.get("filter"), "id")
    total: int | None
    if _by_id_first_page(order, call.get("start")):
        chunk, total, following = _first(candidates, condition.matches), 0, None
    else:
        rows = sort_records((r for r in candidates if condition.matches(r)), order)
        chunk, total, following = page(rows, call.get("start"))
    select = call.get("select")
    items = [
        render_item_deal(r, portal.userfields, select, original_uf=_original(call)) for r in chunk
    ]
    return Result({"items": items}, total, following)


def contact_list(call: Any) -> Any:
    parties = call.portal.contacts
    condition = parse_filter(call.get("filter"), parties.kind_of, strict=False)
    order = parse_order(call.get("order"), parties.kind_of, strict=False)
    candidates = _candidates(parties.rows, call.get("filter"), "id")
    views = (parties.filter_view(r) for r in candidates)
    rows = sort_records((v for v in views if condition.matches(v)), order)
    chunk, total, following = page(rows, call.get("start"))
    select = call.get("select")
    selected = list(select.values()) if isinstance(select, dict) else select
    return Result([parties.render(r, selected) for r in chunk], total, following)


def same_answers(deals: int = 300) -> list[str]:
    """Chained listings and id look-ups through both variants; the differences (none, we hope)."""
    import datetime as dt

    from bridge.bitrix.client import BitrixCrm
    from bridge.ratelimit import Pacer
    from bridge.sandbox.bitrix.portal import BitrixSandbox
    from bridge.secrets import Secret

    answers: list[Any] = []
    for fast in (False, True):
        (install if fast else uninstall)()
        try:
            with BitrixSandbox(seed="demo", plan="enterprise", rate_limit=False) as box:
                since = box.clock.now() - dt.timedelta(seconds=1)
                ids = box.seed_deals(deals, with_contacts=True)
                pacer = Pacer(rate=100_000.0, burst=100_000)
                crm = BitrixCrm(Secret(box.webhook_url), system="bitrix24:check", pacer=pacer)
                try:
                    listed = [d.id for page in crm.list_changed(since) for d in page.deals]
                    some = ids[::7]
                    deals_by_id = sorted(crm.fetch_deals(some))
                    contacts = sorted(crm.fetch_contacts([str(n) for n in range(1, deals, 3)]))
                finally:
                    crm.close()
            answers.append((listed, deals_by_id, contacts))
        finally:
            uninstall()
    names = ("listing", "deals by id", "contacts by id")
    return [n for n, a, b in zip(names, answers[0], answers[1], strict=True) if a != b]


def install() -> None:
    sandbox_app.METHODS["crm.item.list"] = item_list
    sandbox_app.METHODS["crm.contact.list"] = contact_list


def uninstall() -> None:
    sandbox_app.METHODS.update(ORIGINAL)
