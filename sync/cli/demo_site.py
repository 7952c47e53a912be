"""The demo's running bridge as a web site: sandboxes, daemon, console URL, cabinet links.

``bridge demo`` ends by printing what this gives; the browser tests and the
screenshot command (``bridge demo --screenshots DIR``) drive the same site.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bridge.sandbox.world import SandboxWorld, sandbox_world
from sync.runtime.daemon import Daemon, DaemonOptions
from sync.web.context import signing_key
from sync.web.links import cabinet_url

OPTIONS = DaemonOptions(
    poll_interval=dt.timedelta(seconds=10),
    drain_every=dt.timedelta(milliseconds=200),
    debounce=dt.timedelta(milliseconds=300),
)


@dataclass
class DemoSite:
    world: SandboxWorld
    daemon: Daemon
    admin_token: str

    @property
    def url(self) -> str:
        assert self.daemon.server is not None
        return self.daemon.server.url

    @property
    def console_url(self) -> str:
        return f"{self.url}/console/"

    def cabinet_link(self, partner: str, days: int = 7) -> str:
        settings = self.daemon.settings
        key = signing_key(settings.secret_key, settings.admin_token)
        assert key is not None and self.daemon.store is not None
        with self.daemon.store.transaction() as db:
            return cabinet_url(db, key, self.url, partner, days, dt.datetime.now(dt.UTC))


@contextmanager
def demo_site(directory: Path, options: DaemonOptions = OPTIONS) -> Iterator[DemoSite]:
    """Three sandboxes, a SQLite store in ``directory`` and the daemon, webhooks wired."""
    token = secrets.token_urlsafe(18)
    with sandbox_world(directory) as world:
        daemon = Daemon(world.settings(admin_token=token), options=options).start()
        try:
            assert daemon.server is not None and daemon.runner is not None
            world.connect_webhooks(daemon.server.url)
            daemon.runner.wait_idle(60)
            yield DemoSite(world, daemon, token)
        finally:
            daemon.stop()
