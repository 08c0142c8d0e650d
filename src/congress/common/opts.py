"""Every option of Congress, and the ``congress`` namespace of ``oslo-config-generator``.

The options keep the original Congress's names, groups and defaults, plus ``state_path``
(``~/.local/state/congress``, the OpenStack name) for local state; ``verbose`` and
``[json_ingester]`` are accepted for old files and do nothing (``congress.common.config``
registers them all and warns about those two). ``congress-server``'s flags are command-line
options here too: no role flag means every role.

``list_opts`` (entry point ``oslo.config.opts``) lists the options of the sample file, which
leaves out what is only accepted. ``set_config_defaults`` (entry point
``oslo.config.opts.defaults``, called by the generator before it lists any namespace, and by
the API before it builds its CORS middleware) sets Congress's defaults on library options:
CORS as the original, and ``[database]``. Every default in the sample is the same on every
machine: ``node_id`` shows ``<hostname>``, ``state_path`` a ``~`` path, and the database
``$state_path/congress.sqlite``. ``tox -e genconfig`` writes ``etc/congress.conf.sample``.

Imports: the standard library, oslo.config, ``oslo_db.options`` and, inside
``set_config_defaults`` only, ``oslo_middleware.cors`` (it imports webob).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Final

from oslo_config import cfg, types
from oslo_db import options as db_options  # type: ignore[import-untyped]

#: The CORS defaults of the original Congress.
CORS_DEFAULTS: Final[dict[str, list[str]]] = {
    "allow_headers": [
        "X-Auth-Token",
        "X-OpenStack-Request-ID",
        "X-Identity-Status",
        "X-Roles",
        "X-Service-Catalog",
        "X-User-Id",
        "X-Tenant-Id",
    ],
    "expose_headers": ["X-OpenStack-Request-ID"],
    "allow_methods": ["GET", "PUT", "POST", "DELETE", "PATCH"],
}

#: Defaults of oslo.db's ``[database]`` options (``connection`` refers to ``state_path``).
DATABASE_DEFAULTS: Final[dict[str, Any]] = {
    "connection": "sqlite:///$state_path/congress.sqlite",
    "max_pool_size": 10,
    "max_overflow": 20,
    "pool_timeout": 10,
}


class _UserPath(types.String):
    """A path option: a leading ``~`` is the home directory of the user running Congress."""

    def __call__(self, value: Any) -> str:
        return os.path.expanduser(super().__call__(value))


cli_opts: Final[list[cfg.Opt]] = [
    # read as conf.api_role: [api] is also the name of a group
    cfg.BoolOpt("api", default=False, dest="api_role", help="Run the API service on this node."),
    cfg.BoolOpt(
        "policy-engine",
        default=False,
        help="Run the policy engine (and the policy library service) on this node.",
    ),
    cfg.BoolOpt("datasources", default=False, help="Run the datasource drivers on this node."),
    cfg.StrOpt(
        "node-id",
        default=socket.gethostname(),
        sample_default="<hostname>",
        help="Name of this node on the bus; unique among the nodes of one bus_id.",
    ),
    cfg.BoolOpt(
        "delete-missing-driver-datasources",
        default=False,
        help="On start, delete the datasources whose driver is not installed or not "
        "permitted; without it such a datasource stops the server from starting.",
    ),
]

#: Accepted so that old command lines and files still work; warned about, never used.
compat_cli_opts: Final[list[cfg.Opt]] = [
    cfg.BoolOpt(
        "verbose",
        short="v",
        default=False,
        help="Deprecated and without effect: INFO is the default log level; use debug.",
    ),
]

core_opts: Final[list[cfg.Opt]] = [
    cfg.HostAddressOpt("bind_host", default="0.0.0.0", help="Address the API server binds."),
    cfg.PortOpt("bind_port", default=1789, help="Port the API server listens on."),
    cfg.IntOpt(
        "max_simultaneous_requests",
        default=1024,
        help="Most requests the API server serves at the same time.",
    ),
    cfg.BoolOpt(
        "tcp_keepalive",
        default=False,
        help="Turn TCP keep-alive on for the connections that the API server accepts.",
    ),
    cfg.IntOpt(
        "tcp_keepidle",
        default=600,
        help="Seconds a connection stays idle before the first keep-alive probe "
        "(TCP_KEEPIDLE); only with tcp_keepalive, and not on macOS.",
    ),
    cfg.IntOpt("api_workers", default=1, help="Number of API server processes."),
    cfg.StrOpt(
        "api_paste_config",
        default="api-paste.ini",
        help="Paste file that assembles the API; a relative name is looked for where the "
        "config files are.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=[
            ("keystone", "Keystone tokens, checked by keystonemiddleware"),
            ("noauth", "no authentication: every request acts as an administrator"),
        ],
        help="How the API authenticates requests.",
    ),
    cfg.ListOpt(
        "drivers",
        default=[],
        help="Datasource drivers that may be used, by entry-point name (group "
        "congress.datasource.drivers) or class path; empty permits every installed driver.",
    ),
    cfg.ListOpt(
        "disabled_drivers",
        default=[],
        help="Datasource drivers that may not be used, even when drivers lists them.",
    ),
    cfg.ListOpt(
        "custom_driver_endpoints",
        default=[],
        help="Drivers added to the installed ones, each as name=module:Class.",
    ),
    cfg.IntOpt(
        "datasource_sync_period",
        default=60,
        help="Seconds between two readings of the datasource configuration (and, on policy "
        "engines, of the policies and rules) from the database: a safety net behind the "
        "change notifications.",
    ),
    cfg.FloatOpt(
        "datasource_request_timeout",
        default=30.0,
        min=0.1,
        help="Seconds a datasource driver waits for an answer from its cloud (Keystone "
        "included) before the request counts as failed.",
    ),
    cfg.BoolOpt(
        "enable_execute_action",
        default=True,
        help="Execute the actions that policies derive (execute[...]); when False they are "
        "only logged.",
    ),
    cfg.BoolOpt(
        "replicated_policy_engine",
        default=False,
        help="Several policy engines share the database (which must be MySQL, MariaDB or "
        "PostgreSQL).",
    ),
    cfg.StrOpt(
        "policy_library_path",
        default="/etc/congress/library",
        help="Folder of YAML policy files loaded into the library when it is empty; when "
        "the default folder does not exist, the library shipped with Congress.",
    ),
    cfg.StrOpt(
        "encryption_key_path",
        default="/etc/congress/keys",
        help="Folder of the key that encrypts secret datasource settings; when the default "
        "folder does not exist, the folder keys under state_path.",
    ),
    cfg.Opt(
        "state_path",
        type=_UserPath(),
        default="~/.local/state/congress",
        help="Folder of this node's local state: the default SQLite database and keys. A "
        "leading ~ is the home directory of the user running Congress.",
    ),
    cfg.StrOpt("tempdir", help="Folder for temporary files; the system's when unset."),
    cfg.BoolOpt(
        "fatal_exception_format_errors",
        default=False,
        help="Raise, instead of logging, when an error message cannot be formatted (for tests).",
    ),
    cfg.IntOpt(
        "graceful_shutdown_timeout",
        default=60,
        min=0,
        mutable=True,
        help="Seconds a stopping server (SIGTERM) waits for the requests in progress to be "
        "answered after it stopped accepting connections, before it abandons them; then its "
        "services stop (each within its own bounds). 0: wait as long as they take.",
    ),
]

DSE_GROUP: Final = cfg.OptGroup(
    "dse", title="Bus", help="The bus between the nodes of one Congress deployment."
)
dse_opts: Final[list[cfg.Opt]] = [
    cfg.StrOpt(
        "bus_id",
        default="bus",
        help="Name of the deployment on the bus: the nodes with the same bus_id and "
        "transport_url form one Congress.",
    ),
    cfg.IntOpt(
        "ping_timeout",
        default=5,
        help="Seconds to wait for a service that is not known yet to answer a ping.",
    ),
    cfg.IntOpt(
        "long_timeout",
        default=120,
        help="Seconds to wait for a call that may take long, such as an action execution.",
    ),
    cfg.IntOpt(
        "time_to_resub",
        default=10,
        help="Seconds a subscriber waits for a missing table update before it subscribes again.",
    ),
    cfg.BoolOpt(
        "execute_action_retry",
        default=False,
        help="Send an action execution request again when it timed out (the action may then "
        "run more than once).",
    ),
    cfg.IntOpt(
        "execute_action_retry_timeout",
        default=600,
        help="Seconds to keep sending an execution request again; 0 or less: for ever.",
    ),
]

UPGRADE_GROUP: Final = cfg.OptGroup(
    "upgrade_levels",
    title="Upgrade levels",
    help="What this node sends to the nodes of other releases during a rolling upgrade.",
)
upgrade_opts: Final[list[cfg.Opt]] = [
    cfg.StrOpt(
        "bus",
        default="auto",
        help="The bus message version this node sends: auto (the oldest version spoken by the "
        "nodes on the bus, from their heartbeats), or a version such as 1.0 to keep sending "
        "that version until every node is upgraded (docs/upgrades.md).",
    ),
]

API_GROUP: Final = cfg.OptGroup("api", title="API", help="The REST API of this node.")
api_opts: Final[list[cfg.Opt]] = [
    cfg.FloatOpt(
        "min_revision_wait",
        default=5.0,
        min=0.0,
        mutable=True,
        help="Seconds a request with X-Congress-Min-Revision waits for this node to apply that "
        "policy revision before it is answered 503 with Retry-After.",
    ),
    cfg.FloatOpt(
        "healthcheck_revision_grace",
        default=30.0,
        min=0.0,
        mutable=True,
        help="Seconds this node's policy engine may take to apply a policy revision that is in "
        "the database before GET /healthcheck?details=true answers 503 (the node serves stale "
        "policy).",
    ),
]

MAX_MEMORY_MB_DEFAULT: Final = 4096

LIMITS_GROUP: Final = cfg.OptGroup(
    "limits",
    title="Limits",
    help="Bounds on requests and on evaluation. A request over one is refused and changes "
    "nothing (413 for the body, otherwise 400 limit_exceeded, naming the limit and its value); "
    "a data change that drives a policy over an evaluation limit puts that policy in an error "
    "state until data or rules shrink.",
)
limits_opts: Final[list[cfg.Opt]] = [
    cfg.IntOpt(
        "max_request_body_size",
        default=32 * 1024 * 1024,
        min=1024,
        help="Bytes a request body may have (pushed rows included).",
    ),
    cfg.IntOpt("max_rule_length", default=65536, min=1, help="Characters a rule's text may have."),
    cfg.IntOpt(
        "max_name_length",
        default=255,
        min=32,
        help="Characters a name may have (policies, rules, datasources).",
    ),
    cfg.IntOpt(
        "max_derived_rows",
        default=10_000_000,
        min=0,
        help="Rows one request or one data change may derive in one policy (0: no limit).",
    ),
    cfg.FloatOpt(
        "max_evaluation_seconds",
        default=60.0,
        min=0.0,
        help="Seconds one request or one data change may evaluate one policy (0: no limit).",
    ),
    cfg.IntOpt(
        "max_memory_mb",
        default=MAX_MEMORY_MB_DEFAULT,
        min=0,
        help="Resident memory (MiB) of the server process above which a request or data "
        "change that is making it grow stops and changes nothing (a request gets 400 "
        "limit_exceeded, a data change puts the policy it was evaluating in an error state). "
        "0: no ceiling.",
    ),
]

TENANCY_GROUP: Final = cfg.OptGroup(
    "tenancy",
    title="Multi-tenancy",
    help="Projects that own policies (docs/tenancy.md): what a project policy may do, and "
    "each project's quotas (these are the defaults; the operator sets a project's own with "
    "PUT /v1/quotas/<project>). A quota of 0 means no limit.",
)
tenancy_opts: Final[list[cfg.Opt]] = [
    cfg.ListOpt(
        "project_actions",
        default=[],
        help="The actions (driver:action, e.g. nova:servers.pause) that execute[...] in a "
        "project's policy may ask for; the driver then checks that the target belongs to "
        "the project. Empty: project policies may not act.",
    ),
    cfg.ListOpt(
        "project_drivers",
        default=["push"],
        help="The drivers with which a project member may create datasources of its own "
        "(push: the project pushes its rows). Empty: only the operator creates datasources.",
    ),
    cfg.BoolOpt(
        "project_metrics",
        default=False,
        help="Whether /metrics names projects' policies (and their tables) in its series. "
        "/metrics needs no token: keep this off unless only the operator can reach it.",
    ),
    cfg.IntOpt("quota_policies", default=20, min=0, help="Policies a project may own."),
    cfg.IntOpt("quota_rules", default=1000, min=0, help="Rules (facts too) a project may own."),
    cfg.IntOpt(
        "quota_rows_per_table",
        default=100_000,
        min=0,
        help="Rows one table of a project's policy may hold; a data change over it puts the "
        "policy in its error state (quota_exceeded).",
    ),
    cfg.FloatOpt(
        "quota_evaluation_seconds",
        default=10.0,
        min=0.0,
        help="Seconds one request or data change may evaluate one of the project's policies; "
        "over it, a request is refused and a data change puts the policy in its error state.",
    ),
    cfg.IntOpt(
        "quota_actions_per_hour",
        default=100,
        min=0,
        help="Actions the project's policies may execute in any hour; over it, an action is "
        "refused and logged as refused (quota_exceeded).",
    ),
]

WATCH_GROUP: Final = cfg.OptGroup(
    "watch",
    title="Watching policy",
    help="Change feeds (GET .../tables/<t>/watch), the history of watched tables and their "
    "notifications (docs/watching.md).",
)
watch_opts: Final[list[cfg.Opt]] = [
    cfg.ListOpt(
        "tables",
        default=["*:error", "*:warning"],
        help="The watched tables, as policy:table (* for any policy or any table): their "
        "changes are recorded in the history and sent as oslo.messaging notifications (when "
        "[oslo_messaging_notifications] driver is set); the notification sinks' tables are "
        "watched too.",
    ),
    cfg.IntOpt(
        "history_retention_days",
        default=30,
        min=0,
        help="Days the history of watched tables keeps a change (0: forever). Rows still "
        "present keep the change that inserted them.",
    ),
    cfg.IntOpt(
        "feed_buffer_events",
        default=10000,
        min=10,
        help="Changes of one table a node keeps for change-feed clients that reconnect with "
        "Last-Event-ID; a client further behind gets a reset and a fresh snapshot.",
    ),
    cfg.FloatOpt(
        "feed_resume_seconds",
        default=300.0,
        min=0.0,
        help="Seconds a node goes on keeping a table's changes after its last change-feed "
        "client left, so that the client can resume.",
    ),
    cfg.FloatOpt(
        "feed_keepalive_seconds",
        default=15.0,
        mutable=True,
        min=1.0,
        help="Seconds between keep-alive comments on an idle change feed (keep them below "
        "the load balancer's client and server timeouts).",
    ),
    cfg.IntOpt(
        "max_watchers",
        default=1000,
        min=1,
        help="Change-feed clients a node serves at once; one more is answered 503.",
    ),
]

ENFORCEMENT_GROUP: Final = cfg.OptGroup(
    "enforcement",
    title="Safe enforcement",
    help="What happens to execute[...] rows before a driver is called: the stale-data guard, "
    "deferred actions and the circuit breaker (docs/enforcement.md).",
)
enforcement_opts: Final[list[cfg.Opt]] = [
    cfg.BoolOpt(
        "stale_guard",
        default=True,
        mutable=True,
        help="Hold the actions whose rules read a datasource that is failing (its last poll "
        "failed), has not completed its first poll since it started, or is being "
        "re-snapshotted after a failover; they run once its data is fresh again if their "
        "execute row still holds.",
    ),
    cfg.FloatOpt(
        "max_hold_seconds",
        default=3600.0,
        mutable=True,
        min=0.0,
        help="Seconds an action may be held for stale data; then it is recorded as expired "
        "and never runs (0: held for ever).",
    ),
    cfg.FloatOpt(
        "action_grace_seconds",
        default=0.0,
        mutable=True,
        min=0.0,
        help="Seconds an action waits before it runs (only if its execute row still holds "
        "then), for the policies that set no action_grace_seconds of their own (0: at once).",
    ),
    cfg.IntOpt(
        "breaker_max_actions",
        default=100,
        mutable=True,
        min=0,
        help="Actions a policy may send to one driver within breaker_interval; one more "
        "trips the policy's circuit breaker (0: no limit).",
    ),
    cfg.FloatOpt(
        "breaker_interval",
        default=60.0,
        mutable=True,
        min=1.0,
        help="Seconds of the breaker's sliding window (breaker_max_actions).",
    ),
    cfg.FloatOpt(
        "breaker_max_fraction",
        default=0.5,
        mutable=True,
        min=0.0,
        max=1.0,
        help="One batch of data acting on more than this fraction of the rows of the largest "
        "table the action's rules read trips the policy's circuit breaker (0: no limit).",
    ),
    cfg.IntOpt(
        "breaker_min_rows",
        default=10,
        mutable=True,
        min=1,
        help="The breaker_max_fraction rule applies to tables of at least this many rows.",
    ),
    cfg.FloatOpt(
        "check_interval",
        default=1.0,
        mutable=True,
        min=0.1,
        help="Seconds between two checks of the deferred and held actions.",
    ),
]

JSON_INGESTER_GROUP: Final = cfg.OptGroup("json_ingester", title="JSON ingester (not supported)")
_NOT_SUPPORTED = "Not supported: the JSON ingester was not carried over (use the json driver)."
json_ingester_opts: Final[list[cfg.Opt]] = [
    cfg.BoolOpt("enable", default=False, help=_NOT_SUPPORTED),
    cfg.StrOpt("config_path", default="/etc/congress/json_ingesters", help=_NOT_SUPPORTED),
    cfg.StrOpt(
        "config_reusables_path",
        default="/etc/congress/config_reusables.yaml",
        help=_NOT_SUPPORTED,
    ),
    cfg.StrOpt("db_connection", secret=True, help=_NOT_SUPPORTED),
]


def list_opts() -> list[tuple[str | cfg.OptGroup, list[cfg.Opt]]]:
    """Congress's own options, by group, for ``oslo-config-generator``."""
    return [
        ("DEFAULT", [*core_opts, *cli_opts]),
        (DSE_GROUP, list(dse_opts)),
        (UPGRADE_GROUP, list(upgrade_opts)),
        (API_GROUP, list(api_opts)),
        (LIMITS_GROUP, list(limits_opts)),
        (WATCH_GROUP, list(watch_opts)),
        (ENFORCEMENT_GROUP, list(enforcement_opts)),
        (TENANCY_GROUP, list(tenancy_opts)),
    ]


def set_config_defaults() -> None:
    """Set Congress's defaults on the CORS and ``[database]`` options, for every ConfigOpts.

    The API calls it before it builds the CORS middleware; ``config.register_opts`` already
    sets the ``[database]`` defaults on each ConfigOpts it registers on.
    """
    from oslo_middleware import cors  # imports webob: only where CORS is wanted

    cors.set_defaults(**CORS_DEFAULTS)
    database_defaults: dict[str, Any] = DATABASE_DEFAULTS
    for _group, opts in db_options.list_opts():
        cfg.set_defaults(opts, **database_defaults)
