"""The official client (``openstack congress ...``, python-congressclient 2.0.1) against the server.

Every command of the client's surface (the client contract, ``client-api.md`` of the shared
spec) runs against a real ``congress-server``; the three commands whose output formatting
crashes on Python 3 whatever the server answers (``datasource schema show``,
``datasource actions show`` and ``driver schema show`` when non-empty) are checked through the
client's Python library, which sends the same requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Run = Callable[..., tuple[int, str, str]]
Ok = Callable[..., Any]
Name = Callable[[str], str]
Library = Callable[[str], Any]

POLICY_FIELDS = {"id", "name", "owner_id", "kind", "description", "abbreviation"}


def _rule_blocks(text: str) -> list[dict[str, Any]]:
    """Parse ``policy rule list`` output: ``// ID:``, ``// Name:``, optional comment, the rule."""
    rules = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        assert lines[0].startswith("// ID: ") and lines[1].startswith("// Name: "), text
        comment = None
        rest = lines[2:]
        if rest and rest[0].startswith("// "):
            comment = rest[0][3:]
            rest = rest[1:]
        rules.append(
            {
                "id": lines[0][len("// ID: ") :],
                "name": lines[1][len("// Name: ") :],
                "comment": comment,
                "rule": "\n".join(rest),
            }
        )
    return rules


def _split_trace(out: str) -> tuple[str, Any]:
    """``policy row list --trace`` prints the trace, then the JSON table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("["))
    return "\n".join(lines[:start]), json.loads("\n".join(lines[start:]))


def _failed(result: tuple[int, str, str]) -> str:
    rc, out, err = result
    assert rc == 1, f"expected exit 1, got {rc}:\n{out}\n{err}"
    return err


# --- version ---------------------------------------------------------------------------------


def test_version_list(ok: Ok) -> None:
    assert ok("version", "list") == [
        {"id": "v1", "status": "CURRENT", "updated": "2013-08-12T17:42:13Z"}
    ]


# --- policies --------------------------------------------------------------------------------


def test_policy_create_list_show_delete(ok: Ok, openstack: Run, name: Name) -> None:
    full = name("pfull")
    made = ok(
        "policy",
        "create",
        full,
        "--description",
        "all options",
        "--abbreviation",
        "abc",
        "--kind",
        "database",
    )
    assert set(made) == POLICY_FIELDS
    assert made["name"] == full
    assert made["description"] == "all options"
    assert made["abbreviation"] == "abc"
    assert made["kind"] == "database"
    assert made["id"]

    # the client sends "description", "abbreviation" and "kind" as null: the defaults apply
    bare = name("pbare")
    plain = ok("policy", "create", bare)
    assert plain["kind"] == "nonrecursive"
    assert plain["abbreviation"] == bare[:5]
    assert plain["description"] == ""
    assert plain["owner_id"] == "user"

    listed = ok("policy", "list")
    by_name = {p["name"]: p for p in listed}
    assert {"classification", "action", full, bare} <= set(by_name)
    assert all(list(p) == ["id", "name", "owner_id", "kind", "description"] for p in listed)
    assert by_name[full] == {k: v for k, v in made.items() if k != "abbreviation"}

    settings = {"dry_run": False, "action_grace_seconds": None}  # docs/enforcement.md
    assert ok("policy", "show", full) == {**made, **settings}  # by name
    assert ok("policy", "show", plain["id"]) == {**plain, **settings}  # by id

    assert ok("policy", "delete", full) == ""  # by name
    assert ok("policy", "delete", plain["id"]) == ""  # by id
    names = {p["name"] for p in ok("policy", "list")}
    assert full not in names and bare not in names
    assert "(HTTP 404)" in _failed(openstack("policy", "show", full))


def test_policy_create_errors(ok: Ok, openstack: Run, name: Name) -> None:
    policy = name("pdup")
    ok("policy", "create", policy)
    err = _failed(openstack("policy", "create", policy))
    assert "(HTTP 409)" in err and policy in err
    err = _failed(openstack("policy", "create", name("pabbr"), "--abbreviation", "abcdefg"))
    assert "(HTTP 400)" in err and "abbreviation" in err
    err = _failed(openstack("policy", "create", "not a name"))  # not a Datalog service name
    assert "(HTTP 400)" in err
    err = _failed(openstack("policy", "table", "show", policy, "nope"))
    assert "(HTTP 404)" in err


def test_unknown_policy_is_404(openstack: Run) -> None:
    # resolved by the client from the list: no such name or id
    err = _failed(openstack("policy", "show", "no_such_policy"))
    assert "no_such_policy" in err and "(HTTP 404)" in err
    # sent as given: the server's 404 and its message
    for args in (
        ("policy", "rule", "list", "no_such_policy"),
        ("policy", "rule", "create", "no_such_policy", "p(1)"),
        ("policy", "table", "list", "no_such_policy"),
        ("policy", "row", "list", "no_such_policy", "p"),
    ):
        err = _failed(openstack(*args))
        assert "no_such_policy" in err and "(HTTP 404)" in err, args


def test_policy_create_from_file(ok: Ok, openstack: Run, name: Name, tmp_path: Path) -> None:
    policy = name("pfile")
    path = tmp_path / "policy.yaml"
    path.write_text(
        f"name: {policy}\n"
        "description: made from a file\n"
        "kind: nonrecursive\n"
        "abbreviation: ffile\n"
        "rules:\n"
        "  - rule: p(x) :- q(x)\n"
        "    name: first\n"
        "    comment: derived\n"
        "  - rule: q(1)\n"
    )
    made = ok("policy", "create-from-file", str(path))
    assert set(made) == POLICY_FIELDS | {"rules"}
    assert made["name"] == policy
    assert made["description"] == "made from a file"
    assert made["abbreviation"] == "ffile"
    assert made["kind"] == "nonrecursive"
    # the client joins rules[*].rule with newlines
    assert [line.replace(" ", "") for line in made["rules"].splitlines()] == [
        "p(x):-q(x)",
        "q(1)",
    ]

    rules = _rule_blocks(ok("policy", "rule", "list", policy))
    assert [(r["name"], r["comment"]) for r in rules] == [("first", "derived"), ("None", None)]
    assert ok("policy", "row", "list", policy, "p") == [{"Col0": 1}]
    assert ok("policy", "show", policy)["id"] == made["id"]

    # an empty rule list: the answer still has "rules" (the client indexes it)
    empty = name("pnorules")
    path.write_text(f"name: {empty}\ndescription: no rules\nrules: []\n")
    made = ok("policy", "create-from-file", str(path))
    assert made["name"] == empty and made["rules"] == ""


# --- rules -----------------------------------------------------------------------------------


def test_policy_rules(ok: Ok, openstack: Run, name: Name) -> None:
    policy = name("prules")
    ok("policy", "create", policy)
    named = ok(
        "policy", "rule", "create", policy, "q(x) :- r(x), s(x)", "--name", "qr", "--comment", "hi"
    )
    assert set(named) == {"id", "name", "comment", "rule"}
    assert named["name"] == "qr" and named["comment"] == "hi"
    assert named["rule"] == "q(x) :-\n  r(x),\n  s(x)"  # re-indented as the original does
    fact = ok("policy", "rule", "create", policy, "r(1)")
    assert fact["rule"] == "r(1)" and fact["name"] is None and fact["comment"] == ""
    other = ok("policy", "rule", "create", policy, "s(1)", "--name", "sfact")

    err = _failed(openstack("policy", "rule", "create", policy, "r(1)"))
    assert "(HTTP 409)" in err

    rules = _rule_blocks(ok("policy", "rule", "list", policy))
    assert [r["id"] for r in rules] == [named["id"], fact["id"], other["id"]]
    assert [r["name"] for r in rules] == ["qr", "None", "sfact"]
    assert [r["comment"] for r in rules] == ["hi", None, None]
    assert " ".join(rules[0]["rule"].split()) == "q(x) :- r(x), s(x)"
    assert rules[1]["rule"] == "r(1)"

    shown = ok("policy", "rule", "show", policy, named["id"])  # by id
    assert shown["id"] == named["id"] and shown["name"] == "qr" and shown["comment"] == "hi"
    assert " ".join(shown["rule"].split()) == "q(x) :- r(x), s(x)"
    assert ok("policy", "rule", "show", policy, "sfact")["id"] == other["id"]  # by name
    err = _failed(openstack("policy", "rule", "show", policy, "no_such_rule"))
    assert "(HTTP 404)" in err

    assert ok("policy", "row", "list", policy, "q") == [{"Col0": 1}]
    assert ok("policy", "rule", "delete", policy, named["id"]) == ""  # by id
    assert ok("policy", "rule", "delete", policy, "sfact") == ""  # by name
    assert [r["id"] for r in _rule_blocks(ok("policy", "rule", "list", policy))] == [fact["id"]]
    assert ok("policy", "row", "list", policy, "r") == [{"Col0": 1}]


def test_rule_syntax_error(ok: Ok, openstack: Run, name: Name) -> None:
    policy = name("psyntax")
    ok("policy", "create", policy)
    err = _failed(openstack("policy", "rule", "create", policy, "q(x :- r(x)"))
    assert "(HTTP 400)" in err
    assert "line 1" in err and "column 5" in err, err
    assert ok("policy", "rule", "list", policy).strip() == ""  # nothing was added


# --- policy tables, rows and simulation ------------------------------------------------------


def test_policy_tables_and_rows(ok: Ok, openstack: Run, name: Name) -> None:
    policy = name("ptables")
    ok("policy", "create", policy)
    for rule in ("q(x, y) :- r(x), s(y)", "none(x) :- r(x), s(x)", "r(1)", "r(2)", 's("a")'):
        ok("policy", "rule", "create", policy, rule)

    tables = sorted(t["id"] for t in ok("policy", "table", "list", policy))
    assert tables == ["none", "q", "r", "s"]
    assert ok("policy", "table", "show", policy, "q") == {"id": "q"}

    rows = ok("policy", "row", "list", policy, "q")
    assert sorted(rows, key=lambda r: r["Col0"]) == [
        {"Col0": 1, "Col1": "a"},
        {"Col0": 2, "Col1": "a"},
    ]
    assert ok("policy", "row", "list", policy, "none") == []  # no rows: no columns either

    rc, out, err = openstack("policy", "row", "list", policy, "q", "--trace")
    assert rc == 0, err
    trace, rows = _split_trace(out)
    assert sorted(rows, key=lambda r: r["Col0"]) == [
        {"Col0": 1, "Col1": "a"},
        {"Col0": 2, "Col1": "a"},
    ]
    assert f"{policy}:q(1" in trace and "r(1)" in trace, trace


def _simulation_setup(ok: Ok, name: Name) -> tuple[str, str]:
    policy, actions = name("psim"), name("pact")
    ok("policy", "create", policy)
    ok("policy", "create", actions, "--kind", "action")
    for rule in ('vms("vm1")', 'vms("vm2")', "bad(x) :- vms(x), not good(x)", 'good("vm2")'):
        ok("policy", "rule", "create", policy, rule)
    ok("policy", "rule", "create", actions, 'action("boot")')
    ok("policy", "rule", "create", actions, "vms+(x) :- boot(x)")
    return policy, actions


def test_policy_simulate(ok: Ok, name: Name) -> None:
    policy, actions = _simulation_setup(ok, name)
    sequence = 'boot("vm4") good-("vm2")'

    out = ok("policy", "simulate", policy, "bad(x)", sequence, actions)
    assert sorted(out.split()) == ['bad("vm1")', 'bad("vm2")', 'bad("vm4")']

    out = ok("policy", "simulate", policy, "bad(x)", sequence, actions, "--delta")
    assert sorted(out.split()) == ['bad+("vm2")', 'bad+("vm4")']

    # nothing persists
    assert ok("policy", "row", "list", policy, "bad") == [{"Col0": "vm1"}]
    assert sorted(r["Col0"] for r in ok("policy", "row", "list", policy, "vms")) == ["vm1", "vm2"]
    assert ok("policy", "row", "list", policy, "good") == [{"Col0": "vm2"}]


def test_policy_simulate_trace(ok: Ok, name: Name) -> None:
    policy, actions = _simulation_setup(ok, name)
    out = ok("policy", "simulate", policy, "bad(x)", 'vms+("vm3")', actions, "--trace")
    lines = out.splitlines()
    # the results first, one per line, then the trace
    assert sorted(lines[:2]) == ['bad("vm1")', 'bad("vm3")']
    assert "\n".join(lines[2:]).strip(), out

    out = ok("policy", "simulate", policy, "bad(x)", 'boot("vm4")', actions, "--delta", "--trace")
    lines = out.splitlines()
    assert lines[0] == 'bad+("vm4")'
    assert "boot" in "\n".join(lines[1:]), out


# --- drivers ---------------------------------------------------------------------------------


def test_driver_list_and_config_show(ok: Ok, openstack: Run) -> None:
    drivers = ok("driver", "list")
    assert all(list(d) == ["id", "description"] for d in drivers)
    assert {"push", "doctor"} <= {d["id"] for d in drivers}

    push = ok("driver", "config", "show", "push")
    assert set(push) == {"id", "description", "config", "secret", "module"}  # "tables" removed
    assert push["id"] == "push"
    assert push["config"]["tables"] == "required"
    assert set(push["config"].values()) <= {"required", "(optional)"}
    assert isinstance(push["secret"], list)

    doctor = ok("driver", "config", "show", "doctor")
    assert doctor["id"] == "doctor" and "tables" not in doctor

    err = _failed(openstack("driver", "config", "show", "no_such_driver"))
    assert "(HTTP 404)" in err


# --- datasources -----------------------------------------------------------------------------

TABLES = '{"t": ["a", "b"]}'


def test_datasource_lifecycle(ok: Ok, openstack: Run, name: Name) -> None:
    ds = name("ds")
    made = ok("datasource", "create", "push", ds, "--config", f"tables={TABLES}")
    assert set(made) == {"id", "name", "driver", "description", "config", "enabled", "type"} | {
        "owner_id",  # docs/tenancy.md: user (the operator's) or the owning project
        "shared_with",
        "project_columns",
    }
    assert made["owner_id"] == "user"
    assert made["name"] == ds and made["driver"] == "push" and made["enabled"] is True
    assert made["config"] == {"tables": TABLES}

    described = name("dsdesc")
    other = ok(
        "datasource",
        "create",
        "push",
        described,
        "--description",
        "pushed by tests",
        "--config",
        f"tables={TABLES}",
    )
    assert other["description"] == "pushed by tests"

    listed = {d["name"]: d for d in ok("datasource", "list")}
    assert list(listed[ds]) == ["id", "name", "enabled", "driver", "config"]
    assert listed[ds]["id"] == made["id"] and listed[ds]["driver"] == "push"
    assert listed[ds]["enabled"] is True
    assert listed[ds]["config"] == str({"tables": TABLES})  # the client's format_dict

    assert ok("datasource", "table", "list", ds) == [{"id": "t"}]
    assert ok("datasource", "table", "show", ds, "t") == {"id": "t"}
    assert ok("datasource", "table", "show", made["id"], "t") == {"id": "t"}
    schema = ok("datasource", "table", "schema", "show", ds, "t")
    assert [c["name"] for c in schema] == ["a", "b"]
    assert all(set(c) == {"name", "description"} for c in schema)

    assert ok("datasource", "row", "list", ds, "t") == []
    assert ok("datasource", "row", "update", ds, "t", '[["x", 1], ["y", 2]]') == ""
    rows = ok("datasource", "row", "list", ds, "t")
    assert sorted(rows, key=lambda r: r["a"]) == [{"a": "x", "b": 1}, {"a": "y", "b": 2}]
    ok("datasource", "row", "update", ds, "t", '[["z", 3]]')  # replaces the whole table
    assert ok("datasource", "row", "list", ds, "t") == [{"a": "z", "b": 3}]

    status = ok("datasource", "status", "show", ds)
    assert {"last_updated", "last_error", "number_of_updates", "initialized"} <= set(status)

    assert ok("datasource", "request-refresh", ds) == ""  # by name
    assert ok("datasource", "request-refresh", made["id"]) == ""  # by id
    err = _failed(openstack("datasource", "request-refresh", "no_such_ds"))
    assert "no_such_ds" in err and "(HTTP 404)" in err

    assert ok("datasource", "delete", ds) == ""  # by name
    assert ok("datasource", "delete", other["id"]) == ""  # by id
    names = {d["name"] for d in ok("datasource", "list")}
    assert ds not in names and described not in names
    assert "(HTTP 404)" in _failed(openstack("datasource", "table", "list", ds))


def test_datasource_create_errors(ok: Ok, openstack: Run, name: Name) -> None:
    err = _failed(openstack("datasource", "create", "no_such_driver", name("dsbad")))
    assert "(HTTP 400)" in err
    err = _failed(openstack("datasource", "create", "push", name("dsbad")))  # tables missing
    assert "(HTTP 400)" in err
    err = _failed(
        openstack(
            "datasource",
            "create",
            "push",
            name("dsbad"),
            "--config",
            "tables={}",
            "--config",
            "x=1",
        )
    )
    assert "(HTTP 400)" in err
    ds = name("dsdup")
    ok("datasource", "create", "push", ds, "--config", f"tables={TABLES}")
    err = _failed(openstack("datasource", "create", "push", ds, "--config", f"tables={TABLES}"))
    assert "(HTTP 409)" in err


def test_datasource_errors(ok: Ok, openstack: Run, name: Name) -> None:
    ds = name("dserr")
    ok("datasource", "create", "push", ds, "--config", f"tables={TABLES}")
    for args in (
        ("datasource", "table", "show", ds, "nope"),
        ("datasource", "table", "schema", "show", ds, "nope"),
        ("datasource", "row", "list", ds, "nope"),
        ("datasource", "status", "show", "no_such_ds"),
        ("datasource", "table", "list", "no_such_ds"),
    ):
        assert "(HTTP 404)" in _failed(openstack(*args)), args
    for rows in ('[["only one value"]]', '{"not": "a list"}'):
        assert "(HTTP 400)" in _failed(openstack("datasource", "row", "update", ds, "t", rows))
    assert ok("datasource", "row", "list", ds, "t") == []  # nothing was replaced
    # deleting an unknown datasource: DELETE by name, then the client's own lookup fails
    assert "(HTTP 404)" in _failed(openstack("datasource", "delete", "no_such_ds"))


def test_doctor_row_update(ok: Ok, name: Name) -> None:
    ds = name("doctor")
    ok("datasource", "create", "doctor", ds)
    assert ok("datasource", "table", "list", ds) == [{"id": "events"}]
    event = {
        "time": "2016-04-12T08:00:00",
        "type": "compute.host.down",
        "details": {
            "hostname": "compute1",
            "status": "down",
            "monitor": "zabbix1",
            "monitor_event_id": "111",
        },
    }
    ok("datasource", "row", "update", ds, "events", json.dumps([event]))
    assert ok("datasource", "row", "list", ds, "events") == [
        {
            "time": "2016-04-12T08:00:00",
            "type": "compute.host.down",
            "hostname": "compute1",
            "status": "down",
            "monitor": "zabbix1",
            "monitor_event_id": "111",
        }
    ]
    ok("datasource", "row", "update", ds, "events", "[]")
    assert ok("datasource", "row", "list", ds, "events") == []


def test_policy_over_pushed_rows(ok: Ok, name: Name) -> None:
    ds, policy = name("dsinv"), name("pinv")
    ok("datasource", "create", "push", ds, "--config", 'tables={"servers": ["id", "status"]}')
    ok("policy", "create", policy)
    ok("policy", "rule", "create", policy, f'error(vm) :- {ds}:servers(id=vm, status="ERROR")')
    ok("datasource", "row", "update", ds, "servers", '[["vm1", "ERROR"], ["vm2", "ACTIVE"]]')
    assert ok("policy", "row", "list", policy, "error") == [{"Col0": "vm1"}]
    ok("datasource", "row", "update", ds, "servers", '[["vm2", "ERROR"]]')
    assert ok("policy", "row", "list", policy, "error") == [{"Col0": "vm2"}]


# --- the three commands that crash on Python 3: the same requests through the library --------


def test_crashing_commands_through_the_library(
    ok: Ok, openstack: Run, name: Name, client_library: Library
) -> None:
    ds = name("dsschema")
    ok("datasource", "create", "push", ds, "--config", f"tables={TABLES}")

    # datasource schema show: GET /v1/data-sources/<D>/schema
    schema = client_library(f"emit(client.show_datasource_schema({ds!r}))")
    assert list(schema) == ["tables"]
    assert [t["table_id"] for t in schema["tables"]] == ["t"]
    assert [c["name"] for c in schema["tables"][0]["columns"]] == ["a", "b"]
    assert all(set(c) == {"name", "description"} for c in schema["tables"][0]["columns"])
    # ... which the CLI cannot format on Python 3 (congressclient's own bug, not the server's)
    err = _failed(openstack("datasource", "schema", "show", ds))
    assert "iteritems" in err

    # datasource actions show: GET /v1/data-sources/<D>/actions
    actions = client_library(f"emit(client.list_datasource_actions({ds!r}))")
    assert isinstance(actions["results"], list)
    for action in actions["results"]:
        assert {"name", "args", "description"} <= set(action)
        assert all({"name", "description"} <= set(a) for a in action["args"])
    if not actions["results"]:
        assert ok("datasource", "actions", "show", ds) == []  # empty: the CLI copes

    # driver schema show: GET /v1/system/drivers/<V>
    doctor = client_library("emit(client.show_driver('doctor'))")
    assert {"id", "description", "config", "secret", "module", "tables"} <= set(doctor)
    assert [t["table_id"] for t in doctor["tables"]] == ["events"]
    assert [c["name"] for c in doctor["tables"][0]["columns"]] == [
        "time",
        "type",
        "hostname",
        "status",
        "monitor",
        "monitor_event_id",
    ]
    assert all(set(c) == {"name", "description"} for c in doctor["tables"][0]["columns"])
    err = _failed(openstack("driver", "schema", "show", "doctor"))
    assert "iteritems" in err


# --- library-only calls (no CLI command in 2.0.1; Horizon and scripts use them) -------------


def test_library_only_calls(ok: Ok, name: Name, client_library: Library) -> None:
    ds = name("dslib")
    made = ok("datasource", "create", "push", ds, "--config", f"tables={TABLES}")
    shown = client_library(f"emit(client.show_datasource({ds!r}))")
    assert shown == made
    status = client_library(f"emit(client.list_datasource_status({ds!r}))")
    assert status == ok("datasource", "status", "show", ds)

    versions = client_library("emit(client.list_api_versions())")
    assert [(v["id"], v["status"]) for v in versions["versions"]] == [("v1", "CURRENT")]

    lib = name("Lib")
    answers = client_library(
        f"""
body = {{"name": {lib!r}, "description": "d", "rules": [{{"rule": "p(1)", "name": "one"}}]}}
made = client.create_library_policy(body)
listed = client.list_library_policy(include_rules=False)["results"]
shown = client.show_library_policy(made["id"], include_rules=True)
from_library = client.create_policy(None, library_policy_id=made["id"])
client.delete_library_policy(made["id"])
after = [p["name"] for p in client.list_library_policy(include_rules=False)["results"]]
emit({{"shown": shown, "listed": listed, "from_library": from_library, "after": after}})
"""
    )
    shown = answers["shown"]
    assert shown["name"] == lib and shown["description"] == "d"
    assert [(r["rule"], r["name"]) for r in shown["rules"]] == [("p(1)", "one")]
    assert lib in {p["name"] for p in answers["listed"]}
    assert all("rules" not in p for p in answers["listed"])
    # POST /v1/policies?library_policy=<id> with an empty body: the library policy's copy
    assert answers["from_library"]["name"] == lib
    assert [r["rule"] for r in answers["from_library"]["rules"]] == ["p(1)"]
    assert lib not in answers["after"]
    assert ok("policy", "row", "list", lib, "p") == [{"Col0": 1}]
