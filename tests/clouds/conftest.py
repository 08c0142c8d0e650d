"""The cloud driver tests also drive whole nodes through the API tests' ``Client``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))

from fakecloud import FakeCloud


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    """One fake cloud per test module (a module may override it)."""
    with FakeCloud() as running:
        yield running
