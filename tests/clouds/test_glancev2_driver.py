"""The glancev2 driver against a fake Glance over real HTTP (openstacksdk + keystoneauth1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import fake_glance as fg
import pytest
from fakecloud import PROJECT_ID, FakeCloud

from congress.datasources.errors import ActionFailed, LazyTableNotActive, PollFailed
from congress.datasources.glancev2 import GlanceV2Driver

IMAGES = f"{fg.PREFIX}/images"


@pytest.fixture(scope="module")
def glance(cloud: FakeCloud) -> fg.FakeGlance:
    return fg.FakeGlance(cloud)


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud, glance: fg.FakeGlance) -> Iterator[None]:
    cloud.heal()
    glance.reset()
    cloud.clear_requests()
    yield
    cloud.heal()


def make(cloud: FakeCloud, timeout: float = 5.0, **config: Any) -> GlanceV2Driver:
    cfg = cloud.credentials(**config)
    return GlanceV2Driver("glance", cfg, client=GlanceV2Driver.build_client(cfg, timeout=timeout))


EXPECTED_IMAGES = {
    (
        fg.CIRROS_ID,
        "active",
        "cirros-0.6.2-x86_64-disk",
        "bare",
        "2024-11-07T17:07:06Z",
        "2024-11-07T17:19:09Z",
        "qcow2",
        PROJECT_ID,
        "False",
        0,
        0,
        "64d7c1cd2b6f60c92c14662941cb7913",
        13167616,
        f"/v2/images/{fg.CIRROS_ID}/file",
        "None",
        "None",
        "/v2/schemas/image",
        "public",
    ),
    (
        fg.UBUNTU_ID,
        "active",
        "ubuntu-24.04",
        "bare",
        "2024-11-07T17:07:06Z",
        "2024-11-07T17:19:09Z",
        "qcow2",
        fg.OTHER_PROJECT,
        "True",
        512,
        10,
        "a3d3fb4e9bd1d0d1c5d3e0e9c6a7e3c1",
        629145600,
        f"/v2/images/{fg.UBUNTU_ID}/file",
        "None",
        "None",
        "/v2/schemas/image",
        "shared",
    ),
    (
        fg.AMI_ID,
        "active",
        "cirros-ami",
        "ami",
        "2024-11-07T17:07:06Z",
        "2024-11-07T17:19:09Z",
        "ami",
        PROJECT_ID,
        "False",
        0,
        0,
        "64d7c1cd2b6f60c92c14662941cb7913",
        13167616,
        f"/v2/images/{fg.AMI_ID}/file",
        fg.KERNEL_ID,
        fg.RAMDISK_ID,
        "/v2/schemas/image",
        "public",
    ),
    (
        fg.KERNEL_ID,
        "queued",
        "cirros-kernel",
        "aki",
        "2024-11-07T17:07:06Z",
        "2024-11-07T17:19:09Z",
        "aki",
        PROJECT_ID,
        "False",
        0,
        0,
        "None",
        "None",
        f"/v2/images/{fg.KERNEL_ID}/file",
        "None",
        "None",
        "/v2/schemas/image",
        "private",
    ),
}
EXPECTED_TAGS = {(fg.CIRROS_ID, "test"), (fg.CIRROS_ID, "small"), (fg.AMI_ID, "ami")}


# -- declaration --------------------------------------------------------------------------------
def test_schema_is_the_originals() -> None:
    schema = {t: [c.name for c in cols] for t, cols in GlanceV2Driver.schema().items()}
    assert schema == {
        "images": [
            "id",
            "status",
            "name",
            "container_format",
            "created_at",
            "updated_at",
            "disk_format",
            "owner",
            "protected",
            "min_ram",
            "min_disk",
            "checksum",
            "size",
            "file",
            "kernel_id",
            "ramdisk_id",
            "schema",
            "visibility",
        ],
        "tags": ["image_id", "tag"],
    }


def test_info_lists_the_common_openstack_options() -> None:
    info = GlanceV2Driver.info()
    assert info["id"] == "glancev2"
    assert info["secret"] == ["password"]
    assert {k for k, v in info["config"].items() if v == "required"} == {
        "auth_url",
        "username",
        "password",
        "project_name",
    }
    assert set(info["config"]) == {
        "auth_url",
        "username",
        "password",
        "project_name",
        "endpoint",
        "region",
        "user_domain_name",
        "project_domain_name",
        "tenant_name",
        "poll_time",
        "lazy_tables",
    }


# -- polling ------------------------------------------------------------------------------------
def test_poll_reads_every_page_of_images_and_their_tags(cloud: FakeCloud) -> None:
    driver = make(cloud)
    tables = driver.poll()
    assert driver.last_error is None
    assert tables == {"images": EXPECTED_IMAGES, "tags": EXPECTED_TAGS}
    pages = cloud.requests_to(IMAGES, "GET")
    assert [r.query for r in pages] == [{}, {"marker": [fg.UBUNTU_ID]}]


def test_tenant_name_stands_in_for_project_name(cloud: FakeCloud) -> None:
    cfg = {k: v for k, v in cloud.credentials(tenant_name="admin").items() if k != "project_name"}
    driver = GlanceV2Driver("glance", cfg, client=GlanceV2Driver.build_client(cfg, timeout=5))
    assert driver.poll()["images"] == EXPECTED_IMAGES


def test_an_unchanged_poll_keeps_the_tables_and_a_change_touches_only_its_rows(
    cloud: FakeCloud, glance: fg.FakeGlance
) -> None:
    driver = make(cloud)
    first = driver.poll()
    assert driver.poll() == first
    ubuntu = glance.find(fg.UBUNTU_ID)
    assert ubuntu is not None
    ubuntu["status"] = "deactivated"
    ubuntu["tags"].append("lts")
    third = driver.poll()
    assert first["images"] - third["images"] == {r for r in EXPECTED_IMAGES if r[0] == fg.UBUNTU_ID}
    (changed,) = third["images"] - first["images"]
    assert changed[:3] == (fg.UBUNTU_ID, "deactivated", "ubuntu-24.04")
    assert third["tags"] - first["tags"] == {(fg.UBUNTU_ID, "lts")}
    assert first["tags"] - third["tags"] == set()


def test_a_lazy_table_is_not_fetched_until_activated(cloud: FakeCloud) -> None:
    driver = make(cloud, lazy_tables="images")
    assert driver.poll() == {}
    assert cloud.requests_to(IMAGES) == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("tags")
    assert driver.activate("tags") is True
    assert driver.poll() == {"images": EXPECTED_IMAGES, "tags": EXPECTED_TAGS}
    assert len(cloud.requests_to(IMAGES, "GET")) == 2


# -- failures -----------------------------------------------------------------------------------
def assert_kept(driver: GlanceV2Driver, text: str) -> None:
    tables = driver.poll()
    assert tables == {"images": EXPECTED_IMAGES, "tags": EXPECTED_TAGS}
    assert isinstance(driver.last_error, PollFailed)
    assert text in str(driver.last_error)


def assert_recovers(cloud: FakeCloud, driver: GlanceV2Driver) -> None:
    cloud.heal()
    assert driver.poll() == {"images": EXPECTED_IMAGES, "tags": EXPECTED_TAGS}
    assert driver.last_error is None
    assert driver.status()["consecutive_failures"] == "0"


def test_a_server_error_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(500, prefix=IMAGES)
    assert_kept(driver, "HTTP 500")
    assert_recovers(cloud, driver)


def test_malformed_json_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(body=b'{"images": [', prefix=IMAGES)
    assert_kept(driver, "not JSON")
    assert_recovers(cloud, driver)


def test_an_answer_without_images_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(body=b'{"itemNotFound": {}}', prefix=IMAGES)
    assert_kept(driver, "no list 'images'")
    assert_recovers(cloud, driver)


def test_refused_authentication_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(401, prefix=IMAGES)  # the token is rejected: keystoneauth authenticates again
    cloud.refuse_auth = True
    assert_kept(driver, "authentication refused by Keystone")
    assert_recovers(cloud, driver)


def test_a_timeout_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud, timeout=0.3)
    driver.poll()
    cloud.fail(delay=1.0, prefix=IMAGES)
    started = time.monotonic()
    assert_kept(driver, "timed out")
    assert time.monotonic() - started < 1.0
    assert_recovers(cloud, driver)


# -- actions ------------------------------------------------------------------------------------
def test_the_actions_route_lists_the_actions() -> None:
    config = {"auth_url": "http://k/v3", "username": "u", "password": "p", "project_name": "p"}
    driver = GlanceV2Driver("glance", config)
    listed = {a["name"]: [x["name"] for x in a["args"]] for a in driver.actions()["results"]}
    assert listed == {
        "images.delete": ["image_id"],
        "images.deactivate": ["image_id"],
        "images.reactivate": ["image_id"],
        "images.update": ["image_id", "remove_props"],
        "image_tags.update": ["image_id", "tag_value"],
        "image_tags.delete": ["image_id", "tag_value"],
        "image_members.create": ["image_id", "member_id"],
        "image_members.delete": ["image_id", "member_id"],
    }


@pytest.mark.parametrize(
    ("action", "args", "method", "path", "body"),
    [
        ("images.delete", [fg.CIRROS_ID], "DELETE", f"/{fg.CIRROS_ID}", None),
        (
            "images.deactivate",
            [fg.CIRROS_ID],
            "POST",
            f"/{fg.CIRROS_ID}/actions/deactivate",
            None,
        ),
        (
            "images.reactivate",
            [fg.CIRROS_ID],
            "POST",
            f"/{fg.CIRROS_ID}/actions/reactivate",
            None,
        ),
        ("image_tags.update", [fg.UBUNTU_ID, "lts"], "PUT", f"/{fg.UBUNTU_ID}/tags/lts", None),
        ("image_tags.delete", [fg.CIRROS_ID, "test"], "DELETE", f"/{fg.CIRROS_ID}/tags/test", None),
        (
            "image_members.create",
            [fg.UBUNTU_ID, fg.OTHER_PROJECT],
            "POST",
            f"/{fg.UBUNTU_ID}/members",
            {"member": fg.OTHER_PROJECT},
        ),
    ],
)
def test_an_action_sends_its_request(
    cloud: FakeCloud,
    action: str,
    args: list[str],
    method: str,
    path: str,
    body: Any,
) -> None:
    driver = make(cloud)
    driver.execute(action, args)
    (sent,) = cloud.requests_to(IMAGES + path, method)
    assert sent.path == IMAGES + path
    assert sent.body == body


def test_an_action_changes_what_the_next_poll_sees(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    driver.execute("images.deactivate", [fg.CIRROS_ID])
    driver.execute("image_tags.delete", [fg.CIRROS_ID], {"tag_value": "small"})
    tables = driver.poll()
    cirros = {r for r in tables["images"] if r[0] == fg.CIRROS_ID}
    assert {r[1] for r in cirros} == {"deactivated"}
    assert {r for r in tables["tags"] if r[0] == fg.CIRROS_ID} == {(fg.CIRROS_ID, "test")}


def test_removing_a_member_deletes_it(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.execute("image_members.create", [fg.UBUNTU_ID, fg.OTHER_PROJECT])
    driver.execute("image_members.delete", [fg.UBUNTU_ID, fg.OTHER_PROJECT])
    (sent,) = cloud.requests_to(f"{IMAGES}/{fg.UBUNTU_ID}/members/", "DELETE")
    assert sent.path == f"{IMAGES}/{fg.UBUNTU_ID}/members/{fg.OTHER_PROJECT}"


def test_update_sends_one_json_patch(cloud: FakeCloud, glance: fg.FakeGlance) -> None:
    driver = make(cloud)
    driver.execute(
        "images.update",
        [fg.UBUNTU_ID],
        {"name": "ubuntu-noble", "hw_disk_bus": "scsi", "remove_props": ["os_distro", "nope"]},
    )
    (sent,) = cloud.requests_to(f"{IMAGES}/{fg.UBUNTU_ID}", "PATCH")
    assert sent.headers["content-type"] == "application/openstack-images-v2.1-json-patch"
    assert sent.body == [
        {"op": "replace", "path": "/name", "value": "ubuntu-noble"},
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "remove", "path": "/os_distro"},
    ]
    image = glance.find(fg.UBUNTU_ID)
    assert image is not None and image["name"] == "ubuntu-noble" and "os_distro" not in image


def test_a_failing_action_raises_action_failed(cloud: FakeCloud) -> None:
    driver = make(cloud)
    with pytest.raises(ActionFailed) as caught:
        driver.execute("images.delete", ["no-such-image"])
    assert "HTTP 404" in str(caught.value.__cause__)
    assert cloud.requests_to(f"{IMAGES}/no-such-image", "DELETE")
