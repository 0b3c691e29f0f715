"""Command-line subcommands ``search``, ``export`` and ``rebuild-checkpoint`` (hooked into :mod:`nasrl_nb.cli.commands`).

``nasrl-nb search --method reinforce --space cell --budget 64 --out runs/r1`` runs a search
with :func:`~nasrl_nb.search.factory.make_search`, writing its run folder into ``--out``
(:mod:`nasrl_nb.search.run_folder`) and printing the summary as one JSON object. Ctrl-C
stops it cleanly (exit status 130); ``--resume`` continues it -- options that are not
given are taken from the saved ``config.json``, and only ``--budget``, ``--device``,
``--quiet``, ``--evaluator``, ``--workers`` and ``--ray-address`` may differ from it; ``--overwrite`` starts over in a folder that holds a run. ``nasrl-nb export runs/r1`` prints the best architecture as a
standalone PyTorch file (``--out FILE`` writes it; the result its method hands over: :mod:`nasrl_nb.search.result`). ``nasrl-nb rebuild-checkpoint runs/r1``
rebuilds a lost or damaged ``checkpoint.pt`` from the history, without training
(:func:`~nasrl_nb.search.rebuild.rebuild_checkpoint`).
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
    "precision": "precision",
    "threads": "threads",
    "epochs": "epochs",
    "lr": "lr",
    "channels": "channels",
    "cells_per_stage": "cells_per_stage",
    "max_samples": "max_samples",
    "max_params": "max_params",
    "max_flops": "max_flops",
    "max_latency_ms": "max_latency_ms",
    "constraint_mode": "constraint_mode",
    "supernet_steps": "supernet_train_steps",
    "warmup_steps": "warmup_steps",
    "controller_steps": "controller_steps",
    "controller_lr": None,  # goes into trainer_kwargs
    "entropy_weight": None,
    "second_order": "second_order",
    "remedy": "remedy",
    "controller": "controller",  # lstm, gru, attention (RL methods)
    "epsilon": "epsilon",
    "reward": "reward",  # accuracy, zoph_le, multi
    "curriculum": "curriculum",
    "reward_weights": "reward_weights",
    "reference_params": "reference_params",
    "reference_latency_ms": "reference_latency_ms",
    "evaluator": "evaluator_kind",  # serial, process, ray
    "workers": "workers",
    "ray_address": "ray_address",
    "asynchronous": "asynchronous",
    "preset": "preset",
}


def method_options() -> dict[str, tuple[str, ...]]:
    """Options that only some methods read (option -> those methods): any other method would ignore them."""
    from ..oneshot.enas import ONESHOT_METHODS
    from ..search.methods import RL_METHODS

    controller = (*RL_METHODS, "enas")
    return {"controller_lr": controller, "entropy_weight": controller, "supernet_steps": ONESHOT_METHODS,
            "warmup_steps": ONESHOT_METHODS, "second_order": ("darts",), "remedy": ("darts",)}


def check_method_options(args: argparse.Namespace, method: str) -> None:
    """An option the method would ignore is refused by name (exit 2), not dropped silently."""
    for option, methods in method_options().items():
        if getattr(args, option, None) is not None and method not in methods:
            raise ValueError(f"--{option.replace('_', '-')}: only for methods {', '.join(methods)}; "
                             f"method {method!r} does not use it")


def add_commands(subparsers) -> None:
    """Add ``search`` and ``export`` to the ``nasrl-nb`` parser."""
    from ..nn.data import DATASETS
    from ..oneshot.darts_strategy import REMEDIES
    from ..rewards.objectives import CONSTRAINT_MODES
    from ..search.config import BATCH_SIZE_RULE
    from ..search.methods import METHODS
    from ..spaces.registry import SPACES
    from . import bench as bench_commands

    search = subparsers.add_parser(
        "search",
        help="run an architecture search and print its summary as JSON",
        description=(
            "Search a space with RL (reinforce, ppo, a2c, trpo, sac), factored bandits (ucb, thompson), random "
            "search (random), regularized evolution (evolution), with shared weights (enas, random_ws: one "
            "supernet scores every child) or by a continuous relaxation (darts). Writes "
            "OUT/config.json, history.jsonl, steps.jsonl, checkpoint.pt and summary.json. Ctrl-C stops cleanly; "
            "--resume continues. Quick mode (the smaller defaults below: budget 16, batch 4, 1 epoch) is on when "
            "the environment variable NASRL_NB_QUICK is set, e.g. NASRL_NB_QUICK=1 nasrl-nb search ...; it has "
            "no flag."
        ),
    )
    search.add_argument("--method", choices=METHODS, default=None,
                        help=f"search strategy: {', '.join(METHODS)} (default: reinforce)")
    search.add_argument("--space", choices=tuple(SPACES), default=None, help="search space (default: cell)")
    search.add_argument("--dataset", default=None,
                        help=f"dataset: {', '.join(DATASETS)}; or a table: bench:NAME, csv:PATH (default: digits)")
    bench_commands.add_search_options(search)  # --select-by, --report, --budget-seconds (tables only)
    search.add_argument("--budget", type=int, default=None, help="architectures to evaluate (default: 64; 16 in quick mode)")
    search.add_argument("--batch", type=int, default=None,
                        help=f"architectures per step (default: a rule of the budget: {BATCH_SIZE_RULE})")
    search.add_argument("--seed", type=int, default=None, help="seed of the controller, the search and the children (default: 0)")
    search.add_argument("--device", default=None, help="where children train: auto, cpu, cuda, cuda:N, mps (default: auto)")
    search.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                        help="child training precision: fp32 (default) or bf16 autocast (CUDA only)")
    search.add_argument("--threads", type=int, default=None,
                        help="intra-op torch threads per child, the same for every --evaluator (default: 1)")
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
    search.add_argument("--supernet-steps", type=int, default=None,
                        help="enas, random_ws: shared-weight minibatches per step (default: one pass over the training split)")
    search.add_argument("--warmup-steps", type=int, default=None,
                        help="enas, random_ws: minibatches with uniform architectures before the first step (default: 0)")
    search.add_argument("--controller-steps", type=int, default=None,
                        help="enas, random_ws: search steps (enas: controller updates) per shared-weight training phase "
                             "(default: enas 10, ENAS's many controller steps per pass; random_ws 1)")
    search.add_argument("--controller-lr", type=float, default=None,
                        help="controller learning rate (reinforce, ppo, a2c, sac, enas; default: reinforce 0.2 with "
                             "plain SGD on rank advantages, each reward's centred rank among the last 8; ppo 0.05, a2c 0.01, "
                             "sac 0.05 and enas "
                             "0.01 with Adam)")
    search.add_argument("--entropy-weight", type=float, default=None, help="entropy bonus (reinforce, ppo, a2c, trpo, sac, enas)")
    search.add_argument("--controller", choices=("lstm", "gru", "attention"), default=None,
                        help="the controller's core (reinforce, ppo, a2c, trpo, sac, enas; default: lstm)")
    search.add_argument("--epsilon", type=float, default=None,
                        help="epsilon-greedy: propose a uniform random architecture with this probability "
                             "(reinforce, ppo, a2c, trpo, sac; default: 0)")
    search.add_argument("--curriculum", action="store_const", const=True, default=None,
                        help="macro or zoph-le space, reinforce/ppo/a2c/trpo: start with 1 layer and add one layer at a time, the "
                             "budget split evenly over the depths (Zoph & Le's growing curriculum)")
    search.add_argument("--reward", choices=("accuracy", "zoph_le", "multi"), default=None,
                        help="the reward: validation accuracy (default), zoph_le (max of the last 5 epochs, cubed), or "
                             "multi: w_acc * accuracy + w_eff * efficiency - w_cplx * complexity")
    search.add_argument("--reward-weights", type=float, nargs=3, metavar=("W_ACC", "W_EFF", "W_CPLX"), default=None,
                        help="--reward multi: the three weights (default: 1 0 0)")
    search.add_argument("--reference-params", type=float, default=None,
                        help="--reward multi: parameters at which complexity reaches 1 (needed when W_CPLX > 0)")
    search.add_argument("--reference-latency-ms", type=float, default=None,
                        help="--reward multi: latency at which efficiency falls to 0 (needed when W_EFF > 0)")
    search.add_argument("--second-order", action="store_const", const=True, default=None,
                        help="darts: the unrolled (second-order) architecture gradient")
    search.add_argument("--remedy", choices=REMEDIES, default=None,
                        help="darts: a remedy for the collapse to skip connections (default: none; "
                             "r-darts-l2 is one point of R-DARTS's grid, weight decay x27)")
    search.add_argument("--evaluator", choices=("serial", "process", "ray"), default=None,
                        help="where children train: serial (default), process (local worker processes) or ray")
    search.add_argument("--workers", type=int, default=None, help="children trained at once (process, ray; default: 1)")
    search.add_argument("--ray-address", default=None,
                        help="join this Ray cluster (e.g. auto, ray://host:10001); default: a local Ray for the run")
    search.add_argument("--async", dest="asynchronous", action="store_const", const=True, default=None,
                        help="update as soon as --batch results are back while the other children still train")
    search.add_argument("--preset", choices=("zoph-le",), default=None,
                        help="documented settings for other purposes than a lab's budget: zoph-le, Zoph & Le's "
                             "controller training (Adam at 6e-4 on raw advantages; reinforce, ppo), for long runs")
    search.add_argument("--out", required=True, help="the run folder (config, history, steps, checkpoint, summary)")
    search.add_argument("--resume", action="store_true", help="continue the search in --out")
    search.add_argument("--overwrite", action="store_true", help="delete the search in --out and start over")
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    search.set_defaults(func=cmd_search)

    export = subparsers.add_parser(
        "export",
        help="write the result of a search as a standalone PyTorch file",
        description="Print (or write with --out) the result of search folder DIR as PyTorch source: the best "
                    "architecture by reward; for darts the cell derived from the final alphas; for enas and random_ws "
                    "the best of 100 candidates ranked by shared-weight validation accuracy.",
    )
    export.add_argument("dir", metavar="DIR", help="a folder written by `nasrl-nb search --out DIR`")
    export.add_argument("--out", default=None, help="file to write (default: print to stdout)")
    export.add_argument("--class-name", default="ExportedNet", help="name of the generated nn.Module")
    export.add_argument("--force", action="store_true", help="replace an --out file that export did not write")
    export.set_defaults(func=cmd_export)

    rebuild = subparsers.add_parser(
        "rebuild-checkpoint",
        help="rebuild the checkpoint of a search from its history (no training), then --resume",
        description=(
            "Replay DIR/history.jsonl through the search that DIR/config.json describes, without training "
            "anything, and write the checkpoint the run had after its last committed step: `search --out DIR "
            "--resume` then continues exactly. Only a missing or damaged checkpoint is replaced, unless --force."
        ),
    )
    rebuild.add_argument("dir", metavar="DIR", help="a folder written by `nasrl-nb search --out DIR`")
    rebuild.add_argument("--force", action="store_true", help="replace a checkpoint that is readable")
    rebuild.set_defaults(func=cmd_rebuild_checkpoint)


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
    from ..search.config import SearchConfig
    from ..search.config_diff import config_differences
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
        if config.evaluator not in ("ChildEvaluator", "SharedWeightEvaluator", "TabularEvaluator"):  # built from the folder
            raise ValueError(f"resume: the search in {str(out)!r} used a {config.evaluator}; continue it in Python "
                             "with resume_search(out_dir, evaluator=...)")
        config = config.with_settings(**settings)
        check_method_options(args, config.method)
        return config
    if folder.holds_run() and not args.overwrite:
        changed = [] if saved is None else config_differences(saved, SearchConfig.from_dict(saved).with_settings(**settings).to_dict())
        detail = f" with other settings ({'; '.join(changed)})" if changed else ""
        raise ValueError(f"out: {str(out)!r} already holds a search{detail}; pass --resume to continue it, "
                         "--overwrite to start over, or choose another folder")
    if not folder.holds_run() and out.exists() and any(out.iterdir()):
        raise ValueError(f"out: {str(out)!r} exists and is not empty; choose a new or empty folder")
    config = SearchConfig.from_settings(**settings)
    check_method_options(args, config.method)
    return config


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
    finally:
        if callable(getattr(search.evaluator, "close", None)):
            search.evaluator.close()  # stop worker processes, or a local Ray started for this run
    print(json.dumps(summary))
    return 0


def cmd_rebuild_checkpoint(args: argparse.Namespace) -> int:
    """Rebuild DIR/checkpoint.pt from the history; print what was replayed as JSON."""
    from ..search.config import SearchConfig
    from ..search.rebuild import rebuild_checkpoint
    from ..search.run_folder import RunFolder

    saved = RunFolder(args.dir).read_config()
    if saved is not None and SearchConfig.from_dict(saved).evaluator != "ChildEvaluator":
        raise ValueError(f"dir: the search in {str(args.dir)!r} used a {SearchConfig.from_dict(saved).evaluator}; "
                         "rebuild its checkpoint in Python with rebuild_checkpoint(out_dir, evaluator=...)")
    result = rebuild_checkpoint(args.dir, force=args.force)
    print(json.dumps(result))
    print(f"rebuilt {result['checkpoint']} from {result['evaluations']} records in {result['steps']} steps; "
          f"continue with: nasrl-nb search --out {args.dir} --resume", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print or write the standalone PyTorch source of a search's best architecture."""
    from ..search.export import describe_result, export_run

    source, result = export_run(args.dir, class_name=args.class_name, out=args.out, force=args.force)
    if args.out is None:
        sys.stdout.write(source)
    print(f"{'wrote ' + args.out + ': ' if args.out else 'exported '}{describe_result(result)}", file=sys.stderr)
    return 0
