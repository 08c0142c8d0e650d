"""The loader: entry points of congress.datasource.drivers, allow-list, disabled, custom."""

from __future__ import annotations

import logging
from importlib import metadata

import pytest
from ds_fakes import FakeDriver, OtherDriver

from congress.datasources.doctor import DoctorDriver
from congress.datasources.errors import DriverLoadError, DriverNotFound, InvalidConfig
from congress.datasources.loader import GROUP, DriverLoader
from congress.datasources.push import PushDriver
from congress.datasources.vitrage import VitrageDriver

EPS = [
    metadata.EntryPoint("fake", "ds_fakes:FakeDriver", GROUP),
    metadata.EntryPoint("other", "ds_fakes:OtherDriver", GROUP),
    metadata.EntryPoint("fake", "ds_fakes:OtherDriver", GROUP),  # a duplicate: the first wins
    metadata.EntryPoint("broken", "ds_fakes_missing:Nothing", GROUP),
    metadata.EntryPoint("notdriver", "ds_fakes:NotADriver", GROUP),
]


def test_the_installed_drivers() -> None:
    loader = DriverLoader()
    assert {"doctor", "push", "vitrage"} <= set(loader.names())
    available = loader.available()
    assert available["doctor"] is DoctorDriver
    assert available["push"] is PushDriver
    assert available["vitrage"] is VitrageDriver
    for name, cls in available.items():
        assert name == cls.DRIVER_NAME


def test_every_entry_point_when_nothing_is_listed() -> None:
    allowed: list[str] | None
    for allowed in (None, []):
        loader = DriverLoader(allowed, entry_points=EPS)
        assert loader.names() == ["broken", "fake", "notdriver", "other"]
    assert DriverLoader(entry_points=EPS).load("fake") is FakeDriver


def test_allow_list_by_name_and_by_class_path() -> None:
    assert DriverLoader(["other"], entry_points=EPS).names() == ["other"]
    assert DriverLoader(["ds_fakes:FakeDriver"], entry_points=EPS).names() == ["fake"]
    assert DriverLoader(["ds_fakes.OtherDriver"], entry_points=EPS).names() == ["other"]
    with pytest.raises(DriverNotFound, match="Driver not found fake"):
        DriverLoader(["other"], entry_points=EPS).load("fake")


def test_disabled_drivers_are_removed() -> None:
    loader = DriverLoader(disabled=["broken", "ds_fakes.NotADriver"], entry_points=EPS)
    assert loader.names() == ["fake", "other"]
    assert DriverLoader(["fake", "other"], ["other"], entry_points=EPS).names() == ["fake"]


def test_custom_endpoints_are_added_and_override() -> None:
    loader = DriverLoader(
        ["other"],
        custom_endpoints=["mine = ds_fakes:FakeDriver", "other=ds_fakes.FakeDriver"],
        entry_points=EPS,
    )
    assert loader.names() == ["mine", "other"]
    assert loader.load("mine") is FakeDriver
    assert loader.load("other") is FakeDriver
    disabled = DriverLoader(custom_endpoints=["mine=ds_fakes:FakeDriver"], disabled=["mine"])
    assert "mine" not in disabled.names()


def test_a_malformed_custom_endpoint() -> None:
    with pytest.raises(InvalidConfig, match="expected name=module:Class"):
        DriverLoader(custom_endpoints=["ds_fakes:FakeDriver"], entry_points=[])


def test_broken_drivers(caplog: pytest.LogCaptureFixture) -> None:
    loader = DriverLoader(entry_points=EPS)
    with pytest.raises(DriverLoadError, match="Cannot load driver broken"):
        loader.load("broken")
    with pytest.raises(DriverLoadError, match="is not a datasource driver class"):
        loader.load("notdriver")
    with caplog.at_level(logging.ERROR, logger="congress.datasources.loader"):
        assert loader.available() == {"fake": FakeDriver, "other": OtherDriver}
    assert "Failed to load driver broken" in caplog.text
