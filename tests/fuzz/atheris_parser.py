"""Coverage-guided fuzzing of the parser and the runtime's checks with atheris (libFuzzer).

Imports: atheris, the standard library, ``fuzz_support`` and ``congress.datalog``.

Run by hand (libFuzzer flags after the script; the corpus directory grows as it runs)::

    .venv/bin/python tests/fuzz/atheris_parser.py -max_total_time=600 /tmp/datalog-corpus

Each input is turned into text in one of three ways (its first byte chooses): the rest decoded
as UTF-16 code units (lone surrogates included), or read as indexes into the language's tokens
(``fuzz_support.TOKENS``), or UTF-8 with errors replaced. The text must then keep the contracts
of ``fuzz_support``: ``check_parse_contract`` and ``check_roundtrip`` always, and
``check_insert_contract`` against a small runtime (one policy of each kind and a datasource with
a schema and rows) for texts that parse. A broken contract or any other exception is a crash:
libFuzzer prints it, writes the input to ``crash-<sha1>`` (``-artifact_prefix=DIR/``) and exits
non-zero. Replay a crash with ``atheris_parser.py crash-<sha1>``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["congress.datalog"]):
    from fuzz_support import (
        TOKENS,
        check_insert_contract,
        check_parse_contract,
        check_roundtrip,
    )

    from congress.datalog.errors import PolicyError
    from congress.datalog.parser import parse
    from congress.datalog.runtime import Runtime

KINDS = ("nonrecursive", "materialized", "action", "database")


def text_of(data: bytes) -> str:
    """The text an input stands for (see the module docstring)."""
    if not data:
        return ""
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        units = [int.from_bytes(rest[i : i + 2], "little") for i in range(0, len(rest) - 1, 2)]
        return "".join(map(chr, units))
    if mode == 1:
        return "".join(TOKENS[b % len(TOKENS)] for b in rest)
    return rest.decode("utf-8", errors="replace")


def runtime() -> Runtime:
    rt = Runtime()
    rt.create_policy("nova", "datasource", schema={"servers": ("id", "status")})
    rt.apply({("nova", "servers"): ([("vm1", "ACTIVE"), ("vm2", "ERROR")], [])})
    for kind in KINDS:
        rt.create_policy(kind[:5], kind)
    return rt


def test_one_input(data: bytes) -> None:
    text = text_of(data)
    check_parse_contract(text)
    check_roundtrip(text)
    try:
        parse(text)
    except PolicyError:
        return
    rt = runtime()
    for kind in KINDS:
        check_insert_contract(rt, kind[:5], text)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
