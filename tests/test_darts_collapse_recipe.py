"""benchmarks.darts_collapse's RecipeEvaluator: a table not shipped yet answers from its shards, else by its recipe."""

from __future__ import annotations

import csv

import pytest

from benchmarks.darts_collapse import RecipeEvaluator
from nasrl_nb.bench.build import COLUMNS, BuildSettings
from nasrl_nb.spaces.registry import get_space

SPACE = get_space("cell")
# two isomorphic cells (NAS-Bench-201's canonical form): each outputs conv3x3(x), through skips or directly
SHARD_CELL = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
TWIN = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"


@pytest.fixture()
def folder(tmp_path):
    with open(tmp_path / "shard_0000.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for seed, (val, test) in enumerate([(0.5, 0.4), (0.7, 0.6)]):
            writer.writerow({"arch": SHARD_CELL, "seed": seed, "val_accuracy": val, "test_accuracy": test})
    return tmp_path


def test_a_cell_in_the_shards_is_read_with_its_isomorphism_class(folder):
    evaluator = RecipeEvaluator(BuildSettings.for_dataset("digits", epochs=1, seeds=(0,)), folder)
    twin = SPACE.parse(TWIN)
    assert str(twin) != SHARD_CELL and SPACE.canonical(twin) == SPACE.canonical(SPACE.parse(SHARD_CELL))
    record = evaluator.evaluate([twin])[0]
    assert record["test_accuracy"] == pytest.approx(0.5) and record["val_accuracy"] == pytest.approx(0.6)
    assert evaluator.trained == 0


def test_a_cell_not_in_the_shards_is_trained_by_the_recipe_once(folder):
    evaluator = RecipeEvaluator(BuildSettings.for_dataset("digits", epochs=1, seeds=(0,)), folder)
    arch = SPACE.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
    first = evaluator.evaluate([arch])[0]
    assert evaluator.trained == 1 and 0.0 <= first["test_accuracy"] <= 1.0
    assert evaluator.evaluate([arch])[0]["test_accuracy"] == first["test_accuracy"] and evaluator.trained == 1
