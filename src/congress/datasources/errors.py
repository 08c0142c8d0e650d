"""Errors of the datasource driver SDK, with stable string codes.

Imports: standard library only.

Hierarchy (``http_status`` is a hint for the API layer, which owns the mapping)::

    DatasourceError                     every error raised by congress.datasources
    ├── TranslatorError                 translator_error: a translator spec is malformed
    │                                     (raised when the spec or the driver class is defined)
    ├── TranslationError                translation_error: data does not fit its spec (bad shape,
    │                                     a failing extract/id function)
    ├── InvalidConfig                   invalid_config (400): a datasource's options are wrong
    │   ├── InvalidDriverOptions        invalid_driver_options: options the driver does not have
    │   ├── MissingRequiredOptions      missing_required_options: required options absent
    │   └── InvalidLazyTables           invalid_lazy_tables: lazy_tables names a non-root table
    ├── InvalidRows                     invalid_rows (400): pushed rows do not fit the table
    ├── InvalidWebhook                  invalid_webhook (400): a webhook body the driver rejects
    ├── NotSupported                    not_supported (400): push or webhook on a driver without it
    ├── UnknownTable                    unknown_table (404): the driver has no such table
    ├── LazyTableNotActive              lazy_table (400): a lazy table nobody subscribed to yet
    ├── UnknownAction                   unknown_action (400): the action cannot be executed
    ├── InvalidActionArguments          invalid_action_arguments (400): the arguments do not fit
    │                                     the action (found before anything is sent)
    ├── ActionFailed                    action_failed (502): the action raised an exception
    ├── PollFailed                      poll_failed: a poll could not read some tables (status)
    ├── ServiceError                    service_error (502): a request to the datasource's
    │                                     service failed (auth, timeout, HTTP error, bad JSON)
    ├── DriverNotFound                  driver_not_found (404): no such (permitted) driver
    └── DriverLoadError                 driver_load_error (500): a driver entry point is broken
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "translator_error": "a translator spec is malformed",
    "translation_error": "data from a service does not have the shape its translator expects",
    "invalid_config": "datasource options are wrong",
    "invalid_driver_options": "options that the driver does not have",
    "missing_required_options": "required driver options are missing",
    "invalid_lazy_tables": "lazy_tables names tables that are not root tables of the driver",
    "invalid_rows": "pushed rows do not fit the table",
    "invalid_webhook": "a webhook notification the driver cannot use",
    "not_supported": "the driver does not take pushed rows or webhook notifications",
    "unknown_table": "the driver has no table of that name",
    "lazy_table": "a lazy table that nobody has subscribed to yet",
    "unknown_action": "the driver cannot execute that action",
    "invalid_action_arguments": "the arguments do not fit the action (nothing was sent)",
    "action_failed": "the action was called and raised an exception",
    "poll_failed": "a poll could not read some of the datasource's tables",
    "service_error": "a request to the datasource's service failed",
    "driver_not_found": "no installed and permitted driver has that name",
    "driver_load_error": "a driver entry point cannot be loaded",
}


class DatasourceError(Exception):
    """Base class of every error raised by congress.datasources."""

    code: str = "datasource_error"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TranslatorError(DatasourceError, ValueError):
    code = "translator_error"


class TranslationError(DatasourceError):
    code = "translation_error"


class InvalidConfig(DatasourceError):
    code = "invalid_config"
    http_status = 400


class InvalidDriverOptions(InvalidConfig):
    code = "invalid_driver_options"


class MissingRequiredOptions(InvalidConfig):
    code = "missing_required_options"


class InvalidLazyTables(InvalidConfig):
    code = "invalid_lazy_tables"


class InvalidRows(DatasourceError):
    code = "invalid_rows"
    http_status = 400


class InvalidWebhook(DatasourceError):
    code = "invalid_webhook"
    http_status = 400


class NotSupported(DatasourceError):
    code = "not_supported"
    http_status = 400


class UnknownTable(DatasourceError):
    code = "unknown_table"
    http_status = 404


class LazyTableNotActive(DatasourceError):
    code = "lazy_table"
    http_status = 400


class UnknownAction(DatasourceError):
    code = "unknown_action"
    http_status = 400


class InvalidActionArguments(DatasourceError, ValueError):
    """Raised by an action's handler, before it sends anything, for arguments it cannot use."""

    code = "invalid_action_arguments"
    http_status = 400


class ActionFailed(DatasourceError):
    code = "action_failed"
    http_status = 502


class PollFailed(DatasourceError):
    code = "poll_failed"
    http_status = 502


class ServiceError(DatasourceError):
    code = "service_error"
    http_status = 502


class DriverNotFound(DatasourceError):
    code = "driver_not_found"
    http_status = 404


class DriverLoadError(DatasourceError):
    code = "driver_load_error"
    http_status = 500
