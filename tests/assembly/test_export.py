"""Export: the generated file runs with torch alone and computes exactly what the ChildNetwork does."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from nasrl_nb.assembly.result import result
from nasrl_nb.assembly.standalone import standalone_source
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.spaces.search_space import custom_space

# Runs in `python -I` (no user site, no PYTHONPATH) from an empty folder, with nasrl_nb blocked:
# the exported file must import, load the ChildNetwork's weights and reproduce its outputs.
CHECKER = """
import importlib.util, json, sys
sys.modules["nasrl_nb"] = None  # any import of nasrl_nb now fails
import torch
results = {}
for name in json.load(open("cases.json")):
    spec = importlib.util.spec_from_file_location(name, name + ".py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = getattr(module, "Net_" + name)().eval()
    net.load_child_state_dict(torch.load(name + ".state.pt", weights_only=True))
    x, expected = torch.load(name + ".io.pt", weights_only=True)
    with torch.no_grad():
        out = net(x)
    results[name] = float((out - expected).abs().max())
print(json.dumps(results))
"""


def macro_cases():
    rng = np.random.default_rng(0)
    rich = MacroSpace(num_layers=4, filters=8, skip_connections=True, vocab={
        "layer_type": ["conv1x1", "conv3x3", "conv5x5", "maxpool3x3", "avgpool3x3"],
        "activation": ["relu", "tanh", "sigmoid", "swish", "gelu"],
        "normalization": ["batch_norm", "layer_norm", "instance_norm", "group_norm"],
        "connectivity": ["sequential", "residual", "dense", "attention"],
        "filters": [8, 12],
    })
    cases = {f"macro{i}": (rich.sample(rng), {"channels": 8}) for i in range(6)}
    cases["macro_default"] = (get_space("macro").sample(rng), {"channels": 16})
    return cases


def cell_cases():
    cell = get_space("cell")
    return {
        "cell_example": (cell.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"), {"channels": 4}),
        "cell_dead_node": (cell.parse("|none~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"), {"channels": 4, "cells_per_stage": 2}),
        "cell_random": (cell.sample(np.random.default_rng(3)), {"channels": 6, "cells_per_stage": 2}),
        "cell_all_none": (cell.from_choices(["none"] * 6), {"channels": 4}),
    }


def test_exported_source_reproduces_the_child_network_without_nasrl_nb(tmp_path):
    cases = {**macro_cases(), **cell_cases()}
    assert any('"connectivity": "attention"' in str(a) for a, _ in cases.values())
    assert any('"connectivity": "dense"' in str(a) for a, _ in cases.values())
    assert any(layer.skips for a, _ in cases.values() if a.space.name == "macro" for layer in a.space.layers(a))
    assert any('"group_norm"' in str(a) for a, _ in cases.values())
    for name, (arch, kwargs) in cases.items():
        torch.manual_seed(0)
        child = ChildNetwork(arch, (1, 8, 8), 10, **kwargs)
        with torch.no_grad():  # give BatchNorm statistics and attention mixes non-default values
            for p in child.parameters():
                p.add_(0.1 * torch.randn_like(p))
            child.train()
            child(torch.randn(16, 1, 8, 8))
        child.eval()
        x = torch.randn(5, 1, 8, 8)
        with torch.no_grad():
            expected = child(x)
        source = standalone_source(arch, input_shape=(1, 8, 8), num_classes=10, class_name=f"Net_{name}", **kwargs)
        assert "nasrl_nb import" not in source and "import nasrl_nb" not in source
        assert str(arch) in source  # the architecture string is in the docstring
        namespace: dict = {}
        exec(compile(source, f"{name}.py", "exec"), namespace)  # same process: bit-for-bit equal
        exported = namespace[f"Net_{name}"]().eval()
        exported.load_child_state_dict(child.state_dict())
        with torch.no_grad():
            assert torch.equal(exported(x), expected), name
        (tmp_path / f"{name}.py").write_text(source)
        torch.save(child.state_dict(), tmp_path / f"{name}.state.pt")
        torch.save((x, expected), tmp_path / f"{name}.io.pt")
    (tmp_path / "cases.json").write_text(json.dumps(list(cases)))
    (tmp_path / "check.py").write_text(CHECKER)
    done = subprocess.run([sys.executable, "-I", "check.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert set(results) == set(cases)
    for name, max_diff in results.items():  # another process may round a last bit differently
        assert max_diff <= 1e-5, (name, max_diff)  # 3e-6 seen under load: float32 sums reassociated


def test_one_layer_per_line_not_an_interpreter():
    arch = get_space("cell").parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    source = standalone_source(arch, channels=4).split("class ExportedNet")[1]  # the network, after the copied ops
    init = source.split("def __init__")[1].split("def forward")[0]
    forward = source.split("def forward")[1].split("def load_child_state_dict")[0]
    layer_lines = [line for line in init.splitlines() if line.strip().startswith("self.")]
    # stem conv + BN, 3 cells x 5 live edges, 2 reductions x 3 parts, head BN + ReLU, classifier
    assert len(layer_lines) == 2 + 3 * 5 + 2 * 3 + 2 + 1
    assert all(line.count(" = ") == 1 for line in layer_lines)
    assert not re.search(r"\bfor \w+ in\b", forward) and "ARCHITECTURE" not in forward  # written out, not interpreted


def test_bad_arguments():
    arch = get_space("cell").sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="class_name: '1abc' is not allowed"):
        standalone_source(arch, class_name="1abc")
    with pytest.raises(ValueError, match="channels: must be a positive integer"):
        standalone_source(arch, channels=0)
    with pytest.raises(ValueError, match="no network builder"):
        standalone_source(custom_space({"x": [1, 2]}).from_choices([2]))


def test_group_norm_is_exported_with_the_child_networks_group_count():
    space = MacroSpace(num_layers=2, vocab={"normalization": ["batch_norm", "group_norm"]}, filters=8)
    arch = space.from_choices(["group_norm", "group_norm"])
    namespace: dict = {}
    exec(compile(standalone_source(arch, channels=8), "exported", "exec"), namespace)
    assert namespace["ExportedNet"]().layer0_norm.num_groups == 4  # 4 groups: not instance norm's 8
    assert ChildNetwork(arch, channels=8).features.layers[0].norm.num_groups == 4


def test_a_summarys_result_exports_the_best_by_reward_not_the_most_accurate():
    space = MacroSpace(num_layers=2, vocab={"layer_type": ["conv1x1", "conv5x5"]})
    small, big = space.from_choices(["conv1x1"] * 2), space.from_choices(["conv5x5"] * 2)
    summary = {"space": space.spec(), "best_arch": str(small), "most_accurate_arch": str(big),
               "evaluator": {"input_shape": [1, 8, 8], "num_classes": 10, "child_kwargs": {"channels": 8}}}
    source = result(summary).to_pytorch()
    assert f"ARCHITECTURE = {json.dumps(str(small))}" in source
    assert str(big) not in source


def test_summary_export_and_dashboard_name_the_rewards_choice_under_a_budget(tmp_path):
    # what notebook 05 shows: under a hard budget the summary, the exported file and the
    # dashboard's status all name the reward's choice (best_*), not the most accurate child
    import html

    import nasrl_nb as nb
    from nasrl_nb.evaluators.base import FunctionEvaluator
    from nasrl_nb.widgets import SearchDashboard

    class ShapedEvaluator(FunctionEvaluator):  # a FunctionEvaluator that says what it trains on
        def config(self) -> dict:
            return {**super().config(), "input_shape": [1, 8, 8], "num_classes": 10, "child_kwargs": {}}

    def record(arch):  # the largest children are the most accurate, and over the budget
        params = sum(p.numel() for p in ChildNetwork(arch, (1, 8, 8), 10).parameters())
        return {"val_accuracy": min(0.99, 0.5 + params / 100_000), "params": params}

    search = nb.make_search("random", space=MacroSpace(num_layers=3), evaluator=ShapedEvaluator(record), budget=16,
                            seed=0, max_params=5_000, constraint_mode="hard", progress=False)
    summary = search.run()
    most_accurate = max(search.history, key=lambda r: r["val_accuracy"])
    assert most_accurate["params"] > 5_000 and summary["best_arch"] != most_accurate["arch"]  # a real choice
    assert summary["best_params"] <= 5_000
    source = result(summary).to_pytorch()
    assert f"ARCHITECTURE = {json.dumps(summary['best_arch'])}" in source
    dash = SearchDashboard(search)
    assert html.escape(summary["best_arch"]) in dash.status.value
    assert dash.export(tmp_path / "best.py").read_text() == source
