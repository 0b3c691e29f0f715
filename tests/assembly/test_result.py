"""One result object (``nb.result``) for a live search, a run folder or a summary; and the standalone
file built from the op registry's own source, not from a second table of op templates.

ENAS's derived result and DARTS's last cell are checked in ``tests/run/test_search_result.py``.
"""

from __future__ import annotations

import inspect
import json

import pytest
import torch

import nasrl_nb as nb
from nasrl_nb.assembly import standalone
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.assembly.result import SearchResult, result
from nasrl_nb.assembly.standalone import copied_definitions, standalone_source
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.nn import child_network, operations
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.spaces.darts_space import DARTS_V2, DartsSpace
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.zero.run import make_zero_search

TABLE_METHODS = ["reinforce", "ppo", "a2c", "trpo", "sac", "random", "evolution", "ucb", "thompson", "pnas"]


def run_namespace(source: str) -> dict:
    namespace: dict = {}
    exec(compile(source, "exported.py", "exec"), namespace)  # the file runs and defines its constants
    return namespace


# --- the result object ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", TABLE_METHODS)
def test_every_methods_run_folder_gives_the_result_the_live_search_gives(digits_cell_table, method, tmp_path):
    out = tmp_path / "run"
    search = make_search(method, "cell", None, budget=8, batch_size=4, seed=3, progress=False, out_dir=out,
                         evaluator=TabularEvaluator(digits_cell_table, seed=3))
    summary = search.run()
    live, folder = nb.result(search), nb.result(str(out))
    assert isinstance(live, SearchResult) and live.method == folder.method == method
    assert live.arch == folder.arch == summary["result"]["arch"] == summary["best_arch"]
    assert live.record == folder.record and live.top == folder.top and live.rule == "best_reward"
    assert live.config == summary["config"] and live.summary["evaluations"] == 8
    namespace = run_namespace(folder.to_pytorch(tmp_path / "net.py"))
    assert namespace["ARCHITECTURE"] == live.arch and namespace["SEARCH_RESULT"] == folder.metadata()
    assert (tmp_path / "net.py").read_text() == live.to_pytorch()


def test_top_candidates_are_the_best_records_by_reward_best_first(digits_cell_table, tmp_path):
    search = make_search("random", "cell", None, budget=12, batch_size=4, seed=0, progress=False,
                         evaluator=TabularEvaluator(digits_cell_table, seed=0))
    search.run()
    ranked = sorted((r for r in search.history if r["status"] == "ok"), key=lambda r: -r["reward"])
    top = result(search, top=3).top
    assert [t["reward"] for t in top] == [r["reward"] for r in ranked[:3]]
    assert top[0]["arch"] == result(search).arch and len(result(search).top) == 5
    assert "SearchResult(method='random', rule='best_reward'" in repr(result(search))
    with pytest.raises(ValueError, match="top: must be a positive integer"):
        result(search, top=0)
    with pytest.raises(ValueError, match="source: int is not allowed; allowed values: a Search, a run folder"):
        result(3)


def test_a_run_folder_written_by_the_current_code_keeps_loading(tmp_path):
    out = tmp_path / "run"
    search = make_search("random", MacroSpace(num_layers=2), "digits", budget=2, batch_size=2, epochs=1,
                         max_samples=100, channels=4, progress=False, out_dir=out)
    search.run()
    del search  # only the files are left
    loaded = result(out)
    summary = json.loads((out / "summary.json").read_text())
    assert loaded.arch == summary["best_arch"] and loaded.record["evaluation"] == summary["best_evaluation"]
    assert loaded.network() == {"input_shape": (1, 8, 8), "num_classes": 10, "channels": 4, "cells_per_stage": 1}
    net = run_namespace(loaded.to_pytorch())["ExportedNet"]().eval()
    assert tuple(net(torch.randn(2, 1, 8, 8)).shape) == (2, 10)


def test_an_automl_zero_result_is_a_program_written_as_python(tmp_path):
    out = tmp_path / "zero"
    search = make_zero_search(budget=20, batch_size=10, population_size=10, sample_size=3, num_tasks=2, test_tasks=1,
                              n_train=20, n_valid=20, scalars=3, vectors=2, max_setup=1, max_predict=2, max_learn=3,
                              out_dir=out)
    search.run()
    zero = result(out)
    assert zero.method == "zero" and zero.arch == search.summary()["best_arch"]
    assert "def predict" in zero.to_python() or "def Predict" in zero.to_python()
    with pytest.raises(ValueError, match="method: the zero search's result is a program"):
        zero.to_pytorch()
    with pytest.raises(ValueError, match="method: 'random' results are networks"):
        SearchResult(method="random", rule="best_reward", description="", arch="x", space=None).to_python()


# --- the standalone file: built from the op registry's own source -------------------------------------------------
def test_the_exported_file_holds_the_op_registrys_own_source_and_all_its_ops():
    source = standalone_source(DartsSpace().parse(DARTS_V2), channels=4)
    for op_class in (operations.ReLUConvBN, operations.Zero, operations.FactorizedReduce, operations.DilConv,
                     operations.SepConv, operations.ConvBNReLU):
        assert inspect.getsource(op_class) in source, op_class.__name__
    assert inspect.getsource(operations.group_norm_groups) in source
    namespace = run_namespace(source)
    assert set(namespace["OPS"]) == set(operations.OPS)  # an op added to the registry is in the file, no second edit
    assert set(namespace["ACTIVATIONS"]) == set(operations.ACTIVATIONS)
    assert set(namespace["NORMALIZATIONS"]) == set(operations.NORMALIZATIONS)
    module = inspect.getsource(standalone)
    for template in ("groups=", "count_include_pad", "MaxPool2d", "GroupNorm", "dilation"):  # no second op table
        assert template not in module, template


@pytest.mark.parametrize("arch", [
    get_space("cell").parse("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"),
    DartsSpace().parse(DARTS_V2),
    MacroSpace(num_layers=4, filters=8, skip_connections=True, vocab={
        "connectivity": ["dense", "attention", "residual"], "normalization": ["group_norm", "layer_norm"],
        "layer_type": ["maxpool3x3", "conv5x5"]}).sample(2),
    get_space("zoph-le").sample(4),
], ids=["cell", "darts", "macro", "zoph-le"])
def test_the_exported_modules_are_the_child_networks_own_classes(arch):
    child = ChildNetwork(arch, (1, 8, 8), 10, channels=4)
    net = run_namespace(standalone_source(arch, channels=4))["ExportedNet"]()
    containers = {"ExportedNet", "ChildNetwork", "MacroFeatures", "MacroLayer", "ZophLeFeatures", "Cell", "ReductionBlock",
                  "DartsFeatures", "DartsCell", "ModuleList", "Sequential"}

    def kinds(module):
        return sorted(type(m).__name__ for m in module.modules() if type(m).__name__ not in containers)

    assert kinds(net) == kinds(child)  # ReLUConvBN, SepConv, DenseInput...: the same classes, from the same source
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in child.parameters())


def test_copied_definitions_take_what_is_needed_and_refuse_what_needs_nasrl_nb():
    imports, definitions = copied_definitions(child_network, ("concat_padded",))
    assert definitions == [inspect.getsource(child_network.concat_padded).rstrip("\n")]
    assert "import torch" in imports and not any("numbers" in line for line in imports)  # only the imports it reads
    with pytest.raises(ValueError, match=r"nasrl_nb\.nn\.operations: \['require_choice'\] come from nasrl_nb"):
        copied_definitions(operations, ("build_op",))  # its check is nasrl_nb.validation's
