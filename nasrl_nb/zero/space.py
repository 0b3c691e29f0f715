"""The smallest adapter that lets the NAS search loop carry programs: a space of programs.

:class:`~nasrl_nb.run.loop.Search` moves :class:`~nasrl_nb.spaces.search_space.Architecture`
objects between a strategy and an evaluator, writes ``str(arch)`` into ``history.jsonl`` and
``space.spec()`` into ``summary.json``; it never looks inside. A :class:`ProgramSpace` is a
space whose members are one-choice architectures, the choice being a
:class:`~nasrl_nb.zero.program.Program`: ``str(arch)`` is the program's one-line text, and
:meth:`ProgramSpace.parse` reads it back. It has no decisions and no controller can sample
it: only :class:`~nasrl_nb.zero.strategy.ProgramEvolution` proposes its members.
"""

from __future__ import annotations

from ..spaces.registry import register_spec_reader
from ..spaces.search_space import Architecture, SearchSpace
from .ops import OP_SETS, OPS
from .program import COMPONENTS, MemoryLayout, Program

DEFAULT_MAX_SIZES = {"setup": 4, "predict": 4, "learn": 8}


class ProgramSpace(SearchSpace):
    """Programs over ``layout`` built from ``ops`` (a name in :data:`~nasrl_nb.zero.ops.OP_SETS` or a
    list of op names), with at most ``max_sizes[component]`` instructions per component."""

    name = "zero"

    def __init__(self, layout: MemoryLayout | None = None, ops="full", max_sizes: dict | None = None):
        self.layout = MemoryLayout() if layout is None else layout
        if not isinstance(self.layout, MemoryLayout):
            raise ValueError(f"layout: expected a MemoryLayout, got {type(layout).__name__}")
        if isinstance(ops, str):
            if ops not in OP_SETS:
                raise ValueError(f"ops: {ops!r} is not allowed; allowed values: {', '.join(OP_SETS)} or a list of op names")
            ops = OP_SETS[ops]
        ops = tuple(ops)
        unknown = [o for o in ops if o not in OPS]
        if unknown or not ops:
            raise ValueError(f"ops: {unknown or 'an empty list'} is not allowed; allowed values: op names from {', '.join(OPS)}")
        if self.layout.matrices == 0:
            needs = [o for o in ops if "m" in (OPS[o].output, *OPS[o].inputs)]
            if needs:
                raise ValueError(f"ops: {needs} need matrices, but the layout has matrices=0; allowed values: ops without matrices")
        self.ops = ops
        sizes = dict(DEFAULT_MAX_SIZES if max_sizes is None else max_sizes)
        if set(sizes) != set(COMPONENTS):
            raise ValueError(f"max_sizes: expected the keys {list(COMPONENTS)}, got {sorted(sizes)}")
        for name in COMPONENTS:
            value = sizes[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"max_sizes.{name}: must be an integer >= 0, got {value!r}")
        self.max_sizes = sizes
        self.decisions = ()  # no decisions: nothing here for a controller to sample

    def spec(self) -> dict:
        layout = self.layout
        return {"space": self.name, "ops": list(self.ops), "max_sizes": dict(self.max_sizes),
                "layout": {"scalars": layout.scalars, "vectors": layout.vectors, "matrices": layout.matrices,
                           "dim": layout.dim}}

    @classmethod
    def from_spec(cls, spec) -> ProgramSpace:
        """The inverse of :meth:`spec` (with or without its ``"space"`` key); a missing key is a ``ValueError``."""
        missing = [k for k in ("layout", "ops", "max_sizes") if k not in spec]
        if missing:
            raise ValueError(f"space 'zero': missing keys {missing}; allowed keys: ['layout', 'max_sizes', 'ops', 'space']")
        return cls(MemoryLayout(**spec["layout"]), spec["ops"], spec["max_sizes"])

    def __repr__(self) -> str:
        lay = self.layout
        return (f"ProgramSpace({len(self.ops)} ops, s0..s{lay.scalars - 1}, v0..v{lay.vectors - 1}, "
                f"m0..m{lay.matrices - 1}, dim={lay.dim}, max_sizes={self.max_sizes})")

    def size(self) -> int:
        raise ValueError("space: a program space is unbounded in practice; it has no size to enumerate")

    def sample(self, rng=None) -> Architecture:
        """The empty program: AutoML-Zero's searches start from it (Sec. 4)."""
        return self.wrap(Program())

    def wrap(self, program: Program) -> Architecture:
        """``program`` as a member of this space (checked against the layout, the ops and the sizes)."""
        return Architecture(self, (program,))

    def validate(self, choices: tuple) -> None:
        if len(choices) != 1 or not isinstance(choices[0], Program):
            raise ValueError(f"program: expected one Program, got {choices!r}")
        program = choices[0]
        program.check(self.layout, self.max_sizes)
        for name in COMPONENTS:
            for ins in program.component(name):
                if ins.op not in self.ops:
                    raise ValueError(f"op: {ins.op!r} is not allowed in this space; allowed values: {', '.join(self.ops)}")

    def format(self, arch: Architecture) -> str:
        return arch.choices[0].to_text()

    def parse(self, text: str) -> Architecture:
        return self.wrap(Program.parse(text))

    def from_indices(self, indices):
        raise ValueError("indices: a program space has no decisions; build members with wrap(program) or parse(text)")


register_spec_reader(ProgramSpace.name, ProgramSpace.from_spec)  # run folders of programs read like any other
