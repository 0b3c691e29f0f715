"""Programs: ``Setup``, ``Predict`` and ``Learn`` as lists of instructions (Real et al. 2020, Sec. 3, Fig. 1).

An :class:`Instruction` is an operation (:data:`~nasrl_nb.zero.ops.OPS`), the address it
writes, the addresses it reads and its constants: ``s3 = s0 - s1`` is
``Instruction("s_sub", 3, (0, 1))``. A :class:`Program` is three tuples of instructions,
immutable and hashable, over a memory whose sizes a :class:`MemoryLayout` fixes. The
paper's conventions for the addresses (Sec. 3):

* ``v0``: the features of the current example (set before Predict and before Learn);
* ``s0``: the label, visible only in Learn (it reads 0 in Predict);
* ``s1``: the prediction that Predict leaves; before Learn runs it is squashed by a
  sigmoid, and on held-out examples ``s1 > 0`` is the predicted class.

A program is written two ways: :meth:`Program.to_text` (one line, read back by
:meth:`Program.parse`; what a run folder stores) and :meth:`Program.to_python` (a Python
function per component, what a reader looks at).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..validation import require_positive
from .ops import OPS

COMPONENTS = ("setup", "predict", "learn")
FEATURES, LABEL, PREDICTION = "v0", "s0", "s1"


@dataclass(frozen=True)
class MemoryLayout:
    """How many scalars, vectors and matrices a program may address, and the vectors' length ``dim``."""

    scalars: int = 4
    vectors: int = 3
    matrices: int = 2
    dim: int = 8

    def __post_init__(self):
        require_positive("dim", self.dim, integer=True)
        for name, low in (("scalars", 2), ("vectors", 1), ("matrices", 0)):  # s0, s1 and v0 are always there
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")

    def size(self, kind: str) -> int:
        return {"s": self.scalars, "v": self.vectors, "m": self.matrices}[kind]


@dataclass(frozen=True)
class Instruction:
    """``out = op(inputs..., data...)``: ``out`` and ``inputs`` are addresses of the kinds ``op`` names."""

    op: str
    out: int
    inputs: tuple[int, ...] = ()
    data: tuple[float, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "data", tuple(float(c) for c in self.data))
        if self.op not in OPS:
            raise ValueError(f"op: {self.op!r} is not allowed; allowed values: {', '.join(OPS)}")
        spec = OPS[self.op]
        if len(self.inputs) != len(spec.inputs):
            raise ValueError(f"inputs: {self.op} reads {len(spec.inputs)} addresses, got {len(self.inputs)}")
        if len(self.data) != spec.num_data:
            raise ValueError(f"data: {self.op} takes {spec.num_data} constants, got {len(self.data)}")

    def addresses(self) -> list[str]:
        """``["s3", "s0", "s1"]``: the output, then the inputs, as names."""
        spec = OPS[self.op]
        return [f"{spec.output}{self.out}", *(f"{k}{i}" for k, i in zip(spec.inputs, self.inputs))]

    def check(self, layout: MemoryLayout) -> None:
        """Raise ``ValueError`` naming the first address outside ``layout``."""
        spec = OPS[self.op]
        for kind, index in ((spec.output, self.out), *zip(spec.inputs, self.inputs)):
            if not 0 <= index < layout.size(kind):
                raise ValueError(f"address: {kind}{index} in {self.op} is out of range; allowed values: "
                                 f"{kind}0..{kind}{layout.size(kind) - 1}")

    def to_python(self) -> str:
        """One line of Python, e.g. ``s3 = s0 - s1``."""
        names = self.addresses()
        constants = {f"c{i}": repr(c) for i, c in enumerate(self.data)}
        return OPS[self.op].template.format(o=names[0], a=(names[1:] + [""])[0], b=(names[2:] + [""])[0], **constants)

    def to_text(self) -> str:
        """``"s_sub s3 s0 s1"``; constants follow the addresses (``"s_const s2 0.1"``)."""
        return " ".join([self.op, *self.addresses(), *(repr(c) for c in self.data)])

    @classmethod
    def parse(cls, text: str) -> Instruction:
        """Read :meth:`to_text` back."""
        words = str(text).split()
        if not words or words[0] not in OPS:
            raise ValueError(f"program: {text!r} does not start with an op; allowed values: {', '.join(OPS)}")
        spec = OPS[words[0]]
        kinds = [spec.output, *spec.inputs]
        if len(words) != 1 + len(kinds) + spec.num_data:
            raise ValueError(f"program: {text!r} needs {len(kinds)} addresses and {spec.num_data} constants")
        addresses = []
        for kind, word in zip(kinds, words[1:]):
            if not (word[:1] == kind and word[1:].isdigit()):
                raise ValueError(f"program: {word!r} in {text!r} is not allowed; allowed values: a {kind} address such as {kind}0")
            addresses.append(int(word[1:]))
        try:
            data = tuple(float(w) for w in words[1 + len(kinds):])
        except ValueError:
            raise ValueError(f"program: the constants of {text!r} must be numbers") from None
        return cls(words[0], addresses[0], tuple(addresses[1:]), data)


@dataclass(frozen=True)
class Program:
    """The three component functions; empty tuples are the paper's empty starting program."""

    setup: tuple[Instruction, ...] = ()
    predict: tuple[Instruction, ...] = ()
    learn: tuple[Instruction, ...] = field(default=())

    def __post_init__(self):
        for name in COMPONENTS:
            instructions = tuple(getattr(self, name))
            for ins in instructions:
                if not isinstance(ins, Instruction):
                    raise ValueError(f"{name}: expected Instructions, got {type(ins).__name__}")
            object.__setattr__(self, name, instructions)

    def component(self, name: str) -> tuple[Instruction, ...]:
        return getattr(self, name)

    def replace(self, name: str, instructions) -> Program:
        """This program with component ``name`` replaced."""
        parts = {c: self.component(c) for c in COMPONENTS}
        parts[name] = tuple(instructions)
        return Program(**parts)

    def __len__(self) -> int:
        return sum(len(self.component(c)) for c in COMPONENTS)

    def check(self, layout: MemoryLayout, max_sizes: dict | None = None) -> None:
        """Raise ``ValueError`` for an address outside ``layout`` or a component longer than ``max_sizes``."""
        for name in COMPONENTS:
            if max_sizes is not None and len(self.component(name)) > max_sizes[name]:
                raise ValueError(f"{name}: {len(self.component(name))} instructions; allowed values: at most {max_sizes[name]}")
            for ins in self.component(name):
                ins.check(layout)

    def to_text(self) -> str:
        """``"setup: ... | predict: dot s1 v1 v0 | learn: ..."``; instructions separated by ``;``."""
        return self._text

    @functools.cached_property
    def _text(self) -> str:  # computed once: the search loop writes a program's text many times
        return " | ".join(f"{name}: " + "; ".join(i.to_text() for i in self.component(name)) for name in COMPONENTS)

    @classmethod
    def parse(cls, text: str) -> Program:
        """Read :meth:`to_text` back; a malformed text is a ``ValueError`` naming the part."""
        parts = {}
        for chunk in str(text).split("|"):
            name, sep, body = chunk.partition(":")
            name = name.strip()
            if not sep or name not in COMPONENTS or name in parts:
                raise ValueError(f"program: {chunk.strip()!r} is not allowed; allowed values: "
                                 "'setup: ...', 'predict: ...', 'learn: ...', once each, separated by '|'")
            parts[name] = tuple(Instruction.parse(t) for t in body.split(";") if t.strip())
        return cls(**parts)

    def to_python(self) -> str:
        """The program as Python: a function per component, over a shared memory (module globals).

        ``v0`` holds the features, ``s0`` the label (in ``learn`` only), and ``predict``
        leaves its prediction in ``s1``. Executing the text (with ``np``, ``rng``, ``d`` and the
        memory's names defined) computes what the interpreter computes for one task.
        """
        comments = {"setup": "runs once, on a memory of zeros",
                    "predict": "v0: the example's features; leaves the prediction in s1",
                    "learn": "v0: features, s0: label, s1: sigmoid(prediction)"}
        blocks = []
        for name in COMPONENTS:
            lines = [f"def {name}():  # {comments[name]}"]
            body = self.component(name)
            written = list(dict.fromkeys(i.addresses()[0] for i in body))
            if written:
                lines.append(f"    global {', '.join(written)}")
            lines += [f"    {i.to_python()}" for i in body] or ["    pass"]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.to_python())}</pre>"
