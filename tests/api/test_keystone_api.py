"""With ``auth_strategy = keystone``: open routes stay open, others need a token, and roles
decide what a caller may do (identity headers as keystonemiddleware sets them)."""

from __future__ import annotations

from pathlib import Path

from api_client import Client
from oslo_config import cfg

from congress.api import pipeline
from congress.api.app import CongressApp
from congress.api.services import Services
from congress.common import config
from congress.services.policy_engine import PolicyEngineService


def keystone_conf(tmp_path: Path) -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    f = tmp_path / "k.conf"
    f.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = keystone\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n"
    )
    config.init(["--config-file", str(f)], conf=c, default_config_files=[])
    return c


def test_without_a_token(tmp_path: Path, engine_service: PolicyEngineService) -> None:
    api = Client(pipeline.build(Services(engine_service), keystone_conf(tmp_path)))
    assert api.get("/")[0] == 200
    assert api.get("/v1")[0] == 200
    assert api.get("/healthcheck")[0] == 200
    assert api.raw("GET", "/dashboard/").status_int == 200  # its files need no token
    status, _ = api.get("/v1/policies")
    assert status == 401


def test_roles_decide(tmp_path: Path, engine_service: PolicyEngineService) -> None:
    api = Client(CongressApp(Services(engine_service), keystone_conf(tmp_path)))
    reader = {"X-User-Id": "u", "X-Project-Id": "p", "X-Roles": "reader"}
    admin = {"X-User-Id": "a", "X-Project-Id": "p", "X-Roles": "admin,member"}
    assert api.get("/v1/policies", headers=reader)[0] == 200
    status, body = api.post("/v1/policies", {"name": "x"}, headers=reader)
    assert status == 403 and body["error"]["error_data"]["code"] == "forbidden"
    assert api.post("/v1/policies", {"name": "x"}, headers=admin)[0] == 201
    assert api.get("/v1/policies/x", headers=reader)[0] == 404  # the operator's, not p's
    member = {"X-User-Id": "m", "X-Project-Id": "p", "X-Roles": "member,reader"}
    assert api.post("/v1/policies", {"name": "mine"}, headers=member)[0] == 201
    assert api.get("/v1/policies/mine", headers=reader)[0] == 200  # elements are authorised too
    assert api.delete("/v1/policies/mine", headers=reader)[0] == 403
    assert api.post("/v1/policies/mine/rules", {"rule": "p(1)"}, headers=member)[0] == 201
    sim = {"query": "p(x)", "sequence": "p+(2)", "action_policy": "action"}
    assert api.post("/v1/policies/mine?action=simulate", sim, headers=reader)[0] == 200
    assert api.get("/v1/policies", headers={"X-Roles": "admin"})[0] == 401  # no user


def test_keystone_not_configured_is_a_503_not_a_500(
    tmp_path: Path, engine_service: PolicyEngineService
) -> None:
    c = cfg.ConfigOpts()
    f = tmp_path / "bare.conf"
    f.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")  # auth_strategy defaults to keystone
    config.init(["--config-file", str(f)], conf=c, default_config_files=[])
    api = Client(pipeline.build(Services(engine_service), c))
    assert api.get("/")[0] == 200
    status, body = api.get("/v1/policies")
    assert status == 503
    assert "Keystone is not configured" in body["error"]["message"]
