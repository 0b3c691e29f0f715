"""Projected binary tasks (Real et al. 2020, Sec. 4.2: "projected binary CIFAR-10"), here from digits.

The paper makes many small tasks from one dataset: a pair of classes, the images randomly
projected to a few dimensions. Here the pair is two of scikit-learn's embedded 8x8 digits
classes (nothing is downloaded), the 64 pixels (scaled to [0, 1]) are multiplied by a
Gaussian random matrix to ``dim`` features. Label 0 is the pair's first class, 1 its second.

How the features are scaled decides what is worth discovering. By default each task's
features are standardised with its training examples' mean and standard deviation, then
shifted by ``offset`` (0.5): a shared positive mean, as raw projected pixels have, made
smaller. Measured on 8 tasks of 60 + 60 examples (``tests/test_zero.py`` and notebook 13):
with ``offset=0`` the Hebbian rule ``w += label * x`` -- no error term, no gradient -- is as
accurate as logistic regression trained by gradient descent (0.935 both), so a search need
not find the error term; on raw projections (``standardize=False``) the Hebbian rule is at
chance, and nothing between the empty program and gradient descent scores above 0.5: no
stepping stone; at ``offset=0.5`` the Hebbian rule reaches about 0.7 and gradient descent
about 0.93, a stepping stone and a clear gap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..validation import require_positive, require_seed

DIGITS_PER_CLASS = 174  # the smallest class of the digits dataset (digit 8)


@dataclass(frozen=True)
class TaskBatch:
    """``T`` tasks: ``x_train`` (T, n, dim), ``y_train`` (T, n), ``x_valid`` (T, n', dim), ``y_valid`` (T, n');
    ``pairs`` the class pair of each task."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    pairs: tuple[tuple[int, int], ...]

    @property
    def num_tasks(self) -> int:
        return self.x_train.shape[0]

    def join(self, other: TaskBatch) -> TaskBatch:
        """Both batches as one (``self``'s tasks first); they need the same example counts."""
        return TaskBatch(*(np.concatenate([getattr(self, k), getattr(other, k)]) for k in
                           ("x_train", "y_train", "x_valid", "y_valid")), self.pairs + other.pairs)

    def head(self, n_train: int, n_valid: int) -> TaskBatch:
        """The first examples of every task (the functional-equivalence probe)."""
        return TaskBatch(self.x_train[:, :n_train], self.y_train[:, :n_train], self.x_valid[:, :n_valid],
                         self.y_valid[:, :n_valid], self.pairs)


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data / 16.0, digits.target


def projected_binary_tasks(num_tasks: int, *, dim: int = 8, n_train: int = 100, n_valid: int = 100,
                           seed: int = 0, standardize: bool = True, offset: float = 0.5) -> TaskBatch:
    """``num_tasks`` tasks, each a random pair of digit classes projected to ``dim`` features.

    Pairs are drawn without repetition while the 45 pairs last; each task draws its own
    projection and its own examples, all from ``seed``.
    """
    num_tasks = require_positive("num_tasks", num_tasks, integer=True)
    dim = require_positive("dim", dim, integer=True)
    n_train = require_positive("n_train", n_train, integer=True)
    n_valid = require_positive("n_valid", n_valid, integer=True)
    require_seed("seed", seed)
    if (n_train + n_valid + 2) // 2 > DIGITS_PER_CLASS:
        raise ValueError(f"n_train, n_valid: {n_train} + {n_valid} examples do not fit a pair of digits classes; "
                         f"allowed values: at most {2 * DIGITS_PER_CLASS} together")
    x_all, y_all = _digits()
    rng = np.random.default_rng(seed)
    all_pairs = list(combinations(range(10), 2))
    order = np.concatenate([rng.permutation(len(all_pairs)) for _ in range(-(-num_tasks // len(all_pairs)))])
    pairs, xs, ys = [], [], []
    for t in range(num_tasks):
        a, b = all_pairs[int(order[t])]
        # balanced classes: an always-the-same-answer program scores exactly 0.5 (up to odd counts)
        first, second = (rng.permutation(np.flatnonzero(y_all == c)) for c in (a, b))
        train = np.concatenate([first[: n_train // 2], second[: n_train - n_train // 2]])
        valid = np.concatenate([first[n_train // 2: n_train // 2 + n_valid // 2],
                                second[n_train - n_train // 2: n_train - n_train // 2 + n_valid - n_valid // 2]])
        index = np.concatenate([rng.permutation(train), rng.permutation(valid)])
        projection = rng.normal(size=(x_all.shape[1], dim)) / np.sqrt(x_all.shape[1])  # (64, dim)
        x = x_all[index] @ projection  # (n_train + n_valid, dim)
        if standardize:
            mean, std = x[:n_train].mean(axis=0), x[:n_train].std(axis=0) + 1e-8
            x = (x - mean) / std + offset
        xs.append(x)
        ys.append((y_all[index] == b).astype(float))
        pairs.append((a, b))
    x, y = np.stack(xs), np.stack(ys)
    return TaskBatch(x[:, :n_train], y[:, :n_train], x[:, n_train:], y[:, n_train:], tuple(pairs))
