"""``congress-db-manage``: create and upgrade the database schema.

    congress-db-manage [--config-file F ...] upgrade [REVISION]     (default: head)
    congress-db-manage [--config-file F ...] downgrade REVISION
    congress-db-manage [--config-file F ...] current

The database is ``[database] connection`` (by default the SQLite file in ``state_path``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from congress.common import config
from congress.db import errors, migration


def _add_commands(subparsers: Any) -> None:
    up = subparsers.add_parser("upgrade", help="upgrade the schema (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    down = subparsers.add_parser("downgrade", help="downgrade the schema to a revision")
    down.add_argument("revision")
    subparsers.add_parser("current", help="print the schema's current revision")


COMMAND = cfg.SubCommandOpt("command", title="commands", handler=_add_commands)


def main(argv: Sequence[str] | None = None) -> int:
    conf = cfg.ConfigOpts()
    conf.register_cli_opt(COMMAND)
    config.init(list(sys.argv[1:] if argv is None else argv), conf=conf)
    url = config.database_url(conf)
    name = conf.command.name
    try:
        if name == "upgrade":
            migration.upgrade(url, conf.command.revision)
        elif name == "downgrade":
            migration.downgrade(url, conf.command.revision)
        print(migration.current(url) or "(empty)")
    except errors.DBError as e:
        print(f"congress-db-manage: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
