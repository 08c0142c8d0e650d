"""The policy engine's lock, which lets reads in while a long change evaluates.

One thread at a time changes the runtime (a writer: a rule, a data batch, a simulation), as
before. A read (``read()``) that finds a writer at work does not wait for the whole change: the
runtime calls ``pause_point`` every ``TICK`` rows scanned (``Runtime.pause_hook``), and when
reads are waiting the writer stops there and lets them run, one after the other, for up to
``PAUSE_SECONDS``; they see the state before the change (the runtime answers reads during a
pause from the change's undo records). The writer then runs for at least ``SLICE_SECONDS``
before it pauses again, so a stream of reads slows a huge change down but never stops it.

Writers queue behind the running change: the engine applies changes one after the other, in
the order that gives every engine of a deployment the same results.

Only the reads the runtime can answer during a pause may use ``read()`` (see ``Runtime``); they
must not write, and must not wait for anything a writer holds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from types import TracebackType

PAUSE_SECONDS = 0.2
SLICE_SECONDS = 0.02


class EngineGate:
    """A reentrant writer lock whose holder, at its pause points, lets waiting reads run."""

    def __init__(
        self, pause_seconds: float = PAUSE_SECONDS, slice_seconds: float = SLICE_SECONDS
    ) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._waiting = 0  # reads waiting for the owner to pause
        self._paused = False
        self._guest: int | None = None  # the read running during a pause
        self._guest_depth = 0
        self._resume_until = 0.0
        self._pause_seconds = pause_seconds
        self._slice_seconds = slice_seconds
        self.pauses = 0  # how many times a writer paused for reads (for tests and metrics)

    # -- the writer's side (also ``with gate:``) -----------------------------------------
    def acquire(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            if self._guest == me:
                raise RuntimeError("a read during a pause tried to change the engine")
            while self._owner is not None:
                self._cond.wait()
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of an engine lock this thread does not hold")
            self._depth -= 1
            if not self._depth:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> EngineGate:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def pause_point(self) -> None:
        """Called by the runtime while a change evaluates: serve the reads waiting, if any."""
        if not self._waiting:  # the common case, without taking the condition's lock
            return
        with self._cond:
            if self._owner != threading.get_ident() or self._guest is not None:
                return
            now = time.monotonic()
            if now < self._resume_until:
                return
            self.pauses += 1
            self._paused = True
            self._cond.notify_all()
            deadline = now + self._pause_seconds
            while self._waiting or self._guest is not None:
                left = deadline - time.monotonic()
                if self._guest is None and left <= 0:
                    break
                self._cond.wait(max(left, 0.001) if self._guest is None else None)
            self._paused = False
            self._resume_until = time.monotonic() + self._slice_seconds

    # -- the readers' side ---------------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """Hold the engine for a read: at once when it is free, at the writer's next pause
        point when a change is running."""
        me = threading.get_ident()
        guest = False
        with self._cond:
            if self._owner == me:
                self._depth += 1
            elif self._guest == me:
                self._guest_depth += 1
                guest = True
            else:
                self._waiting += 1
                try:
                    while True:
                        if self._owner is None:
                            self._owner, self._depth = me, 1
                            break
                        if self._paused and self._guest is None:
                            self._guest, self._guest_depth = me, 1
                            guest = True
                            break
                        self._cond.wait()
                finally:
                    self._waiting -= 1
        try:
            yield
        finally:
            with self._cond:
                if guest:
                    self._guest_depth -= 1
                    if not self._guest_depth:
                        self._guest = None
                        self._cond.notify_all()
                else:
                    self._depth -= 1
                    if not self._depth:
                        self._owner = None
                        self._cond.notify_all()
