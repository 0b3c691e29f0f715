"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell is a DAG of ``num_nodes`` nodes (4 in the paper); node ``i`` sums one operation
applied to each earlier node, so there are ``i`` edges into it and 6 edges in all. Each
edge picks one of :data:`CELL_OPS`, giving 5**6 = 15,625 cells. The text format is the
benchmark's own, e.g. ``|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|...|``:
one ``|op~source|`` group per incoming edge, nodes separated by ``+``.
"""

from __future__ import annotations

import re

from ..validation import require_choice, require_positive
from .search_space import Architecture, Decision, SearchSpace

CELL_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_EDGE = re.compile(r"^([A-Za-z0-9_]+)~(\d+)$")


class CellSpace(SearchSpace):
    """The NAS-Bench-201 cell: one op per edge ``j -> i`` of a ``num_nodes``-node DAG."""

    name = "cell"

    def __init__(self, num_nodes: int = 4, ops=CELL_OPS):
        self.num_nodes = require_positive("num_nodes", num_nodes, integer=True)
        if self.num_nodes < 2:
            raise ValueError(f"num_nodes: must be at least 2, got {num_nodes}")
        if isinstance(ops, str) or not ops:
            raise ValueError(f"ops: expected a non-empty list drawn from {list(CELL_OPS)}, got {ops!r}")
        self.ops = tuple(require_choice("ops", op, CELL_OPS) for op in ops)
        self.edges: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(1, self.num_nodes) for j in range(i))
        super().__init__([Decision(f"node{i}<-{j}", self.ops, layer=i, source=j) for i, j in self.edges])

    def spec(self) -> dict:
        return {"space": "cell", "num_nodes": self.num_nodes, "ops": list(self.ops)}

    def edge_ops(self, arch: Architecture) -> dict[tuple[int, int], str]:
        """``{(to_node, from_node): op}`` for every edge of the DAG."""
        return dict(zip(self.edges, arch.choices))

    def format(self, arch: Architecture) -> str:
        groups, k = [], 0
        for i in range(1, self.num_nodes):
            groups.append("|" + "|".join(f"{arch.choices[k + j]}~{j}" for j in range(i)) + "|")
            k += i
        return "+".join(groups)

    def parse(self, text: str) -> Architecture:
        """Read a NAS-Bench-201 string; errors say which part is wrong and what is allowed."""
        example = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"arch: expected a NAS-Bench-201 string such as {example}, got {text!r}")
        groups = text.strip().split("+")
        if len(groups) != self.num_nodes - 1:
            raise ValueError(
                f"arch: expected {self.num_nodes - 1} node groups separated by '+', got {len(groups)} in {text!r}"
            )
        choices = []
        for i, group in enumerate(groups, start=1):
            if len(group) < 2 or group[0] != "|" or group[-1] != "|":
                raise ValueError(f"arch: node {i} group {group!r} must be wrapped in '|', as in {example}")
            edges = group[1:-1].split("|")
            if len(edges) != i:
                raise ValueError(f"arch: node {i} needs {i} incoming edges (sources 0..{i - 1}), got {len(edges)} in {group!r}")
            for j, edge in enumerate(edges):
                match = _EDGE.match(edge)
                if not match:
                    raise ValueError(f"arch: edge {edge!r} of node {i} must read 'op~source', as in 'nor_conv_3x3~{j}'")
                op, source = match.group(1), int(match.group(2))
                require_choice(f"arch op of edge {j}->{i}", op, self.ops)
                if source != j:
                    raise ValueError(f"arch: edge {edge!r} of node {i}: source must be {j} (edges are listed in order 0..{i - 1})")
                choices.append(op)
        return self.from_choices(choices)

    def canonical(self, arch: Architecture) -> str:
        """A string equal for isomorphic cells (same function, relabelled nodes).

        NAS-Bench-201's rule (``to_unique_str(consider_zero=True)``): ``skip_connect``
        passes its input through, ``none`` (or a zero input) contributes nothing, and a
        node is the sorted sum of its inputs. Over all 15,625 cells this gives the 6,466
        unique architectures that the benchmark reports.
        """
        nodes = {0: "0"}
        k = 0
        for i in range(1, self.num_nodes):
            terms = []
            for j in range(i):
                op, source = arch.choices[k], nodes[j]
                k += 1
                if op == "none" or source == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(source)
                else:
                    terms.append(f"({source})@{op}")
            nodes[i] = "+".join(sorted(terms))
        return nodes[self.num_nodes - 1]

    def is_valid(self, arch: Architecture) -> bool:
        """False when no path of non-``none`` edges joins the input to the output."""
        reach = {0: True}
        k = 0
        for i in range(1, self.num_nodes):
            reach[i] = any(arch.choices[k + j] != "none" and reach[j] for j in range(i))
            k += i
        return reach[self.num_nodes - 1]
