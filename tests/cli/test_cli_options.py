"""The search command's options are generated from the configuration's fields (issue 21)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from nasrl_nb.assembly.config import BATCH_SIZE_RULE, SECTIONS, SETTINGS, SearchConfig
from nasrl_nb.cli.commands import main
from nasrl_nb.cli.search import (
    HAND_WRITTEN,
    OPTION_NAMES,
    add_setting_options,
    option_name,
    search_settings,
)


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser()
    add_setting_options(out)
    out.add_argument("--quiet", action="store_true")
    return out


def options_of(built: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {name: action for action in built._actions for name in action.option_strings}


def test_every_keyword_is_an_option_and_the_earlier_names_still_work():
    options = options_of(parser())
    for keyword in SETTINGS:
        if keyword not in HAND_WRITTEN:
            assert options[f"--{keyword.replace('_', '-')}"].dest == keyword
    for keyword, name in OPTION_NAMES.items():  # --batch, --supernet-steps, --evaluator, --async, --controller-lr
        assert options[name].dest == keyword and option_name(keyword) == name
    for earlier in ("--epochs", "--lr", "--channels", "--cells-per-stage", "--max-samples", "--max-params", "--max-flops",
                    "--max-latency-ms", "--constraint-mode", "--warmup-steps", "--controller-steps", "--entropy-weight",
                    "--second-order", "--remedy", "--controller", "--epsilon", "--reward", "--curriculum",
                    "--reward-weights", "--reference-params", "--reference-latency-ms", "--workers", "--ray-address",
                    "--device", "--precision", "--threads", "--seed", "--budget"):
        assert earlier in options, earlier


def test_types_choices_and_flags_come_from_the_fields():
    options = options_of(parser())
    assert options["--w-lr"].type is float and options["--population-size"].type is int
    assert tuple(options["--remedy"].choices) == dataclasses.fields(SECTIONS["darts"])[10].metadata["choices"]
    assert tuple(options["--optimizer"].choices) == ("sgd", "adam")
    assert options["--reward-weights"].nargs == 3
    args = parser().parse_args(["--second-order", "--no-skip-attention", "--batch", "4", "--controller-lr", "0.3",
                                "--reward", "multi", "--reward-weights", "1", "0", "0.5",
                                "--schedule", '{"temperature_start": 2.0}'])
    settings = search_settings(args)
    assert settings == {"progress": True, "second_order": True, "skip_attention": False, "batch_size": 4,
                        "trainer_lr": 0.3, "reward": "multi", "reward_weights": [1.0, 0.0, 0.5],
                        "schedule": {"temperature_start": 2.0}}
    config = SearchConfig.from_settings(method="reinforce", **settings)
    assert config.trainer.lr == 0.3 and config.controller.skip_attention is False and config.darts.second_order
    assert search_settings(parser().parse_args([])) == {"progress": True}  # nothing given: every default stands


def test_a_new_field_is_an_option_without_a_hand_written_line(monkeypatch):
    import nasrl_nb.assembly.config as config

    @dataclasses.dataclass
    class Extra:
        halving: int = 3  # rungs of successive halving
        mode: str = dataclasses.field(default="fast", metadata={"choices": ("fast", "slow")})  # how to halve

    monkeypatch.setattr(config, "SECTIONS", {**config.SECTIONS, "extra": Extra})
    monkeypatch.setattr(config, "SETTINGS", {**config.SETTINGS, "halving": "extra.halving", "mode": "extra.mode"})
    options = options_of(parser())
    assert options["--halving"].type is int and "rungs of successive halving (default: 3)" in options["--halving"].help
    assert tuple(options["--mode"].choices) == ("fast", "slow")


def test_help_shows_the_batch_size_rule_and_each_methods_defaults(capsys):
    assert main(["search", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert BATCH_SIZE_RULE in text
    assert "default: reinforce 0.2, ppo 0.05, a2c 0.01, trpo 0.2, sac 0.05, enas 0.01" in text  # --controller-lr
    assert "--remedy {none,darts-,darts+,r-darts-l2}" in text


@pytest.mark.parametrize("args, message", [
    (["--remedy", "bogus"], "argument --remedy: invalid choice: 'bogus'"),
    (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
    (["--method", "random", "--controller-lr", "0.1"],
     "--controller-lr: only for methods reinforce, ppo, a2c, trpo, sac, enas; method 'random' does not use it"),
    (["--method", "random", "--w-lr", "0.1"], "--w-lr: only for methods darts; method 'random' does not use it"),
    (["--child-batch-size", "0"], "child.batch_size: must be a positive integer, got 0"),
])
def test_bad_options_exit_2_with_one_line_naming_the_option(args, message, tmp_path, capsys):
    assert main(["search", *args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and not (tmp_path / "run" / "config.json").exists()
