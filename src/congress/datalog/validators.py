"""Option-type builtins of the original's config validator: ``validate_int``,
``validate_float`` and ``validate_string`` return "" when the value is acceptable, else the
error text (oslo.config's wording).

Imports: standard library and congress.datalog.ast only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from congress.datalog.ast import Value
from congress.datalog.datetimes import number

# --------------------------------------------------------------------------- option types

_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0", "", "none"})


class _Invalid(Exception):
    """A validation error: its text is the builtin's output."""


def _absent(x: Value) -> bool:
    """'' (and 'None', a null from a datasource) means "no constraint"."""
    return x in ("", "None")


def _bound(x: Value) -> int | float | None:
    if _absent(x):
        return None
    if isinstance(x, str):
        try:
            return number(x.strip())
        except ValueError:
            raise _Invalid(f"Invalid bound {x!r}") from None
    return x


def _flag(x: Value) -> bool:
    if not isinstance(x, str):
        return x != 0
    word = x.strip().lower()
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise _Invalid(f"Unexpected boolean value {x!r}")


def _bounds(low: Value, high: Value) -> tuple[int | float | None, int | float | None]:
    low_bound, high_bound = _bound(low), _bound(high)
    if low_bound is not None and high_bound is not None and high_bound < low_bound:
        raise _Invalid("Max value is less than min value")
    return low_bound, high_bound


def _check_range(value: float, low: float | None, high: float | None) -> None:
    if low is not None and value < low:
        raise _Invalid(f"Should be greater than or equal to {low:g}")
    if high is not None and value > high:
        raise _Invalid(f"Should be less than or equal to {high:g}")


def _as_int(value: Value) -> int | None:
    """The integer a value denotes, None for a blank value; ValueError otherwise."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    return int(text) if text else None


def _as_float(value: Value) -> float | None:
    if not isinstance(value, str):
        return float(value)
    text = value.strip()
    return float(text) if text else None


def _validate_number(
    convert: Callable[[Value], float | None], low: Value, high: Value, value: Value
) -> str:
    try:
        low_bound, high_bound = _bounds(low, high)
        number = convert(value)
        if number is not None:
            _check_range(number, low_bound, high_bound)
    except (ValueError, OverflowError, _Invalid) as err:
        return str(err)
    return ""


def validate_int(low: Value, high: Value, value: Value) -> str:
    return _validate_number(_as_int, low, high, value)


def validate_float(low: Value, high: Value, value: Value) -> str:
    return _validate_number(_as_float, low, high, value)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def _unquote(text: str) -> str:
    if text and text[0] in "\"'":
        if text[-1] != text[0] or len(text) == 1:
            raise _Invalid(f"Non-closed quote: {text}")
        return text[1:-1]
    return text


def _check_string(
    regex: Value, max_length: Value, quotes: Value, ignore: Value, value: Value
) -> None:
    text = _unquote(str(value)) if _flag(quotes) else str(value)
    limit = _bound(max_length)
    if limit is not None and limit > 0 and len(text) > limit:
        raise _Invalid(f"Value '{text}' exceeds maximum length {int(limit)}")
    if _absent(regex):
        return
    pattern = _compile(str(regex), _flag(ignore))  # re.error propagates: the builtin fails
    if pattern.search(text) is None:
        raise _Invalid(f"Value {text!r} doesn't match regex {pattern.pattern!r}")


def validate_string(
    regex: Value, max_length: Value, quotes: Value, ignore_case: Value, value: Value
) -> str:
    try:
        _check_string(regex, max_length, quotes, ignore_case, value)
    except _Invalid as err:
        return str(err)
    return ""
