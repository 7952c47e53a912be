"""Screenshots of the console and the cabinet, taken in Chromium from the running demo.

``bridge demo --screenshots docs/screenshots`` regenerates the README's pictures:
it plays the demo story, parks one deal for real (the partner moves it to a
stage the mapping does not know), asks for a payout from Бета's cabinet with an
invoice, and photographs each main page (desktop, and the cabinet on a phone).
The browser tests drive the same helpers.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.model import LinkStatus
from bridge.store import links
from bridge.store.tables import LinkRow
from sync.cli.demo_site import DemoSite

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
UNSORTED = "Неразобранное"  # amoCRM's first stage, not in the example mapping


class NoChromium(RuntimeError):
    """No Chromium to drive: install the ``chromium`` package (apt-get install chromium)."""


def chromium_path() -> str:
    for candidate in (*CHROMIUMS, shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    raise NoChromium("no chromium found; install it with: apt-get install -y chromium")


@contextmanager
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def wait_until(what: str, done: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for: {what}")
        time.sleep(0.1)


def sign_in(page: Page, site: DemoSite, name: str = "Анна Менеджер") -> None:
    page.goto(site.console_url)
    page.fill("input[name=name]", name)
    page.fill("input[name=token]", site.admin_token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/console/")


def link_of(site: DemoSite, partner: str, agency_deal_id: str) -> LinkRow | None:
    assert site.daemon.store is not None
    with site.daemon.store.transaction() as db:
        rows = links.by_agency_ids(db, [agency_deal_id])
    return next((r for r in rows if r.partner_code == partner), None)


def alfa_deals(site: DemoSite) -> list[LinkRow]:
    assert site.daemon.store is not None
    with site.daemon.store.transaction() as db:
        return links.for_partner(db, "alfa")


def park_alfa_deal(site: DemoSite) -> str:
    """Move one of Альфа's open leads to a stage the mapping lacks; the bridge parks it."""
    alfa = site.world.alfa
    pipeline = alfa.pipeline_id("Партнёрские лиды")
    row = next(
        r for r in alfa_deals(site) if r.status == LinkStatus.ACTIVE.value and r.partner_deal_id
    )
    assert row.partner_deal_id is not None
    alfa.update_lead(int(row.partner_deal_id), {"status_id": alfa.status_id(pipeline, UNSORTED)})
    wait_until(
        "the bridge parks the deal",
        lambda: getattr(link_of(site, "alfa", row.agency_deal_id), "status", "") == "parked",
    )
    return str(row.agency_deal_id)


def invoice_pdf() -> bytes:
    from bridge.ledger.pdf import html_to_pdf

    return html_to_pdf(
        "<html><body style='font-family: DejaVu Sans'><h1>Счёт № 42</h1>"
        "<p>Digital Бета → агентству: вознаграждение за привлечённых клиентов.</p></body></html>"
    )


def request_payout(page: Page, folder: Path) -> None:
    """On the cabinet's page: ask for everything payable, attaching an invoice."""
    invoice = folder / "invoice-42.pdf"
    invoice.write_bytes(invoice_pdf())
    page.set_input_files("input[name=invoice]", str(invoice))
    page.fill("input[name=note]", "Счёт № 42")
    page.click("#request button[type=submit]")
    page.wait_for_selector(".flash.ok")


def take_screenshots(site: DemoSite, out: Path) -> list[Path]:
    """Photograph the main pages into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    park_alfa_deal(site)
    shots: list[Path] = []
    with browser() as chromium:
        context = chromium.new_context(viewport=DESKTOP, locale="ru-RU")  # type: ignore[arg-type]
        page = context.new_page()
        sign_in(page, site)
        cabinet = chromium.new_context(viewport=PHONE, locale="ru-RU", is_mobile=True)  # type: ignore[arg-type]
        partner = cabinet.new_page()
        partner.goto(site.cabinet_link("beta"))
        partner.wait_for_url(f"{site.url}/p/")
        if partner.locator("#request form").count():
            request_payout(partner, out)
        for name, path in (
            ("console-overview", "/console/"),
            ("console-parked", "/console/parked"),
            ("console-ledger", "/console/ledger"),
            ("console-kpi", "/console/kpi"),
            ("console-deals", "/console/deals"),
        ):
            page.goto(f"{site.url}{path}")
            shots.append(out / f"{name}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
        first = page.locator("table a[href^='/console/deals/']").first
        first.click()
        shots.append(out / "console-deal.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        partner.goto(f"{site.url}/p/")
        shots.append(out / "cabinet-phone.png")
        partner.screenshot(path=str(shots[-1]))
        wide = chromium.new_context(viewport=DESKTOP, locale="ru-RU")  # type: ignore[arg-type]
        desk = wide.new_page()
        desk.goto(site.cabinet_link("beta"))
        desk.wait_for_url(f"{site.url}/p/")
        shots.append(out / "cabinet.png")
        desk.screenshot(path=str(shots[-1]), full_page=True)
        (out / "invoice-42.pdf").unlink(missing_ok=True)
    return shots
