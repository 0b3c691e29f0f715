"""Command-line subcommands ``search`` and ``export`` (hooked into :mod:`nasrl_nb.cli.commands`).

``nasrl-nb search --method reinforce --space cell --budget 64 --out runs/r1`` runs a search
with :func:`~nasrl_nb.search.factory.make_search`, writing its run folder into ``--out``
(:mod:`nasrl_nb.search.run_folder`) and printing the summary as one JSON object. Ctrl-C
stops it cleanly (exit status 130); ``--resume`` continues it -- options that are not
given are taken from the saved ``config.json``, and only ``--budget``, ``--device`` and
``--quiet`` may differ from it; ``--overwrite`` starts over in a folder that holds a run. ``nasrl-nb export runs/r1`` prints the best architecture as a
standalone PyTorch file (``--out FILE`` writes it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# option name -> make_search keyword (see nasrl_nb.search.config.SETTINGS); an option left at None
# takes the default, or the saved run's value on --resume
SEARCH_OPTIONS = {
    "method": "method",
    "space": "space",
    "dataset": "dataset",
    "budget": "budget",
    "batch": "batch_size",
    "seed": "seed",
    "device": "device",
    "epochs": "epochs",
    "lr": "lr",
    "channels": "channels",
    "cells_per_stage": "cells_per_stage",
    "max_samples": "max_samples",
    "max_params": "max_params",
    "max_flops": "max_flops",
    "max_latency_ms": "max_latency_ms",
    "constraint_mode": "constraint_mode",
    "controller_lr": None,  # goes into trainer_kwargs
    "entropy_weight": None,
}


def add_commands(subparsers) -> None:
    """Add ``search`` and ``export`` to the ``nasrl-nb`` parser."""
    from ..nn.data import DATASETS
    from ..rewards.objectives import CONSTRAINT_MODES
    from ..search.methods import METHODS
    from ..spaces.registry import SPACES
    from . import bench as bench_commands

    search = subparsers.add_parser(
        "search",
        help="run a architecture search and print its summary as JSON",
        description=(
            "Search a space with RL (reinforce, ppo), random search or regularized evolution. Writes "
            "OUT/config.json, history.jsonl, steps.jsonl, checkpoint.pt and summary.json. Ctrl-C stops cleanly; "
            "--resume continues."
        ),
    )
    search.add_argument("--method", choices=METHODS, default=None, help="search strategy (default: reinforce)")
    search.add_argument("--space", choices=tuple(SPACES), default=None, help="search space (default: cell)")
    search.add_argument("--dataset", default=None,
                        help=f"dataset: {', '.join(DATASETS)}; or a table: bench:NAME, csv:PATH (default: digits)")
    bench_commands.add_search_options(search)  # --select-by, --report, --budget-seconds (tables only)
    search.add_argument("--budget", type=int, default=None, help="architectures to evaluate (default: 64; 16 in quick mode)")
    search.add_argument("--batch", type=int, default=None, help="architectures per step (default: 8; 4 in quick mode)")
    search.add_argument("--seed", type=int, default=None, help="seed of the controller, the search and the children (default: 0)")
    search.add_argument("--device", default=None, help="where children train: auto, cpu, cuda, cuda:N, mps (default: auto)")
    search.add_argument("--epochs", type=int, default=None, help="training epochs per child (default: 3; 1 in quick mode)")
    search.add_argument("--lr", type=float, default=None, help="child learning rate (default: 0.01)")
    search.add_argument("--channels", type=int, default=None, help="child stem / first-stage width (default: 16)")
    search.add_argument("--cells-per-stage", type=int, default=None, help="cells per stage, cell space (default: 1)")
    search.add_argument("--max-samples", type=int, default=None, help="use a stratified subset of this many images")
    search.add_argument("--max-params", type=float, default=None, help="budget on parameters")
    search.add_argument("--max-flops", type=float, default=None, help="budget on FLOPs per image")
    search.add_argument("--max-latency-ms", type=float, default=None, help="budget on latency in ms (batch of 1)")
    search.add_argument(
        "--constraint-mode", choices=CONSTRAINT_MODES, default=None, help="how budgets shape the reward (default: hard)"
    )
    search.add_argument("--controller-lr", type=float, default=None, help="controller learning rate (reinforce, ppo)")
    search.add_argument("--entropy-weight", type=float, default=None, help="entropy bonus (reinforce, ppo)")
    search.add_argument("--out", required=True, help="the run folder (config, history, steps, checkpoint, summary)")
    search.add_argument("--resume", action="store_true", help="continue the search in --out")
    search.add_argument("--overwrite", action="store_true", help="delete the search in --out and start over")
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    search.set_defaults(func=cmd_search)

    export = subparsers.add_parser(
        "export",
        help="write the best architecture of a search as a standalone PyTorch file",
        description="Print (or write with --out) the best architecture of search folder DIR as PyTorch source.",
    )
    export.add_argument("dir", metavar="DIR", help="a folder written by `nasrl-nb search --out DIR`")
    export.add_argument("--out", default=None, help="file to write (default: print to stdout)")
    export.add_argument("--class-name", default="ExportedNet", help="name of the generated nn.Module")
    export.add_argument("--force", action="store_true", help="replace an --out file that export did not write")
    export.set_defaults(func=cmd_export)


def search_settings(args: argparse.Namespace) -> dict:
    """make_search keywords from the options given (those left out are not in the dict)."""
    settings: dict = {"progress": not args.quiet}
    trainer_kwargs = {}
    for option, keyword in SEARCH_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if option == "controller_lr":
            trainer_kwargs["lr"] = value
        elif option == "entropy_weight":
            trainer_kwargs["entropy_weight"] = value
        else:
            settings[keyword] = value
    if trainer_kwargs:
        settings["trainer_kwargs"] = trainer_kwargs
    return settings


def search_config(args: argparse.Namespace):
    """The :class:`~nasrl_nb.search.config.SearchConfig` of this command: new, or the saved one with the options on top."""
    from ..search.config import SearchConfig, config_differences
    from ..search.run_folder import RunFolder

    out, folder = Path(args.out), RunFolder(args.out)
    saved = folder.read_config()
    settings = search_settings(args)
    if args.resume and args.overwrite:
        raise ValueError("resume, overwrite: pass one of --resume and --overwrite, not both")
    if args.resume:
        if saved is None:
            raise ValueError(f"resume: no search in {str(out)!r} (no config.json); run without --resume to start one")
        config = SearchConfig.from_dict(saved)
        if config.evaluator != "ChildEvaluator":
            raise ValueError(f"resume: the search in {str(out)!r} used a {config.evaluator}; continue it in Python "
                             "with resume_search(out_dir, evaluator=...)")
        return config.with_settings(**settings)
    if folder.holds_run() and not args.overwrite:
        changed = [] if saved is None else config_differences(saved, SearchConfig.from_dict(saved).with_settings(**settings).to_dict())
        detail = f" with other settings ({'; '.join(changed)})" if changed else ""
        raise ValueError(f"out: {str(out)!r} already holds a search{detail}; pass --resume to continue it, "
                         "--overwrite to start over, or choose another folder")
    if not folder.holds_run() and out.exists() and any(out.iterdir()):
        raise ValueError(f"out: {str(out)!r} exists and is not empty; choose a new or empty folder")
    return SearchConfig.from_settings(**settings)


def cmd_search(args: argparse.Namespace) -> int:
    """Run (or resume) a search; print its summary; 130 after Ctrl-C (resumable)."""
    from ..search.factory import make_search
    from . import bench as bench_commands

    evaluator = bench_commands.tabular_evaluator(args)  # None unless --dataset bench:NAME or csv:PATH
    search = make_search(config=search_config(args), evaluator=evaluator, out_dir=args.out, resume=args.resume,
                         overwrite=args.overwrite)
    try:
        summary = search.run()
    except KeyboardInterrupt:
        print(
            f"interrupted: {search.evaluations} of {search.budget} architectures evaluated and saved in {args.out!r}; "
            "continue with --resume",
            file=sys.stderr,
        )
        return 130
    print(json.dumps(summary))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print or write the standalone PyTorch source of a search's best architecture."""
    from ..search.export import export_search

    source = export_search(args.dir, class_name=args.class_name, out=args.out, force=args.force)
    if args.out is None:
        sys.stdout.write(source)
    else:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
