"""Tests of the dependency graph (congress.datalog.graph): components, order, cycles."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from congress.datalog.graph import Components, Edge, Key


def k(name: str) -> Key:
    return ("p", name)


def edge(a: str, b: str, negated: bool = False) -> Edge:
    return (k(a), k(b), negated)


def assert_closed_cycle(comps: Components, cycle: list[Key], members: set[Key]) -> None:
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    for a, b in itertools.pairwise(cycle):
        assert b in comps.succ[a], (a, b)
        assert a in members and b in members


def test_topological_order_puts_inputs_before_consumers() -> None:
    # d <- c <- b <- a, and a -> d directly; e isolated
    comps = Components(
        [k("e")], [edge("c", "d"), edge("b", "c"), edge("a", "b"), edge("a", "d", True)]
    )
    pos = {n: comps.index[n] for n in map(k, "abcde")}
    assert pos[k("a")] < pos[k("b")] < pos[k("c")] < pos[k("d")]
    assert len(comps.order) == 5
    assert all(len(c) == 1 for c in comps.order)
    assert comps.recursive_components() == []
    assert not any(comps.is_recursive(i) for i in range(5))
    assert comps.neg == {(k("a"), k("d"))}
    assert comps.succ[k("e")] == set()


def test_nodes_without_edges_are_their_own_components() -> None:
    comps = Components([k("x"), k("y")], [])
    assert sorted(comps.order) == [(k("x"),), (k("y"),)]
    assert comps.index == {
        k("x"): comps.order.index((k("x"),)),
        k("y"): comps.order.index((k("y"),)),
    }


def test_self_loop_is_recursive() -> None:
    comps = Components([], [edge("q", "p"), edge("p", "p")])
    i = comps.index[k("p")]
    assert comps.order[i] == (k("p"),)
    assert comps.is_recursive(i)
    assert not comps.is_recursive(comps.index[k("q")])
    assert comps.index[k("q")] < i
    assert comps.recursive_components() == [(k("p"),)]
    assert comps.cycle_of((k("p"),)) == [k("p"), k("p")]


def test_mutual_recursion_is_one_recursive_component_after_its_inputs() -> None:
    # base -> a -> b -> c -> a ; c -> out
    comps = Components(
        [], [edge("base", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "out")]
    )
    cyc = (k("a"), k("b"), k("c"))
    assert cyc in comps.order
    i = comps.order.index(cyc)
    assert comps.is_recursive(i)
    assert comps.index[k("a")] == comps.index[k("b")] == comps.index[k("c")] == i
    assert comps.index[k("base")] < i < comps.index[k("out")]
    assert comps.recursive_components() == [cyc]
    cycle = comps.cycle_of(cyc)
    assert cycle == [k("a"), k("b"), k("c"), k("a")]
    assert_closed_cycle(comps, cycle, set(cyc))


def test_two_separate_cycles_are_two_components() -> None:
    comps = Components(
        [], [edge("a", "b"), edge("b", "a"), edge("b", "c"), edge("c", "d"), edge("d", "c")]
    )
    assert comps.recursive_components() == [(k("a"), k("b")), (k("c"), k("d"))]


def test_negative_cycle_goes_through_the_negative_edge() -> None:
    # p :- q ; q :- not r ; r :- p   (a cycle through negation)  and s :- not p outside it
    comps = Components(
        [], [edge("q", "p"), edge("r", "q", True), edge("p", "r"), edge("p", "s", True)]
    )
    comp = comps.order[comps.index[k("p")]]
    assert comp == (k("p"), k("q"), k("r"))
    cycle = comps.negative_cycle(comp)
    assert cycle == [k("r"), k("q"), k("p"), k("r")]
    assert_closed_cycle(comps, cycle, set(comp))
    assert (cycle[0], cycle[1]) in comps.neg


def test_negative_self_loop() -> None:
    comps = Components([], [edge("p", "p", True)])
    assert comps.negative_cycle((k("p"),)) == [k("p"), k("p")]


def test_no_negative_cycle_when_negation_is_outside_the_cycle() -> None:
    comps = Components(
        [], [edge("a", "b"), edge("b", "a"), edge("n", "a", True), edge("b", "m", True)]
    )
    comp = comps.order[comps.index[k("a")]]
    assert comp == (k("a"), k("b"))
    assert comps.negative_cycle(comp) is None
    assert comps.negative_cycle((k("n"),)) is None


def test_path_is_shortest_and_stays_within() -> None:
    comps = Components(
        [], [edge("a", "b"), edge("b", "c"), edge("c", "d"), edge("a", "x"), edge("x", "d")]
    )
    everything = set(comps.succ)
    assert comps.path(k("a"), k("d"), everything) == [k("a"), k("x"), k("d")]
    assert comps.path(k("a"), k("d"), everything - {k("x")}) == [k("a"), k("b"), k("c"), k("d")]
    assert comps.path(k("d"), k("a"), everything) is None
    assert comps.path(k("a"), k("a"), everything) == [k("a")]


NAMES = st.sampled_from("abcdef")
EDGES = st.lists(st.tuples(NAMES, NAMES, st.booleans()), max_size=14)


def reachable(succ: dict[Key, set[Key]], src: Key) -> set[Key]:
    seen = {src}
    todo = [src]
    while todo:
        n = todo.pop()
        for m in succ[n]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


@settings(max_examples=200, deadline=None)
@given(edges=EDGES)
def test_random_graphs_components_order_and_cycles(edges: list[tuple[str, str, bool]]) -> None:
    comps = Components([k("a")], [edge(a, b, n) for a, b, n in edges])
    nodes = set(comps.succ)
    assert set(comps.index) == nodes
    assert sorted(n for c in comps.order for n in c) == sorted(nodes)
    reach = {n: reachable(comps.succ, n) for n in nodes}
    for a in nodes:
        for b in nodes:
            same = comps.index[a] == comps.index[b]
            assert same == (a == b or (b in reach[a] and a in reach[b]))
    for a, b, _ in edges:
        assert comps.index[k(a)] <= comps.index[k(b)]
    for i, comp in enumerate(comps.order):
        members = set(comp)
        rec = len(comp) > 1 or comp[0] in comps.succ[comp[0]]
        assert comps.is_recursive(i) == rec
        if not rec:
            continue
        assert_closed_cycle(comps, comps.cycle_of(comp), members)
        neg_inside = [(a, b) for a, b in comps.neg if a in members and b in members]
        cycle = comps.negative_cycle(comp)
        if neg_inside:
            assert cycle is not None
            assert_closed_cycle(comps, cycle, members)
            assert (cycle[0], cycle[1]) in comps.neg
        else:
            assert cycle is None
