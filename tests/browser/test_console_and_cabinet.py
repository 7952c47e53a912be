"""The console and the cabinet in a real browser: every page, every main action."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sync.cli.demo_screens import (
    alfa_deals,
    link_of,
    park_alfa_deal,
    request_payout,
    sign_in,
    wait_until,
)
from sync.cli.demo_site import DemoSite

PAGES = [
    "/console/",
    "/console/deals",
    "/console/deals?q=Сайт",
    "/console/parked",
    "/console/ledger",
    "/console/kpi",
    "/console/mapping",
    "/console/cabinets",
]


def _page(chromium: Any, **options: Any) -> tuple[Any, list[str]]:
    """A fresh browser tab and the list its console errors and page errors go to."""
    context = chromium.new_context(locale="ru-RU", **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def test_sign_in_and_every_console_page_renders_without_errors(
    site: DemoSite, chromium: Any
) -> None:
    page, errors = _page(chromium)
    sign_in(page, site, "Ирина")
    first_deal = alfa_deals(site)[0].agency_deal_id
    for path in [
        *PAGES,
        f"/console/deals/{first_deal}",
        "/console/?lang=en",
        "/console/ledger?lang=ru",
    ]:
        answer = page.goto(f"{site.url}{path}")
        assert answer is not None and answer.status == 200, path
        assert page.locator("h1").count() == 1, path
    statement = page.goto(f"{site.url}/console/ledger/statement?partner=alfa")
    assert statement is not None and statement.status == 200
    assert page.locator("h1").inner_text() in ("Выписка по взаиморасчётам", "Commission statement")
    assert errors == []


def test_retry_a_parked_deal_and_see_it_applied(site: DemoSite, chromium: Any) -> None:
    agency_id = park_alfa_deal(site)
    row = link_of(site, "alfa", agency_id)
    assert row is not None and row.partner_deal_id is not None
    # The partner fixes the stage, but its webhook is lost: only the console's retry helps.
    alfa = site.world.alfa
    secret = site.world.env["ALFA_AMO_HOOK_SECRET"]
    assert alfa.webhooks.unsubscribe(f"{site.url}/hooks/amocrm/alfa/{secret}")
    pipeline = alfa.pipeline_id("Партнёрские лиды")
    alfa.update_lead(
        int(row.partner_deal_id), {"status_id": alfa.status_id(pipeline, "КП отправлено")}
    )
    page, errors = _page(chromium)
    sign_in(page, site)
    page.goto(f"{site.url}/console/parked")
    page.locator(f"#link-{row.id} button", has_text="Повторить").click()
    assert "Готово" in page.locator(".flash.ok").inner_text()

    def retried_is_active() -> bool:
        row = link_of(site, "alfa", agency_id)
        assert row is not None, "the retried link is gone"
        return row.status == "active"

    wait_until("the retried deal is active again", retried_is_active)
    page.goto(f"{site.url}/console/deals/{agency_id}")
    assert "активна" in page.locator("h2 .badge").first.inner_text()
    assert "КП отправлено" in page.content()
    assert errors == []


def test_void_an_entry_with_a_reason(site: DemoSite, chromium: Any) -> None:
    page, errors = _page(chromium)
    sign_in(page, site)
    page.goto(f"{site.url}/console/ledger?partner=alfa")
    row = page.locator("tr[id^=entry-]", has=page.locator("button.danger")).first
    entry_id = row.get_attribute("id")
    row.locator("input[name=reason]").fill("ошибка в сумме оплаты")
    row.locator("button.danger").click()
    assert "аннулирована" in page.locator(".flash.ok").inner_text()
    voided = page.locator(f"#{entry_id}")
    assert "аннулировано" in voided.inner_text() and "ошибка в сумме оплаты" in voided.inner_text()
    assert voided.locator("button.danger").count() == 0
    assert errors == []


def _printed_link(site: DemoSite, partner: str) -> str:
    """What an admin gets from ``bridge cabinet link`` on the daemon's machine."""
    settings = site.daemon.settings
    env = {
        **os.environ,
        "BRIDGE_ADMIN_TOKEN": site.admin_token,
        "BRIDGE_DB_URL": settings.db_url,
        "BRIDGE_MAPPING": str(settings.mapping_path),
        "BRIDGE_HTTP_PORT": site.url.rsplit(":", 1)[1],
    }
    env.pop("BRIDGE_SECRET_KEY", None)
    bridge = str(Path(sys.executable).parent / "bridge")
    done = subprocess.run(
        [bridge, "cabinet", "link", partner, "--days", "2", "--env-file", str(settings.env_file)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_cabinet_from_a_printed_link_payout_request_and_payout(
    site: DemoSite, chromium: Any, tmp_path: Path
) -> None:
    partner, errors = _page(chromium, viewport={"width": 390, "height": 844}, is_mobile=True)
    partner.goto(_printed_link(site, "beta"))
    partner.wait_for_url(f"{site.url}/p/")
    assert "Digital Бета" in partner.locator("h1").inner_text()
    assert "Агентство должно вам" in partner.locator("#balance").inner_text()
    request_payout(partner, tmp_path)
    assert "Запрос выплаты отправлен" in partner.locator(".flash.ok").inner_text()
    assert "на рассмотрении" in partner.content()

    console, console_errors = _page(chromium)
    sign_in(console, site)
    console.goto(f"{site.url}/console/ledger")
    request = console.locator("tr[id^=request-]").first
    request.locator("input[name=ref]").fill("п/п 314")
    request.locator("button", has_text="Выплачено").click()
    assert "Оплата записана" in console.locator(".flash.ok").inner_text()
    assert console.locator("tr[id^=request-]").count() == 0

    partner.reload()
    assert "выплачено" in partner.content()
    assert errors == [] and console_errors == []


def test_isolation_in_the_browser(site: DemoSite, chromium: Any) -> None:
    beta, _ = _page(chromium)
    beta.goto(site.cabinet_link("beta"))
    beta.wait_for_url(f"{site.url}/p/")
    text = beta.content()
    assert "Интернет-магазин" in text  # beta's own story deal
    for alfa_only in ("Веб-Студия Альфа", "Сайт клиники", "CRM для склада"):
        assert alfa_only not in text
    beta.goto(f"{site.url}/console/ledger")  # the cabinet's session opens no console page
    assert "/console/login" in beta.url
    answer = beta.goto(f"{site.url}/p/enter/not-a-real-token")
    assert answer is not None and answer.status == 403
    assert "Доступ закрыт" in beta.content()
