"""Logging for every Congress process, through oslo.log.

``register_opts`` adds oslo.log's options (``--debug``, ``--log-file``, ``log_config_append``
and the rest) to a ``ConfigOpts`` before it parses anything; ``setup`` then installs the
handlers those options ask for. Without options a process logs to standard output at INFO,
and at DEBUG with ``debug = True``; libraries keep oslo.log's quieter levels
(``default_log_levels``).

Modules log through the standard library (``logging.getLogger(__name__)``): oslo.log
configures the root logger, so nothing else needs to know about it.

Imports: the standard library, oslo.config, oslo.log.
"""

from __future__ import annotations

from importlib import metadata

from oslo_config import cfg
from oslo_log import log as oslo_log

PRODUCT = "congress"


def version() -> str:
    """The installed version of Congress, or ``"unknown"`` when it is not installed."""
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "unknown"


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register oslo.log's options on ``conf``, once; call it before ``conf`` is parsed."""
    if "debug" not in conf:
        oslo_log.register_options(conf)


def setup(conf: cfg.ConfigOpts) -> None:
    """Install the log handlers and levels that the parsed ``conf`` asks for."""
    oslo_log.setup(conf, PRODUCT, version(), fix_eventlet=False)
