"""Services across the bus (congress.services.rpc) without a broker: the JSON codec, errors that
keep their class, ``serve``/``Remote`` and ``RemoteEngine`` over an ``InProcessBus`` (which
calls the served handler directly, with the same JSON-ready arguments and answers)."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from congress.bus import InProcessBus
from congress.datalog import errors as datalog_errors
from congress.datalog.errors import PolicyError, Problem
from congress.datalog.parser import parse_literal
from congress.datalog.simulate import SimulateResult
from congress.db import errors as db_errors
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors, rpc
from congress.services.policy_engine import PolicyEngineService, PolicyView, RuleView

CLOCK = datetime.datetime(2026, 11, 25, 12, 0, 0)

POLICY = PolicyView("p-1", "alice", "al", "a policy", "user", "nonrecursive")
RULE = RuleView("r-1", "alice", "q(x) :- p(x)", "r1", "a rule")


def round_trip(value: Any) -> Any:
    """``value`` through the codec and an actual JSON text, as on the wire."""
    return rpc.decode(json.loads(json.dumps(rpc.encode(value))))


# -- the codec --------------------------------------------------------------------------------


def test_json_values_round_trip_unchanged() -> None:
    values: list[Any] = [None, "text", "", 0, -3, 2.5, True, False, [], {}, [1, "a", None]]
    for value in values:
        assert round_trip(value) == value
    nested = {"a": [1, {"b": [True, None, "c"]}], "d": {"e": {"f": 1.5}}}
    assert round_trip(nested) == nested


def test_tuples_and_sets_come_back_as_lists_and_keys_as_strings() -> None:
    assert round_trip((1, "a", (2, 3))) == [1, "a", [2, 3]]
    assert round_trip([(1,), (2,)]) == [[1], [2]]
    assert round_trip(frozenset({4})) == [4]
    assert round_trip({1: (1, 2), "x": {2: None}}) == {"1": [1, 2], "x": {"2": None}}


def test_views_round_trip() -> None:
    assert round_trip(POLICY) == POLICY
    assert round_trip(RULE) == RULE
    unnamed = RuleView("r-2", "alice", "p(1)", None, "")
    assert round_trip(unnamed) == unnamed
    both = round_trip((POLICY, [RULE, unnamed]))
    assert both == [POLICY, [RULE, unnamed]]
    assert isinstance(both[0], PolicyView) and isinstance(both[1][0], RuleView)
    assert round_trip({"policy": POLICY, "rules": {"r1": RULE}}) == {
        "policy": POLICY,
        "rules": {"r1": RULE},
    }


def test_simulate_results_and_literals_round_trip() -> None:
    answers = [
        parse_literal('q("vm1", 2)'),
        parse_literal("not nova:servers(x, y)"),
        parse_literal('execute[nova:reboot("vm2")]'),
        parse_literal("error(-1, 2.5)"),
    ]
    result = SimulateResult(answers, trace="RUN q(x)")
    back = round_trip(result)
    assert isinstance(back, SimulateResult)
    assert back == result
    assert back.answers[1].negated and back.answers[1].policy == "nova"
    assert back.answers[2].modal == "execute"
    assert round_trip(SimulateResult([])) == SimulateResult([], None)
    assert round_trip(answers[0]) == answers[0]
    assert round_trip({"lits": (answers[0], [answers[3]])}) == {"lits": [answers[0], [answers[3]]]}


def test_problems_round_trip() -> None:
    located = Problem("unsafe_rule", "x is unsafe", 3, 7, "alice", "p(x) :- q(y)")
    bare = Problem("policy_parse_error", "line 1, column 4: unexpected end")
    assert round_trip(located) == located
    assert round_trip([located, bare]) == [located, bare]
    assert isinstance(round_trip(bare), Problem)


def test_encode_refuses_other_objects() -> None:
    class Thing:
        pass

    with pytest.raises(TypeError, match="Thing"):
        rpc.encode(Thing())
    with pytest.raises(TypeError):
        rpc.encode({"nested": [object()]})
    with pytest.raises(TypeError):
        rpc.encode(datetime.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="Nope"):
        rpc.decode({"__type__": "Nope", "fields": {}})


# -- serving and calling ----------------------------------------------------------------------


class Target:
    """A served object: every method answers what the test asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def f(self, a: int, b: int = 2) -> list[int]:
        self.calls.append(("f", {"a": a, "b": b}))
        return [a, b]

    def echo(self, **kw: Any) -> Any:
        self.calls.append(("echo", kw))
        return kw

    def views(self) -> tuple[PolicyView, list[RuleView]]:
        return POLICY, [RULE]

    def policy_error(self) -> None:
        raise PolicyError(
            [
                Problem("policy_parse_error", "line 2, column 5: unexpected ')'", 2, 5),
                Problem("unsafe_rule", "y is unsafe", 3, 1, "alice", "p(x) :- q(y)"),
            ]
        )

    def not_found(self) -> None:
        raise errors.PolicyNotFound("Policy alice not found")

    def engine_not_found(self) -> None:
        raise datalog_errors.PolicyNotFound("alice")

    def duplicate(self) -> None:
        raise db_errors.DuplicateName("policy", "alice")

    def invalid(self) -> None:
        raise errors.InvalidLibraryPolicy("rules[2].comment", "too long")

    def crash(self) -> None:
        _ = 1 / 0

    def unserved(self) -> str:
        return "should never be called"


SERVED = {"f", "echo", "views", "policy_error", "not_found", "engine_not_found"}
SERVED |= {"duplicate", "invalid", "crash"}


class RecordingBus(InProcessBus):
    """Records what each call sends: (method, kwargs, timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any], float | None]] = []

    def call(
        self,
        service: str,
        method: str,
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        self.sent.append((method, dict(kwargs or {}), timeout))
        return super().call(service, method, kwargs, timeout=timeout)


@pytest.fixture
def target() -> Target:
    return Target()


@pytest.fixture
def remote(target: Target) -> rpc.Remote:
    bus = InProcessBus()
    rpc.serve(bus, "svc", target, SERVED)
    return rpc.Remote(bus, "svc", spec=Target)


def test_keyword_arguments_and_answers_travel(remote: rpc.Remote, target: Target) -> None:
    assert remote.f(a=1, b=5) == [1, 5]
    assert remote.echo(x=(1, 2), view=POLICY, lit=parse_literal("p(1)")) == {
        "x": [1, 2],
        "view": POLICY,
        "lit": parse_literal("p(1)"),
    }
    assert target.calls[-1] == ("echo", {"x": [1, 2], "view": POLICY, "lit": parse_literal("p(1)")})
    assert remote.views() == [POLICY, [RULE]]
    assert remote.call("f", a=3) == [3, 2]


def test_positional_arguments_are_named_after_the_spec(remote: rpc.Remote, target: Target) -> None:
    assert remote.f(1) == [1, 2]
    assert target.calls == [("f", {"a": 1, "b": 2})]
    assert remote.f(4, 5) == [4, 5]
    assert remote.f(6, b=7) == [6, 7]
    assert target.calls[1:] == [("f", {"a": 4, "b": 5}), ("f", {"a": 6, "b": 7})]
    with pytest.raises(TypeError):
        remote.f(1, 2, 3)  # more than the spec's method takes: nothing is sent
    assert len(target.calls) == 3


def test_positional_arguments_travel_as_keywords_with_the_spec_defaults(target: Target) -> None:
    bus = RecordingBus()
    rpc.serve(bus, "svc", target, SERVED)
    assert rpc.Remote(bus, "svc", spec=Target).f(1) == [1, 2]
    assert [(method, kwargs) for method, kwargs, _ in bus.sent] == [("f", {"a": 1, "b": 2})]


def test_timeouts_per_call_per_method_and_per_proxy(target: Target) -> None:
    bus = RecordingBus()
    rpc.serve(bus, "svc", target, SERVED)
    remote = rpc.Remote(bus, "svc", timeout=3.0, timeouts={"f": 7.0})
    remote.f(a=1)
    remote.echo()
    remote.call("f", timeout=1.0, a=1)
    remote.call("echo", timeout=1.0)
    assert [(method, timeout) for method, _, timeout in bus.sent] == [
        ("f", 7.0),
        ("echo", 3.0),
        ("f", 1.0),
        ("echo", 1.0),
    ]
    rpc.Remote(bus, "svc").echo()
    assert bus.sent[-1][2] is None  # the bus's own timeout
    # an engine's wait for a revision gets the wait and some more
    engine_bus = RecordingBus()
    engine = rpc.RemoteEngine(engine_bus, timeout=2.0)
    with pytest.raises(errors.EngineUnavailable):
        engine.wait_for_revision(3, 20.0)
    with pytest.raises(errors.EngineUnavailable):
        engine.list_policies()
    assert [(method, timeout) for method, _, timeout in engine_bus.sent] == [
        ("wait_for_revision", 25.0),
        ("list_policies", 2.0),
    ]


def test_positional_arguments_without_a_spec_are_refused(target: Target) -> None:
    bus = InProcessBus()
    rpc.serve(bus, "svc", target, SERVED)
    plain = rpc.Remote(bus, "svc")
    with pytest.raises(TypeError, match="keyword"):
        plain.f(1)
    assert target.calls == []
    assert plain.f(a=1) == [1, 2]


def test_private_names_are_not_remote_methods(remote: rpc.Remote) -> None:
    with pytest.raises(AttributeError):
        remote._secret()


# -- errors -----------------------------------------------------------------------------------


def test_a_policy_error_arrives_with_its_problems(remote: rpc.Remote) -> None:
    with pytest.raises(PolicyError) as raised:
        remote.policy_error()
    with pytest.raises(PolicyError) as here:
        Target().policy_error()
    original, exc = here.value, raised.value
    assert type(exc) is PolicyError
    assert exc.problems == original.problems
    assert [(p.line, p.column) for p in exc.problems] == [(2, 5), (3, 1)]
    assert all(isinstance(p, Problem) for p in exc.problems)
    assert exc.code == "policy_parse_error"
    assert exc.message == original.message
    assert str(exc) == str(original)
    assert exc.first == original.first


def test_service_errors_arrive_as_themselves(remote: rpc.Remote) -> None:
    with pytest.raises(errors.PolicyNotFound) as not_found:
        remote.not_found()
    assert type(not_found.value) is errors.PolicyNotFound
    assert not_found.value.status == 404
    assert not_found.value.code == "policy_not_found"
    assert not_found.value.message == "Policy alice not found"
    assert str(not_found.value) == "Policy alice not found"

    with pytest.raises(errors.InvalidLibraryPolicy) as invalid:
        remote.invalid()
    assert invalid.value.field == "rules[2].comment"
    assert invalid.value.status == 400
    assert str(invalid.value) == "rules[2].comment: too long"

    with pytest.raises(datalog_errors.PolicyNotFound) as engine:
        remote.engine_not_found()
    assert type(engine.value) is datalog_errors.PolicyNotFound
    assert engine.value.name == "alice"
    assert str(engine.value) == "Unknown policy alice"


def test_database_errors_arrive_as_themselves(remote: rpc.Remote) -> None:
    with pytest.raises(db_errors.DuplicateName) as raised:
        remote.duplicate()
    assert type(raised.value) is db_errors.DuplicateName
    assert raised.value.code == "duplicate_name"
    assert (raised.value.kind, raised.value.name) == ("policy", "alice")
    assert str(raised.value) == "policy name already in use: alice"


def test_an_unexpected_error_is_logged_and_arrives_as_internal_error(
    remote: rpc.Remote, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="congress.services.rpc"),
        pytest.raises(errors.InternalError) as raised,
    ):
        remote.crash()
    assert raised.value.status == 500
    assert raised.value.code == "internal_error"
    assert "ZeroDivisionError" in str(raised.value)
    logged = [r for r in caplog.records if r.name == "congress.services.rpc"]
    assert len(logged) == 1
    assert "svc.crash failed" in logged[0].getMessage()
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is ZeroDivisionError


def test_expected_errors_are_not_logged_as_failures(
    remote: rpc.Remote, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="congress.services.rpc"):
        for method in ("policy_error", "not_found", "duplicate"):
            with pytest.raises(Exception):  # noqa: B017 (each is checked above)
                remote.call(method)
    assert [r for r in caplog.records if r.name == "congress.services.rpc"] == []


def test_a_method_not_served_is_a_bad_request(remote: rpc.Remote, target: Target) -> None:
    with pytest.raises(errors.BadRequest) as raised:
        remote.unserved()
    assert type(raised.value) is errors.BadRequest
    assert raised.value.status == 400
    assert "unserved" in str(raised.value)
    with pytest.raises(errors.BadRequest):
        remote.no_such_method()
    assert target.calls == []


def test_a_service_nobody_serves_is_unavailable() -> None:
    bus = InProcessBus()
    remote = rpc.Remote(
        bus, rpc.DATASOURCES, unavailable=errors.DatasourcesUnavailable, what="datasources node"
    )
    with pytest.raises(errors.DatasourcesUnavailable) as raised:
        remote.list_datasources()
    assert raised.value.status == 503
    assert raised.value.retry_after == 5
    assert "datasources node" in str(raised.value)
    with pytest.raises(errors.Unavailable):
        rpc.Remote(bus, "nobody").anything()


def test_a_bus_that_fails_the_call_makes_it_unavailable() -> None:
    class DownBus(InProcessBus):
        def call(self, *args: Any, **kwargs: Any) -> Any:
            from congress.bus import BusUnavailable

            raise BusUnavailable("timed out")

    remote = rpc.Remote(DownBus(), rpc.ENGINE, unavailable=errors.EngineUnavailable)
    with pytest.raises(errors.EngineUnavailable) as raised:
        remote.list_policies()
    assert raised.value.status == 503 and "timed out" in str(raised.value)


# -- the written revision ---------------------------------------------------------------------


def test_the_written_revision_travels_with_the_answer(target: Target) -> None:
    bus = InProcessBus()
    rpc.serve(bus, "svc", target, SERVED, written_revision=lambda: 7)
    remote = rpc.Remote(bus, "svc")
    assert remote.take_written_revision() is None
    assert remote.f(a=1) == [1, 2]
    assert remote.take_written_revision() == 7
    assert remote.take_written_revision() is None
    # also when the call fails (a write may have happened first)
    with pytest.raises(errors.PolicyNotFound):
        remote.not_found()
    assert remote.take_written_revision() == 7


def test_no_revision_travels_when_nothing_was_written(target: Target) -> None:
    bus = InProcessBus()
    rpc.serve(bus, "svc", target, SERVED, written_revision=lambda: None)
    remote = rpc.Remote(bus, "svc")
    answer = bus.call("svc", "f", {"a": 1})
    assert answer == {"result": [1, 2]}
    assert remote.f(a=1) == [1, 2]
    assert remote.take_written_revision() is None


# -- RemoteEngine against a real policy engine ------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


@pytest.fixture
def engine(database: Engine) -> PolicyEngineService:
    svc = PolicyEngineService(database, clock=lambda: CLOCK)
    svc.start()
    return svc


@pytest.fixture
def remote_engine(engine: PolicyEngineService) -> rpc.RemoteEngine:
    bus = InProcessBus()
    rpc.serve(
        bus, rpc.ENGINE, engine, rpc.ENGINE_METHODS, written_revision=engine.take_written_revision
    )
    return rpc.RemoteEngine(bus)


def test_remote_engine_policies_and_rules(
    remote_engine: rpc.RemoteEngine, engine: PolicyEngineService
) -> None:
    assert {p.name for p in remote_engine.list_policies()} == {"classification", "action"}
    policy, rules = remote_engine.create_policy(
        "alice", description="test", abbreviation="al", rules=[{"rule": "p(1)"}]
    )
    assert isinstance(policy, PolicyView)
    assert policy == engine.get_policy("alice")
    assert (policy.description, policy.abbreviation) == ("test", "al")
    assert [r.rule for r in rules] == ["p(1)"] and isinstance(rules[0], RuleView)
    assert remote_engine.take_written_revision() == engine.revision

    rule = remote_engine.create_rule("alice", "q(x) :- p(x)", name="r1", comment="c")
    assert rule == engine.get_rule("alice", rule.id)
    assert remote_engine.take_written_revision() == engine.revision
    assert remote_engine.take_written_revision() is None
    assert remote_engine.get_policy("alice") == policy
    assert remote_engine.get_rule("alice", rule.id) == rule
    assert sorted(r.rule for r in remote_engine.list_rules("alice")) == ["p(1)", "q(x) :- p(x)"]
    assert remote_engine.list_rules("alice") == engine.list_rules("alice")
    assert remote_engine.list_policies() == engine.list_policies()
    assert remote_engine.tables("alice") == engine.tables("alice")
    assert remote_engine.rows("alice", "q") == [[1]]
    assert remote_engine.take_written_revision() is None  # reads write nothing

    assert remote_engine.delete_rule("alice", rule.id) == rule
    assert "q" not in remote_engine.tables("alice")
    assert remote_engine.rows("alice", "p") == [[1]]
    assert remote_engine.delete_policy("alice") == policy
    assert "alice" not in {p.name for p in remote_engine.list_policies()}
    assert remote_engine.current_revision() == engine.revision
    assert remote_engine.wait_for_revision(engine.revision, 0.1) is True


def test_remote_engine_simulate(remote_engine: rpc.RemoteEngine) -> None:
    remote_engine.create_policy("alice")
    remote_engine.create_rule("alice", "p(1)")
    remote_engine.create_rule("alice", "q(x) :- p(x)")
    result = remote_engine.simulate("alice", "q(x)", "p+(2) p-(1)", "action")
    assert isinstance(result, SimulateResult)
    assert result.answers == [parse_literal("q(2)")]
    assert result.trace is None
    traced = remote_engine.simulate("alice", "q(x)", "p+(3)", None, trace=True)
    assert sorted(traced.answers, key=str) == sorted(
        [parse_literal("q(1)"), parse_literal("q(3)")], key=str
    )
    assert isinstance(traced.trace, str) and traced.trace
    assert remote_engine.rows("alice", "q") == [[1]]  # a simulation changes nothing


def test_remote_engine_errors_keep_their_class(remote_engine: rpc.RemoteEngine) -> None:
    remote_engine.create_policy("alice")
    with pytest.raises(PolicyError) as parse:
        remote_engine.create_rule("alice", "p(x) :- q(x,")
    assert parse.value.code == "policy_parse_error"
    assert parse.value.problems[0].line == 1
    with pytest.raises(errors.PolicyNotFound) as missing:
        remote_engine.get_policy("nosuch")
    assert missing.value.status == 404
    with pytest.raises(errors.NotFound):
        remote_engine.rows("alice", "nosuch")
    with pytest.raises(errors.SystemPolicy):
        remote_engine.delete_policy("classification")
    remote_engine.create_rule("alice", "p(1)")
    with pytest.raises(errors.RuleExists):
        remote_engine.create_rule("alice", "p(1)")


def test_remote_engine_without_an_engine_is_unavailable() -> None:
    remote = rpc.RemoteEngine(InProcessBus())
    with pytest.raises(errors.EngineUnavailable) as raised:
        remote.list_policies()
    assert raised.value.status == 503
    assert remote.generation is None
