"""``GET /v1/policies/<p>/tables/<t>/watch``: a table's changes as Server-Sent Events.

Events (docs/watching.md): ``snapshot`` (first: every row), then ``insert`` and ``delete`` with
the rows that changed; ``reset`` (no id) before a fresh snapshot when the client resumes with a
``Last-Event-ID`` this node cannot continue (another node's, or too old). Each event's data is
``{"rows": [[...], ...], "revision": N, "time": "<ISO 8601>"}``. An idle stream gets a comment
line every ``[watch] feed_keepalive_seconds``.

Served by the event loop of ``congress.api.asgi`` without a thread per client; under a plain
WSGI server the stream holds a thread instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import threading
from collections.abc import Iterator
from typing import Any

import webob

from congress.api import tenancy, wire
from congress.api.asgi import ASYNC_KEY, STREAM_KEY, Receive, Send
from congress.api.services import Services
from congress.services import errors as svc_errors
from congress.services.watch import RESET, SNAPSHOT, Behind, Event, Watcher

RETRY_MS = 2000
"""How long clients wait before they reconnect (the SSE ``retry`` field)."""
KEEPALIVE = b": keepalive\n\n"


def encode_event(event: Event, event_id: str | None) -> bytes:
    """One event in the SSE wire format (``id`` omitted for a reset)."""
    data = wire.encode(
        {
            "rows": [list(r) for r in event.rows],
            "revision": event.revision,
            "time": datetime.datetime.fromtimestamp(event.time, datetime.UTC).isoformat(),
        }
    )
    head = f"event: {event.kind}\n"
    if event_id is not None and event.kind != RESET:
        head = f"id: {event_id}\n" + head
    return head.encode() + b"data: " + data + b"\n\n"


class SseStream:
    """One client's change feed: the watcher and the events to send first."""

    def __init__(
        self, watcher: Watcher, first: list[Event], keepalive: float, strip: bytes = b""
    ) -> None:
        self.watcher = watcher
        self.keepalive = keepalive
        self.strip = strip  # a member's project suffix, taken off (congress.api.tenancy)
        self.pending = b"retry: %d\n\n" % RETRY_MS + self._encode(first)

    def _encode(self, events: list[Event]) -> bytes:
        feed = self.watcher.feed
        out = []
        for event in events:
            if event.kind in (RESET, SNAPSHOT):  # this watcher's own
                out.append(encode_event(event, feed.event_id(event.seq)))
                continue
            if event.wire is None:  # shared by every watcher of the table: encoded once
                event.wire = encode_event(event, feed.event_id(event.seq))
            out.append(event.wire)
        data = b"".join(out)
        return data.replace(self.strip, b"") if self.strip else data

    def _next(self) -> bytes | None:
        """The encoded events past the cursor; None when the watcher fell behind."""
        try:
            return self._encode(self.watcher.take())
        except Behind:
            return None

    def _catch_up(self) -> bytes:
        return self._encode(self.watcher.resnapshot())

    async def serve(
        self,
        send: Send,
        receive: Receive,
        pool: concurrent.futures.Executor,
        stopping: asyncio.Event,
    ) -> None:
        """Send the events as they come, until the client leaves or the server stops. Per
        event and client this costs one ``send``: no task or timer is made per wait (a
        hundred clients of one table are woken by one loop callback, ``LoopWaker``)."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        waker = LoopWaker.of(loop)
        self.watcher.wake = lambda: waker.wake(ready)
        over = False

        def end() -> None:
            nonlocal over
            over = True
            ready.set()

        async def until_disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            end()

        gone = loop.create_task(until_disconnected())
        if stopping.is_set():
            return
        stop = loop.create_task(stopping.wait())
        stop.add_done_callback(lambda _: end())
        try:
            await send({"type": "http.response.body", "body": self.pending, "more_body": True})
            self.pending = b""
            while not over:
                ready.clear()
                chunk = self._next()
                if chunk is None:
                    chunk = await loop.run_in_executor(pool, self._catch_up)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    continue
                try:
                    async with asyncio.timeout(self.keepalive):
                        await ready.wait()
                except TimeoutError:
                    await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
        finally:
            gone.cancel()
            stop.cancel()
            self.close()

    def blocking(self, stop: threading.Event | None = None) -> Iterator[bytes]:
        """The stream for a plain WSGI server (holds the thread that iterates it)."""
        try:
            yield self.pending
            while stop is None or not stop.is_set():
                chunk = self._next()
                if chunk is None:
                    chunk = self._catch_up()
                if chunk:
                    yield chunk
                elif not self.watcher.wait(self.keepalive):
                    yield KEEPALIVE
        finally:
            self.close()

    def close(self) -> None:
        self.watcher.close()


class LoopWaker:
    """Wakes ``asyncio.Event``s of one event loop from other threads with one
    ``call_soon_threadsafe`` per burst, however many events are woken in it."""

    _by_loop: dict[int, LoopWaker] = {}
    _made = threading.Lock()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._pending: list[asyncio.Event] = []

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> LoopWaker:
        with cls._made:
            waker = cls._by_loop.get(id(loop))
            if waker is None or waker.loop is not loop:
                waker = cls._by_loop[id(loop)] = LoopWaker(loop)
            return waker

    def wake(self, event: asyncio.Event) -> None:
        """Set ``event`` on the loop soon (from any thread)."""
        with self._lock:
            first = not self._pending
            self._pending.append(event)
        if first and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for event in pending:
            event.set()


def watch_table(req: webob.Request, s: Services, policy: str, table: str) -> Any:
    feed = s.feed
    if feed is None:
        raise svc_errors.EngineUnavailable(
            "This node runs no policy engine: change feeds are served by the nodes that run "
            "the API and a policy engine"
        )
    last = req.headers.get("Last-Event-ID") or wire.query(req, "last_event_id")
    watcher, first = feed.watch(policy, table, last_event_id=last)
    stream = SseStream(watcher, first, s.feed_keepalive, tenancy.scope_of(req).suffix())
    resp = webob.Response(status=200, content_type="text/event-stream", charset="UTF-8")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx and friends: do not buffer the stream
    if req.environ.get(ASYNC_KEY):
        req.environ[STREAM_KEY] = stream
    else:
        resp.app_iter = stream.blocking()
    resp.headers.pop("Content-Length", None)
    return resp
