"""The cyclic garbage collector, tuned for passes that build large object graphs.

A first mirror holds tens of thousands of deals, plans, drafts and audit rows at once,
nearly all freed by reference counting, never by the collector. With CPython's default
thresholds (a young collection every 700 container allocations) a 10,000-deal pass ran
~900 young, ~80 middle and ~8 full collections, each full one traversing every live
object (the interpreter's own ~100 MB included) and finding almost nothing to free: a
quarter to a third of the bridge's CPU in that pass (benchmarks/RESULTS.md, "Issue 20:
recording share"). Collecting the young generation every 20,000 allocations instead
makes that ~15 young and 1–2 full collections; what waits longer is only garbage in
reference cycles, a few MB at most.
"""

from __future__ import annotations

import gc

YOUNG = 20_000  # container allocations between young-generation collections


def tune_collector() -> None:
    """Collect the young generation every :data:`YOUNG` allocations (never more often
    than the process already does); the older generations' ratios stay as they are."""
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG:
        gc.set_threshold(YOUNG, middle, old)
