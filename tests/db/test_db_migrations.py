"""Migrations: from empty to head, down to nothing and up again, on every backend; the migrated
schema is exactly the models'."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from congress.db import api, migration
from congress.db.models import Base

TABLES = {
    "policies",
    "policiesdeleted",
    "policy_rules",
    "policy_revision",
    "datasources",
    "dstabledata",
    "library_policies",
    "action_executions",
    "project_quotas",
    "table_history",
    "notification_sinks",
    "notification_cursors",
    "notification_dead_letters",
    "notification_leases",
    "policy_settings",
    "policy_versions",
}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_head_is_the_tenancy_revision() -> None:
    assert migration.head() == "0006"


def test_down_to_nothing_and_up_again(engine: Engine) -> None:
    api.create_policy(engine, "p")
    migration.downgrade(engine, "base")
    assert migration.current(engine) is None
    assert _tables(engine) == set()

    url = engine.url.render_as_string(hide_password=False)
    migration.upgrade(url)
    assert migration.current(url) == migration.head()
    assert _tables(engine) == TABLES
    assert api.list_policies(engine) == []
    assert api.current_revision(engine) == 0
    assert api.create_policy(engine, "p").revision == 1


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_by_url_creates_the_sqlite_file_and_its_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state/congress.db"
    assert migration.current(url) is None
    migration.upgrade(url)
    assert (tmp_path / "state" / "congress.db").exists()
    assert migration.current(url) == migration.head()
    migration.downgrade(url, "base")
    assert migration.current(url) is None
