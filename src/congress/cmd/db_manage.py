"""``congress-db-manage``: create and upgrade the database schema.

    congress-db-manage [--config-file F ...] upgrade [REVISION]     (default: head)
    congress-db-manage [--config-file F ...] downgrade REVISION
    congress-db-manage [--config-file F ...] current

The database is ``[database] connection`` (by default the SQLite file in ``state_path``).
``upgrade`` also converts a database of OpenStack Congress at its last revision
(``c0125080d572``) first (``congress.db.original``, docs/migration.md); the rules' fingerprints
are computed here, as the policy engine computes them for a new rule (``original_fingerprints``).
A database at a revision that is neither ours nor the original's last is refused: exit code 1.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from alembic.util import CommandError
from oslo_config import cfg

from congress.common import config
from congress.datalog.parser import parse
from congress.datalog.runtime import Runtime
from congress.datasources.loader import DriverLoader
from congress.db import errors, migration
from congress.db.original import Catalog
from congress.services.policy_engine import fingerprint

LOG = logging.getLogger(__name__)


def _add_commands(subparsers: Any) -> None:
    up = subparsers.add_parser("upgrade", help="upgrade the schema (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    down = subparsers.add_parser("downgrade", help="downgrade the schema to a revision")
    down.add_argument("revision")
    subparsers.add_parser("current", help="print the schema's current revision")


COMMAND = cfg.SubCommandOpt("command", title="commands", handler=_add_commands)


def original_fingerprints(catalog: Catalog) -> Mapping[str, str | None]:
    """Each rule's fingerprint as the policy engine computes it for a new rule: the digest of
    the rule checked against its policy (column references resolved with the datasources'
    schemas); a rule that does not check gets the digest of its parsed form, and one that does
    not parse none."""
    runtime = Runtime()
    loader = DriverLoader()
    for ds in catalog.datasources:
        try:
            runtime.create_policy(ds.name, "datasource", schema=_schema(loader, ds.driver, ds))
        except Exception:  # a name the engine refuses: its rules fall back below
            LOG.debug("no schema for datasource %s", ds.name, exc_info=True)
    for policy in catalog.policies:
        try:
            runtime.create_policy(policy.name, policy.kind)
        except Exception:
            LOG.debug("policy %s not checked", policy.name, exc_info=True)
    found: dict[str, str | None] = {}
    for rule in catalog.rules:
        try:
            statements = parse(rule.rule)
        except Exception:
            found[rule.id] = None
            continue
        if len(statements) != 1:
            found[rule.id] = None
            continue
        try:
            (checked,) = runtime.check(rule.policy_name, statements)
        except Exception:
            checked = statements[0]  # type: ignore[assignment]
        try:
            found[rule.id] = fingerprint(checked)
        except Exception:
            found[rule.id] = None
    return found


def _schema(loader: DriverLoader, driver: str, ds: Any) -> dict[str, list[str]] | None:
    try:
        cls = loader.load(driver)
    except Exception:
        return None
    try:
        tables = cls(ds.name, dict(ds.config)).datasource_schema()
    except Exception:
        tables = cls.schema()
    return {table: [column.name for column in columns] for table, columns in tables.items()}


def main(argv: Sequence[str] | None = None) -> int:
    conf = cfg.ConfigOpts()
    conf.register_cli_opt(COMMAND)
    config.init(list(sys.argv[1:] if argv is None else argv), conf=conf)
    url = config.database_url(conf)
    name = conf.command.name
    try:
        if name == "upgrade":
            migration.upgrade(
                url,
                conf.command.revision,
                from_original=True,
                fingerprinter=original_fingerprints,
            )
        elif name == "downgrade":
            _refuse_foreign(url)
            migration.downgrade(url, conf.command.revision)
        print(migration.current(url) or "(empty)")
    except errors.DBError as e:
        print(f"congress-db-manage: {e}", file=sys.stderr)
        return 1
    except CommandError as e:
        print(f"congress-db-manage: {e}", file=sys.stderr)
        return 1
    return 0


def _refuse_foreign(url: str) -> None:
    found = migration.current(url)
    if migration.state(found) in ("original", "original_old", "unknown"):
        raise errors.UnsupportedSchema(
            f"the database is at revision {found}, not one of this Congress's: nothing to downgrade"
        )


if __name__ == "__main__":
    sys.exit(main())
