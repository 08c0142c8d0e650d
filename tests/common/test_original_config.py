"""The original OpenStack Congress's ``congress.conf`` and policy files are accepted as they are.

``data/original-congress.conf`` is a Train deployment's file (devstack's options, the sample's
groups). The options carried over take effect; those that have no effect here are named in ONE
warning at start; none makes the process fail.
"""

from __future__ import annotations

import json
import logging
import pathlib

import pytest
from oslo_config import cfg

from congress.api.auth import Authorizer, Context, Forbidden
from congress.common import config
from congress.datasources.loader import DriverLoader

ORIGINAL_CONF = pathlib.Path(__file__).parent / "data" / "original-congress.conf"


def _init(conf: cfg.ConfigOpts, *files: pathlib.Path) -> None:
    args = [arg for f in files for arg in ("--config-file", str(f))]
    config.init(args, conf=conf, default_config_files=[])


def test_the_original_file_starts_with_one_warning(
    conf: cfg.ConfigOpts, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(config.LOG, "warning", lambda fmt, *a: warnings.append(fmt % a))
    _init(conf, ORIGINAL_CONF)  # oslo.log's set-up replaces the handlers: no caplog here
    assert len(warnings) == 1, warnings
    text = warnings[0]
    for named in (
        "[DEFAULT] verbose",
        "api_paste_config",
        "api_workers",
        "tcp_keepalive, tcp_keepidle",
        "tempdir",
        "fatal_exception_format_errors",
        "[DEFAULT] drivers (18 driver classes of OpenStack Congress",
        "[dse] execute_action_retry (",
        "[json_ingester] enable, config_path, config_reusables_path",
        "[DEFAULT] datasource_file, distributed_architecture",
        "[agent] host, max_delay, version",
    ):
        assert named in text, named
    # options carried over are not named, library groups neither
    for carried in (
        "bind_port",
        "datasource_sync_period",
        "replicated_policy_engine",
        "bus_id",
        "max_simultaneous_requests",
        "keystone_authtoken",
        "oslo_policy",
        "transport_url",
    ):
        assert carried not in text, carried


def test_the_options_carried_over_take_effect(conf: cfg.ConfigOpts, restore_logging: None) -> None:
    _init(conf, ORIGINAL_CONF)
    assert conf.dse.bus_id == "congress"
    assert conf.datasource_sync_period == 60
    assert conf.encryption_key_path == "/etc/congress/keys"
    assert conf.auth_strategy == "noauth"
    assert conf.database.max_overflow == 20


def test_the_originals_driver_classes_permit_every_driver(
    conf: cfg.ConfigOpts, restore_logging: None
) -> None:
    _init(conf, ORIGINAL_CONF)
    permitted, disabled = config.allowed_drivers(conf)
    assert permitted is None and disabled == set()
    names = DriverLoader(permitted, disabled).names()
    assert {"nova", "neutronv2", "doctor", "vitrage", "push"} <= set(names)


def test_our_driver_names_beside_original_classes_still_restrict(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path, restore_logging: None
) -> None:
    path = tmp_path / "congress.conf"
    path.write_text(
        "[DEFAULT]\ndrivers = nova,congress.datasources.nova_driver.NovaDriver,"
        "congress.datasources.doctor_driver:DoctorDriver\n"
    )
    _init(conf, path)
    assert config.allowed_drivers(conf) == ({"nova"}, set())
    assert config.original_driver_classes(conf) == [
        "congress.datasources.nova_driver.NovaDriver",
        "congress.datasources.doctor_driver:DoctorDriver",
    ]


def test_a_file_of_ours_gives_no_warning(
    conf: cfg.ConfigOpts, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "congress.conf"
    path.write_text("[DEFAULT]\nbind_port = 1790\ndrivers = nova\n[dse]\nbus_id = b\n")
    conf(["--config-file", str(path)], project="congress", default_config_files=[])
    with caplog.at_level(logging.WARNING):
        assert config.report_unsupported_options(conf) == []
        assert config.unused_options(conf) == []
    assert caplog.records == []


def test_options_in_config_dirs_are_seen(conf: cfg.ConfigOpts, tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "congress.conf.d"
    folder.mkdir()
    (folder / "10-agent.conf").write_text("[agent]\nhost = h\n")
    conf(["--config-dir", str(folder)], project="congress", default_config_files=[])
    assert ("agent", "host") in config.options_in_files(conf)
    assert [(g, n) for g, n, _ in config.unused_options(conf)] == [("agent", "host")]


ORIGINAL_POLICY = {
    "context_is_admin": "role:admin",
    "admin_only": "rule:context_is_admin",
    "regular_user": "",
    "default": "rule:admin_only",
}


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_the_originals_policy_file_is_accepted(tmp_path: pathlib.Path, kind: str) -> None:
    policy_file = tmp_path / f"policy.{kind}"
    if kind == "json":
        policy_file.write_text(json.dumps(ORIGINAL_POLICY, indent=4))
    else:
        policy_file.write_text("".join(f'"{k}": "{v}"\n' for k, v in ORIGINAL_POLICY.items()))
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(f"[oslo_policy]\npolicy_file = {policy_file}\n")
    conf = cfg.ConfigOpts()
    conf(
        ["--config-file", str(conf_file)],
        project="congress-test",
        default_config_files=[],
        default_config_dirs=[],
    )
    authz = Authorizer(conf, ttl=0.0)
    admin = Context("a", "p", ("admin",), True)
    for action in ("get_v1", "create_v1", "update_v1", "delete_v1"):
        authz.check(admin, action)
    authz.check(Context("r", "p", ("reader",)), "get_v1")
    with pytest.raises(Forbidden):
        authz.check(Context("m", "p", ("member",)), "create_v1")
