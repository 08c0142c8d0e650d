"""``etc/congress.policy.yaml.sample`` is what oslopolicy-sample-generator writes today
(``tox -e genpolicy``), and the default rules mean what docs say: admin everything, reader reads."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from oslo_config import cfg

from congress.api.auth import Authorizer, Context, Forbidden

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_policy_sample_is_current(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "policy.yaml"
    gen = pathlib.Path(sys.executable).parent / "oslopolicy-sample-generator"
    subprocess.run(
        [str(gen), "--namespace", "congress", "--output-file", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_text() == (ROOT / "etc" / "congress.policy.yaml.sample").read_text()


def test_default_rules() -> None:
    conf = cfg.ConfigOpts()
    conf([], project="congress-test", default_config_files=[], default_config_dirs=[])
    authz = Authorizer(conf)
    admin = Context("u1", "p1", ("admin",), True)
    reader = Context("u2", "p1", ("reader",))
    member = Context("u3", "p1", ("member",))
    for action in ("get_v1", "create_v1", "update_v1", "delete_v1"):
        authz.check(admin, action)
    authz.check(reader, "get_v1")
    for ctx, action in ((reader, "create_v1"), (reader, "delete_v1"), (member, "get_v1")):
        try:
            authz.check(ctx, action)
        except Forbidden as e:
            assert action in str(e)
        else:
            raise AssertionError(f"{ctx.roles} may not {action}")


def test_decisions_are_remembered_for_the_ttl_only(tmp_path: pathlib.Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"get_v1": "role:reader"\n')
    # a config file, not oslo_policy.opts.set_defaults: that changes the default policy_file
    # of every later ConfigOpts in the process (a reader's reads were refused in later tests)
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(f"[oslo_policy]\npolicy_file = {policy_file}\n")
    conf = cfg.ConfigOpts()
    conf(
        ["--config-file", str(conf_file)],
        project="congress-test",
        default_config_files=[],
        default_config_dirs=[],
    )
    now = [0.0]
    authz = Authorizer(conf, ttl=1.0, timer=lambda: now[0])
    reader = Context("u", "p", ("reader",))
    authz.check(reader, "get_v1")
    policy_file.write_text('"get_v1": "role:admin"\n')
    later = policy_file.stat().st_mtime + 100
    os.utime(policy_file, (later, later))  # a newer mtime: oslo.policy reloads on change
    authz.check(reader, "get_v1")  # remembered
    now[0] = 2.0
    try:
        authz.check(reader, "get_v1")
    except Forbidden:
        pass
    else:
        raise AssertionError("the changed policy file took no effect after the ttl")
