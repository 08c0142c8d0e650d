"""The builtin tables of the policy language: comparison, arithmetic, string, datetime,
network-address and option-type builtins (the 42 of the original Congress).

Imports: standard library only.

A builtin is referenced as ``builtin:name(...)`` (or, deprecated, by its bare name). Its first
``num_inputs`` arguments must be bound before the call; the others are outputs.

Calling convention of ``Builtin.func`` (generated engine code calls it directly):
``func(*inputs)``, or ``func(clock, *inputs)`` when ``needs_clock`` (only ``now``).

- 0 outputs: returns a truth value (the test holds when truthy);
- 1 output: returns the output value;
- k > 1 outputs: returns a tuple of k values.

Outputs are always ``str``, ``int`` or ``float``. Raising any exception means the builtin fails
(no answer): incomparable types, division by zero, unparsable datetimes or addresses.

Datetime strings are parsed with the standard library: ISO 8601 (``T`` or space, with or
without seconds, any fraction), unpadded ``Y-M-D h:m:s`` (what ``pack_*`` produce), ``Y/M/D``,
``M/D/Y``, ``YYYYMMDD`` and month names (``Jan 5, 2014 10:00:00``, ``5 January 2014``); a time
alone takes the date 1900-01-01. A timezone suffix is ignored (the wall time is kept).
Durations are seconds (a number or numeric string) or ``"[[[[w:]d:]h:]m:]s"``.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from congress.datalog.ast import Value

BUILTIN_POLICY = "builtin"
"""The policy prefix of builtin literals (``builtin:lt(x, y)``)."""

Clock = Callable[[], datetime.datetime]


@dataclass(frozen=True, slots=True)
class Builtin:
    """One builtin table: its name, total arity, number of leading inputs and implementation."""

    name: str
    arity: int
    num_inputs: int
    func: Callable[..., object]
    needs_clock: bool = False

    @property
    def num_outputs(self) -> int:
        return self.arity - self.num_inputs


# --------------------------------------------------------------------------- arithmetic, strings


def _mul(x: Value, y: Value) -> Value:
    """Numbers only: string repetition could build arbitrarily large values."""
    if isinstance(x, str) or isinstance(y, str):
        raise TypeError("mul takes numbers")
    return x * y


def _div(x: Value, y: Value) -> Value:
    """Integer division when both are ints, true division otherwise."""
    if isinstance(x, str) or isinstance(y, str):
        raise TypeError("div takes numbers")
    if isinstance(x, int) and isinstance(y, int):
        return x // y
    return x / y


def _to_float(x: Value) -> float:
    return float(x)


def _to_int(x: Value) -> int:
    return int(x)


def _concat(x: Value, y: Value) -> str:
    if not (isinstance(x, str) and isinstance(y, str)):
        raise TypeError("concat takes strings")
    return x + y


def _len(x: Value) -> int:
    if not isinstance(x, str):
        raise TypeError("len takes a string")
    return len(x)


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


def _number(text: str) -> int | float:
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
    amounts = [_number(field) for field in reversed(fields)] + [0] * (5 - len(fields))
    seconds, minutes, hours, days, weeks = amounts
    return datetime.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


# --------------------------------------------------------------------------- datetime builtins


def _now(clock: Clock) -> str:
    return clock().strftime("%Y-%m-%d %H:%M:%S")


def _unpack_date(x: Value) -> tuple[int, int, int]:
    d = _to_datetime(x)
    return d.year, d.month, d.day


def _unpack_time(x: Value) -> tuple[int, int, int]:
    d = _to_datetime(x)
    return d.hour, d.minute, d.second


def _unpack_datetime(x: Value) -> tuple[int, int, int, int, int, int]:
    d = _to_datetime(x)
    return d.year, d.month, d.day, d.hour, d.minute, d.second


def _pack_time(hour: Value, minute: Value, second: Value) -> str:
    return f"{hour}:{minute}:{second}"


def _pack_date(year: Value, month: Value, day: Value) -> str:
    return f"{year}-{month}-{day}"


def _pack_datetime(
    year: Value, month: Value, day: Value, hour: Value, minute: Value, second: Value
) -> str:
    return f"{_pack_date(year, month, day)} {_pack_time(hour, minute, second)}"


def _extract_date(x: Value) -> str:
    return str(_to_datetime(x).date())


def _extract_time(x: Value) -> str:
    return str(_to_datetime(x).time())


def _datetime_to_seconds(x: Value) -> int:
    """Whole seconds since 1900-01-01 00:00:00, truncated toward zero."""
    delta = _to_datetime(x) - _EPOCH_1900
    seconds = delta.days * 86400 + delta.seconds
    if seconds < 0 and delta.microseconds:
        seconds += 1
    return seconds


def _datetime_plus(x: Value, duration: Value) -> str:
    return str(_to_datetime(x) + _to_timedelta(duration))


def _datetime_minus(x: Value, duration: Value) -> str:
    return str(_to_datetime(x) - _to_timedelta(duration))


def _datetime_test(
    op: Callable[[datetime.datetime, datetime.datetime], bool],
) -> Callable[..., bool]:
    def test(x: Value, y: Value) -> bool:
        return op(_to_datetime(x), _to_datetime(y))

    return test


# --------------------------------------------------------------------------- network addresses

_IPKey = tuple[int, int]
_NetKey = tuple[int, int, int]


@functools.lru_cache(maxsize=4096, typed=True)
def _ip_key(x: Value) -> _IPKey:
    """(version, integer) of an address: IPv4 sorts before IPv6, as netaddr did."""
    if isinstance(x, float):
        raise TypeError("an IP address must be a string or an integer")
    address = ipaddress.ip_address(x)
    return address.version, int(address)


@functools.lru_cache(maxsize=4096, typed=True)
def _net_key(x: Value) -> _NetKey:
    """(version, first, last) of a network; host bits are ignored."""
    if isinstance(x, float):
        raise TypeError("a network must be a string or an integer")
    network = ipaddress.ip_network(x, strict=False)
    return network.version, int(network.network_address), int(network.broadcast_address)


def _ip_test(op: Callable[[_IPKey, _IPKey], bool]) -> Callable[..., bool]:
    def test(x: Value, y: Value) -> bool:
        return op(_ip_key(x), _ip_key(y))

    return test


def _networks_equal(x: Value, y: Value) -> bool:
    return _net_key(x) == _net_key(y)


def _networks_overlap(x: Value, y: Value) -> bool:
    version1, first1, last1 = _net_key(x)
    version2, first2, last2 = _net_key(y)
    return version1 == version2 and first1 <= last2 and first2 <= last1


def _ip_in_network(ip: Value, cidr: Value) -> bool:
    version, value = _ip_key(ip)
    net_version, first, last = _net_key(cidr)
    return version == net_version and first <= value <= last


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
            return _number(x.strip())
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


def _validate_int(low: Value, high: Value, value: Value) -> str:
    return _validate_number(_as_int, low, high, value)


def _validate_float(low: Value, high: Value, value: Value) -> str:
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


def _validate_string(
    regex: Value, max_length: Value, quotes: Value, ignore_case: Value, value: Value
) -> str:
    try:
        _check_string(regex, max_length, quotes, ignore_case, value)
    except _Invalid as err:
        return str(err)
    return ""


# --------------------------------------------------------------------------- registry

_ALL: tuple[Builtin, ...] = (
    # comparison
    Builtin("lt", 2, 2, operator.lt),
    Builtin("lteq", 2, 2, operator.le),
    Builtin("equal", 2, 2, operator.eq),
    Builtin("gt", 2, 2, operator.gt),
    Builtin("gteq", 2, 2, operator.ge),
    Builtin("max", 3, 2, max),
    # arithmetic
    Builtin("plus", 3, 2, operator.add),
    Builtin("minus", 3, 2, operator.sub),
    Builtin("mul", 3, 2, _mul),
    Builtin("div", 3, 2, _div),
    Builtin("float", 2, 1, _to_float),
    Builtin("int", 2, 1, _to_int),
    # string
    Builtin("concat", 3, 2, _concat),
    Builtin("len", 2, 1, _len),
    # datetime
    Builtin("now", 1, 0, _now, needs_clock=True),
    Builtin("unpack_date", 4, 1, _unpack_date),
    Builtin("unpack_time", 4, 1, _unpack_time),
    Builtin("unpack_datetime", 7, 1, _unpack_datetime),
    Builtin("pack_time", 4, 3, _pack_time),
    Builtin("pack_date", 4, 3, _pack_date),
    Builtin("pack_datetime", 7, 6, _pack_datetime),
    Builtin("extract_date", 2, 1, _extract_date),
    Builtin("extract_time", 2, 1, _extract_time),
    Builtin("datetime_to_seconds", 2, 1, _datetime_to_seconds),
    Builtin("datetime_plus", 3, 2, _datetime_plus),
    Builtin("datetime_minus", 3, 2, _datetime_minus),
    Builtin("datetime_lt", 2, 2, _datetime_test(operator.lt)),
    Builtin("datetime_lteq", 2, 2, _datetime_test(operator.le)),
    Builtin("datetime_gt", 2, 2, _datetime_test(operator.gt)),
    Builtin("datetime_gteq", 2, 2, _datetime_test(operator.ge)),
    Builtin("datetime_equal", 2, 2, _datetime_test(operator.eq)),
    # network addresses
    Builtin("ips_equal", 2, 2, _ip_test(operator.eq)),
    Builtin("ips_lt", 2, 2, _ip_test(operator.lt)),
    Builtin("ips_lteq", 2, 2, _ip_test(operator.le)),
    Builtin("ips_gt", 2, 2, _ip_test(operator.gt)),
    Builtin("ips_gteq", 2, 2, _ip_test(operator.ge)),
    Builtin("networks_equal", 2, 2, _networks_equal),
    Builtin("networks_overlap", 2, 2, _networks_overlap),
    Builtin("ip_in_network", 2, 2, _ip_in_network),
    # option types (config validator)
    Builtin("validate_int", 4, 3, _validate_int),
    Builtin("validate_float", 4, 3, _validate_float),
    Builtin("validate_string", 6, 5, _validate_string),
)

BUILTINS: Mapping[str, Builtin] = MappingProxyType({b.name: b for b in _ALL})
"""Every builtin, keyed by its bare name."""


def lookup(table: str, policy: str | None) -> Builtin | None:
    """The builtin named by ``builtin:table`` or by a bare (deprecated) ``table``."""
    if policy is not None and policy != BUILTIN_POLICY:
        return None
    return BUILTINS.get(table)


def is_builtin_name(table: str) -> bool:
    """True when a bare table name is the name of a builtin."""
    return table in BUILTINS


def call(b: Builtin, inputs: Sequence[Value], clock: Clock) -> tuple[Value, ...] | None:
    """Run a builtin: its outputs (``()`` for a test that holds), None when it fails."""
    if len(inputs) != b.num_inputs:
        raise ValueError(f"builtin {b.name} takes {b.num_inputs} inputs, got {len(inputs)}")
    args = (clock, *inputs) if b.needs_clock else tuple(inputs)
    try:
        result = b.func(*args)
    except Exception:
        return None
    return _outputs(b, result)


def _outputs(b: Builtin, result: object) -> tuple[Value, ...] | None:
    if b.num_outputs == 0:
        return () if result else None
    values = (result,) if b.num_outputs == 1 else result
    if not isinstance(values, tuple) or len(values) != b.num_outputs:
        raise TypeError(f"builtin {b.name} returned {result!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError(f"builtin {b.name} returned {result!r}")
    return values
