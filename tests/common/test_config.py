"""Options keep the original's names, groups and defaults; the helpers answer what they say."""

from __future__ import annotations

import logging
import pathlib
import socket
from typing import Any

import pytest
from oslo_config import cfg

from congress.common import config, opts

# (group, option, the original's default) for every option we register; see the spec's
# "Configuration" and README "Defaults" for the few that differ (state_path, connection).
DEFAULTS: list[tuple[str | None, str, Any]] = [
    (None, "bind_host", "0.0.0.0"),
    (None, "bind_port", 1789),
    (None, "max_simultaneous_requests", 1024),
    (None, "tcp_keepalive", False),
    (None, "tcp_keepidle", 600),
    (None, "api_workers", 1),
    (None, "api_paste_config", "api-paste.ini"),
    (None, "auth_strategy", "keystone"),
    (None, "drivers", []),
    (None, "disabled_drivers", []),
    (None, "custom_driver_endpoints", []),
    (None, "datasource_sync_period", 60),
    (None, "datasource_request_timeout", 30.0),
    (None, "enable_execute_action", True),
    (None, "replicated_policy_engine", False),
    (None, "policy_library_path", "/etc/congress/library"),
    (None, "encryption_key_path", "/etc/congress/keys"),
    (None, "tempdir", None),
    (None, "fatal_exception_format_errors", False),
    (None, "graceful_shutdown_timeout", 60),
    (None, "api_role", False),
    ("api", "min_revision_wait", 5.0),
    ("api", "healthcheck_revision_grace", 30.0),
    ("limits", "max_request_body_size", 32 * 1024 * 1024),
    ("limits", "max_rule_length", 65536),
    ("limits", "max_name_length", 255),
    ("limits", "max_derived_rows", 10_000_000),
    ("limits", "max_evaluation_seconds", 60.0),
    ("limits", "max_memory_mb", 4096),
    ("watch", "tables", ["*:error", "*:warning"]),
    ("watch", "history_retention_days", 30),
    ("watch", "feed_buffer_events", 10000),
    ("watch", "feed_resume_seconds", 300.0),
    ("watch", "feed_keepalive_seconds", 15.0),
    ("watch", "max_watchers", 1000),
    ("enforcement", "stale_guard", True),
    ("enforcement", "max_hold_seconds", 3600.0),
    ("enforcement", "action_grace_seconds", 0.0),
    ("enforcement", "breaker_max_actions", 100),
    ("enforcement", "breaker_interval", 60.0),
    ("enforcement", "breaker_max_fraction", 0.5),
    ("enforcement", "breaker_min_rows", 10),
    ("enforcement", "check_interval", 1.0),
    ("tenancy", "project_actions", []),
    ("tenancy", "project_drivers", ["push"]),
    ("tenancy", "project_metrics", False),
    ("tenancy", "quota_policies", 20),
    ("tenancy", "quota_rules", 1000),
    ("tenancy", "quota_rows_per_table", 100_000),
    ("tenancy", "quota_evaluation_seconds", 10.0),
    ("tenancy", "quota_actions_per_hour", 100),
    (None, "policy_engine", False),
    (None, "datasources", False),
    (None, "node_id", socket.gethostname()),
    (None, "delete_missing_driver_datasources", False),
    (None, "verbose", False),
    (None, "debug", False),
    ("dse", "bus_id", "bus"),
    ("dse", "ping_timeout", 5),
    ("dse", "long_timeout", 120),
    ("dse", "time_to_resub", 10),
    ("dse", "execute_action_retry", False),
    ("dse", "execute_action_retry_timeout", 600),
    ("upgrade_levels", "bus", "auto"),
    ("database", "max_pool_size", 10),
    ("database", "max_overflow", 20),
    ("database", "pool_timeout", 10),
    ("json_ingester", "enable", False),
    ("json_ingester", "config_path", "/etc/congress/json_ingesters"),
    ("json_ingester", "config_reusables_path", "/etc/congress/config_reusables.yaml"),
    ("json_ingester", "db_connection", None),
]


def parse(conf: cfg.ConfigOpts, *argv: str, files: tuple[pathlib.Path, ...] = ()) -> None:
    """Parse ``argv`` and ``files`` only, without setting up logging."""
    conf(
        args=list(argv),
        project="congress",
        default_config_files=[str(f) for f in files],
        default_config_dirs=[],
    )


def write_conf(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "congress.conf"
    path.write_text(text)
    return path


def value(conf: cfg.ConfigOpts, group: str | None, name: str) -> Any:
    return getattr(conf[group], name) if group else conf[name]


@pytest.mark.parametrize(("group", "name", "default"), DEFAULTS)
def test_defaults_are_the_originals(
    conf: cfg.ConfigOpts, group: str | None, name: str, default: Any
) -> None:
    parse(conf)
    assert value(conf, group, name) == default


def test_the_table_covers_every_option_of_ours() -> None:
    ours = {(None, o.dest) for o in [*opts.core_opts, *opts.cli_opts, *opts.compat_cli_opts]}
    ours |= {("dse", o.dest) for o in opts.dse_opts}
    ours |= {("json_ingester", o.dest) for o in opts.json_ingester_opts}
    ours.discard((None, "state_path"))  # depends on the home directory: tested below
    assert ours <= {(group, name) for group, name, _ in DEFAULTS}


def test_state_path_and_database_default_to_the_home_directory(
    conf: cfg.ConfigOpts, home: pathlib.Path
) -> None:
    parse(conf)
    state = home / ".local" / "state" / "congress"
    assert conf.state_path == str(state)
    assert conf.database.connection == f"sqlite:///{state}/congress.sqlite"


def test_the_server_starts_without_any_option(conf: cfg.ConfigOpts, restore_logging: None) -> None:
    config.init([], conf=conf, default_config_files=[])
    assert conf.bind_port == 1789
    assert conf.config_file == []
    assert logging.getLogger().getEffectiveLevel() == logging.INFO
    assert logging.getLogger().handlers


def test_debug_lowers_the_log_level(conf: cfg.ConfigOpts, restore_logging: None) -> None:
    config.init(["--debug"], conf=conf, default_config_files=[])
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG


def test_verbose_is_accepted_and_changes_nothing(
    conf: cfg.ConfigOpts, restore_logging: None
) -> None:
    config.init(["--verbose"], conf=conf, default_config_files=[])
    assert conf.verbose is True
    assert logging.getLogger().getEffectiveLevel() == logging.INFO


def test_verbose_warns(conf: cfg.ConfigOpts, caplog: pytest.LogCaptureFixture) -> None:
    parse(conf, "-v")
    with caplog.at_level(logging.WARNING, logger=config.__name__):
        warnings = config.report_unsupported_options(conf)
    assert len(warnings) == 1
    assert "verbose" in warnings[0]
    assert "deprecated" in caplog.text


def test_config_files_override_defaults(conf: cfg.ConfigOpts, tmp_path: pathlib.Path) -> None:
    path = write_conf(
        tmp_path,
        "[DEFAULT]\nbind_port = 8888\nauth_strategy = noauth\ndrivers = nova, doctor\n"
        "node_id = from-file\n[dse]\nbus_id = prod\n[database]\n"
        "connection = postgresql+psycopg://congress:secret@db/congress\n",
    )
    parse(conf, files=(path,))
    assert (conf.bind_port, conf.auth_strategy, conf.drivers) == (
        8888,
        "noauth",
        ["nova", "doctor"],
    )
    assert (conf.node_id, conf.dse.bus_id) == ("from-file", "prod")
    assert config.database_url(conf) == "postgresql+psycopg://congress:secret@db/congress"


def test_the_command_line_overrides_config_files(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path, restore_logging: None
) -> None:
    path = write_conf(tmp_path, "[DEFAULT]\nnode_id = from-file\nbind_port = 8888\n")
    argv = ["--config-file", str(path), "--api", "--policy-engine", "--node-id", "pe1"]
    config.init([*argv, "--delete-missing-driver-datasources"], conf=conf, default_config_files=[])
    assert (conf.api_role, conf.policy_engine, conf.datasources) == (True, True, False)
    assert (conf.node_id, conf.bind_port, conf.delete_missing_driver_datasources) == (
        "pe1",
        8888,
        True,
    )


def test_an_unknown_auth_strategy_is_rejected(conf: cfg.ConfigOpts, tmp_path: pathlib.Path) -> None:
    parse(conf, files=(write_conf(tmp_path, "[DEFAULT]\nauth_strategy = magic\n"),))
    with pytest.raises(cfg.ConfigFileValueError):
        _ = conf.auth_strategy


def test_register_opts_is_idempotent(conf: cfg.ConfigOpts) -> None:
    conf.set_override("connection", "sqlite://", group="database")
    config.register_opts(conf)
    parse(conf)
    config.register_opts(conf)
    config.register_opts(conf)
    assert conf.database.connection == "sqlite://"


def test_the_database_is_a_file_under_state_path(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "state"
    parse(conf, files=(write_conf(tmp_path, f"[DEFAULT]\nstate_path = {state}\n"),))
    assert config.database_url(conf) == f"sqlite:///{state}/congress.sqlite"
    assert state.is_dir()
    assert state.stat().st_mode & 0o777 == 0o700


def test_state_path_expands_the_home_directory(conf: cfg.ConfigOpts, home: pathlib.Path) -> None:
    conf.set_override("state_path", "~/congress")
    parse(conf)
    assert config.database_url(conf) == f"sqlite:///{home}/congress/congress.sqlite"
    assert (home / "congress").is_dir()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql+pymysql://u@h/c"])
def test_database_url_creates_nothing_without_a_sqlite_file(
    conf: cfg.ConfigOpts, home: pathlib.Path, url: str
) -> None:
    conf.set_override("connection", url, group="database")
    parse(conf)
    assert config.database_url(conf) == url
    assert list(home.iterdir()) == []


def test_a_relative_sqlite_file_gets_its_folder(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    conf.set_override("connection", "sqlite:///data/c.sqlite?timeout=5", group="database")
    parse(conf)
    config.database_url(conf)
    assert (tmp_path / "data").is_dir()


@pytest.mark.parametrize(
    "name", ["enable", "config_path", "config_reusables_path", "db_connection"]
)
def test_json_ingester_options_are_accepted_with_a_warning(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    parse(conf, files=(write_conf(tmp_path, f"[json_ingester]\n{name} = True\n"),))
    with caplog.at_level(logging.WARNING, logger=config.__name__):
        warnings = config.report_unsupported_options(conf)
    assert len(warnings) == 1
    assert f"[json_ingester] {name} (not supported" in warnings[0]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_no_warning_without_unsupported_options(
    conf: cfg.ConfigOpts, caplog: pytest.LogCaptureFixture
) -> None:
    parse(conf)
    with caplog.at_level(logging.WARNING, logger=config.__name__):
        assert config.report_unsupported_options(conf) == []
    assert caplog.records == []


def test_every_installed_driver_is_allowed_by_default(conf: cfg.ConfigOpts) -> None:
    parse(conf)
    assert config.allowed_drivers(conf) == (None, set())


def test_drivers_is_an_allow_list_and_disabled_drivers_a_deny_list(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path
) -> None:
    text = "[DEFAULT]\ndrivers = nova,doctor,\ndisabled_drivers = doctor\n"
    parse(conf, files=(write_conf(tmp_path, text),))
    assert config.allowed_drivers(conf) == ({"nova", "doctor"}, {"doctor"})


def test_disabled_drivers_alone(conf: cfg.ConfigOpts) -> None:
    conf.set_override("disabled_drivers", ["vitrage"])
    parse(conf)
    assert config.allowed_drivers(conf) == (None, {"vitrage"})


def test_library_path_falls_back_to_the_package(conf: cfg.ConfigOpts) -> None:
    parse(conf)
    etc = pathlib.Path("/etc/congress/library")
    expected = etc if etc.exists() else config.PACKAGE_LIBRARY
    assert config.library_path(conf) == expected
    assert config.PACKAGE_LIBRARY.parts[-2:] == ("congress", "library")


def test_library_path_uses_an_existing_folder(conf: cfg.ConfigOpts, tmp_path: pathlib.Path) -> None:
    conf.set_default("policy_library_path", str(tmp_path))
    parse(conf)
    assert config.library_path(conf) == tmp_path


def test_a_missing_default_library_falls_back(conf: cfg.ConfigOpts, tmp_path: pathlib.Path) -> None:
    conf.set_default("policy_library_path", str(tmp_path / "missing"))
    parse(conf)
    assert config.library_path(conf) == config.PACKAGE_LIBRARY


def test_a_configured_library_is_kept_even_if_missing(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path
) -> None:
    missing = tmp_path / "missing"
    parse(conf, files=(write_conf(tmp_path, f"[DEFAULT]\npolicy_library_path = {missing}\n"),))
    assert config.library_path(conf) == missing


def test_key_path_falls_back_to_state_path(conf: cfg.ConfigOpts, tmp_path: pathlib.Path) -> None:
    conf.set_override("state_path", str(tmp_path / "state"))
    conf.set_default("encryption_key_path", str(tmp_path / "missing"))
    parse(conf)
    assert config.key_path(conf) == tmp_path / "state" / "keys"


def test_key_path_uses_an_existing_or_configured_folder(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path
) -> None:
    conf.set_default("encryption_key_path", str(tmp_path))
    parse(conf)
    assert config.key_path(conf) == tmp_path
    conf.set_override("encryption_key_path", str(tmp_path / "new"))
    assert config.key_path(conf) == tmp_path / "new"


def test_the_default_key_path(conf: cfg.ConfigOpts, home: pathlib.Path) -> None:
    parse(conf)
    etc = pathlib.Path("/etc/congress/keys")
    fallback = home / ".local" / "state" / "congress" / "keys"
    assert config.key_path(conf) == (etc if etc.exists() else fallback)
