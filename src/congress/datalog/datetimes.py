"""Datetime builtins: reading datetimes and durations with the standard library only.

Imports: standard library and congress.datalog.ast only.

Datetime strings: ISO 8601 (``T`` or space, with or without seconds, any fraction), unpadded
``Y-M-D h:m:s`` (what ``pack_*`` produce), ``Y/M/D``, ``M/D/Y``, ``YYYYMMDD`` and month names
(``Jan 5, 2014 10:00:00``, ``5 January 2014``); a time alone takes the date 1900-01-01; a
timezone suffix is ignored (the wall time is kept). Durations are seconds (a number or numeric
string) or ``"[[[[w:]d:]h:]m:]s"``. Every function raises on bad input: the builtin then fails.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable

from congress.datalog.ast import Value

Clock = Callable[[], datetime.datetime]

# --------------------------------------------------------------------------- datetime parsing

_DEFAULT_DATE = datetime.date(1900, 1, 1)
_EPOCH_1900 = datetime.datetime(1900, 1, 1)
_MAX_DATETIME_LENGTH = 100
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_TIME_TAIL = re.compile(
    r"(?:^|(?<=\d)[Tt]|,?\s+)"
    r"(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:[.,](?P<f>\d+))?)?"
    r"\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)
_DATE_FORMS = tuple(
    re.compile(_WEEKDAY + form, re.IGNORECASE)
    for form in (
        r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})",
        r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})",
        r"(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})",
        r"(?P<mon>[a-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})",
        r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon>[a-z]{3,9})\.?,?\s+(?P<y>\d{4})",
    )
)


def _month_number(name: str) -> int:
    lowered = name.lower()
    for number, month in enumerate(_MONTHS, start=1):
        if month.startswith(lowered):
            return number
    raise ValueError(f"unknown month {name!r}")


def _parse_date(text: str) -> datetime.date:
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match is None:
            continue
        parts = match.groupdict()
        month = _month_number(parts["mon"]) if parts.get("mon") else int(parts["m"])
        return datetime.date(int(parts["y"]), month, int(parts["d"]))
    raise ValueError(f"unrecognised date {text!r}")


def _parse_loose(text: str) -> datetime.datetime:
    """Dates and times that ``fromisoformat`` refuses (unpadded, month names, time only)."""
    match = _TIME_TAIL.search(text)
    if match is None:
        return datetime.datetime.combine(_parse_date(text), datetime.time())
    fraction = (match["f"] or "")[:6].ljust(6, "0")
    time = datetime.time(int(match["h"]), int(match["m"]), int(match["s"] or 0), int(fraction))
    date_text = text[: match.start()].strip()
    date = _parse_date(date_text) if date_text else _DEFAULT_DATE
    return datetime.datetime.combine(date, time)


@functools.lru_cache(maxsize=4096, typed=True)
def _to_datetime(x: Value) -> datetime.datetime:
    """A naive datetime from a datetime string; a timezone is dropped, not applied."""
    if not isinstance(x, str):
        raise TypeError("a datetime must be a string")
    text = x.strip()
    if len(text) > _MAX_DATETIME_LENGTH:
        raise ValueError("datetime string too long")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        parsed = _parse_loose(text)
    return parsed.replace(tzinfo=None)


def number(text: str) -> int | float:
    """An int or float from a numeric string (ValueError otherwise)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _to_timedelta(x: Value) -> datetime.timedelta:
    """A duration: seconds as a number, or the string ``[[[[w:]d:]h:]m:]s``."""
    if not isinstance(x, str):
        return datetime.timedelta(seconds=x)
    fields = x.split(":")
    if len(fields) > 5:
        raise ValueError(f"bad duration {x!r}")
    amounts = [number(field) for field in reversed(fields)] + [0] * (5 - len(fields))
    seconds, minutes, hours, days, weeks = amounts
    return datetime.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


# --------------------------------------------------------------------------- datetime builtins


def now(clock: Clock) -> str:
    return clock().strftime("%Y-%m-%d %H:%M:%S")


def unpack_date(x: Value) -> tuple[int, int, int]:
    d = _to_datetime(x)
    return d.year, d.month, d.day


def unpack_time(x: Value) -> tuple[int, int, int]:
    d = _to_datetime(x)
    return d.hour, d.minute, d.second


def unpack_datetime(x: Value) -> tuple[int, int, int, int, int, int]:
    d = _to_datetime(x)
    return d.year, d.month, d.day, d.hour, d.minute, d.second


def pack_time(hour: Value, minute: Value, second: Value) -> str:
    return f"{hour}:{minute}:{second}"


def pack_date(year: Value, month: Value, day: Value) -> str:
    return f"{year}-{month}-{day}"


def pack_datetime(
    year: Value, month: Value, day: Value, hour: Value, minute: Value, second: Value
) -> str:
    return f"{pack_date(year, month, day)} {pack_time(hour, minute, second)}"


def extract_date(x: Value) -> str:
    return str(_to_datetime(x).date())


def extract_time(x: Value) -> str:
    return str(_to_datetime(x).time())


def datetime_to_seconds(x: Value) -> int:
    """Whole seconds since 1900-01-01 00:00:00, truncated toward zero."""
    delta = _to_datetime(x) - _EPOCH_1900
    seconds = delta.days * 86400 + delta.seconds
    if seconds < 0 and delta.microseconds:
        seconds += 1
    return seconds


def datetime_plus(x: Value, duration: Value) -> str:
    return str(_to_datetime(x) + _to_timedelta(duration))


def datetime_minus(x: Value, duration: Value) -> str:
    return str(_to_datetime(x) - _to_timedelta(duration))


def datetime_test(
    op: Callable[[datetime.datetime, datetime.datetime], bool],
) -> Callable[..., bool]:
    def test(x: Value, y: Value) -> bool:
        return op(_to_datetime(x), _to_datetime(y))

    return test
