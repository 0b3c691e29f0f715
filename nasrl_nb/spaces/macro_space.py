"""The macro space: this project's layer vocabulary, searched layer by layer, with ENAS's wiring.

It is not Zoph & Le's space (that one is :mod:`~nasrl_nb.spaces.zoph_le_space`, ``zoph-le``).
What it takes from Zoph & Le (2017, Sec. 3.1) is the idea of a controller that writes a
network one layer at a time; its vocabulary -- layer types, activations, normalizations and
connectivity patterns -- is this project's, for teaching how each choice changes a child,
and its skips are wired as in ENAS's macro space (below).

Each of ``num_layers`` layers picks a layer type, an activation, a normalization and a
connectivity pattern from :data:`ARCHITECTURE_VOCAB` (and, optionally, its filter count
and skip connections to earlier layers, chosen like Zoph & Le's anchor points, Sec. 3.3). Which vocabularies are
searched is a parameter; unsearched ones take a fixed value.

Wiring (ENAS's macro space, Pham et al. 2018, Sec. 2.3, rather than Zoph & Le's
concatenation): the previous layer's output always feeds layer ``i``; the skip decision
``layer_i.skip_j`` ("does layer ``i`` also read layer ``j``?") exists only for the layers
*before* the previous one, ``j = 0 .. i - 2``, and a chosen skip adds layer ``j``'s
(projected) output to layer ``i``'s input. A decision ``layer_i.skip_{i-1}`` would feed the
previous output in a second time, which normalization cancels, so it is not offered. In the
same spirit every decision that exists can change the network:

* ``dense`` and ``attention`` read every earlier output; layer 0 has only the stem before
  it, where both are plain ``sequential``, so layer 0's connectivity options are the
  vocabulary's with ``dense`` and ``attention`` folded into ``sequential``;
* when several normalizations are searched, every width must tell them apart: group norm
  at ``C`` channels uses ``1 < G < C`` groups (:func:`nasrl_nb.nn.operations.group_norm_groups`), which needs a
  width with a divisor between 1 and itself (4, 6, 8, 9, ...); at a prime width it would be
  layer norm, and at width 1 layer, instance and group norm all coincide.

Text format: a JSON list with one object per layer, e.g.
``[{"layer_type": "conv3x3", "activation": "relu", "normalization": "batch_norm",
"connectivity": "residual", "filters": 16}]`` (plus ``"skips": [0]`` with skip connections,
listing layers ``0 .. i - 2`` for layer ``i``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..validation import require_choice, require_positive
from .search_space import Architecture, Decision, SearchSpace, read_layer_list

ARCHITECTURE_VOCAB: dict[str, tuple[str, ...]] = {
    "layer_type": ("conv1x1", "conv3x3", "conv5x5", "maxpool3x3", "avgpool3x3"),
    "activation": ("relu", "tanh", "sigmoid", "swish", "gelu"),
    "normalization": ("batch_norm", "layer_norm", "instance_norm", "group_norm"),
    "connectivity": ("sequential", "residual", "dense", "attention"),
}
LAYER_KEYS = (*ARCHITECTURE_VOCAB, "filters")
FIRST_LAYER_CONNECTIVITY = {"dense": "sequential", "attention": "sequential"}  # only the stem precedes layer 0
DEFAULT_LAYER = {
    "layer_type": "conv3x3",
    "activation": "relu",
    "normalization": "batch_norm",
    "connectivity": "sequential",
}


@dataclass(frozen=True)
class LayerSpec:
    """Everything a child network needs to build one macro layer."""

    layer_type: str
    activation: str
    normalization: str
    connectivity: str
    filters: int
    skips: tuple[int, ...] = ()


class MacroSpace(SearchSpace):
    """Layer-by-layer space; ``vocab`` maps each searched key to its options.

    Args:
        num_layers: layers in every child.
        vocab: searched vocabularies, a subset of :data:`ARCHITECTURE_VOCAB`'s keys (with
            options from it) plus optionally ``"filters"`` (positive ints). Defaults to all of
            :data:`ARCHITECTURE_VOCAB`.
        fixed: values for the keys that are not searched (defaults: conv3x3, relu,
            batch_norm, sequential).
        filters: the filter count of every layer when ``"filters"`` is not searched.
        skip_connections: add a yes/no decision ``layer_i.skip_j`` for each layer ``j`` before
            the previous one (``j <= i - 2``; the previous layer always feeds layer ``i``).
            A chosen skip adds layer ``j``'s output to layer ``i``'s input (ENAS, Sec. 2.3).
    """

    name = "macro"

    def __init__(
        self,
        num_layers: int = 4,
        vocab: Mapping[str, Sequence] | None = None,
        fixed: Mapping[str, object] | None = None,
        filters: int = 16,
        skip_connections: bool = False,
    ):
        self.num_layers = require_positive("num_layers", num_layers, integer=True)
        self.filters = require_positive("filters", filters, integer=True)
        self.skip_connections = bool(skip_connections)
        self.vocab = self._check_vocab(ARCHITECTURE_VOCAB if vocab is None else vocab)
        self.fixed = self._check_fixed(fixed or {})
        self._check_normalization_widths()
        super().__init__(self._decisions())

    @staticmethod
    def _check_vocab(vocab) -> dict[str, tuple]:
        if not isinstance(vocab, Mapping) or not vocab:
            raise ValueError(f"vocab: expected a non-empty dict with keys from {list(LAYER_KEYS)}, got {vocab!r}")
        checked = {}
        for key, options in vocab.items():
            require_choice("vocab key", key, LAYER_KEYS)
            if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
                raise ValueError(f"vocab[{key!r}]: expected a non-empty list of options, got {options!r}")
            for option in options:
                if key == "filters":
                    require_positive("vocab['filters']", option, integer=True)
                else:
                    require_choice(f"vocab[{key!r}]", option, ARCHITECTURE_VOCAB[key])
            checked[key] = tuple(int(o) for o in options) if key == "filters" else tuple(options)
        return {k: checked[k] for k in LAYER_KEYS if k in checked}

    def _check_fixed(self, fixed) -> dict:
        values = {**DEFAULT_LAYER, "filters": self.filters}
        for key, value in fixed.items():
            require_choice("fixed key", key, LAYER_KEYS)
            if key == "filters":
                value = require_positive("fixed['filters']", value, integer=True)
            else:
                require_choice(f"fixed[{key!r}]", value, ARCHITECTURE_VOCAB[key])
            values[key] = value
        return {k: v for k, v in values.items() if k not in self.vocab}

    def options(self, i: int, key: str) -> tuple:
        """The options of decision ``layer_{i}.{key}``: the vocabulary, except layer 0's connectivity.

        Layer 0 has only the stem before it, so ``dense`` and ``attention`` (which read every
        earlier output) would build exactly ``sequential``; they are folded into it.
        """
        options = self.vocab[key]
        if key == "connectivity" and i == 0:
            options = tuple(dict.fromkeys(FIRST_LAYER_CONNECTIVITY.get(o, o) for o in options))
        return options

    def skip_sources(self, i: int) -> range:
        """The earlier layers that layer ``i`` may skip-connect to: ``0 .. i - 2`` (ENAS).

        The previous layer ``i - 1`` always feeds layer ``i``, so it is not a choice.
        """
        return range(max(0, i - 1))

    def _check_normalization_widths(self) -> None:
        """Every searched normalization must differ from the others at every possible width."""
        norms = set(self.vocab.get("normalization", ()))
        widths = self.vocab.get("filters", (self.fixed.get("filters"),))
        for C in widths:
            proper_divisor = any(C % d == 0 for d in range(2, C))
            if {"group_norm", "layer_norm"} <= norms and not proper_divisor:
                raise ValueError(
                    f"filters: {C} is not allowed while vocab['normalization'] searches both group_norm and "
                    f"layer_norm: at a width without a divisor between 1 and itself group norm has one group, "
                    f"which is layer norm; allowed values: 4, 6, 8, 9, 10, 12, ... (or search only one of the two)"
                )
            if C == 1 and len(norms & {"layer_norm", "instance_norm", "group_norm"}) > 1:
                raise ValueError(
                    "filters: 1 is not allowed while vocab['normalization'] searches more than one of layer_norm, "
                    "instance_norm, group_norm (they coincide on one channel); allowed values: 2 or more"
                )

    def _decisions(self) -> list[Decision]:
        decisions = []
        for i in range(self.num_layers):
            for key in self.vocab:
                decisions.append(Decision(f"layer_{i}.{key}", self.options(i, key), layer=i))
            if self.skip_connections:
                for j in self.skip_sources(i):
                    decisions.append(Decision(f"layer_{i}.skip_{j}", (0, 1), kind="skip", layer=i, source=j))
        return decisions

    def spec(self) -> dict:
        return {
            "space": "macro",
            "num_layers": self.num_layers,
            "vocab": {k: list(v) for k, v in self.vocab.items()},
            "fixed": dict(self.fixed),
            "filters": self.filters,
            "skip_connections": self.skip_connections,
        }

    def layers(self, arch: Architecture) -> list[LayerSpec]:
        """The per-layer view of ``arch`` with fixed values filled in."""
        values = arch.as_dict()
        specs = []
        for i in range(self.num_layers):
            layer = {k: values.get(f"layer_{i}.{k}", self.fixed.get(k)) for k in LAYER_KEYS}
            skips = tuple(j for j in self.skip_sources(i) if values.get(f"layer_{i}.skip_{j}", 0) == 1)
            specs.append(LayerSpec(**layer, skips=skips))
        return specs

    def format(self, arch: Architecture) -> str:
        rows = []
        for spec in self.layers(arch):
            row = {k: getattr(spec, k) for k in LAYER_KEYS}
            if self.skip_connections:
                row["skips"] = list(spec.skips)
            rows.append(row)
        return json.dumps(rows)

    def parse(self, text) -> Architecture:
        """Read a JSON layer list (or ``{"layers": [...]}``, or the parsed Python list)."""
        data = read_layer_list(text, space='macro', example='[{"layer_type": "conv3x3", ...}]', num_layers=self.num_layers)
        choices = []
        for i, row in enumerate(data):
            allowed = set(LAYER_KEYS) | ({"skips"} if self.skip_connections else set())
            unknown = sorted(set(row) - allowed)
            if unknown:
                raise ValueError(f"arch layer {i}: unknown keys {unknown}; allowed keys: {sorted(allowed)}")
            for key, value in self.fixed.items():
                if key in row and row[key] != value:
                    raise ValueError(f"arch layer {i}: {key} is not searched in this space; allowed value: {value!r}")
            for key in self.vocab:
                if key not in row:
                    raise ValueError(f"arch layer {i}: missing {key!r}; allowed values: {', '.join(map(str, self.vocab[key]))}")
                choices.append(row[key])
            if self.skip_connections:
                skips = row.get("skips", [])
                allowed_skips = self.skip_sources(i)
                if not isinstance(skips, list) or any(isinstance(j, bool) or not isinstance(j, int) or j not in allowed_skips for j in skips):
                    allowed = f"layer indices in 0..{i - 2}" if allowed_skips else "none (an empty list)"
                    raise ValueError(
                        f"arch layer {i}: skips must list {allowed}, got {skips!r} "
                        "(the previous layer always feeds a layer, so it is not a skip)"
                    )
                choices.extend(1 if j in skips else 0 for j in allowed_skips)
        return self.from_choices(choices)
