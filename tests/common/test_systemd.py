"""``congress.common.systemd``: sd_notify's datagram, written without libsystemd."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from congress.common import systemd


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    with tempfile.TemporaryDirectory(prefix="sd") as folder:  # a short path (108 bytes at most)
        path = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(2)
            yield sock, path


def test_ready(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert systemd.notify("READY=1", "STATUS=Serving", environ={"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=Serving"


def test_reloading_sends_the_monotonic_clock(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert systemd.reloading()
    lines = sock.recv(4096).decode().split("\n")
    assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
    assert int(lines[1].partition("=")[2]) > 0


def test_abstract_socket() -> None:
    name = f"congress-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert systemd.notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"STOPPING=1"


def test_without_systemd_nothing_is_sent(tmp_path: Path) -> None:
    assert not systemd.notify("READY=1", environ={})
    assert not systemd.notify("READY=1", environ={"NOTIFY_SOCKET": "not-a-path"})
    assert not systemd.notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "none")})
