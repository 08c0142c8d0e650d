"""``congress-db-manage upgrade head`` converts a database of the original OpenStack Congress.

A fixture builds, on SQLite, PostgreSQL and MariaDB, a database in the original's schema at its
last revision ``c0125080d572`` (``original_schema``: the DDL follows the original's models and
migrations, reference section 6), fills it as a running deployment would have (live and deleted
policies and rules, a datasource whose password is Fernet-encrypted with ``aes_key``, persisted
push data, library policies), runs the command, and checks everything through our repository
functions and through a node built on the converted database.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from original_schema import (
    DOWN_RULE,
    DS_DOCTOR,
    DS_NOVA,
    OPS_RULE,
    P_OPS,
    P_RETIRED,
    PASSWORD,
    R_DOWN,
    R_FACT,
    R_OPS,
    R_OPS_GONE,
    R_RETIRED,
    at,
    fill_original,
    policy_row,
    rule_row,
)
from oslo_config import cfg

from congress.cmd import db_manage
from congress.cmd.server import build_node
from congress.common import config
from congress.db import api as db
from congress.db import migration, original
from congress.db.engine import make_engine, normalize_url
from congress.services.datasource_config import HIDDEN, SecretBox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
from api_client import Client


@pytest.fixture
def original_url(empty_database_url: str) -> str:
    return empty_database_url


@pytest.fixture
def conf_file(original_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "congress.conf"
    path.write_text(
        "[DEFAULT]\n"
        f"state_path = {tmp_path / 'state'}\n"
        f"encryption_key_path = {tmp_path / 'keys'}\n"
        f"policy_library_path = {tmp_path / 'no-library'}\n"
        "auth_strategy = noauth\n"
        "datasource_sync_period = 0\n"
        "[database]\n"
        f"connection = {original_url}\n"
    )
    return path


@pytest.fixture
def filled(original_url: str, backend: str, tmp_path: Path) -> sa.Engine:
    engine = make_engine(original_url)
    fill_original(engine, backend, tmp_path / "keys")
    return engine


def _upgrade(conf_file: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = db_manage.main(["--config-file", str(conf_file), "upgrade", "head"])
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_converts_every_item(
    filled: sa.Engine, conf_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _upgrade(conf_file, capsys)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == migration.head()
    engine = filled
    assert migration.current(engine) == migration.head()
    tables = set(sa.inspect(engine).get_table_names())
    assert {"policy_revision", "action_executions", "policy_settings"} <= tables

    policies = {p.name: p for p in db.list_policies(engine)}
    assert set(policies) == {"classification", "action", "ops"}
    assert policies["ops"].id == P_OPS
    assert policies["action"].kind == "action"
    assert policies["ops"].description == "the ops policy"
    assert policies["ops"].created_at.replace(tzinfo=None) == at(10)

    rules = {r.id: r for r in db.list_rules(engine)}
    assert set(rules) == {R_DOWN, R_FACT, R_OPS}
    assert rules[R_DOWN].rule == DOWN_RULE
    assert rules[R_DOWN].name == "host_down"
    assert rules[R_DOWN].comment == "comment of host_down"
    assert rules[R_FACT].name is None
    assert all(r.deleted_revision is None for r in rules.values())
    # revisions follow the original's timestamps: a rule never before its policy
    assert rules[R_OPS].revision >= policies["ops"].revision > rules[R_DOWN].revision
    assert db.current_revision(engine) >= max(r.revision for r in rules.values())

    # the fingerprint is the one the policy engine computes for the same rule
    from congress.datalog.parser import parse
    from congress.datalog.printer import to_text
    from congress.datalog.runtime import Runtime
    from congress.services.policy_engine import fingerprint

    fact = parse('p("a", 1)')[0]
    assert rules[R_FACT].fingerprint == hashlib.sha256(to_text(fact).encode()).hexdigest()
    assert all(r.fingerprint for r in rules.values())
    # with column references resolved by the doctor driver's schema, as the engine does
    runtime = Runtime()
    columns = ["time", "type", "hostname", "status", "monitor", "monitor_event_id"]
    runtime.create_policy("doctor", "datasource", schema={"events": columns})
    runtime.create_policy("classification")
    (checked,) = runtime.check("classification", DOWN_RULE)
    assert rules[R_DOWN].fingerprint == fingerprint(checked)
    assert rules[R_DOWN].fingerprint != fingerprint(parse(DOWN_RULE)[0])  # type: ignore[arg-type]

    with engine.connect() as c:
        deleted = c.execute(
            sa.text("SELECT id, name, deleted, deleted_revision FROM policiesdeleted")
        ).all()
        gone_rules = c.execute(
            sa.text(
                "SELECT id, deleted, deleted_revision, revision FROM policy_rules "
                "WHERE deleted <> ''"
            )
        ).all()
    assert [(d.id, d.name, d.deleted) for d in deleted] == [(P_RETIRED, "retired", P_RETIRED)]
    assert deleted[0].deleted_revision > 0
    assert {(r.id, r.deleted) for r in gone_rules} == {
        (R_OPS_GONE, R_OPS_GONE),
        (R_RETIRED, R_RETIRED),
    }
    assert all(r.deleted_revision >= r.revision for r in gone_rules)

    datasources = {d.name: d for d in db.list_datasources(engine)}
    assert set(datasources) == {"nova", "doctor"}
    nova = datasources["nova"]
    assert nova.id == DS_NOVA and nova.enabled and nova.description == "the compute service"
    assert nova.config["__encrypted_fields"] == ["password"]
    assert nova.config["password"] != PASSWORD
    assert SecretBox(tmp_path / "keys").decrypt_config(nova.config)["password"] == PASSWORD
    assert db.get_all_table_data(engine, DS_DOCTOR)["events"][0][2] == "compute-1"

    library = {p.name: p for p in db.list_library_policies(engine)}
    assert set(library) == {"BadFlavors", "NetworkGateway"}
    assert library["BadFlavors"].rules == [
        {
            "rule": "bad_flavor(x) :- nova:flavors(id=x, vcpus=v), v > 8",
            "comment": "too many cpus",
            "name": "big",
        }
    ]
    engine.dispose()


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_node_serves_the_converted_database(
    filled: sa.Engine,
    conf_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _upgrade(conf_file, capsys)[0] == 0
    filled.dispose()
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = cfg.ConfigOpts()
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    node = build_node(conf)
    try:
        api = Client(node.app)
        status, body = api.get("/v1/policies")
        assert status == 200
        assert {p["name"] for p in body["results"]} == {"classification", "action", "ops"}
        status, body = api.get("/v1/policies/ops/rules")
        assert status == 200
        assert [(r["id"], r["name"], r["comment"], r["rule"]) for r in body["results"]] == [
            (R_OPS, "vm_error", "comment of vm_error", OPS_RULE)
        ]
        # the rule evaluates over the push data the original persisted
        rows: list[Any] = []

        def errors_present() -> bool:
            rows[:] = api.get("/v1/policies/classification/tables/error/rows")[1]["results"]
            return bool(rows)

        assert _eventually(errors_present)
        assert rows == [{"data": ["compute-1"]}]
        # a duplicate of a converted rule is refused as it would have been
        status, _ = api.post("/v1/policies/classification/rules", {"rule": 'p("a", 1)'})
        assert status == 409
        # ... a rule with column references too: its fingerprint is of the checked rule
        status, _ = api.post("/v1/policies/classification/rules", {"rule": DOWN_RULE})
        assert status == 409
        status, _ = api.post("/v1/policies/ops/rules", {"rule": OPS_RULE})
        assert status == 409
        status, body = api.get("/v1/data-sources")
        assert status == 200
        nova = next(d for d in body["results"] if d["name"] == "nova")
        assert nova["config"]["password"] == HIDDEN
        assert nova["config"]["username"] == "admin"
        assert node.host is not None
        runner = node.host._runners[DS_NOVA]
        assert runner.driver.config["password"] == PASSWORD
        status, body = api.get("/v1/librarypolicies")
        assert status == 200
        assert {p["name"] for p in body["results"]} == {"BadFlavors", "NetworkGateway"}
    finally:
        node.stop()


def test_a_second_upgrade_changes_nothing(
    filled: sa.Engine, conf_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _upgrade(conf_file, capsys)[0] == 0
    before = (db.list_rules(filled), db.current_revision(filled), db.list_datasources(filled))
    code, out, _ = _upgrade(conf_file, capsys)
    assert code == 0 and out.strip().splitlines()[-1] == migration.head()
    assert (db.list_rules(filled), db.current_revision(filled), db.list_datasources(filled)) == (
        before
    )
    filled.dispose()


@pytest.mark.parametrize("revision", ["ffff00001111", "aabe895bbd4d"])
def test_a_foreign_revision_is_refused(
    original_url: str,
    backend: str,
    conf_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    revision: str,
) -> None:
    engine = make_engine(original_url)
    fill_original(engine, backend, tmp_path / "keys")
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    code, _, err = _upgrade(conf_file, capsys)
    assert code == 1
    assert f"revision {revision}" in err.replace("'", "")
    assert "Traceback" not in err
    # nothing changed
    assert migration.current(engine) == revision
    assert "policy_revision" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_downgrading_an_original_database_is_refused(
    filled: sa.Engine, conf_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = db_manage.main(["--config-file", str(conf_file), "downgrade", "base"])
    assert code == 1 and "not one of this Congress's" in capsys.readouterr().err
    assert migration.current(filled) == original.ORIGINAL_HEAD
    filled.dispose()


def test_the_server_does_not_convert_by_itself(filled: sa.Engine) -> None:
    with pytest.raises(migration.OriginalDatabase, match="congress-db-manage upgrade head"):
        migration.upgrade(filled)
    assert migration.current(filled) == original.ORIGINAL_HEAD
    filled.dispose()


def test_a_server_started_on_an_original_database_says_what_to_run(
    filled: sa.Engine,
    conf_file: Path,
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    filled.dispose()
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = cfg.ConfigOpts()
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    with pytest.raises(SystemExit) as refused:
        build_node(conf)
    assert str(refused.value).startswith("congress-server: ")
    assert "upgrade head" in str(refused.value)  # both messages name the command to run


def test_conversion_of_odd_rows() -> None:
    """Rows a long-running original may hold: a live rule of no policy, a repeated rule, a
    null config, an encrypted field without a value."""
    source: dict[str, list[dict[str, Any]]] = {
        "policies": [policy_row(P_OPS, "ops", "nonrecursive", 0)],
        "policiesdeleted": [],
        "policy_rules": [
            rule_row(R_OPS, "ops", "p(1)", 1),
            rule_row(R_OPS_GONE, "ops", "p(1)", 2),
            rule_row(R_RETIRED, "nosuch", "q(1)", 3),
        ],
        "datasources": [
            {"id": DS_NOVA, "name": "a", "driver": "nova", "config": "null", "enabled": None},
            {
                "id": DS_DOCTOR,
                "name": "b",
                "driver": "nova",
                "config": json.dumps({"password": None, "__encrypted_fields": ["password"]}),
                "enabled": False,
            },
        ],
        "dstabledata": [],
        "library_policies": [],
    }
    out = original.convert_rows(source, lambda catalog: {r.id: "same" for r in catalog.rules})
    rules = {r["id"]: r for r in out.rules}
    assert rules[R_OPS]["fingerprint"] == "same" and rules[R_OPS_GONE]["fingerprint"] is None
    assert rules[R_RETIRED]["deleted"] == R_RETIRED
    assert out.datasources[0]["config"] == "{}" and out.datasources[0]["enabled"] is True
    assert json.loads(out.datasources[1]["config"])["__encrypted_fields"] == []
    assert len(out.notes) == 3

    source["datasources"][0]["config"] = "[1]"
    with pytest.raises(original.ConversionError, match="not a JSON object"):
        original.convert_rows(source)


def test_the_originals_database_urls_work() -> None:
    assert str(normalize_url("postgresql+psycopg2://congress@db/congress")) == (
        "postgresql+psycopg://congress@db/congress"
    )
    url = normalize_url("mysql://root:secret@127.0.0.1/congress")
    assert url.drivername == "mysql+pymysql" and url.query["charset"] == "utf8mb4"


def test_revisions_follow_the_originals_history_when_a_name_is_reused() -> None:
    old, new = "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"
    source: dict[str, list[dict[str, Any]]] = {
        "policies": [policy_row(new, "ops", "nonrecursive", 20)],
        "policiesdeleted": [
            policy_row(old, "ops", "nonrecursive", 0, deleted=old, deleted_at=at(10))
        ],
        "policy_rules": [
            rule_row(R_OPS_GONE, "ops", "p(1)", 1, deleted=R_OPS_GONE, deleted_at=at(10)),
            rule_row(R_OPS, "ops", "p(1)", 21),
        ],
        "datasources": [],
        "dstabledata": [],
        "library_policies": [],
    }
    out = original.convert_rows(source)
    rules = {r["id"]: r for r in out.rules}
    (gone,) = out.deleted_policies
    (live,) = out.policies
    assert gone["revision"] <= rules[R_OPS_GONE]["revision"]
    assert rules[R_OPS_GONE]["deleted_revision"] <= gone["deleted_revision"] < live["revision"]
    assert live["revision"] <= rules[R_OPS]["revision"] == out.revision
    assert rules[R_OPS]["fingerprint"] is None  # no fingerprinter given
