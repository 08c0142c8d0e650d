"""The API's HTTP front: an ASGI application that runs the WSGI pipeline on a thread pool and
serves change feeds on the event loop (ADR 0008).

Every request is read by the server's event loop (uvicorn), then handed with its whole body to
the WSGI application (``congress.api.pipeline``: CORS, proxy headers, request ids, auth, the
route table) on one of ``threads`` pool threads, exactly as a WSGI server would. A handler that
answers a change feed (``congress.api.watch``) leaves a ``Stream`` in the environ under
``STREAM_KEY``: the loop then sends its events as they come, without holding a thread, until
the client goes away or the server stops.

May import congress.api, congress.services and the standard library.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

STREAM_KEY = "congress.stream"
"""Environ key where a handler leaves the ``Stream`` that answers the request."""
ASYNC_KEY = "congress.async_streams"
"""Environ key that tells handlers the server sends streams from its event loop."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Stream(Protocol):
    """A streaming answer served by the event loop once the WSGI app has answered headers."""

    async def serve(
        self,
        send: Send,
        receive: Receive,
        pool: concurrent.futures.Executor,
        stopping: asyncio.Event,
    ) -> None: ...

    def close(self) -> None: ...


class WSGIBridge:
    """An ASGI application running ``app`` (WSGI) on a pool of ``threads`` threads."""

    def __init__(self, app: WSGIApp, *, threads: int, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="api")
        self._stopping: asyncio.Event | None = None
        self.streams = 0

    def stop_streams(self) -> None:
        """End every stream (the server is stopping); call from any thread."""
        stopping = self._stopping
        if stopping is not None:
            loop = getattr(stopping, "_congress_loop", None)
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(stopping.set)

    def close(self, timeout: float = 10.0) -> bool:
        """The server stopped: run no request that has not started, and wait up to
        ``timeout`` seconds for those still running (one that outlived the server's graceful
        shutdown answers no one, but its database transaction completes or rolls back);
        False if some are still running then."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        threads = list(getattr(self.pool, "_threads", ()))
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        running = sum(1 for t in threads if t.is_alive())
        if running:
            LOG.warning("%d API requests still running after the server stopped", running)
        return running == 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":  # websockets are not served
            return
        if self._stopping is None:
            self._stopping = asyncio.Event()
            self._stopping._congress_loop = asyncio.get_running_loop()  # type: ignore[attr-defined]
        body = await self._read_body(scope, receive)
        environ = self._environ(scope, body)
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(self.pool, self._run, environ)
        stream: Stream | None = environ.get(STREAM_KEY)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if stream is None:
            await send({"type": "http.response.body", "body": b"".join(chunks)})
            return
        self.streams += 1
        try:
            await stream.serve(send, receive, self.pool, self._stopping)
        except Exception:
            LOG.exception("a stream failed")
        finally:
            self.streams -= 1
            stream.close()
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception:  # the client is gone
                pass

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The request body, or its first ``max_body + 1`` bytes (the pipeline answers 413)."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > self.max_body:
                        return b""  # refused by its Content-Length: not read at all
                except ValueError:
                    pass
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            if chunk:
                parts.append(chunk)
                size += len(chunk)
                if size > self.max_body:
                    break
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    @staticmethod
    def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw_path = raw_path.split(b"?", 1)[0]
        server = scope.get("server") or ("localhost", 80)
        client = scope.get("client") or ("", 0)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope["method"],
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(raw_path).decode("latin-1"),
            "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
            "SERVER_NAME": str(server[0]),
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
            "REMOTE_ADDR": str(client[0]),
            "REMOTE_PORT": str(client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            ASYNC_KEY: True,
        }
        chunked = False
        for name, value in scope["headers"]:
            key = name.decode("latin-1").upper().replace("-", "_")
            text = value.decode("latin-1")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
                continue
            if key == "CONTENT_LENGTH":
                environ["CONTENT_LENGTH"] = text
                continue
            if key == "TRANSFER_ENCODING" and "chunked" in text.lower():
                chunked = True
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{text}" if key in environ else text
        if chunked or ("CONTENT_LENGTH" not in environ and body):
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ

    def _run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        """Call the WSGI application on a pool thread: status, headers and body."""
        answer: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info is not None and answer:
                raise exc_info[1].with_traceback(exc_info[2])
            answer[:] = [status, headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        result = self.app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = answer
        return (
            int(status.split(" ", 1)[0]),
            # uvicorn sends every name in lower case (HTTP names are case-insensitive)
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            chunks,
        )
