"""``/v1/notification-sinks`` through the WSGI app: create, list, show (by id or name),
delete, dead letters; the secret never answered; every refusal a 400 that names the field and
what is wrong; 404, 409, and 503 on a node without notification sinks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import webob
from api_client import Client
from oslo_config import cfg
from sqlalchemy import Engine

from congress.api import pipeline
from congress.api.services import Services
from congress.common import config
from congress.db import api as db
from congress.db.engine import make_engine
from congress.services.datasource_config import SecretBox
from congress.services.notify import Messaging, Notifications
from congress.services.policy_engine import PolicyEngineService

SINKS = "/v1/notification-sinks"
HOOK = "https://hooks.example.com/congress"
SECRET = "t0p-s3cret"


class WatchedTables:
    """Stands in for the history: the patterns it was told to watch."""

    def __init__(self) -> None:
        self.patterns: list[str] = []

    def add_tables(self, patterns: Any) -> None:
        self.patterns += list(patterns)


@pytest.fixture
def database(conf: cfg.ConfigOpts, engine_service: PolicyEngineService) -> Iterator[Engine]:
    engine = make_engine(config.database_url(conf))  # migrated by engine_service
    yield engine
    engine.dispose()


@pytest.fixture
def watched() -> WatchedTables:
    return WatchedTables()


def sinks_service(
    conf: cfg.ConfigOpts, database: Engine, watched: WatchedTables, *, bus: bool = False
) -> Notifications:
    messaging = Messaging(conf, "n1", has_transport=True) if bus else None
    return Notifications(
        database,
        watched,  # type: ignore[arg-type]
        node_id="n1",
        box=SecretBox(config.key_path(conf)),
        messaging=messaging,
    )


@pytest.fixture
def api(
    conf: cfg.ConfigOpts,
    engine_service: PolicyEngineService,
    database: Engine,
    watched: WatchedTables,
) -> Client:
    services = Services(engine_service, sinks=sinks_service(conf, database, watched))
    return Client(pipeline.build(services, conf))


def error_of(answer: tuple[int, Any]) -> tuple[int, str, str]:
    status, body = answer
    return status, body["error"]["error_data"]["code"], body["error"]["message"]


def test_a_sink_is_created_listed_shown_and_deleted(api: Client, watched: WatchedTables) -> None:
    status, made = api.post(SINKS, {"name": "ops-hooks", "url": HOOK, "secret": SECRET})
    assert status == 201
    assert made == {
        "id": made["id"],
        "name": "ops-hooks",
        "type": "webhook",
        "url": HOOK,
        "topic": None,
        "secret": "<hidden>",
        "tables": ["*:error", "*:warning"],
        "enabled": True,
        "max_retries": 8,
        "created_at": made["created_at"],
    }
    assert made["created_at"].endswith("+00:00")
    assert watched.patterns == ["*:error", "*:warning"]  # the history watches the sink's tables
    other = {"name": "b.2", "url": "http://10.0.0.1:8080/x?y=1", "tables": ["p:*", "warning"]}
    status, second = api.post(SINKS, {**other, "max_retries": 3, "enabled": False})
    assert status == 201 and second["tables"] == ["p:*", "warning"] and second["secret"] is None
    assert (second["max_retries"], second["enabled"]) == (3, False)
    status, listed = api.get(SINKS)
    assert status == 200 and [s["name"] for s in listed["results"]] == ["b.2", "ops-hooks"]
    assert api.get(f"{SINKS}/{made['id']}") == (200, made)
    assert api.get(f"{SINKS}/ops-hooks") == (200, made)
    assert api.get(f"{SINKS}/ops-hooks/") == (200, made)
    assert api.delete(f"{SINKS}/ops-hooks") == (200, {})
    assert api.get(f"{SINKS}/{made['id']}")[0] == 404
    assert api.delete(f"{SINKS}/{second['id']}") == (200, {})
    assert api.get(SINKS) == (200, {"results": []})


def test_a_creation_answers_its_location(api: Client) -> None:
    req = webob.Request.blank(SINKS, method="POST")
    req.body = json.dumps({"name": "hooks", "url": HOOK}).encode()
    req.content_type = "application/json"
    resp = req.get_response(api.app)
    assert resp.status_int == 201
    assert resp.headers["Location"] == f"http://localhost{SINKS}/{resp.json['id']}"


def test_the_secret_is_never_answered_and_stored_encrypted(
    api: Client, database: Engine, conf: cfg.ConfigOpts
) -> None:
    status, made = api.post(SINKS, {"name": "hooks", "url": HOOK, "secret": SECRET})
    assert status == 201
    for answer in (made, api.get(SINKS)[1], api.get(f"{SINKS}/hooks")[1]):
        assert SECRET not in json.dumps(answer)
    assert api.get(f"{SINKS}/hooks")[1]["secret"] == "<hidden>"
    stored = db.get_sink(database, made["id"]).secret
    assert stored is not None and SECRET not in stored
    assert SecretBox(config.key_path(conf)).fernet().decrypt(stored.encode()) == SECRET.encode()


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"url": HOOK}, "name", "is required"),
        ({"name": "", "url": HOOK}, "name", "must not be empty"),
        ({"name": "n" * 256, "url": HOOK}, "name", "longer than 255"),
        ({"name": "_config", "url": HOOK}, "name", "starting with a letter or a digit"),
        ({"name": "a b", "url": HOOK}, "name", "letters, digits"),
        ({"name": 7, "url": HOOK}, "name", "must be a string"),
        ({"name": "x", "type": "email", "url": HOOK}, "type", "'webhook' or 'messaging'"),
        ({"name": "x"}, "url", "is required for a webhook"),
        ({"name": "x", "url": "ftp://h/x"}, "url", "http:// or https://"),
        ({"name": "x", "url": "hooks.example.com"}, "url", "http:// or https://"),
        ({"name": "x", "url": "http:///path"}, "url", "has no host"),
        ({"name": "x", "url": "http://h:99999/"}, "url", "not a valid URL"),
        ({"name": "x", "url": "http://h/a b"}, "url", "spaces"),
        ({"name": "x", "url": "http://h/" + "a" * 2048}, "url", "longer than 2048"),
        ({"name": "x", "url": HOOK, "topic": "t"}, "topic", "messaging sinks only"),
        ({"name": "x", "type": "messaging"}, "topic", "is required for a messaging"),
        ({"name": "x", "url": HOOK, "tables": "*:error"}, "tables", "must be a list"),
        ({"name": "x", "url": HOOK, "tables": []}, "tables", "1 to 100"),
        ({"name": "x", "url": HOOK, "tables": ["p:t"] * 101}, "tables", "1 to 100"),
        ({"name": "x", "url": HOOK, "tables": ["p:t", "a:b:c"]}, "tables[1]", "policy:table"),
        ({"name": "x", "url": HOOK, "tables": ["p :t"]}, "tables[0]", "policy:table"),
        ({"name": "x", "url": HOOK, "tables": [":t"]}, "tables[0]", "policy:table"),
        ({"name": "x", "url": HOOK, "tables": [" "]}, "tables[0]", "must not be empty"),
        ({"name": "x", "url": HOOK, "tables": [3]}, "tables[0]", "must be a string"),
        ({"name": "x", "url": HOOK, "enabled": "yes"}, "enabled", "true or false"),
        ({"name": "x", "url": HOOK, "max_retries": 0}, "max_retries", "from 1 to 100"),
        ({"name": "x", "url": HOOK, "max_retries": 101}, "max_retries", "from 1 to 100"),
        ({"name": "x", "url": HOOK, "max_retries": 2.5}, "max_retries", "an integer"),
        ({"name": "x", "url": HOOK, "max_retries": True}, "max_retries", "an integer"),
        ({"name": "x", "url": HOOK, "secret": ""}, "secret", "must not be empty"),
        ({"name": "x", "url": HOOK, "id": "mine"}, "id", "unknown field"),
        ({"name": "x", "url": HOOK, "uri": HOOK}, "uri", "unknown field"),
    ],
)
def test_a_sink_that_is_not_valid_is_a_400_naming_the_field(
    api: Client, body: dict[str, Any], field: str, says: str
) -> None:
    status, code, message = error_of(api.post(SINKS, body))
    assert (status, code) == (400, "invalid_notification_sink"), message
    assert message.startswith(f"{field}: ") and says in message, message
    assert api.get(SINKS) == (200, {"results": []})


def test_a_body_that_is_not_an_object_is_a_400(api: Client) -> None:
    assert error_of(api.post(SINKS, ["x"]))[:2] == (400, "bad_request")
    assert error_of(api.post(SINKS))[:2] == (400, "bad_request")


def test_a_messaging_sink_needs_a_transport_on_the_node(
    conf: cfg.ConfigOpts,
    engine_service: PolicyEngineService,
    database: Engine,
    watched: WatchedTables,
    api: Client,
) -> None:
    body = {"name": "bus", "type": "messaging", "topic": "congress.changes"}
    status, code, message = error_of(api.post(SINKS, body))
    assert (status, code) == (400, "invalid_notification_sink")
    assert "[oslo_messaging_notifications] transport_url" in message
    with_bus = sinks_service(conf, database, watched, bus=True)
    bus_api = Client(pipeline.build(Services(engine_service, sinks=with_bus), conf))
    status, made = bus_api.post(SINKS, {**body, "tables": ["classification:error"]})
    assert status == 201
    assert (made["type"], made["topic"], made["url"]) == ("messaging", "congress.changes", None)
    for extra, field in (({"url": HOOK}, "url"), ({"secret": "s"}, "secret")):
        status, _, message = error_of(bus_api.post(SINKS, {**body, "name": "y", **extra}))
        assert (
            status == 400 and message.startswith(f"{field}: ") and "webhook sinks only" in message
        )
    status, _, message = error_of(bus_api.post(SINKS, {**body, "name": "y", "topic": "a b"}))
    assert status == 400 and message.startswith("topic: ")


def test_null_fields_count_as_absent(api: Client) -> None:
    body = {"name": "x", "url": HOOK, "type": None, "secret": None, "tables": None}
    status, made = api.post(SINKS, {**body, "enabled": None, "max_retries": None, "topic": None})
    assert status == 201
    assert (made["type"], made["tables"], made["enabled"], made["max_retries"]) == (
        "webhook",
        ["*:error", "*:warning"],
        True,
        8,
    )


def test_a_name_in_use_is_a_409(api: Client) -> None:
    assert api.post(SINKS, {"name": "hooks", "url": HOOK})[0] == 201
    status, code, message = error_of(api.post(SINKS, {"name": "hooks", "url": HOOK}))
    assert (status, code) == (409, "notification_sink_exists") and "hooks" in message


def test_an_unknown_sink_is_a_404(api: Client) -> None:
    for answer in (
        api.get(f"{SINKS}/nosuch"),
        api.delete(f"{SINKS}/nosuch"),
        api.get(f"{SINKS}/nosuch/dead-letters"),
    ):
        status, code, message = error_of(answer)
        assert (status, code) == (404, "notification_sink_not_found")
        assert message == "Notification sink not found: nosuch"


def test_dead_letters_are_listed_newest_first(api: Client, database: Engine) -> None:
    status, made = api.post(SINKS, {"name": "hooks", "url": HOOK})
    assert status == 201
    assert api.get(f"{SINKS}/hooks/dead-letters") == (200, {"results": []})
    for n in (1, 2):
        payload = {"sink": "hooks", "policy": "p", "table": "error", "changes": [{"id": n}]}
        db.add_dead_letter(
            database,
            made["id"],
            policy="p",
            table="error",
            payload=payload,
            error=f"HTTP 50{n}",
            attempts=8,
            cursor=n,
        )
    status, letters = api.get(f"{SINKS}/{made['id']}/dead-letters")
    assert status == 200
    assert [(d["error"], d["payload"]["changes"]) for d in letters["results"]] == [
        ("HTTP 502", [{"id": 2}]),
        ("HTTP 501", [{"id": 1}]),
    ]
    first = letters["results"][0]
    assert set(first) == {"id", "policy", "table", "payload", "error", "attempts", "created_at"}
    assert (first["policy"], first["table"], first["attempts"]) == ("p", "error", 8)
    assert len(api.get(f"{SINKS}/hooks/dead-letters?limit=1")[1]["results"]) == 1
    for bad in ("0", "1001", "x"):
        status, code, message = error_of(api.get(f"{SINKS}/hooks/dead-letters?limit={bad}"))
        assert (status, code) == (400, "bad_request") and "limit" in message
    assert api.get(f"{SINKS}/_config/dead-letters") == (200, {"results": []})


def test_a_node_without_notification_sinks_answers_503(
    conf: cfg.ConfigOpts, engine_service: PolicyEngineService
) -> None:
    bare = Client(pipeline.build(Services(engine_service), conf))
    for method, path in (
        ("GET", SINKS),
        ("POST", SINKS),
        ("GET", f"{SINKS}/x"),
        ("DELETE", f"{SINKS}/x"),
        ("GET", f"{SINKS}/x/dead-letters"),
    ):
        body = {"name": "x", "url": HOOK} if method == "POST" else None
        status, code, message = error_of(bare.call(method, path, body))
        assert (status, code) == (503, "notifications_unavailable"), (method, path)
        assert "not managed on this node" in message


def test_other_methods_are_not_supported(api: Client) -> None:
    assert api.put(SINKS, {})[0] == 501
    assert api.put(f"{SINKS}/x", {})[0] == 501
    assert api.post(f"{SINKS}/x/dead-letters", {})[0] == 501
