"""An API over a real policy engine service on a SQLite file, driven in process."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webob
from oslo_config import cfg

from congress.api import pipeline
from congress.api.services import Services
from congress.common import config
from congress.db import migration
from congress.db.engine import make_engine
from congress.services.policy_engine import PolicyEngineService


class Client:
    def __init__(self, app: Any) -> None:
        self.app = app

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        req = webob.Request.blank(path, method=method)
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        elif body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        for k, v in (headers or {}).items():
            req.headers[k] = v
        resp = req.get_response(self.app)
        data = json.loads(resp.body) if resp.body else None
        return resp.status_int, data

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("DELETE", path, **kw)


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
