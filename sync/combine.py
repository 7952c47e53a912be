"""Flat combining: the lanes' agency calls of one kind go out as one call.

The partners' lanes of a pass share the agency portal one call at a time
(:class:`sync.lanes.SerialCrm`). Ten lanes that each read the agency deals of their
partner's changes, then each write their stage and amount back, would otherwise send
ten reads and ten part-filled write batches where one read and a few full batches do:
the portal's one rate budget pays for every request.

Two parts, both without timers:

* **Combining.** A lane's call is queued under its kind (``fetch_deals``,
  ``update_deals``, …). Whichever lane gets the agency next takes every call of that
  kind queued by then — its own and those of the lanes still waiting — sends them as
  one call (the adapter splits it into as few requests as the API allows), and hands
  each lane its share of the answer: by position for calls that answer one result per
  item (writes), by key for those that answer a map (reads). The lanes it served find
  their answer when they get the agency and return at once.
* **The read gate.** Lanes reach their agency reads a few milliseconds apart (each
  first decodes its partner's listing), so combining alone would still send a read per
  small group. A lane in its *read phase* (:meth:`Gate.reading`: from its partner's
  listing to the plan, where it holds no lock) is *runnable* unless it waits on a
  partner call (:meth:`Gate.away`, entered by :meth:`sync.lanes.Lanes.call`) or has an
  agency call queued. A read waits until no lane in its read phase is runnable: every
  such lane has queued its own read or is waiting on its partner. A partner call is
  never waited for — a hung partner delays nobody — only other lanes' CPU work of a
  few milliseconds. Writes are not gated: a lane writes while holding the handover
  lock, which a gated lane could be waiting for.

A combined call that fails fails for every lane in it, with the same error — as the
single call of a sequential pass did.

Why by hand: thread pools and futures libraries run calls, they do not merge them, and
this is the one place (a blocking adapter shared by lanes) where merging is needed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

_I = TypeVar("_I")  # one item of a call: an id, a patch, a note
_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")
_W = TypeVar("_W")

GATE_BACKSTOP = 5.0  # seconds: a read goes out after this even if a lane never arrives


class Gate:
    """Which lanes are in their read phase, and which of those are runnable."""

    def __init__(self, backstop: float = GATE_BACKSTOP) -> None:
        self.backstop = backstop
        self._changed = threading.Condition(threading.Lock())
        self._reading: set[int] = set()
        self._away: dict[int, int] = {}  # thread → partner calls it waits on (nesting)
        self._queued: dict[int, int] = {}  # thread → agency calls it has queued

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """The current lane's read phase (no lock held): its reads wait for each other."""
        me = threading.get_ident()
        with self._changed:
            self._reading.add(me)
        try:
            yield
        finally:
            with self._changed:
                self._reading.discard(me)
                self._changed.notify_all()

    @contextlib.contextmanager
    def away(self) -> Iterator[None]:
        """The current thread waits on its partner: not waited for by anyone's read."""
        with self._mark(self._away):
            yield

    @contextlib.contextmanager
    def queued(self) -> Iterator[None]:
        """The current thread has an agency call queued (or in flight)."""
        with self._mark(self._queued):
            yield

    @contextlib.contextmanager
    def _mark(self, marks: dict[int, int]) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:
            marks[me] = marks.get(me, 0) + 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                if (left := marks[me] - 1) > 0:
                    marks[me] = left
                else:
                    del marks[me]
                self._changed.notify_all()

    def wait_for_readers(self) -> None:
        """Until no lane in its read phase is runnable (or the backstop passed)."""
        with self._changed:
            if not self._changed.wait_for(self._settled, self.backstop):
                log.debug("agency read sent before %d lane(s) settled", len(self._runnable()))

    def _settled(self) -> bool:
        return not self._runnable()

    def _runnable(self) -> set[int]:
        return self._reading - self._away.keys() - self._queued.keys()


@dataclass(eq=False)
class _Queued(Generic[_I]):
    items: Sequence[_I]
    done: bool = False
    answer: Any = None
    error: BaseException | None = None


@dataclass
class Combiner:
    """Merges the calls of one kind queued while ``lock`` (the agency's) is held."""

    lock: threading.Lock
    gate: Gate = field(default_factory=Gate)
    _queued: dict[str, list[_Queued[Any]]] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0  # calls sent
    merged: int = 0  # lanes' calls answered by another lane's call

    def keyed(
        self,
        kind: str,
        keys: Sequence[_K],
        send: Callable[[list[_K]], Mapping[_K, _V]],
    ) -> dict[_K, _V]:
        """A read answering a map by the items asked for (ids, stamps): asked once each."""

        def merge(queued: Sequence[_Queued[_K]]) -> None:
            everything = list(dict.fromkeys(k for q in queued for k in q.items))
            answer = send(everything)
            for q in queued:
                q.answer = {k: answer[k] for k in q.items if k in answer}

        out: dict[_K, _V] = self._run(kind, keys, merge, gated=True)
        return out

    def positional(
        self,
        kind: str,
        items: Sequence[_I],
        send: Callable[[list[_I]], Sequence[_W]],
    ) -> list[_W]:
        """A write answering one result per item, in order."""

        def merge(queued: Sequence[_Queued[_I]]) -> None:
            everything = [i for q in queued for i in q.items]
            answer = list(send(everything))
            if len(answer) != len(everything):
                raise RuntimeError(f"{kind}: {len(answer)} results for {len(everything)} items")
            at = 0
            for q in queued:
                q.answer = answer[at : at + len(q.items)]
                at += len(q.items)

        out: list[_W] = self._run(kind, items, merge, gated=False)
        return out

    def _run(
        self,
        kind: str,
        items: Sequence[_I],
        merge: Callable[[Sequence[_Queued[_I]]], None],
        *,
        gated: bool,
    ) -> Any:
        mine = _Queued(items)
        with self.gate.queued():
            with self._mutex:
                self._queued.setdefault(kind, []).append(mine)
            if gated:
                self.gate.wait_for_readers()
            with self.lock:
                if not mine.done:  # nobody took it while this lane waited: it sends them all
                    self._send(kind, merge)
        if mine.error is not None:
            raise mine.error
        return mine.answer

    def _send(self, kind: str, merge: Callable[[Sequence[_Queued[_I]]], None]) -> None:
        with self._mutex:
            queued: list[_Queued[_I]] = self._queued.pop(kind)
        self.calls += 1
        self.merged += len(queued) - 1
        try:
            merge(queued)
        except BaseException as exc:
            for q in queued:
                q.error = exc
        for q in queued:
            q.done = True


__all__ = ["GATE_BACKSTOP", "Combiner", "Gate"]
