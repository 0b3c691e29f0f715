"""Command line: ``nasrl-nb`` (or ``python -m nasrl_nb``).

``nasrl-nb spaces`` lists the search spaces and their sizes; ``nasrl-nb train`` builds one
architecture as a child network, trains it and prints one JSON object with its reward
(validation accuracy), test accuracy and cost (params, FLOPs, latency). A mistake in the
arguments prints one line ``error: <message>`` on stderr and exits with status 2.

The other commands live in sibling modules (``search.py``: ``search`` and ``export``), each
with ``add_commands(subparsers)``; every subcommand sets ``func`` (via ``set_defaults``) to a
function ``func(args) -> int`` that returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import search as search_commands

COMMAND_MODULES = (search_commands,)  # each has add_commands(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: ``spaces``, ``train`` and the commands of :data:`COMMAND_MODULES`."""
    from ..nn.data import DATASETS
    from ..nn.training import OPTIMIZERS
    from ..runtime import DEVICES
    from ..spaces.registry import SPACES

    parser = argparse.ArgumentParser(
        prog="nasrl-nb",
        description="Neural Architecture Search with Reinforcement Learning, from the command line.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    spaces = subparsers.add_parser("spaces", help="list the search spaces and their sizes")
    spaces.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    spaces.set_defaults(func=cmd_spaces)

    train = subparsers.add_parser(
        "train",
        help="train one architecture and print its accuracy and cost as JSON",
        description=(
            "Build ARCH as a child network, train it and print one JSON object "
            "(exit status 0 when training succeeded, 1 when the child failed)."
        ),
    )
    train.add_argument("--space", choices=tuple(SPACES), default="cell", help="search space (default: cell)")
    train.add_argument(
        "--arch",
        required=True,
        help="the architecture: a NAS-Bench-201 string for cell, a JSON layer list for macro, or @FILE",
    )
    train.add_argument("--dataset", choices=DATASETS, default="digits", help="dataset (default: digits)")
    train.add_argument("--epochs", type=int, default=5, help="training epochs (default: 5)")
    train.add_argument("--lr", type=float, default=0.01, help="learning rate (default: 0.01)")
    train.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default: 64)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="optimizer (default: adam)")
    train.add_argument("--seed", type=int, default=0, help="seeds the weights, the split and the batch order")
    train.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} or cuda:N (default: auto)")
    train.add_argument("--channels", type=int, default=16, help="stem / first-stage width (default: 16)")
    train.add_argument("--max-samples", type=int, default=None, help="train on a stratified subset of this many images")
    train.add_argument("--data-root", default=None, help="folder with torchvision dataset files")
    train.set_defaults(func=cmd_train)

    for module in COMMAND_MODULES:
        module.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a bad argument)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed usage and its message (or --help)
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    try:
        return int(args.func(args))
    except (ValueError, ImportError) as err:  # our validation messages (and a missing extra)
        message = " ".join(str(err).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_spaces(args: argparse.Namespace) -> int:
    """Print every registered space with its size (the cell space also deduplicated)."""
    rows = space_summary()
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        line = f"{row['name']:<6} {row['decisions']:>3} decisions  {row['size']:>20,} architectures"
        if "unique" in row:
            line += f"  ({row['unique']:,} unique up to isomorphism)"
        print(line)
    return 0


def space_summary() -> list[dict]:
    """``[{"name", "decisions", "size", ("unique")}]`` for each default space.

    The cell space's unique count is computed here by enumerating its 15,625 cells and
    keeping one per canonical form (NAS-Bench-201 reports 6,466), which takes well under a second.
    """
    from ..spaces.cell_space import CellSpace
    from ..spaces.registry import SPACES, get_space

    rows = []
    for name in SPACES:
        space = get_space(name)
        row = {"name": name, "decisions": len(space.decisions), "size": space.size()}
        if isinstance(space, CellSpace):
            row["unique"] = len({space.canonical(arch) for arch in space.enumerate()})
        rows.append(row)
    return rows


def cmd_train(args: argparse.Namespace) -> int:
    """Build, measure and train one child; print one JSON object; 0 if it trained, 1 if it failed."""
    from ..nn.child_network import ChildNetwork
    from ..nn.data import load_dataset
    from ..nn.training import OPTIMIZERS, train_and_evaluate
    from ..runtime import resolve_device, seed_everything
    from ..search.checkpoint import json_safe
    from ..spaces.registry import get_space, parse_architecture
    from ..validation import require_choice, require_positive

    # fail fast on the cheap checks, before loading data or building the net
    require_positive("epochs", args.epochs, integer=True)
    require_positive("lr", args.lr)
    require_positive("batch_size", args.batch_size, integer=True)
    require_choice("optimizer", args.optimizer, OPTIMIZERS)
    device = resolve_device(args.device)
    space = get_space(args.space)
    arch = parse_architecture(space, read_arch_argument(args.arch))
    data = load_dataset(
        args.dataset, seed=args.seed, device=device, root=args.data_root, max_samples=args.max_samples
    )
    seed_everything(args.seed)  # the initial weights depend on the seed only
    net = ChildNetwork(arch, data.input_shape, data.num_classes, channels=args.channels)
    metrics = net.get_complexity_metrics(device=device)
    result = train_and_evaluate(
        net,
        data,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        device=device,
        optimizer=args.optimizer,
    )
    record = {
        **result.to_dict(),
        **metrics,
        "space": args.space,
        "arch": str(arch),
        "dataset": args.dataset,
        "seed": args.seed,
        "device": str(device),
    }
    print(json.dumps(json_safe(record)))
    return 0 if result.status == "ok" else 1


def read_arch_argument(text: str) -> str:
    """``--arch`` as given, or the contents of ``FILE`` for ``@FILE``."""
    if not text.startswith("@"):
        return text
    path = Path(text[1:])
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ValueError(f"arch: cannot read architecture file {str(path)!r} ({err.strerror or err})") from None
