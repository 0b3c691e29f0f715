"""Export of a DARTS-space architecture: the standalone source computes the ChildNetwork's function.

Oracle: the generated module, given the child's weights through ``load_child_state_dict``,
returns the child's logits (train and eval mode), on digits-sized, CIFAR-sized and odd inputs.
"""

from __future__ import annotations

import re

import pytest
import torch

from nasrl_nb.assembly.standalone import standalone_source
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.spaces.darts_space import DARTS_V2, DartsSpace

SPACE = DartsSpace()


def _exported(arch, shape, cells_per_stage):
    source = standalone_source(arch, input_shape=shape, num_classes=10, channels=4, cells_per_stage=cells_per_stage)
    namespace: dict = {}
    exec(compile(source, "<exported>", "exec"), namespace)  # the file needs only torch
    return namespace["ExportedNet"](), source


@pytest.mark.parametrize(
    "arch_text, shape, cells_per_stage",
    [(DARTS_V2, (1, 8, 8), 1), (None, (3, 15, 15), 1), (None, (3, 16, 16), 2)],
    ids=["darts_v2_digits", "sampled_odd_size", "sampled_8_cells"],
)
def test_exported_darts_network_computes_the_child(arch_text, shape, cells_per_stage):
    arch = SPACE.parse(arch_text) if arch_text else SPACE.sample(7)
    torch.manual_seed(0)
    child = ChildNetwork(arch, shape, 10, channels=4, cells_per_stage=cells_per_stage)
    net, source = _exported(arch, shape, cells_per_stage)
    assert "Genotype(normal=" in source and not re.search(r"^\s*(import|from)\s+nasrl_nb", source, re.M)
    net.load_child_state_dict(child.state_dict())
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in child.parameters())
    X = torch.randn(4, *shape, generator=torch.Generator().manual_seed(0))
    for train in (True, False):
        net.train(train), child.train(train)
        with torch.no_grad():
            assert torch.allclose(net(X), child(X), atol=1e-5), f"train={train}"


def test_the_export_oracle_can_fail():
    arch = SPACE.parse(DARTS_V2)
    torch.manual_seed(0)
    child = ChildNetwork(arch, (1, 8, 8), 10, channels=4).eval()
    net, _ = _exported(SPACE.sample(1), (1, 8, 8), 1)  # another architecture
    with pytest.raises((KeyError, RuntimeError)):
        net.load_child_state_dict(child.state_dict())
