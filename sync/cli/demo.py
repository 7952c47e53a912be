"""``bridge demo``: the whole bridge on its embedded defaults, no credentials needed.

Three sandboxes (the agency's Bitrix24, partner «Альфа» on amoCRM, partner
«Бета» on Bitrix24), a temporary SQLite store, the repository's mapping.yaml and
the real daemon with its webhooks registered. Then a short scripted story: the
partner manager hands leads over, partners work them, money moves — while a live
view shows each side as the bridge keeps them in step. It ends by printing the
console's URL and a partner-cabinet link; ``--keep`` keeps them working until Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.live import Live

from bridge.ledger import book
from bridge.ledger.balances import balances
from bridge.ledger.locale import Texts
from bridge.sandbox.world import SandboxWorld
from bridge.store import links
from sync.cli.demo_site import OPTIONS, demo_site
from sync.cli.demo_view import StoryDeal, StoryState, render, summary
from sync.runtime.daemon import Daemon

WAIT = 25.0  # seconds a step may wait for the bridge before the story moves on


class Story:
    def __init__(self, world: SandboxWorld, daemon: Daemon, live: Live) -> None:
        self.world, self.daemon, self.live = world, daemon, live
        self.state = StoryState()
        self.texts = Texts("ru")
        self._tick = threading.Event()
        assert daemon.engine is not None
        self.mapping = daemon.engine.mapping
        self.names = self._stage_names()

    # --- the script ---------------------------------------------------------------
    def play(self) -> None:
        self.step("Менеджер агентства передаёт четыре лида партнёрам")
        for n, code in enumerate(("alfa", "beta", "alfa", "beta"), start=1):
            self.hand_over(code, n)
        self.wait(
            "все четыре лида у партнёров", lambda: all(d.partner_id for d in self.state.deals)
        )
        first, second = self.state.deals[0], self.state.deals[1]
        self.step("Партнёры берут лиды в работу и уточняют бюджет")
        self.alfa_edit(first, status="Квалификация", price=320_000)
        self.beta_edit(second, stage="Квалификация", amount="210000")
        self.wait_stage(first, "В работе у партнёра")
        self.wait_stage(second, "В работе у партнёра")
        self.step("Клиент Альфы заплатил 250 000 ₽ — агентству причитается 40 %")
        self.alfa_paid(first, 250_000)
        self.wait("комиссия начислена", lambda: self._entries("alfa", first.agency_id))
        self.step("Альфа выиграла сделку, Бета закрыла свою с гонораром агентства")
        self.alfa_edit(first, status="Успешно реализовано")
        self.world.agency.update_deal(second.agency_id, {"UF_CRM_AGENCY_FEE": "150000|RUB"})
        self.beta_edit(second, stage="won")
        self.wait_stage(first, "Сделка успешна")
        self.wait_stage(second, "Сделка успешна")
        self.wait("комиссия Беты начислена", lambda: self._entries("beta", second.agency_id))
        self.step("Готово")

    # --- actions --------------------------------------------------------------------
    def hand_over(self, code: str, n: int) -> None:
        partner = self.mapping.partners[code]
        with self.world.agency.portal.lock:
            contact = self.world.agency.portal.contacts.add(
                {
                    "NAME": ("Ольга", "Сергей", "Ирина", "Павел")[n - 1],
                    "LAST_NAME": ("Кузнецова", "Орлов", "Белова", "Зайцев")[n - 1],
                    "PHONE": [
                        {"VALUE": f"+7 (916) 555-{n:02d}-{n + 10:02d}", "VALUE_TYPE": "WORK"}
                    ],
                    "EMAIL": [{"VALUE": f"client{n}@example.ru", "VALUE_TYPE": "WORK"}],
                },
                user_id=1,
            )
        title = ("Сайт клиники", "Интернет-магазин", "CRM для склада", "Лендинг акции")[n - 1]
        deal_id = self.world.agency.add_deal(
            {
                "TITLE": title,
                "CATEGORY_ID": int(self.mapping.agency.pipeline_id),
                "STAGE_ID": self.names["agency:name"]["Передана партнёру"],
                "OPPORTUNITY": str(Decimal(180_000 + 20_000 * n)),
                "CURRENCY_ID": "RUB",
                "CONTACT_ID": contact,
                "UF_CRM_PARTNER": [partner.routing_value],
            }
        )
        deal = StoryDeal(deal_id, title, code, partner.name, started=time.monotonic())
        self.state.deals.append(deal)
        self.state.say(f"Агентство: сделка #{deal_id} «{title}» → {partner.name}")
        self.refresh()

    def alfa_edit(self, deal: StoryDeal, *, status: str, price: int | None = None) -> None:
        assert deal.partner_id is not None
        fields: dict[str, object] = {"status_id": int(self.names["alfa:name"][status])}
        if price is not None:
            fields["price"] = price
        self.world.alfa.update_lead(int(deal.partner_id), fields)
        self.state.say(f"Альфа (amoCRM): лид #{deal.partner_id} → «{status}»")

    def alfa_paid(self, deal: StoryDeal, amount: int) -> None:
        assert deal.partner_id is not None
        field_id = self.world.alfa.field_id("Оплачено клиентом")
        values = [{"field_id": field_id, "values": [{"value": str(amount)}]}]
        self.world.alfa.update_lead(int(deal.partner_id), {"custom_fields_values": values})
        self.state.say(f"Альфа: «Оплачено клиентом» = {amount:,} ₽".replace(",", " "))

    def beta_edit(self, deal: StoryDeal, *, stage: str, amount: str | None = None) -> None:
        assert deal.partner_id is not None
        fields: dict[str, object] = {"STAGE_ID": self.names["beta:name"][stage]}
        if amount is not None:
            fields["OPPORTUNITY"] = amount
        self.world.beta.update_deal(deal.partner_id, fields)
        shown = self.names["beta:id"].get(str(fields["STAGE_ID"]), stage)
        self.state.say(f"Бета (Bitrix24): сделка #{deal.partner_id} → «{shown}»")

    # --- waiting and watching --------------------------------------------------------
    def step(self, text: str) -> None:
        self.state.step = text
        self.state.say(f"— {text}")
        self.refresh()

    def wait(self, what: str, done: Callable[[], object]) -> bool:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.refresh()
            if done():
                return True
            self._tick.wait(0.2)
        self.state.say(f"[yellow]не дождались: {what}[/yellow]")
        return False

    def wait_stage(self, deal: StoryDeal, stage: str) -> bool:
        return self.wait(f"«{stage}» у #{deal.agency_id}", lambda: deal.agency_stage == stage)

    def refresh(self) -> None:
        self._observe()
        self.live.update(render(self.state, self.texts))

    def _observe(self) -> None:
        store = self.daemon.store
        assert store is not None
        ids = [d.agency_id for d in self.state.deals]
        with store.transaction() as session:
            rows = {s.key: s for s in links.states(session, ids)}
            entries = book.read(session)
        for deal in self.state.deals:
            self._observe_deal(deal, rows.get((deal.agency_id, deal.partner)))
        self.state.balances = balances(entries, dt.datetime.now(dt.UTC))
        self.state.calls = {
            "Bitrix24 агентства": self.world.agency.server.calls.requests,
            "amoCRM Альфы": self.world.alfa.server.calls.requests,
            "Bitrix24 Беты": self.world.beta.server.calls.requests,
        }

    def _observe_deal(self, deal: StoryDeal, row: object) -> None:
        agency = self.world.agency.get_deal(deal.agency_id) or {}
        deal.agency_stage = self.names["agency:id"].get(str(agency.get("STAGE_ID")), "—")
        deal.amount = self.texts.money(Decimal(str(agency.get("OPPORTUNITY") or 0)), "RUB")
        partner_id = getattr(row, "partner_deal_id", None)
        if partner_id and deal.partner_id is None:
            deal.partner_id = str(partner_id)
            deal.latency = time.monotonic() - deal.started
            self.state.say(f"Мост: #{deal.agency_id} появилась у партнёра как #{partner_id}")
        if deal.partner_id is None:
            return
        if deal.partner == "alfa":
            lead = self.world.alfa.get_lead(int(deal.partner_id)) or {}
            deal.partner_stage = self.names["alfa:id"].get(str(lead.get("status_id")), "—")
        else:
            other = self.world.beta.get_deal(deal.partner_id) or {}
            deal.partner_stage = self.names["beta:id"].get(str(other.get("STAGE_ID")), "—")

    def _entries(self, partner: str, agency_id: str) -> bool:
        store = self.daemon.store
        assert store is not None
        with store.transaction() as session:
            return bool(book.read(session, partner=partner, deal_id=agency_id))

    def _stage_names(self) -> dict[str, dict[str, str]]:
        """Stage id ↔ name for each side, read once through the daemon's adapters."""
        names: dict[str, dict[str, str]] = {}
        wanted = {"agency": self.mapping.agency.pipeline_id} | {
            code: p.pipeline_id for code, p in self.mapping.partners.items()
        }
        for label, crm in self.daemon.crms().items():
            pipeline = next(p for p in crm.pipelines() if p.id == wanted[label])
            names[f"{label}:id"] = {s.id: s.name for s in pipeline.stages}
            names[f"{label}:name"] = {s.name: s.id for s in pipeline.stages}
            for stage in pipeline.stages:
                names[f"{label}:name"].setdefault(stage.semantics.value, stage.id)
        return names


def run_demo(
    console: Console | None = None, *, keep: bool = False, screenshots: Path | None = None
) -> int:
    """Play the story; then print the console URL and a cabinet link (they work while the
    demo runs). ``keep``: run until Ctrl-C. ``screenshots``: photograph the main pages."""
    console = console or Console()
    # The live view is the demo's output; the daemon's INFO lines would tear it apart.
    logging.getLogger().setLevel(logging.WARNING)
    with (
        tempfile.TemporaryDirectory(prefix="bridge-demo-") as tmp,
        demo_site(Path(tmp), OPTIONS) as site,
    ):
        console.print("Запускаю песочницы, хранилище SQLite и демон моста…")
        with Live(console=console, refresh_per_second=8, transient=True) as live:
            story = Story(site.world, site.daemon, live)
            story.play()
        console.print(summary(story.state, story.texts))
        console.print(
            f"Консоль агентства: {site.console_url}  (токен: {site.admin_token})", soft_wrap=True
        )
        console.print(f"Кабинет партнёра «Бета»: {site.cabinet_link('beta')}", soft_wrap=True)
        if screenshots is not None:
            from sync.cli.demo_screens import take_screenshots

            for path in take_screenshots(site, screenshots):
                console.print(f"снимок: {path}")
        if keep:
            console.print("Демо работает; Ctrl-C — остановить.")
            _wait_for_interrupt()
    return 0


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM (the demo then stops its daemon and sandboxes)."""
    import signal

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
