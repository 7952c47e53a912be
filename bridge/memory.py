"""The C allocator's settings for a bridge process, set once at its start.

A pass runs every partner's lane on a thread of its own. glibc's ``malloc`` gives
each thread that allocates at once an arena of its own (up to 8 per core) and keeps
what a freed buffer leaves in each one: after a first mirror a process holds every
lane's high-water mark, however little it still uses. And buffers over 128 KiB (a
listing answer, its decoded rows) move the ``mmap`` threshold up as they are freed,
so later ones land in those arenas too instead of going back to the system.

:func:`limit_allocator` caps the arenas (``BRIDGE_MALLOC_ARENAS``, 2 by default) and
pins the ``mmap`` threshold at 128 KiB, through ``mallopt``: alone, that took the peak
of a 10,000-deal first mirror from 200 to 170 MB (``benchmarks/RESULTS.md``). The lanes
hardly contend for the arenas: Python's small objects do not come from ``malloc``, and
the GIL lets one lane run Python at a time.
The usual glibc variables (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) win when
set. On a C library other than glibc nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Mapping

from bridge.envnumbers import whole_from_env

log = logging.getLogger(__name__)

ARENAS_ENV = "BRIDGE_MALLOC_ARENAS"
DEFAULT_ARENAS = 2
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept from moving up
_M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
_M_ARENA_MAX = -8


def allocator_settings(environ: Mapping[str, str]) -> dict[int, int]:
    """The ``mallopt`` parameters to set: those the environment does not set already."""
    wanted: dict[int, int] = {}
    if "MALLOC_ARENA_MAX" not in environ:
        wanted[_M_ARENA_MAX] = whole_from_env(ARENAS_ENV, DEFAULT_ARENAS, "arenas", environ)
    if "MALLOC_MMAP_THRESHOLD_" not in environ:
        wanted[_M_MMAP_THRESHOLD] = MMAP_THRESHOLD
    return wanted


def limit_allocator(environ: Mapping[str, str] | None = None) -> bool:
    """Set the allocator's limits for this process (before its threads start); whether
    they were set (False on a C library without ``mallopt``)."""
    wanted = allocator_settings(os.environ if environ is None else environ)
    if not wanted:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in wanted.items())
    if not ok:
        log.debug("mallopt refused some of %s", wanted)
    return ok


__all__ = ["ARENAS_ENV", "DEFAULT_ARENAS", "allocator_settings", "limit_allocator"]
