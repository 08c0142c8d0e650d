#!/usr/bin/env python3
"""Driver benchmark (issue 5): translating nova servers into rows, against a plain loop.

1. Translation: N nova servers (default 100,000), as ``GET /servers/detail`` returns them
   (``tests/clouds/fake_nova.server_json``: every field of microversion 2.26), go through the
   nova driver's ``servers`` translator (``servers``, ``servers.addresses``, ``tags``); the
   same JSON goes through a hand-written loop that builds the same rows (checked equal).
   Reports the best of ``--repeat`` runs of each and the ratio (target <= 2x).
2. A whole poll (fetch from memory, translate, row sets) of the same servers, then a second poll
   with the same answer: its time and the number of table messages it published (target 0),
   through the publisher the datasource host uses.

usage: .venv/bin/python benchmarks/driver_bench.py [--n 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "clouds"))

import fake_nova  # noqa: E402

from congress.bus import InProcessBus  # noqa: E402
from congress.bus.pubsub import Publisher  # noqa: E402
from congress.datasources import translators as tr  # noqa: E402
from congress.datasources._rows import interpret  # noqa: E402
from congress.datasources.nova import SERVERS, NovaDriver  # noqa: E402

Rows = list[tuple[Any, ...]]


def plain_loop(servers: list[dict[str, Any]]) -> tuple[Rows, Rows, Rows]:
    """What a programmer would write by hand for nova's three server tables."""

    def value(v: Any) -> Any:
        if v is None or v is True or v is False:
            return str(v)
        return v

    rows: Rows = []
    addresses: Rows = []
    tags: Rows = []
    for s in servers:
        sid = s.get("id")
        image = s.get("image")
        flavor = s.get("flavor")
        rows.append(
            (
                value(sid),
                value(s.get("name")),
                value(s.get("hostId")),
                value(s.get("status")),
                value(s.get("tenant_id")),
                value(s.get("user_id")),
                value(image.get("id") if isinstance(image, dict) else image),
                value(flavor.get("id") if isinstance(flavor, dict) else flavor),
                value(s.get("OS-EXT-AZ:availability_zone")),
                value(s.get("OS-EXT-SRV-ATTR:hypervisor_hostname")),
                value(s.get("created")),
            )
        )
        for network, items in (s.get("addresses") or {}).items():
            for a in items:
                addresses.append(
                    (
                        value(sid),
                        network,
                        value(a.get("addr")),
                        value(a.get("version")),
                        value(a.get("OS-EXT-IPS-MAC:mac_addr")),
                        value(a.get("OS-EXT-IPS:type")),
                    )
                )
        for tag in s.get("tags") or ():
            tags.append((value(sid), value(tag)))
    return rows, addresses, tags


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


class Recorder(InProcessBus):
    """The in-process bus, counting the table messages published."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = 0

    def publish(self, message: Any) -> None:
        self.messages += 1
        super().publish(message)


class MemoryCompute:
    """Stands in for the compute proxy: the same answer every time, no HTTP."""

    def __init__(self, servers: list[dict[str, Any]]) -> None:
        self.servers = servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    servers = [fake_nova.server_json(i) for i in range(args.n)]
    print(f"generated {args.n:,} servers in {time.perf_counter() - start:.2f} s")

    t_plain, (rows, addresses, tags) = best_of(args.repeat, lambda: plain_loop(servers))
    t_ours, out = best_of(args.repeat, lambda: tr.translate(SERVERS, servers))
    t_interp, _ = best_of(min(args.repeat, 2), lambda: interpret(SERVERS, servers))
    assert set(out["servers"]) == set(rows), "the translator and the loop disagree (servers)"
    assert set(out["servers.addresses"]) == set(addresses), "... (servers.addresses)"
    assert set(out["tags"]) == set(tags), "... (tags)"
    count = len(rows) + len(addresses) + len(tags)
    print(f"rows: {len(rows):,} servers, {len(addresses):,} addresses, {len(tags):,} tags")
    print(f"plain Python loop      : {t_plain:.3f} s")
    print(f"nova servers translator: {t_ours:.3f} s  ({count / t_ours / 1e6:.2f} M rows/s)")
    print(f"ratio                  : {t_ours / t_plain:.2f}x (target <= 2x)")
    print(f"(the spec interpreter  : {t_interp:.3f} s, {t_interp / t_plain:.2f}x)")

    # -- whole polls --------------------------------------------------------------------------
    driver = NovaDriver(
        "nova",
        {  # lazy: only the servers root is polled
            "auth_url": "http://127.0.0.1:1/identity/v3",
            "username": "u",
            "password": "p",
            "project_name": "p",
            "lazy_tables": "flavors,hypervisors,services,availability_zones",
        },
    )
    driver.fetch = lambda root: servers  # type: ignore[method-assign]
    bus = Recorder()
    publisher = Publisher(bus, "nova")

    def poll_and_publish() -> None:
        for table, table_rows in driver.poll().items():
            publisher.publish(table, table_rows)

    start = time.perf_counter()
    poll_and_publish()
    first = time.perf_counter() - start
    published = bus.messages
    start = time.perf_counter()
    poll_and_publish()
    second = time.perf_counter() - start
    print(
        f"first poll (translate, row sets, publish snapshots): {first:.3f} s, {published} messages"
    )
    print(
        f"second poll, nothing changed: {second:.3f} s, {bus.messages - published} messages "
        "published (target 0)"
    )


if __name__ == "__main__":
    main()
