"""The swift driver against a fake Swift account over real HTTP (openstacksdk + keystoneauth1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import fake_swift as fs
import pytest
from fakecloud import FakeCloud

from congress.datasources.errors import (
    ActionFailed,
    InvalidActionArguments,
    LazyTableNotActive,
    PollFailed,
)
from congress.datasources.swift import SwiftDriver

ACCOUNT = fs.ACCOUNT

CONTAINERS = {(3, 2100624, "backups"), (0, 0, "empty"), (1, 345678, "photos")}
OBJECTS = {
    (
        1048576,
        "2024-12-01T03:00:02.123450",
        "9e107d9d372bb6826bd81d3542a419d6",
        "db/2024-12-01.sql.gz",
        "application/gzip",
        "backups",
    ),
    (
        1050000,
        "2024-12-02T03:00:01.543210",
        "e4d909c290d0fb1ca068ffaddf22cbd0",
        "db/2024-12-02.sql.gz",
        "application/gzip",
        "backups",
    ),
    (
        2048,
        "2024-11-20T10:15:00.000000",
        "d41d8cd98f00b204e9800998ecf8427e",
        "etc/nginx.conf",
        "text/plain",
        "backups",
    ),
    (
        345678,
        "2024-07-14T16:41:49.390270",
        "451e372e48e0f6b1114fa0724aa79fa1",
        "2024/beach day.jpg",
        "image/jpeg",
        "photos",
    ),
}
EXPECTED = {"containers": CONTAINERS, "objects": OBJECTS}


@pytest.fixture(scope="module")
def swift(cloud: FakeCloud) -> fs.FakeSwift:
    return fs.FakeSwift(cloud)


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud, swift: fs.FakeSwift) -> Iterator[None]:
    cloud.heal()
    swift.reset()
    cloud.clear_requests()
    yield
    cloud.heal()


def make(cloud: FakeCloud, timeout: float = 5.0, **config: Any) -> SwiftDriver:
    cfg = cloud.credentials(**config)
    return SwiftDriver("swift", cfg, client=SwiftDriver.build_client(cfg, timeout=timeout))


# -- declaration --------------------------------------------------------------------------------
def test_schema_is_the_originals() -> None:
    schema = {t: [c.name for c in cols] for t, cols in SwiftDriver.schema().items()}
    assert schema == {
        "containers": ["count", "bytes", "name"],
        "objects": ["bytes", "last_modified", "hash", "name", "content_type", "container_name"],
    }


def test_info() -> None:
    info = SwiftDriver.info()
    assert info["id"] == "swift"
    assert info["secret"] == ["password"]
    assert "tenant_name" in info["config"] and "lazy_tables" in info["config"]


# -- polling ------------------------------------------------------------------------------------
def test_poll_reads_every_page_of_the_account_and_of_each_container(cloud: FakeCloud) -> None:
    driver = make(cloud)
    assert driver.poll() == EXPECTED
    assert driver.last_error is None
    account = cloud.requests_to(ACCOUNT, "GET")
    listings = [(r.path, r.query.get("marker", [""])[0]) for r in account]
    assert listings == [
        (ACCOUNT, ""),  # the account listing, read once for both tables
        (ACCOUNT, "empty"),
        (ACCOUNT, "photos"),  # answered 204: the end
        (f"{ACCOUNT}/backups", ""),
        (f"{ACCOUNT}/backups", "db/2024-12-02.sql.gz"),
        (f"{ACCOUNT}/backups", "etc/nginx.conf"),  # answered []: the end
        (f"{ACCOUNT}/empty", ""),
        (f"{ACCOUNT}/photos", ""),
        (f"{ACCOUNT}/photos", "2024/beach day.jpg"),
    ]
    assert all(r.query["format"] == ["json"] for r in account)


def test_tenant_name_stands_in_for_project_name(cloud: FakeCloud) -> None:
    cfg = {k: v for k, v in cloud.credentials(tenant_name="admin").items() if k != "project_name"}
    driver = SwiftDriver("swift", cfg, client=SwiftDriver.build_client(cfg, timeout=5))
    assert driver.poll() == EXPECTED


def test_an_unchanged_poll_keeps_the_tables_and_a_change_touches_only_its_rows(
    cloud: FakeCloud, swift: fs.FakeSwift
) -> None:
    driver = make(cloud)
    first = driver.poll()
    assert driver.poll() == first
    swift.objects["photos"][0]["content_type"] = "image/png"
    third = driver.poll()
    old = {r for r in OBJECTS if r[5] == "photos"}
    (new,) = third["objects"] - first["objects"]
    assert first["objects"] - third["objects"] == old
    assert new[3:] == ("2024/beach day.jpg", "image/png", "photos")
    assert third["containers"] == first["containers"]


def test_the_objects_table_is_lazy_until_activated(cloud: FakeCloud) -> None:
    driver = make(cloud, lazy_tables="objects")
    assert driver.poll() == {"containers": CONTAINERS}
    assert cloud.requests_to(f"{ACCOUNT}/") == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("objects")
    assert driver.activate("objects") is True
    assert driver.poll() == EXPECTED


# -- failures -----------------------------------------------------------------------------------
def assert_recovers(cloud: FakeCloud, driver: SwiftDriver) -> None:
    cloud.heal()
    assert driver.poll() == EXPECTED
    assert driver.last_error is None


def test_a_failing_account_keeps_the_last_rows_and_is_asked_once(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.clear_requests()
    cloud.fail(500, prefix=ACCOUNT)
    assert driver.poll() == EXPECTED
    assert isinstance(driver.last_error, PollFailed)
    error = str(driver.last_error)
    # both tables are read from the one account listing: they share one clause
    assert error.startswith("polling containers, objects failed: HTTP 500 from GET ")
    assert "GET /: " not in error
    assert len(cloud.requests_to(ACCOUNT)) == 1
    assert_recovers(cloud, driver)


def test_a_failing_container_keeps_the_last_objects(cloud: FakeCloud, swift: fs.FakeSwift) -> None:
    driver = make(cloud)
    driver.poll()
    swift.objects["empty"].append(fs.obj("new", 1, "0" * 32, "text/plain", "2024-12-03"))
    cloud.fail(503, prefix=f"{ACCOUNT}/photos")
    tables = driver.poll()
    assert str(driver.last_error).startswith("polling objects failed")
    assert tables["objects"] == OBJECTS
    assert (1, 1, "empty") in tables["containers"]
    with_new = {*OBJECTS, (1, "2024-12-03", "0" * 32, "new", "text/plain", "empty")}
    cloud.heal()
    assert driver.poll()["objects"] == with_new
    assert driver.last_error is None


def test_a_container_deleted_since_the_account_listing_is_skipped(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(404, prefix=f"{ACCOUNT}/photos")
    tables = driver.poll()
    assert driver.last_error is None
    assert tables["objects"] == {r for r in OBJECTS if r[5] != "photos"}


def test_malformed_json_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(body=b'[{"name": "backups", ', prefix=ACCOUNT)
    assert driver.poll() == EXPECTED
    assert "not JSON" in str(driver.last_error)
    assert_recovers(cloud, driver)


def test_a_listing_that_is_not_a_list_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(body=b'{"containers": []}', prefix=ACCOUNT)
    assert driver.poll() == EXPECTED
    assert "not a JSON list" in str(driver.last_error)
    assert_recovers(cloud, driver)


def test_refused_authentication_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(401, prefix=ACCOUNT)
    cloud.refuse_auth = True
    assert driver.poll() == EXPECTED
    assert "authentication refused by Keystone" in str(driver.last_error)
    assert_recovers(cloud, driver)


def test_a_timeout_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud, timeout=0.3)
    driver.poll()
    cloud.fail(delay=1.0, prefix=ACCOUNT)
    started = time.monotonic()
    assert driver.poll() == EXPECTED
    assert time.monotonic() - started < 1.0  # asked once for both tables
    assert "timed out" in str(driver.last_error)
    assert_recovers(cloud, driver)


# -- actions ------------------------------------------------------------------------------------
def test_the_actions_route_lists_the_actions() -> None:
    config = {"auth_url": "http://k/v3", "username": "u", "password": "p", "project_name": "p"}
    listed = {
        a["name"]: [x["name"] for x in a["args"]]
        for a in SwiftDriver("swift", config).actions()["results"]
    }
    assert listed == {
        "delete": ["container", "objects"],
        "post": ["container", "objects", "options"],
    }


def test_delete_named_objects(cloud: FakeCloud, swift: fs.FakeSwift) -> None:
    driver = make(cloud)
    driver.execute("delete", ["backups", ["db/2024-12-01.sql.gz", "etc/nginx.conf"]])
    sent = cloud.requests_to(ACCOUNT, "DELETE")
    assert [r.path for r in sent] == [
        f"{ACCOUNT}/backups/db/2024-12-01.sql.gz",
        f"{ACCOUNT}/backups/etc/nginx.conf",
    ]
    assert [o["name"] for o in swift.objects["backups"]] == ["db/2024-12-02.sql.gz"]


def test_delete_one_object_with_a_quoted_name(cloud: FakeCloud, swift: fs.FakeSwift) -> None:
    driver = make(cloud)
    driver.execute("delete", ["photos"], {"objects": "2024/beach day.jpg"})
    (sent,) = cloud.requests_to(ACCOUNT, "DELETE")
    assert sent.path == f"{ACCOUNT}/photos/2024/beach%20day.jpg"
    assert swift.objects["photos"] == []


def test_delete_a_container_deletes_its_objects_first(
    cloud: FakeCloud, swift: fs.FakeSwift
) -> None:
    driver = make(cloud)
    driver.execute("delete", ["backups"])
    sent = cloud.requests_to(ACCOUNT, "DELETE")
    assert [r.path for r in sent] == [
        f"{ACCOUNT}/backups/db/2024-12-01.sql.gz",
        f"{ACCOUNT}/backups/db/2024-12-02.sql.gz",
        f"{ACCOUNT}/backups/etc/nginx.conf",
        f"{ACCOUNT}/backups",
    ]
    assert "backups" not in swift.objects
    assert {r[2] for r in driver.poll()["containers"]} == {"empty", "photos"}


def test_post_container_metadata_and_acls(cloud: FakeCloud, swift: fs.FakeSwift) -> None:
    driver = make(cloud)
    options = {"meta": {"Color": "blue"}, "read_acl": ".r:*,.rlistings", "header": ["X-Foo: 1"]}
    driver.execute("post", ["photos"], {"options": options})
    (sent,) = cloud.requests_to(ACCOUNT, "POST")
    assert sent.path == f"{ACCOUNT}/photos"
    assert sent.headers["x-container-meta-color"] == "blue"
    assert sent.headers["x-container-read"] == ".r:*,.rlistings"
    assert sent.headers["x-foo"] == "1"
    assert "x-container-write" not in sent.headers
    assert sent.body is None
    assert swift.metadata["photos"] == {
        "x-container-meta-color": "blue",
        "x-container-read": ".r:*,.rlistings",
    }


def test_post_object_metadata_from_json_text(cloud: FakeCloud, swift: fs.FakeSwift) -> None:
    driver = make(cloud)
    driver.execute("post", ["backups", ["etc/nginx.conf"], '{"meta": ["Owner:ops", "Tier:2"]}'])
    (sent,) = cloud.requests_to(ACCOUNT, "POST")
    assert sent.path == f"{ACCOUNT}/backups/etc/nginx.conf"
    assert swift.metadata["backups/etc/nginx.conf"] == {
        "x-object-meta-owner": "ops",
        "x-object-meta-tier": "2",
    }


@pytest.mark.parametrize(
    "options",
    [{"metadata": {"a": "b"}}, "not json", ["meta"], {"meta": ["no-colon"]}],
)
def test_post_with_bad_options_sends_nothing(cloud: FakeCloud, options: Any) -> None:
    driver = make(cloud)
    with pytest.raises(
        InvalidActionArguments, match=r"the arguments do not fit: (unknown )?option"
    ):
        driver.execute("post", ["photos", None, options])
    assert cloud.requests_to(ACCOUNT, "POST") == []


def test_a_failing_action_raises_action_failed(cloud: FakeCloud) -> None:
    driver = make(cloud)
    with pytest.raises(ActionFailed) as caught:
        driver.execute("delete", ["photos", "missing.jpg"])
    assert "HTTP 404" in str(caught.value.__cause__)
