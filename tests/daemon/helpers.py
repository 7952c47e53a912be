"""Shared steps of the daemon tests: route a deal, wait for its mirror."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from bridge.sandbox.world import SandboxWorld
from sync.runtime.daemon import Daemon

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout: float, every: float = 0.05) -> T | None:
    """Call ``probe`` until it returns something, or ``timeout`` passes (then None)."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        tick.wait(every)
    return None


@functools.cache
def _stage_ids(daemon: Daemon) -> dict[str, str]:
    assert daemon.engine is not None
    wanted = daemon.engine.mapping.agency.pipeline_id
    pipeline = next(p for p in daemon.crms()["agency"].pipelines() if p.id == wanted)
    return {stage.name: stage.id for stage in pipeline.stages}


def agency_stage(daemon: Daemon, name: str) -> str:
    return _stage_ids(daemon)[name]


def route_new_deal(world: SandboxWorld, daemon: Daemon, partner: str, n: int) -> str:
    """Create an agency deal as the partner manager would, routed to ``partner``."""
    assert daemon.engine is not None
    mapping = daemon.engine.mapping
    with world.agency.portal.lock:
        contact = world.agency.portal.contacts.add(
            {
                "NAME": f"Клиент {n}",
                "LAST_NAME": "Демо",
                "PHONE": [{"VALUE": f"+7 (912) 000-{n // 100:02d}-{n % 100:02d}"}],
            },
            user_id=1,
        )
    fields: dict[str, object] = {
        "TITLE": f"Сайт для клиента №{n}",
        "CATEGORY_ID": int(mapping.agency.pipeline_id),
        "STAGE_ID": agency_stage(daemon, "Передана партнёру"),
        "OPPORTUNITY": str(Decimal(150_000 + n)),
        "CURRENCY_ID": "RUB",
        "UF_CRM_PARTNER": [mapping.partners[partner].routing_value],
        "CONTACT_ID": contact,
    }
    return world.agency.add_deal(fields)


def partner_deal_id(daemon: Daemon, partner: str, agency_deal_id: str) -> str | None:
    found = daemon.crms()[partner].find_by_stamp([agency_deal_id])
    deal = found.get(agency_deal_id)
    return deal.id if deal is not None else None
