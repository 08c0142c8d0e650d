#!/usr/bin/env python3
"""Follow a Congress table's changes (docs/watching.md): a short client, standard library only.

    python3 examples/watch_client.py http://127.0.0.1:1789 classification error [--token T]

It keeps the table in memory: the ``snapshot`` replaces it, ``insert`` and ``delete`` change
it, ``reset`` empties it (a fresh snapshot follows). When the connection drops it reconnects
with the id of the last event it received (``Last-Event-ID``), so it misses nothing and sees
nothing twice; a node that cannot continue from that id (after a failover) sends a reset.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any


class Feed:
    """One table's change feed; iterate it for events ``{"event", "id", "rows", ...}``."""

    def __init__(
        self,
        base_url: str,
        policy: str,
        table: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        last_event_id: str | None = None,
    ) -> None:
        url = urllib.parse.urlsplit(base_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.https = url.scheme == "https"
        self.path = f"{url.path.rstrip('/')}/v1/policies/{policy}/tables/{table}/watch"
        self.headers = {"Accept": "text/event-stream", **(headers or {})}
        if token:
            self.headers["X-Auth-Token"] = token
        self.timeout = timeout
        self.last_event_id = last_event_id
        self.rows: set[tuple[Any, ...]] = set()
        self.retry = 2.0
        self.response: http.client.HTTPResponse | None = None
        self._conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the stream (resuming after ``last_event_id``, if any)."""
        self.close()
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        self._conn = cls(self.host, self.port, timeout=self.timeout)
        headers = dict(self.headers)
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        self._conn.request("GET", self.path, headers=headers)
        self.response = self._conn.getresponse()
        if self.response.status != 200:
            body = self.response.read().decode(errors="replace")
            raise RuntimeError(f"{self.response.status}: {body}")

    def events(self) -> Iterator[dict[str, Any]]:
        """The events of the open stream, the table kept up to date; ends with the stream."""
        assert self.response is not None, "connect() first"
        event: dict[str, Any] = {}
        while True:
            line = self.response.readline()
            if not line:
                return
            text = line.decode("utf-8").rstrip("\r\n")
            if not text:  # the end of an event
                if "event" in event:
                    self._apply(event)
                    yield event
                event = {}
            elif text.startswith(":"):
                continue  # a keep-alive comment
            else:
                name, _, value = text.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    event.update(json.loads(value))
                elif name == "event":
                    event["event"] = value
                elif name == "id":
                    event["id"] = value
                elif name == "retry":
                    self.retry = int(value) / 1000

    def _apply(self, event: dict[str, Any]) -> None:
        rows = {tuple(r) for r in event.get("rows", [])}
        kind = event["event"]
        if kind == "snapshot":
            self.rows = rows
        elif kind == "insert":
            self.rows |= rows
        elif kind == "delete":
            self.rows -= rows
        elif kind == "reset":
            self.rows = set()
        if "id" in event:
            self.last_event_id = event["id"]

    def follow(self) -> Iterator[dict[str, Any]]:
        """Every event, reconnecting (after ``retry`` seconds) whenever the stream ends."""
        while True:
            try:
                self.connect()
                yield from self.events()
            except (OSError, http.client.HTTPException) as e:
                print(f"stream lost ({e}); reconnecting", file=sys.stderr)
            time.sleep(self.retry)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="Congress's base URL, e.g. http://127.0.0.1:1789")
    parser.add_argument("policy")
    parser.add_argument("table")
    parser.add_argument("--token", help="a Keystone token (auth_strategy = keystone)")
    args = parser.parse_args()
    feed = Feed(args.url, args.policy, args.table, token=args.token)
    for event in feed.follow():
        rows = ", ".join(map(str, event.get("rows", [])))
        print(f"{event.get('time', '')} {event['event']}: {rows} ({len(feed.rows)} rows now)")


if __name__ == "__main__":
    main()
