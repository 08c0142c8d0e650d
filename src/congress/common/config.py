"""How a Congress process reads its options: registration, parsing, and derived settings.

Every option of Congress (defined in ``congress.common.opts``) is registered on
``oslo_config.cfg.CONF`` by ``register_opts``, which is idempotent; ``init`` parses the
command line and the config files (project ``congress``) and sets up logging. With no option
and no config file at all, every default holds and the server runs.

The helpers answer what takes more than one option, as ``spec/README.md`` settles it:
``database_url`` (the default is the SQLite file ``$state_path/congress.sqlite``, whose folder
it creates), ``library_path`` and ``key_path`` (the ``/etc/congress/...`` defaults when they
exist, else the library shipped in the package and ``$state_path/keys``), ``allowed_drivers``
(``drivers`` permits, empty meaning all; ``disabled_drivers`` removes; the original's
``congress.datasources.*_driver`` class paths, which the original itself ignored, are ignored),
and ``report_unsupported_options``: an original ``congress.conf`` is accepted as it is, and the
options in it that have no effect here (``verbose``, ``[json_ingester]``, ``WITHOUT_EFFECT``,
``REMOVED`` and the ``[agent]`` group) are named in one warning (docs/migration.md).

Imports: the standard library, oslo.config, ``congress.common.log`` (oslo.log),
``congress.common.opts`` and ``oslo_db.options`` (option definitions only: it imports neither
SQLAlchemy nor a database driver).
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
from collections.abc import Sequence
from typing import Final

from oslo_config import cfg
from oslo_db import options as db_options  # type: ignore[import-untyped]

from congress.common import log
from congress.common.opts import (
    API_GROUP,
    DATABASE_DEFAULTS,
    DSE_GROUP,
    ENFORCEMENT_GROUP,
    JSON_INGESTER_GROUP,
    LIMITS_GROUP,
    TENANCY_GROUP,
    UPGRADE_GROUP,
    WATCH_GROUP,
    api_opts,
    cli_opts,
    compat_cli_opts,
    core_opts,
    dse_opts,
    enforcement_opts,
    json_ingester_opts,
    limits_opts,
    tenancy_opts,
    upgrade_opts,
    watch_opts,
)

CONF: Final = cfg.CONF
LOG = logging.getLogger(__name__)

PROJECT: Final = "congress"
#: The policy library shipped in the package, used when ``policy_library_path`` is missing.
PACKAGE_LIBRARY: Final = pathlib.Path(__file__).resolve().parent.parent / "library"
_DEFAULT_LOCATIONS: Final = frozenset({cfg.Locations.opt_default, cfg.Locations.set_default})

#: Options of OpenStack Congress that are registered (old files parse) but change nothing here,
#: by (group, option), with the reason.
WITHOUT_EFFECT: Final[dict[tuple[str, str], str]] = {
    ("DEFAULT", "api_paste_config"): "the API pipeline is built in code, without a paste file",
    ("DEFAULT", "api_workers"): "one API server per process: run more congress-server "
    "processes behind HAProxy",
    ("DEFAULT", "tcp_keepalive"): "not applied by the API server",
    ("DEFAULT", "tcp_keepidle"): "not applied by the API server",
    ("DEFAULT", "tempdir"): "nothing writes temporary files",
    ("DEFAULT", "fatal_exception_format_errors"): "messages are not format strings",
    ("dse", "execute_action_retry"): "unanswered actions are always sent again, until "
    "execute_action_retry_timeout",
}
#: Options of OpenStack Congress that are not registered at all, found in the config files.
REMOVED: Final[dict[tuple[str, str], str]] = {
    ("DEFAULT", name): "removed from OpenStack Congress itself"
    for name in ("policy_path", "datasource_file", "root_path", "distributed_architecture")
}
#: Groups of OpenStack Congress that were not carried over, with the reason.
REMOVED_GROUPS: Final[dict[str, str]] = {
    "agent": "congress-agent and the config datasource driver were not carried over",
}
#: A driver class of OpenStack Congress (``congress.datasources.nova_driver.NovaDriver``): the
#: original ignored ``drivers`` (every in-tree driver loaded), so such entries are ignored.
ORIGINAL_DRIVER_CLASS: Final = re.compile(r"congress\.datasources\.\w+_driver[.:]\w+")


def register_opts(conf: cfg.ConfigOpts = CONF) -> None:
    """Register every option of Congress (and oslo.log's) on ``conf``; again does nothing.

    The first call must come before ``conf`` parses its arguments (command-line options
    cannot be added later).
    """
    if "node_id" in conf:
        return
    log.register_opts(conf)
    conf.register_cli_opts([*cli_opts, *compat_cli_opts])
    conf.register_opts(core_opts)
    conf.register_opts(dse_opts, group=DSE_GROUP)
    conf.register_opts(upgrade_opts, group=UPGRADE_GROUP)
    conf.register_opts(api_opts, group=API_GROUP)
    conf.register_opts(limits_opts, group=LIMITS_GROUP)
    conf.register_opts(watch_opts, group=WATCH_GROUP)
    conf.register_opts(enforcement_opts, group=ENFORCEMENT_GROUP)
    conf.register_opts(tenancy_opts, group=TENANCY_GROUP)
    conf.register_opts(json_ingester_opts, group=JSON_INGESTER_GROUP)
    db_options.set_defaults(conf, **DATABASE_DEFAULTS)


def init(
    argv: Sequence[str],
    *,
    conf: cfg.ConfigOpts = CONF,
    default_config_files: list[str] | None = None,
) -> None:
    """Parse ``argv`` (without the program name) and the config files; set up logging.

    Without ``default_config_files`` oslo.config looks for ``congress.conf`` and
    ``congress.conf.d`` where it usually does (``~/.congress``, ``~``, ``/etc/congress``,
    ``/etc``); finding none is fine. With them, only those files (and any ``--config-file``
    or ``--config-dir`` in ``argv``) are read.
    """
    register_opts(conf)
    conf(
        args=list(argv),
        project=PROJECT,
        version=log.version(),
        default_config_files=default_config_files,
        default_config_dirs=None if default_config_files is None else [],
    )
    log.setup(conf)
    report_unsupported_options(conf)


def configured_transport_url(conf: cfg.ConfigOpts = CONF) -> str | None:
    """``[DEFAULT] transport_url`` as the configuration files (and the environment) give it,
    or None when they do not: read without registering oslo.messaging's options, so that a
    lone process never loads the messaging library (whose own default is ``rabbit://``)."""
    probe = cfg.ConfigOpts()
    probe.register_opt(cfg.StrOpt("transport_url", secret=True))
    args: list[str] = []
    for path in conf.config_file or []:
        args += ["--config-file", path]
    for path in conf.config_dir or []:
        args += ["--config-dir", path]
    probe(args=args, project=PROJECT, default_config_files=[], default_config_dirs=[])
    value = probe.transport_url
    return str(value) if value else None


def is_set(conf: cfg.ConfigOpts, name: str, group: str | None = None) -> bool:
    """Whether option ``name`` comes from the command line, a file or an override."""
    where = conf.get_location(name, group)
    return where is not None and where.location not in _DEFAULT_LOCATIONS


def report_unsupported_options(conf: cfg.ConfigOpts = CONF) -> list[str]:
    """Log one warning naming every option given that is accepted but has no effect (none
    when there is none); return it (an empty list or one message)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for group, name, why in unused_options(conf):
        grouped.setdefault((group, why), []).append(name)
    if not grouped:
        return []
    warning = "Options that have no effect in this Congress are ignored (docs/migration.md): " + (
        "; ".join(
            f"[{group}] {', '.join(names)} ({why})" for (group, why), names in grouped.items()
        )
    )
    LOG.warning("%s", warning)
    return [warning]


_JSON_INGESTER = 'not supported: the JSON ingester was not carried over; use the "json" driver'


def unused_options(conf: cfg.ConfigOpts = CONF) -> list[tuple[str, str, str]]:
    """``(group, option, reason)`` for each option given (command line or config files) that
    has no effect here: ``verbose``, ``[json_ingester]``, ``WITHOUT_EFFECT``, ``REMOVED``, the
    ``REMOVED_GROUPS``, and ``drivers`` listing the original's driver classes."""
    found: list[tuple[str, str, str]] = []
    if is_set(conf, "verbose"):
        found.append(
            (
                "DEFAULT",
                "verbose",
                'deprecated: INFO is the default log level; set "debug" for more',
            )
        )
    for (group, name), why in WITHOUT_EFFECT.items():
        if _registered(conf, name, group) and is_set(conf, name, _group(group)):
            found.append((group, name, why))
    ignored = original_driver_classes(conf)
    if ignored:
        why = (
            f"{len(ignored)} driver classes of OpenStack Congress, which ignored this option "
            "too: every installed driver is permitted unless other entries name some"
        )
        found.append(("DEFAULT", "drivers", why))
    for opt in json_ingester_opts:
        if is_set(conf, opt.dest, JSON_INGESTER_GROUP.name):
            found.append((JSON_INGESTER_GROUP.name, opt.dest, _JSON_INGESTER))
    in_files = options_in_files(conf)
    for (group, name), why in REMOVED.items():
        if (group, name) in in_files and not _registered(conf, name, group):
            found.append((group, name, why))
    for group, name in sorted(in_files):
        if group in REMOVED_GROUPS and not _registered(conf, name, group):
            found.append((group, name, REMOVED_GROUPS[group]))
    return found


def _group(group: str) -> str | None:
    return None if group == "DEFAULT" else group


def _registered(conf: cfg.ConfigOpts, name: str, group: str) -> bool:
    try:
        return name in (conf if group == "DEFAULT" else conf[group])
    except cfg.NoSuchOptError:
        return False


def options_in_files(conf: cfg.ConfigOpts = CONF) -> set[tuple[str, str]]:
    """``(group, option)`` of every option written in the config files ``conf`` read (files
    and directories), registered or not."""
    paths = [pathlib.Path(p) for p in conf.config_file or []]
    for folder in conf.config_dir or []:
        paths += sorted(pathlib.Path(folder).glob("*.conf"))
    found: set[tuple[str, str]] = set()
    for path in paths:
        sections: dict[str, dict[str, list[str]]] = {}
        try:
            cfg.ConfigParser(str(path), sections).parse()
        except (OSError, cfg.ParseError):
            continue
        for group, options in sections.items():
            found.update((group, name) for name in options)
    return found


def original_driver_classes(conf: cfg.ConfigOpts = CONF) -> list[str]:
    """The entries of ``drivers`` that are driver classes of OpenStack Congress."""
    register_opts(conf)
    return [name for name in conf.drivers if ORIGINAL_DRIVER_CLASS.fullmatch(name.strip())]


def database_url(conf: cfg.ConfigOpts = CONF) -> str:
    """The ``[database] connection`` in effect; for a SQLite file, its folder is created."""
    register_opts(conf)
    url: str = conf.database.connection
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return url


def _sqlite_file(url: str) -> pathlib.Path | None:
    """The file of a SQLite URL (``sqlite:///relative`` or ``sqlite:////absolute``), if any."""
    scheme, sep, rest = url.partition(":///")
    path = rest.partition("?")[0]
    if not sep or scheme.partition("+")[0] != "sqlite" or path in ("", ":memory:"):
        return None
    return pathlib.Path(path)


def library_path(conf: cfg.ConfigOpts = CONF) -> pathlib.Path:
    """Folder of the policy library: ``policy_library_path`` if it exists or was set."""
    register_opts(conf)
    return _configured_or(conf, "policy_library_path", PACKAGE_LIBRARY)


def key_path(conf: cfg.ConfigOpts = CONF) -> pathlib.Path:
    """Folder of the encryption key: ``encryption_key_path`` if it exists or was set."""
    register_opts(conf)
    return _configured_or(conf, "encryption_key_path", pathlib.Path(conf.state_path) / "keys")


def _configured_or(conf: cfg.ConfigOpts, name: str, fallback: pathlib.Path) -> pathlib.Path:
    """The path option ``name``, or ``fallback`` when it is the default and does not exist.

    A path that someone set is kept even when missing: the caller then reports (or creates)
    it rather than silently reading something else.
    """
    configured = pathlib.Path(os.path.expanduser(getattr(conf, name)))
    if configured.exists() or is_set(conf, name):
        return configured
    return fallback


def allowed_drivers(conf: cfg.ConfigOpts = CONF) -> tuple[set[str] | None, set[str]]:
    """``(permitted, disabled)`` driver names; ``permitted`` is None for every installed one.

    A driver may be used when it is permitted and not disabled.
    """
    register_opts(conf)
    original = set(original_driver_classes(conf))
    permitted = {name for name in conf.drivers if name and name not in original} or None
    return permitted, {name for name in conf.disabled_drivers if name}
