"""``congress-policy export`` and ``apply`` against a node behind a real Keystone: a password
finds Congress in the catalog, a token with an endpoint asks Keystone nothing, and the roles
decide (a reader may dry-run, not apply). Slow: the session's Keystone (tests/keystone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from real_keystone import CongressNode, Keystone

from congress.cmd.policy import main

pytestmark = pytest.mark.xdist_group("keystone")

POLICY = """\
name: kspolicy
description: made by congress-policy apply
kind: nonrecursive
abbreviation: kspol
rules:
  - rule: bad(1)
  - rule: error(x) :- bad(x)
"""


def _password(ks: Keystone, user: str) -> list[str]:
    return [*ks.os_options(user), "--os-region-name", "RegionOne"]


def test_export_and_apply_through_keystone(
    congress: CongressNode,
    keystone: Keystone,
    out_of_the_catalog: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("OS_ENDPOINT", "OS_URL", "OS_TOKEN", "OS_AUTH_URL", "OS_PASSWORD", "OS_AUTH_TYPE"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "kspolicy.yaml").write_text(POLICY)

    # a reader may see what would change (simulate is a read), not change it
    code = main(["apply", str(folder), "--dry-run", "--exit-code", *_password(keystone, "reader")])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "+ policy kspolicy" in out
    code = main(["apply", str(folder), *_password(keystone, "reader")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Policy doesn't allow create_v1" in err, err

    # the admin's password: the endpoint from the catalog
    code = main(["apply", str(folder), *_password(keystone, "admin")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 policy: 1 created" in out

    # a token and the endpoint: straight to Congress
    token = keystone.token("admin")
    monkeypatch.setenv("OS_TOKEN", token)
    monkeypatch.setenv("OS_ENDPOINT", congress.url)
    monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:1/not-asked")
    exported = tmp_path / "exported"
    code = main(["export", str(exported), "--policy", "kspolicy"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (exported / "kspolicy.yaml").read_text() == POLICY
    assert main(["apply", str(folder), "--dry-run", "--exit-code"]) == 0
    capsys.readouterr()

    # a token Keystone does not know: the API's 401
    monkeypatch.setenv("OS_TOKEN", "not-a-token")
    code = main(["export", str(exported)])
    out, err = capsys.readouterr()
    assert code == 1 and "congress-policy export: " in err, err
