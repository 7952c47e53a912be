"""The engine over real HTTP: the example sandbox world, resolved, with a store.

A thin test-side layer over :func:`bridge.sandbox.world.sandbox_world` (which
builds the sandboxes, ``mapping.yaml`` and ``.env``): it opens the real adapters
with their client pacers lifted (``fast=True``, tests) or kept (``fast=False``),
resolves the mapping once and opens a store, so a test can run the ``Engine``
in-process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Unpack

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.bitrix.client import BitrixCrm
from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping, Connection, CrmKind
from bridge.mapping.connect import Opener
from bridge.ratelimit import Pacer
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store.db import Store
from sync.engine import Engine
from tests.engine.world import EngineOptions


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class HttpWorld:
    world: SandboxWorld
    crms: dict[str, Crm]
    mapping: CompiledMapping
    store: Store
    engines: list[Engine] = field(default_factory=list)

    def engine(self, **kwargs: Unpack[EngineOptions]) -> Engine:
        """A new engine on this world; leaving :func:`http_world` ends its lane threads."""
        partners = {c: self.crms[c] for c in self.mapping.partners}
        made = Engine(
            self.store,
            self.mapping,
            self.crms["agency"],
            partners,
            clock=utcnow,
            **kwargs,
        )
        self.engines.append(made)
        return made

    def close_engines(self) -> None:
        for made in self.engines:
            made.close()


def opener(fast: bool) -> Opener:
    """The real adapters; ``fast`` lifts their client-side pacing."""

    def open_crm(label: str, connection: Connection) -> Crm:
        if connection.kind is CrmKind.BITRIX24:
            pacer = Pacer(rate=1000.0, burst=1000) if fast else None
            return BitrixCrm(connection.url, system=f"bitrix24:{label}", pacer=pacer)
        assert connection.token is not None
        return AmoCrm(
            connection.url.reveal(),
            LongLivedToken(connection.token),
            system=f"amocrm:{label}",
            pacer=Pacer(rate=10_000, burst=10_000) if fast else None,
            retry_wait=0.01 if fast else 0.5,
            company_tax_field=connection.company_tax_id_field or "ИНН",
        )

    return open_crm


@contextmanager
def http_world(
    directory: Path, *, fast: bool = True, mapping_text: str | None = None
) -> Iterator[HttpWorld]:
    """The example world in ``directory`` (its store: ``directory/engine.db``);
    ``mapping_text`` replaces the example mapping."""
    with ExitStack() as stack:
        world = stack.enter_context(
            sandbox_world(directory, real_limits=not fast, mapping_text=mapping_text)
        )
        crms = world.resolve(opener(fast))
        for crm in crms.values():
            stack.callback(crm.close)
        assert world.compiled is not None
        store = Store.open(f"sqlite:///{directory / 'engine.db'}")
        stack.callback(store.close)
        built = HttpWorld(world, crms, world.compiled, store)
        stack.callback(built.close_engines)  # before the store and the CRMs close
        yield built
