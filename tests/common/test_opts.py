"""The generator's view of Congress: our options, and our defaults for library options."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oslo_config import cfg
from oslo_db import options as db_options

from congress.common import opts

# oslo.middleware imports webob, which imports the standard library's deprecated ``cgi``.
pytestmark = pytest.mark.filterwarnings(
    "ignore:'cgi' is deprecated:DeprecationWarning:webob.compat"
)


@pytest.fixture
def library_defaults() -> Iterator[list[cfg.Opt]]:
    """The CORS and [database] options, their global defaults restored afterwards."""
    from oslo_middleware import cors

    touched = [*cors.OPTS, *(o for _, group in db_options.list_opts() for o in group)]
    saved = [o.default for o in touched]
    yield touched
    for opt, default in zip(touched, saved, strict=True):
        opt.default = default


def test_list_opts_has_our_groups_and_options() -> None:
    groups = {str(group): [o.dest for o in options] for group, options in opts.list_opts()}
    assert set(groups) == {
        "DEFAULT",
        "dse",
        "upgrade_levels",
        "api",
        "limits",
        "watch",
        "enforcement",
        "tenancy",
    }
    assert groups["upgrade_levels"] == ["bus"]
    assert groups["tenancy"] == [o.dest for o in opts.tenancy_opts]
    assert groups["enforcement"] == [o.dest for o in opts.enforcement_opts]
    assert groups["limits"] == [o.dest for o in opts.limits_opts]
    assert groups["watch"] == [o.dest for o in opts.watch_opts]
    assert {"bind_port", "state_path", "node_id", "policy_engine"} <= set(groups["DEFAULT"])
    assert groups["dse"] == [o.dest for o in opts.dse_opts]


def test_list_opts_leaves_out_what_is_only_accepted() -> None:
    listed = {o.dest for _, options in opts.list_opts() for o in options}
    assert "verbose" not in listed
    assert not listed & {o.dest for o in opts.json_ingester_opts}


def test_set_config_defaults(library_defaults: list[cfg.Opt]) -> None:
    opts.set_config_defaults()
    defaults = {o.dest: o.default for o in library_defaults}
    assert defaults["allow_headers"] == opts.CORS_DEFAULTS["allow_headers"]
    assert defaults["expose_headers"] == ["X-OpenStack-Request-ID"]
    assert defaults["allow_methods"] == ["GET", "PUT", "POST", "DELETE", "PATCH"]
    assert defaults["connection"] == "sqlite:///$state_path/congress.sqlite"
    assert (defaults["max_pool_size"], defaults["max_overflow"], defaults["pool_timeout"]) == (
        10,
        20,
        10,
    )
