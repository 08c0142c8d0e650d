"""Driver config options: their declaration, the common sets, and parsing of their values.

Imports: standard library and congress.datasources.errors.

A driver declares ``CONFIG = {name: Option(required, secret, description)}``. Datasource config
arrives as a plain dict from the API or the database (values are usually strings); these parsers
turn one value into what the driver uses, or raise ``InvalidConfig`` naming the option.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from congress.datasources.errors import InvalidConfig

REQUIRED = "required"
OPTIONAL = "(optional)"

# oslo.utils strutils.bool_from_string(strict=True), which the original used for persist_data.
TRUE_STRINGS = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE_STRINGS = frozenset({"0", "f", "false", "off", "n", "no"})


class Option(NamedTuple):
    """One config option of a driver."""

    required: bool = False
    secret: bool = False
    description: str = ""


POLL_TIME = Option(description="seconds between polls (default 10; 0 polls only on refresh)")
LAZY_TABLES = Option(description="root tables not polled until someone subscribes to them")
PERSIST_DATA = Option(description="store pushed data and restore it on restart (default false)")

# What every OpenStack polling driver of the original returned from get_datasource_info().
OPENSTACK_OPTIONS: Mapping[str, Option] = {
    "auth_url": Option(True, description="Keystone URL"),
    "username": Option(True, description="user name"),
    "password": Option(True, True, "password"),
    "project_name": Option(True, description="project name (tenant_name is accepted instead)"),
    "endpoint": Option(description="service endpoint, instead of the catalogue's"),
    "region": Option(description="region name"),
    "user_domain_name": Option(description="the user's domain (default Default)"),
    "project_domain_name": Option(description="the project's domain (default Default)"),
    "tenant_name": Option(description="deprecated name of project_name"),
    "poll_time": POLL_TIME,
}


def strict_bool(value: Any, option: str) -> bool:
    """A boolean option: a bool, or one of the strings oslo.utils accepts (case-insensitive)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    accepted = ", ".join(repr(s) for s in sorted(TRUE_STRINGS | FALSE_STRINGS))
    raise InvalidConfig(
        f"Invalid value for option {option}: {value!r}; acceptable values are: {accepted}"
    )


def integer(value: Any, option: str, minimum: int = 0) -> int:
    """An integer option at least ``minimum``: an int or its decimal text."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidConfig(
            f"Invalid value for option {option}: {value!r} is not an integer"
        ) from None
    if number < minimum:
        raise InvalidConfig(f"Invalid value for option {option}: {number} is less than {minimum}")
    return number


def number(value: Any, option: str, minimum: float = 0.0) -> float:
    """A non-negative number option (int, float or their text)."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        result = float(value)
    except (TypeError, ValueError):
        raise InvalidConfig(
            f"Invalid value for option {option}: {value!r} is not a number"
        ) from None
    if not result >= minimum:  # also rejects NaN
        raise InvalidConfig(f"Invalid value for option {option}: {value!r} is less than {minimum}")
    return result


def name_list(value: Any, option: str) -> list[str]:
    """A list of names: a JSON-like list, a JSON list text, or comma-separated text."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidConfig(
                    f"Invalid value for option {option}: {text!r} is not JSON"
                ) from None
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidConfig(f"Invalid value for option {option}: expected a list of names")
    return [str(v) for v in value]


def json_object(value: Any, option: str) -> dict[str, Any]:
    """A JSON object option: a dict, or its JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidConfig(f"Invalid value for option {option}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidConfig(f"Invalid value for option {option}: expected a JSON object")
    return value


def openstack_credentials(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keystone password-plugin arguments from the common OpenStack options, as the original:
    domains default to ``Default`` and ``tenant_name`` stands in for a missing ``project_name``."""
    return {
        "auth_url": config.get("auth_url"),
        "username": config.get("username"),
        "password": config.get("password"),
        "project_name": config.get("project_name") or config.get("tenant_name"),
        "user_domain_name": config.get("user_domain_name") or "Default",
        "project_domain_name": config.get("project_domain_name") or "Default",
    }
