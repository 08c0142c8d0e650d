"""Values as the engine stores them, and the normalisation of values coming from drivers.

Imports: standard library only.

Rows hold ``str``, ``int`` and ``float`` values: numbers stay numbers and strings stay strings
(Unicode included). Drivers give JSON-like values; as in the original Congress, booleans become
``"True"``/``"False"`` and nulls ``"None"``, so existing policies keep working; anything else
(lists, objects) becomes its canonical JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from congress.datalog.ast import Row, Value


def normalize_value(v: Any) -> Value:
    """One driver value as a row value."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, str | int | float):
        return v
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def normalize_row(values: Iterable[Any]) -> Row:
    """A driver row (any iterable of values) as an engine row."""
    return tuple(normalize_value(v) for v in values)
