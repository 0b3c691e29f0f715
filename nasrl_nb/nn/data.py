"""Datasets for child networks: a train split to fit, a validation split for the reward.

In NAS with RL the controller's reward is a child's accuracy on held-out *validation*
data (Zoph & Le 2017, Sec. 3.2: "the accuracy of the child network on a validation set
is used as the reward"); a separate *test* split is touched only to report the final
architecture. :func:`load_dataset` returns all three as tensors already on the target
device, so training indexes them directly with no ``DataLoader`` in the way.

``"digits"`` (scikit-learn's bundled 8x8 handwritten digits, 1,797 images) needs no
download and trains a small CNN in seconds on a CPU; ``"mnist1d"`` (Greydanus 2020,
"Scaling down deep learning": 5,000 procedurally generated 1-D signals of length 40, 10
classes, made so that architecture matters at small scale) is generated offline by the
``mnist1d`` package and is stored as what it is, a one-row image (1, 1, 40); ``"mnist", ``"fashion_mnist"``
and ``"cifar10"`` come through torchvision (``pip install 'nasrl-nb[vision]'``).
Every source is pooled and split the same way: a seeded split, stratified by class, with
inputs standardized by the *train* split's per-channel mean and standard deviation.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from ..runtime import resolve_device
from ..validation import require_choice, require_fraction, require_positive, require_seed

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "cifar10", "mnist1d")

# dataset name -> (torchvision.datasets class name, images stored channels-last)
_TORCHVISION = {
    "mnist": ("MNIST", False),
    "fashion_mnist": ("FashionMNIST", False),
    "cifar10": ("CIFAR10", True),
}
_SPLITS = ("train", "val", "test")


@dataclass(eq=False)  # tensors have no single truth value: datasets compare by identity
class Dataset:
    """Train/validation/test tensors: images ``X_*`` (N, C, H, W) float32, labels ``y_*`` (N,) int64.

    ``input_shape`` (C, H, W) and ``num_classes`` are inferred from the tensors when not
    given. Use :meth:`to` to move every split to another device.
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, int, int] | None = None
    num_classes: int | None = None

    def __post_init__(self):
        for split in _SPLITS:
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if not isinstance(X, torch.Tensor) or X.dim() != 4 or not X.is_floating_point():
                raise ValueError(f"X_{split}: expected a float tensor of shape (N, C, H, W), got {_describe(X)}")
            if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.dtype != torch.int64 or len(y) != len(X):
                raise ValueError(f"y_{split}: expected an int64 tensor of shape ({len(X)},), got {_describe(y)}")
        if self.input_shape is None:
            self.input_shape = self.X_train.shape[1:]
        self.input_shape = tuple(int(s) for s in self.input_shape)
        for split in _SPLITS:
            X = getattr(self, f"X_{split}")
            if tuple(X.shape[1:]) != self.input_shape:
                raise ValueError(f"X_{split}: every split must have input_shape {self.input_shape}, got {tuple(X.shape[1:])}")
        labels = torch.cat([self.y_train, self.y_val, self.y_test])
        largest = int(labels.max()) if len(labels) else -1
        if self.num_classes is None:
            self.num_classes = largest + 1
        self.num_classes = require_positive("num_classes", self.num_classes, integer=True)
        if largest >= self.num_classes or (len(labels) and int(labels.min()) < 0):
            raise ValueError(f"y: labels must lie in 0..num_classes-1 = 0..{self.num_classes - 1}, got {int(labels.min())}..{largest}")

    @property
    def device(self) -> torch.device:
        return self.X_train.device

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(X, y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        require_choice("split", name, _SPLITS)
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")

    def to(self, device="auto") -> Dataset:
        """A copy with every split on ``device`` (this object when it is already there)."""
        device = resolve_device(device)
        if self.device == device:
            return self
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self) if f.name[:2] in ("X_", "y_")}
        return replace(self, **moved)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{split}={len(getattr(self, f'y_{split}')):,}" for split in _SPLITS)
        return (
            f"Dataset({self.name!r}, {sizes}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, device={self.device})"
        )


@dataclass
class DataConfig:
    """The dataset the children train on."""

    dataset: str | None = "digits"  # a name in nasrl_nb.nn.data.DATASETS; None: a Dataset passed in code
    max_samples: int | None = None  # a stratified subset of this many images (None: all)
    data_seed: int = 0  # seeds the train/val/test split, fixed across search seeds


def load_dataset(
    name: str = DataConfig.dataset,
    *,
    seed: int = DataConfig.data_seed,
    device="cpu",
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    root: str | os.PathLike | None = None,
    download: bool = False,
    max_samples: int | None = DataConfig.max_samples,
) -> Dataset:
    """Load ``name`` (one of :data:`DATASETS`) as a seeded, stratified train/val/test split.

    Args:
        name: ``"digits"`` (bundled with scikit-learn, offline), ``"mnist1d"`` (generated
            offline, input shape (1, 1, 40)) or a torchvision dataset.
        seed: fixes the subsample and the split.
        device: where the tensors live (``"auto"``, ``"cpu"``, ``"cuda"``, ...).
        val_fraction, test_fraction: shares of the (subsampled) pool held out.
        root: torchvision's data folder (default ``$XDG_CACHE_HOME/nasrl_nb`` or
            ``~/.cache/nasrl_nb``); unused for ``"digits"`` and ``"mnist1d"``.
        download: let torchvision fetch missing files (needs internet).
        max_samples: keep a stratified random subset of this many images before splitting
            (quick mode and CPU notebooks use it).

    For torchvision datasets the official train and test files are pooled and split like
    every other source, so test accuracies here are not the published benchmark numbers.
    """
    require_choice("dataset", name, DATASETS)
    device = resolve_device(device)
    _check_seed(seed)
    if max_samples is not None:
        max_samples = require_positive("max_samples", max_samples, integer=True)
    _check_fractions(val_fraction, test_fraction)
    options = dict(seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, max_samples=max_samples)
    if name in ("digits", "mnist1d"):
        X, y = _digits_images() if name == "digits" else _mnist1d_signals()
        dataset = _split_pool(X, y, name=name, **options)
    else:
        images, labels, channels_last = _torchvision_images(name, root=root, download=download)
        dataset = dataset_from_uint8(images, labels, name=name, channels_last=channels_last, **options)
    return dataset.to(device)


def dataset_from_tensors(
    X,
    y,
    *,
    name: str = "custom",
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    standardize: bool = True,
) -> Dataset:
    """Split your own images ``X`` (N, C, H, W) or (N, H, W) and integer labels ``y`` (N,).

    ``X`` may be a tensor or a NumPy array; uint8 images are scaled to [0, 1] first. With
    ``standardize`` every split is normalized by the train split's per-channel statistics.
    The result lives on ``X``'s device.
    """
    X = _as_tensor("X", X)
    if X.dim() == 3:
        X = X.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    if X.dim() != 4 or X.shape[0] == 0 or min(X.shape[1:]) == 0:
        raise ValueError(f"X: expected images of shape (N, C, H, W) or (N, H, W) with N > 0, got shape {tuple(X.shape)}")
    if X.dtype == torch.uint8:
        X = X.float() / 255.0
    elif X.is_floating_point() or X.dtype in (torch.int8, torch.int16, torch.int32, torch.int64):
        X = X.float()
    else:
        raise ValueError(f"X: expected a numeric tensor, got dtype {X.dtype}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X: contains NaN or infinite values")
    y = _check_labels("y", _as_tensor("y", y), len(X))
    return _split_pool(
        X, y, name=name, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, standardize=standardize
    )


def dataset_from_uint8(
    images,
    labels,
    *,
    name: str,
    channels_last: bool = False,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    max_samples: int | None = None,
) -> Dataset:
    """Turn raw 8-bit images (as torchvision stores them) into a split, standardized Dataset.

    ``images`` is (N, H, W), (N, C, H, W), or (N, H, W, C) with ``channels_last``;
    ``labels`` is (N,). Pixels are scaled to [0, 1]; ``max_samples`` keeps a seeded,
    stratified subset before splitting.
    """
    images = _as_tensor("images", images)
    if images.dtype != torch.uint8:
        raise ValueError(f"images: expected uint8 pixel values 0..255, got dtype {images.dtype}")
    if channels_last:
        if images.dim() != 4:
            raise ValueError(f"images: channels_last needs shape (N, H, W, C), got {tuple(images.shape)}")
        images = images.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    elif images.dim() == 3:
        images = images.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"images: expected shape (N, H, W) or (N, C, H, W) with N > 0, got {tuple(images.shape)}")
    labels = _check_labels("labels", _as_tensor("labels", labels), len(images))
    X = images.float() / 255.0
    return _split_pool(
        X, labels, name=name, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, max_samples=max_samples
    )


def _split_pool(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    name: str,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    max_samples: int | None = None,
    standardize: bool = True,
) -> Dataset:
    """Subsample (optional), split by class, standardize by train statistics: the one recipe."""
    _check_seed(seed)
    _check_fractions(val_fraction, test_fraction)
    y_np = y.cpu().numpy()
    pool = y_np
    if max_samples is not None and max_samples < len(y_np):
        keep = torch.as_tensor(stratified_subsample(y_np, max_samples, seed=seed), device=X.device)
        X, y, y_np = X[keep], y[keep], y_np[keep.cpu().numpy()]
    try:
        parts = stratified_split(y_np, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    except ValueError:
        raise _too_few_to_split(pool, len(y_np), max_samples, val_fraction, test_fraction, seed) from None
    index = {split: torch.as_tensor(part, device=X.device) for split, part in zip(_SPLITS, parts, strict=True)}
    splits = {split: X[index[split]] for split in _SPLITS}
    if standardize:
        splits = _standardize(splits)
    return Dataset(
        name=name,
        **{f"X_{s}": splits[s].contiguous() for s in _SPLITS},
        **{f"y_{s}": y[index[s]].to(torch.int64) for s in _SPLITS},
        num_classes=int(y.max()) + 1,
    )


def stratified_split(y: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int = 0):
    """Index arrays ``(train, val, test)``: each class is shuffled and cut by the fractions.

    Every class keeps at least one training example; per-class counts are rounded, so
    the overall shares are close to (not exactly) the requested fractions.
    """
    rng = np.random.default_rng(seed % 2**32)
    parts = {split: [] for split in _SPLITS}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        overflow = n_test + n_val - (len(members) - 1)
        if overflow > 0:  # keep one training example: take it back from the larger holdout
            n_val, n_test = (n_val - overflow, n_test) if n_val >= n_test else (n_val, n_test - overflow)
            n_val, n_test = max(n_val, 0), max(n_test, 0)
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    result = tuple(np.sort(np.concatenate(parts[split])) for split in _SPLITS)
    for split, fraction, index in zip(_SPLITS, (None, val_fraction, test_fraction), result, strict=True):
        if fraction != 0 and len(index) == 0:
            raise ValueError(f"{split}: split is empty; {len(y)} samples are too few for the requested fractions")
    return result


def _too_few_to_split(pool: np.ndarray, n: int, max_samples, val_fraction, test_fraction, seed) -> ValueError:
    """The error for a pool that leaves a split empty, naming ``max_samples`` and the minimum that works."""
    minimum = None
    for m in range(n + 1, len(pool) + 1):  # the smallest stratified subset (or the whole pool) that splits
        labels = pool[stratified_subsample(pool, m, seed=seed)] if m < len(pool) else pool
        try:
            stratified_split(labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        except ValueError:
            continue
        minimum = m
        break
    fractions = f"val_fraction={val_fraction}, test_fraction={test_fraction}"
    if max_samples is not None and max_samples < len(pool):
        allowed = f"at least {minimum}" if minimum is not None else "more samples"
        return ValueError(
            f"max_samples: {n} samples are too few to split into train/val/test with {fractions}; allowed values: {allowed}"
        )
    return ValueError(
        f"X: {n} samples are too few to split into train/val/test with {fractions}; "
        "allowed: more samples per class, or larger val_fraction/test_fraction"
    )


def stratified_subsample(y: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` samples whose class shares match ``y``'s (largest remainder)."""
    rng = np.random.default_rng((seed % 2**32, 1))  # a stream apart from the split's
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * n / len(y)
    take = np.floor(quota).astype(int)
    extra = np.argsort(-(quota - take), kind="stable")[: n - take.sum()]
    take[extra] += 1
    chosen = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen))


def _standardize(splits: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Subtract the train split's per-channel mean, divide by its std (1 where it is 0)."""
    train = splits["train"]
    mean = train.mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    std = train.std(dim=(0, 2, 3), keepdim=True) if train.numel() > train.shape[1] else torch.ones_like(mean)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    return {split: (X - mean) / std for split, X in splits.items()}


def _digits_images() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits, pixel values 0..16 scaled to 0..1: X (1797, 1, 8, 8), y (1797,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return X, torch.as_tensor(digits.target, dtype=torch.int64)


@functools.lru_cache(maxsize=1)
def _mnist1d_pool() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-1D's 5,000 signals as its package generates them by default (seed 42), train and test pooled.

    Generated offline by ``mnist1d.data.make_dataset`` (never ``get_dataset``, which
    downloads); about 2 seconds, so the pool is kept once per process. The generator seeds
    Python's and NumPy's global random state, which is restored afterwards.
    """
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    X = np.concatenate([raw["x"], raw["x_test"]]).astype(np.float32)  # (5000, 40)
    y = np.concatenate([raw["y"], raw["y_test"]]).astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _mnist1d_signals() -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-1D as one-row images: X (5000, 1, 1, 40) float32, y (5000,) int64."""
    X, y = _mnist1d_pool()
    return torch.tensor(X).reshape(len(X), 1, 1, X.shape[1]), torch.tensor(y)


def default_root() -> Path:
    """Where torchvision files are looked for when ``root`` is not given."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nasrl_nb"


def _torchvision_images(name: str, *, root, download: bool):
    """Pooled official train + test images and labels of a torchvision dataset."""
    try:
        import torchvision
    except ImportError:
        raise ImportError(
            f"dataset {name!r} needs torchvision, which is not installed; "
            "run: pip install 'nasrl-nb[vision]' (or use dataset 'digits', which is bundled)"
        ) from None
    class_name, channels_last = _TORCHVISION[name]
    root = Path(root) if root is not None else default_root()
    images, labels = [], []
    for train in (True, False):
        try:
            source = getattr(torchvision.datasets, class_name)(root=str(root), train=train, download=download)
        except (RuntimeError, OSError) as err:
            how = "download=True (needs internet)" if not download else "a working internet connection"
            raise ValueError(
                f"root: {name!r} files could not be loaded from {str(root)!r} ({type(err).__name__}: {err}); "
                f"use {how}, or copy torchvision's {class_name} files into that folder"
            ) from None
        images.append(torch.as_tensor(np.asarray(source.data), dtype=torch.uint8))
        labels.append(torch.as_tensor(np.asarray(source.targets), dtype=torch.int64))
    return torch.cat(images), torch.cat(labels), channels_last


def _as_tensor(field: str, value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    raise ValueError(f"{field}: expected a torch.Tensor or numpy.ndarray, got {type(value).__name__}")


def _check_labels(field: str, y: torch.Tensor, n: int) -> torch.Tensor:
    """Labels as int64 (N,): whole numbers >= 0, one per image."""
    if y.dim() != 1 or len(y) != n:
        raise ValueError(f"{field}: expected one label per image, shape ({n},), got shape {tuple(y.shape)}")
    if y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"{field}: labels must be integers 0..num_classes-1, got dtype {y.dtype}")
    if y.is_floating_point() and not (bool(torch.isfinite(y).all()) and bool((y == y.round()).all())):
        raise ValueError(f"{field}: labels must be whole numbers 0..num_classes-1")
    y = y.to(torch.int64)
    if n and int(y.min()) < 0:
        raise ValueError(f"{field}: labels must be integers 0..num_classes-1, got {int(y.min())}")
    return y


def _check_seed(seed) -> None:
    require_seed("seed", seed)


def _check_fractions(val_fraction, test_fraction) -> None:
    require_fraction("val_fraction", val_fraction)
    require_fraction("test_fraction", test_fraction)
    if val_fraction <= 0:
        raise ValueError(f"val_fraction: must be > 0 (the reward is validation accuracy), got {val_fraction!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction: must be < 1 to leave training data, got {val_fraction} + {test_fraction}"
        )


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__
