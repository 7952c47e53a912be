"""One daemon per SQLite file: a second one refuses to start, with a clear message.

An advisory ``flock`` on ``<database>.lock`` is held for the daemon's lifetime.
The kernel drops it when the process dies — even by ``kill -9`` — so a crash
never leaves a stale lock behind. PostgreSQL stores are shared by design
(scale-out), so they take no such lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url


class AlreadyRunning(RuntimeError):
    """Another bridge daemon already uses this SQLite file. Stop it, or point this one elsewhere."""

    def __init__(self, message: str, *, pid: str = "unknown", database: Path | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.database = database


class DaemonLock:
    def __init__(self, db_url: str) -> None:
        url = make_url(db_url)
        self.path: Path | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self.path = (
                Path(str(url.database)).resolve().with_name(Path(str(url.database)).name + ".lock")
            )
        self._handle: IO[str] | None = None

    def acquire(self) -> DaemonLock:
        if self.path is None:
            return self
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            database = self.path.with_suffix("")
            raise AlreadyRunning(
                f"another bridge daemon (pid {holder}) is using {database}; "
                "stop it first, or give this one its own BRIDGE_DB_URL",
                pid=holder,
                database=database,
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> DaemonLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
