"""The generic ``push`` driver: tables declared in its config, rows pushed with PUT rows.

Imports: standard library and congress.datasources.

The option ``tables`` is a JSON object (or its text) ``{"table": ["col1", "col2", ...], ...}``
naming each table and its columns in order. ``PUT /v1/data-sources/<id>/tables/<t>/rows``
replaces table ``t`` with a JSON list of rows, each an array of the table's width or an object
keyed by column name (a missing key or a null gives ``"None"``); an unknown key, a wrong width
or anything else is ``InvalidRows``. The original's ``push`` driver had one hard-coded table
``data``; declaring the tables is ours, and its ``description`` option (required there, as a
work-around for the client) is accepted and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from congress.datasources import options as opts
from congress.datasources import translators as tr
from congress.datasources.driver import PushDriver as PushDriverBase
from congress.datasources.driver import Schema
from congress.datasources.errors import InvalidConfig
from congress.datasources.options import Option

NAME = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")


def parse_tables(value: Any) -> dict[str, list[str]]:
    """The ``tables`` option: ``{table: [column, ...]}`` with valid, distinct names."""
    declared = opts.json_object(value, "tables")
    tables: dict[str, list[str]] = {}
    for table, columns in declared.items():
        if not NAME.fullmatch(table):
            raise InvalidConfig(f"Invalid value for option tables: bad table name {table!r}")
        if not isinstance(columns, list) or not columns:
            raise InvalidConfig(
                f"Invalid value for option tables: table {table} needs a non-empty list of columns"
            )
        for column in columns:
            if not isinstance(column, str) or not NAME.fullmatch(column):
                raise InvalidConfig(
                    f"Invalid value for option tables: table {table} has a bad column name "
                    f"{column!r}"
                )
        if len(set(columns)) != len(columns):
            raise InvalidConfig(
                f"Invalid value for option tables: table {table} names a column twice"
            )
        tables[table] = list(columns)
    return tables


class PushDriver(PushDriverBase):
    """Datasource driver that allows external systems to push data."""

    DRIVER_NAME: ClassVar[str] = "push"
    DESCRIPTION: ClassVar[str] = "Datasource driver that allows external systems to push data."
    CONFIG: ClassVar[Mapping[str, Option]] = {
        "tables": Option(
            True, description='JSON object {"table": ["column", ...]} declaring the tables'
        ),
        "persist_data": opts.PERSIST_DATA,
        "description": Option(description="ignored (the original required it)"),
    }

    def configure(self) -> None:
        super().configure()
        self._tables = parse_tables(self.config["tables"])

    @classmethod
    def check_options(cls, config: Mapping[str, Any], datasource: str) -> None:
        super().check_options(config, datasource)
        parse_tables(config["tables"])

    def datasource_schema(self) -> Schema:
        return {t: [tr.Column(c) for c in cols] for t, cols in self._tables.items()}
