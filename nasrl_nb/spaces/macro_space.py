"""The macro (layer-by-layer) search space of Zoph & Le (2017).

Each of ``num_layers`` layers picks a layer type, an activation, a normalization and a
connectivity pattern from :data:`ARCHITECTURE_VOCAB` (and, optionally, its filter count
and anchor-point skip connections to earlier layers, Sec. 3.3). Which vocabularies are
searched is a parameter; unsearched ones take a fixed value.

Text format: a JSON list with one object per layer, e.g.
``[{"layer_type": "conv3x3", "activation": "relu", "normalization": "batch_norm",
"connectivity": "residual", "filters": 16}]`` (plus ``"skips": [0]`` with skip connections).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..validation import require_choice, require_positive
from .search_space import Architecture, Decision, SearchSpace

ARCHITECTURE_VOCAB: dict[str, tuple[str, ...]] = {
    "layer_type": ("conv1x1", "conv3x3", "conv5x5", "maxpool3x3", "avgpool3x3"),
    "activation": ("relu", "tanh", "sigmoid", "swish", "gelu"),
    "normalization": ("batch_norm", "layer_norm", "instance_norm", "group_norm"),
    "connectivity": ("sequential", "residual", "dense", "attention"),
}
LAYER_KEYS = (*ARCHITECTURE_VOCAB, "filters")
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
        skip_connections: add a yes/no decision per earlier layer (anchor points).
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

    def _decisions(self) -> list[Decision]:
        decisions = []
        for i in range(self.num_layers):
            for key, options in self.vocab.items():
                decisions.append(Decision(f"layer_{i}.{key}", options, layer=i))
            if self.skip_connections:
                for j in range(i):
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
            skips = tuple(j for j in range(i) if values.get(f"layer_{i}.skip_{j}", 0) == 1)
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
        data = text
        if isinstance(text, str):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"arch: not valid JSON for the macro space ({err})") from None
        if isinstance(data, Mapping) and "layers" in data:
            data = data["layers"]
        if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
            raise ValueError('arch: expected a JSON list of layer objects such as [{"layer_type": "conv3x3", ...}]')
        if len(data) != self.num_layers:
            raise ValueError(f"arch: expected {self.num_layers} layers for this macro space, got {len(data)}")
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
                if not isinstance(skips, list) or any(not isinstance(j, int) or not 0 <= j < i for j in skips):
                    raise ValueError(f"arch layer {i}: skips must list earlier layer indices in 0..{i - 1}, got {skips!r}")
                choices.extend(1 if j in skips else 0 for j in range(i))
        return self.from_choices(choices)
