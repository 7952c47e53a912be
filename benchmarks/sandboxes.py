"""The benchmarks' sandbox world, and the adapters the bridge process opens against it.

The world itself (the agency and N partners, ``mapping.yaml``, ``.env``) is
:func:`bridge.sandbox.world.sandbox_world`; here it is resolved once (as
``bridge check --fix`` would) and each sandbox app is timed, so a result can say
how much CPU the sandboxes spent answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.bitrix.client import BitrixCrm
from bridge.crm import Crm
from bridge.mapping.compiled import Connection, CrmKind
from bridge.ratelimit import Pacer
from bridge.sandbox.world import Sandbox, SandboxWorld, sandbox_world


@contextmanager
def world(
    directory: Path, *, real_limits: bool = True, latency: float = 0.0, partners: int = 10
) -> Iterator[SandboxWorld]:
    """The generated world with ``partners`` partners, resolved, its sandboxes timed."""
    with sandbox_world(directory, partners=partners, real_limits=real_limits) as w:
        # Resolution reads every account at once: under real limits it must pace itself
        # as `bridge check --fix` does, or a burst trips the sandboxes' limits.
        crms = w.resolve(opener if real_limits else lifted_opener)
        try:
            for box in w.boxes().values():
                _Timed.install(box)
            w.set_latency(latency)
            yield w
        finally:
            for crm in crms.values():
                crm.close()


def sandbox_seconds(w: SandboxWorld) -> float:
    """CPU time the sandboxes spent answering (their own overhead, latency excluded)."""
    return sum(_Timed.of(box).seconds for box in w.boxes().values())


def opener(label: str, connection: Connection) -> Crm:
    """Adapters with their default (real-limit) pacers, as ``bridge run`` opens them."""
    if connection.kind is CrmKind.BITRIX24:
        return BitrixCrm(connection.url, system=f"bitrix24:{label}")
    assert connection.token is not None
    return AmoCrm(
        connection.url.reveal(), LongLivedToken(connection.token), system=f"amocrm:{label}"
    )


def lifted_opener(label: str, connection: Connection) -> Crm:
    """Adapters with the client pacers lifted (the scale run, where limits are off)."""
    if connection.kind is CrmKind.BITRIX24:
        pacer = Pacer(rate=100_000.0, burst=100_000)
        return BitrixCrm(connection.url, system=f"bitrix24:{label}", pacer=pacer)
    assert connection.token is not None
    return AmoCrm(
        connection.url.reveal(),
        LongLivedToken(connection.token),
        system=f"amocrm:{label}",
        pacer=Pacer(rate=100_000, burst=100_000),
    )


class _Timed:
    """Wraps one sandbox app's ``handle`` to add up the time it spends per request."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.seconds = 0.0
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        began = time.perf_counter()
        try:
            return self.handle(request)
        finally:
            with self.lock:
                self.seconds += time.perf_counter() - began

    @classmethod
    def install(cls, box: Sandbox) -> None:
        box.app.handle = cls(box.app.handle)  # type: ignore[method-assign]

    @classmethod
    def of(cls, box: Sandbox) -> _Timed:
        timed = box.app.handle
        assert isinstance(timed, cls)
        return timed
