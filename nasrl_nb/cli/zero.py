"""Command-line subcommand ``zero``: an AutoML-Zero search (:mod:`nasrl_nb.zero`).

``nasrl-nb zero --out runs/z1 --budget 2000`` evolves programs from the empty one, writes
the run folder (the same files as ``search``) and prints one JSON object: the summary, the
best program as Python (``best_python``) and the functional-equivalence cache's hits.
Every :class:`~nasrl_nb.zero.run.ZeroConfig` field is an option (``--max-learn``,
``--population-size``, ``--no-fec``...). ``--resume`` continues the run in ``--out``: options
left out are taken from its ``config.json``, and only ``--budget`` may differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def add_commands(subparsers) -> None:
    """Add ``zero`` to the ``nasrl-nb`` parser, one option per ZeroConfig field."""
    from ..zero.ops import OP_SETS
    from ..zero.run import ZeroConfig
    from .search import add_run_folder_options

    zero = subparsers.add_parser(
        "zero", help="evolve a learning algorithm from the empty program (AutoML-Zero) and print the best",
        description="Regularized evolution of Setup/Predict/Learn programs on projected binary digits tasks "
                    "(Real et al. 2020). Writes OUT/config.json, history.jsonl, steps.jsonl, checkpoint.pt and "
                    "summary.json; Ctrl-C stops cleanly and --resume continues.")
    comments = _field_comments(ZeroConfig)
    for f in dataclasses.fields(ZeroConfig):
        option = "--" + f.name.replace("_", "-")
        help_text = f"{comments.get(f.name, '')} (default: {f.default})".replace("%", "%%")
        if f.type == "bool":
            zero.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif f.name == "ops":
            zero.add_argument(option, dest=f.name, choices=tuple(OP_SETS), default=None, help=help_text)
        else:
            kind = float if f.type == "float" else int
            zero.add_argument(option, dest=f.name, type=kind, default=None, help=help_text)
    add_run_folder_options(zero, "run")
    zero.set_defaults(func=cmd_zero)


def _field_comments(cls) -> dict:
    """``{field: its # comment}`` from the dataclass's source (the options' help)."""
    import inspect

    comments = {}
    for line in inspect.getsource(cls).splitlines():
        name, _, rest = line.strip().partition(":")
        if "#" in rest and name.isidentifier():
            comments[name] = rest.split("#", 1)[1].strip()
    return comments


def cmd_zero(args: argparse.Namespace) -> int:
    """Run (or resume) an AutoML-Zero search; print its summary and best program; 130 after Ctrl-C."""
    from ..zero.run import ZeroConfig, best_program, make_zero_search, saved_config
    if args.resume and args.overwrite:
        raise ValueError("resume, overwrite: pass one of --resume and --overwrite, not both")
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(ZeroConfig) if getattr(args, f.name) is not None}
    base = saved_config(args.out) if args.resume else None
    if args.resume and base is None:
        raise ValueError(f"resume: no search in {args.out!r} (no config.json); run without --resume to start one")
    config = ZeroConfig.from_dict({**(base.to_dict() if base else {}), **given})
    search = make_zero_search(config, out_dir=args.out, resume=args.resume, overwrite=args.overwrite,
                              progress=not args.quiet)
    try:
        summary = search.run()
    except KeyboardInterrupt:
        print(f"interrupted: {search.evaluations} of {search.budget} programs evaluated and saved in {args.out!r}; "
              "continue with --resume", file=sys.stderr)
        return 130
    best = best_program(search)
    summary["fec_hits"] = search.fec_hits
    summary["best_python"] = None if best is None else best[0].to_python()
    print(json.dumps(summary))
    return 0
