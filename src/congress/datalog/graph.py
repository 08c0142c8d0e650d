"""The global dependency graph over ``policy:table`` nodes: components, strata, cycle checks.

Imports: standard library only.

Nodes are (policy, table) pairs; an edge runs from a body relation to the head relation of a
rule, marked negative when the body literal is negated. Strongly connected components, listed in
topological order (inputs before consumers), are the units of evaluation: a component with one
node and no self-edge is evaluated by counting; any other is recursive.
"""

from __future__ import annotations

from collections.abc import Iterable

Key = tuple[str, str]
Edge = tuple[Key, Key, bool]  # body relation, head relation, negated


class Components:
    """The SCCs of a graph in topological order, with the component of each node."""

    def __init__(self, nodes: Iterable[Key], edges: Iterable[Edge]) -> None:
        self.succ: dict[Key, set[Key]] = {}
        self.neg: set[tuple[Key, Key]] = set()
        for n in nodes:
            self.succ.setdefault(n, set())
        for a, b, negated in edges:
            self.succ.setdefault(a, set()).add(b)
            self.succ.setdefault(b, set())
            if negated:
                self.neg.add((a, b))
        self.order: list[tuple[Key, ...]] = _tarjan(self.succ)
        self.index: dict[Key, int] = {}
        for i, comp in enumerate(self.order):
            for n in comp:
                self.index[n] = i

    def is_recursive(self, i: int) -> bool:
        comp = self.order[i]
        return len(comp) > 1 or comp[0] in self.succ[comp[0]]

    def recursive_components(self) -> list[tuple[Key, ...]]:
        return [c for i, c in enumerate(self.order) if self.is_recursive(i)]

    def negative_cycle(self, comp: tuple[Key, ...]) -> list[Key] | None:
        """A cycle through a negative edge inside ``comp``, as a list of nodes, or None."""
        members = set(comp)
        for a, b in self.neg:
            if a in members and b in members:
                path = self.path(b, a, members)
                if path is not None:
                    return [a, *path]
        return None

    def path(self, src: Key, dst: Key, within: set[Key]) -> list[Key] | None:
        """Nodes of a shortest path from ``src`` to ``dst`` inside ``within``."""
        prev: dict[Key, Key | None] = {src: None}
        frontier = [src]
        while frontier:
            nxt: list[Key] = []
            for n in frontier:
                if n == dst:
                    out: list[Key] = []
                    cur: Key | None = n
                    while cur is not None:
                        out.append(cur)
                        cur = prev[cur]
                    return out[::-1]
                for m in sorted(self.succ[n]):
                    if m in within and m not in prev:
                        prev[m] = n
                        nxt.append(m)
            frontier = nxt
        return None

    def cycle_of(self, comp: tuple[Key, ...]) -> list[Key]:
        """One cycle inside a recursive component, starting and ending at the same node."""
        start = min(comp)
        members = set(comp)
        for m in sorted(self.succ[start]):
            if m in members:
                p = self.path(m, start, members)
                if p is not None:
                    return [start, *p]
        return [start, start]


def _tarjan(succ: dict[Key, set[Key]]) -> list[tuple[Key, ...]]:
    """Strongly connected components in topological order (sources first), iteratively."""
    index: dict[Key, int] = {}
    low: dict[Key, int] = {}
    on_stack: set[Key] = set()
    stack: list[Key] = []
    out: list[tuple[Key, ...]] = []
    counter = 0
    for root in sorted(succ):
        if root in index:
            continue
        work: list[tuple[Key, list[Key]]] = [(root, sorted(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            if children:
                child = children.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(succ[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: list[Key] = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                out.append(tuple(sorted(comp)))
    out.reverse()
    return out
