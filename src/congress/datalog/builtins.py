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

import functools
import ipaddress
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from congress.datalog import datetimes, validators
from congress.datalog.ast import Value

BUILTIN_POLICY = "builtin"
"""The policy prefix of builtin literals (``builtin:lt(x, y)``)."""

Clock = datetimes.Clock


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
    Builtin("now", 1, 0, datetimes.now, needs_clock=True),
    Builtin("unpack_date", 4, 1, datetimes.unpack_date),
    Builtin("unpack_time", 4, 1, datetimes.unpack_time),
    Builtin("unpack_datetime", 7, 1, datetimes.unpack_datetime),
    Builtin("pack_time", 4, 3, datetimes.pack_time),
    Builtin("pack_date", 4, 3, datetimes.pack_date),
    Builtin("pack_datetime", 7, 6, datetimes.pack_datetime),
    Builtin("extract_date", 2, 1, datetimes.extract_date),
    Builtin("extract_time", 2, 1, datetimes.extract_time),
    Builtin("datetime_to_seconds", 2, 1, datetimes.datetime_to_seconds),
    Builtin("datetime_plus", 3, 2, datetimes.datetime_plus),
    Builtin("datetime_minus", 3, 2, datetimes.datetime_minus),
    Builtin("datetime_lt", 2, 2, datetimes.datetime_test(operator.lt)),
    Builtin("datetime_lteq", 2, 2, datetimes.datetime_test(operator.le)),
    Builtin("datetime_gt", 2, 2, datetimes.datetime_test(operator.gt)),
    Builtin("datetime_gteq", 2, 2, datetimes.datetime_test(operator.ge)),
    Builtin("datetime_equal", 2, 2, datetimes.datetime_test(operator.eq)),
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
    Builtin("validate_int", 4, 3, validators.validate_int),
    Builtin("validate_float", 4, 3, validators.validate_float),
    Builtin("validate_string", 6, 5, validators.validate_string),
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
