"""Growing a controller with its space: the curriculum of Zoph & Le (2017, Sec. 4.1).

Zoph & Le started the CIFAR-10 search with 6-layer children and added 2 layers every 1,600
sampled architectures, the controller continuing across the change. A macro space with
more layers has the same decisions as the smaller one, plus new ones at the end
(``MacroSpace(L).decisions`` is a prefix of ``MacroSpace(L + 1).decisions``), so
:func:`grow_controller` builds the bigger controller and copies every weight the two share:
the start token, the core, the heads and embeddings of the old decisions, the skip attention
(and, for the attention controller, the old positions' embeddings). Only the new decisions'
heads and embeddings (and the old last decision's embedding, which had nothing to feed)
start fresh, so every old decision keeps exactly its probabilities (tested).
"""

from __future__ import annotations

import torch

from ..spaces.search_space import SearchSpace
from .lstm import Controller


def extends(small: SearchSpace, big: SearchSpace) -> bool:
    """True when ``big``'s decisions start with exactly ``small``'s (names, options, kinds)."""
    old, new = small.decisions, big.decisions
    return len(new) >= len(old) and all(
        (a.name, a.choices, a.kind, a.layer, a.source) == (b.name, b.choices, b.kind, b.layer, b.source)
        for a, b in zip(old, new)
    )


def grow_controller(controller: Controller, space: SearchSpace, *, skip_attention: bool | None = None) -> Controller:
    """A controller of ``controller``'s class over ``space`` (which extends its space) with its shared weights.

    ``skip_attention``: for the grown controller (None: as the old one, or on when the old
    space had no skip decisions yet). The sampling generator continues where the old one
    was; the new weights are drawn as the constructor draws them (torch's global RNG, which
    a search holds privately).
    """
    if not extends(controller.space, space):
        raise ValueError(f"space: {space!r} does not extend the controller's space {controller.space!r} "
                         "(its decisions must start with the old ones)")
    options = {"hidden_size": controller.hidden_size, "num_layers": controller.num_layers,
               "temperature": controller.temperature, "tanh_constant": controller.tanh_constant,
               "skip_attention": (controller.skip_attention or not any(d.kind == "skip" for d in controller.space.decisions))
               if skip_attention is None else skip_attention,
               "seed": controller.seed}
    if hasattr(controller, "num_heads"):
        options["num_heads"] = controller.num_heads
    grown = type(controller)(space, **options)
    grown.to(controller.device)
    new_params = dict(grown.named_parameters())
    with torch.no_grad():
        for name, old in controller.named_parameters():
            target = new_params.get(name)
            if target is None:  # cannot happen for a prefix; a skip head replaced by attention, say
                continue
            if target.shape == old.shape:
                target.copy_(old)
            elif name == "cells.positions":  # attention: (D_old, H) -> the first D_old rows of (D_new, H)
                target[: old.shape[0]].copy_(old)
            else:
                raise ValueError(f"controller: parameter {name} changed shape {tuple(old.shape)} -> {tuple(target.shape)}")
    grown.generator.set_state(controller.generator.get_state())
    return grown
