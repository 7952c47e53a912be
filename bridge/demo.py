"""``bridge demo``: the bridge's adapters against its built-in sandbox CRMs, no credentials.

Starts an emulated agency Bitrix24 portal and an emulated partner amoCRM account
on 127.0.0.1, reads both through the real adapters over HTTP, and prints what
the bridge sees. Until the sync daemon lands this is what "running the bridge"
means; the sandboxes stay up (their URLs printed) until Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.amocrm.sandbox import AmoSandbox
from bridge.bitrix.client import BitrixCrm
from bridge.bitrix.sandbox import BitrixSandbox
from bridge.crm import Crm
from bridge.model import Deal, Pipeline
from bridge.secrets import Secret, redact

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _all_deals(crm: Crm) -> list[Deal]:
    since = EPOCH
    return [deal for page in crm.list_changed(since) for deal in page.deals]


def _pipeline_table(title: str, pipeline: Pipeline, deals: Iterable[Deal]) -> Table:
    counts = Counter(d.stage_id for d in deals if d.pipeline_id == pipeline.id)
    table = Table(title=f"{title}: «{pipeline.name}»")
    table.add_column("stage")
    table.add_column("meaning")
    table.add_column("deals", justify="right")
    for stage in pipeline.stages:
        table.add_row(stage.name, stage.semantics.value, str(counts.get(stage.id, 0)))
    return table


def _deals_table(title: str, deals: Sequence[Deal], pipeline: Pipeline, limit: int) -> Table:
    table = Table(title=title)
    for column in ("id", "title", "stage", "amount", "modified (UTC)"):
        table.add_column(column)
    for deal in deals[:limit]:
        stage = pipeline.stage_by_id(deal.stage_id)
        table.add_row(
            deal.id,
            deal.title,
            stage.name if stage else deal.stage_id,
            str(deal.amount) if deal.amount else "—",
            deal.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


def _show(console: Console, label: str, crm: Crm, pipeline_name: str) -> None:
    pipeline = next(p for p in crm.pipelines() if p.name == pipeline_name)
    deals = [d for d in _all_deals(crm) if d.pipeline_id == pipeline.id]
    console.print(_pipeline_table(label, pipeline, deals))
    console.print(_deals_table(f"{label}: first deals", deals, pipeline, limit=8))


def run_demo(*, once: bool, console: Console | None = None) -> None:
    console = console or Console()
    agency = BitrixSandbox(seed="demo").start()
    partner = AmoSandbox(seed="demo").start()
    bitrix = BitrixCrm(Secret(agency.webhook_url), system="bitrix24:agency")
    amo = AmoCrm(
        partner.base_url,
        LongLivedToken(Secret(partner.long_lived_token)),
        system="amocrm:partner",
    )
    try:
        _show(console, "Agency Bitrix24", bitrix, "Партнёрские сделки")
        _show(console, "Partner amoCRM", amo, "Партнёрские лиды")
        console.print(
            "[bold]Sandbox only so far:[/bold] the adapters read both CRMs above over HTTP; "
            "mirroring arrives with the sync engine."
        )
        console.print(f"Agency Bitrix24 sandbox: {redact(agency.webhook_url)} (secret masked)")
        console.print(f"Partner amoCRM sandbox:  {partner.base_url}/api/v4/")
        if not once:
            console.print("Serving the sandboxes until Ctrl-C.")
            threading.Event().wait()
    except KeyboardInterrupt:
        console.print("Stopped.")
    finally:
        bitrix.close()
        amo.close()
        agency.stop()
        partner.stop()
