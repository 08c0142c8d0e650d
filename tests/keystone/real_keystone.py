"""What the tests of a real Keystone share: the Keystone and Congress they run, and HTTP.

(A module of its own, not the conftest: ``conftest`` is a name every test folder uses.)
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from congress.cmd import server as congress_server


@dataclass
class User:
    name: str
    password: str
    project: str
    id: str = ""


@dataclass
class Keystone:
    url: str  # http://127.0.0.1:PORT, the identity endpoint is url + "/v3"
    proc: subprocess.Popen[bytes]
    log: Path
    users: dict[str, User] = field(default_factory=dict)

    @property
    def v3(self) -> str:
        return self.url + "/v3"

    def token(self, user: str) -> str:
        """A project-scoped token for USER, by password, from the real Keystone."""
        return password_token(self.v3, self.users[user])

    def os_options(self, user: str) -> list[str]:
        """The ``openstack`` client's options that sign USER in by password here."""
        u = self.users[user]
        return [
            "--os-auth-url",
            self.v3,
            "--os-username",
            u.name,
            "--os-password",
            u.password,
            "--os-project-name",
            u.project,
            "--os-user-domain-name",
            "Default",
            "--os-project-domain-name",
            "Default",
        ]


@dataclass
class CongressNode:
    url: str
    node: congress_server.Node
    conf_text: str  # the congress.conf it runs with


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], Any]:
    """``(status, headers with lower-case names, parsed JSON body or text or None)``; HTTP
    errors are answers too."""
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, rheaders, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, rheaders, raw = e.code, e.headers, e.read()
        e.close()
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, {k.lower(): v for k, v in rheaders.items()}, parsed


def password_token(v3: str, user: User) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": user.name,
                        "domain": {"id": "default"},
                        "password": user.password,
                    }
                },
            },
            "scope": {"project": {"name": user.project, "domain": {"id": "default"}}},
        }
    }
    status, headers, answer = http("POST", v3 + "/auth/tokens", body)
    assert status == 201, f"Keystone refused a password for {user.name}: {status} {answer}"
    return headers["x-subject-token"]
