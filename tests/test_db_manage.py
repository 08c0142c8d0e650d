"""congress-db-manage creates, reports and removes the schema of the configured database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy

from congress.cmd import db_manage


def _last_line(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed last (oslo.log writes its INFO lines to stdout before it)."""
    return capsys.readouterr().out.strip().splitlines()[-1]


def _conf(tmp_path: Path) -> str:
    conf = tmp_path / "congress.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    return str(conf)


def test_upgrade_current_downgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = _conf(tmp_path)
    assert db_manage.main(["--config-file", conf, "upgrade", "head"]) == 0
    assert _last_line(capsys) == "0006"
    db = tmp_path / "state" / "congress.sqlite"
    tables = set(sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{db}")).get_table_names())
    assert {"policies", "policy_rules", "datasources", "dstabledata", "library_policies"} <= tables
    assert db_manage.main(["--config-file", conf, "current"]) == 0
    assert _last_line(capsys) == "0006"
    assert db_manage.main(["--config-file", conf, "downgrade", "base"]) == 0
    assert _last_line(capsys) == "(empty)"


def test_upgrade_defaults_to_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert db_manage.main(["--config-file", _conf(tmp_path), "upgrade"]) == 0
    assert _last_line(capsys) == "0006"
