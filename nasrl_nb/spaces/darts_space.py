"""The DARTS cell search space (Liu, Simonyan & Yang, ICLR 2019, Sec. 2.1 and 3.1).

A network stacks two kinds of cell, a *normal* cell that keeps the resolution and a
*reduction* cell that halves it. Each cell is a DAG of two input states ``c_{k-2}`` and
``c_{k-1}`` (the outputs of the two previous cells, numbered 0 and 1) and ``num_nodes``
intermediate nodes (4 in the paper, numbered 2..5). Node ``s`` sums two operations applied
to two *distinct* earlier states ``i < j < s``; the cell's output concatenates every
intermediate node. The operations are DARTS's :data:`DARTS_OPS` without ``none``: the
derived cells of the paper never hold ``none`` (``none`` only exists in the continuous
relaxation, :data:`RELAXED_OPS`).

Decisions, per cell type and node (``normal`` first, then ``reduce``):

1. ``{cell}.node{s}.inputs`` -- the unordered pair ``"i,j"`` of input states (omitted for
   node 2, whose only pair is ``"0,1"``): ``C(s, 2)`` options;
2. ``{cell}.node{s}.op0`` -- the op applied to state ``i`` (the smaller index);
3. ``{cell}.node{s}.op1`` -- the op applied to state ``j``.

With 4 nodes and 7 ops this is ``(1 * 3 * 6 * 10 * 7**8)**2 ~ 1.1e18`` architectures, the
"about 10^18" of the paper (Sec. 3.1.1).

Text format: the paper's genotype, as printed by its code (``genotypes.py``), e.g.
``Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
reduce=[...], reduce_concat=[2, 3, 4, 5])``: two ``(op, input)`` pairs per node. ``parse``
accepts the pairs of a node in either order (the paper lists them by strength) and
``range(2, 6)`` for the concat lists; ``format`` lists them by input index.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass

from ..validation import require_choice, require_positive
from .search_space import Architecture, Decision, SearchSpace

# The 8 candidate ops of the DARTS relaxation (PRIMITIVES in the paper's code), ``none`` first.
RELAXED_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
DARTS_OPS: tuple[str, ...] = RELAXED_OPS[1:]  # the ops of a discrete (derived) cell
CELL_TYPES: tuple[str, ...] = ("normal", "reduce")

# The paper's best cell (DARTS (second order), genotypes.py's DARTS_V2), 2.76% error on CIFAR-10.
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


@dataclass(frozen=True)
class NodeSpec:
    """Intermediate node ``node`` of a cell: ``op0(state[inputs[0]]) + op1(state[inputs[1]])``."""

    node: int  # state index, 2 .. num_nodes + 1
    inputs: tuple[int, int]  # i < j < node; 0 is c_{k-2}, 1 is c_{k-1}
    ops: tuple[str, str]


class DartsSpace(SearchSpace):
    """DARTS's normal + reduction cell space; see the module docstring for the decisions.

    Args:
        num_nodes: intermediate nodes per cell (4 in the paper), each with 2 inputs.
        ops: the candidate ops of a discrete cell, drawn from :data:`DARTS_OPS`.
    """

    name = "darts"

    def __init__(self, num_nodes: int = 4, ops=DARTS_OPS):
        self.num_nodes = require_positive("num_nodes", num_nodes, integer=True)
        if isinstance(ops, str) or not ops:
            raise ValueError(f"ops: expected a non-empty list drawn from {list(DARTS_OPS)}, got {ops!r}")
        self.ops = tuple(require_choice("ops", op, DARTS_OPS) for op in ops)
        if len(set(self.ops)) != len(self.ops):
            raise ValueError(f"ops: must be distinct, got {list(ops)}")
        decisions = []
        for c, cell in enumerate(CELL_TYPES):
            for s in self.nodes:
                layer = c * self.num_nodes + s - 2
                if s > 2:
                    decisions.append(Decision(f"{cell}.node{s}.inputs", self.input_pairs(s), layer=layer))
                decisions.append(Decision(f"{cell}.node{s}.op0", self.ops, layer=layer))
                decisions.append(Decision(f"{cell}.node{s}.op1", self.ops, layer=layer))
        super().__init__(decisions)

    @property
    def nodes(self) -> range:
        """State indices of the intermediate nodes: ``2 .. num_nodes + 1``."""
        return range(2, self.num_nodes + 2)

    @staticmethod
    def input_pairs(node: int) -> tuple[str, ...]:
        """The options of ``node``'s inputs: every pair ``"i,j"`` with ``i < j < node``."""
        return tuple(f"{i},{j}" for i, j in itertools.combinations(range(node), 2))

    def spec(self) -> dict:
        return {"space": "darts", "num_nodes": self.num_nodes, "ops": list(self.ops)}

    # --- structured view ---------------------------------------------------------------
    def cells(self, arch: Architecture) -> dict[str, tuple[NodeSpec, ...]]:
        """``{"normal": (NodeSpec, ...), "reduce": (...)}``: what a network builder needs."""
        values = arch.as_dict()
        cells = {}
        for cell in CELL_TYPES:
            nodes = []
            for s in self.nodes:
                i, j = (int(t) for t in values.get(f"{cell}.node{s}.inputs", "0,1").split(","))
                nodes.append(NodeSpec(s, (i, j), (values[f"{cell}.node{s}.op0"], values[f"{cell}.node{s}.op1"])))
            cells[cell] = tuple(nodes)
        return cells

    def from_cells(self, cells) -> Architecture:
        """Build from ``{"normal": [(op, input), ...], "reduce": [...]}``, two pairs per node in order.

        This is the paper's ``Genotype`` data (``genotype.normal``, ``genotype.reduce``); the two
        pairs of a node may come in either order but their inputs must differ.
        """
        choices = []
        for cell in CELL_TYPES:
            pairs = cells.get(cell) if hasattr(cells, "get") else None
            if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * self.num_nodes:
                raise ValueError(f"arch: {cell} needs {2 * self.num_nodes} (op, input) pairs, 2 per node; got {pairs!r}")
            for s, first, second in zip(self.nodes, pairs[0::2], pairs[1::2]):
                edges = []
                for pair in (first, second):
                    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)
                            and isinstance(pair[1], int) and not isinstance(pair[1], bool)):
                        raise ValueError(f"arch: {cell} node {s}: expected an (op, input) pair such as ('sep_conv_3x3', 0), got {pair!r}")
                    op, source = pair
                    require_choice(f"arch op of {cell} node {s}", op, self.ops)
                    if not 0 <= source < s:
                        raise ValueError(f"arch: {cell} node {s}: input {source} is not allowed; allowed values: 0..{s - 1}")
                    edges.append((source, op))
                (i, op_i), (j, op_j) = sorted(edges)
                if i == j:
                    raise ValueError(f"arch: {cell} node {s}: both inputs are {i}; allowed: two different inputs (DARTS keeps the top-2 distinct ones)")
                if s > 2:
                    choices.append(f"{i},{j}")
                choices.extend((op_i, op_j))
        return self.from_choices(choices)

    # --- text format ----------------------------------------------------------------------
    def format(self, arch: Architecture) -> str:
        concat = list(self.nodes)
        parts = []
        for cell, nodes in self.cells(arch).items():
            pairs = ", ".join(f"({op!r}, {i})" for n in nodes for op, i in zip(n.ops, n.inputs))
            parts.append(f"{cell}=[{pairs}], {cell}_concat={concat}")
        return f"Genotype({', '.join(parts)})"

    def parse(self, text: str) -> Architecture:
        """Read a DARTS genotype string (the paper code's ``Genotype(...)`` repr); no code is run."""
        example = "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])"
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"arch: expected a DARTS genotype string such as {example}, got {text!r}")
        try:
            call = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise ValueError(f"arch: not a DARTS genotype string; expected {example}, got {text[:200]!r}") from None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype" and not call.args):
            raise ValueError(f"arch: expected Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...), got {text[:200]!r}")
        fields = {}
        for keyword in call.keywords:
            if keyword.arg is None or keyword.arg in fields:
                raise ValueError(f"arch: Genotype fields must be named once each, got {text[:200]!r}")
            fields[keyword.arg] = keyword.value
        allowed = [f"{c}{suffix}" for c in CELL_TYPES for suffix in ("", "_concat")]
        if sorted(fields) != sorted(allowed):
            raise ValueError(f"arch: Genotype fields must be exactly {allowed}, got {sorted(fields)}")
        for cell in CELL_TYPES:
            concat = _literal_concat(fields[f"{cell}_concat"])
            if concat != list(self.nodes):
                raise ValueError(
                    f"arch: {cell}_concat must list every intermediate node, {list(self.nodes)} "
                    f"(or range(2, {self.num_nodes + 2})); got {concat!r}"
                )
        cells = {}
        for cell in CELL_TYPES:
            try:
                cells[cell] = ast.literal_eval(fields[cell])
            except (ValueError, TypeError, SyntaxError, RecursionError):
                raise ValueError(f"arch: {cell} must be a list of (op, input) pairs such as [('sep_conv_3x3', 0), ...]") from None
        return self.from_cells(cells)

    # --- isomorphism --------------------------------------------------------------------------
    def canonical(self, arch: Architecture) -> str:
        """A string equal for cells that differ only by relabelling intermediate nodes.

        A node is the sum of two op applications, so it is written as the sorted pair of
        ``op(input expression)``; the cell output concatenates every node and the next layer
        (a 1x1 conv or the classifier) is indifferent to channel order, so a cell is the
        sorted list of its node expressions. Equal strings mean the same function up to a
        permutation of weights; different strings may still compute the same function.
        """
        parts = []
        for cell, nodes in self.cells(arch).items():
            expr = {0: "c0", 1: "c1"}
            for n in nodes:
                terms = sorted(f"{op}({expr[i]})" for op, i in zip(n.ops, n.inputs))
                expr[n.node] = f"[{terms[0]} + {terms[1]}]"
            parts.append(f"{cell}: " + " | ".join(sorted(expr[s] for s in self.nodes)))
        return "; ".join(parts)


def _literal_concat(node: ast.expr):
    """The value of a concat field: a literal list/tuple or ``range(a, b)``; None if neither."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords:
        try:
            bounds = [ast.literal_eval(a) for a in node.args]
        except (ValueError, TypeError, SyntaxError):
            return None
        if 1 <= len(bounds) <= 2 and all(isinstance(b, int) and not isinstance(b, bool) and abs(b) < 1000 for b in bounds):
            return list(range(*bounds))
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    return list(value) if isinstance(value, (list, tuple)) else value
