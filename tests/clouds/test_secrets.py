"""Datasource secrets (``password``, ``token``) never leave: not in any answer of the API, not
in the logs (at DEBUG, through a poll that works and one that Keystone refuses), not in the
database in clear."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Client
from fake_nova import NovaFake
from fakecloud import FakeCloud
from oslo_config import cfg
from sqlalchemy import create_engine, text

from congress.cmd.server import Node, build_node
from congress.common import config

SECRET = "S3cret-Pa55-xyzzy"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    conf = cfg.ConfigOpts()
    conf_file = tmp_path / "congress.conf"
    conf_file.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\nauth_strategy = noauth\ndebug = true\n"
    )
    config.init(["--config-file", str(conf_file)], conf=conf, default_config_files=[])
    n = build_node(conf)
    yield n
    n.stop()


def wait_for_status(api: Client, ds: str, key: str, value: str) -> None:
    deadline = time.monotonic() + 10
    while api.get(f"/v1/data-sources/{ds}/status")[1][key] != value:
        assert time.monotonic() < deadline, f"{ds}: {key} never became {value}"
        time.sleep(0.05)


def test_secrets_are_in_no_answer_no_log_and_not_in_clear_in_the_database(
    node: Node, cloud: FakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    NovaFake(cloud, count=2)
    api = Client(node.app)
    # a password Keystone refuses, then a bearer token and a Kubernetes token
    creds = cloud.credentials(poll_time="0", password=SECRET)
    assert (
        api.post("/v1/data-sources", {"name": "nova", "driver": "nova", "config": creds})[0] == 201
    )
    tables = json.dumps({"t": {"path": "/x", "columns": {"id": "id"}}})
    bearer = {"endpoint": cloud.url, "auth": "bearer", "token": SECRET, "tables": tables}
    assert api.post("/v1/data-sources", {"name": "j", "driver": "json", "config": bearer})[0] == 201
    k8s = {"api_server": cloud.url, "token": SECRET, "poll_time": "0"}
    assert (
        api.post("/v1/data-sources", {"name": "k", "driver": "kubernetes", "config": k8s})[0] == 201
    )
    for ds in ("nova", "j", "k"):
        wait_for_status(api, ds, "number_of_updates", "1")
    assert "authentication refused" in api.get("/v1/data-sources/nova/status")[1]["last_error"]

    answers = [api.get("/v1/data-sources")]
    for ds in ("nova", "j", "k"):
        for route in ("", "/status", "/schema", "/actions", "/tables"):
            answers.append(api.get(f"/v1/data-sources/{ds}{route}"))
    answers.append(api.get("/v1/system/drivers/nova"))
    for status, body in answers:
        assert status == 200
        assert SECRET not in json.dumps(body)
    shown = {d["name"]: d["config"] for d in answers[0][1]["results"]}
    assert shown["nova"]["password"] == shown["j"]["token"] == shown["k"]["token"] == "<hidden>"

    assert caplog.records, "nothing was logged at DEBUG"
    assert SECRET not in caplog.text
    assert all(SECRET not in r.getMessage() for r in caplog.records)

    database = create_engine(f"sqlite:///{tmp_path / 'congress.sqlite'}")
    with database.connect() as c:
        stored = " ".join(str(row) for row in c.execute(text("SELECT * FROM datasources")))
    database.dispose()
    assert "nova" in stored and SECRET not in stored
