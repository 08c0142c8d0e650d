"""The keystonev3 driver against a fake Keystone over real HTTP (openstacksdk + keystoneauth1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import fake_keystone_admin as fk
import pytest
from fakecloud import PROJECT_ID, PROJECT_NAME, USER_ID, USERNAME, FakeCloud

from congress.datasources.errors import (
    ActionFailed,
    InvalidActionArguments,
    LazyTableNotActive,
    PollFailed,
)
from congress.datasources.keystonev3 import KeystoneV3Driver

USERS = f"{fk.PREFIX}/users"


@pytest.fixture(scope="module")
def keystone(cloud: FakeCloud) -> fk.FakeKeystoneAdmin:
    return fk.FakeKeystoneAdmin(cloud)


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud, keystone: fk.FakeKeystoneAdmin) -> Iterator[None]:
    cloud.heal()
    keystone.reset()
    cloud.clear_requests()
    yield
    cloud.heal()


def make(cloud: FakeCloud, timeout: float = 5.0, **config: Any) -> KeystoneV3Driver:
    cfg = cloud.credentials(**config)
    client = KeystoneV3Driver.build_client(cfg, timeout=timeout)
    return KeystoneV3Driver("keystone", cfg, client=client)


EXPECTED = {
    "users": {
        (USER_ID, USERNAME, "True", PROJECT_ID, "default"),
        (fk.DEMO_USER, "demo", "True", fk.DEMO_PROJECT, "default"),
        (fk.HEAT_ADMIN, "heat_domain_admin", "False", "None", fk.HEAT_DOMAIN),
    },
    "roles": {
        (fk.ADMIN_ROLE, "admin"),
        (fk.MEMBER_ROLE, "member"),
        (fk.READER_ROLE, "reader"),
    },
    "projects": {
        (
            "True",
            "Bootstrap project for initializing the cloud.",
            PROJECT_NAME,
            "default",
            PROJECT_ID,
        ),
        ("False", "", "demo", "default", fk.DEMO_PROJECT),
    },
    "domains": {
        ("True", "The default domain", "Default", "default"),
        ("True", "Owns users and projects created by heat", "heat", fk.HEAT_DOMAIN),
    },
}


# -- declaration --------------------------------------------------------------------------------
def test_schema_is_the_originals() -> None:
    schema = {t: [c.name for c in cols] for t, cols in KeystoneV3Driver.schema().items()}
    assert schema == {
        "users": ["id", "name", "enabled", "default_project_id", "domain_id"],
        "roles": ["id", "name"],
        "projects": ["enabled", "description", "name", "domain_id", "id"],
        "domains": ["enabled", "description", "name", "id"],
    }


def test_info_lists_the_common_openstack_options() -> None:
    info = KeystoneV3Driver.info()
    assert info["id"] == "keystonev3"
    assert info["secret"] == ["password"]
    assert sorted(k for k, v in info["config"].items() if v == "required") == [
        "auth_url",
        "password",
        "project_name",
        "username",
    ]
    assert "lazy_tables" in info["config"]


# -- polling ------------------------------------------------------------------------------------
def test_poll_reads_every_table(cloud: FakeCloud) -> None:
    driver = make(cloud)
    assert driver.poll() == EXPECTED
    assert driver.last_error is None
    pages = cloud.requests_to(USERS, "GET")
    assert [r.query for r in pages] == [{}, {"marker": [fk.DEMO_USER], "limit": ["2"]}]
    for path in ("/roles", "/projects", "/domains"):
        assert len(cloud.requests_to(fk.PREFIX + path, "GET")) == 1


def test_an_unchanged_poll_keeps_the_tables_and_a_change_touches_only_its_rows(
    cloud: FakeCloud, keystone: fk.FakeKeystoneAdmin
) -> None:
    driver = make(cloud)
    first = driver.poll()
    assert driver.poll() == first
    demo = keystone.find("users", fk.DEMO_USER)
    assert demo is not None
    demo["enabled"] = False
    third = driver.poll()
    assert first["users"] - third["users"] == {
        (fk.DEMO_USER, "demo", "True", fk.DEMO_PROJECT, "default")
    }
    assert third["users"] - first["users"] == {
        (fk.DEMO_USER, "demo", "False", fk.DEMO_PROJECT, "default")
    }
    assert {t: r for t, r in third.items() if t != "users"} == {
        t: r for t, r in first.items() if t != "users"
    }


def test_lazy_tables_are_not_fetched_until_activated(cloud: FakeCloud) -> None:
    driver = make(cloud, lazy_tables="users,domains")
    assert driver.poll() == {"roles": EXPECTED["roles"], "projects": EXPECTED["projects"]}
    assert cloud.requests_to(USERS) == []
    assert cloud.requests_to(f"{fk.PREFIX}/domains") == []
    with pytest.raises(LazyTableNotActive):
        driver.rows("users")
    assert driver.activate("users") is True
    assert driver.activate("users") is False
    tables = driver.poll()
    assert tables["users"] == EXPECTED["users"]
    assert "domains" not in tables
    assert cloud.requests_to(f"{fk.PREFIX}/domains") == []


# -- failures -----------------------------------------------------------------------------------
ALL_ROOTS = "users, roles, projects, domains"


def assert_kept(driver: KeystoneV3Driver, text: str, failed: str = "users") -> None:
    """The poll keeps the last rows; ``failed`` names the tables of the one failure clause."""
    assert driver.poll() == EXPECTED
    assert isinstance(driver.last_error, PollFailed)
    assert f"polling {failed} failed: " in str(driver.last_error)
    assert text in str(driver.last_error)


def assert_recovers(cloud: FakeCloud, driver: KeystoneV3Driver) -> None:
    cloud.heal()
    assert driver.poll() == EXPECTED
    assert driver.last_error is None


def test_a_server_error_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(503, prefix=USERS)
    assert_kept(driver, "HTTP 503")
    assert "polling roles" not in str(driver.last_error)
    assert_recovers(cloud, driver)


def test_malformed_json_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(body=b"<html>proxy error</html>", prefix=USERS)
    assert_kept(driver, "not JSON")
    assert_recovers(cloud, driver)


def test_refused_authentication_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.poll()
    cloud.fail(401, prefix=USERS)  # the token is rejected: keystoneauth authenticates again
    cloud.refuse_auth = True
    # every table fails for the one reason: they share a clause
    assert_kept(driver, "failed: authentication refused by Keystone", failed=ALL_ROOTS)
    assert_recovers(cloud, driver)


def test_a_timeout_keeps_the_last_rows(cloud: FakeCloud) -> None:
    driver = make(cloud, timeout=0.3)
    driver.poll()
    cloud.fail(delay=1.0, prefix=USERS)
    started = time.monotonic()
    assert_kept(driver, "timed out")
    assert time.monotonic() - started < 1.0
    assert_recovers(cloud, driver)


def test_a_first_poll_refused_by_keystone_fails_cleanly(cloud: FakeCloud) -> None:
    cloud.refuse_auth = True
    driver = make(cloud)
    assert driver.poll() == {t: set() for t in EXPECTED}
    # the refusal comes while openstacksdk builds the identity proxy (catalog discovery)
    assert f"polling {ALL_ROOTS} failed: " in str(driver.last_error)
    assert "HTTP 401" in str(driver.last_error)
    assert not driver.initialized
    cloud.heal()
    assert driver.poll() == EXPECTED
    assert driver.initialized


# -- actions ------------------------------------------------------------------------------------
def test_the_actions_route_lists_the_actions() -> None:
    config = {"auth_url": "http://k/v3", "username": "u", "password": "p", "project_name": "p"}
    listed = {
        a["name"]: [x["name"] for x in a["args"]]
        for a in KeystoneV3Driver("keystone", config).actions()["results"]
    }
    assignment = ["role", "user", "group", "system", "domain", "project"]
    assert listed == {  # keystoneclient v3's arguments, in its order
        "users.update": [
            "user",
            "name",
            "domain",
            "project",
            "password",
            "email",
            "description",
            "enabled",
            "default_project",
        ],
        "users.delete": ["user"],
        "projects.update": ["project", "name", "domain", "description", "enabled"],
        "projects.delete": ["project"],
        "roles.grant": assignment,
        "roles.revoke": assignment,
    }


def test_users_update_patches_the_user(cloud: FakeCloud, keystone: fk.FakeKeystoneAdmin) -> None:
    driver = make(cloud)
    driver.poll()
    driver.execute(
        "users.update",
        [fk.DEMO_USER],
        {"enabled": "False", "default_project": PROJECT_ID, "email": "demo@example.org"},
    )
    (sent,) = cloud.requests_to(f"{USERS}/{fk.DEMO_USER}", "PATCH")
    assert sent.body == {
        "user": {"enabled": False, "default_project_id": PROJECT_ID, "email": "demo@example.org"}
    }
    assert (fk.DEMO_USER, "demo", "False", PROJECT_ID, "default") in driver.poll()["users"]


def test_users_update_takes_keystoneclients_positional_arguments(cloud: FakeCloud) -> None:
    driver = make(cloud)
    # users.update(user, name, domain, project, password, email, description, enabled)
    driver.execute("users.update", [fk.DEMO_USER, "demo2", None, None, None, None, None, False])
    (sent,) = cloud.requests_to(f"{USERS}/{fk.DEMO_USER}", "PATCH")
    assert sent.body == {"user": {"name": "demo2", "enabled": False}}


def test_users_update_passes_other_attributes_as_they_are(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.execute("users.update", [fk.DEMO_USER], {"options": {"lock_password": True}})
    (sent,) = cloud.requests_to(f"{USERS}/{fk.DEMO_USER}", "PATCH")
    assert sent.body == {"user": {"options": {"lock_password": True}}}


def test_users_update_without_attributes_sends_nothing(cloud: FakeCloud) -> None:
    driver = make(cloud)
    with pytest.raises(InvalidActionArguments, match="the arguments do not fit") as caught:
        driver.execute("users.update", [fk.DEMO_USER])
    assert "nothing to update" in str(caught.value)
    assert cloud.requests_to(USERS, "PATCH") == []


def test_users_update_with_an_enabled_that_is_not_a_boolean_sends_nothing(
    cloud: FakeCloud,
) -> None:
    driver = make(cloud)
    with pytest.raises(InvalidActionArguments, match="enabled must be True or False") as caught:
        driver.execute("users.update", [fk.DEMO_USER], {"enabled": "perhaps"})
    assert caught.value.http_status == 400
    assert cloud.requests_to(USERS, "PATCH") == []


def test_users_delete(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.execute("users.delete", [fk.DEMO_USER])
    (sent,) = cloud.requests_to(USERS, "DELETE")
    assert sent.path == f"{USERS}/{fk.DEMO_USER}"
    assert sent.body is None


def test_projects_update_and_delete(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.execute("projects.update", [fk.DEMO_PROJECT], {"description": "Demo", "enabled": True})
    driver.execute("projects.delete", [fk.DEMO_PROJECT])
    (patch,) = cloud.requests_to(f"{fk.PREFIX}/projects", "PATCH")
    assert patch.path == f"{fk.PREFIX}/projects/{fk.DEMO_PROJECT}"
    assert patch.body == {"project": {"description": "Demo", "enabled": True}}
    (delete,) = cloud.requests_to(f"{fk.PREFIX}/projects", "DELETE")
    assert delete.path == f"{fk.PREFIX}/projects/{fk.DEMO_PROJECT}"


def test_roles_grant_and_revoke_on_a_project(cloud: FakeCloud) -> None:
    driver = make(cloud)
    # roles.grant(role, user, group, system, domain, project), as keystoneclient
    driver.execute("roles.grant", [fk.MEMBER_ROLE, fk.DEMO_USER, None, None, None, fk.DEMO_PROJECT])
    driver.execute(
        "roles.revoke", [fk.MEMBER_ROLE], {"user": fk.DEMO_USER, "project": fk.DEMO_PROJECT}
    )
    path = f"{fk.PREFIX}/projects/{fk.DEMO_PROJECT}/users/{fk.DEMO_USER}/roles/{fk.MEMBER_ROLE}"
    (put,) = cloud.requests_to(f"{fk.PREFIX}/projects/", "PUT")
    (delete,) = cloud.requests_to(f"{fk.PREFIX}/projects/", "DELETE")
    assert (put.path, put.body) == (path, None)
    assert delete.path == path


def test_roles_grant_to_a_group_on_a_domain(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.execute("roles.grant", [fk.READER_ROLE], {"group": fk.GROUP, "domain": "default"})
    (put,) = cloud.requests_to(f"{fk.PREFIX}/domains/", "PUT")
    assert put.path == f"{fk.PREFIX}/domains/default/groups/{fk.GROUP}/roles/{fk.READER_ROLE}"


def test_roles_grant_on_the_system(cloud: FakeCloud) -> None:
    driver = make(cloud)
    driver.execute("roles.grant", [fk.ADMIN_ROLE], {"user": fk.DEMO_USER, "system": "all"})
    (put,) = cloud.requests_to(f"{fk.PREFIX}/system/", "PUT")
    assert put.path == f"{fk.PREFIX}/system/users/{fk.DEMO_USER}/roles/{fk.ADMIN_ROLE}"


@pytest.mark.parametrize(
    "named",
    [
        {"project": fk.DEMO_PROJECT},
        {"user": fk.DEMO_USER},
        {"user": fk.DEMO_USER, "group": fk.GROUP, "project": fk.DEMO_PROJECT},
        {"user": fk.DEMO_USER, "project": fk.DEMO_PROJECT, "domain": "default"},
        {"user": fk.DEMO_USER, "project": fk.DEMO_PROJECT, "system": "all"},
    ],
)
def test_roles_grant_needs_one_actor_and_one_target(
    cloud: FakeCloud, named: dict[str, str]
) -> None:
    driver = make(cloud)
    with pytest.raises(InvalidActionArguments, match="the arguments do not fit: give exactly one"):
        driver.execute("roles.grant", [fk.MEMBER_ROLE], named)
    assert cloud.requests_to(fk.PREFIX, "PUT") == []


def test_a_failing_action_raises_action_failed(cloud: FakeCloud) -> None:
    driver = make(cloud)
    with pytest.raises(ActionFailed) as caught:
        driver.execute("users.delete", ["nobody"])
    assert "HTTP 404" in str(caught.value.__cause__)
