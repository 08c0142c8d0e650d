"""``congress-status upgrade check`` reports what would block or change an upgrade.

Every check on a SQLite database in the original's schema (``original_schema``) or in ours;
the exit code is oslo.upgradecheck's: 0 success, 1 warning, 2 failure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from original_schema import fill_original

from congress.cmd import status
from congress.db import migration, original
from congress.db.engine import make_engine

ORIGINAL_CONF = (
    Path(__file__).resolve().parent.parent / "common" / "data" / "original-congress.conf"
)


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.url = f"sqlite:///{tmp_path}/congress.sqlite"
        self.keys = tmp_path / "keys"
        self.extra = ""

    def conf(self) -> Path:
        path = self.tmp / "congress.conf"
        path.write_text(
            "[DEFAULT]\n"
            f"state_path = {self.tmp / 'state'}\n"
            f"encryption_key_path = {self.keys}\n"
            f"{self.extra}"
            "[database]\n"
            f"connection = {self.url}\n"
            "[oslo_policy]\n"
            f"policy_file = {self.tmp / 'policy.yaml'}\n"
        )
        return path

    def check(
        self, capsys: pytest.CaptureFixture[str], *files: Path
    ) -> tuple[int, dict[str, tuple[str, str | None]]]:
        args = [a for f in (self.conf(), *files) for a in ("--config-file", str(f))]
        code = status.main([*args, "upgrade", "check", "--json"])
        out = capsys.readouterr().out
        body = json.loads(out.strip().splitlines()[-1])
        names = {0: "success", 1: "warning", 2: "failure"}
        return code, {c["check"]: (names[c["result"]], c["details"]) for c in body["checks"]}

    def execute(self, sql: str, **params: Any) -> None:
        engine = make_engine(self.url)
        with engine.begin() as c:
            c.execute(sa.text(sql), params)
        engine.dispose()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.fixture
def original_env(env: Env) -> Env:
    engine = make_engine(env.url)
    fill_original(engine, "sqlite", env.keys)
    engine.dispose()
    return env


def test_an_original_database_will_be_migrated(
    original_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = original_env.check(capsys)
    assert code == 1
    result, details = checks["Database revision"]
    assert result == "warning"
    assert details is not None and "will be migrated" in details
    assert "3 policies (1 deleted), 3 rules (2 deleted)" in details
    assert checks["Datasource drivers"][0] == "success"
    assert checks["Encrypted secrets"][0] == "success"
    assert checks["Configuration options"] == ("success", None)
    assert checks["Policy file"] == ("success", None)


def test_a_database_at_head_succeeds(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    migration.upgrade(env.url)
    code, checks = env.check(capsys)
    assert code == 0
    assert checks["Database revision"][0] == "success"
    assert {result for result, _ in checks.values()} == {"success"}


def test_a_database_behind_head_warns(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    migration.upgrade(env.url, "0002")
    code, checks = env.check(capsys)
    assert code == 1
    result, details = checks["Database revision"]
    assert result == "warning" and details is not None and "0002" in details


def test_an_empty_database_warns(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = env.check(capsys)
    assert code == 1 and checks["Database revision"][0] == "warning"


@pytest.mark.parametrize("revision", ["0123456789ab", "01e78af70b91"])
def test_an_unknown_or_old_revision_fails(
    original_env: Env, capsys: pytest.CaptureFixture[str], revision: str
) -> None:
    original_env.execute("UPDATE alembic_version SET version_num = :v", v=revision)
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Database revision"]
    assert result == "failure" and details is not None and revision in details


def test_a_row_that_cannot_be_converted_fails(
    original_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    original_env.execute("UPDATE datasources SET config = '[1]' WHERE name = 'nova'")
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Database revision"]
    assert result == "failure" and details is not None and "not a JSON object" in details


def test_unused_options_are_named(original_env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    original_env.extra = "api_workers = 4\n[agent]\nhost = h1\n"
    code, checks = original_env.check(capsys)
    assert code == 1
    result, details = checks["Configuration options"]
    assert result == "warning" and details is not None
    assert "[DEFAULT] api_workers" in details and "[agent] host" in details


def test_the_original_conf_as_a_whole(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    migration.upgrade(env.url)
    # the original's file after ours: its [database] connection is in memory, so ours is
    # given again last
    last = env.tmp / "last.conf"
    last.write_text(f"[database]\nconnection = {env.url}\n")
    code, checks = env.check(capsys, ORIGINAL_CONF, last)
    assert code == 1
    result, details = checks["Configuration options"]
    assert result == "warning" and details is not None
    for named in ("[DEFAULT] drivers", "[json_ingester] enable", "[agent] version"):
        assert named in details


def test_datasources_of_missing_drivers_fail(
    original_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    original_env.execute(
        "INSERT INTO datasources (id, name, driver, config, enabled) "
        "VALUES ('m1', 'monitoring', 'monasca', '{}', 1), ('m2', 'apps', 'murano', '{}', 1)"
    )
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Datasource drivers"]
    assert result == "failure" and details is not None
    assert "monitoring (driver monasca)" in details and "apps (driver murano)" in details
    assert "nova" not in details


def test_a_missing_key_file_fails(original_env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    (original_env.keys / "aes_key").unlink()
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Encrypted secrets"]
    assert result == "failure" and details is not None
    assert "nova" in details and "aes_key" in details and "missing" in details


def test_a_wrong_key_file_fails(original_env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    (original_env.keys / "aes_key").write_text(Fernet.generate_key().decode())
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Encrypted secrets"]
    assert result == "failure" and details is not None and "nova.password" in details


def test_the_originals_policy_file(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    migration.upgrade(env.url)
    policy = {"context_is_admin": "role:admin", "default": "rule:admin_only"}
    (env.tmp / "policy.yaml").write_text(json.dumps(policy))
    code, checks = env.check(capsys)
    result, details = checks["Policy file"]
    assert result == "warning" and details is not None and "JSON" in details
    assert '"default"' not in details
    (env.tmp / "policy.yaml").write_text('"default": ""\n')
    code, checks = env.check(capsys)
    assert code == 1
    result, details = checks["Policy file"]
    assert result == "warning" and details is not None
    assert '"default" rule' in details and "get_v1" in details
    (env.tmp / "policy.yaml").write_text('"default": ""\n"get_v1": ""\n"create_v1": ""\n')
    assert "get_v1," not in (env.check(capsys)[1]["Policy file"][1] or "")


def test_the_check_reads_an_original_database_without_changing_it(
    original_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    original_env.check(capsys)
    assert migration.current(original_env.url) == original.ORIGINAL_HEAD


def test_options_a_driver_refuses_fail(
    original_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    original_env.execute(
        "INSERT INTO datasources (id, name, driver, config, enabled) "
        "VALUES ('n2', 'nova2', 'nova', '{\"auth_url\": \"http://k/v3\", \"nosuch\": 1}', 1)"
    )
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Datasource drivers"]
    assert result == "failure" and details is not None
    assert "nova2 (Invalid driver options: nosuch)" in details


def test_policies_of_a_kind_we_do_not_have_fail(
    original_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    assert original_env.check(capsys)[1]["Policy kinds"] == ("success", "3 policies.")
    original_env.execute("UPDATE policies SET kind = 'z3' WHERE name = 'ops'")
    code, checks = original_env.check(capsys)
    assert code == 2
    result, details = checks["Policy kinds"]
    assert result == "failure" and details is not None and "ops (kind z3)" in details


def test_congress_status_is_a_console_script() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="congress-status")
    assert script.value == "congress.cmd.status:main"


def test_a_3_byte_mysql_charset_warns(env: Env) -> None:
    from oslo_config import cfg

    from congress.common import config

    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    path = env.tmp / "mysql.conf"
    path.write_text("[database]\nconnection = mysql+pymysql://u:p@db/congress?charset=utf8\n")
    conf(["--config-file", str(path)], project="congress", default_config_files=[])
    result = status.Checks(conf).check_options()
    assert result.code == status.Code.WARNING
    assert result.details is not None and "charset=utf8mb4" in result.details
