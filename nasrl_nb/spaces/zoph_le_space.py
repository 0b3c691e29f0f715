"""Zoph & Le's own CIFAR-10 search space (Zoph & Le 2017, Sec. 3.1-3.3 and 4.1).

"Neural Architecture Search with Reinforcement Learning" searched convolutional networks
layer by layer. Per layer the controller picks (Sec. 3.1, Fig. 2; Sec. 4.1):

* the filter height and the filter width, each in {1, 3, 5, 7};
* the number of filters, in {24, 36, 48, 64};
* in one variant (``strides=True``) the stride height and stride width, each in {1, 2, 3}
  (Sec. 4.1: "we also allow the controller to predict the strides"); otherwise stride 1;
* which earlier layers are its inputs: an *anchor point* with one yes/no decision per earlier
  layer ``j < i``, drawn by the controller's attention (Sec. 3.3):
  ``P(layer j is an input to layer i) = sigmoid(v^T tanh(W_prev h_j + W_curr h_i))``.
  Here each of these decisions is a :class:`~nasrl_nb.spaces.search_space.Decision` of kind
  ``"skip"`` named ``layer_{i}.input_{j}``; the anchor point opens layer ``i`` (its input
  decisions come before the layer's filter decisions).

The controller (:class:`~nasrl_nb.controllers.lstm.Controller`, ``skip_attention=True``,
the default) scores these decisions with exactly that sigmoid. Two details differ from the
paper's description, both from reusing the controller's one attention mechanism: each input
decision is its own LSTM step (``h_i`` is the state at that step, not one state shared by the
whole anchor point), and the anchor state ``h_j`` of layer ``j`` is the state at layer ``j``'s
last filter decision (its number of filters) rather than at layer ``j``'s own anchor point.

Batch normalisation and ReLU are fixed, not searched (Sec. 4.1): every layer is
``ReLU(BatchNorm(Conv(input)))`` with "same" padding (``k // 2``).

Skip connections can make a network that does not compile; Sec. 3.3 fixes that with three
rules, which :meth:`ZophLeSpace.layers` and :meth:`ZophLeSpace.output_layers` encode and the
child network applies:

1. a layer with no input takes the image (layer 0 always does: it has no anchor decisions);
2. the final layer "takes all layer outputs that have not been connected and concatenates
   them" before the classifier: the network's output is the depth concatenation of every
   layer output that no later layer reads (the last layer's always among them);
3. inputs of different sizes (strides) are zero-padded to the largest before they are
   concatenated; several inputs are concatenated along depth.

Depth: the paper's CIFAR-10 networks had 15 layers (Table 1, "v1 no stride or pooling") and
20 with predicted strides (v2); its search grew the depth during the search, starting at 6
layers and adding 2 every 1,600 samples (Sec. 4.1). The default here is 3 layers, chosen
for 8x8 digits on a CPU: 3 is the smallest depth at which an anchor point can skip a layer
(layer 2 reading layer 0 but not layer 1) and an unread layer can join the final
concatenation, and one 7x7 filter already sees most of an 8x8 image. The paper's filter
counts (24 to 64) make these children wider than the macro space's (16): over 40 samples
the median child costs 2.2 MFLOPs at 3 layers, 7.5 at 4 and 15.1 at 5, against 0.97 for
the default macro space (``count_flops`` on ``ChildNetwork(space.sample(seed))``, seeds
0-39, input 1x8x8). Pass ``num_layers=15`` for the paper's depth.

Every choice tuple is a different network: there is no isomorphism to fold (no op can be
dead, since an unread output joins the final concatenation, and the concatenation order is
the layer order). The text format is a JSON list with one object per layer, e.g.
``[{"filter_height": 3, "filter_width": 5, "num_filters": 36, "inputs": []}, ...]`` (plus
``"stride_height"`` and ``"stride_width"`` when ``strides``); ``inputs`` lists earlier
layer indices in any order, ``[]`` meaning the image.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..validation import require_positive
from .search_space import Architecture, Decision, SearchSpace, read_layer_list

FILTER_SIZES: tuple[int, ...] = (1, 3, 5, 7)  # filter height and width (Sec. 4.1)
NUM_FILTERS: tuple[int, ...] = (24, 36, 48, 64)  # number of filters (Sec. 4.1)
STRIDES: tuple[int, ...] = (1, 2, 3)  # stride height and width, in the strides variant (Sec. 4.1)
PAPER_NUM_LAYERS = 15  # Table 1, "Neural Architecture Search v1 no stride or pooling"
DEFAULT_NUM_LAYERS = 3  # 8x8 digits on a CPU: see the module docstring
CATEGORICAL_KEYS = ("filter_height", "filter_width", "stride_height", "stride_width", "num_filters")


@dataclass(frozen=True)
class ZophLeLayer:
    """One layer of a Zoph & Le network: a conv (then BN, ReLU) and the layers it reads.

    ``inputs`` lists earlier layer indices in increasing order; empty means the image
    (Sec. 3.3's first rule).
    """

    filter_height: int
    filter_width: int
    num_filters: int
    stride_height: int = 1
    stride_width: int = 1
    inputs: tuple[int, ...] = ()

    @property
    def op(self) -> str:
        """The layer's name in :data:`nasrl_nb.nn.operations.OPS`."""
        return f"conv{self.filter_height}x{self.filter_width}_bn_relu"

    @property
    def stride(self) -> tuple[int, int]:
        return (self.stride_height, self.stride_width)


class ZophLeSpace(SearchSpace):
    """Zoph & Le's CIFAR-10 space: filter shapes, filter counts, (strides) and anchor-point inputs.

    Args:
        num_layers: layers in every child (default 3 for 8x8 digits; the paper's is 15).
        strides: also search each layer's stride height and width in {1, 2, 3} (the paper's
            stride-predicting variant); off: stride 1 everywhere.
    """

    name = "zoph-le"

    def __init__(self, num_layers: int = DEFAULT_NUM_LAYERS, strides: bool = False):
        self.num_layers = require_positive("num_layers", num_layers, integer=True)
        if not isinstance(strides, bool):
            raise ValueError(f"strides: {strides!r} is not allowed; allowed values: True, False")
        self.strides = strides
        super().__init__(self._decisions())

    def keys(self) -> tuple[str, ...]:
        """The categorical decisions of one layer, in the controller's order (Fig. 2)."""
        if self.strides:
            return CATEGORICAL_KEYS
        return tuple(k for k in CATEGORICAL_KEYS if not k.startswith("stride"))

    @staticmethod
    def key_options(key: str) -> tuple[int, ...]:
        return {"filter_height": FILTER_SIZES, "filter_width": FILTER_SIZES, "num_filters": NUM_FILTERS}.get(key, STRIDES)

    def _decisions(self) -> list[Decision]:
        decisions = []
        for i in range(self.num_layers):
            for j in range(i):  # the anchor point: is layer j an input of layer i? (Sec. 3.3)
                decisions.append(Decision(f"layer_{i}.input_{j}", (0, 1), kind="skip", layer=i, source=j))
            for key in self.keys():
                decisions.append(Decision(f"layer_{i}.{key}", self.key_options(key), layer=i))
        return decisions

    def spec(self) -> dict:
        return {"space": "zoph-le", "num_layers": self.num_layers, "strides": self.strides}

    # --- the network an architecture describes (Sec. 3.3's rules) ------------------------------
    def layers(self, arch: Architecture) -> list[ZophLeLayer]:
        """The per-layer view of ``arch`` (stride 1 filled in when strides are not searched)."""
        values = arch.as_dict()
        layers = []
        for i in range(self.num_layers):
            fields = {k: values.get(f"layer_{i}.{k}", 1) for k in CATEGORICAL_KEYS}
            inputs = tuple(j for j in range(i) if values[f"layer_{i}.input_{j}"] == 1)
            layers.append(ZophLeLayer(**fields, inputs=inputs))
        return layers

    def output_layers(self, arch: Architecture) -> tuple[int, ...]:
        """The layers whose outputs no later layer reads: the final concatenation (Sec. 3.3)."""
        return unread_layers(self.layers(arch))

    # --- text format -----------------------------------------------------------------------------
    def format(self, arch: Architecture) -> str:
        rows = []
        for layer in self.layers(arch):
            row = {k: getattr(layer, k) for k in self.keys()}
            row["inputs"] = list(layer.inputs)
            rows.append(row)
        return json.dumps(rows)

    def parse(self, text) -> Architecture:
        """Read a JSON layer list (or ``{"layers": [...]}``, or the parsed Python list)."""
        data = read_layer_list(text, space='zoph-le', example='[{"filter_height": 3, ..., "inputs": []}]', num_layers=self.num_layers)
        allowed = {*self.keys(), "inputs"}
        values = {}
        for i, row in enumerate(data):
            unknown = sorted(set(row) - allowed)
            if unknown:
                raise ValueError(f"arch layer {i}: unknown keys {unknown}; allowed keys: {sorted(allowed)}")
            for key in self.keys():
                if key not in row:
                    raise ValueError(f"arch layer {i}: missing {key!r}; allowed values: {', '.join(map(str, self.key_options(key)))}")
                if isinstance(row[key], bool):
                    raise ValueError(f"arch layer {i}: {key} {row[key]!r} is not allowed; allowed values: {', '.join(map(str, self.key_options(key)))}")
                values[f"layer_{i}.{key}"] = row[key]
            inputs = row.get("inputs", [])
            ok = isinstance(inputs, list) and all(not isinstance(j, bool) and isinstance(j, int) and 0 <= j < i for j in inputs)
            if not ok or len(set(inputs)) != len(inputs):
                allowed_inputs = f"distinct layer indices in 0..{i - 1}" if i else "none (an empty list: layer 0 reads the image)"
                raise ValueError(f"arch layer {i}: inputs must list {allowed_inputs}, got {inputs!r}")
            for j in range(i):
                values[f"layer_{i}.input_{j}"] = 1 if j in inputs else 0
        return self.from_choices([values[d.name] for d in self.decisions])


def unread_layers(layers: Sequence[ZophLeLayer]) -> tuple[int, ...]:
    """Indices of the layers that no later layer takes as input (Sec. 3.3: they are concatenated at the end)."""
    read = {j for layer in layers for j in layer.inputs}
    return tuple(i for i in range(len(layers)) if i not in read)
