"""Transport and list semantics: routing, inputs, pages, filters, order, select."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from bridge.phpform import build
from bridge.sandbox.bitrix.app import METHODS
from bridge.sandbox.bitrix.call import Call
from bridge.sandbox.bitrix.core import Result
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.sandbox.bitrix.query import list_page, page, parse_filter, sort_records
from bridge.sandbox.bitrix.render import item_resolver
from tests.sandbox.conftest import BitrixApi
from tests.sandbox.rows import deal_row

# ---- routing and inputs -------------------------------------------------------------


def test_method_names_are_case_insensitive_with_optional_json_suffix(
    bitrix: BitrixSandbox,
) -> None:
    for name in ("CRM.Deal.Fields", "crm.deal.fields.json"):
        reply = requests.post(bitrix.webhook_url + name, json={}, timeout=5)
        assert reply.status_code == 200
        assert "TITLE" in reply.json()["result"]


def test_query_string_and_form_inputs(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    form = build({"fields": {"TITLE": "Лендинг «Весна»", "OPPORTUNITY": "99000"}})
    deal_id = bitrix_api("crm.deal.add", form=form).json()["result"]
    url = bitrix.webhook_url + "crm.deal.get?" + build({"id": deal_id})
    deal = requests.get(url, timeout=5).json()["result"]
    assert deal["TITLE"] == "Лендинг «Весна»"
    assert deal["OPPORTUNITY"] == "99000.00"


def test_wrong_credentials_and_unknown_methods(bitrix: BitrixSandbox) -> None:
    base = bitrix.server.base_url
    wrong_user = requests.post(f"{base}/rest/2/sandbox-secret/crm.deal.list", json={}, timeout=5)
    assert wrong_user.status_code == 401
    assert wrong_user.json()["error"] == "INVALID_CREDENTIALS"
    unknown = requests.post(bitrix.webhook_url + "crm.deal.teleport", json={}, timeout=5)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_sandbox_bug_is_a_json_500(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(call: Call) -> Result:
        raise RuntimeError("sandbox bug")

    monkeypatch.setitem(METHODS, "server.time", broken)
    reply = bitrix_api("server.time")
    assert reply.status_code == 500
    assert reply.json()["error"] == "INTERNAL_SERVER_ERROR"


# ---- pages ------------------------------------------------------------------------------


def _ids(rows: list[dict[str, str]]) -> list[int]:
    return [int(row["ID"]) for row in rows]


def test_pages_of_fifty_with_next_only_while_rows_remain(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    bitrix.seed_deals(120, category_id=0)
    first = bitrix_api("crm.deal.list", {"order": {"ID": "ASC"}}).json()
    assert (len(first["result"]), first["total"], first["next"]) == (50, 120, 50)
    last = bitrix_api("crm.deal.list", {"order": {"ID": "ASC"}, "start": 100}).json()
    assert (len(last["result"]), last["total"]) == (20, 120)
    assert "next" not in last
    assert _ids(last["result"]) == list(range(101, 121))


def test_start_minus_one_skips_the_count(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    bitrix.seed_deals(70, category_id=0)
    reply = bitrix_api("crm.deal.list", {"start": -1, "filter": {">ID": 60}}).json()
    assert _ids(reply["result"]) == list(range(61, 71))
    assert reply["total"] == 0
    assert "next" not in reply


def test_order_descending_by_id(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    bitrix.seed_deals(5, category_id=0)
    rows = bitrix_api.result("crm.deal.list", {"order": {"ID": "DESC"}})
    assert _ids(rows) == [5, 4, 3, 2, 1]


# ---- filters ------------------------------------------------------------------------------


@pytest.fixture
def deals(bitrix: BitrixSandbox) -> list[str]:
    titles = ["Сайт", "Магазин", "Сайт-визитка", "Бот", "Приложение", "SEO"]
    return [
        bitrix.add_deal({"TITLE": t, "OPPORTUNITY": (n + 1) * 1000, "ORIGIN_ID": f"p-{n}"})
        for n, t in enumerate(titles)
    ]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"ID": 3}, [3]),
        ({"=ID": "3"}, [3]),
        ({"!ID": 3}, [1, 2, 4, 5, 6]),
        ({">ID": "2", "<=ID": 4}, [3, 4]),
        ({">=ID": 5}, [5, 6]),
        ({"<ID": 2}, [1]),
        ({"@ID": [2, 4, 9]}, [2, 4]),
        ({"!@ID": [2, 4]}, [1, 3, 5, 6]),
        ({"%TITLE": "сайт"}, [1, 3]),
        ({"TITLE": "сайт"}, [1]),
        ({">OPPORTUNITY": 3500}, [4, 5, 6]),
        ({"ORIGIN_ID": "p-2"}, [3]),
        ({"=%TITLE": "%визитка"}, [3]),
        ({"!%TITLE": "Сайт"}, [2, 4, 5, 6]),
        # IDs compare as numbers, not as text ("10" < "9" as text).
        ({">ID": "10"}, []),
    ],
)
def test_filter_operators(
    deals: list[str], bitrix_api: BitrixApi, filter_: dict[str, object], expected: list[int]
) -> None:
    rows = bitrix_api.result("crm.deal.list", {"filter": filter_, "order": {"ID": "ASC"}})
    assert _ids(rows) == expected


def test_upper_case_parameter_names(deals: list[str], bitrix_api: BitrixApi) -> None:
    rows = bitrix_api.result("crm.deal.list", {"FILTER": {"@ID": [1, 2]}, "SELECT": ["TITLE"]})
    assert rows == [{"ID": "1", "TITLE": "Сайт"}, {"ID": "2", "TITLE": "Магазин"}]


def test_date_modify_moves_on_every_change_and_filters_as_a_datetime(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    bitrix.clock.freeze()
    first, second = bitrix.add_deal({"TITLE": "A"}), bitrix.add_deal({"TITLE": "B"})
    created = deal_row(bitrix, first)["DATE_MODIFY"]
    bitrix.clock.advance(3600)
    bitrix_api.result("crm.deal.update", {"id": second, "fields": {"TITLE": "B2"}})
    changed = deal_row(bitrix, second)["DATE_MODIFY"]
    assert dt.datetime.fromisoformat(changed) - dt.datetime.fromisoformat(created) == dt.timedelta(
        hours=1
    )
    assert changed.endswith("+03:00")
    # The same instant written in UTC still compares as that instant.
    as_utc = dt.datetime.fromisoformat(changed).astimezone(dt.UTC).isoformat()
    rows = bitrix_api.result("crm.deal.list", {"filter": {">=DATE_MODIFY": as_utc}})
    assert _ids(rows) == [int(second)]
    rows = bitrix_api.result("crm.deal.list", {"filter": {"<DATE_MODIFY": changed}})
    assert _ids(rows) == [int(first)]


def test_bad_filter_is_refused(bitrix_api: BitrixApi) -> None:
    reply = bitrix_api("crm.deal.list", {"filter": "ID > 1"})
    assert reply.status_code == 400
    assert reply.json() == {"error": "", "error_description": "Parameter 'filter' must be array."}


# ---- select ---------------------------------------------------------------------------------


def test_select_masks_on_legacy_list(bitrix_demo_api: BitrixApi) -> None:
    plain = bitrix_demo_api.result("crm.deal.list", {"select": ["*"]})[0]
    assert "TITLE" in plain
    assert not [k for k in plain if k.startswith("UF_")]
    assert "CONTACT_IDS" not in plain
    custom = bitrix_demo_api.result("crm.deal.list", {"select": ["ID", "UF_*"]})[0]
    # UF_* leaves out multiple custom fields; naming one brings it back.
    assert set(custom) == {"ID", "UF_CRM_AGENCY_FEE", "UF_CRM_PAID", "UF_CRM_BRIEF"}
    named = bitrix_demo_api.result("crm.deal.list", {"select": ["UF_CRM_PARTNER"]})[0]
    assert set(named) == {"ID", "UF_CRM_PARTNER"}


def test_item_list_or_groups(deals: list[str], bitrix_api: BitrixApi) -> None:
    filter_ = {"0": {"logic": "OR", "0": {"=id": 1}, "1": {"%title": "бот"}}, ">opportunity": 500}
    params = {"entityTypeId": 2, "filter": filter_, "select": ["id"], "order": {"id": "ASC"}}
    assert bitrix_api.result("crm.item.list", params) == {"items": [{"id": 1}, {"id": 4}]}


def test_item_list_filters_in_camel_case(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    bitrix.seed_deals(3, category_id=0)
    reply = bitrix_api(
        "crm.item.list",
        {"entityTypeId": 2, "filter": {">=id": 2}, "order": {"id": "DESC"}, "select": ["id"]},
    ).json()
    assert reply["result"] == {"items": [{"id": 3}, {"id": 2}]}
    assert reply["total"] == 2
    bad = bitrix_api("crm.item.list", {"entityTypeId": 2, "filter": {"nope": 1}})
    assert bad.status_code == 400
    assert bad.json()["error"] == "INVALID_ARG_VALUE"


def test_multipart_form_data_input(bitrix: BitrixSandbox) -> None:
    files = {
        "fields[TITLE]": (None, "Сайт «Зима»"),
        "fields[OPPORTUNITY]": (None, "120000"),
        "fields[CONTACT_IDS][0]": (None, "0"),
    }
    reply = requests.post(bitrix.webhook_url + "crm.deal.add", files=files, timeout=5)
    deal = bitrix.get_deal(str(reply.json()["result"]))
    assert deal is not None
    assert (deal["TITLE"], deal["OPPORTUNITY"]) == ("Сайт «Зима»", "120000.00")


def test_renamed_portal_answers_302_to_its_new_address(bitrix: BitrixSandbox) -> None:
    old = bitrix.webhook_url
    bitrix.seed_deals(3, category_id=0)
    new = bitrix.rename_portal()
    assert new != old and bitrix.webhook_url == new
    moved = requests.post(
        old + "crm.deal.list", json={"filter": {"ID": 2}}, allow_redirects=False, timeout=5
    )
    assert moved.status_code == 302
    assert moved.headers["Location"] == new + "crm.deal.list"
    # Re-POSTing to the new address is what the docs advise.
    again = requests.post(moved.headers["Location"], json={"filter": {"ID": 2}}, timeout=5)
    assert [row["ID"] for row in again.json()["result"]] == ["2"]
    # A client that follows the 302 as a GET loses the body, and with it the filter.
    followed = requests.post(old + "crm.deal.list", json={"filter": {"ID": 2}}, timeout=5)
    assert [row["ID"] for row in followed.json()["result"]] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({">ID": 295}, [296, 297, 298, 299, 300]),
        ({">=ID": 298, "!ID": 299}, [298, 300]),
        ({"@ID": [7, 5, 999]}, [5, 7]),
        ({"ID": 9, ">ID": 1}, [9]),
        ({"id": "x"}, []),
    ],
)
def test_id_bounded_filters_narrow_without_changing_answers(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi, filter_: dict[str, object], expected: list[int]
) -> None:
    bitrix.seed_deals(300, category_id=0)
    for start in (0, -1):
        rows = bitrix_api.result("crm.deal.list", {"filter": filter_, "start": start})
        assert _ids(rows) == expected
    items = bitrix_api.result(
        "crm.item.list", {"entityTypeId": 2, "filter": {">id": 250, "<=id": 252}, "start": -1}
    )["items"]
    assert [i["id"] for i in items] == [251, 252]
    contacts = bitrix_api.result("crm.contact.list", {"filter": {">ID": 0}, "start": -1})
    assert contacts == []


@pytest.mark.parametrize(
    "filter_",
    [
        {">ID": 120},
        {">=ID": 120, "<ID": 180},
        {"@ID": [5, 77, 301, 900]},
        {"ID": 42},
        {"LOGIC": "OR", ">ID": 290, "<ID": 3},
        {},
    ],
)
@pytest.mark.parametrize("order", [[], [("ID", False)], [("ID", True)]])
@pytest.mark.parametrize("start", [0, 50, -1])
def test_indexed_listing_equals_a_full_scan(
    bitrix: BitrixSandbox,
    filter_: dict[str, object],
    order: list[tuple[str, bool]],
    start: int,
) -> None:
    """Deals and contacts: the narrowed candidates give the page a scan of every row gives."""
    bitrix.seed_deals(300, category_id=0, with_contacts=True)
    portal = bitrix.portal
    resolve = item_resolver(portal.userfields)
    deals = parse_filter(filter_, resolve, strict=False)
    fast = list_page(portal.deals.rows, filter_, deals, order, start)
    scanned = sort_records([r for r in portal.deals.rows.values() if deals.matches(r)], order)
    assert _page_ids(fast) == _page_ids(page(scanned, start))
    parties = portal.contacts
    wanted = parse_filter(filter_, parties.kind_of, strict=False)
    fast = list_page(parties.rows, filter_, wanted, order, start, view=parties.filter_view)
    views = [parties.filter_view(r) for r in parties.rows.values()]
    scanned = sort_records([v for v in views if wanted.matches(v)], order)
    assert len(parties.rows) == 300
    assert _page_ids(fast) == _page_ids(page(scanned, start))


def _page_ids(
    answer: tuple[list[dict[str, object]], int | None, int | None],
) -> tuple[list[object], int | None, int | None]:
    rows, total, following = answer
    return [r["ID"] for r in rows], total, following
