"""How a Congress process reads its options: registration, parsing, and derived settings.

Every option of Congress (defined in ``congress.common.opts``) is registered on
``oslo_config.cfg.CONF`` by ``register_opts``, which is idempotent; ``init`` parses the
command line and the config files (project ``congress``) and sets up logging. With no option
and no config file at all, every default holds and the server runs.

The helpers answer what takes more than one option, as ``spec/README.md`` settles it:
``database_url`` (the default is the SQLite file ``$state_path/congress.sqlite``, whose folder
it creates), ``library_path`` and ``key_path`` (the ``/etc/congress/...`` defaults when they
exist, else the library shipped in the package and ``$state_path/keys``), ``allowed_drivers``
(``drivers`` permits, empty meaning all; ``disabled_drivers`` removes), and
``report_unsupported_options`` (``verbose`` and ``[json_ingester]`` are accepted, change
nothing, and are warned about).

Imports: the standard library, oslo.config, ``congress.common.log`` (oslo.log),
``congress.common.opts`` and ``oslo_db.options`` (option definitions only: it imports neither
SQLAlchemy nor a database driver).
"""

from __future__ import annotations

import logging
import os
import pathlib
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
    WATCH_GROUP,
    api_opts,
    cli_opts,
    compat_cli_opts,
    core_opts,
    dse_opts,
    enforcement_opts,
    json_ingester_opts,
    limits_opts,
    watch_opts,
)

CONF: Final = cfg.CONF
LOG = logging.getLogger(__name__)

PROJECT: Final = "congress"
#: The policy library shipped in the package, used when ``policy_library_path`` is missing.
PACKAGE_LIBRARY: Final = pathlib.Path(__file__).resolve().parent.parent / "library"
_DEFAULT_LOCATIONS: Final = frozenset({cfg.Locations.opt_default, cfg.Locations.set_default})


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
    conf.register_opts(api_opts, group=API_GROUP)
    conf.register_opts(limits_opts, group=LIMITS_GROUP)
    conf.register_opts(watch_opts, group=WATCH_GROUP)
    conf.register_opts(enforcement_opts, group=ENFORCEMENT_GROUP)
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
    """Log a warning for each option given that is accepted but has no effect; return them."""
    warnings = []
    if is_set(conf, "verbose"):
        warnings.append(
            'Option "verbose" is deprecated and has no effect: INFO is the default log '
            'level; set "debug" for more.'
        )
    for opt in json_ingester_opts:
        if is_set(conf, opt.dest, JSON_INGESTER_GROUP.name):
            warnings.append(
                f'Option "{opt.dest}" of [json_ingester] is not supported and is ignored: '
                'the JSON ingester was not carried over; use the "json" datasource driver.'
            )
    for warning in warnings:
        LOG.warning("%s", warning)
    return warnings


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
    permitted = {name for name in conf.drivers if name} or None
    return permitted, {name for name in conf.disabled_drivers if name}
