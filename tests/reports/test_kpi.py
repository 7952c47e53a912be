from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

from bridge.kpi.compute import Window, leaderboard, median_days, partner_kpi
from bridge.kpi.monthly import last_months, months_between, series
from bridge.kpi.svg import nice_max, render_chart
from bridge.ledger.statement import Period
from bridge.mapping.compiled import Side
from tests.reports.kpi_data import ENTRIES, FACTS, NOW

NOVEMBER = Period.parse("2026-11")
WINDOW = Window(NOVEMBER.start_at, NOVEMBER.end_at)
WEEK = dt.timedelta(days=7)


def test_alfa_in_november_worked_by_hand() -> None:
    k = partner_kpi("alfa", "Альфа", FACTS, ENTRIES, WINDOW, NOW, stale_after=WEEK)
    # Handed over in November: A1..A4 (A5 came in October).
    assert (k.handed, k.active, k.won, k.lost) == (4, 1, 2, 1)
    assert k.conversion == Decimal("0.5000")  # 2 / 4
    assert k.won_amount == Decimal("350000.50")  # 100 000.00 + 250 000.50
    assert k.average_deal == Decimal("175000.25")  # 350 000.50 / 2
    # Days to the first stage move: A1 2.5, A2 1.0, A3 4.0 → median 2.5.
    assert k.median_days_to_first_stage == Decimal("2.5")
    # Latest partner update is A2's on 25.11 00:00; now is 30.11 12:00 → 5 whole days.
    assert k.days_since_update == 5
    # A4 last changed 13.11, open and live: stale. A5 is won, not stale.
    assert k.stale == 1
    # November entries: 25 000.00 + 62 500.13 + 12 500.00 accrued; the October fee is outside.
    assert k.accrued == {Side.PARTNER: Decimal("100000.13")}
    assert k.paid == {Side.PARTNER: Decimal("25000.00")}


def test_beta_and_the_leaderboard() -> None:
    alfa = partner_kpi("alfa", "Альфа", FACTS, ENTRIES, WINDOW, NOW, stale_after=WEEK)
    beta = partner_kpi("beta", "Бета", FACTS, ENTRIES, WINDOW, NOW, stale_after=WEEK)
    assert (beta.handed, beta.active, beta.won, beta.lost) == (3, 2, 1, 0)
    assert beta.conversion == Decimal("0.3333")
    assert beta.average_deal == Decimal("900000.00")
    assert beta.median_days_to_first_stage == Decimal("1.5")  # B1 2.0 and B3 1.0 days
    assert beta.stale == 0 and beta.accrued == {} and beta.paid == {}
    empty = partner_kpi("gamma", "Гамма", FACTS, ENTRIES, WINDOW, NOW, stale_after=WEEK)
    assert empty.conversion is None and empty.average_deal is None and empty.handed == 0
    board = leaderboard([empty, alfa, beta])
    assert [k.partner_code for k in board.by_won_amount] == ["beta", "alfa", "gamma"]
    assert [k.partner_code for k in board.by_conversion] == ["alfa", "beta", "gamma"]


def test_all_time_cohort_includes_october() -> None:
    k = partner_kpi("alfa", "Альфа", FACTS, ENTRIES, Window(), NOW, stale_after=WEEK)
    assert (k.handed, k.won) == (5, 3)
    assert k.conversion == Decimal("0.6000")
    assert k.average_deal == Decimal("133333.50")  # 400 000.50 / 3, rounded half-up to kopecks
    assert k.accrued == {Side.PARTNER: Decimal("110000.13")}


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    # alfa all-time: 2.5, 1.0, 4.0 and A5's 2.0 → (2.0 + 2.5) / 2 = 2.25 → 2.3 (half-up)
    assert median_days(f for f in FACTS if f.partner_code == "alfa") == Decimal("2.3")


def test_months() -> None:
    assert months_between((2026, 11), (2027, 2)) == ((2026, 11), (2026, 12), (2027, 1), (2027, 2))
    assert last_months(NOW, 3) == ((2026, 9), (2026, 10), (2026, 11))


def test_monthly_series() -> None:
    months = last_months(NOW, 2)
    alfa = series("alfa", "Альфа", months, FACTS, ENTRIES)
    assert alfa.won == (0, 3)  # A1, A2 and A5 were all won in November
    assert alfa.commission == (Decimal("10000.00"), Decimal("100000.13"))


def test_chart_is_svg_with_cyrillic_names_and_one_bar_per_partner_and_month() -> None:
    months = last_months(NOW, 3)
    lines = [
        series(c, n, months, FACTS, ENTRIES)
        for c, n in (("alfa", "Альфа"), ("beta", "Бета «Софт»"))
    ]
    svg = render_chart(lines)
    root = ET.fromstring(svg)  # noqa: S314  (our own output: checks it is well-formed XML)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Альфа" in texts and "Бета «Софт»" in texts
    assert "Выигранные сделки по месяцам" in texts
    assert "Комиссия по месяцам, ₽" in texts
    assert "нояб. 26" in texts
    rects = list(root.iter("{http://www.w3.org/2000/svg}rect"))
    # background + 2 panels × 3 months × 2 partners + 2 legend swatches
    assert len(rects) == 1 + 12 + 2
    english = render_chart(lines, language="en")
    assert "Deals won per month" in english and "Nov 26" in english


def test_bar_heights_scale_to_round_tops() -> None:
    assert nice_max(Decimal("100000.13")) == Decimal("200000")
    assert nice_max(Decimal("0")) == Decimal("1")
    assert nice_max(Decimal("5")) == Decimal("5")
    assert nice_max(Decimal("51")) == Decimal("100")


def test_a_month_netting_below_zero_draws_no_negative_bar() -> None:
    from bridge.kpi.monthly import Series

    line = Series(
        "alfa", "Альфа", ((2026, 10), (2026, 11)), (0, 1), (Decimal("-500.00"), Decimal("1000"))
    )
    root = ET.fromstring(render_chart([line]))  # noqa: S314  (our own output)
    heights = [float(r.get("height", "0")) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert min(heights) == 0.0 and max(h for h in heights[1:] if h < 500) > 0
