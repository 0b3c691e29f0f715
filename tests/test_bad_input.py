"""Every bad input is one ValueError raised by our code, naming the field and what it accepts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.assembly.result import SearchResult, write_export
from nasrl_nb.assembly.standalone import standalone_source
from nasrl_nb.checkpoint import load_checkpoint
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.nn.data import Dataset, dataset_from_tensors, dataset_from_uint8, load_dataset
from nasrl_nb.nn.operations import build_activation, build_normalization, build_op
from nasrl_nb.nn.training import train_and_evaluate
from nasrl_nb.rewards.objectives import make_reward
from nasrl_nb.rewards.pareto import pareto_front
from nasrl_nb.runtime import resolve_device, seed_everything
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.spaces.registry import get_space, parse_architecture, space_from_spec
from nasrl_nb.spaces.search_space import Decision, custom_space

GOOD_CELL = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
OPS_LIST = r"allowed values: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"


def macro_layer(**overrides) -> dict:
    return {"layer_type": "conv3x3", "activation": "relu", "normalization": "batch_norm", "connectivity": "sequential", "filters": 16, **overrides}


def macro_parse(layers, **space_kwargs):
    import json

    return MacroSpace(**space_kwargs).parse(layers if isinstance(layers, str) else json.dumps(layers))


def tiny_data() -> Dataset:
    return dataset_from_tensors(torch.rand(40, 1, 4, 4), torch.arange(40) % 2)


def train(**kwargs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    return train_and_evaluate(net, tiny_data(), **{"epochs": 1, "device": "cpu", **kwargs})


def child(arch=None, **kwargs):
    from nasrl_nb.nn.child_network import ChildNetwork

    return ChildNetwork(CellSpace().parse(GOOD_CELL) if arch is None else arch, **kwargs)


CASES = {
    # --- spaces and architectures
    "unknown space": (lambda: get_space("nas"), r"space: 'nas' is not allowed; allowed values: macro, cell"),
    "unknown space in parse_architecture": (lambda: parse_architecture("nas", GOOD_CELL), r"space: 'nas' is not allowed; allowed values: macro, cell, darts"),
    "nb201 unknown op": (lambda: CellSpace().parse(GOOD_CELL.replace("nor_conv_3x3~0|+", "conv_7x7~0|+")), r"arch op of edge 0->1: 'conv_7x7' is not allowed; " + OPS_LIST),
    "nb201 too few node groups": (lambda: CellSpace().parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|"), r"arch: expected 3 node groups separated by '\+', got 2"),
    "nb201 too many node groups": (lambda: CellSpace().parse(GOOD_CELL + "+|none~0|"), r"arch: expected 3 node groups separated by '\+', got 4"),
    "nb201 group not wrapped": (lambda: CellSpace().parse(GOOD_CELL.replace("|nor_conv_3x3~0|+", "nor_conv_3x3~0+", 1)), r"arch: node 1 group 'nor_conv_3x3~0' must be wrapped in '\|'"),
    "nb201 wrong edge count": (lambda: CellSpace().parse("|none~0|+|none~0|+|none~0|none~1|none~2|"), r"arch: node 2 needs 2 incoming edges \(sources 0..1\), got 1"),
    "nb201 edge without source": (lambda: CellSpace().parse(GOOD_CELL.replace("none~1", "none")), r"arch: edge 'none' of node 3 must read 'op~source'"),
    "nb201 wrong source": (lambda: CellSpace().parse(GOOD_CELL.replace("none~1", "none~2")), r"arch: edge 'none~2' of node 3: source must be 1"),
    "nb201 empty string": (lambda: CellSpace().parse("   "), r"arch: expected a NAS-Bench-201 string such as \|nor_conv_3x3~0\|"),
    "nb201 not a string": (lambda: CellSpace().parse(None), r"arch: expected a NAS-Bench-201 string"),
    "cell ops not in vocabulary": (lambda: CellSpace(ops=("none", "sep_conv_3x3")), r"ops: 'sep_conv_3x3' is not allowed; " + OPS_LIST),
    "cell too few nodes": (lambda: CellSpace(num_nodes=1), r"num_nodes: must be at least 2, got 1"),
    "cell non-integer nodes": (lambda: CellSpace(num_nodes=2.5), r"num_nodes: must be a positive integer, got 2.5"),
    "wrong number of decisions": (lambda: CellSpace().from_indices([0, 1, 2]), r"decisions: expected 6 choices for space 'cell', got 3"),
    "index out of range": (lambda: CellSpace().from_indices([0, 0, 0, 0, 0, 7]), r"node3<-2: index 7 is out of range; allowed values: 0..4"),
    "unknown choice": (lambda: CellSpace().from_choices(("conv",) + ("none",) * 5), r"node1<-0: 'conv' is not allowed; " + OPS_LIST),
    "macro invalid json": (lambda: macro_parse("[{'layer_type': 'conv3x3'}]"), r"arch: not valid JSON for the macro space"),
    "macro not a list of layers": (lambda: macro_parse('{"layer_type": "conv3x3"}'), r"arch: expected a JSON list of layer objects"),
    "macro wrong layer count": (lambda: macro_parse([macro_layer()] * 3), r"arch: expected 4 layers for this macro space, got 3"),
    "macro unknown key": (lambda: macro_parse([macro_layer(kernel=3)] * 4), r"arch layer 0: unknown keys \['kernel'\]; allowed keys: \['activation', 'connectivity', 'filters', 'layer_type', 'normalization'\]"),
    "macro unknown layer type": (lambda: macro_parse([macro_layer(layer_type="conv7x7")] * 4), r"layer_0.layer_type: 'conv7x7' is not allowed; allowed values: conv1x1, conv3x3, conv5x5, maxpool3x3, avgpool3x3"),
    "macro missing searched key": (lambda: macro_parse([{"layer_type": "conv3x3"}] * 4), r"arch layer 0: missing 'activation'; allowed values: relu, tanh, sigmoid, swish, gelu"),
    "macro value for a fixed key": (lambda: macro_parse([macro_layer(filters=32)] * 4), r"arch layer 0: filters is not searched in this space; allowed value: 16"),
    "macro skips to a later layer": (lambda: macro_parse([macro_layer(skips=[]), macro_layer(skips=[1])], num_layers=2, skip_connections=True), r"arch layer 1: skips must list .*got \[1\]"),
    "macro skips without skip decisions": (lambda: macro_parse([macro_layer(skips=[0])] * 4), r"arch layer 0: unknown keys \['skips'\]"),
    "macro vocab unknown key": (lambda: MacroSpace(vocab={"kernel": [3, 5]}), r"vocab key: 'kernel' is not allowed; allowed values: layer_type, activation, normalization, connectivity, filters"),
    "macro vocab unknown option": (lambda: MacroSpace(vocab={"activation": ["relu", "softmax"]}), r"vocab\['activation'\]: 'softmax' is not allowed; allowed values: relu, tanh, sigmoid, swish, gelu"),
    "macro vocab options not a list": (lambda: MacroSpace(vocab={"activation": "relu"}), r"vocab\['activation'\]: expected a non-empty list of options"),
    "macro vocab bad filters": (lambda: MacroSpace(vocab={"filters": [16, 0]}), r"vocab\['filters'\]: must be a positive integer, got 0"),
    "macro fixed unknown option": (lambda: MacroSpace(fixed={"normalization": "weight_norm"}), r"fixed\['normalization'\]: 'weight_norm' is not allowed; allowed values: batch_norm, layer_norm, instance_norm, group_norm"),
    "macro zero layers": (lambda: MacroSpace(num_layers=0), r"num_layers: must be a positive integer, got 0"),
    "macro bool filters": (lambda: MacroSpace(filters=True), r"filters: must be a positive integer, got True"),
    "enumerate a huge space": (lambda: next(MacroSpace().enumerate()), r"limit: space has [\d,]+ members, more than limit=1,000,000"),
    # --- custom spaces
    "custom space from empty dict": (lambda: custom_space({}), r"vocab: expected a non-empty dict of decision name -> list of options"),
    "custom space from a list": (lambda: custom_space([("lr", [0.1])]), r"vocab: expected a non-empty dict"),
    "custom space empty options": (lambda: custom_space({"lr": []}), r"vocab\['lr'\]: expected a non-empty list of options, got \[\]"),
    "custom space string options": (lambda: custom_space({"act": "relu"}), r"vocab\['act'\]: expected a non-empty list of options, got 'relu'"),
    "custom space duplicate options": (lambda: custom_space({"act": ["relu", "relu"]}), r"decision 'act': choices must be distinct"),
    "custom space unknown decision": (lambda: custom_space({"lr": [0.1]}).parse('{"lr": 0.1, "depth": 2}'), r"arch: unknown decisions \['depth'\]; allowed: \['lr'\]"),
    "custom space missing decision": (lambda: custom_space({"lr": [0.1], "depth": [1]}).parse('{"lr": 0.1}'), r"arch: missing decisions \['depth'\]"),
    "custom space choice not offered": (lambda: custom_space({"lr": [0.1, 0.01]}).parse('{"lr": 0.5}'), r"lr: 0.5 is not allowed; allowed values: 0.1, 0.01"),
    "custom space child network": (lambda: child(custom_space({"lr": [0.1]}).sample(0)), r"architecture.space: 'custom' has no network builder; allowed values: macro, cell"),
    "decision kind": (lambda: Decision("x", (0, 1), kind="binary"), r"decision 'x': kind 'binary' is not allowed; allowed values: categorical, skip"),
    # --- operations
    "unknown op": (lambda: build_op("sep_conv_7x7", 4, 4), r"op: 'sep_conv_7x7' is not allowed; allowed values: none, skip_connect"),
    "unknown activation": (lambda: build_activation("elu"), r"activation: 'elu' is not allowed; allowed values: relu, tanh, sigmoid, swish, gelu"),
    "unknown normalization": (lambda: build_normalization("weight_norm", 8), r"normalization: 'weight_norm' is not allowed; allowed values: batch_norm"),
    # --- child networks
    "child not an architecture": (lambda: child(GOOD_CELL), r"architecture: expected an Architecture of a macro, cell, darts or zoph-le space, got str"),
    "child cell input not a multiple of 4": (lambda: child(input_shape=(1, 7, 7)), r"input_shape: height and width 7x7 are not allowed .*allowed values: multiples of 4"),
    "child input shape of two numbers": (lambda: child(input_shape=(8, 8)), r"input_shape: expected 3 positive ints \(channels, height, width\), got \(8, 8\)"),
    "child input shape with zero": (lambda: child(input_shape=(0, 8, 8)), r"input_shape: expected 3 positive ints"),
    "child macro single pixel": (lambda: child(MacroSpace(num_layers=1).sample(0), input_shape=(1, 1, 1)), r"input_shape: height x width 1x1 is not allowed; allowed values: at least 2 pixels"),
    "child one class": (lambda: child(num_classes=1), r"num_classes: 1 is not allowed; allowed values: integers >= 2"),
    "child zero channels": (lambda: child(channels=0), r"channels: must be a positive integer, got 0"),
    "child zero cells per stage": (lambda: child(cells_per_stage=0), r"cells_per_stage: must be a positive integer, got 0"),
    # --- training
    "train zero epochs": (lambda: train(epochs=0), r"epochs: must be a positive integer, got 0"),
    "train fractional epochs": (lambda: train(epochs=1.5), r"epochs: must be a positive integer, got 1.5"),
    "train zero lr": (lambda: train(lr=0), r"lr: must be a positive number, got 0"),
    "train negative lr": (lambda: train(lr=-0.1), r"lr: must be a positive number, got -0.1"),
    "train nan lr": (lambda: train(lr=math.nan), r"lr: must be a positive number, got nan"),
    "train zero batch size": (lambda: train(batch_size=0), r"batch_size: must be a positive integer, got 0"),
    "train string batch size": (lambda: train(batch_size="64"), r"batch_size: must be a positive integer, got '64'"),
    "train unknown optimizer": (lambda: train(optimizer="rmsprop"), r"optimizer: 'rmsprop' is not allowed; allowed values: adam, sgd, adamw"),
    "train unknown device": (lambda: train(device="tpu"), r"device: 'tpu' is not allowed; allowed values: auto, cpu, cuda, cuda:N, mps"),
    "train negative weight decay": (lambda: train(weight_decay=-1e-4), r"weight_decay: must be a finite number >= 0, got -0.0001"),
    "train non-integer seed": (lambda: train(seed=0.5), r"seed: must be an integer in 0..9223372036854775807, got 0.5"),
    "train on_epoch not callable": (lambda: train(on_epoch="print"), r"on_epoch: expected a callable"),
    "train data not a Dataset": (lambda: train_and_evaluate(nn.Linear(2, 2), (torch.zeros(2, 2), torch.zeros(2))), r"data: expected a nasrl_nb.nn.data.Dataset \(see load_dataset\), got tuple"),
    "train net not a module": (lambda: train_and_evaluate(lambda x: x, tiny_data()), r"net: expected a torch.nn.Module, got function"),
    # --- datasets and devices
    "unknown dataset": (lambda: load_dataset("imagenet"), r"dataset: 'imagenet' is not allowed; allowed values: digits, mnist, fashion_mnist, cifar10"),
    "unknown device for data": (lambda: load_dataset(device="gpu"), r"device: 'gpu' is not allowed; allowed values: auto, cpu"),
    "device not a string": (lambda: resolve_device(0), r"device: must be a string, got 0; allowed values: auto, cpu"),
    "val fraction above one": (lambda: load_dataset(val_fraction=1.5), r"val_fraction: must be a number in \[0.0, 1.0\], got 1.5"),
    "val fraction zero": (lambda: load_dataset(val_fraction=0.0), r"val_fraction: must be > 0 \(the reward is validation accuracy\)"),
    "negative test fraction": (lambda: load_dataset(test_fraction=-0.1), r"test_fraction: must be a number in \[0.0, 1.0\], got -0.1"),
    "fractions leave no training data": (lambda: load_dataset(val_fraction=0.5, test_fraction=0.5), r"val_fraction \+ test_fraction: must be < 1 to leave training data"),
    "fraction as a string": (lambda: dataset_from_tensors(torch.rand(10, 2, 2), torch.arange(10) % 2, val_fraction="0.2"), r"val_fraction: must be a number in \[0.0, 1.0\], got '0.2'"),
    "zero max samples": (lambda: load_dataset(max_samples=0), r"max_samples: must be a positive integer, got 0"),
    "seed not an integer": (lambda: load_dataset(seed="zero"), r"seed: must be an integer in 0..9223372036854775807, got 'zero'"),
    "images of one dimension": (lambda: dataset_from_tensors(torch.rand(10), torch.zeros(10)), r"X: expected images of shape \(N, C, H, W\) or \(N, H, W\) with N > 0, got shape \(10,\)"),
    "images as a list": (lambda: dataset_from_tensors([[0.0]], [0]), r"X: expected a torch.Tensor or numpy.ndarray, got list"),
    "images with nan": (lambda: dataset_from_tensors(torch.full((10, 2, 2), math.nan), torch.arange(10) % 2), r"X: contains NaN or infinite values"),
    "labels of the wrong length": (lambda: dataset_from_tensors(torch.rand(10, 2, 2), torch.zeros(9)), r"y: expected one label per image, shape \(10,\), got shape \(9,\)"),
    "negative labels": (lambda: dataset_from_tensors(torch.rand(10, 2, 2), torch.arange(10) - 1), r"y: labels must be integers 0..num_classes-1, got -1"),
    "fractional labels": (lambda: dataset_from_tensors(torch.rand(10, 2, 2), torch.full((10,), 0.5)), r"y: labels must be whole numbers 0..num_classes-1"),
    "boolean labels": (lambda: dataset_from_tensors(torch.rand(10, 2, 2), torch.zeros(10, dtype=torch.bool)), r"y: labels must be integers 0..num_classes-1, got dtype torch.bool"),
    "too few samples to split": (lambda: dataset_from_tensors(torch.rand(2, 2, 2), torch.tensor([0, 1])), r"X: 2 samples are too few to split into train/val/test with val_fraction=0.2, test_fraction=0.2; allowed: more samples"),
    "raw images not uint8": (lambda: dataset_from_uint8(torch.rand(10, 4, 4), torch.arange(10) % 2, name="x"), r"images: expected uint8 pixel values 0..255, got dtype torch.float32"),
    "channels-last needs 4 dims": (lambda: dataset_from_uint8(torch.zeros(10, 4, 4, dtype=torch.uint8), torch.arange(10) % 2, name="x", channels_last=True), r"images: channels_last needs shape \(N, H, W, C\), got \(10, 4, 4\)"),
    "unknown split name": (lambda: tiny_data().split("dev"), r"split: 'dev' is not allowed; allowed values: train, val, test"),
    # --- issue 8: seeds, specs, records, rewards, fronts, exports, run files
    "seed a string": (lambda: seed_everything("1"), r"seed: must be an integer in 0..9223372036854775807, got '1'"),
    "seed a float": (lambda: seed_everything(1.0), r"seed: must be an integer in 0..9223372036854775807, got 1.0"),
    "seed too large": (lambda: seed_everything(2**64), r"seed: must be an integer in 0..9223372036854775807, got 18446744073709551616"),
    "seed negative": (lambda: seed_everything(-1), r"seed: must be an integer in 0..9223372036854775807, got -1"),
    "seed too large for data": (lambda: load_dataset(seed=2**70), r"seed: must be an integer in 0..9223372036854775807"),
    "search seed a string": (lambda: make_search("random", seed="0", evaluator=FunctionEvaluator(lambda a: 0.5)), r"seed: must be an integer"),
    "search seed a float": (lambda: make_search("random", seed=0.5, evaluator=FunctionEvaluator(lambda a: 0.5)), r"seed: must be an integer"),
    "search seed too large": (lambda: make_search("random", seed=2**63, evaluator=FunctionEvaluator(lambda a: 0.5)), r"seed: must be an integer in 0..9223372036854775807"),
    "search zero channels": (lambda: make_search("random", channels=0), r"channels: must be a positive integer, got 0"),
    "search zero cells per stage": (lambda: make_search("random", cells_per_stage=0), r"cells_per_stage: must be a positive integer, got 0"),
    "search constraint mode without budget": (lambda: make_search("random", constraint_mode="penalty", evaluator=FunctionEvaluator(lambda a: 0.5)), r"constraint_mode: 'penalty' needs a budget"),
    "search unknown controller key": (lambda: make_search("reinforce", controller_kwargs={"hiden_size": 8}, evaluator=FunctionEvaluator(lambda a: 0.5)), r"hiden_size"),
    "search unknown trainer key": (lambda: make_search("reinforce", trainer_kwargs={"learning_rate": 0.1}, evaluator=FunctionEvaluator(lambda a: 0.5)), r"learning_rate"),
    "search negative controller lr": (lambda: make_search("reinforce", trainer_kwargs={"lr": -1}, evaluator=FunctionEvaluator(lambda a: 0.5)), r"lr: must be a positive number, got -1"),
    "space spec unknown key": (lambda: space_from_spec({"space": "cell", "nodes": 4}), r"space 'cell': unknown options \['nodes'\]; allowed keys: \['num_nodes', 'ops'\]"),
    "space spec not a dict": (lambda: space_from_spec("cell"), r"space: expected a space spec dict such as \{'space': 'cell'\}, got str"),
    "custom space spec extra key": (lambda: space_from_spec({"space": "custom", "vocab": {"x": [1]}, "y": 2}), r"space 'custom': expected exactly the key 'vocab'"),
    "get_space unknown option": (lambda: get_space("macro", depth=3), r"space 'macro': unknown options \['depth'\]"),
    "macro deeply nested json": (lambda: macro_parse("[" * 100_000 + "]" * 100_000), r"arch: JSON nested too deeply for the macro space"),
    "custom deeply nested json": (lambda: custom_space({"x": [1]}).parse("[" * 100_000 + "]" * 100_000), r"arch: not valid JSON for space 'custom' \(RecursionError"),
    "reward of a list": (lambda: make_reward().reward([0.5]), r"record: expected an evaluation record \(a dict such as a Search.history row\), got list"),
    "reward of a number": (lambda: make_reward(max_params=10).reward(0.9), r"record: expected an evaluation record"),
    "pareto of a dict": (lambda: pareto_front({"val_accuracy": 1.0, "params": 3}), r"records: expected a list of records \(dicts such as Search.history\), got dict"),
    "pareto of numbers": (lambda: pareto_front([1, 2]), r"records\[0\]: expected a record \(a dict such as a Search.history row\), got int"),
    "pareto of a string": (lambda: pareto_front("history.jsonl"), r"records: expected a list of records"),
    "pareto unknown metric": (lambda: pareto_front([{"val_accuracy": 0.9, "params": 3}], metrics=("val_accuracy", "size")), r"metrics: 'size' is a number in no record; allowed values: params, val_accuracy"),
    "pareto metric not a name": (lambda: pareto_front([{"val_accuracy": 0.9, "params": 3}], metrics=("val_accuracy", 3)), r"metrics: expected metric names \(strings\)"),
    "data cut too small": (lambda: load_dataset(max_samples=12), r"max_samples: 12 samples are too few to split into train/val/test with val_fraction=0.2, test_fraction=0.2; allowed values: at least 21"),
    "export class name a keyword": (lambda: standalone_source(CellSpace().parse(GOOD_CELL), class_name="class"), r"class_name: 'class' is not allowed; allowed values: a Python identifier that is not a keyword"),
    "export class name None keyword": (lambda: standalone_source(CellSpace().parse(GOOD_CELL), class_name="None"), r"class_name: 'None' is not allowed"),
    "export summary a list": (lambda: SearchResult.from_summary([]), r"summary: expected a search summary dict \(Search.summary\(\)\), got list"),
    "export summary without a best": (lambda: SearchResult.from_summary({"best_arch": None}).to_pytorch(), r"summary: the search has no successful architecture yet"),
    "export summary bad space": (lambda: SearchResult.from_summary({"best_arch": GOOD_CELL, "space": "cell", "evaluator": {"input_shape": [1, 8, 8], "num_classes": 10}}).to_pytorch(), r"summary: not a search summary of the expected shape"),
    "export summary evaluator a string": (lambda: SearchResult.from_summary({"best_arch": GOOD_CELL, "space": {"space": "cell"}, "evaluator": "x"}).to_pytorch(), r"summary: 'evaluator' and its 'child_kwargs' must be objects"),
    "export summary channels a string": (lambda: SearchResult.from_summary({"best_arch": GOOD_CELL, "space": {"space": "cell"}, "evaluator": {"input_shape": [1, 8, 8], "num_classes": 10, "child_kwargs": {"channels": "8"}}}).to_pytorch(), r"summary: .*channels: expected an integer, got '8'"),
    "write_export to empty name": (lambda: write_export("", "x = 1\n"), r"out: '' is not allowed; allowed values: a file name such as net.py"),
    "write_export to a folder": (lambda: write_export(Path(__file__).parent, "x = 1\n"), r"out: .* is a folder; allowed values: a file path"),
    "write_export in a missing folder": (lambda: write_export("/nonexistent-folder-h5/net.py", "x = 1\n"), r"out: the folder '/nonexistent-folder-h5' does not exist"),
    "write_export over a foreign file": (lambda: write_export(__file__, "x = 1\n"), r"out: .* exists and was not written by nasrl_nb export; pass --force \(force=True\)"),
    "load_checkpoint of a text file": (lambda: load_checkpoint(__file__), r"test_bad_input.py': not a readable nasrl_nb checkpoint"),
    "budget below evaluations": (lambda: _evaluated_search().__setattr__("budget", 1), r"budget: 1 is below the 2 architectures already evaluated; allowed values: at least 2"),
}


def _evaluated_search():
    search = make_search("random", budget=2, batch_size=2, evaluator=FunctionEvaluator(lambda a: 0.5), progress=False)
    search.run()
    return search


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_raises_a_value_error_naming_the_field_and_allowed_values(name):
    make, message = CASES[name]
    with pytest.raises(ValueError, match=message):
        make()


def test_there_are_at_least_30_distinct_bad_inputs():
    assert len(CASES) >= 30 and len({message for _, message in CASES.values()}) >= 30


def test_run_folder_errors_are_value_errors_naming_the_file_and_line(tmp_path):
    from nasrl_nb.validation import RunFolderError, run_folder_error

    err = run_folder_error(tmp_path / "history.jsonl", "not a JSON record", line=3)
    assert isinstance(err, RunFolderError) and isinstance(err, ValueError)
    assert str(err).startswith(f"{str(tmp_path / 'history.jsonl')!r} line 3: not a JSON record; ")
    assert "history.jsonl keeps every evaluated architecture" in str(err)


@pytest.mark.parametrize("accuracy", [2.0, -5, "high", None, True])
def test_an_evaluator_with_an_impossible_accuracy_gives_a_failed_child_and_the_search_goes_on(accuracy):
    """Decision (issue 8): accuracy outside [0, 1] is recorded as a failed child with a reason."""
    from nasrl_nb.evaluators.base import Evaluator

    class Broken(Evaluator):
        def evaluate(self, architectures):
            return [{"status": "ok", "val_accuracy": accuracy} for _ in architectures]

    search = make_search("random", budget=2, batch_size=2, evaluator=Broken(), progress=False)
    summary = search.run()
    assert summary["evaluations"] == 2 and summary["failed"] == 2
    reasons = {row["reason"] for row in search.history}
    assert all("val_accuracy" in r and "[0, 1]" in r for r in reasons), reasons


def test_a_serial_evaluator_with_an_impossible_accuracy_answers_a_failed_record():
    """Issue 20: a custom SerialEvaluator's 2.0 is refused by evaluate() itself, not only by the search."""
    from nasrl_nb.evaluators.base import SerialEvaluator, make_record

    class TooGood(SerialEvaluator):
        def evaluate_one(self, arch):
            return make_record(val_accuracy=2.0)

    [record] = TooGood().evaluate([get_space("cell").parse(GOOD_CELL)])
    assert record["status"] == "failed" and math.isnan(record["val_accuracy"])
    assert record["reason"] == "val_accuracy: 2.0 is not allowed; allowed values: a fraction in [0, 1]"


@pytest.mark.parametrize("where", ["file", "under"])
def test_make_search_out_dir_on_a_file_names_out_dir(where, tmp_path):
    (tmp_path / "afile").write_text("x")
    out_dir = tmp_path / "afile" if where == "file" else tmp_path / "afile" / "run"
    with pytest.raises(ValueError, match=r"^out_dir: '.*afile' is a file.*allowed values: a new folder"):
        make_search("random", budget=2, evaluator=FunctionEvaluator(lambda arch: 0.5), out_dir=out_dir, progress=False)
    assert (tmp_path / "afile").read_text() == "x"
