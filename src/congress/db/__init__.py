"""Persistence: SQLAlchemy tables, Alembic migrations and small typed repository functions.

Imports: the standard library, SQLAlchemy and Alembic (never a layer above; not yet
congress.common). Modules:

- ``engine``: ``make_engine(url)``, ``session_factory``, ``run_in_transaction`` (retries on
  deadlocks and serialization failures).
- ``migration``: ``upgrade``, ``downgrade``, ``current`` (Alembic scripts in ``alembic/``).
- ``api``: every repository function (policies, rules, revisions, datasources, table data,
  library policies, the execution log), re-exported from ``policies``, ``changes``,
  ``revisions``, ``datasources``, ``library`` and ``executions``.
- ``records``: the plain dataclasses they return; ``errors``: the errors they raise.
- ``models``: the ORM tables, private to this package.

The database is the source of truth for policy: every policy or rule change is one transaction
that bumps the policy revision, with no table locks (see ``revisions``).
"""
