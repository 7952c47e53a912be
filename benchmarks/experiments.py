"""Proposed bridge changes, tried out in the benchmark's bridge process only.

The benchmark does not own the engine, so a fix it proposes is measured here
first, as a runtime patch selected with ``--experiment NAME`` (the child reads
``BENCH_EXPERIMENT``), and described for the owner in RESULTS.md. Nothing here
runs in the product.

``chunked-record``: ``sync.record.Recorder.commit`` opens one SQLite transaction
per link plan (3.4 s of a 10.5 s first pass at 1,000 deals, cProfile). The
patch records up to ``CHUNK`` plans per transaction. The cursors are still
committed only after every record (``Engine._finish`` runs after), so "cursor
never ahead of applied data" holds; a crash loses at most one chunk of records,
whose remote writes are then found again by stamp like any crash after a write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

CHUNK = 500


class _SharedStore:
    """A store whose ``transaction()`` hands out one session, committed every CHUNK uses."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._stack: contextlib.ExitStack | None = None
        self._session: Any = None
        self._uses = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.contextmanager
    def transaction(self, **_options: Any) -> Iterator[Any]:
        if self._session is None:
            self._stack = contextlib.ExitStack()
            self._session = self._stack.enter_context(self._store.transaction())
        yield self._session
        self._uses += 1
        if self._uses % CHUNK == 0:
            self.flush()

    def flush(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._session = None, None


def chunked_record() -> None:
    from sync import engine

    original = engine.Engine._apply_and_record
    recorder_class = engine.__dict__["Recorder"]

    def apply_and_record(self: Any, report: Any, got: Any, now: Any, work: Any) -> Any:
        shared: list[_SharedStore] = []

        def recorder(store: Any, *args: Any, **kwargs: Any) -> Any:
            shared.append(_SharedStore(store))
            return recorder_class(shared[-1], *args, **kwargs)

        setattr(engine, "Recorder", recorder)  # noqa: B010 - a module global, patched on purpose
        try:
            return original(self, report, got, now, work)
        finally:
            setattr(engine, "Recorder", recorder_class)  # noqa: B010
            for store in shared:
                store.flush()

    engine.Engine._apply_and_record = apply_and_record  # type: ignore[method-assign,assignment]


def gc_freeze() -> None:
    """Everything alive when a pass starts goes to the collector's permanent generation
    for the pass (``gc.freeze``), so its full collections traverse only the pass's own
    objects; ``gc.unfreeze`` at the end gives them back."""
    import gc

    from sync import engine

    original = engine.Engine.sync

    def sync(self: Any, *args: Any, **kwargs: Any) -> Any:
        gc.freeze()
        try:
            return original(self, *args, **kwargs)
        finally:
            gc.unfreeze()

    engine.Engine.sync = sync  # type: ignore[method-assign]


def switch_1ms() -> None:
    """The GIL handed to a waiting thread after 1 ms instead of 5 ms: a lane back from
    SQLite or a socket waits less for a lane that is planning (the convoy effect)."""
    import sys

    sys.setswitchinterval(0.001)


EXPERIMENTS = {
    "switch-1ms": switch_1ms,
    "chunked-record": chunked_record,
    "gc-freeze": gc_freeze,
}


def install(names: str) -> None:
    for name in filter(None, names.split(",")):
        EXPERIMENTS[name]()
