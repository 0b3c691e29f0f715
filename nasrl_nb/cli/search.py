"""Command-line subcommands ``search`` and ``export`` (hooked into :mod:`nasrl_nb.cli.commands`).

``nasrl-nb search --method reinforce --space cell --budget 64 --out runs/r1`` runs a search
with :func:`~nasrl_nb.search.factory.make_search`, writing ``history.jsonl``, ``summary.json`` and
``checkpoint.pt`` into ``--out`` and printing the summary as one JSON object. Ctrl-C stops
it cleanly (exit status 130); ``--resume`` continues it -- options that are not given are
taken from the saved run. ``nasrl-nb export runs/r1`` prints the best architecture as a
standalone PyTorch file (``--out FILE`` writes it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# option name -> make_search keyword; None means "not given" (a default, or the saved run's value)
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

    search = subparsers.add_parser(
        "search",
        help="run a architecture search and print its summary as JSON",
        description=(
            "Search a space with RL (reinforce, ppo), random search or regularized evolution. Writes "
            "OUT/history.jsonl, OUT/summary.json and OUT/checkpoint.pt. Ctrl-C stops cleanly; --resume continues."
        ),
    )
    search.add_argument("--method", choices=METHODS, default=None, help="search strategy (default: reinforce)")
    search.add_argument("--space", choices=tuple(SPACES), default=None, help="search space (default: cell)")
    search.add_argument("--dataset", choices=DATASETS, default=None, help="dataset (default: digits)")
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
    search.add_argument("--out", required=True, help="folder for history.jsonl, summary.json and checkpoint.pt")
    search.add_argument("--resume", action="store_true", help="continue the search in --out")
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


def search_kwargs(args: argparse.Namespace, saved: dict | None) -> dict:
    """make_search keywords from the options given, filled from the saved run on --resume."""
    kwargs = dict(saved or {})
    kwargs.pop("progress", None)
    trainer_kwargs = dict(kwargs.get("trainer_kwargs") or {})
    for option, keyword in SEARCH_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if option == "controller_lr":
            trainer_kwargs["lr"] = value
        elif option == "entropy_weight":
            trainer_kwargs["entropy_weight"] = value
        else:
            kwargs[keyword] = value
    if trainer_kwargs:
        kwargs["trainer_kwargs"] = trainer_kwargs
    return kwargs


def cmd_search(args: argparse.Namespace) -> int:
    """Run (or resume) a search; print its summary; 130 after Ctrl-C (resumable)."""
    from ..search.checkpoint import CHECKPOINT_NAME, load_checkpoint
    from ..search.factory import config_differences, make_search
    from ..spaces.registry import get_space

    out = Path(args.out)
    checkpoint = out / CHECKPOINT_NAME
    saved, evaluator_kind = None, None
    if checkpoint.exists():
        state = load_checkpoint(checkpoint)
        saved = json.loads(state.get("config") or "null")
        evaluator_kind = json.loads(state.get("evaluator") or "{}").get("kind")
    if args.resume and saved is None:
        raise ValueError(f"resume: no search checkpoint in {str(out)!r}; run without --resume to start one")
    if args.resume and evaluator_kind != "ChildEvaluator":
        raise ValueError(f"resume: the search in {str(out)!r} used a {evaluator_kind}; continue it in Python with Search.from_checkpoint")
    if not args.resume and checkpoint.exists():
        kwargs = search_kwargs(args, None)
        if isinstance(kwargs.get("space"), str):  # the saved settings hold the space's spec
            kwargs["space"] = get_space(kwargs["space"]).spec()
        differences = [] if saved is None else config_differences(saved, {**saved, **kwargs})
        detail = f" with other settings ({'; '.join(differences)})" if differences else ""
        raise ValueError(f"out: {str(out)!r} already holds a search{detail}; pass --resume to continue it or choose another folder")
    if not args.resume and out.exists() and any(out.iterdir()):
        raise ValueError(f"out: {str(out)!r} exists and is not empty; choose a new or empty folder")
    kwargs = search_kwargs(args, saved if args.resume else None)
    search = make_search(**kwargs, out_dir=out, resume=args.resume, progress=not args.quiet)
    try:
        summary = search.run()
    except KeyboardInterrupt:
        print(
            f"interrupted: {search.evaluations} of {search.budget} architectures evaluated and saved in {str(out)!r}; "
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
