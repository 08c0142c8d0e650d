"""Library policies: create, read, list, replace (PUT), delete."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from congress.db import api, errors

RULES = [
    {"rule": 'error(x) :- volume(x, encrypted="False")', "comment": "ünïcødé ✓", "name": "enc"},
    {"rule": "p(x) :- q(x)"},
]


def test_create_and_read(engine: Engine) -> None:
    lib = api.create_library_policy(
        engine, "VolumeEncryption", RULES, description="Volumes 🔒", kind="nonrecursive"
    )
    assert (lib.name, lib.abbreviation, lib.description, lib.kind, lib.rules) == (
        "VolumeEncryption",
        "Volum",
        "Volumes 🔒",
        "nonrecursive",
        RULES,
    )
    assert api.get_library_policy(engine, lib.id) == lib
    assert api.get_library_policy_by_name(engine, "VolumeEncryption") == lib


def test_list_sorted_filtered_and_without_rules(engine: Engine) -> None:
    b = api.create_library_policy(engine, "B", RULES)
    a = api.create_library_policy(engine, "A", [], abbreviation="aa", kind="database")
    assert api.list_library_policies(engine) == [a, b]
    assert api.list_library_policies(engine, name="B") == [b]
    assert api.list_library_policies(engine, name="C") == []
    bare = api.list_library_policies(engine, include_rules=False)
    assert [(x.name, x.rules) for x in bare] == [("A", None), ("B", None)]


def test_names_are_unique(engine: Engine) -> None:
    api.create_library_policy(engine, "A", RULES)
    with pytest.raises(errors.DuplicateName) as caught:
        api.create_library_policy(engine, "A", [])
    assert caught.value.kind == "library policy"
    with pytest.raises(errors.InvalidValue):
        api.create_library_policy(engine, "B", [], abbreviation="sixsix")


def test_replace(engine: Engine) -> None:
    lib = api.create_library_policy(engine, "A", RULES, description="old")
    other = api.create_library_policy(engine, "B", [])
    new = api.replace_library_policy(engine, lib.id, "C", RULES[:1], kind="action")
    assert (new.id, new.name, new.abbreviation, new.description, new.kind, new.rules) == (
        lib.id,
        "C",
        "C",
        "",
        "action",
        RULES[:1],
    )
    assert api.get_library_policy(engine, lib.id) == new
    with pytest.raises(errors.DuplicateName):
        api.replace_library_policy(engine, lib.id, "B", [])
    with pytest.raises(errors.NotFound):
        api.replace_library_policy(engine, "nope", "D", [])
    assert api.get_library_policy(engine, other.id) == other


def test_delete(engine: Engine) -> None:
    lib = api.create_library_policy(engine, "A", RULES)
    api.create_library_policy(engine, "B", RULES)
    api.create_library_policy(engine, "C", RULES)
    assert api.delete_library_policy(engine, lib.id) == lib
    with pytest.raises(errors.NotFound):
        api.get_library_policy(engine, lib.id)
    with pytest.raises(errors.NotFound):
        api.delete_library_policy(engine, lib.id)
    with pytest.raises(errors.NotFound):
        api.get_library_policy_by_name(engine, "A")
    assert api.delete_all_library_policies(engine) == 2
    assert api.list_library_policies(engine) == []
