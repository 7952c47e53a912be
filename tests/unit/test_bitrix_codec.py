"""Bitrix24 codec, batch and write planning: wire payloads from the official docs ⇄ model."""

from __future__ import annotations

import datetime as dt
import types
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest

from bridge.bitrix import codec, listing, writes
from bridge.bitrix.batch import MAX_COMMANDS, BatchReply, command
from bridge.bitrix.budget import OperatingBudget
from bridge.bitrix.errors import WireError, classify
from bridge.crm import (
    AccountBlocked,
    AuthError,
    CodecError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
)
from bridge.model import (
    Company,
    Contact,
    DealDraft,
    DealPatch,
    FieldDef,
    FieldKind,
    Money,
    Note,
    Semantics,
)
from bridge.phpform import parse

# crm.deal.get.response.json (docs), trimmed, plus the user fields of the demo portal.
DEAL_GET = {
    "ID": "410",
    "TITLE": "New Deal #1",
    "STAGE_ID": "PREPARATION",
    "CURRENCY_ID": "EUR",
    "OPPORTUNITY": "1000000.00",
    "COMPANY_ID": "9",
    "CONTACT_ID": "84",
    "LEAD_ID": None,
    "ASSIGNED_BY_ID": "1",
    "DATE_CREATE": "2024-08-30T14:29:00+02:00",
    "DATE_MODIFY": "2024-08-30T14:29:00+02:00",
    "CATEGORY_ID": "0",
    "STAGE_SEMANTIC_ID": "P",
    "ORIGINATOR_ID": None,
    "ORIGIN_ID": None,
    "UF_CRM_1721244482250": "Hello world!",
    "UF_CRM_AGENCY_FEE": "300|RUB",
    "UF_CRM_PARTNER": ["3157", "3161"],
    "UF_CRM_BRIEF": "Бриф: сайт «под ключ»",
    "UF_CRM_PAID": "",
}
FIELDS = {
    "UF_CRM_AGENCY_FEE": FieldDef("UF_CRM_AGENCY_FEE", "Гонорар", FieldKind.MONEY),
    "UF_CRM_PARTNER": FieldDef("UF_CRM_PARTNER", "Партнёр", FieldKind.ENUM, multiple=True),
    "UF_CRM_BRIEF": FieldDef("UF_CRM_BRIEF", "Бриф", FieldKind.STRING),
    "UF_CRM_PAID": FieldDef("UF_CRM_PAID", "Оплачено", FieldKind.MONEY),
}
# crm.deal.userfield.list.response.json (docs), the enumeration row, trimmed.
USERFIELD_ENUM = {
    "ID": "6799",
    "ENTITY_ID": "CRM_DEAL",
    "FIELD_NAME": "UF_CRM_1724077760",
    "USER_TYPE_ID": "enumeration",
    "XML_ID": None,
    "MULTIPLE": "Y",
    "EDIT_FORM_LABEL": "Radio",
    "LIST": [
        {"ID": "3157", "SORT": "10", "VALUE": "Children's Radio", "DEF": "N"},
        {"ID": "3159", "SORT": "20", "VALUE": "Shanson Radio", "DEF": "N"},
    ],
}
# crm.status.list.DEAL_STAGE_10.response.json (docs), three rows.
STAGES_10: list[codec.Wire] = [
    {"STATUS_ID": "C10:NEW", "NAME": "New", "SORT": "10", "SEMANTICS": None,
     "EXTRA": {"SEMANTICS": "process"}},
    {"STATUS_ID": "C10:WON", "NAME": "Deal successful", "SORT": "60", "SEMANTICS": "S",
     "EXTRA": {"SEMANTICS": "success"}},
    {"STATUS_ID": "C10:LOSE", "NAME": "Deal failed", "SORT": "70", "SEMANTICS": "F",
     "EXTRA": {"SEMANTICS": "failure"}},
    {"STATUS_ID": "C10:APOLOGY", "NAME": "Analyze failure", "SORT": "80", "SEMANTICS": "F"},
]  # fmt: skip
# crm.contact.get.response.json (docs), trimmed.
CONTACT = {
    "ID": "43",
    "NAME": "John",
    "SECOND_NAME": "Doe",
    "LAST_NAME": "Smith",
    "PHONE": [
        {"ID": "156", "VALUE_TYPE": "WORK", "VALUE": "+13333333555", "TYPE_ID": "PHONE"},
        {"ID": "157", "VALUE_TYPE": "HOME", "VALUE": "+15599888666", "TYPE_ID": "PHONE"},
    ],
    "EMAIL": [
        {"ID": "158", "VALUE_TYPE": "MAILING", "VALUE": "js@example.org", "TYPE_ID": "EMAIL"}
    ],
}


def test_legacy_deal_decodes_strings_dates_and_custom_fields() -> None:
    deal = codec.decode_legacy_deal(DEAL_GET, FIELDS)
    assert deal.id == "410"
    assert deal.amount == Money(Decimal("1000000.00"), "EUR")
    assert deal.updated_at == dt.datetime(2024, 8, 30, 12, 29, tzinfo=dt.UTC)
    assert deal.updated_at.tzinfo is dt.UTC
    assert (deal.pipeline_id, deal.stage_id, deal.company_id) == ("0", "PREPARATION", "9")
    assert deal.contact_ids == ("84",)
    assert deal.stamp is None
    assert deal.fields["UF_CRM_AGENCY_FEE"] == Money(Decimal(300), "RUB")
    assert deal.fields["UF_CRM_PARTNER"] == ("3157", "3161")
    assert deal.fields["UF_CRM_BRIEF"] == "Бриф: сайт «под ключ»"
    assert deal.fields["UF_CRM_PAID"] is None
    assert deal.fields["UF_CRM_1721244482250"] == "Hello world!"  # unknown field: raw text


def test_stamp_counts_only_on_deals_the_bridge_created() -> None:
    ours = {**DEAL_GET, "ORIGINATOR_ID": "partner-bridge", "ORIGIN_ID": "agency-7"}
    theirs = {**DEAL_GET, "ORIGINATOR_ID": "1c-sync", "ORIGIN_ID": "agency-7"}
    assert codec.decode_legacy_deal(ours, FIELDS).stamp == "agency-7"
    assert codec.decode_legacy_deal(theirs, FIELDS).stamp is None
    custom = {**DEAL_GET, "UF_CRM_STAMP": "agency-8"}
    assert codec.decode_legacy_deal(custom, FIELDS, stamp_field="UF_CRM_STAMP").stamp == "agency-8"


def test_universal_item_shape_folds_into_the_legacy_decoder() -> None:
    item = {
        "id": 351,
        "title": "Item",
        "categoryId": 9,
        "stageId": "C9:NEW",
        "opportunity": 10000,
        "currencyId": "USD",
        "createdTime": "2024-04-24T10:00:00+03:00",
        "updatedTime": "2024-04-24T10:00:00+03:00",
        "companyId": 0,
        "contactIds": [5, 7],
    }
    deal = codec.decode_legacy_deal(codec.legacy_keys(item), {})
    assert (deal.id, deal.pipeline_id, deal.company_id) == ("351", "9", None)
    assert deal.contact_ids == ("5", "7")
    assert deal.amount == Money(Decimal(10000), "USD")
    assert deal.created_at == dt.datetime(2024, 4, 24, 7, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("300|RUB", Money(Decimal(300), "RUB")),
        ("1234.56|EUR", Money(Decimal("1234.56"), "EUR")),
        ("", None),
        ("|EUR", None),
        ("EUR", None),
        (None, None),
    ],
)
def test_money_user_field(wire: str | None, expected: Money | None) -> None:
    assert codec.money(wire) == expected


def test_scalars() -> None:
    assert codec.flag("Y") is True and codec.flag("N") is False and codec.flag("1") is True
    with pytest.raises(CodecError):
        codec.flag("maybe")
    with pytest.raises(CodecError):
        codec.timestamp("2024-04-24T10:00:00")  # no offset: refused, never guessed
    with pytest.raises(CodecError):
        codec.decimal("NaN")
    assert codec.day("2024-08-30T02:00:00+02:00") == dt.date(2024, 8, 30)
    assert codec.link_id("0") is None and codec.link_id(None) is None


def test_field_definitions_and_enum_options() -> None:
    enum = codec.decode_field_def(USERFIELD_ENUM)
    assert (enum.id, enum.name, enum.kind, enum.multiple) == (
        "UF_CRM_1724077760",
        "Radio",
        FieldKind.ENUM,
        True,
    )
    assert [o.id for o in enum.options] == ["3157", "3159"]
    assert enum.option_by_value("shanson radio") == enum.options[1]
    status = codec.decode_field_def({"FIELD_NAME": "UF_CRM_X", "USER_TYPE_ID": "crm_status"})
    assert (status.kind, status.name) == (FieldKind.OTHER, "UF_CRM_X")


def test_stage_semantics_and_pipeline() -> None:
    pipe = codec.decode_pipeline({"id": 10, "name": "Лиды", "isDefault": "N"}, STAGES_10)
    assert [s.semantics for s in pipe.stages] == [
        Semantics.OPEN,
        Semantics.WON,
        Semantics.LOST,
        Semantics.LOST,
    ]
    assert pipe.stage_by_id("C10:WON") is not None
    assert all(s.pipeline_id == "10" for s in pipe.stages)
    assert codec.stage_entity("0") == "DEAL_STAGE" and codec.stage_entity("10") == "DEAL_STAGE_10"
    with pytest.raises(CodecError):
        codec.stage_semantics({"SEMANTICS": "Q"})


def test_contact_multifields_and_name() -> None:
    person = codec.decode_contact(CONTACT)
    assert person.name == "John Doe Smith"
    assert person.phones == ("+13333333555", "+15599888666")
    assert person.emails == ("js@example.org",)
    assert codec.decode_contact({"ID": "1", "NAME": "Иван"}).phones == ()


def test_note_from_timeline_comment() -> None:
    row = {"ID": "999", "ENTITY_ID": "2", "ENTITY_TYPE": "deal",
           "CREATED": "2020-03-02T12:00:00+03:00", "COMMENT": "Перезвонить ☎"}  # fmt: skip
    note = codec.decode_note(row)
    assert (note.id, note.deal_id, note.text) == ("999", "2", "Перезвонить ☎")
    assert note.created_at == dt.datetime(2020, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_model_values_become_batch_strings_never_python_literals() -> None:
    assert codec.wire_scalar(True) == "Y" and codec.wire_scalar(False) == "N"
    assert codec.wire_scalar(None) == ""
    assert codec.wire_scalar(Money(Decimal("300.50"), "RUB")) == "300.50|RUB"
    assert codec.wire_scalar(Decimal("1E+3")) == "1000"
    assert codec.wire_scalar(dt.date(2024, 4, 24)) == "2024-04-24"
    moment = dt.datetime(2024, 4, 24, 10, 0, 0, 500, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert codec.wire_scalar(moment) == "2024-04-24T07:00:00+00:00"
    assert codec.wire_field(("1", "2")) == ["1", "2"]
    with pytest.raises(CodecError):
        codec.wire_time(dt.datetime(2024, 1, 1))


def _decoded(cmd: str) -> tuple[str, dict[str, object]]:
    method, _, query = cmd.partition("?")
    return method, parse(query)


def test_create_item_links_contact_and_company_by_result_reference() -> None:
    draft = DealDraft(
        key="k1",
        title="Лендинг",
        pipeline_id="1",
        stage_id="C1:NEW",
        amount=Money(Decimal(150000), "RUB"),
        contact=Contact("Иван Петров", phones=("+7 912 345-67-01",), emails=("i@example.ru",)),
        company=Company("ООО «Ромашка»"),
        stamp="agency-1",
        fields={"UF_CRM_BRIEF": "Бриф", "UF_CRM_PAID": Money(Decimal(5), "RUB")},
    )
    item = writes.create_item(3, draft, stamp_field="ORIGIN_ID")
    assert list(item.commands) == ["p3", "o3", "d3"]
    method, params = _decoded(item.commands["d3"])
    fields = params["fields"]
    assert method == "crm.deal.add" and isinstance(fields, dict)
    assert fields["CONTACT_IDS"] == ["$result[p3]"]
    assert fields["COMPANY_ID"] == "$result[o3]"
    assert (fields["ORIGINATOR_ID"], fields["ORIGIN_ID"]) == ("partner-bridge", "agency-1")
    assert (fields["OPPORTUNITY"], fields["CURRENCY_ID"]) == ("150000", "RUB")
    assert fields["UF_CRM_PAID"] == "5|RUB"
    _, contact = _decoded(item.commands["p3"])
    assert contact["fields"] == {
        "NAME": "Иван Петров",
        "OPENED": "Y",
        "PHONE": [{"VALUE": "+7 912 345-67-01", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "i@example.ru", "VALUE_TYPE": "WORK"}],
    }
    assert "True" not in unquote(item.commands["d3"])


def test_update_item_touches_only_what_the_patch_names() -> None:
    item = writes.update_item(0, DealPatch("42", title="Новое", fields={"UF_CRM_PAID": None}))
    method, params = _decoded(item.commands["u0"])
    assert method == "crm.deal.update"
    assert params == {"id": "42", "fields": {"TITLE": "Новое", "UF_CRM_PAID": ""}}
    move = writes.update_item(1, DealPatch("42", pipeline_id="3", stage_id="C3:NEW"))
    assert list(move.commands) == ["m1"]
    assert _decoded(move.commands["m1"])[1]["fields"] == {"categoryId": "3", "stageId": "C3:NEW"}
    assert writes.update_item(2, DealPatch("42")).commands == {}


def test_pack_keeps_items_whole_within_fifty_commands() -> None:
    drafts = [DealDraft(f"k{n}", "t", "1", "C1:NEW", contact=Contact("x"), company=Company("y"))
              for n in range(20)]  # fmt: skip
    batches = writes.pack(writes.create_item(n, d, stamp_field="ORIGIN_ID")
                          for n, d in enumerate(drafts))  # fmt: skip
    assert [len(writes.commands_of(b)) for b in batches] == [48, 12]
    assert [i.key for b in batches for i in b] == [d.key for d in drafts]


@pytest.mark.parametrize(
    ("sizes", "whole"),
    [
        ([2] * 25, 25),  # one full batch
        ([2] * 30, 25),  # the second batch has room for 20 more commands
        ([2] * 50, 50),
        ([3] * 16, 16),  # 48 commands: another 3 would not fit
        ([3] * 17, 16),
        ([], 0),
    ],
)
def test_whole_items_leaves_out_a_batch_with_room(sizes: list[int], whole: int) -> None:
    assert writes.whole_items(sizes) == whole
    packed = writes.pack(
        writes.ItemCommands(str(n), {f"c{n}_{k}": "x" for k in range(size)}, required=())
        for n, size in enumerate(sizes)
    )
    assert sum(len(b) for b in packed[: len(packed) - (whole < len(sizes))]) == whole


def test_create_commands_counts_what_create_item_makes() -> None:
    plain = DealDraft("k", "t", "1", "C1:NEW", contact=Contact("x"))
    both = DealDraft("k", "t", "1", "C1:NEW", contact=Contact("x"), company=Company("y"))
    for draft in (plain, both):
        made = writes.create_item(0, draft, stamp_field="ORIGIN_ID").commands
        assert writes.create_commands(draft) == len(made)


def test_per_command_errors_map_back_to_their_item_only() -> None:
    items = [writes.update_item(n, DealPatch(str(40 + n), title="x")) for n in range(2)]
    reply = BatchReply.parse(
        {
            "result": {
                "result": {"u1": True},
                "result_error": {"u0": {"error": "", "error_description": "Not found"}},
                "result_total": [],
                "result_next": [],
                "result_time": [],
            }
        }
    )
    first, second = (writes.item_result(i, reply, system="b24") for i in items)
    assert isinstance(first.error, NotFound) and first.key == "40"
    assert second.ok and second.deal_id == "41"
    created = writes.create_item(0, DealDraft("k", "t", "1", "C1:NEW"), stamp_field="ORIGIN_ID")
    ok = BatchReply.parse({"result": {"result": {"d0": 777}, "result_error": []}})
    assert writes.item_result(created, ok, system="b24").deal_id == "777"


def test_empty_batch_maps_arrive_as_lists() -> None:
    # batch.error-halt0.response.json (docs): every empty map is [].
    reply = BatchReply.parse(
        {
            "result": {
                "result": [],
                "result_error": {
                    "get_user": {"error": "insufficient_scope", "error_description": ""}
                },
                "result_total": [],
                "result_next": [],
                "result_time": [],
            }
        }
    )
    assert reply.results == {} and reply.times == {}
    assert reply.errors["get_user"].code == "insufficient_scope"


@pytest.mark.parametrize(
    ("error", "write", "expected"),
    [
        (WireError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), False, RateLimited),
        (WireError(429, "OPERATION_TIME_LIMIT"), True, RateLimited),
        (WireError(503, "OVERLOAD_LIMIT"), False, AccountBlocked),
        (WireError(401, "INVALID_CREDENTIALS", "Invalid request credentials"), False, AuthError),
        (WireError(401, "expired_token"), False, AuthError),
        (WireError(403, "ACCESS_DENIED", "REST API is available only on commercial plans"), False,
         AuthError),
        (WireError(500, "INTERNAL_SERVER_ERROR"), False, TransientError),
        (WireError(502), True, OutcomeUnknown),
        (WireError(400, "", "Not found"), False, NotFound),
        (WireError(0, "NOT_FOUND", "Element not found"), True, NotFound),
        (WireError(0, "ACCESS_DENIED", "Access denied"), True, PermanentError),
        (WireError(400, "INVALID_ARG_VALUE", "Invalid filter"), False, PermanentError),
        (WireError(302), False, AuthError),
    ],
)  # fmt: skip
def test_error_classification(error: WireError, write: bool, expected: type) -> None:
    found = classify(error, system="b24", write=write)
    assert type(found) is expected
    if write and error.status >= 500 and expected is not RateLimited:
        assert isinstance(found, OutcomeUnknown)


def test_classification_redacts_server_text() -> None:
    text = "denied for https://portal.example/rest/1/s3cr3tvalue/crm.deal.get"
    found = classify(WireError(400, "", text), system="b24")
    assert "s3cr3tvalue" not in str(found)


def test_keyset_chain_refers_to_the_previous_page() -> None:
    since = {">=updatedTime": "2024-01-01T00:00:00+00:00"}
    commands = listing.chain(since, ["id"], "120", 3)
    params = [_decoded(c)[1] for c in commands.values()]
    anchors = [p["filter"][">id"] for p in params]  # type: ignore[index]
    assert anchors == ["120", "$result[c0][items][49][id]", "$result[c1][items][49][id]"]
    assert all(p["start"] == "-1" and p["order"] == {"id": "ASC"} for p in params)
    assert all(p["useOriginalUfNames"] == "Y" for p in params)
    full = {"items": [{"id": i} for i in range(50)]}
    short = {"items": full["items"][:3]}
    reply = BatchReply.parse({"result": {"result": {"c0": full, "c1": short, "c2": full}}})
    rows, more, error = listing.walk(reply, 3)
    assert (len(rows), more, error) == (53, False, None)  # c2 answered a dangling reference
    rows, more, error = listing.walk(BatchReply.parse({"result": {"result": {"c0": full}}}), 1)
    assert (len(rows), more) == (50, True)


def test_keyset_chain_is_each_page_command_built_on_its_own() -> None:
    # The chain encodes its params once and only swaps the anchor: byte for byte what
    # building every page's command on its own gives, odd field names included.
    since = {">=updatedTime": "2024-01-01T00:00:00+03:00", "=categoryId": "7"}
    select = ["id", "title", "UF_CRM_ЯКОРЬ & 1", "opportunity", "contactIds"]
    commands = listing.chain(since, select, "0", MAX_COMMANDS)
    assert len(commands) == MAX_COMMANDS
    for k, text in enumerate(commands.values()):
        anchor = "0" if k == 0 else f"$result[c{k - 1}][items][49][id]"
        assert text == command(listing.METHOD, listing.page_params(since, select, anchor))


def test_since_filter_rounds_down_to_the_second() -> None:
    since = dt.datetime(2024, 1, 1, 10, 0, 5, 900000, tzinfo=dt.UTC)
    assert listing.since_filter(since) == "2024-01-01T10:00:05+00:00"
    block = {"date_start": "2024-08-30T14:29:05+02:00", "start": 1725020945.54}
    assert listing.portal_time(block) == dt.datetime(2024, 8, 30, 12, 29, 5, tzinfo=dt.UTC)
    assert listing.portal_time({"start": 1725020945.54}) == dt.datetime(
        2024, 8, 30, 12, 29, 5, tzinfo=dt.UTC
    )


def test_note_command() -> None:
    item = writes.note_item(0, Note("42", "Комментарий & ссылка ?a=1"))
    method, params = _decoded(item.commands["n0"])
    assert method == "crm.timeline.comment.add"
    assert params == {"fields": {"ENTITY_ID": "42", "ENTITY_TYPE": "deal",
                                 "COMMENT": "Комментарий & ссылка ?a=1"}}  # fmt: skip


def test_command_refuses_python_bools() -> None:
    with pytest.raises(ValueError, match="bool"):
        command("crm.deal.update", {"fields": {"OPENED": True}})


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_operating_budget_uses_the_portals_reset_time_not_our_clock() -> None:
    clock = _Clock()
    budget = OperatingBudget(limit=480, margin=60, clock=clock)
    # Portal clock is a day ahead of ours; only the distance to the reset matters.
    portal_now = 1_800_000_000.0
    budget.record("crm.item.list", {"operating": 100.0, "operating_reset_at": portal_now + 50,
                                    "finish": portal_now})  # fmt: skip
    assert budget.wait_for(["crm.item.list"]) == 0
    budget.record("crm.item.list", {"operating": 430.0, "operating_reset_at": portal_now + 50,
                                    "finish": portal_now})  # fmt: skip
    assert budget.wait_for(["crm.item.list", "crm.deal.update"]) == pytest.approx(50)
    assert budget.wait_for(["crm.deal.update"]) == 0
    clock.now += 50
    assert budget.wait_for(["crm.item.list"]) == pytest.approx(0)
    budget.record("crm.item.list", {"operating": 10.0})  # no reset time: nothing learned
    budget.block("CRM.TIMELINE.COMMENT.LIST", 60)
    assert budget.wait_for(["crm.timeline.comment.list"]) == pytest.approx(60)


def test_operating_budget_reads_per_command_times_of_a_batch() -> None:
    budget = OperatingBudget(clock=_Clock())
    commands = {"c0": "crm.item.list?x=1", "u0": "crm.deal.update?id=1"}
    times = {"c0": {"operating": 470, "operating_reset_at": 130, "start": 100}}
    budget.record_batch(commands, times)
    assert budget.wait_for(["crm.item.list"]) == pytest.approx(30)
    assert budget.wait_for(["crm.deal.update"]) == 0


def test_a_listing_keeps_no_answer_while_its_rows_are_handled() -> None:
    """A listing request's answer (2,500 raw rows) is let go of before the caller handles
    the page: the generator keeps no reference to it while suspended."""
    answers = []

    class Transport:
        system = "bitrix24:test"

        def batch(self, commands: dict[str, str], *, halt: bool = False) -> Any:
            rows = [{"id": str(n)} for n in range(3)]
            reply = BatchReply.parse({"result": {"result": {"c0": {"items": rows}}}})
            answers.append(reply)
            return reply, {"date_start": "2026-12-01T09:00:00+00:00"}

    since = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    pages = listing.changes(Transport(), since, ["ID"])  # type: ignore[arg-type]
    rows, _ = next(pages)
    assert [r["id"] for r in rows] == ["0", "1", "2"]
    assert isinstance(pages, types.GeneratorType)
    frame = pages.gi_frame
    assert frame is not None
    kept = list(frame.f_locals.values())
    assert not any(value is rows or value is answers[0] for value in kept)
    assert next(pages, None) is None
