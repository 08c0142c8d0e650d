"""The repository API of the persistence layer, in one namespace.

Imports: congress.db only. Every function takes an ``Engine`` (it runs in its own transaction,
retried on deadlocks and serialization failures) or a ``Session`` (it joins the caller's
transaction, so several calls commit together), and returns plain records
(``congress.db.records``), never ORM objects. Errors are ``congress.db.errors.DBError``s.

Typical use::

    engine = make_engine(url)
    policy = api.create_policy(engine, "classification")
    api.add_rule(engine, "classification", "p(x) :- q(x)", expected_revision=policy.revision)
    state = api.load_policy_state(engine)          # then, later:
    log = api.changes_since(engine, state.revision)
"""

from __future__ import annotations

from congress.db.changes import changes_since, load_policy_state
from congress.db.datasources import (
    create_datasource,
    delete_datasource,
    delete_table_data,
    find_datasource,
    get_all_table_data,
    get_datasource,
    get_datasource_by_name,
    get_datasource_sharing,
    get_table_data,
    list_datasource_sharing,
    list_datasources,
    put_table_data,
    set_datasource_sharing,
    update_datasource,
)
from congress.db.enforcement import (
    get_policy_settings,
    policy_settings_since,
    reset_breaker,
    trip_breaker,
    update_policy_settings,
)
from congress.db.executions import (
    count_project_executions,
    get_execution,
    list_executions,
    prune_executions,
    record_execution,
    set_execution_status,
    transition_execution,
)
from congress.db.history import (
    history_after,
    history_as_of,
    history_changes,
    history_counts,
    history_latest,
    history_tables,
    prune_history,
    record_history,
)
from congress.db.library import (
    create_library_policy,
    delete_all_library_policies,
    delete_library_policy,
    get_library_policy,
    get_library_policy_by_name,
    list_library_policies,
    replace_library_policy,
)
from congress.db.notifications import (
    acquire_lease,
    add_dead_letter,
    advance_cursor,
    create_sink,
    delete_sink,
    find_sink,
    get_cursor,
    get_lease,
    get_sink,
    latest_history_id,
    list_dead_letters,
    list_sinks,
    release_lease,
)
from congress.db.policies import (
    add_rule,
    add_rules,
    create_policy,
    delete_policy,
    delete_rule,
    delete_rules,
    find_policy,
    get_policy,
    get_policy_by_name,
    get_rule,
    list_policies,
    list_rules,
    project_usage,
)
from congress.db.quotas import ALL_PROJECTS as ALL_PROJECTS  # a constant, re-exported
from congress.db.quotas import (
    delete_project_quotas,
    get_project_quotas,
    list_project_quotas,
    set_project_quotas,
)
from congress.db.revisions import current_revision, write_exclusively
from congress.db.versions import (
    get_policy_version,
    list_policy_versions,
    record_change,
    rollback_policy,
)

__all__ = [
    "acquire_lease",
    "add_dead_letter",
    "add_rule",
    "add_rules",
    "advance_cursor",
    "changes_since",
    "count_project_executions",
    "create_datasource",
    "create_library_policy",
    "create_policy",
    "create_sink",
    "current_revision",
    "delete_all_library_policies",
    "delete_datasource",
    "delete_library_policy",
    "delete_policy",
    "delete_project_quotas",
    "delete_rule",
    "delete_rules",
    "delete_sink",
    "delete_table_data",
    "find_datasource",
    "find_policy",
    "find_sink",
    "get_all_table_data",
    "get_cursor",
    "get_datasource",
    "get_datasource_by_name",
    "get_datasource_sharing",
    "get_execution",
    "get_lease",
    "get_library_policy",
    "get_library_policy_by_name",
    "get_policy",
    "get_policy_by_name",
    "get_policy_settings",
    "get_policy_version",
    "get_project_quotas",
    "get_rule",
    "get_sink",
    "get_table_data",
    "history_after",
    "history_as_of",
    "history_changes",
    "history_counts",
    "history_latest",
    "history_tables",
    "latest_history_id",
    "list_datasource_sharing",
    "list_datasources",
    "list_dead_letters",
    "list_executions",
    "list_library_policies",
    "list_policies",
    "list_policy_versions",
    "list_project_quotas",
    "list_rules",
    "list_sinks",
    "load_policy_state",
    "policy_settings_since",
    "project_usage",
    "prune_executions",
    "prune_history",
    "put_table_data",
    "record_change",
    "record_execution",
    "record_history",
    "release_lease",
    "replace_library_policy",
    "reset_breaker",
    "rollback_policy",
    "set_datasource_sharing",
    "set_execution_status",
    "set_project_quotas",
    "transition_execution",
    "trip_breaker",
    "update_datasource",
    "update_policy_settings",
    "write_exclusively",
]
