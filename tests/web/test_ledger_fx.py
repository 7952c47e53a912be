"""The console's ledger shows, for an entry converted from a partner's own currency, the
amount it came from and the rate used; pages without such entries keep their columns."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from bridge.fx.rates import Conversion
from bridge.ledger import book
from bridge.ledger.entries import Entry, EntryKind
from bridge.mapping.compiled import Side
from bridge.model import Money
from sync.web.render import Formats
from tests.web.conftest import Site
from tests.web.seed import NOW

# 4 600 000 KZT at 1 USD = 460 KZT on 1 Nov 2026 → 10 000 USD (docs/money.md's example)
CONVERTED = Conversion(
    source=Money(Decimal("4600000.00"), "KZT"),
    result=Money(Decimal("10000.00"), "USD"),
    exact=Decimal("10000"),
    rate=Decimal("460"),
    base="USD",
    quote="KZT",
    effective=dt.date(2026, 11, 1),
)


def _book_converted(site: Site) -> None:
    entry = Entry(
        partner="alfa",
        deal_id="1001",
        cause="alfa-won-kzt",
        kind=EntryKind.ACCRUAL,
        rule="percent_of_amount",
        amount=Decimal("2500.00"),
        currency="USD",
        payer=Side.AGENCY,
        occurred_at=NOW - dt.timedelta(days=2),
        payable_at=NOW + dt.timedelta(days=1),
        rate=Decimal("0.25"),
        base=Decimal("10000.00"),
        fx=CONVERTED,
    )
    with site.ctx.store.transaction() as db:
        assert book.append(db, [entry], NOW) == 1


def _row(html: str, cause_amount: str) -> str:
    rows: list[str] = re.findall(r'<tr id="entry-\d+">.*?</tr>', html, flags=re.DOTALL)
    (found,) = [r for r in rows if cause_amount in r]
    return found


def test_a_converted_entry_shows_its_original_amount_and_rate(site: Site) -> None:
    _book_converted(site)
    http = site.console()
    page = http.get(f"{site.url}/console/ledger?lang=ru", timeout=10).text
    assert '<th class="num">Исходная сумма</th><th>Курс</th>' in page
    row = _row(page, "2\u00a0500,00")
    assert "4\u00a0600\u00a0000,00\u00a0KZT" in row
    assert "1 USD = 460 KZT, 01.11.2026" in row
    plain = _row(page, "11\u00a0111,11")  # a RUB entry of the same page: no conversion
    assert plain.count('<td class="num" data-label="Исходная сумма">—</td>') == 1

    english = http.get(f"{site.url}/console/ledger?lang=en", timeout=10).text
    assert "<th>Rate</th>" in english and "Original amount" in english
    deal = http.get(f"{site.url}/console/deals/1001?lang=ru", timeout=10).text  # the same table
    assert "1 USD = 460 KZT, 01.11.2026" in deal


def test_without_converted_entries_the_fx_columns_are_left_out(site: Site) -> None:
    page = site.console().get(f"{site.url}/console/ledger?lang=ru", timeout=10).text
    assert '<tr id="entry-' in page
    assert "Исходная сумма" not in page and "Курс" not in page


def test_the_rate_is_shown_as_kept_without_trailing_zeros() -> None:
    fmt = Formats("ru")
    assert fmt.fx_rate("USD/KZT", Decimal("460.000000"), None) == "1 USD = 460 KZT"
    assert fmt.fx_rate("KZT/RUB", Decimal("0.1875"), dt.date(2026, 11, 1)) == (
        "1 KZT = 0,1875 RUB, 01.11.2026"
    )
    assert fmt.fx_rate(None, None, None) == "—"
