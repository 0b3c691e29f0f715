"""Command-line subcommands ``search``, ``export`` and ``rebuild-checkpoint`` (hooked into :mod:`nasrl_nb.cli.commands`).

``nasrl-nb search --method reinforce --space cell --budget 64 --out runs/r1`` runs a search
with :func:`~nasrl_nb.assembly.factory.make_search`, writing its run folder into ``--out``
(:mod:`nasrl_nb.run.folder`) and printing the summary as one JSON object. Ctrl-C
stops it cleanly (exit status 130); ``--resume`` continues it -- options that are not
given are taken from the saved ``config.json``, and only ``--budget``, ``--device``,
``--quiet``, ``--evaluator``, ``--workers`` and ``--ray-address`` may differ from it; ``--overwrite`` starts over in a folder that holds a run. ``nasrl-nb export runs/r1`` prints the best architecture as a
standalone PyTorch file (``--out FILE`` writes it; the result its method hands over: :mod:`nasrl_nb.run.result`). ``nasrl-nb rebuild-checkpoint runs/r1``
rebuilds a lost or damaged ``checkpoint.pt`` from the history, without training
(:func:`~nasrl_nb.assembly.rebuild.rebuild_checkpoint`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# the options whose name is not make_search's keyword: the earlier names, which README, notebooks
# and BENCHMARKS quote (each option also answers to its keyword, --batch-size, --trainer-lr...)
OPTION_NAMES = {"batch_size": "--batch", "supernet_train_steps": "--supernet-steps", "evaluator_kind": "--evaluator",
                "asynchronous": "--async", "trainer_lr": "--controller-lr"}
HAND_WRITTEN = ("method", "space", "dataset", "progress")  # options with their own help (and --quiet for progress)


def option_name(keyword: str) -> str:
    """The option a make_search keyword is given by: ``--batch`` for batch_size, else ``--max-params``."""
    return OPTION_NAMES.get(keyword, f"--{keyword.replace('_', '-')}")


def add_setting_options(parser: argparse.ArgumentParser) -> None:
    """One option per make_search keyword (:data:`nasrl_nb.assembly.config.SETTINGS`), generated
    from its dataclass field: the type, the choices, the help (the field's comment) and the
    default of each method that reads it. Every default is None: not given, the config's own
    value (or, on --resume, the saved run's) stands."""
    import dataclasses

    from ..assembly.config import METHOD_SECTIONS, SECTIONS, SETTINGS, SearchConfig, field_help
    from ..assembly.methods import METHODS

    defaults = {method: SearchConfig.from_settings(method=method).to_dict() for method in METHODS}
    for keyword, path in SETTINGS.items():
        if keyword in HAND_WRITTEN:
            continue
        section, _, name = path.rpartition(".")
        kind = SECTIONS[section] if section else SearchConfig
        spec = {f.name: f for f in dataclasses.fields(kind)}[name]
        help_text = field_help(kind)[name]
        if "help" not in spec.metadata:  # the default of each method that reads it
            values = {m: (defaults[m].get(section, {}) if section else defaults[m]).get(name, spec.default)
                      for m in METHOD_SECTIONS.get(section, METHODS)}
            if len({repr(v) for v in values.values()}) == 1:
                shown = f"default: {next(iter(values.values()))}"
            else:
                shown = "default: " + ", ".join(f"{m} {v}" for m, v in values.items())
            help_text = f"{help_text} ({shown})" if help_text else shown
        if section in METHOD_SECTIONS:
            help_text = f"{', '.join(METHOD_SECTIONS[section])}: {help_text}"
        options = [f"--{keyword.replace('_', '-')}"]
        if keyword in OPTION_NAMES:
            options.insert(0, OPTION_NAMES[keyword])
        parser.add_argument(*options, dest=keyword, default=None, help=help_text.replace("%", "%%"), **_value_kwargs(spec))


def _value_kwargs(spec) -> dict:
    """How argparse reads a dataclass field's value: its type, choices or number of values."""
    base = str(spec.type).replace(" | None", "")
    if base == "bool":
        return {"action": argparse.BooleanOptionalAction}
    if "choices" in spec.metadata:
        return {"choices": spec.metadata["choices"]}
    if base in ("int", "float"):
        return {"type": int if base == "int" else float}
    if base == "list":
        return {"type": float, "nargs": spec.metadata.get("nargs", "+"), "metavar": spec.metadata.get("metavar")}
    if base == "dict":
        return {"type": json.loads, "metavar": "JSON"}
    return {}


def add_commands(subparsers) -> None:
    """Add ``search``, ``export`` and ``rebuild-checkpoint`` to the ``nasrl-nb`` parser."""
    add_search_command(subparsers)
    add_export_command(subparsers)
    add_rebuild_command(subparsers)


def add_search_command(subparsers) -> None:
    """``search``: the method, space and dataset by hand, every other option generated from the config's fields."""
    from ..assembly.methods import METHODS
    from ..nn.data import DATASETS
    from ..spaces.registry import SPACES
    from . import bench as bench_commands

    search = subparsers.add_parser(
        "search",
        help="run an architecture search and print its summary as JSON",
        description=(
            "Search a space with RL (reinforce, ppo, a2c, trpo, sac), factored bandits (ucb, thompson), random "
            "search (random), regularized evolution (evolution), with shared weights (enas, random_ws: one "
            "supernet scores every child), by a continuous relaxation (darts) or progressively with a learned "
            "predictor (pnas: cells grown edge by edge, the cell space only). Writes "
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
    add_setting_options(search)  # --budget, --batch, --epochs, --lr, --controller-lr, --remedy, ... (generated)
    search.add_argument("--preset", choices=("zoph-le",), default=None,
                        help="documented settings for other purposes than a lab's budget: zoph-le, Zoph & Le's "
                             "controller training (Adam at 6e-4 on raw advantages; reinforce, ppo), for long runs")
    add_run_folder_options(search, "search", out_help="the run folder (config, history, steps, checkpoint, summary)")
    search.set_defaults(func=cmd_search)


def add_run_folder_options(parser, what: str, *, out_help: str = "the run folder") -> None:
    """``--out``, ``--resume``, ``--overwrite`` and ``--quiet``: every command that writes a run folder takes them."""
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--resume", action="store_true", help=f"continue the {what} in --out")
    parser.add_argument("--overwrite", action="store_true", help=f"delete the {what} in --out and start over")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_export_command(subparsers) -> None:
    """``export DIR``: the run's result (:class:`~nasrl_nb.assembly.result.SearchResult`) as a PyTorch file."""
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


def add_rebuild_command(subparsers) -> None:
    """``rebuild-checkpoint DIR``: replay the history into a new checkpoint."""
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
    from ..assembly.config import SETTINGS

    settings: dict = {"progress": not args.quiet}
    for keyword in (*SETTINGS, "preset"):
        value = getattr(args, keyword, None)
        if value is not None and keyword != "progress":
            settings[keyword] = value
    return settings


def check_method_options(settings: dict, method: str) -> None:
    """An option the method would ignore is refused by name (exit 2), not dropped silently."""
    from ..assembly.config import check_method_sections

    check_method_sections(method, settings, names={keyword: option_name(keyword) for keyword in settings})


def search_config(args: argparse.Namespace):
    """The :class:`~nasrl_nb.assembly.config.SearchConfig` of this command: new, or the saved one with the options on top."""
    from ..assembly.config import SearchConfig, config_differences
    from ..run.folder import RunFolder

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
        check_method_options(settings, config.method)
        return config
    if folder.holds_run() and not args.overwrite:
        changed = [] if saved is None else config_differences(saved, SearchConfig.from_dict(saved).with_settings(**settings).to_dict())
        detail = f" with other settings ({'; '.join(changed)})" if changed else ""
        raise ValueError(f"out: {str(out)!r} already holds a search{detail}; pass --resume to continue it, "
                         "--overwrite to start over, or choose another folder")
    if not folder.holds_run() and out.exists() and any(out.iterdir()):
        raise ValueError(f"out: {str(out)!r} exists and is not empty; choose a new or empty folder")
    config = SearchConfig.from_settings(**settings)
    check_method_options(settings, config.method)
    return config


def cmd_search(args: argparse.Namespace) -> int:
    """Run (or resume) a search; print its summary; 130 after Ctrl-C (resumable)."""
    from ..assembly.factory import make_search
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
    from ..assembly.config import SearchConfig
    from ..assembly.rebuild import rebuild_checkpoint
    from ..run.folder import RunFolder

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
    """Print or write the standalone PyTorch source of a search's result (its method's rule)."""
    from ..assembly.result import SearchResult, check_export_path
    from ..assembly.standalone import check_class_name

    check_class_name(args.class_name)  # before any work: a bad --class-name or --out changes nothing
    if args.out is not None:
        check_export_path(args.out, force=args.force)
    result = SearchResult.from_run(args.dir)
    source = result.to_pytorch(args.out, class_name=args.class_name, force=args.force)
    if args.out is None:
        sys.stdout.write(source)
    print(f"{'wrote ' + args.out + ': ' if args.out else 'exported '}{result.describe()}", file=sys.stderr)
    return 0
