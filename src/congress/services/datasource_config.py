"""Datasource configuration for the host: names, secrets at rest, masked answers, driver info.

Imports: the standard library, cryptography (Fernet), congress.datasources, congress.db.records
and congress.services.errors.

- ``check_name``: a datasource name is a policy name (``[a-zA-Z_.][a-zA-Z0-9_.]*``, not
  ``builtin``) that does not start with ``_`` (reference 1.1).
- ``SecretBox``: Fernet encryption of secret options with the key file ``aes_key`` under the
  key folder, created on first use (folder 0700, file 0600) as the original did. A stored config
  holds each secret value encrypted and lists their names under ``__encrypted_fields``.
- ``masked``: a config as every answer shows it: secrets (the driver's secret options and every
  encrypted field) as ``<hidden>``, never decrypted.
- ``datasource_view``: a datasource as the API shows it (config masked).
- ``driver_info``: the body of ``GET /v1/system/drivers/<id>``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from congress.datalog import names
from congress.datasources.driver import Driver, schema_tables
from congress.db.records import Datasource
from congress.services import errors

LOG = logging.getLogger(__name__)

ENCRYPTED_FIELDS = "__encrypted_fields"
HIDDEN = "<hidden>"
KEY_FILE = "aes_key"
_NAME = re.compile(r"[a-zA-Z_.][a-zA-Z0-9_.]*")


def check_name(name: Any) -> str:
    """``name`` if it can name a datasource; ``InvalidDatasourceName`` otherwise."""
    if not isinstance(name, str) or not name:
        raise errors.InvalidDatasourceName("Datasource name must be a non-empty string")
    base, project = names.split(name)  # a project's datasource: name@project (docs/tenancy.md)
    if project is not None and not names.valid_project(project):
        base = name
    if base.startswith("_") or base == "builtin" or not _NAME.fullmatch(base):
        raise errors.InvalidDatasourceName(
            f"Invalid datasource name {name!r}: a name is an identifier "
            "([a-zA-Z_.][a-zA-Z0-9_.]*) that does not start with '_' and is not 'builtin'"
        )
    return name


def secret_options(driver: type[Driver] | None) -> set[str]:
    return set() if driver is None else {k for k, o in driver.CONFIG.items() if o.secret}


class SecretBox:
    """Encrypts and decrypts secret config values with the key in ``<key_path>/aes_key``."""

    def __init__(self, key_path: str | os.PathLike[str]) -> None:
        self.key_path = Path(key_path)
        self._fernet: Fernet | None = None
        self._lock = threading.Lock()

    def fernet(self) -> Fernet:
        with self._lock:
            if self._fernet is None:
                self._fernet = Fernet(self._read_or_create_key())
            return self._fernet

    def _read_or_create_key(self) -> bytes:
        key_file = self.key_path / KEY_FILE
        if not self.key_path.exists():
            self.key_path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.key_path, 0o700)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return key_file.read_bytes().strip()
        key = Fernet.generate_key()
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        LOG.info("created the datasource encryption key %s", key_file)
        return key

    def encrypt_config(self, config: Mapping[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
        """The config to store: each present, non-null secret encrypted and listed under
        ``__encrypted_fields``."""
        stored = dict(config)
        encrypted = []
        for name in sorted(set(secrets)):
            value = stored.get(name)
            if value is None:
                continue
            text = value if isinstance(value, str) else str(value)
            stored[name] = self.fernet().encrypt(text.encode()).decode()
            encrypted.append(name)
        stored[ENCRYPTED_FIELDS] = encrypted
        return stored

    def decrypt_config(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The config a driver gets: encrypted fields decrypted, the bookkeeping key gone.
        ``InvalidToken`` (from cryptography) when the key is not the one that encrypted it."""
        config = {k: v for k, v in stored.items() if k != ENCRYPTED_FIELDS}
        for name in stored.get(ENCRYPTED_FIELDS) or ():
            value = config.get(name)
            if isinstance(value, str):
                config[name] = self.fernet().decrypt(value.encode()).decode()
        return config


def masked(stored: Mapping[str, Any], driver: type[Driver] | None) -> dict[str, Any]:
    """A stored config as answers show it: secrets ``<hidden>``, bookkeeping left out."""
    hidden = secret_options(driver) | set(stored.get(ENCRYPTED_FIELDS) or ())
    return {
        k: (HIDDEN if k in hidden and v is not None else v)
        for k, v in stored.items()
        if k != ENCRYPTED_FIELDS
    }


def datasource_view(record: Datasource, driver: type[Driver] | None) -> dict[str, Any]:
    """``{id, name, driver, description, config (masked), enabled, type: None, owner_id}``."""
    return {
        "id": record.id,
        "name": record.name,
        "driver": record.driver,
        "description": record.description,
        "config": masked(record.config, driver),
        "enabled": record.enabled,
        "type": None,
        "owner_id": record.owner,
    }


def driver_info(name: str, driver: type[Driver]) -> dict[str, Any]:
    """``{id, description, config: {option: "required" | "(optional)"}, secret, module,
    tables: [{table_id, columns: [{name, description}]}]}``."""
    info = driver.info(name)
    info["module"] = f"{driver.__module__}.{driver.__qualname__}"
    info["tables"] = schema_tables(driver.schema())
    return info


__all__ = [
    "ENCRYPTED_FIELDS",
    "HIDDEN",
    "KEY_FILE",
    "InvalidToken",
    "SecretBox",
    "check_name",
    "datasource_view",
    "driver_info",
    "masked",
    "secret_options",
]
