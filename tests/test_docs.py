"""The documentation lists what the code has."""

from __future__ import annotations

import pathlib

from congress.datalog.builtins import BUILTINS
from congress.datalog.errors import CODES

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_error_code_is_documented() -> None:
    text = (ROOT / "docs" / "errors.md").read_text()
    missing = [code for code in CODES if f"`{code}`" not in text]
    assert missing == []


def test_every_driver_and_database_error_code_is_documented() -> None:
    import inspect

    from congress.datasources.errors import CODES as DS_CODES
    from congress.db import errors as db_errors

    text = (ROOT / "docs" / "errors.md").read_text()
    db_codes = {
        c.code
        for _, c in inspect.getmembers(db_errors, inspect.isclass)
        if issubclass(c, db_errors.DBError)
    }
    missing = [code for code in [*DS_CODES, *db_codes] if f"`{code}`" not in text]
    assert missing == []


def test_every_builtin_is_documented() -> None:
    text = (ROOT / "docs" / "language.md").read_text()
    missing = [name for name in BUILTINS if f"`{name}" not in text]
    assert missing == []


def test_every_service_error_code_is_documented() -> None:
    import inspect

    from congress.services import errors as svc_errors

    text = (ROOT / "docs" / "errors.md").read_text()
    codes = {
        c.code
        for _, c in inspect.getmembers(svc_errors, inspect.isclass)
        if issubclass(c, svc_errors.ServiceError)
    }
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert missing == []
