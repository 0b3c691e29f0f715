"""Convert the official NAS-Bench-201 / NATS-Bench (topology) release into nasrl_nb's table format.

For users who have downloaded the release (e.g. ``NATS-tss-v1_0-3ffb9-simple``) and installed
``pip install nats_bench``; nothing here downloads anything. The output is the CSV format of
:mod:`nasrl_nb.bench.tabular`, one row per (architecture, seed), following the paper's protocol
(Dong & Yang 2020, Sec. 5): search by the validation accuracy, report the test accuracy.

* cifar10: ``val_accuracy`` = ``cifar10-valid`` / ``x-valid`` (trained on the train split),
  ``test_accuracy`` = ``cifar10`` / ``ori-test`` (trained on train + valid), per seed when the
  seed exists in both, else the mean over the test runs;
* cifar100, ImageNet16-120: ``x-valid`` and ``x-test`` of the same runs;
* ``params`` and ``flops`` converted from the release's millions to counts;
* ``train_seconds``: the run's total training time (``all_time`` of ``train``);
* ``val_accuracy_per_epoch`` with ``--curves`` (slow: one query per epoch).

Accuracies stay in percent, as released; the loader detects it (``TabularBenchmark.scale``).

    python -m benchmarks.convert_nas_bench_201 --release PATH --dataset cifar10 --out nb201-cifar10.csv.gz
    python -m nasrl_nb bench info nb201-cifar10.csv.gz
    python -m nasrl_nb search --method evolution --dataset csv:nb201-cifar10.csv.gz --budget 100 --out runs/rea
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from nasrl_nb.bench.build import COLUMNS

# dataset -> ((valid dataset, valid set), (test dataset, test set))
PROTOCOL = {
    "cifar10": (("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    "cifar100": (("cifar100", "x-valid"), ("cifar100", "x-test")),
    "ImageNet16-120": (("ImageNet16-120", "x-valid"), ("ImageNet16-120", "x-test")),
}


def rows_from_api(api, dataset: str = "cifar10", *, hp: str = "200", curves: bool = False,
                  limit: int | None = None) -> Iterator[dict]:
    """Rows of the table, one per (architecture, seed), read through a ``nats_bench`` API object.

    ``api`` needs ``len(api)``, ``api.arch(i)`` and ``api.query_meta_info_by_index(i, hp=hp)``
    returning an ``ArchResults`` (``get_dataset_seeds``, ``get_metrics``, ``get_compute_costs``,
    ``get_total_epoch``), as ``nats_bench.create(path, "tss", fast_mode=True)`` gives.
    """
    if dataset not in PROTOCOL:
        raise ValueError(f"dataset: {dataset!r} is not allowed; allowed values: {', '.join(PROTOCOL)}")
    (valid_data, valid_set), (test_data, test_set) = PROTOCOL[dataset]
    count = len(api) if limit is None else min(limit, len(api))
    for index in range(count):
        arch = api.arch(index)
        meta = api.query_meta_info_by_index(index, hp=hp)
        costs = meta.get_compute_costs(valid_data)
        test_seeds = set(meta.get_dataset_seeds(test_data))
        test_mean = meta.get_metrics(test_data, test_set, is_random=False)["accuracy"]
        epochs = meta.get_total_epoch(valid_data) if curves else 0
        for seed in meta.get_dataset_seeds(valid_data):
            valid = meta.get_metrics(valid_data, valid_set, is_random=seed)
            test = meta.get_metrics(test_data, test_set, is_random=seed)["accuracy"] if seed in test_seeds else test_mean
            train = meta.get_metrics(valid_data, "train", is_random=seed)
            curve = [meta.get_metrics(valid_data, valid_set, iepoch=e, is_random=seed)["accuracy"] for e in range(epochs)]
            yield {
                "arch": arch,
                "seed": seed,
                "val_accuracy": valid["accuracy"],
                "test_accuracy": test,
                "params": round(costs["params"] * 1e6),
                "flops": round(costs["flops"] * 1e6),
                "train_seconds": train.get("all_time"),
                "val_accuracy_per_epoch": ";".join(f"{a:.6g}" for a in curve),
            }


def write_table(rows, out) -> int:
    """Write ``rows`` as the CSV format (gzipped when ``out`` ends in ``.gz``); returns the row count."""
    out = Path(out)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
        count += 1
    data = text.getvalue().encode()
    if out.name.endswith(".gz"):
        with gzip.GzipFile(out, "wb", mtime=0) as f:
            f.write(data)
    else:
        out.write_bytes(data)
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", required=True, help="folder or file of the NATS-Bench topology release")
    parser.add_argument("--dataset", choices=tuple(PROTOCOL), default="cifar10")
    parser.add_argument("--hp", default="200", help="training schedule of the release: 200 (default) or 12 epochs")
    parser.add_argument("--out", required=True, help="table to write (.csv or .csv.gz)")
    parser.add_argument("--curves", action="store_true", help="also write the per-epoch validation accuracy (slow)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N architectures (a trial)")
    args = parser.parse_args(argv)
    try:
        from nats_bench import create
    except ImportError:
        print("error: this converter needs the nats_bench package: pip install nats_bench", file=sys.stderr)
        return 2
    api = create(args.release, "tss", fast_mode=True, verbose=False)
    count = write_table(rows_from_api(api, args.dataset, hp=args.hp, curves=args.curves, limit=args.limit), args.out)
    print(f"wrote {count} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
