"""``batch``: limits, halting, ``$result`` chaining and the PHP-shaped answer."""

from __future__ import annotations

from urllib.parse import quote

from bridge.phpform import build
from bridge.sandbox.bitrix.portal import BitrixSandbox
from tests.sandbox.conftest import BitrixApi
from tests.sandbox.rows import deal_row


def test_more_than_fifty_commands_is_refused(bitrix_api: BitrixApi) -> None:
    reply = bitrix_api("batch", {"cmd": {f"c{n}": "server.time" for n in range(51)}})
    assert reply.status_code == 400
    assert reply.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    assert bitrix_api("batch", {"cmd": {f"c{n}": "server.time" for n in range(50)}}).ok


def test_empty_maps_are_json_arrays(bitrix_api: BitrixApi) -> None:
    reply = bitrix_api("batch", {"cmd": {"t": "server.time"}})
    assert '"result_error":[]' in reply.text
    assert '"result_total":[]' in reply.text
    assert '"result_next":[]' in reply.text
    body = reply.json()["result"]
    assert set(body) == {"result", "result_error", "result_total", "result_next", "result_time"}


def test_halt_zero_runs_everything_and_collects_errors(bitrix_api: BitrixApi) -> None:
    cmd = {"bad": "crm.deal.get?id=999", "good": "crm.deal.add?fields[TITLE]=Новая"}
    reply = bitrix_api("batch", {"halt": 0, "cmd": cmd})
    assert reply.status_code == 200
    body = reply.json()["result"]
    assert body["result_error"] == {"bad": {"error": "", "error_description": "Not found"}}
    assert isinstance(body["result"]["good"], int)


def test_halt_one_stops_at_the_first_failure(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    cmd = {"bad": "crm.deal.get?id=999", "never": "crm.deal.add?fields[TITLE]=x"}
    body = bitrix_api("batch", {"halt": 1, "cmd": cmd}).json()["result"]
    assert body["result"] == []
    assert list(body["result_error"]) == ["bad"]
    assert bitrix.deal_ids() == []


def test_nested_batch_is_not_allowed(bitrix_api: BitrixApi) -> None:
    body = bitrix_api("batch", {"cmd": {"inner": "batch?cmd[a]=server.time"}}).json()["result"]
    assert body["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_keyset_export_chains_nested_result_paths(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    ids = [int(i) for i in bitrix.seed_deals(120, category_id=0)]
    cmd = {"c0": "crm.deal.list?order[ID]=ASC&start=-1&select[0]=ID"}
    for n in (1, 2):
        cmd[f"c{n}"] = (
            f"crm.deal.list?order[ID]=ASC&start=-1&select[0]=ID"
            f"&filter[{quote('>')}ID]=$result[c{n - 1}][49][ID]"
        )
    body = bitrix_api("batch", {"halt": 1, "cmd": cmd}).json()["result"]
    pages = [[int(row["ID"]) for row in body["result"][f"c{n}"]] for n in range(3)]
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [deal_id for p in pages for deal_id in p] == ids
    assert body["result_total"] == {"c0": 0, "c1": 0, "c2": 0}  # start=-1: no count
    assert body["result_next"] == []


def test_item_list_chains_through_items(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    bitrix.seed_deals(70, category_id=0)
    cmd = {
        "a": "crm.item.list?entityTypeId=2&order[id]=ASC&start=-1",
        "b": "crm.item.list?entityTypeId=2&order[id]=ASC&start=-1"
        "&filter[%3Eid]=$result[a][items][49][id]",
    }
    body = bitrix_api("batch", {"cmd": cmd}).json()["result"]
    assert [i["id"] for i in body["result"]["b"]["items"]] == list(range(51, 71))


def test_unresolved_reference_is_sent_as_literal_text(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    cmd = {"bad": "crm.deal.get?id=999", "add": "crm.deal.add?fields[TITLE]=$result[bad][ID]"}
    body = bitrix_api("batch", {"halt": 0, "cmd": cmd}).json()["result"]
    deal = bitrix.get_deal(str(body["result"]["add"]))
    assert deal is not None
    assert deal["TITLE"] == "$result[bad][ID]"


def test_list_totals_and_next_move_out_of_the_result(
    bitrix: BitrixSandbox, bitrix_api: BitrixApi
) -> None:
    bitrix.seed_deals(60, category_id=0)
    cmd = {"p1": "crm.deal.list?start=0", "p2": "crm.deal.list?start=50"}
    body = bitrix_api("batch", {"cmd": cmd}).json()["result"]
    assert body["result_total"] == {"p1": 60, "p2": 60}
    assert body["result_next"] == {"p1": 50}
    assert isinstance(body["result"]["p1"], list)
    assert len(body["result"]["p2"]) == 10


def test_fast_bitrix24_command_strings(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    bitrix.seed_deals(3, category_id=0)
    command = (
        "crm.deal.list?filter[%3EID]=1&filter[%3C%3DID]=3&select[0]=ID&select[1]=TITLE"
        "&order[ID]=DESC&__order=order0000000000&"
    )
    body = bitrix_api("batch", {"cmd": {"order0000000000": command}}).json()["result"]
    assert [row["ID"] for row in body["result"]["order0000000000"]] == ["3", "2"]


def test_commands_as_a_list_get_numeric_keys(bitrix_api: BitrixApi) -> None:
    body = bitrix_api("batch", {"cmd": ["server.time", "crm.deal.fields"]}).json()["result"]
    assert set(body["result"]) == {"0", "1"}


def test_whole_batch_form_encoded_twice(bitrix: BitrixSandbox, bitrix_api: BitrixApi) -> None:
    """When the batch itself travels form-encoded, command strings are encoded once more."""
    inner = "crm.deal.add?" + build({"fields": {"TITLE": "Сайт & магазин"}})
    reply = bitrix_api("batch", form=build({"halt": 0, "cmd": {"add": inner}}))
    deal_id = reply.json()["result"]["result"]["add"]
    assert deal_row(bitrix, str(deal_id))["TITLE"] == "Сайт & магазин"
