"""What ``bridge demo`` shows: the story's deals on both sides, latencies, commissions."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from bridge.ledger.balances import Balance
from bridge.ledger.locale import Texts


@dataclass
class StoryDeal:
    """One agency deal of the scripted story, as the viewer last saw it."""

    agency_id: str
    title: str
    partner: str
    partner_name: str
    agency_stage: str = "—"
    partner_id: str | None = None
    partner_stage: str = "—"
    amount: str = "—"
    latency: float | None = None  # seconds from the manager's click to the partner's CRM
    started: float = 0.0  # time.monotonic() when the manager handed it over


@dataclass
class StoryState:
    step: str = "запуск"
    deals: list[StoryDeal] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    def say(self, line: str) -> None:
        self.events.append(line)


def render(state: StoryState, texts: Texts) -> RenderableType:
    return Group(
        Panel(f"[bold]{state.step}[/bold]", title="partner-bridge demo", border_style="cyan"),
        deals_table(state),
        Panel("\n".join(state.events[-8:]) or "…", title="что происходит", border_style="dim"),
        ledger_table(state.balances, texts),
    )


def deals_table(state: StoryState) -> Table:
    table = Table(title="Сделки агентства и их копии у партнёров", expand=True)
    for column in ("сделка", "партнёр", "стадия у агентства", "стадия у партнёра", "сумма"):
        table.add_column(column)
    table.add_column("дошла за", justify="right")
    for deal in state.deals:
        where = f"{deal.partner_name} #{deal.partner_id}" if deal.partner_id else deal.partner_name
        latency = f"{deal.latency:.2f} с" if deal.latency is not None else "…"
        table.add_row(
            f"#{deal.agency_id} {deal.title}",
            where,
            deal.agency_stage,
            deal.partner_stage,
            deal.amount,
            latency,
        )
    return table


def ledger_table(balances: list[Balance], texts: Texts) -> Table:
    table = Table(title="Комиссии (журнал начислений)", expand=True)
    for column in ("партнёр", "кто платит", "начислено", "оплачено", "к оплате"):
        table.add_column(column)
    for row in balances:
        payer = "партнёр → агентству" if row.payer.value == "partner" else "агентство → партнёру"
        table.add_row(
            row.partner,
            payer,
            texts.money(row.charged, row.currency),
            texts.money(row.paid, row.currency),
            texts.money(row.balance, row.currency),
        )
    if not balances:
        table.add_row("—", "—", "—", "—", "—")
    return table


def summary(state: StoryState, texts: Texts) -> RenderableType:
    latencies = [d.latency for d in state.deals if d.latency is not None]
    lines = []
    if latencies:
        lines.append(
            f"Сделки дошли до CRM партнёров за {statistics.median(latencies):.2f} с (медиана), "
            f"максимум {max(latencies):.2f} с — iPaaS-связки опрашивают раз в 1–15 минут."
        )
    calls = ", ".join(f"{name}: {count}" for name, count in sorted(state.calls.items()))
    lines.append(f"HTTP-запросов к песочницам за всю историю: {calls}.")
    lines += [
        "",
        "Как подключить настоящие порталы:",
        "  1. cp .env.example .env и впишите входящий вебхук Bitrix24 и токены партнёров;",
        "  2. поправьте mapping.yaml (bridge init прочитает воронки и поля за вас);",
        "  3. bridge check — каждое имя сверяется с живыми CRM;",
        "  4. bridge run — демон с вебхуками (bridge hooks install покажет их адреса).",
    ]
    story = Panel("\n".join(state.events), title="как это было", border_style="dim")
    return Group(
        story, deals_table(state), ledger_table(state.balances, texts), Panel("\n".join(lines))
    )
