"""congress.common.memory: the resident size, and freezing long-lived objects out of the
garbage collector's full passes (and the engine's batches leaving them frozen)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from congress.common.memory import LongLivedFreezer, resident_bytes
from congress.datalog.txn import TENURE, gc_paused


@pytest.fixture
def thawed() -> Iterator[None]:
    """Leave the collector as found: nothing frozen before or after the test."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_resident_bytes_grows_with_what_the_process_holds() -> None:
    before = resident_bytes()
    held = [bytearray(1 << 20) for _ in range(64)]
    for block in held:
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    assert resident_bytes() - before >= 32 << 20
    del held


def test_the_freezer_freezes_only_after_the_memory_grew(thawed: None) -> None:
    memory = [1000]
    freezer = LongLivedFreezer(grown=100, memory=lambda: memory[0])
    memory[0] = 1099
    assert freezer.check() is False and gc.get_freeze_count() == 0
    memory[0] = 1100
    kept = [{"long": i} for i in range(1000)]  # tracked objects that stay
    assert freezer.check() is True
    assert gc.get_freeze_count() >= len(kept) and freezer.freezes == 1
    assert freezer.check() is False  # no growth since
    memory[0] = 500  # memory given back: growth is measured from there
    assert freezer.check() is False
    memory[0] = 600
    assert freezer.check() is True and freezer.freezes == 2


def test_cyclic_garbage_is_collected_before_freezing(thawed: None) -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    ids = {id(a), id(b)}
    del a, b
    memory = [0]
    freezer = LongLivedFreezer(grown=1, memory=lambda: memory[0])
    memory[0] = 10
    assert freezer.check()
    assert not any(id(o) in ids and isinstance(o, Node) for o in gc.get_objects())


def test_a_big_batch_keeps_frozen_objects_frozen(thawed: None) -> None:
    """The engine tenures a big batch's objects by freeze + unfreeze, unless the process keeps
    objects frozen: unfreezing would thaw them all."""
    kept = [{"frozen": i} for i in range(100)]
    gc.freeze()
    frozen = gc.get_freeze_count()
    with gc_paused():
        made = [{"new": i} for i in range(TENURE * 2)]
    # still frozen: an unfreeze would leave none (other threads' frozen objects may have
    # been freed meanwhile, so the count can only have shrunk a little)
    assert len(kept) <= gc.get_freeze_count() <= frozen
    assert gc.get_freeze_count() > frozen // 2
    assert gc.isenabled()
    del made, kept


def test_without_frozen_objects_a_big_batch_is_tenured(thawed: None) -> None:
    with gc_paused():
        made = [{"new": i} for i in range(TENURE * 2)]
    assert gc.get_freeze_count() == 0
    assert gc.get_count()[0] < TENURE  # moved out of the young generation without a pass
    del made
