"""Command-line subcommands ``bench info`` and ``bench build``, and the tabular options of ``search``.

``nasrl-nb bench info digits-cell`` (or a path / ``csv:PATH``) prints a table's size, its
best, top-1% and median accuracy, how many architectures lie within one point of the best,
the rank correlation of two seeds, and a text histogram (``--json`` for one JSON object).

``nasrl-nb bench build --out FOLDER --workers 2`` trains every unique cell of the cell space
into shards in FOLDER (resumable: run it again after a kill and it continues), then merges
them into ``FOLDER/digits-cell.csv.gz`` and its ``.json`` metadata (``--table`` to choose).
``--dataset mnist1d`` builds mnist1d-cell (``FOLDER/mnist1d-cell.csv.gz``) with that dataset's
defaults (:meth:`~nasrl_nb.bench.build.BuildSettings.for_dataset`); ``--channels``,
``--epochs``, ``--batch-size`` and ``--lr`` override them; a folder is resumed only with its
own settings.

``nasrl-nb search --dataset bench:digits-cell`` (or ``csv:PATH``) searches a table instead of
training children: ``--select-by`` and ``--report`` choose the columns, ``--budget-seconds``
stops after that many simulated training seconds (``--budget`` stays a cap on evaluations).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..bench.tabular import METRICS

TABLE_PREFIXES = ("bench:", "csv:")
TABLE_DATASETS = ("digits", "mnist1d")  # what ``bench build --dataset`` trains on: offline data only
BUDGET_CAP = 1_000_000  # evaluations, when only --budget-seconds bounds a tabular search


def add_commands(subparsers) -> None:
    """Add ``bench info`` and ``bench build`` to the ``nasrl-nb`` parser."""
    bench = subparsers.add_parser("bench", help="inspect or build a tabular benchmark",
                                  description="Inspect (info) or build (build) a tabular benchmark of the cell space.")
    commands = bench.add_subparsers(dest="bench_command", metavar="BENCH_COMMAND", required=True)

    info = commands.add_parser("info", help="size, best, median and accuracy distribution of a table",
                               description="Print a table's statistics. TABLE: a shipped name (digits-cell), bench:NAME, csv:PATH or a path.")
    info.add_argument("table", metavar="TABLE", help="a shipped benchmark name, bench:NAME, csv:PATH or a path")
    info.add_argument("--column", choices=METRICS, default="test_accuracy", help="the accuracy to describe (default: test_accuracy)")
    info.add_argument("--bins", type=int, default=10, help="histogram bins (default: 10)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    build = commands.add_parser("build", help="train every unique cell into a table (resumable, parallel)",
                                description="Train the unique cells of the cell space shard by shard (a killed build "
                                            "continues where it stopped), then merge them into a gzipped CSV.")
    build.add_argument("--dataset", default="digits", help="data the cells train on: digits or mnist1d (default: digits)")
    build.add_argument("--out", default=None, help="build folder of shards (default: bench-build/DATASET-cell)")
    build.add_argument("--workers", type=int, default=2, help="worker processes, one torch thread each (default: 2)")
    build.add_argument("--limit", type=int, default=None, help="only the first N unique cells (a trial build)")
    build.add_argument("--table", default=None, help="merged table to write (default: OUT/DATASET-cell.csv.gz)")
    build.add_argument("--quiet", action="store_true", help="no progress lines")
    build.add_argument("--channels", type=int, default=None, help="child width C (default: the dataset's)")
    build.add_argument("--epochs", type=int, default=None, help="training epochs per child (default: the dataset's)")
    build.add_argument("--batch-size", type=int, default=None, help="training batch size (default: the dataset's)")
    build.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the dataset's)")
    build.set_defaults(func=cmd_build)


def add_search_options(search: argparse.ArgumentParser) -> None:
    """The tabular options of ``nasrl-nb search`` (used with ``--dataset bench:NAME|csv:PATH``)."""
    search.add_argument("--select-by", choices=METRICS, default=None,
                        help="tabular search: the column the search optimises (default: val_accuracy)")
    search.add_argument("--report", choices=METRICS, default=None,
                        help="tabular search: the column recorded as test accuracy (default: test_accuracy)")
    search.add_argument("--budget-seconds", type=float, default=None,
                        help="tabular search: stop after this many simulated training seconds")


def is_table(dataset) -> bool:
    return isinstance(dataset, str) and dataset.startswith(TABLE_PREFIXES)


def check_dataset_option(dataset) -> None:
    """``--dataset``: a dataset name, ``bench:NAME`` or ``csv:PATH`` (ValueError listing them)."""
    from ..nn.data import DATASETS

    if dataset is None or is_table(dataset) or dataset in DATASETS:
        return
    raise ValueError(f"--dataset: {dataset!r} is not allowed; allowed values: {', '.join(DATASETS)}, bench:NAME, csv:PATH")


def tabular_evaluator(args: argparse.Namespace):
    """The :class:`~nasrl_nb.bench.evaluator.TabularEvaluator` for ``--dataset bench:|csv:``, else None.

    Without a table, ``--select-by``, ``--report`` and ``--budget-seconds`` are errors. With
    ``--budget-seconds`` and no ``--budget``, ``args.budget`` becomes :data:`BUDGET_CAP`.
    """
    check_dataset_option(args.dataset)
    tabular = {"select_by": args.select_by, "report": args.report, "budget_seconds": args.budget_seconds}
    if getattr(args, "resume", False) and args.dataset is None:
        saved = saved_tabular_evaluator(args.out)
        if saved is not None:
            given = [f"--{k.replace('_', '-')}" for k, v in tabular.items() if v is not None]
            if given:
                raise ValueError(f"{given[0].lstrip('-').replace('-', '_')}: cannot change on resume; the table "
                                 "search continues with the settings in summary.json")
            return saved
    if not is_table(args.dataset):
        given = [f"--{k.replace('_', '-')}" for k, v in tabular.items() if v is not None]
        if given:
            raise ValueError(f"{given[0].lstrip('-').replace('-', '_')}: only for a tabular search (--dataset bench:NAME or csv:PATH)")
        return None
    if getattr(args, "space", None) not in (None, "cell"):
        raise ValueError(f"space: a table answers cells of the cell space; --space must be cell, got {args.space!r}")
    from ..bench.evaluator import TabularEvaluator

    if args.budget_seconds is not None and args.budget is None:
        args.budget = BUDGET_CAP
    return TabularEvaluator(
        args.dataset,
        select_by=args.select_by or "val_accuracy",
        report=args.report or "test_accuracy",
        seed=args.seed or 0,
        budget_seconds=args.budget_seconds,
    )


def saved_tabular_evaluator(out):
    """The TabularEvaluator of the table search in run folder ``out`` (from its summary.json), else None."""
    from ..bench.evaluator import TabularEvaluator
    from ..run.folder import RunFolder

    folder = RunFolder(out)
    saved = folder.read_config() if out is not None else None
    if saved is None or saved.get("evaluator") != TabularEvaluator.__name__:
        return None
    return TabularEvaluator.from_config(folder.read_summary().get("evaluator"))


def table_source(text: str) -> str:
    """``bench info`` argument: a shipped name becomes ``bench:NAME``; anything else is kept."""
    from ..bench.tabular import shipped_benchmarks

    if not is_table(text) and text in shipped_benchmarks():
        return f"bench:{text}"
    return text


def table_report(bench, *, column: str = "test_accuracy", bins: int = 10) -> dict:
    """The statistics ``bench info`` prints, as plain JSON."""
    from ..bench.analysis import accuracy_histogram, accuracy_summary, near_best, seed_correlation

    counts, edges = accuracy_histogram(bench, column, bins=bins)
    report = {
        "name": bench.name,
        "path": None if bench.path is None else str(bench.path),
        "rows": bench.rows,
        "entries": len(bench),
        "unique_architectures": bench.unique_architectures,
        "seeds": list(bench.seeds),
        "scale": bench.scale,
        "epochs": bench.epochs,
        "columns": list(bench.columns),
        "summary": accuracy_summary(bench, column),
        "near_best": near_best(bench, column),
        "best": bench.best(column),
        "histogram": {"counts": counts.tolist(), "edges": [round(float(e), 6) for e in edges]},
    }
    if len(bench.seeds) >= 2:
        report["seed_spearman_val"] = seed_correlation(bench, "val_accuracy")
    return report


def scale_note(scale: str) -> str:
    """How the file wrote its accuracies; ``info`` always shows fractions."""
    if scale == "percent":
        return "accuracies stored as percent in the file, shown here as fractions"
    return "accuracies stored as fractions"


def cmd_info(args: argparse.Namespace) -> int:
    """Print a table's statistics (text, or JSON with ``--json``)."""
    from ..bench.tabular import TabularBenchmark
    from ..validation import require_positive

    require_positive("bins", args.bins, integer=True)
    bench = TabularBenchmark.load(table_source(args.table))
    report = table_report(bench, column=args.column, bins=args.bins)
    if args.json:
        print(json.dumps(report))
        return 0
    s, near = report["summary"], report["near_best"]
    lines = [
        f"{bench.name}: {report['rows']:,} rows, {report['entries']:,} architectures in the table, "
        f"{report['unique_architectures']:,} unique (of 6,466)",
        f"seeds {report['seeds']}, {scale_note(report['scale'])}, epochs per run: "
        f"{'not recorded' if report['epochs'] is None else report['epochs']}",
        f"{args.column} over unique architectures: best {s['best']:.4f}  top 1% {s['top_1pct']:.4f}  "
        f"median {s['median']:.4f}  worst {s['worst']:.4f}  ({s['failed']} failed)",
        f"within 1 point of the best: {near['count']} architectures ({near['fraction']:.2%})",
        f"best architecture: {report['best']['entry']}",
    ]
    if "seed_spearman_val" in report:
        lines.append(f"Spearman rank correlation of val accuracy between seeds {report['seeds'][0]} and {report['seeds'][1]}: "
                     f"{report['seed_spearman_val']:.3f}")
    counts, edges = report["histogram"]["counts"], report["histogram"]["edges"]
    widest = max(counts) or 1
    lines.append(f"distribution of {args.column}:")
    for count, lo, hi in zip(counts, edges[:-1], edges[1:]):
        lines.append(f"  {lo:6.3f}-{hi:6.3f} {count:6d} {'#' * round(40 * count / widest)}")
    print("\n".join(lines))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Train the missing shards of ``--out``, then merge them; print the table's metadata as JSON."""
    from ..bench.build import BuildSettings, build, merge, shards, unique_cells
    from ..validation import require_positive

    require_positive("workers", args.workers, integer=True)
    if args.limit is not None:
        require_positive("limit", args.limit, integer=True)
    overrides = {key: require_positive(key, getattr(args, key), integer=key != "lr")
                 for key in ("channels", "epochs", "batch_size", "lr") if getattr(args, key) is not None}
    if args.dataset not in TABLE_DATASETS:
        raise ValueError(f"dataset: {args.dataset!r} is not allowed; allowed values: {', '.join(TABLE_DATASETS)}")
    settings = BuildSettings.for_dataset(args.dataset, **overrides)  # recorded in settings.json and the table's metadata
    folder = Path(args.out or f"bench-build/{settings.table_name}")
    total = len(shards(unique_cells()[: args.limit], settings.shard_size))
    for done, index in enumerate(build(folder, settings=settings, workers=args.workers, limit=args.limit, progress=not args.quiet), 1):
        if not args.quiet:
            print(f"shard {index} written ({done} this run; {total} in all)", file=sys.stderr, flush=True)
    table = Path(args.table) if args.table else folder / f"{settings.table_name}.csv.gz"
    meta = merge(folder, table, settings=settings, limit=args.limit)
    print(json.dumps({"table": str(table), **meta}))
    return 0
