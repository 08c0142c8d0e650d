"""A datasource's sharing with projects (docs/tenancy.md): ``shared_with`` and the operator's
``project_columns``, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from congress.db import api, errors

SCHEMA = {"servers": ["id", "status", "tenant_id", "user_id"], "flavors": ["id", "name"]}


def test_a_new_datasource_is_shared_with_no_one(engine: Engine) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config={})
    sharing = api.get_datasource_sharing(engine, ds.id)
    assert (sharing.datasource_id, sharing.name, sharing.driver) == (ds.id, "nova", "nova")
    assert sharing.shared_with == () and sharing.project_columns == {}
    assert sharing.revision is None


def test_setting_the_sharing_bumps_the_revision_and_is_read_back(engine: Engine) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config={})
    before = api.current_revision(engine)
    done = api.set_datasource_sharing(
        engine,
        ds.id,
        shared_with=["p1", "p2", "p1"],
        project_columns={"servers": "user_id", "flavors": None},
        schema=SCHEMA,
        expected_revision=before,
    )
    assert done.revision == before + 1 == api.current_revision(engine)
    assert done.shared_with == ("p1", "p2")  # distinct, in order
    assert done.project_columns == {"servers": "user_id", "flavors": None}
    assert api.get_datasource_sharing(engine, ds.id) == done.__class__(
        ds.id, "nova", "nova", ("p1", "p2"), {"servers": "user_id", "flavors": None}
    )
    # one field at a time: the other stays
    api.set_datasource_sharing(engine, ds.id, shared_with=["*"])
    again = api.get_datasource_sharing(engine, ds.id)
    assert again.shared_with == ("*",)
    assert again.project_columns == {"servers": "user_id", "flavors": None}
    api.set_datasource_sharing(engine, ds.id, project_columns={})
    assert api.get_datasource_sharing(engine, ds.id).project_columns == {}
    assert api.get_datasource_sharing(engine, ds.id).shared_with == ("*",)
    listed = api.list_datasource_sharing(engine)
    assert [(s.name, s.shared_with) for s in listed] == [("nova", ("*",))]


def test_the_other_datasource_fields_are_left_alone(engine: Engine) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config={"a": 1}, description="d")
    api.set_datasource_sharing(engine, ds.id, shared_with=["p1"])
    assert api.get_datasource(engine, ds.id) == ds


@pytest.mark.parametrize(
    ("shared_with", "project_columns", "why"),
    [
        ("p1", None, "shared_with: must be a list"),
        (["p1", 3], None, "shared_with: must be a list"),
        (["*", "p1"], None, "stands alone"),
        (["bad id"], None, "is not a project id"),
        ([""], None, "is not a project id"),
        (None, ["servers"], "project_columns: must be an object"),
        (None, {"servers": 3}, "project_columns: must map"),
        (None, {"volumes": "tenant_id"}, "the datasource has no table volumes"),
        (None, {"servers": "owner"}, "table servers has no column owner"),
    ],
)
def test_invalid_sharing_is_refused_and_changes_nothing(
    engine: Engine, shared_with: object, project_columns: object, why: str
) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config={})
    before = api.current_revision(engine)
    with pytest.raises(errors.InvalidValue, match=why):
        api.set_datasource_sharing(
            engine,
            ds.id,
            shared_with=shared_with,  # type: ignore[arg-type]
            project_columns=project_columns,  # type: ignore[arg-type]
            schema=SCHEMA,
        )
    assert api.current_revision(engine) == before
    assert api.get_datasource_sharing(engine, ds.id).shared_with == ()


def test_unknown_datasource_and_stale_revision(engine: Engine) -> None:
    before = api.current_revision(engine)
    with pytest.raises(errors.NotFound):
        api.set_datasource_sharing(engine, "no-such-id", shared_with=["p1"])
    with pytest.raises(errors.NotFound):
        api.get_datasource_sharing(engine, "no-such-id")
    assert api.current_revision(engine) == before  # the bump was rolled back
    ds = api.create_datasource(engine, "nova", "nova", config={})
    with pytest.raises(errors.StaleRevision):
        api.set_datasource_sharing(engine, ds.id, shared_with=["p1"], expected_revision=before + 7)
    assert api.get_datasource_sharing(engine, ds.id).shared_with == ()


def test_deleting_a_datasource_deletes_its_sharing(engine: Engine) -> None:
    ds = api.create_datasource(engine, "nova", "nova", config={})
    api.set_datasource_sharing(engine, ds.id, shared_with=["p1"])
    api.delete_datasource(engine, ds.id)
    assert api.list_datasource_sharing(engine) == []


def test_owners_of_datasources_and_library_policies(engine: Engine) -> None:
    """``owner``: ``user`` (the operator's, the default) or the owning project's id."""
    assert api.create_datasource(engine, "g", "push", config={}).owner == "user"
    made = api.create_datasource(engine, "inv@p1", "push", config={}, owner="p1")
    assert made.owner == "p1"
    assert api.get_datasource(engine, made.id).owner == "p1"
    api.create_library_policy(engine, "lib@p1", [], owner="p1")
    api.create_library_policy(engine, "lib", [])
    with engine.connect() as conn:
        owners = dict(conn.execute(text("SELECT name, owner FROM library_policies")).all())
    assert owners == {"lib@p1": "p1", "lib": "user"}
