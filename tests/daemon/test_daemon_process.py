"""``bridge run`` as a subprocess: webhook latency, poll safety net, SIGTERM, no leaked secret."""

from __future__ import annotations

import functools
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.bitrix.client import BitrixCrm
from bridge.crm import Crm
from bridge.sandbox.world import EXAMPLE_MAPPING, SandboxWorld, sandbox_world
from bridge.secrets import Secret
from tests.daemon.helpers import wait_for
from tests.daemon.process import ADMIN_TOKEN, daemon_process

POLL_SECONDS = 10  # the shortest interval mapping.yaml allows


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    text = EXAMPLE_MAPPING.read_text("utf-8").replace(
        "poll_interval: 60s", f"poll_interval: {POLL_SECONDS}s"
    )
    with sandbox_world(tmp_path, mapping_text=text) as started:
        yield started


class Observer:
    """The test's own adapters on the sandboxes, to route deals and look for mirrors."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.agency = BitrixCrm(Secret(world.agency.webhook_url), system="test:agency")
        self.partners: dict[str, Crm] = {
            "alfa": AmoCrm(
                world.alfa.base_url,
                LongLivedToken(Secret(world.env["ALFA_AMO_TOKEN"])),
                system="test:alfa",
            ),
            "beta": BitrixCrm(Secret(world.beta.webhook_url), system="test:beta"),
        }
        pipeline = next(p for p in self.agency.pipelines() if p.name == "Партнёрские сделки")
        self.category = int(pipeline.id)
        self.stage = {s.name: s.id for s in pipeline.stages}
        routing = next(f for f in self.agency.custom_fields() if f.id == "UF_CRM_PARTNER")
        self.route = {
            "alfa": routing.option_by_value("Веб-Студия Альфа"),
            "beta": routing.option_by_value("Digital Бета"),
        }

    def new_deal(self, partner: str, n: int) -> str:
        option = self.route[partner]
        assert option is not None
        return self.world.agency.add_deal(
            {
                "TITLE": f"E2E сделка №{n}",
                "CATEGORY_ID": self.category,
                "STAGE_ID": self.stage["Передана партнёру"],
                "OPPORTUNITY": str(100_000 + n),
                "CURRENCY_ID": "RUB",
                "UF_CRM_PARTNER": [option.id],
            }
        )

    def mirrored(self, partner: str, agency_id: str) -> str | None:
        deal = self.partners[partner].find_by_stamp([agency_id]).get(agency_id)
        return deal.id if deal is not None else None

    def titles_at(self, partner: str) -> Counter[str]:
        if partner == "alfa":
            leads = (self.world.alfa.get_lead(i) for i in self.world.alfa.lead_ids())
            return Counter(str(lead["name"]) for lead in leads if lead)
        deals = (self.world.beta.get_deal(i) for i in self.world.beta.deal_ids())
        return Counter(str(deal["TITLE"]) for deal in deals if deal)

    def close(self) -> None:
        for crm in (self.agency, *self.partners.values()):
            crm.close()


def _secrets(world: SandboxWorld) -> list[str]:
    values = [
        world.env[k]
        for k in (
            "AGENCY_B24_APP_TOKEN",
            "ALFA_AMO_TOKEN",
            "ALFA_AMO_HOOK_SECRET",
            "BETA_B24_APP_TOKEN",
        )
    ]
    webhook_secrets = [
        url.rstrip("/").rsplit("/", 1)[1]
        for url in (world.agency.webhook_url, world.beta.webhook_url)
    ]
    return [*values, *webhook_secrets, ADMIN_TOKEN]


def _state(world: SandboxWorld) -> str:
    """What the store says, for a failure message."""
    import subprocess
    import sys

    bridge = str(Path(sys.executable).with_name("bridge"))
    db = f"sqlite:///{world.directory / 'bridge.db'}"
    out = subprocess.run(
        [bridge, "parked", "--db-url", db], capture_output=True, text=True, check=False
    )
    status = subprocess.run(
        [bridge, "status", "--db-url", db], capture_output=True, text=True, check=False
    )
    return out.stdout[-2000:] + status.stdout[-2000:]


def test_webhook_latency_poll_fallback_and_clean_logs(world: SandboxWorld) -> None:
    observer = Observer(world)
    log: list[str] = []
    latencies: list[float] = []
    try:
        with daemon_process(world, log) as daemon:
            world.connect_webhooks(daemon.url)
            for n in range(10):
                started = time.monotonic()
                agency_id = observer.new_deal("alfa" if n % 2 else "beta", n)
                partner = "alfa" if n % 2 else "beta"
                assert wait_for(
                    functools.partial(observer.mirrored, partner, agency_id), timeout=30, every=0.02
                )
                latencies.append(time.monotonic() - started)
            world.agency.outbox.policy.drop = 1.0  # webhooks lost: polling must find the deal
            started = time.monotonic()
            lost = observer.new_deal("alfa", 99)
            found = wait_for(
                lambda: observer.mirrored("alfa", lost), timeout=POLL_SECONDS * 1.2 + 10
            )
            poll_latency = time.monotonic() - started
            metrics = requests.get(
                f"{daemon.url}/metrics",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=5,
            ).text
            assert daemon.terminate() == 0
    finally:
        observer.close()
    assert found, "with webhooks dropped, the poll did not mirror the deal"
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"\nwebhook → mirror over {len(latencies)} deals: p50 {cuts[49]:.2f} s, "
        f"p95 {cuts[94]:.2f} s, p99 {cuts[98]:.2f} s; poll-only: {poll_latency:.2f} s"
    )
    for family in ("bridge_writes_total", "bridge_api_calls_total", "bridge_sync_latency_seconds"):
        assert family in metrics, family
    assert '"event": "link.applied"' in "".join(log), "one log line per applied change"
    everything = "".join(log) + metrics
    leaked = [s for s in _secrets(world) if s in everything]
    assert not leaked, f"{len(leaked)} secret(s) appear in the daemon's logs or metrics"
    assert '"event": "daemon.stopped"' in everything


def test_sigterm_during_a_busy_pass_loses_nothing_and_duplicates_nothing(
    world: SandboxWorld,
) -> None:
    observer = Observer(world)
    ids: list[str] = []
    log: list[str] = []
    try:
        with daemon_process(world, log) as daemon:
            world.connect_webhooks(daemon.url)
            ids = [observer.new_deal("alfa" if n % 2 else "beta", 200 + n) for n in range(30)]
            # stop while the first hints are being applied
            wait_for(
                lambda: any(observer.mirrored("alfa", i) for i in ids[1::2][:3]) or None,
                timeout=30,
                every=0.01,
            )
            assert daemon.terminate() == 0
        with daemon_process(world, log) as daemon:  # restart: polling catches up on the rest
            world.connect_webhooks(daemon.url)
            for n, agency_id in enumerate(ids):
                partner = "alfa" if n % 2 else "beta"
                assert wait_for(
                    functools.partial(observer.mirrored, partner, agency_id),
                    timeout=POLL_SECONDS * 3,
                ), (agency_id, partner, _state(world))
            assert daemon.terminate() == 0
        titles = observer.titles_at("alfa") + observer.titles_at("beta")
    finally:
        observer.close()
    mine = {t: c for t, c in titles.items() if t.startswith("E2E сделка")}
    assert len(mine) == 30, sorted(mine)
    assert set(mine.values()) == {1}, {t: c for t, c in mine.items() if c > 1}
