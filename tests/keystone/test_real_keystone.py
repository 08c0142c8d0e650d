"""``auth_strategy = keystone`` against a real Keystone (the ``keystone`` package, on SQLite).

Tokens come from Keystone by password; Congress's token middleware validates each one against
that Keystone over HTTP, and the roles in the validated token decide, through oslo.policy,
what the caller may do (``admin`` everything, ``reader`` only reads).
"""

from __future__ import annotations

import configparser
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from real_keystone import CongressNode, Keystone, User, http

pytestmark = pytest.mark.xdist_group("keystone")

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"

Run = Callable[..., tuple[int, str, str]]


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _policies(congress: CongressNode, token: str) -> tuple[int, object]:
    status, _, body = http("GET", congress.url + "/v1/policies", headers={"X-Auth-Token": token})
    return status, body


def _create(congress: CongressNode, token: str, name: str) -> tuple[int, object]:
    status, _, body = http(
        "POST", congress.url + "/v1/policies", {"name": name}, {"X-Auth-Token": token}
    )
    return status, body


def _forbidden(status: int, body: object) -> None:
    assert status == 403, body
    assert isinstance(body, dict) and body["error"]["error_data"]["code"] == "forbidden", body


def test_open_routes_need_no_token(congress: CongressNode) -> None:
    for path in ("/", "/v1", "/healthcheck"):
        assert http("GET", congress.url + path)[0] == 200, path


def test_no_token_is_401(congress: CongressNode, keystone: Keystone) -> None:
    status, headers, _ = http("GET", congress.url + "/v1/policies")
    assert status == 401
    # the middleware tells the client where to get a token: the real Keystone
    assert headers["www-authenticate"] == f'Keystone uri="{keystone.v3}"'
    assert http("POST", congress.url + "/v1/policies", {"name": _name("none")})[0] == 401
    assert _create(congress, "", _name("empty"))[0] == 401  # an empty X-Auth-Token


def test_garbage_token_is_401(congress: CongressNode) -> None:
    assert _policies(congress, "not-a-token")[0] == 401
    # well-formed for a fernet token, but not one Keystone issued
    assert _policies(congress, "gAAAAAB" + "x" * 180)[0] == 401
    assert _create(congress, "not-a-token", _name("garbage"))[0] == 401


def test_revoked_token_is_401(congress: CongressNode, keystone: Keystone) -> None:
    token = keystone.token("admin")
    status, _, _ = http(
        "DELETE",
        keystone.v3 + "/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
    )
    assert status == 204
    assert _policies(congress, token)[0] == 401


def test_admin_reads_and_writes(congress: CongressNode, keystone: Keystone) -> None:
    token = keystone.token("admin")
    status, body = _policies(congress, token)
    assert status == 200 and isinstance(body, dict)
    assert "classification" in {p["name"] for p in body["results"]}
    name = _name("admin")
    status, made = _create(congress, token, name)
    assert status == 201 and isinstance(made, dict) and made["name"] == name, made
    headers = {"X-Auth-Token": token}
    assert http("GET", f"{congress.url}/v1/policies/{name}", headers=headers)[0] == 200
    rule = {"rule": "p(1)"}
    assert http("POST", f"{congress.url}/v1/policies/{name}/rules", rule, headers)[0] == 201
    status, _, rows = http("GET", f"{congress.url}/v1/policies/{name}/tables/p/rows", None, headers)
    assert status == 200 and isinstance(rows, dict) and rows["results"] == [{"data": [1]}]
    assert http("DELETE", f"{congress.url}/v1/policies/{name}", headers=headers)[0] == 200


def test_reader_reads_but_may_not_write(congress: CongressNode, keystone: Keystone) -> None:
    """A reader of project demo reads demo's policies (docs/tenancy.md) and writes nothing."""
    member = keystone.token("member")
    name = _name("forreader")
    assert _create(congress, member, name)[0] == 201  # a policy of project demo
    token = keystone.token("reader")
    reader = {"X-Auth-Token": token}
    status, body = _policies(congress, token)
    assert status == 200 and isinstance(body, dict)
    assert name in {p["name"] for p in body["results"]}
    assert http("GET", f"{congress.url}/v1/policies/{name}", headers=reader)[0] == 200
    sim = {"query": "p(x)", "sequence": "p+(2)", "action_policy": "action"}
    assert http("POST", f"{congress.url}/v1/policies/{name}?action=simulate", sim, reader)[0] == 200
    _forbidden(*_create(congress, token, _name("reader")))
    status, _, body = http(
        "POST", f"{congress.url}/v1/policies/{name}/rules", {"rule": "q(1)"}, reader
    )
    _forbidden(status, body)
    status, _, body = http("DELETE", f"{congress.url}/v1/policies/{name}", headers=reader)
    _forbidden(status, body)
    mine = {"X-Auth-Token": member}
    assert http("GET", f"{congress.url}/v1/policies/{name}", headers=mine)[0] == 200  # still there


def test_member_writes_only_its_projects_policies(
    congress: CongressNode, keystone: Keystone
) -> None:
    """``project_member``: a member creates its project's policies; the operator's are not its
    own to delete (a 404, as for a policy of another project)."""
    token = keystone.token("member")
    status, body = _create(congress, token, _name("member"))
    assert status == 201 and isinstance(body, dict)
    assert body["owner_id"] not in ("user", "", None)  # project demo's id
    status, _, body = http(
        "DELETE", f"{congress.url}/v1/policies/classification", headers={"X-Auth-Token": token}
    )
    assert status == 404, body
    # Keystone's bootstrap makes ``member`` imply ``reader``: the validated token carries both
    assert _policies(congress, token)[0] == 200


def test_a_role_without_reader_may_not_read(congress: CongressNode, keystone: Keystone) -> None:
    token = keystone.token("observer")
    _forbidden(*_policies(congress, token))
    _forbidden(*_create(congress, token, _name("observer")))


def test_the_service_user_is_not_an_administrator(
    congress: CongressNode, keystone: Keystone
) -> None:
    # the token middleware's own user validates tokens; its ``service`` role grants nothing here
    token = keystone.token("congress")
    _forbidden(*_policies(congress, token))


def test_client_authenticates_with_a_password(
    openstack: Run, congress: CongressNode, keystone: Keystone
) -> None:
    name = _name("viaclient")
    rc, out, err = openstack("admin", "congress", "policy", "create", name, "-f", "json")
    assert rc == 0, f"{out}\n{err}"
    assert json.loads(out)["name"] == name
    rc, out, err = openstack("admin", "congress", "policy", "list", "-f", "json")
    assert rc == 0, f"{out}\n{err}"
    assert {"classification", name} <= {p["name"] for p in json.loads(out)}
    # the reader's roles reach the server through the client too
    rc, out, err = openstack("reader", "congress", "policy", "create", _name("nope"))
    assert rc == 1 and "Policy doesn't allow create_v1" in err and "403" in err, f"{rc}\n{err}"


def test_client_with_a_wrong_password_is_refused(openstack: Run, keystone: Keystone) -> None:
    keystone.users["wrong"] = User("admin", "wrong-password", "admin")
    try:
        rc, out, err = openstack("wrong", "congress", "policy", "list")
    finally:
        del keystone.users["wrong"]
    assert rc == 1 and "401" in err, f"{rc}\n{out}\n{err}"


def test_the_documented_options_are_the_tested_ones(congress: CongressNode) -> None:
    section = SECURITY_DOC.read_text().split("\n## Keystone\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```ini\n(.*?)```", section, re.S)
    assert len(blocks) == 1, blocks
    # no section inherits [DEFAULT]'s options here
    documented = configparser.ConfigParser(default_section="-")
    tested = configparser.ConfigParser(default_section="-")
    documented.read_string(blocks[0])
    tested.read_string(congress.conf_text)
    assert documented["DEFAULT"]["auth_strategy"] == tested["DEFAULT"]["auth_strategy"]
    # every option the docs give is one the tests run with, but the memcached servers
    assert set(documented["keystone_authtoken"]) - {"memcached_servers"} == set(
        tested["keystone_authtoken"]
    )
    for same in ("auth_type", "user_domain_name", "project_domain_name", "service_type"):
        assert documented["keystone_authtoken"][same] == tested["keystone_authtoken"][same]
