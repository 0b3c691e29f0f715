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
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..interrupts import import_torch
from . import bench as bench_commands
from . import search as search_commands

COMMAND_MODULES = (search_commands, bench_commands)  # each has add_commands(subparsers)


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
    """Run the command line; returns the exit status.

    0: done; 1: ``train``'s child failed; 2: a bad argument or a damaged run folder (one line
    ``error: <message>`` on stderr naming the argument or file and what is accepted, and
    nothing on disk changed); 130: Ctrl-C (at any moment, even while starting up).
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    try:
        import_torch()  # first, under a held-back Ctrl-C: see nasrl_nb.interrupts
        parser = build_parser()
    except ImportError as err:  # a broken installation: still one line, not a traceback
        return _error(f"cannot start: {err}")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed usage and its message (or --help)
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    try:
        check_options(args)
        return int(args.func(args))
    except (ValueError, ImportError) as err:  # our validation messages (and a missing extra)
        return _error(str(err))
    except RecursionError:
        return _error("input nested too deeply (a JSON value of thousands of levels); allowed: plain, shallow JSON")
    except MemoryError:
        return _error(_too_large(args))
    except RuntimeError as err:  # PyTorch's allocator: report the size, not a traceback
        if not _is_allocation_failure(err):
            raise
        return _error(_too_large(args))
    except OSError as err:
        return _error(_os_error_message(err, args))
    except (KeyError, TypeError, AttributeError, IndexError) as err:
        if getattr(args, "resume", False) or args.command == "export":  # a run folder of the wrong shape
            folder = getattr(args, "dir", None) or getattr(args, "out", "")
            return _error(
                f"{str(folder)!r}: a damaged or foreign run folder ({type(err).__name__}: {err}); its files are "
                "left as they are: history.jsonl keeps every evaluated architecture; start the search again in another folder"
            )
        raise


def _error(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return 2


# --- checks of the options, before anything is loaded, trained or written -------------------------
POSITIVE_INTS = ("epochs", "batch", "batch_size", "budget", "channels", "cells_per_stage", "max_samples")
POSITIVE_NUMBERS = ("lr", "trainer_lr", "max_params", "max_flops", "max_latency_ms")
NONNEGATIVE_NUMBERS = ("entropy_weight",)
BUDGET_OPTIONS = ("max_params", "max_flops", "max_latency_ms")
NAME_MAX = 255  # longest file name on common file systems (ext4, APFS, NTFS)


def option(dest: str, command: str | None = None) -> str:
    """``max_params`` -> ``--max-params`` (search: ``trainer_lr`` -> ``--controller-lr``): errors name the option
    as the user typed it."""
    return search_commands.option_name(dest) if command == "search" else "--" + dest.replace("_", "-")


def check_options(args: argparse.Namespace) -> None:
    """Check every number and path the user gave, naming the option; nothing is touched yet."""
    from ..validation import require_nonnegative, require_positive, require_seed

    for dest in POSITIVE_INTS:
        if getattr(args, dest, None) is not None:
            require_positive(option(dest, args.command), getattr(args, dest), integer=True)
    for dest in POSITIVE_NUMBERS:
        if getattr(args, dest, None) is not None:
            require_positive(option(dest, args.command), getattr(args, dest))
    for dest in NONNEGATIVE_NUMBERS:
        if getattr(args, dest, None) is not None:
            require_nonnegative(option(dest, args.command), getattr(args, dest))
    if getattr(args, "seed", None) is not None:
        require_seed("--seed", args.seed)
    if args.command == "search":
        mode = args.constraint_mode
        if mode not in (None, "hard") and not args.resume and all(getattr(args, b) is None for b in BUDGET_OPTIONS):
            raise ValueError(
                f"--constraint-mode: {mode!r} needs a budget; allowed: add --max-params, --max-flops or "
                "--max-latency-ms (or leave --constraint-mode out)"
            )
        check_out_folder(args.out, resume=args.resume)
    if getattr(args, "channels", None) is not None or getattr(args, "cells_per_stage", None) is not None:
        check_child_fits(args)


def check_out_folder(out: str, *, resume: bool) -> Path:
    """``--out`` of ``search``: a folder that can be created (or, with --resume, that exists)."""
    if not out.strip():
        raise ValueError("--out: an empty path is not allowed; allowed values: a folder name such as runs/r1")
    path = Path(out)
    too_long = [part for part in path.parts if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX]
    if too_long:
        raise ValueError(
            f"--out: the name {too_long[0][:40]!r}... has {len(too_long[0])} characters; allowed values: names of at most "
            f"{NAME_MAX} bytes (the file system's limit)"
        )
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {out!r} is a file; allowed values: a new or empty folder (or a run folder with --resume)")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing != path and not existing.is_dir():
        raise ValueError(f"--out: {str(existing)!r} is a file, so {out!r} cannot be a folder; allowed values: a path of folders")
    if resume and not path.is_dir():
        raise ValueError(f"--out: {out!r} does not exist; --resume continues a search in an existing run folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out: cannot write in {str(existing)!r} (permission denied); allowed values: a folder you can write to")
    return path


def check_child_fits(args: argparse.Namespace) -> None:
    """Refuse, up front, a ``--channels`` whose child cannot fit in this machine's memory.

    The child is built on PyTorch's ``meta`` device (shapes only, no memory); training needs
    about 16 bytes per parameter (weights, gradients and Adam's two moments, float32).
    """
    import torch

    from ..nn.child_network import ChildNetwork
    from ..spaces.registry import get_space

    space = get_space(getattr(args, "space", None) or "cell")
    channels = getattr(args, "channels", None) or 16
    cells = getattr(args, "cells_per_stage", None) or 1

    def count(cells_per_stage: int) -> int:
        with torch.device("meta"):
            net = ChildNetwork(space.sample(0), (1, 8, 8), 10, channels=channels, cells_per_stage=cells_per_stage)
        return sum(math.prod(p.shape) for p in net.parameters())  # Python ints: numel() can overflow int64

    try:  # params grow linearly with the cells per stage: two small builds give the line
        one, two = count(1), count(2)
    except ValueError:
        return  # the real build reports its own error
    except (RuntimeError, OverflowError, MemoryError, TypeError):  # TypeError: a size beyond int64
        one = two = float("inf")
    params = one + (cells - 1) * (two - one) if one != float("inf") else one
    need, have = 16 * params, _memory_bytes()
    if have and need > have:
        raise ValueError(
            f"--channels: {channels} with {cells} cell(s) per stage makes a child of {_count(params)} parameters "
            f"(training needs {_gigabytes(need)}), more than this machine's {_gigabytes(have).removeprefix('about ')}; allowed values: a "
            "smaller --channels or --cells-per-stage (the defaults are 16 and 1)"
        )


def _count(params: float) -> str:
    return f"about {params:.2g}" if params != float("inf") else "more than 2**63"


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on POSIX
        return None


def _gigabytes(n: float) -> str:
    if n == float("inf"):
        return "more memory than exists"
    return f"about {n / 1e9:,.0f} GB" if n >= 1e9 else f"about {n / 1e9:.2f} GB"


def _is_allocation_failure(err: RuntimeError) -> bool:
    text = str(err).lower()
    return "allocate" in text or "out of memory" in text


def _too_large(args: argparse.Namespace) -> str:
    channels = getattr(args, "channels", None)
    given = f" {channels}" if channels is not None else ""
    return (
        f"--channels{given}: the child network is too large to allocate in this machine's memory; allowed values: "
        "a smaller --channels, --cells-per-stage or --batch-size"
    )


def _os_error_message(err: OSError, args: argparse.Namespace) -> str:
    """An OSError as ``--option: path: reason``, naming the option whose path it was."""
    filename = str(err.filename) if err.filename is not None else None
    reason = err.strerror or type(err).__name__
    for dest in ("out", "dir", "data_root", "arch"):
        value = getattr(args, dest, None)
        if isinstance(value, str) and value and filename is not None:
            given = value[1:] if dest == "arch" and value.startswith("@") else value
            if filename.startswith(given) or given.startswith(filename):
                name = "DIR" if dest == "dir" else option(dest)
                return f"{name}: cannot use {filename!r} ({reason}); allowed values: a path you can read and write"
    where = f" {filename!r}" if filename else ""
    return f"cannot use{where} ({reason})"


def cmd_spaces(args: argparse.Namespace) -> int:
    """Print every registered space with its size (the cell space also deduplicated)."""
    rows = space_summary()
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        line = f"{row['name']:<6} {row['decisions']:>3} decisions  {row['size']:>25,} architectures"
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
    from ..evaluators.base import train_architecture
    from ..nn.data import load_dataset
    from ..nn.training import OPTIMIZERS
    from ..runtime import resolve_device
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
    record = train_architecture(
        arch, data, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, optimizer=args.optimizer,
        seed=args.seed, device=device, child_kwargs={"channels": args.channels},
    )
    record.update(space=args.space, dataset=args.dataset, seed=args.seed)
    print(json.dumps(record))
    return 0 if record["status"] == "ok" else 1


def read_arch_argument(text: str) -> str:
    """``--arch`` as given, or the contents of ``FILE`` for ``@FILE``."""
    if not text.startswith("@"):
        return text
    path = Path(text[1:])
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ValueError(f"arch: cannot read architecture file {str(path)!r} ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise ValueError(
            f"arch: the architecture file {str(path)!r} is not UTF-8 text (byte {err.object[err.start]:#04x} at "
            f"position {err.start}); allowed values: a text file with a NAS-Bench-201 string or a JSON layer list"
        ) from None
