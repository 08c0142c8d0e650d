"""The original OpenStack Congress's schema at its last revision ``c0125080d572``, and the rows
of a running deployment, for the tests of the migration from it (reference section 6; the DDL
follows the original's models and migrations).

Its own module (not conftest) so that the tests import it by a name no other test folder uses.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet

from congress.db import original

T0 = datetime(2019, 3, 1, 12, 0, 0)

# The original's ids are uuids made by oslo.utils.
P_CLASSIFICATION = "2a5f8b14-0c41-4f6e-9d1e-0b0d4c7f6e01"
P_ACTION = "2a5f8b14-0c41-4f6e-9d1e-0b0d4c7f6e02"
P_OPS = "2a5f8b14-0c41-4f6e-9d1e-0b0d4c7f6e03"
P_RETIRED = "2a5f8b14-0c41-4f6e-9d1e-0b0d4c7f6e04"
R_DOWN = "9e0c0f86-6d7a-4c10-b1a3-3d3f2a4b5c01"
R_FACT = "9e0c0f86-6d7a-4c10-b1a3-3d3f2a4b5c02"
R_OPS = "9e0c0f86-6d7a-4c10-b1a3-3d3f2a4b5c03"
R_OPS_GONE = "9e0c0f86-6d7a-4c10-b1a3-3d3f2a4b5c04"
R_RETIRED = "9e0c0f86-6d7a-4c10-b1a3-3d3f2a4b5c05"
DS_NOVA = "5d7c6b5a-1111-4222-8333-944455556601"
DS_DOCTOR = "5d7c6b5a-1111-4222-8333-944455556602"
DS_GONE = "5d7c6b5a-1111-4222-8333-944455556603"
LIB_1 = "7f0e1d2c-aaaa-4bbb-8ccc-0ddd0eee0f01"
LIB_2 = "7f0e1d2c-aaaa-4bbb-8ccc-0ddd0eee0f02"

DOWN_RULE = 'error(host) :- doctor:events(hostname=host, status="down")'
OPS_RULE = 'warning(vm) :- nova:servers(id=vm, status="ERROR")'
PASSWORD = "s3cr3t-pa55"


def original_metadata(backend: str) -> sa.MetaData:
    """The original's tables at ``c0125080d572`` (congress/db/*.py models and migrations)."""
    meta = sa.MetaData()
    mysql = {"mysql_engine": "InnoDB", "mysql_charset": "utf8"} if backend == "mariadb" else {}

    def audit() -> list[sa.Column[Any]]:
        return [
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime()),
            sa.Column("deleted_at", sa.DateTime()),
            sa.Column("deleted", sa.String(36), server_default="", nullable=True),
        ]

    def policy_columns() -> list[sa.Column[Any]]:
        return [
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("abbreviation", sa.String(5), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("owner", sa.Text(), nullable=False),
            sa.Column("kind", sa.Text(), nullable=False),
            *audit(),
        ]

    sa.Table(
        "policy_rules",
        meta,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("policy_name", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        *audit(),
        **mysql,
    )
    sa.Table("policies", meta, *policy_columns(), sa.UniqueConstraint("name"), **mysql)
    sa.Table("policiesdeleted", meta, *policy_columns(), **mysql)
    sa.Table(
        "datasources",
        meta,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), unique=True),
        sa.Column("driver", sa.String(255)),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("enabled", sa.Boolean(), default=True),
        **mysql,
    )
    sa.Table(
        "dstabledata",
        meta,
        sa.Column("ds_id", sa.String(36), primary_key=True),
        sa.Column("tablename", sa.String(255), primary_key=True),
        sa.Column("tabledata", sa.Text(), nullable=False),
        **mysql,
    )
    sa.Table(
        "library_policies",
        meta,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("abbreviation", sa.String(5), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        **mysql,
    )
    sa.Table(
        "alembic_version",
        meta,
        sa.Column("version_num", sa.String(32), primary_key=True),
        **mysql,
    )
    return meta


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def policy_row(pid: str, name: str, kind: str, minutes: int, **extra: Any) -> dict[str, Any]:
    row = {
        "id": pid,
        "name": name,
        "abbreviation": name[:5],
        "description": f"the {name} policy",
        "owner": "user",
        "kind": kind,
        "created_at": at(minutes),
        "updated_at": None,
        "deleted_at": None,
        "deleted": "",
    }
    row.update(extra)
    return row


def rule_row(
    rid: str, policy: str, text: str, minutes: int, *, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    row = {
        "id": rid,
        "rule": text,
        "policy_name": policy,
        "comment": f"comment of {name or rid}",
        "name": name,
        "created_at": at(minutes),
        "updated_at": None,
        "deleted_at": None,
        "deleted": "",
    }
    row.update(extra)
    return row


def fill_original(engine: sa.Engine, backend: str, key_path: Path) -> None:
    """Create the original's schema at c0125080d572 and the rows of a running deployment."""
    meta = original_metadata(backend)
    meta.create_all(engine)
    key_path.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    (key_path / "aes_key").write_text(key.decode())  # the original wrote the key as text
    secret = Fernet(key).encrypt(PASSWORD.encode()).decode()
    t = meta.tables
    with engine.begin() as c:
        c.execute(
            t["policies"].insert(),
            [
                policy_row(P_CLASSIFICATION, "classification", "nonrecursive", 0),
                policy_row(P_ACTION, "action", "action", 0),
                policy_row(P_OPS, "ops", "nonrecursive", 10),
            ],
        )
        c.execute(
            t["policiesdeleted"].insert(),
            [
                policy_row(
                    P_RETIRED,
                    "retired",
                    "nonrecursive",
                    5,
                    deleted=P_RETIRED,
                    deleted_at=at(30),
                )
            ],
        )
        c.execute(
            t["policy_rules"].insert(),
            [
                rule_row(R_DOWN, "classification", DOWN_RULE, 1, name="host_down"),
                rule_row(R_FACT, "classification", 'p("a", 1)', 2),
                rule_row(R_OPS, "ops", OPS_RULE, 11, name="vm_error"),
                rule_row(
                    R_OPS_GONE,
                    "ops",
                    "q(x) :- p(x)",
                    12,
                    name="old",
                    deleted=R_OPS_GONE,
                    deleted_at=at(20),
                ),
                rule_row(
                    R_RETIRED,
                    "retired",
                    "r(x) :- classification:p(x, y)",
                    6,
                    name="retired_rule",
                    deleted=R_RETIRED,
                    deleted_at=at(30),
                ),
            ],
        )
        nova_config = {
            "auth_url": "http://127.0.0.1:9/identity/v3",
            "username": "admin",
            "password": secret,
            "tenant_name": "admin",
            "poll_time": "3600",
            "__encrypted_fields": ["password"],
        }
        c.execute(
            t["datasources"].insert(),
            [
                {
                    "id": DS_NOVA,
                    "name": "nova",
                    "driver": "nova",
                    "config": json.dumps(nova_config),
                    "description": "the compute service",
                    "enabled": True,
                },
                {
                    "id": DS_DOCTOR,
                    "name": "doctor",
                    "driver": "doctor",
                    "config": json.dumps({"persist_data": "True", "__encrypted_fields": []}),
                    "description": None,
                    "enabled": True,
                },
            ],
        )
        events = [
            ["2016-02-22T11:48:55Z", "compute.host.down", "compute-1", "down", "zabbix1", "111"],
            ["2016-02-22T11:49:55Z", "compute.host.down", "compute-2", "up", "zabbix1", "112"],
        ]
        c.execute(
            t["dstabledata"].insert(),
            [
                {"ds_id": DS_DOCTOR, "tablename": "events", "tabledata": json.dumps(events)},
                {"ds_id": DS_GONE, "tablename": "alarms", "tabledata": "[]"},
            ],
        )
        c.execute(
            t["library_policies"].insert(),
            [
                {
                    "id": LIB_1,
                    "name": "BadFlavors",
                    "abbreviation": "badfl",
                    "description": "Flavors that are not allowed",
                    "kind": "nonrecursive",
                    "rules": json.dumps(
                        [
                            {
                                "rule": "bad_flavor(x) :- nova:flavors(id=x, vcpus=v), v > 8",
                                "comment": "too many cpus",
                                "name": "big",
                            }
                        ]
                    ),
                },
                {
                    "id": LIB_2,
                    "name": "NetworkGateway",
                    "abbreviation": "netgw",
                    "description": "Gateways",
                    "kind": "nonrecursive",
                    "rules": json.dumps([{"rule": "gw(x) :- p(x)", "comment": "", "name": None}]),
                },
            ],
        )
        c.execute(t["alembic_version"].insert(), [{"version_num": original.ORIGINAL_HEAD}])
