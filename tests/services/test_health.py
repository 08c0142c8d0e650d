"""The deep readiness check (``congress.services.health.Readiness``): each condition that
fails it, and what is only listed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from congress.services.health import OK, UNAVAILABLE, Readiness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Engine:
    def __init__(self, revision: int = 7) -> None:
        self.revision = revision
        self.errors: dict[str, str] = {}

    def current_revision(self) -> int:
        return self.revision

    def policy_errors(self) -> dict[str, str]:
        return dict(self.errors)


class RemoteEngine(Engine):
    """Answers as ``rpc.RemoteEngine`` (``call``), or fails as one whose node is away."""

    def __init__(self, revision: int = 7, away: bool = False) -> None:
        super().__init__(revision)
        self.away = away
        self.timeouts: list[float] = []

    def call(self, method: str, /, *, timeout: float | None = None, **kwargs: Any) -> Any:
        self.timeouts.append(float(timeout or 0))
        if self.away:
            raise RuntimeError("The policy engine did not answer")
        return getattr(self, method)(**kwargs)


class Bus:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok

    def connected(self) -> tuple[bool, str]:
        return self.ok, "heartbeats come back" if self.ok else "no heartbeat came back for 9 s"


class Host:
    def __init__(self, fresh: list[dict[str, Any]] | None = None, fail: bool = False) -> None:
        self.fresh = fresh or []
        self.fail = fail

    def freshness(self) -> list[dict[str, Any]]:
        if self.fail:
            raise RuntimeError("The datasources node is not available")
        return self.fresh


def readiness(
    db_revision: int | Exception = 7,
    *,
    engine: Any = None,
    bus: Any = None,
    host: Any = None,
    clock: Clock | None = None,
    grace: float = 30.0,
) -> tuple[Readiness, dict[str, Any]]:
    state: dict[str, Any] = {"revision": db_revision}

    def read(database: Any) -> int:
        value = state["revision"]
        if isinstance(value, Exception):
            raise value
        return int(value)

    r = Readiness(
        database=object(),
        bus=bus,
        engine=Engine() if engine is None else engine,
        datasources=host,
        revision_grace=grace,
        timeout=0.5,
        timer=clock or Clock(),
        read_revision=read,
    )
    return r, state


def reason(answer: dict[str, Any], name: str) -> str:
    return next(r["reason"] for r in answer["reasons"] if r["class"] == name)


def test_all_good() -> None:
    r, _ = readiness(bus=Bus(), host=Host())
    answer = r.check()
    assert answer["status"] == OK and answer["detailed"] is True
    assert [x["class"] for x in answer["reasons"]] == ["database", "bus", "policy_engine"]
    assert all(x["reason"] == "OK" for x in answer["reasons"])
    assert answer["checks"]["database"] == {"ok": True, "details": "reachable; policy revision 7"}
    assert answer["checks"]["bus"]["ok"] and answer["checks"]["policy_engine"]["ok"]
    assert answer["datasources"] == [] and answer["policy_errors"] == {}


def test_in_process_bus_and_no_engine_pass() -> None:
    r, _ = readiness()
    r.engine = None
    answer = r.check()
    assert answer["status"] == OK
    assert answer["checks"]["bus"]["details"] == "in-process bus"
    assert answer["checks"]["policy_engine"]["details"] == "no policy engine on this node"


def test_database_unreachable_fails() -> None:
    r, _ = readiness(RuntimeError("connection refused\nmore lines"))
    answer = r.check()
    assert answer["status"] == UNAVAILABLE
    assert reason(answer, "database") == "unreachable: connection refused"
    # the engine cannot be compared with a database that does not answer: not a second failure
    assert answer["checks"]["policy_engine"]["ok"]


def test_database_that_hangs_fails_within_the_timeout() -> None:
    release = threading.Event()
    r = Readiness(
        database=object(),
        engine=Engine(),
        timeout=0.2,
        read_revision=lambda db: int(release.wait(10)),
    )
    try:
        answer = r.check()
        assert answer["status"] == UNAVAILABLE
        assert reason(answer, "database") == "no answer within 0.2 s"
        # the next check waits for the same read, not one more thread per check
        assert r.check()["status"] == UNAVAILABLE
    finally:
        release.set()
        r.close()


def test_bus_disconnected_fails() -> None:
    r, _ = readiness(bus=Bus(ok=False))
    answer = r.check()
    assert answer["status"] == UNAVAILABLE
    assert reason(answer, "bus") == "no heartbeat came back for 9 s"


def test_engine_behind_fails_only_after_the_grace() -> None:
    clock = Clock()
    engine = Engine(revision=5)
    r, _ = readiness(9, engine=engine, clock=clock, grace=30.0)
    assert r.check()["status"] == OK  # behind, within the grace
    clock.now += 20
    assert r.check()["status"] == OK
    clock.now += 11
    answer = r.check()
    assert answer["status"] == UNAVAILABLE
    assert reason(answer, "policy_engine") == (
        "applied policy revision 5; the database had revision 9 31.0 s ago"
    )
    engine.revision = 9  # caught up
    assert r.check()["status"] == OK


def test_engine_that_keeps_progressing_under_writes_passes() -> None:
    """Behind means: a revision the database had ``grace`` seconds ago is not applied yet;
    an engine that applies each one while new ones keep coming is not behind."""
    clock = Clock()
    engine = Engine(revision=5)
    r, state = readiness(6, engine=engine, clock=clock, grace=10.0)
    for revision in range(6, 20):
        assert r.check()["status"] == OK
        clock.now += 8
        engine.revision = revision  # it applied what the database had 8 s ago
        state["revision"] = revision + 1
    assert r.check()["status"] == OK


def test_remote_engine_that_does_not_answer_fails() -> None:
    remote = RemoteEngine(away=True)
    r, _ = readiness(engine=remote)
    answer = r.check()
    assert answer["status"] == UNAVAILABLE
    assert reason(answer, "policy_engine").startswith("does not answer:")
    assert remote.timeouts[0] == 0.5  # not a request's timeout
    remote.away = False
    assert r.check()["status"] == OK


def test_stopping_fails() -> None:
    r, _ = readiness()
    r.stopping = True
    answer = r.check()
    assert answer["status"] == UNAVAILABLE
    assert reason(answer, "stopping") == "the node is stopping"


@pytest.mark.parametrize("remote", [False, True])
def test_datasources_and_policy_errors_are_listed_but_never_fail(remote: bool) -> None:
    fresh = [
        {"name": "nova", "polling": True, "last_success_age": 900.0, "last_error": "503 Nova"},
    ]
    host: Any = Host(fresh)
    if remote:
        base = host

        class Remote:
            def call(self, method: str, /, *, timeout: float | None = None) -> Any:
                return getattr(base, method)()

        host = Remote()
    engine = Engine()
    engine.errors = {"big": "over max_derived_rows"}
    r, _ = readiness(engine=engine, host=host)
    answer = r.check()
    assert answer["status"] == OK
    assert answer["datasources"] == fresh
    assert answer["policy_errors"] == {"big": "over max_derived_rows"}


def test_datasources_that_do_not_answer_are_named_but_do_not_fail() -> None:
    r, _ = readiness(host=Host(fail=True))
    answer = r.check()
    assert answer["status"] == OK
    assert reason(answer, "datasources").startswith("the datasources did not answer")
    assert answer["checks"]["datasources"]["ok"] is False
