"""Relations: the rows of one table, their support counts and their hash indexes.

Imports: standard library only.

Invariants
- ``rows`` maps each row present to a positive support count. For a relation maintained by
  counting it is the number of derivations plus one if the row is an asserted fact; for base
  relations and recursive relations every count is 1.
- ``facts`` is ``None`` while the relation has no rules: then ``rows`` *are* its asserted facts.
  Once a rule defines the relation, ``facts`` holds the asserted rows separately.
- Every index built by ``index(cols)`` is kept exact by ``add``/``remove``: it maps the value of
  ``cols`` (the value itself for one column, a tuple otherwise) to the set of rows having it.
  Indexes are built lazily, on first use of an access pattern, so bulk loads pay once.
- ``OldView`` shows the state before a batch (``rows`` minus inserted plus deleted) with the same
  ``get``/``in``/iteration interface as a dict, so compiled join plans read either unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from congress.datalog.ast import Row

Cols = tuple[int, ...]
BULK_FACTOR = 8
Index = dict[Any, set[Row]]


def key_of(row: Row, cols: Cols) -> Any:
    """The index key of ``row`` for the columns ``cols``."""
    if len(cols) == 1:
        return row[cols[0]]
    return tuple(row[c] for c in cols)


class Relation:
    """The rows of one (policy, table), with support counts and lazily built indexes."""

    __slots__ = ("_indexes", "facts", "key", "rows")

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.rows: dict[Row, int] = {}
        self._indexes: dict[Cols, Index] = {}
        self.facts: set[Row] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Relation({self.key[0]}:{self.key[1]}, {len(self.rows)} rows)"

    def index(self, cols: Cols) -> Index:
        """The hash index on ``cols``, built on first use."""
        idx = self._indexes.get(cols)
        if idx is None:
            idx = {}
            if len(cols) == 1:
                c = cols[0]
                for row in self.rows:
                    k = row[c]
                    bucket = idx.get(k)
                    if bucket is None:
                        idx[k] = {row}
                    else:
                        bucket.add(row)
            else:
                for row in self.rows:
                    idx.setdefault(tuple(row[i] for i in cols), set()).add(row)
            self._indexes[cols] = idx
        return idx

    def _bulk(self, n: int) -> bool:
        """Whether inserting ``n`` rows is large enough that dropping the indexes (rebuilt on
        their next use, if any) is cheaper than updating each of them row by row."""
        return n * BULK_FACTOR > len(self.rows)

    def add(self, row: Row, count: int = 1) -> None:
        """Insert a row that is not present."""
        self.rows[row] = count
        for cols, idx in self._indexes.items():
            k = row[cols[0]] if len(cols) == 1 else tuple(row[c] for c in cols)
            bucket = idx.get(k)
            if bucket is None:
                idx[k] = {row}
            else:
                bucket.add(row)

    def remove(self, row: Row) -> None:
        """Delete a row that is present."""
        del self.rows[row]
        for cols, idx in self._indexes.items():
            k = row[cols[0]] if len(cols) == 1 else tuple(row[c] for c in cols)
            bucket = idx[k]
            bucket.discard(row)
            if not bucket:
                del idx[k]

    def add_many(self, rows: Iterable[Row]) -> list[Row]:
        """Insert rows with count 1, skipping those present; returns the rows inserted."""
        present = self.rows
        if not present:
            self.rows = dict.fromkeys(rows, 1)
            self._indexes.clear()
            return list(self.rows)
        new = [r for r in dict.fromkeys(rows) if r not in present]
        self.add_new(dict.fromkeys(new, 1))
        return new

    def add_new(self, rows: dict[Row, int]) -> None:
        """Insert rows known to be absent (keys of ``rows``, with their counts)."""
        if self._bulk(len(rows)):
            self._indexes.clear()
        if self._indexes:
            for r, n in rows.items():
                self.add(r, n)
        else:
            self.rows.update(rows)

    def remove_many(self, rows: Iterable[Row]) -> list[Row]:
        """Delete rows, skipping those absent; returns the rows deleted."""
        present = self.rows
        gone = [r for r in dict.fromkeys(rows) if r in present]
        for r in gone:
            self.remove(r)
        return gone

    def apply_counts(
        self, acc: dict[Row, int], undo: dict[Row, int] | None
    ) -> tuple[set[Row], set[Row]]:
        """Add count changes; return rows that appeared and disappeared.

        ``undo`` receives the old count of every row changed (0 for rows that were absent),
        first write wins, so a later rollback restores the state before the batch.
        """
        ins: dict[Row, int] = {}
        dels: set[Row] = set()
        rows = self.rows
        get = rows.get
        for row, d in acc.items():
            if not d:
                continue
            old = get(row, 0)
            new = old + d
            if undo is not None and row not in undo:
                undo[row] = old
            if new > 0:
                if old > 0:
                    rows[row] = new
                else:
                    ins[row] = new
            elif old > 0:
                self.remove(row)
                dels.add(row)
            elif new < 0:
                raise AssertionError(f"negative support {new} for {row} in {self.key}")
        if ins:
            self.add_new(ins)
        return set(ins), dels

    def set_count(self, row: Row, count: int) -> None:
        """Set a row's count (0 removes it), keeping indexes exact."""
        old = self.rows.get(row, 0)
        if count > 0:
            if old > 0:
                self.rows[row] = count
            else:
                self.add(row, count)
        elif old > 0:
            self.remove(row)


class OldView:
    """The state of a relation before the current batch: ``new - ins + dels``."""

    __slots__ = ("_by_cols", "_dels", "_ins", "_rel")

    def __init__(self, rel: Relation, ins: set[Row], dels: set[Row]) -> None:
        self._rel = rel
        self._ins = ins
        self._dels = dels
        self._by_cols: dict[Cols, Index] = {}

    def __contains__(self, row: object) -> bool:
        return (row in self._rel.rows and row not in self._ins) or row in self._dels

    def __iter__(self) -> Iterator[Row]:
        ins = self._ins
        for row in self._rel.rows:
            if row not in ins:
                yield row
        yield from self._dels

    def __len__(self) -> int:
        return len(self._rel.rows) - len(self._ins) + len(self._dels)

    def index(self, cols: Cols) -> OldIndex:
        return OldIndex(self, cols)

    def _dels_index(self, cols: Cols) -> Index:
        idx = self._by_cols.get(cols)
        if idx is None:
            idx = {}
            for row in self._dels:
                idx.setdefault(key_of(row, cols), set()).add(row)
            self._by_cols[cols] = idx
        return idx


class OldIndex:
    """An index of an ``OldView``: ``get(key, default)`` as a dict's."""

    __slots__ = ("_cols", "_dels", "_idx", "_ins")

    def __init__(self, view: OldView, cols: Cols) -> None:
        self._idx = view._rel.index(cols)
        self._ins = view._ins
        self._dels = view._dels_index(cols)
        self._cols = cols

    def get(self, key: Any, default: Any = None) -> Any:
        ins = self._ins
        out = [r for r in self._idx.get(key, ()) if r not in ins]
        out.extend(self._dels.get(key, ()))
        return out if out else default
