"""PollingDriver: poll() through an injected client, errors, refresh and lazy tables."""

from __future__ import annotations

import pytest
from ds_fakes import CREDENTIALS, FakeClient, FakeClock, FakePollingDriver

from congress.datasources import translators as tr
from congress.datasources.driver import summarize_failures
from congress.datasources.errors import LazyTableNotActive, PollFailed, UnknownTable


def make(**config: object) -> tuple[FakePollingDriver, FakeClient, FakeClock]:
    client, clock = FakeClient(), FakeClock()
    driver = FakePollingDriver("nova", {**CREDENTIALS, **config}, client=client, clock=clock)
    return driver, client, clock


def test_poll_fetches_translates_and_counts() -> None:
    driver, client, clock = make()
    client.servers.data = [{"id": "s1", "name": "web", "tags": ["a"]}]
    client.flavors = [{"id": "f1", "ram": 512}]
    assert not driver.initialized
    snapshot = driver.poll()
    assert snapshot == {
        "servers": {("s1", "web")},
        "server_tags": {("s1", "a")},
        "flavors": {("f1", 512)},
    }
    assert driver.rows("server_tags") == {("s1", "a")}
    assert driver.status() == {
        "last_updated": str(clock.now),
        "last_error": "None",
        "number_of_updates": "1",
        "initialized": "True",
        "last_success": str(clock.now),
        "consecutive_failures": "0",
    }


def test_the_snapshot_is_a_copy() -> None:
    driver, client, _ = make()
    client.servers.data = [{"id": "s1"}]
    driver.poll()["servers"].clear()
    assert driver.tables()["servers"] == {("s1", "None")}


def test_a_failing_root_keeps_its_rows_and_sets_last_error() -> None:
    driver, client, _ = make()
    client.servers.data = [{"id": "s1"}]
    driver.poll()
    client.servers.fail_list = True
    client.flavors = [{"id": "f2", "ram": 1}]
    snapshot = driver.poll()
    assert snapshot["servers"] == {("s1", "None")}
    assert snapshot["flavors"] == {("f2", 1)}
    assert isinstance(driver.last_error, PollFailed)
    status = driver.status()
    assert status["last_error"] == "polling servers failed: service unavailable"
    assert status["consecutive_failures"] == "1"
    assert status["last_success"] != "None"
    client.servers.fail_list = False
    driver.poll()
    assert driver.last_error is None
    assert driver.number_of_updates == 3
    assert driver.status()["consecutive_failures"] == "0"


def test_the_last_success_stays_while_polls_fail() -> None:
    driver, client, clock = make()
    client.servers.fail_list = True
    driver.poll()
    assert driver.status()["last_success"] == "None"
    assert not driver.initialized  # no complete poll yet
    client.servers.fail_list = False
    driver.poll()
    succeeded = str(clock.now)
    assert driver.initialized
    client.servers.fail_list = True
    clock.advance(seconds=30)
    driver.poll()
    assert driver.status()["last_success"] == succeeded
    assert driver.status()["last_updated"] == str(clock.now)


def test_polls_back_off_while_the_service_fails() -> None:
    driver, client, _ = make(poll_time="10")
    assert driver.next_poll_delay() == 10.0
    client.servers.fail_list = True
    delays = []
    for _ in range(8):
        driver.poll()
        delays.append(driver.next_poll_delay())
    assert delays == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    client.servers.fail_list = False
    driver.poll()
    assert driver.next_poll_delay() == 10.0


def test_backoff_with_a_long_or_no_poll_time() -> None:
    slow, client, _ = make(poll_time="600")
    client.servers.fail_list = True
    slow.poll()
    slow.poll()
    assert slow.next_poll_delay() == 600.0  # never more often than poll_time, never beyond it
    manual, client, _ = make(poll_time="0")
    assert manual.next_poll_delay() is None  # only on refresh
    client.servers.fail_list = True
    manual.poll()
    manual.poll()
    assert manual.next_poll_delay() == 2.0  # a failing manual datasource retries by itself


def test_an_unchanged_answer_is_not_translated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    driver, client, _ = make()
    client.servers.data = [{"id": "s1", "name": "web"}]
    calls = []
    original = tr.translate

    def counting(spec: tr.TableSpec, objects: object) -> object:
        calls.append(spec.table)
        return original(spec, objects)

    monkeypatch.setattr(tr, "translate", counting)
    driver.poll()
    driver.poll()
    assert calls.count("servers") == 1
    client.servers.data = [{"id": "s1", "name": "db"}]
    assert driver.poll()["servers"] == {("s1", "db")}
    assert calls.count("servers") == 2


def test_rows_disappear_when_the_service_drops_them() -> None:
    driver, client, _ = make()
    client.servers.data = [{"id": "s1", "tags": ["a"]}]
    driver.poll()
    client.servers.data = []
    assert driver.poll()["server_tags"] == set()


def test_poll_time_and_refresh() -> None:
    driver, _, _ = make()
    assert driver.poll_time == 10
    assert make(poll_time="0")[0].poll_time == 0
    assert not driver.refresh_requested
    driver.request_refresh()
    assert driver.refresh_requested
    driver.poll()
    assert not driver.refresh_requested


def test_lazy_tables_wait_for_a_subscriber() -> None:
    driver, client, _ = make(lazy_tables="servers")
    client.servers.data = [{"id": "s1", "tags": ["a"]}]
    assert driver.poll() == {"flavors": set()}
    with pytest.raises(LazyTableNotActive, match="table server_tags is a lazy table"):
        driver.rows("server_tags")
    assert driver.activate("server_tags") is True  # a sub-table activates its root
    assert driver.activate("servers") is False
    assert driver.poll()["server_tags"] == {("s1", "a")}


def test_unknown_tables() -> None:
    driver, _, _ = make()
    with pytest.raises(UnknownTable):
        driver.rows("nope")
    with pytest.raises(UnknownTable):
        driver.activate("nope")
    with pytest.raises(UnknownTable):
        driver.table_spec("nope")


def test_schema_of_a_polling_driver() -> None:
    driver, _, _ = make()
    assert [t["table_id"] for t in driver.schema_body()["tables"]] == [
        "servers",
        "server_tags",
        "flavors",
    ]
    assert driver.table_spec("server_tags")["columns"] == [
        {"name": "parent_key", "description": None},
        {"name": "tag", "description": None},
    ]


def test_fetch_without_a_path_is_an_error_of_the_poll() -> None:
    class NoFetch(FakePollingDriver):
        FETCH = {}

    driver = NoFetch("n", CREDENTIALS, client=FakeClient())
    driver.poll()
    assert "does not say how to fetch" in str(driver.last_error)


def test_tables_that_failed_alike_share_one_clause() -> None:
    failures = [
        ("servers", "GET /servers/detail: cannot connect: http://h:1: [Errno 111] refused"),
        ("flavors", "GET /flavors/detail: cannot connect: http://h:1: [Errno 111] refused"),
        ("zones", "GET /zones: HTTP 500 from GET http://h:1/zones"),
    ]
    assert summarize_failures(failures) == (
        "polling servers, flavors failed: cannot connect: http://h:1: [Errno 111] refused; "
        "polling zones failed: HTTP 500 from GET http://h:1/zones"
    )
    assert summarize_failures(failures[2:]) == (
        "polling zones failed: GET /zones: HTTP 500 from GET http://h:1/zones"
    )
