"""Search spaces and architectures: the only contract between a search and a trainer.

An architecture is a sequence of decisions, each picking one of a few named options
(Zoph & Le 2017, Sec. 3.1: "the controller ... generates architectural hyperparameters
as a sequence of tokens"). A :class:`SearchSpace` lists those decisions; an
:class:`Architecture` is an immutable, hashable, self-validating tuple of choices bound
to its space. Concrete spaces (``macro``, ``cell``, ``darts``, ``zoph-le``) add how a choice tuple is written as
text and how it is built into a network; a plain dict of vocabularies gives a custom one.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Decision:
    """One step of the controller: pick one of ``choices``.

    ``kind`` is ``"categorical"`` (a softmax over the choices) or ``"skip"`` (a yes/no
    anchor-point decision: does ``layer`` take the output of the earlier layer ``source``
    as an extra input; Zoph & Le 2017, Sec. 3.3). ``layer`` groups the decisions of one
    layer or node so that the controller and the drawings know the structure.
    """

    name: str
    choices: tuple
    kind: str = "categorical"
    layer: int | None = None
    source: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) == 0:
            raise ValueError(f"decision {self.name!r}: choices must not be empty")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"decision {self.name!r}: choices must be distinct, got {self.choices}")
        if self.kind not in ("categorical", "skip"):
            raise ValueError(f"decision {self.name!r}: kind {self.kind!r} is not allowed; allowed values: categorical, skip")

    def index(self, choice) -> int:
        """Position of ``choice`` among the options, with an error naming the decision."""
        try:
            return self.choices.index(choice)
        except ValueError:
            options = ", ".join(str(c) for c in self.choices)
            raise ValueError(f"{self.name}: {choice!r} is not allowed; allowed values: {options}") from None


class SearchSpace:
    """A product of decisions. Subclasses add a text format and a network builder.

    Spaces compare equal when their :meth:`spec` is equal, so architectures from two
    separately built but identical spaces are equal too, and a space can be rebuilt from
    its spec (see :func:`~nasrl_nb.spaces.registry.space_from_spec`) when a history or checkpoint is loaded.
    """

    name = "custom"

    def __init__(self, decisions: Sequence[Decision]):
        self.decisions: tuple[Decision, ...] = tuple(decisions)
        names = [d.name for d in self.decisions]
        if len(set(names)) != len(names):
            raise ValueError(f"decisions: names must be unique, got {names}")
        if not self.decisions:
            raise ValueError("decisions: a search space needs at least one decision")

    # --- identity -----------------------------------------------------------------
    def spec(self) -> dict:
        """Plain-JSON description from which :func:`~nasrl_nb.spaces.registry.space_from_spec` rebuilds the space."""
        return {"space": "custom", "vocab": {d.name: list(d.choices) for d in self.decisions}}

    def _key(self) -> str:
        """The spec as canonical JSON, computed once (spaces do not change after construction)."""
        key = self.__dict__.get("_spec_key")
        if key is None:
            key = self.__dict__["_spec_key"] = json.dumps(self.spec(), sort_keys=True)
        return key

    def __eq__(self, other) -> bool:
        return self is other or (isinstance(other, SearchSpace) and self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.decisions)} decisions, size={self.size():,})"

    # --- size, membership, sampling ------------------------------------------------
    def size(self) -> int:
        """Number of distinct architectures (an exact integer, however large)."""
        return math.prod(len(d.choices) for d in self.decisions)

    def __len__(self) -> int:
        return self.size()

    def __contains__(self, arch) -> bool:
        return isinstance(arch, Architecture) and arch.space == self

    def sample(self, rng=None) -> Architecture:
        """A uniformly random member; ``rng`` is a ``numpy.random.Generator``, a seed or None."""
        rng = np.random.default_rng(rng)
        return self.from_indices([int(rng.integers(len(d.choices))) for d in self.decisions])

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Architecture]:
        """Every member in index order; refuses spaces larger than ``limit``."""
        if self.size() > limit:
            raise ValueError(f"limit: space has {self.size():,} members, more than limit={limit:,}; sample() instead")
        for indices in itertools.product(*(range(len(d.choices)) for d in self.decisions)):
            yield self.from_indices(indices)

    # --- construction ---------------------------------------------------------------
    def from_indices(self, indices: Sequence[int]) -> Architecture:
        """Build from one option index per decision."""
        indices = [int(i) for i in indices]
        self._check_length(indices)
        for d, i in zip(self.decisions, indices):
            if not 0 <= i < len(d.choices):
                raise ValueError(f"{d.name}: index {i} is out of range; allowed values: 0..{len(d.choices) - 1}")
        return Architecture(self, tuple(d.choices[i] for d, i in zip(self.decisions, indices)))

    def from_choices(self, choices: Sequence) -> Architecture:
        """Build from one option per decision (validated)."""
        return Architecture(self, tuple(choices))

    def validate(self, choices: tuple) -> None:
        """Raise ``ValueError`` naming the first decision whose choice is not allowed."""
        self._check_length(choices)
        for d, c in zip(self.decisions, choices):
            d.index(c)

    def _check_length(self, choices) -> None:
        if len(choices) != len(self.decisions):
            raise ValueError(
                f"decisions: expected {len(self.decisions)} choices for space {self.name!r}, got {len(choices)}"
            )

    # --- text format ------------------------------------------------------------------
    def format(self, arch: Architecture) -> str:
        """The architecture as text that :meth:`parse` reads back (JSON for custom spaces)."""
        return json.dumps(dict(zip((d.name for d in self.decisions), arch.choices)))

    def parse(self, text: str) -> Architecture:
        """Read the text written by :meth:`format`."""
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError, RecursionError) as err:
            raise ValueError(f"arch: not valid JSON for space {self.name!r} ({type(err).__name__}: {err})") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"arch: expected a JSON object mapping decision names to choices, got {text!r}")
        unknown = set(data) - {d.name for d in self.decisions}
        if unknown:
            raise ValueError(f"arch: unknown decisions {sorted(unknown)}; allowed: {[d.name for d in self.decisions]}")
        missing = [d.name for d in self.decisions if d.name not in data]
        if missing:
            raise ValueError(f"arch: missing decisions {missing}")
        return self.from_choices([data[d.name] for d in self.decisions])


@dataclass(frozen=True)
class Architecture:
    """An immutable choice per decision of ``space``; validated on construction.

    ``str(arch)`` is the space's text format (NAS-Bench-201 string, JSON layer list);
    :meth:`to_json` and :func:`~nasrl_nb.spaces.registry.architecture_from_json` round-trip it together with the space's spec.
    """

    space: SearchSpace = field(compare=True)
    choices: tuple = field(compare=True)

    def __post_init__(self):
        object.__setattr__(self, "choices", tuple(self.choices))
        self.space.validate(self.choices)

    @property
    def indices(self) -> tuple[int, ...]:
        """Option index of each choice, in decision order (what the controller samples)."""
        return tuple(d.choices.index(c) for d, c in zip(self.space.decisions, self.choices))

    def as_dict(self) -> dict:
        """Decision name -> choice."""
        return {d.name: c for d, c in zip(self.space.decisions, self.choices)}

    def to_json(self) -> str:
        return json.dumps({"space": self.space.spec(), "arch": str(self)})

    def __str__(self) -> str:
        return self.space.format(self)

    def __repr__(self) -> str:
        return f"Architecture({self.space.name}: {self})"

    def _repr_html_(self) -> str:
        """A table of choices; in a notebook :mod:`nasrl_nb.display` shows a drawing instead."""
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in self.as_dict().items()
        )
        return f"<table><tr><th>decision</th><th>choice</th></tr>{rows}</table>"


def custom_space(vocab: Mapping[str, Sequence]) -> SearchSpace:
    """A space from a plain dict ``{decision name: [options]}``.

    When every key is a layer vocabulary of the macro space (see
    :data:`nasrl_nb.spaces.macro_space.ARCHITECTURE_VOCAB`) use ``MacroSpace(vocab=...)`` instead
    to get buildable child networks; a custom space is searched with your own evaluator.
    """
    if not isinstance(vocab, Mapping) or not vocab:
        raise ValueError(f"vocab: expected a non-empty dict of decision name -> list of options, got {vocab!r}")
    decisions = []
    for name, options in vocab.items():
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or len(options) == 0:
            raise ValueError(f"vocab[{name!r}]: expected a non-empty list of options, got {options!r}")
        decisions.append(Decision(str(name), tuple(options)))
    return SearchSpace(decisions)


def read_layer_list(text, *, space: str, example: str, num_layers: int) -> list:
    """The layers of a layered space's architecture text: a JSON list of one object per layer, or
    ``{"layers": [...]}``, or the parsed Python list; a one-line ``ValueError`` naming ``space`` else."""
    data = text
    if isinstance(text, str):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"arch: not valid JSON for the {space} space ({err})") from None
        except RecursionError:
            raise ValueError(f"arch: JSON nested too deeply for the {space} space; allowed: a flat list of layer objects") from None
    if isinstance(data, Mapping) and "layers" in data:
        data = data["layers"]
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise ValueError(f"arch: expected a JSON list of layer objects such as {example}")
    if len(data) != num_layers:
        raise ValueError(f"arch: expected {num_layers} layers for this {space} space, got {len(data)}")
    return data
