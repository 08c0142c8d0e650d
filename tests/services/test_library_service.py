"""The policy library service (reference sections 1.3, 3.2, 3.3 and 7) on a SQLite file database
with a started policy engine service."""

from __future__ import annotations

import logging
import pathlib
import textwrap
from typing import Any

import pytest
from sqlalchemy.engine import Engine

import congress
from congress.datalog.errors import PolicyError
from congress.db import api as db
from congress.db import migration
from congress.db.engine import make_engine
from congress.services import errors
from congress.services.library import LibraryService
from congress.services.policy_engine import PolicyEngineService

LIBRARY_DIR = pathlib.Path(congress.__file__).resolve().parent / "library"

# name -> (abbreviation, number of rules), reference section 7
SHIPPED = {
    "CrossProjectNetwork": ("xproj", 10),
    "BadFlavors": ("badfl", 4),
    "PauseBadFlavors": ("pbadf", 1),
    "DisallowedServerImages": ("dimg", 11),
    "PauseDisallowedServerImages": ("pdimg", 1),
    "NetworkGateway": ("netgw", 1),
    "SecurityGroups": ("secgr", 6),
    "UnsafeTraffic": ("unsaf", 12),
    "TagBasedNetworkSecurityZone": ("tagsz", 14),
    "VolumeEncryption": ("volen", 4),
    "VolumeEncryptionPauseServer": ("pvole", 1),
    "KubernetesApprovedRegistries": ("k8reg", 4),
    "KubernetesResourceLimits": ("k8lim", 4),
    "KubernetesPrivilegedContainers": ("k8prv", 4),
    "KubernetesNamespaceOwner": ("k8own", 6),
    "ServersPerProject": ("srvpp", 7),
    "HypervisorLoad": ("hvlod", 4),
}

# driver-schemas.md
NOVA = {
    "servers": (
        "id",
        "name",
        "host_id",
        "status",
        "tenant_id",
        "user_id",
        "image_id",
        "flavor_id",
        "zone",
        "host_name",
        "created_at",
    ),
    "flavors": ("id", "name", "vcpus", "ram", "disk", "ephemeral", "rxtx_factor"),
}

WIRE_KEYS = {"id", "name", "description", "kind", "abbreviation", "owner_id", "rules"}


@pytest.fixture
def database(tmp_path: pathlib.Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'congress.sqlite'}"
    migration.upgrade(url)
    return make_engine(url)


@pytest.fixture
def engine(database: Engine) -> PolicyEngineService:
    svc = PolicyEngineService(database)
    svc.start()
    return svc


@pytest.fixture
def library(database: Engine, engine: PolicyEngineService) -> LibraryService:
    return LibraryService(database, engine)


def body(name: str = "Sample", **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "description": "a sample",
        "rules": [
            {"rule": 'allowed("m1.small")', "comment": "customize"},
            {"rule": "error(x) :- used(x), not allowed(x)", "name": "bad"},
        ],
    }
    out.update(kw)
    return out


def write(folder: pathlib.Path, name: str, text: str) -> pathlib.Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- loading ------------------------------------------------------------------------------------
def test_the_shipped_library_loads_whole(library: LibraryService) -> None:
    assert library.load_directory(LIBRARY_DIR) == len(SHIPPED)
    listed = library.list()
    assert [p["name"] for p in listed] == sorted(SHIPPED)
    for p in listed:
        assert set(p) == WIRE_KEYS
        abbreviation, count = SHIPPED[p["name"]]
        assert p["abbreviation"] == abbreviation
        assert p["kind"] == "nonrecursive"
        assert p["description"]
        assert len(p["rules"]) == count
        for r in p["rules"]:
            assert set(r) == {"rule", "name", "comment"}
            assert r["rule"] and isinstance(r["comment"], str)
    bad = library.get("BadFlavors")["rules"]
    assert bad[0] == {
        "rule": 'permitted_flavor("m1.small")',
        "name": None,
        "comment": "(customize) A flavor that servers may use.",
    }


def test_the_library_is_loaded_only_on_first_start(
    database: Engine, engine: PolicyEngineService, library: LibraryService
) -> None:
    assert library.load_on_first_start(LIBRARY_DIR) == len(SHIPPED)
    ids = {p["id"] for p in library.list(include_rules=False)}
    # a restart (a new service on the same database) finds the library and loads nothing
    again = LibraryService(database, engine)
    assert again.load_on_first_start(LIBRARY_DIR) == 0
    assert {p["id"] for p in again.list(include_rules=False)} == ids
    # deleting some policies does not make the next start reload the others
    library.delete("BadFlavors")
    assert again.load_on_first_start(LIBRARY_DIR) == 0
    assert len(library.list()) == len(SHIPPED) - 1
    # an empty table is a first start again
    db.delete_all_library_policies(database)
    assert again.load_on_first_start(LIBRARY_DIR) == len(SHIPPED)


def test_load_directory_adds_to_a_library_and_skips_files_with_taken_names(
    tmp_path: pathlib.Path, library: LibraryService, caplog: pytest.LogCaptureFixture
) -> None:
    library.create(body("Taken"))
    write(
        tmp_path,
        "a.yaml",
        """\
        name: Fresh
        description: new
        rules: [{rule: p(1)}]
        """,
    )
    write(
        tmp_path,
        "b.yaml",
        """\
        name: Other
        description: would be fine alone
        rules: []
        ---
        name: Taken
        description: clashes with the library
        rules: []
        """,
    )
    with caplog.at_level(logging.WARNING, logger="congress.services.library"):
        assert library.load_directory(tmp_path) == 1
    assert [p["name"] for p in library.list()] == ["Fresh", "Taken"]
    assert library.get("Taken")["description"] == "a sample"
    assert "b.yaml skipped: library policy Taken already exists" in caplog.text


def test_bad_files_are_logged_and_skipped(
    tmp_path: pathlib.Path, library: LibraryService, caplog: pytest.LogCaptureFixture
) -> None:
    write(
        tmp_path,
        "good.yaml",
        """\
        ---
        name: Good
        description: two documents, both fine
        kind: materialized
        abbreviation: gd
        depends-on: [Other]
        rules:
          - rule: >
              reach(x, y) :-
                edge(x, y)
            name: base
            comment: the base case
        ---
        name: AlsoGood
        description: second document
        rules: []
        ---
        """,
    )
    write(tmp_path, "sub/nested.yml", "name: Nested\ndescription: in a subfolder\nrules: []\n")
    write(tmp_path, "not_yaml.txt", "name: Ignored\nrules: []\n")
    bad: dict[str, str | bytes] = {
        "broken.yaml": "name: Broken\nrules: [unclosed\n",
        "badrule.yaml": """\
            name: Fine
            description: the second document spoils the file
            rules: [{rule: p(1)}]
            ---
            name: BadRule
            description: x
            rules:
              - rule: "p(x) :- "
            """,
        "badkind.yaml": "name: BadKind\ndescription: x\nkind: datasource\nrules: []\n",
        "z3.yaml": "name: Zed\ndescription: x\nkind: z3\nrules: []\n",
        "list.yaml": "- name: AList\n",
        "norules.yaml": "name: NoRules\ndescription: x\n",
        "longabbr.yaml": "name: Long\nabbreviation: toolong\nrules: []\n",
        "twice.yaml": "name: Twice\nrules: []\n---\nname: Twice\nrules: []\n",
        "zz_dup_of_good.yaml": "name: Good\nrules: []\n",
        "latin1.yaml": b"name: Caf\xe9\nrules: []\n",
    }
    for name, text in bad.items():
        if isinstance(text, bytes):
            (tmp_path / name).write_bytes(text)
        else:
            write(tmp_path, name, text)
    with caplog.at_level(logging.WARNING, logger="congress.services.library"):
        assert library.load_directory(tmp_path) == 3
    assert [p["name"] for p in library.list()] == ["AlsoGood", "Good", "Nested"]
    good = library.get("Good")
    assert (good["kind"], good["abbreviation"]) == ("materialized", "gd")
    assert good["rules"] == [
        {"rule": "reach(x, y) :-\n  edge(x, y)\n", "name": "base", "comment": "the base case"}
    ]
    assert library.get("AlsoGood")["abbreviation"] == "AlsoG"
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == len(bad)
    for name in bad:
        assert any(f"{name} skipped" in m for m in skipped), name
    text = "\n".join(skipped)
    assert "document 2: rules[0].rule: Parse failure at line 1, column 9" in text
    assert "document 1: kind: must be one of" in text
    assert "kind: policy kind z3 is not supported" in text
    assert "document 1: rules: is required" in text
    assert "list.yaml skipped: document 1: must be a mapping" in text
    assert "document 1: abbreviation: must be at most 5 characters" in text
    assert "document 2: name: Twice appears twice in the file" in text
    assert "library policy Good already exists" in text


def test_a_missing_folder_loads_nothing(
    tmp_path: pathlib.Path, library: LibraryService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="congress.services.library"):
        assert library.load_on_first_start(tmp_path / "nowhere") == 0
    assert "does not exist" in caplog.text
    assert library.list() == []


# -- CRUD ---------------------------------------------------------------------------------------
def test_create_get_list_replace_delete(library: LibraryService) -> None:
    created = library.create(body())
    assert set(created) == WIRE_KEYS
    assert created["name"] == "Sample"
    assert created["kind"] == "nonrecursive"
    assert created["abbreviation"] == "Sampl"
    assert created["rules"] == [
        {"rule": 'allowed("m1.small")', "name": None, "comment": "customize"},
        {"rule": "error(x) :- used(x), not allowed(x)", "name": "bad", "comment": ""},
    ]
    assert library.get(created["id"]) == created
    assert library.get("Sample") == created  # a name is accepted too
    assert library.list() == [created]

    replaced = library.replace(
        created["id"],
        {
            "name": "Renamed",
            "kind": "action",
            "abbreviation": "rn",
            "rules": [{"rule": "action('reboot')", "name": "a", "comment": "c"}],
        },
    )
    assert replaced == {
        "id": created["id"],
        "name": "Renamed",
        "description": "",
        "kind": "action",
        "abbreviation": "rn",
        "owner_id": "user",
        "rules": [{"rule": "action('reboot')", "name": "a", "comment": "c"}],
    }
    assert library.get(created["id"]) == replaced
    with pytest.raises(errors.LibraryPolicyNotFound):
        library.get("Sample")
    # a body echoing the policy read (id included) is accepted
    echoed = dict(replaced, description="echoed")
    assert library.replace(created["id"], echoed)["description"] == "echoed"

    gone = library.delete(created["id"])
    assert gone["id"] == created["id"]
    assert library.list() == []
    with pytest.raises(errors.LibraryPolicyNotFound) as e:
        library.get(created["id"])
    assert e.value.status == 404
    with pytest.raises(errors.LibraryPolicyNotFound):
        library.delete(created["id"])
    with pytest.raises(errors.LibraryPolicyNotFound):
        library.replace(created["id"], body())


def test_names_are_unique(library: LibraryService) -> None:
    library.create(body("One"))
    two = library.create(body("Two"))
    with pytest.raises(errors.LibraryPolicyExists) as e:
        library.create(body("One"))
    assert e.value.status == 409
    assert "One" in e.value.message
    with pytest.raises(errors.LibraryPolicyExists):
        library.replace(two["id"], body("One"))
    assert library.get(two["id"])["name"] == "Two"
    # keeping its own name is fine
    assert library.replace(two["id"], body("Two", description="new"))["description"] == "new"


def test_name_filter_and_include_rules(library: LibraryService) -> None:
    a = library.create(body("A"))
    library.create(body("B"))
    assert [p["name"] for p in library.list(name="B")] == ["B"]
    assert library.list(name="C") == []
    short = library.list(include_rules=False)
    assert [p["name"] for p in short] == ["A", "B"]
    assert all(set(p) == WIRE_KEYS - {"rules"} for p in short)
    assert library.list(include_rules=False, name="A") == [
        {k: v for k, v in a.items() if k != "rules"}
    ]
    assert "rules" not in library.get(a["id"], include_rules=False)


def test_null_means_absent(library: LibraryService) -> None:
    created = library.create(
        {
            "name": "Nulls",
            "description": None,
            "kind": None,
            "abbreviation": None,
            "rules": [{"rule": "p(1)", "name": None, "comment": None}],
        }
    )
    assert created["description"] == ""
    assert created["kind"] == "nonrecursive"
    assert created["abbreviation"] == "Nulls"
    assert created["rules"] == [{"rule": "p(1)", "name": None, "comment": ""}]


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ([], "body", "must be an object"),
        ({"rules": []}, "name", "is required"),
        ({"name": "", "rules": []}, "name", "must not be empty"),
        ({"name": "x" * 256, "rules": []}, "name", "at most 255"),
        ({"name": 5, "rules": []}, "name", "must be a string"),
        ({"name": "n"}, "rules", "is required"),
        ({"name": "n", "rules": "p(1)"}, "rules", "must be a list"),
        ({"name": "n", "rules": [], "kind": "delta"}, "kind", "must be one of"),
        ({"name": "n", "rules": [], "kind": "z3"}, "kind", "not supported"),
        ({"name": "n", "rules": [], "abbreviation": ""}, "abbreviation", "1 to 5"),
        ({"name": "n", "rules": [], "abbreviation": "sixsix"}, "abbreviation", "at most 5"),
        ({"name": "n", "rules": [], "description": 3}, "description", "must be a string"),
        ({"name": "n", "rules": [], "id": "x"}, "id", "must not be provided"),
        ({"name": "n", "rules": [], "owner": "me"}, "owner", "unknown field"),
        ({"name": "n", "rules": [], "depends-on": "A"}, "depends-on", "list of policy names"),
        ({"name": "n", "rules": ["p(1)"]}, "rules[0]", "must be an object"),
        ({"name": "n", "rules": [{"name": "r"}]}, "rules[0].rule", "is required"),
        ({"name": "n", "rules": [{"rule": 1}]}, "rules[0].rule", "must be a string"),
        ({"name": "n", "rules": [{"rule": "p(1)", "x": 1}]}, "rules[0].x", "unknown field"),
        (
            {"name": "n", "rules": [{"rule": "p(1)"}, {"rule": "p(2)", "name": "r" * 256}]},
            "rules[1].name",
            "at most 255",
        ),
        ({"name": "n", "rules": [{"rule": "p(1)", "comment": "c" * 256}]}, "rules[0].comment", ""),
        ({"name": "n", "rules": [{"rule": "p(1) q(2)"}]}, "rules[0].rule", "found 2"),
        ({"name": "n", "rules": [{"rule": "  "}]}, "rules[0].rule", "found 0"),
        (
            {"name": "n", "rules": [{"rule": "insert[p(x) :- q(x)]"}]},
            "rules[0].rule",
            "not an event",
        ),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(
    library: LibraryService, bad: Any, field: str, words: str
) -> None:
    with pytest.raises(errors.InvalidLibraryPolicy) as e:
        library.create(bad)
    assert e.value.status == 400
    assert e.value.field == field
    assert e.value.message.startswith(f"{field}: ")
    assert words in e.value.message
    assert library.list() == []


def test_a_rule_that_does_not_parse_is_a_located_language_error(library: LibraryService) -> None:
    bad = body(rules=[{"rule": "p(1)"}, {"rule": "q(x) :-\n  r(x"}])
    with pytest.raises(PolicyError) as e:
        library.create(bad)
    assert e.value.code == "policy_parse_error"
    assert e.value.message.startswith("rules[1].rule: Parse failure at line 2")
    assert (e.value.first.line, e.value.first.column) == (2, 6)
    created = library.create(body("Kept"))
    with pytest.raises(PolicyError):
        library.replace(created["id"], bad)
    assert library.get(created["id"]) == created


def test_a_put_body_with_another_id_is_refused(library: LibraryService) -> None:
    created = library.create(body())
    with pytest.raises(errors.InvalidLibraryPolicy) as e:
        library.replace(created["id"], dict(body(), id="someone-else"))
    assert e.value.field == "id"


# -- activation ---------------------------------------------------------------------------------
def server(id_: str, name: str, flavor: str, status: str = "ACTIVE") -> tuple[str, ...]:
    values = {"id": id_, "name": name, "flavor_id": flavor, "status": status}
    return tuple(values.get(c, "None") for c in NOVA["servers"])


def flavor(id_: str, name: str) -> tuple[str | int, ...]:
    values: dict[str, str | int] = {"id": id_, "name": name}
    return tuple(values.get(c, 0) for c in NOVA["flavors"])


def test_activation_creates_a_working_policy(
    database: Engine, engine: PolicyEngineService, library: LibraryService
) -> None:
    library.load_directory(LIBRARY_DIR)
    engine.ensure_datasource("nova", NOVA)
    lib = library.get("BadFlavors")

    policy, rules = library.activate(lib["id"])
    assert (policy.name, policy.kind, policy.abbreviation) == (
        "BadFlavors",
        "nonrecursive",
        "badfl",
    )
    assert policy.description == lib["description"]
    assert [r.rule for r in rules] == [r["rule"] for r in lib["rules"]]
    assert [r.comment for r in rules] == [r["comment"] for r in lib["rules"]]
    assert len(engine.list_rules("BadFlavors")) == 4
    assert len(db.list_rules(database, "BadFlavors")) == 4

    engine.receive("nova", "flavors", [flavor("f1", "m1.small"), flavor("f9", "m1.huge")], [])
    engine.receive("nova", "servers", [server("s1", "ok", "f1"), server("s2", "big", "f9")], [])
    assert engine.rows("BadFlavors", "error") == [
        ("s2", "big", "m1.huge", "flavor is not permitted")
    ]

    # the remediation policy reads BadFlavors' tables; activated by name
    pause, _ = library.activate("PauseBadFlavors")
    assert pause.abbreviation == "pbadf"
    assert len(engine.list_rules(pause.id)) == 1
    # the library policy itself stays in the library
    assert library.get("BadFlavors") == lib


def test_activation_of_plain_rules_is_one_change(
    engine: PolicyEngineService, library: LibraryService
) -> None:
    created = library.create(
        body("Plain", kind="materialized", rules=[{"rule": "q(1)"}, {"rule": "p(x) :- q(x)"}])
    )
    revision = engine.revision
    policy, rules = library.activate(created["id"])
    assert policy.kind == "materialized"
    assert len(rules) == 2
    assert engine.rows("Plain", "p") == [(1,)]
    assert engine.revision == revision + 1  # policy and rules written together


def test_activating_twice_is_a_conflict(
    engine: PolicyEngineService, library: LibraryService
) -> None:
    created = library.create(body())
    library.activate(created["id"])
    with pytest.raises(errors.PolicyExists) as e:
        library.activate(created["id"])
    assert e.value.status == 409
    assert "Sample" in e.value.message
    assert len(engine.list_rules("Sample")) == 2
    # a library policy named like a system policy cannot replace it either
    library.create(body("classification"))
    with pytest.raises(errors.PolicyExists):
        library.activate("classification")


def test_activating_an_unknown_library_policy_is_404(library: LibraryService) -> None:
    with pytest.raises(errors.LibraryPolicyNotFound) as e:
        library.activate("nothing")
    assert e.value.status == 404


@pytest.mark.parametrize(
    "rules",
    [
        # refused by the engine's check of the whole policy
        [{"rule": "p(x) :- q(x)"}, {"rule": "q(x) :- p(x)"}],
        # column references need the datasource schemas: checked rule by rule, the second fails
        [
            {"rule": "e(x) :- nova:servers(id=x)"},
            {"rule": "f(x) :- cinder:volumes(id=x)"},
        ],
        # the first rule already fails
        [{"rule": "f(x) :- cinder:volumes(id=x)"}, {"rule": "e(x) :- nova:servers(id=x)"}],
        # the rules disagree on the arity of p
        [{"rule": "p(1)"}, {"rule": "p(1, 2)"}],
    ],
)
def test_activation_is_all_or_nothing(
    database: Engine,
    engine: PolicyEngineService,
    library: LibraryService,
    rules: list[dict[str, str]],
) -> None:
    engine.ensure_datasource("nova", NOVA)
    created = library.create(body("Broken", rules=rules))
    before = {p.name for p in engine.list_policies()}
    with pytest.raises(PolicyError):
        library.activate(created["id"])
    assert {p.name for p in engine.list_policies()} == before
    assert "Broken" not in {p.name for p in db.list_policies(database)}
    # fixed, it activates
    library.replace(created["id"], body("Broken", rules=[{"rule": "e(x) :- nova:servers(id=x)"}]))
    policy, _ = library.activate("Broken")
    assert policy.name == "Broken"


def test_activation_of_an_invalid_policy_name_fails_cleanly(
    engine: PolicyEngineService, library: LibraryService
) -> None:
    library.create(body("not a name"))
    with pytest.raises(PolicyError) as e:
        library.activate("not a name")
    assert e.value.code == "invalid_policy_name"
    assert "not a name" not in {p.name for p in engine.list_policies()}


def test_a_repeated_rule_is_a_conflict(
    engine: PolicyEngineService, library: LibraryService
) -> None:
    library.create(body("Twice", rules=[{"rule": "p(1)"}, {"rule": "p(1)", "name": "again"}]))
    with pytest.raises(errors.RuleExists) as e:
        library.activate("Twice")
    assert e.value.status == 409
    assert "Twice" not in {p.name for p in engine.list_policies()}
