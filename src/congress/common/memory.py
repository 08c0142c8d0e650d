"""The process's resident memory, for the ``[limits] max_memory_mb`` ceiling."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """Resident set size of this process in bytes (0 where ``/proc`` is not available)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


M_ARENA_MAX = -8  # glibc's mallopt parameter


def _libc(name: str) -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn: Callable[..., int] = getattr(libc, name)
    except (OSError, AttributeError):  # not glibc
        return None
    return fn


_MALLOC_TRIM = _libc("malloc_trim")
_MALLOPT = _libc("mallopt")


def limit_malloc_arenas(n: int = 2) -> bool:
    """Let the C allocator keep at most ``n`` arenas (glibc: ``mallopt(M_ARENA_MAX)``, what
    ``MALLOC_ARENA_MAX`` does; call it before threads start). By default glibc gives threads
    up to eight arenas per core, and memory freed in one arena serves only the threads that use
    it: after a huge evaluation was stopped on one API thread, its memory stayed with that
    thread's arena, and the next one, on another thread, took as much again (measured: +40 MB
    per stopped 3-million-row request, until every thread held one; with two arenas, nothing
    stays). Python's GIL leaves little to gain from more arenas. True when it was applied."""
    if _MALLOPT is None:
        return False
    return bool(_MALLOPT(M_ARENA_MAX, n))


def release_free_memory() -> None:
    """Give the memory the C allocator holds free back to the system (glibc's
    ``malloc_trim``), after a huge evaluation was stopped and its tables freed."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class LongLivedFreezer:
    """Keeps what the process holds for long out of the garbage collector's full passes.

    A server's data (its tables and indexes: millions of references) lives as long as the
    process, yet every full collection walks all of it again: 150 to 220 ms pauses every few
    seconds under load at 100k rows. ``check()`` (call it now and then) collects once and
    freezes what survives (``gc.freeze``) whenever the resident memory has grown by ``grown``
    bytes since the last time: frozen objects are still freed by reference counting when
    dropped (the tables make no reference cycles); a cycle among them that becomes garbage
    later is not collected, which is why this waits for real growth instead of freezing
    often. ``memory`` is injectable for tests.
    """

    def __init__(self, grown: int = 64 << 20, memory: Callable[[], int] = resident_bytes) -> None:
        self.grown = grown
        self._memory = memory
        self._at = memory()
        self.freezes = 0

    def check(self) -> bool:
        """Collect and freeze if memory grew enough since the last time; True if it did."""
        now = self._memory()
        if now - self._at < self.grown:
            self._at = min(self._at, now)  # memory given back: measure growth from there
            return False
        gc.collect()
        gc.freeze()
        self._at = self._memory()
        self.freezes += 1
        return True
