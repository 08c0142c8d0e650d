"""``congress-status upgrade check``: what would block or change an upgrade (oslo.upgradecheck).

    congress-status [--config-file F ...] upgrade check [--json]

Run it with the configuration of the Congress to be started (an original OpenStack Congress's
``congress.conf`` too) before ``congress-db-manage upgrade head``. Each check answers Success,
Warning or Failure, and the exit code is the worst of them: 0 success, 1 warning, 2 failure (255
when a check itself crashed), as every OpenStack ``*-status`` command.

- Database revision: at our head, success; one of ours behind head, warning (upgrade first);
  OpenStack Congress's last revision ``c0125080d572``, warning: it will be migrated (its rows
  are read and converted without writing, so a row that cannot be converted is a failure); an
  older OpenStack Congress revision, an unknown one or no database, failure; empty, warning.
- Configuration options: the options in the config files that have no effect here, and a
  MySQL/MariaDB ``[database] connection`` asking for ``charset=utf8`` (3 bytes), warning.
- Policy kinds: policies of a kind we do not have (the original's experimental ``z3``),
  failure: the policy engine could not load them.
- Datasource drivers: datasources whose driver is not installed or not permitted, or whose
  options the driver refuses (so that it would not run), failure.
- Encrypted secrets: datasources with encrypted options while the key file ``aes_key`` under
  ``encryption_key_path`` is missing or does not decrypt them, failure.
- Policy file: a JSON policy file (deprecated by oslo.policy) or a ``default`` rule that is not
  the original's (it no longer decides the API's access: get_v1, create_v1, update_v1 and
  delete_v1 have their own defaults), warning.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

import yaml
from cryptography.fernet import Fernet, InvalidToken
from oslo_config import cfg
from oslo_upgradecheck import upgradecheck
from sqlalchemy.exc import SQLAlchemyError

from congress.api.auth import ACCESS_RULES
from congress.common import config
from congress.datalog.runtime import KINDS
from congress.datasources.errors import DriverLoadError, DriverNotFound, InvalidConfig
from congress.datasources.loader import DriverLoader
from congress.db import migration, original
from congress.db.engine import make_engine, normalize_url
from congress.services.datasource_config import ENCRYPTED_FIELDS, KEY_FILE

Code = upgradecheck.Code
Result = upgradecheck.Result
ORIGINAL_DEFAULT_RULE = "rule:admin_only"


class Checks(upgradecheck.UpgradeCommands):
    """The upgrade checks of Congress, on the options of ``conf`` (parsed by ``main``)."""

    display_title = "Congress upgrade check results"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def _datasources(self) -> list[original.DatasourceInfo]:
        engine = make_engine(config.database_url(self.conf))
        try:
            with engine.connect() as connection:
                return original.read_datasources(connection)
        finally:
            engine.dispose()

    def check_database(self) -> Result:
        url = config.database_url(self.conf)
        try:
            engine = make_engine(url)
            try:
                with engine.connect() as connection:
                    found = migration.current(engine)
                    state = migration.state(found)
                    conversion = original.read_original(connection) if state == "original" else None
            finally:
                engine.dispose()
        except original.ConversionError as exc:
            return Result(
                Code.FAILURE,
                f"The OpenStack Congress database cannot be converted: {exc}",
            )
        except SQLAlchemyError as exc:
            return Result(Code.FAILURE, f"The database cannot be read: {exc}")
        head = migration.head()
        if state == "head":
            return Result(Code.SUCCESS, f"The database is at revision {head} (the latest).")
        if state == "behind":
            return Result(
                Code.WARNING,
                f"The database is at revision {found}, behind {head}: run "
                "'congress-db-manage upgrade head' before starting the servers.",
            )
        if state == "empty":
            return Result(
                Code.WARNING,
                "The database is empty: 'congress-db-manage upgrade head' will create the "
                "schema. If you are migrating from OpenStack Congress, [database] connection "
                "does not name its database.",
            )
        if conversion is not None:
            return Result(
                Code.WARNING,
                f"The database is OpenStack Congress's (revision {found}): it will be "
                f"migrated by 'congress-db-manage upgrade head' ({conversion.summary()}). "
                "Back it up first (docs/migration.md).",
            )
        return Result(Code.FAILURE, f"Cannot upgrade: {original.refusal(str(found))}.")

    def check_options(self) -> Result:
        notes = []
        unused = config.unused_options(self.conf)
        if unused:
            names = ", ".join(f"[{group}] {name}" for group, name, _ in unused)
            notes.append(
                f"These options have no effect in this Congress and are ignored: {names} "
                "(docs/migration.md says why)."
            )
        url = normalize_url(config.database_url(self.conf))
        charset = url.query.get("charset")
        if url.get_backend_name() in ("mysql", "mariadb") and charset in ("utf8", "utf8mb3"):
            notes.append(
                f"[database] connection asks for charset={charset} (3-byte UTF-8): use "
                "charset=utf8mb4, the character set of this Congress's tables, or drop it."
            )
        if notes:
            return Result(Code.WARNING, " ".join(notes))
        return Result(Code.SUCCESS)

    def check_drivers(self) -> Result:
        try:
            datasources = self._datasources()
        except SQLAlchemyError as exc:
            return Result(Code.FAILURE, f"The datasources cannot be read: {exc}")
        allowed, disabled = config.allowed_drivers(self.conf)
        loader = DriverLoader(allowed, disabled, self.conf.custom_driver_endpoints)
        missing, refused = [], []
        for ds in datasources:
            try:
                driver = loader.load(ds.driver)
            except (DriverNotFound, DriverLoadError):
                missing.append(f"{ds.name} (driver {ds.driver})")
                continue
            options = {k: v for k, v in ds.config.items() if k != ENCRYPTED_FIELDS}
            try:
                driver.validate_config(options, datasource=ds.name)
            except InvalidConfig as exc:
                refused.append(f"{ds.name} ({exc})")
        problems = []
        if missing:
            problems.append(
                "These datasources use a driver that is not installed or not permitted: "
                f"{', '.join(missing)}. Delete them (in OpenStack Congress, or after the "
                "upgrade with congress-server --delete-missing-driver-datasources) or install "
                "a driver of that name (custom_driver_endpoints)."
            )
        if refused:
            problems.append(
                f"The driver refuses the options of these datasources: {', '.join(refused)}. "
                "They will not run until they are recreated with options the driver takes "
                "(docs/drivers.md)."
            )
        if problems:
            return Result(Code.FAILURE, " ".join(problems))
        return Result(Code.SUCCESS, f"{len(datasources)} datasources, every driver installed.")

    def check_policy_kinds(self) -> Result:
        engine = make_engine(config.database_url(self.conf))
        try:
            with engine.connect() as connection:
                policies = original.read_policy_kinds(connection)
        except SQLAlchemyError as exc:
            return Result(Code.FAILURE, f"The policies cannot be read: {exc}")
        finally:
            engine.dispose()
        odd = [f"{p.name} (kind {p.kind})" for p in policies if p.kind not in KINDS]
        if odd:
            return Result(
                Code.FAILURE,
                f"These policies are of a kind this Congress does not have: {', '.join(odd)}. "
                f"Delete them before the upgrade (kinds: {', '.join(KINDS)}).",
            )
        return Result(Code.SUCCESS, f"{len(policies)} policies.")

    def check_secrets(self) -> Result:
        try:
            datasources = self._datasources()
        except SQLAlchemyError as exc:
            return Result(Code.FAILURE, f"The datasources cannot be read: {exc}")
        encrypted = [ds for ds in datasources if ds.config.get(ENCRYPTED_FIELDS)]
        if not encrypted:
            return Result(Code.SUCCESS)
        key_file = config.key_path(self.conf) / KEY_FILE
        names = ", ".join(ds.name for ds in encrypted)
        if not key_file.is_file():
            return Result(
                Code.FAILURE,
                f"Datasources {names} have encrypted options but the key file {key_file} is "
                "missing: copy aes_key from OpenStack Congress's encryption_key_path.",
            )
        try:
            fernet = Fernet(key_file.read_bytes().strip())
        except (OSError, ValueError) as exc:
            return Result(Code.FAILURE, f"The key file {key_file} cannot be used: {exc}")
        wrong = []
        for ds in encrypted:
            for name in ds.config.get(ENCRYPTED_FIELDS) or ():
                value = ds.config.get(name)
                try:
                    if isinstance(value, str):
                        fernet.decrypt(value.encode())
                except InvalidToken:
                    wrong.append(f"{ds.name}.{name}")
        if wrong:
            return Result(
                Code.FAILURE,
                f"The key file {key_file} does not decrypt {', '.join(wrong)}: it is not the "
                "key that encrypted them.",
            )
        return Result(Code.SUCCESS, f"The key file {key_file} decrypts every secret.")

    def check_policy_file(self) -> Result:
        path = _policy_file(self.conf)
        if path is None:
            return Result(Code.SUCCESS)
        text = path.read_text()
        try:
            rules: Any = yaml.safe_load(text) or {}  # JSON is YAML
        except yaml.YAMLError as exc:
            return Result(Code.FAILURE, f"The policy file {path} cannot be read: {exc}")
        if not isinstance(rules, dict):
            return Result(Code.FAILURE, f"The policy file {path} is not a mapping of rules.")
        notes = []
        if _is_json(text):
            notes.append(
                f"The policy file {path} is JSON, which oslo.policy deprecated: convert it with "
                "oslopolicy-convert-json-to-yaml."
            )
        default = rules.get("default")
        if default is not None and default != ORIGINAL_DEFAULT_RULE:
            unset = [r for r in ACCESS_RULES if r not in rules]
            if unset:
                notes.append(
                    f'Its "default" rule ({default!r}) no longer decides the API\'s access: '
                    f"set {', '.join(unset)} (their defaults: oslopolicy-sample-generator "
                    "--namespace congress)."
                )
        if notes:
            return Result(Code.WARNING, " ".join(notes))
        return Result(Code.SUCCESS)

    _upgrade_checks = (
        ("Database revision", check_database),
        ("Configuration options", check_options),
        ("Policy kinds", check_policy_kinds),
        ("Datasource drivers", check_drivers),
        ("Encrypted secrets", check_secrets),
        ("Policy file", check_policy_file),
    )


def _policy_file(conf: cfg.ConfigOpts) -> pathlib.Path | None:
    """The ``[oslo_policy] policy_file`` in use, if there is one."""
    from oslo_policy import opts as policy_opts

    for group, opts in policy_opts.list_opts():
        conf.register_opts(opts, group=group)
    found = conf.find_file(conf.oslo_policy.policy_file)
    return None if found is None else pathlib.Path(found)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    args = list(sys.argv[1:] if argv is None else argv)
    return upgradecheck.main(conf, config.PROJECT, Checks(conf), args)


if __name__ == "__main__":
    sys.exit(main())
