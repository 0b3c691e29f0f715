"""The command line: `spaces`, `train`, one-line errors, and the hook for extra subcommands."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import nasrl_nb.cli.commands as cli_main
from nasrl_nb.spaces.registry import get_space

TRAIN_KEYS = {"status", "val_accuracy", "test_accuracy", "params", "flops", "latency_ms", "seconds", "arch", "space", "epochs", "reason"}
QUICK_TRAIN = ["--epochs", "1", "--max-samples", "200", "--device", "cpu", "--channels", "8"]


def test_spaces_prints_each_size_and_the_unique_cell_count(capsys):
    assert cli_main.main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert f"{get_space('macro').size():,}" in out and f"{get_space('cell').size():,}" in out
    assert "6,466 unique" in out


def test_spaces_json_matches_the_spaces_and_enumeration(capsys):
    assert cli_main.main(["spaces", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    cell = get_space("cell")
    assert rows["macro"]["size"] == get_space("macro").size() == 200 * 400**3  # layer 0: 2 connectivities
    assert rows["cell"]["size"] == 5**6 and rows["cell"]["decisions"] == len(cell.decisions)
    assert rows["cell"]["unique"] == len({cell.canonical(a) for a in cell.enumerate()}) == 6466


def test_train_cell_prints_one_json_object_with_accuracy_and_costs(capsys, nb201_example):
    from nasrl_nb.nn.child_network import ChildNetwork
    from nasrl_nb.nn.complexity import count_parameters

    assert cli_main.main(["train", "--space", "cell", "--arch", nb201_example, *QUICK_TRAIN]) == 0
    out, err = capsys.readouterr()
    assert err == "" and len(out.strip().splitlines()) == 1
    record = json.loads(out)
    assert TRAIN_KEYS <= set(record)
    assert record["status"] == "ok" and record["reason"] is None and record["epochs"] == 1
    assert 0.0 <= record["val_accuracy"] <= 1.0 and 0.0 <= record["test_accuracy"] <= 1.0
    net = ChildNetwork(get_space("cell").parse(nb201_example), (1, 8, 8), 10, channels=8)
    assert record["params"] == count_parameters(net)
    assert record["flops"] > 0 and record["latency_ms"] > 0 and record["arch"] == nb201_example


def test_train_macro_reads_the_architecture_from_a_file(capsys, tmp_path):
    arch = get_space("macro").sample(1)
    path = tmp_path / "arch.json"
    path.write_text(str(arch))
    assert cli_main.main(["train", "--space", "macro", "--arch", f"@{path}", *QUICK_TRAIN]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["space"] == "macro" and json.loads(record["arch"]) == json.loads(str(arch))


def test_a_failed_child_prints_strict_json_with_nulls_and_exits_1(capsys, monkeypatch, nb201_example):
    from nasrl_nb.nn import training

    def diverge(net, data, **kwargs):
        return training.TrainResult("failed", float("nan"), float("nan"), [], [], 0.1, 0, "diverged: loss is nan at epoch 1")

    monkeypatch.setattr(training, "train_and_evaluate", diverge)
    assert cli_main.main(["train", "--arch", nb201_example, *QUICK_TRAIN]) == 1
    out = capsys.readouterr().out
    assert "NaN" not in out
    record = json.loads(out)
    assert record["status"] == "failed" and record["val_accuracy"] is None and record["reason"].startswith("diverged")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--space", "cell", "--arch", "|nor_conv_3x3~0|"], r"^error: arch: expected 3 node groups"),
        (["train", "--space", "cell", "--arch", "|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|"], r"^error: arch op of edge 0->1: 'conv_7x7' is not allowed; allowed values: none, skip_connect"),
        (["train", "--space", "macro", "--arch", "[{]"], r"^error: arch: not valid JSON for the macro space"),
        (["train", "--space", "macro", "--arch", "@/no/such/arch.json"], r"^error: arch: cannot read architecture file"),
        (["train", "--arch", "x", "--epochs", "0"], r"^error: --epochs: must be a positive integer, got 0"),
        (["train", "--arch", "x", "--lr", "-1"], r"^error: --lr: must be a positive number"),
        (["train", "--arch", "x", "--batch-size", "0"], r"^error: --batch-size: must be a positive integer"),
        (["train", "--arch", "x", "--device", "tpu"], r"^error: device: 'tpu' is not allowed; allowed values: auto, cpu"),
        (["train", "--arch", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "--max-samples", "0"], r"^error: --max-samples: must be a positive integer"),
    ],
)
def test_a_bad_value_prints_one_error_line_and_exits_2(capsys, argv, message):
    assert cli_main.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["train"], "required: --arch"),
        (["train", "--arch", "x", "--space", "nas"], "invalid choice: 'nas'"),
        (["train", "--arch", "x", "--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["train", "--arch", "x", "--epochs", "two"], "invalid int value: 'two'"),
    ],
)
def test_argparse_errors_exit_2_with_usage(capsys, argv, message):
    assert cli_main.main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: nasrl-nb" in err and message in err


def test_help_exits_0(capsys):
    assert cli_main.main(["--help"]) == 0
    assert "spaces" in capsys.readouterr().out


def test_help_lists_every_command(capsys):
    assert cli_main.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("spaces", "train", "search", "export"):
        assert command in out
    assert "run an architecture search" in out


def test_search_help_lists_every_method_and_how_quick_mode_is_set(capsys):
    from nasrl_nb.assembly.methods import METHODS

    assert cli_main.main(["search", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    description = out.split("options:")[0].split("Search a space", 1)[1]  # not the usage line's {choices}
    for method in METHODS:
        assert re.search(rf"[ (]{method}[,:)]", description), method
    assert "NASRL_NB_QUICK" in out and "no flag" in out



def test_importing_the_cli_loads_no_plotting_or_widget_library(cli_env):
    code = (
        "import sys, nasrl_nb.cli.commands\n"
        "heavy = [m for m in ('matplotlib', 'ipywidgets', 'networkx', 'ray') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=cli_env, timeout=60)


def test_python_m_nasrl_nb_train_prints_json_and_exits_0(run_cli, nb201_example):
    proc = run_cli("train", "--space", "cell", "--arch", nb201_example, *QUICK_TRAIN)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert TRAIN_KEYS <= set(record) and record["status"] == "ok"


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--space", "cell", "--arch", "|nor_conv_3x3~0|+|oops|"], "error: arch: expected 3 node groups"),
        (["train", "--arch", "x", "--space", "hyper"], "invalid choice: 'hyper'"),
    ],
)
def test_python_m_nasrl_nb_bad_input_prints_no_traceback(run_cli, args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr and "Traceback" not in proc.stderr
    if message.startswith("error:"):
        assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
