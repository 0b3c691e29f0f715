"""The NATS-Bench converter, on a fake API object shaped like ``nats_bench.create(..., "tss")``.

The official release cannot be downloaded here, so the fake answers the same calls with
known numbers; the written table must load through ``TabularBenchmark`` and give them back.
"""

from __future__ import annotations

import importlib

import pytest

from nasrl_nb.bench.tabular import TabularBenchmark

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|",
]


def _converter():
    return importlib.import_module("benchmarks.convert_nas_bench_201")  # the script, imported as the package's module


class FakeResults:
    """One architecture's ``ArchResults``: accuracies in percent, as NAS-Bench-201 reports them."""

    def __init__(self, index: int):
        self.index = index

    def get_dataset_seeds(self, dataset):
        return [777, 888]

    def get_compute_costs(self, dataset):
        return {"params": 0.1 * (self.index + 1), "flops": 10.0 * (self.index + 1)}

    def get_total_epoch(self, dataset):
        return 3

    def get_metrics(self, dataset, setname, iepoch=None, is_random=False):
        seed_shift = 0.0 if is_random is False else (1.0 if is_random == 777 else -1.0)
        base = {"x-valid": 80.0, "ori-test": 85.0, "train": 99.0}[setname] - 20.0 * self.index
        if iepoch is not None:
            base -= 3 - iepoch
        return {"accuracy": base + seed_shift, "all_time": 100.0 + self.index}


class FakeAPI:
    def __len__(self):
        return len(ARCHS)

    def arch(self, index):
        return ARCHS[index]

    def query_meta_info_by_index(self, index, hp="200"):
        assert hp == "200"
        return FakeResults(index)


def test_converted_table_loads_and_answers_with_the_api_numbers(tmp_path):
    convert = _converter()
    out = tmp_path / "nb201.csv.gz"
    count = convert.write_table(convert.rows_from_api(FakeAPI(), "cifar10", curves=True), out)
    assert count == 4  # 2 architectures x 2 seeds
    bench = TabularBenchmark.load(f"csv:{out}")
    assert bench.scale == "percent"  # detected, and every value below comes back as a fraction
    arch = bench.space.parse(ARCHS[1])
    entry = bench.query(arch)
    assert entry["val_accuracy"] == pytest.approx(0.60)  # mean of 61 and 59 percent
    assert entry["test_accuracy"] == pytest.approx(0.65)
    assert entry["params"] == 200_000 and entry["flops"] == 20_000_000


def test_an_unknown_dataset_names_the_allowed_ones():
    with pytest.raises(ValueError, match="dataset: 'svhn' is not allowed; allowed values: cifar10"):
        next(_converter().rows_from_api(FakeAPI(), "svhn"))
