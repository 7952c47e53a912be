"""Balances, FIFO overdue, statement periods and the rendered statement (Russian/English)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from bridge.ledger.balances import balances, open_items
from bridge.ledger.entries import Entry
from bridge.ledger.html import to_html
from bridge.ledger.locale import Texts
from bridge.ledger.render import rich_table, to_csv
from bridge.ledger.rules import entries_for, membership_entries, payout_entry
from bridge.ledger.statement import Period, build_statement
from bridge.mapping.compiled import Side
from tests.ledger.factories import OPEN, WON, at, commission, obs, of_amount, of_fee, rub

NBSP = "\u00a0"


def ledger() -> list[Entry]:
    """Deal 101 won 2 Nov (300 000 owed by the partner, due in 5 days), deal 102 won and
    reopened, a 10 % fee owed by the agency (due in 10 days), a payout of 100 000 on 20 Nov."""
    rules = commission(of_amount("0.25", due_days=5), of_fee("0.10", due_days=10))
    d101 = entries_for([obs(0, WON, "1200000.00", fee=200000)], rules, [])
    d102 = entries_for(
        [obs(1, WON, 400000, deal="102"), obs(3, OPEN, 400000, deal="102")], rules, []
    )
    pay = payout_entry("alfa", rub(100000), payer=Side.PARTNER, at=at(18), ref="п/п 1")
    return [*d101, *d102, pay]


def test_balance_is_accruals_minus_payouts_per_direction_and_currency() -> None:
    rows = {(b.payer, b.currency): b for b in balances(ledger(), at(30))}
    partner = rows[(Side.PARTNER, "RUB")]
    assert (partner.charged, partner.paid, partner.balance) == (
        Decimal("300000.00"),
        Decimal("100000.00"),
        Decimal("200000.00"),
    )
    assert rows[(Side.AGENCY, "RUB")].balance == Decimal("20000.00")


def test_overdue_is_what_payouts_do_not_cover_once_payable_has_passed() -> None:
    entries = ledger()
    assert [b.overdue for b in balances(entries, at(4))] == [Decimal(0), Decimal(0)]
    by_payer = {b.payer: b.overdue for b in balances(entries, at(30))}
    assert by_payer == {Side.PARTNER: Decimal("200000.00"), Side.AGENCY: Decimal("20000.00")}


def test_payouts_cover_the_oldest_payable_first() -> None:
    fee = membership_entries(
        "alfa", rub(50000), since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 1)
    )
    entries = [*ledger(), *fee]
    items = {i.entry.cause: i.outstanding for i in open_items(entries, at(30))}
    # 100 000 paid: the membership fee (payable 1 Jan) first, then 50 000 of deal 101.
    assert items == {
        "percent_of_amount:won#1": Decimal("250000.00"),
        "percent_of_fee:won#1": Decimal("20000.00"),
    }


def test_a_reversal_cancels_its_own_deal_not_older_debts() -> None:
    rules = commission(of_amount("0.25"))
    old = entries_for([obs(0, WON, 1000)], rules, [])
    reopened = entries_for([obs(5, WON, 2000, deal="9"), obs(6, OPEN, 2000, deal="9")], rules, [])
    items = open_items([*old, *reopened], at(30))
    assert [(i.entry.deal_id, i.outstanding, i.overdue) for i in items] == [
        ("101", Decimal("250.00"), True)
    ]


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 12, 1)),
        ("2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        ("2026-Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("2026-q1", dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
        ("2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_periods(spec: str, start: dt.date, end: dt.date) -> None:
    period = Period.parse(spec)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("spec", ["2026-13", "2026-Q5", "26-11", "2026-11-01", "ноябрь"])
def test_bad_periods_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse(spec)


def test_period_labels_follow_the_language() -> None:
    ru, en = Texts("ru"), Texts("en")
    assert Period.parse("2026-11").label(ru) == "ноябрь 2026"
    assert Period.parse("2026-Q4").label(ru) == "4-й квартал 2026"
    assert Period.parse("2026-11").label(en) == "November 2026"


def test_statement_has_opening_entries_closing_and_overdue() -> None:
    entries = ledger()
    november = build_statement(entries, "alfa", Period.parse("2026-11"), at(40))
    december = build_statement(entries, "alfa", Period.parse("2026-12"), at(40))
    partner = ("alfa", Side.PARTNER, "RUB")
    assert november.opening == {}
    assert november.closing[partner] == Decimal("200000.00") == december.opening[partner]
    assert len(november.lines) == len(entries) and december.lines == ()
    assert november.as_of == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert {i.entry.cause for i in december.overdue} == {
        "percent_of_amount:won#1",
        "percent_of_fee:won#1",
    }


def test_overdue_in_a_running_period_is_judged_now() -> None:
    statement = build_statement(ledger(), "alfa", Period.parse("2026-11"), at(4))
    assert statement.as_of == at(4) and statement.overdue == ()


def test_html_statement_is_russian_with_locale_formatted_amounts() -> None:
    statement = build_statement(
        ledger(),
        "alfa",
        Period.parse("2026-11"),
        at(40),
        partner_name="ООО «Ромашка» <b>",
        agency_name="Агентство",
    )
    html = to_html(statement, Texts("ru"), {"101": "Сайт для «Улыбки»"})
    assert '<html lang="ru">' in html and '<meta charset="utf-8">' in html
    assert "Выписка по взаиморасчётам" in html and "ноябрь 2026" in html
    assert f"300{NBSP}000,00{NBSP}₽" in html  # 25 % of 1 200 000,00
    assert f"25{NBSP}% × 1{NBSP}200{NBSP}000,00{NBSP}₽" in html
    assert "№ 101 · Сайт для «Улыбки»" in html
    assert "ООО «Ромашка» &lt;b&gt;" in html and "<b>" not in html
    assert "DejaVu Sans" in html and "size: A4" in html


def test_html_escapes_every_value_the_template_shows() -> None:
    statement = build_statement(
        ledger(), "alfa", Period.parse("2026-11"), at(40), partner_name="<i>P</i>"
    )
    html = to_html(statement, Texts("ru", {"title": "A & <B>"}), {"101": '<script>x("1")</script>'})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<h1>A &amp; &lt;B&gt;</h1>" in html and "<title>A &amp; &lt;B&gt; — &lt;i&gt;P" in html
    assert "<i>" not in html


def test_html_says_so_when_a_period_has_no_entries_and_nothing_is_overdue() -> None:
    statement = build_statement(ledger(), "alfa", Period.parse("2025-01"), at(40))
    html = to_html(statement, Texts("en"))
    assert statement.lines == () and statement.overdue == ()
    assert html.count('<p class="empty">') == 2 and 'class="entries"' not in html


def test_english_on_request_and_texts_overridable() -> None:
    statement = build_statement(ledger(), "alfa", Period.parse("2026-11"), at(40))
    english = to_html(statement, Texts("en"))
    assert "Commission statement" in english and "RUB300,000.00" in english
    custom = to_html(statement, Texts("ru", {"title": "Акт сверки"}))
    assert "<h1>Акт сверки</h1>" in custom
    with pytest.raises(ValueError, match="unknown statement text keys"):
        Texts("ru", {"titel": "x"})
    with pytest.raises(ValueError, match="not supported"):
        Texts("de")


def test_csv_has_exact_amounts_and_every_section() -> None:
    statement = build_statement(ledger(), "alfa", Period.parse("2026-11"), at(40))
    rows = list(csv.DictReader(io.StringIO(to_csv(statement))))
    sections = [r["section"] for r in rows]
    assert sections.count("opening") == 2 and sections.count("closing") == 2
    accrual = next(r for r in rows if r["cause"] == "percent_of_amount:won#1")
    assert (accrual["amount"], accrual["base"], accrual["payable_at"]) == (
        "300000.00",
        "1200000.00",
        "2026-11-07",
    )
    payout = next(r for r in rows if r["kind"] == "payout")
    assert (payout["amount"], payout["ref"]) == ("-100000.00", "п/п 1")
    assert any(r["section"] == "overdue" for r in rows)


def test_rich_table_renders_every_line() -> None:
    from rich.console import Console

    statement = build_statement(ledger(), "alfa", Period.parse("2026-11"), at(40))
    console = Console(width=220, record=True)
    console.print(rich_table(statement, Texts("ru")))
    text = console.export_text()
    assert "Сторно" in text and f"-100{NBSP}000,00{NBSP}₽" in text
    assert "Сальдо на конец периода" in text
