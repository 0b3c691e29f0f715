"""The progress bar of an iterating search: architectures evaluated out of the budget, best reward."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(search) -> Iterator[Callable[[object], None]]:
    """A ``tqdm`` bar for ``search`` (hidden unless ``search.progress``); yields ``advance(step)``."""
    from tqdm.auto import tqdm  # only when a search iterates: importing nasrl_nb stays light

    bar = tqdm(
        total=search.budget,
        initial=search.evaluations,
        disable=not search.progress,
        desc=f"{search.method} search",
        unit="arch",
        leave=True,
    )

    def advance(step) -> None:
        bar.update(len(step.architectures))
        if step.best is not None:
            bar.set_postfix(best_reward=f"{step.best['reward']:.3f}", refresh=False)

    try:
        yield advance
    finally:
        bar.close()
