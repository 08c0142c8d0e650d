"""Errors raised by the services, with the HTTP status and the original's error name they map to.

May import the standard library only.

``ServiceError`` carries a stable string ``code``, a ``message``, the HTTP ``status`` the API
answers with and ``api_name``, the name of the original's integer error code in
``congress.api.errors.CODES`` (``unknown`` when the original had none). Engine errors
(``congress.datalog.errors``) and database errors (``congress.db.errors``) pass through the
services unchanged; the API maps those itself.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "service_error"
    status = 400
    api_name = "unknown"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    code = "resource_not_found"
    status = 404


class PolicyNotFound(NotFound):
    code = "policy_not_found"
    api_name = "policy_not_exist"


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class RuleExists(Conflict):
    code = "rule_already_exists"
    api_name = "rule_already_exists"


class BadRequest(ServiceError):
    code = "bad_request"


class LimitExceeded(BadRequest):
    """A request over one of the ``[limits]``; nothing was changed."""

    code = "limit_exceeded"

    def __init__(self, what: str, size: int, limit: str, value: int) -> None:
        super().__init__(f"{what} has {size} characters, over the limit {limit}={value}")
        self.limit = limit
        self.value = value


class SystemPolicy(BadRequest):
    code = "system_policy"


class MultipleRules(BadRequest):
    code = "multiple_rules"
    api_name = "multiple_rules"


class InvalidAbbreviation(BadRequest):
    code = "invalid_abbreviation"
    api_name = "policy_abbreviation_error"


class Unavailable(ServiceError):
    """A 503: the API adds ``Retry-After: retry_after``."""

    code = "unavailable"
    status = 503
    retry_after = 5


class EngineUnavailable(Unavailable):
    code = "policy_engine_unavailable"


class DatasourcesUnavailable(Unavailable):
    """The datasources node is down (or being failed over)."""

    code = "datasources_unavailable"


class RevisionNotReached(Unavailable):
    """``X-Congress-Min-Revision`` was not applied in time on this node."""

    code = "revision_not_reached"
    retry_after = 1


class InternalError(ServiceError):
    """An unexpected failure of a service on another node (logged there)."""

    code = "internal_error"
    status = 500


class PolicyExists(Conflict):
    code = "policy_exists"


class VersionNotFound(NotFound):
    """A policy has no version of that number (docs/policy-lifecycle.md)."""

    code = "version_not_found"


class LibraryPolicyNotFound(NotFound):
    code = "library_policy_not_found"


class LibraryPolicyExists(Conflict):
    code = "library_policy_exists"


class InvalidLibraryPolicy(BadRequest):
    """A library policy (request body or library file document) that is not valid; ``field``
    names what is wrong, e.g. ``kind`` or ``rules[2].comment``."""

    code = "invalid_library_policy"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# -- the datasource host --------------------------------------------------------------------


class DatasourceNotFound(NotFound):
    code = "datasource_not_found"


class DatasourceExists(Conflict):
    code = "datasource_exists"


class InvalidDatasourceName(BadRequest):
    code = "invalid_datasource_name"


class InvalidDriver(BadRequest):
    code = "invalid_driver"


class DatasourceDisabled(NotFound):
    code = "datasource_disabled"


class DatasourceNotRunning(Unavailable):
    code = "datasource_not_running"


# -- the history of watched tables ----------------------------------------------------------


class TableNotWatched(NotFound):
    """A table whose changes are not recorded ([watch] tables): it has no history."""

    code = "table_not_watched"


class HistoryExpired(BadRequest):
    """A time before the history kept ([watch] history_retention_days)."""

    code = "history_expired"


class HistoryUnavailable(Unavailable):
    """No history of watched tables on this node (it runs no policy engine)."""

    code = "history_unavailable"


# -- notification sinks ---------------------------------------------------------------------


class SinkNotFound(NotFound):
    """No notification sink has that id or name."""

    code = "notification_sink_not_found"


class SinkExists(Conflict):
    """A notification sink already has that name."""

    code = "notification_sink_exists"


class InvalidSink(BadRequest):
    """A notification sink (request body) that is not valid; ``field`` names what is wrong."""

    code = "invalid_notification_sink"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotificationsUnavailable(Unavailable):
    """No notification service on this node."""

    code = "notifications_unavailable"
