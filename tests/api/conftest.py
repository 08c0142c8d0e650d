"""An API over a real policy engine service on a SQLite file, driven in process."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Client
from oslo_config import cfg

from congress.api import pipeline
from congress.api.services import Services
from congress.common import config
from congress.db import migration
from congress.db.engine import make_engine
from congress.services.policy_engine import PolicyEngineService


@pytest.fixture
def conf(tmp_path: Path) -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\n")
    config.init(["--config-file", str(conf_file)], conf=c, default_config_files=[])
    return c


@pytest.fixture
def engine_service(conf: cfg.ConfigOpts) -> PolicyEngineService:
    url = config.database_url(conf)
    migration.upgrade(url)
    svc = PolicyEngineService(
        make_engine(url), clock=lambda: datetime.datetime(2026, 11, 25, 12, 0, 0)
    )
    svc.start()
    return svc


@pytest.fixture
def client(conf: cfg.ConfigOpts, engine_service: PolicyEngineService) -> Iterator[Client]:
    yield Client(pipeline.build(Services(engine_service), conf))
