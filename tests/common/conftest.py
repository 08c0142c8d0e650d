"""Fixtures for the tests of ``congress.common``: a fresh ConfigOpts, a private home, logging."""

from __future__ import annotations

import logging
import pathlib
import sys
from collections.abc import Iterator

import pytest
from oslo_config import cfg

from congress.common import config


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A home directory of our own, so that ``~`` never reaches the real one."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def conf(home: pathlib.Path) -> cfg.ConfigOpts:
    """A ConfigOpts with every option of Congress registered, not parsed yet."""
    fresh = cfg.ConfigOpts()
    config.register_opts(fresh)
    return fresh


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo what oslo.log's set-up does to the root logger and the exception hook."""
    root = logging.getLogger()
    handlers, level, hook = root.handlers[:], root.level, sys.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook = hook
