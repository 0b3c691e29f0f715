"""Datasets: seeded stratified splits, standardization by train statistics, conversions."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasrl_nb.nn.data import (
    DATASETS,
    Dataset,
    dataset_from_tensors,
    dataset_from_uint8,
    load_dataset,
    stratified_split,
    stratified_subsample,
)

SPLITS = ("train", "val", "test")


def indexed_images(n: int) -> torch.Tensor:
    """(n, 1, 2, 2) images whose pixels all equal the image's index: splits reveal their indices."""
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def split_indices(data: Dataset) -> dict[str, np.ndarray]:
    return {s: data.split(s)[0][:, 0, 0, 0].round().long().numpy() for s in SPLITS}


def sklearn_digits():
    from sklearn.datasets import load_digits

    raw = load_digits()
    return torch.as_tensor(raw.images, dtype=torch.float32), torch.as_tensor(raw.target)


# --- digits ----------------------------------------------------------------------------------
def test_digits_has_every_image_once_with_the_documented_shapes_and_dtypes(digits):
    assert digits.input_shape == (1, 8, 8) and digits.num_classes == 10
    assert sum(len(digits.split(s)[1]) for s in SPLITS) == 1797
    for s in SPLITS:
        X, y = digits.split(s)
        assert X.dtype == torch.float32 and X.shape[1:] == (1, 8, 8)
        assert y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    assert digits.device == torch.device("cpu")


def test_digits_is_scaled_to_unit_range_then_standardized_by_train_statistics(digits):
    images, labels = sklearn_digits()
    assert images.max() == 16  # the raw pixel range the loader divides by
    # the same pipeline, written out: pixels / 16, then dataset_from_tensors' split + standardization
    expected = dataset_from_tensors(images / 16.0, labels, name="digits", seed=0)
    for s in SPLITS:
        torch.testing.assert_close(digits.split(s)[0], expected.split(s)[0])
        assert torch.equal(digits.split(s)[1], expected.split(s)[1])


def test_standardization_uses_the_train_splits_mean_and_std_for_every_split():
    torch.manual_seed(0)
    X = torch.rand(200, 3, 4, 4) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 2.0
    y = torch.arange(200) % 4
    raw = dataset_from_tensors(X, y, seed=3, standardize=False)
    std = dataset_from_tensors(X, y, seed=3)
    mean = raw.X_train.mean(dim=(0, 2, 3), keepdim=True)
    scale = raw.X_train.std(dim=(0, 2, 3), keepdim=True)
    for s in SPLITS:
        torch.testing.assert_close(std.split(s)[0], (raw.split(s)[0] - mean) / scale)
    torch.testing.assert_close(std.X_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(std.X_train.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    assert not torch.allclose(std.X_val.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-6)  # not its own stats


def test_a_constant_channel_is_centred_but_not_divided_by_zero():
    X = torch.ones(30, 1, 2, 2)
    data = dataset_from_tensors(X, torch.arange(30) % 3)
    assert torch.isfinite(data.X_train).all() and torch.all(data.X_train == 0)


# --- splits ----------------------------------------------------------------------------------
def test_splits_are_disjoint_and_cover_the_pool():
    n = 250
    data = dataset_from_tensors(indexed_images(n), torch.arange(n) % 5, standardize=False)
    parts = split_indices(data)
    together = np.concatenate(list(parts.values()))
    assert len(together) == n and set(together.tolist()) == set(range(n))
    for s in SPLITS:  # labels travel with their images
        assert torch.equal(data.split(s)[1], torch.as_tensor(parts[s] % 5))


def test_splits_are_stratified_by_class(digits):
    _, labels = sklearn_digits()
    per_class = torch.bincount(labels, minlength=10)
    for s, fraction in (("val", 0.2), ("test", 0.2)):
        counts = torch.bincount(digits.split(s)[1], minlength=10)
        expected = torch.round(per_class * fraction)
        assert torch.all((counts - expected).abs() <= 1), (s, counts, expected)


def test_the_same_seed_gives_the_same_split_and_another_seed_a_different_one():
    X, y = indexed_images(120), torch.arange(120) % 3
    a = split_indices(dataset_from_tensors(X, y, seed=7, standardize=False))
    b = split_indices(dataset_from_tensors(X, y, seed=7, standardize=False))
    c = split_indices(dataset_from_tensors(X, y, seed=8, standardize=False))
    assert all(np.array_equal(a[s], b[s]) for s in SPLITS)
    assert not np.array_equal(a["val"], c["val"])


def test_load_dataset_is_reproducible_by_seed(tiny_digits):
    again = load_dataset("digits", seed=0, max_samples=300)
    other = load_dataset("digits", seed=1, max_samples=300)
    assert torch.equal(again.X_train, tiny_digits.X_train) and torch.equal(again.y_val, tiny_digits.y_val)
    assert not torch.equal(other.X_train, tiny_digits.X_train)


def test_fractions_set_the_split_sizes():
    data = dataset_from_tensors(torch.rand(1000, 1, 2, 2), torch.arange(1000) % 10, val_fraction=0.3, test_fraction=0.1)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (600, 300, 100)


def test_test_fraction_zero_leaves_an_empty_test_split():
    data = dataset_from_tensors(torch.rand(40, 1, 2, 2), torch.arange(40) % 2, test_fraction=0.0)
    assert len(data.y_test) == 0 and len(data.y_val) == 8 and data.X_test.shape == (0, 1, 2, 2)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    val_fraction=st.floats(0.05, 0.45),
    test_fraction=st.floats(0.0, 0.45),
    seed=st.integers(0, 2**31),
)
def test_stratified_split_partitions_and_keeps_a_training_example_per_class(counts, val_fraction, test_fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    try:
        train, val, test = stratified_split(y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    except ValueError as err:  # allowed only when a requested holdout rounds to nothing
        assert "split is empty" in str(err)
        return
    together = np.concatenate([train, val, test])
    assert sorted(together.tolist()) == list(range(len(y)))
    assert set(y[train].tolist()) == set(range(len(counts)))
    for label, n in enumerate(counts):
        n_val = int(np.sum(y[val] == label))
        assert n_val <= max(round(n * val_fraction), 0)


def test_stratified_subsample_keeps_class_shares(digits):
    _, labels = sklearn_digits()
    keep = stratified_subsample(labels.numpy(), 300, seed=0)
    assert len(keep) == len(set(keep.tolist())) == 300
    share = np.bincount(labels.numpy()[keep], minlength=10) / 300
    assert np.all(np.abs(share - np.bincount(labels.numpy()) / len(labels)) <= 1 / 300 + 1e-9)


def test_max_samples_subsamples_before_splitting(tiny_digits):
    total = sum(len(tiny_digits.split(s)[1]) for s in SPLITS)
    assert total == 300
    assert torch.all(torch.bincount(tiny_digits.y_train, minlength=10) >= 17)
    assert len(load_dataset("digits", max_samples=5000).y_train) == len(load_dataset("digits").y_train)


# --- the Dataset object -------------------------------------------------------------------------
def test_repr_shows_name_split_sizes_shape_and_device(tiny_digits):
    text = repr(tiny_digits)
    assert "'digits'" in text and "train=180" in text and "val=60" in text and "test=60" in text
    assert "(1, 8, 8)" in text and "device=cpu" in text


def test_to_the_same_device_returns_the_same_object_and_auto_resolves(tiny_digits):
    assert tiny_digits.to("cpu") is tiny_digits
    moved = tiny_digits.to("auto")
    assert moved.device.type in ("cpu", "cuda", "mps") and len(moved.y_val) == len(tiny_digits.y_val)


def test_dataset_infers_shape_and_classes_and_rejects_mismatched_splits():
    X, y = torch.zeros(4, 2, 3, 3), torch.tensor([0, 1, 2, 1])
    data = Dataset("d", X, y, X[:2], y[:2], X[:1], y[:1])
    assert data.input_shape == (2, 3, 3) and data.num_classes == 3
    with pytest.raises(ValueError, match=r"X_val: every split must have input_shape \(2, 3, 3\)"):
        Dataset("d", X, y, torch.zeros(2, 1, 3, 3), y[:2], X[:1], y[:1])
    with pytest.raises(ValueError, match=r"y: labels must lie in 0..num_classes-1 = 0..1, got 0..2"):
        Dataset("d", X, y, X[:2], y[:2], X[:1], y[:1], num_classes=2)
    with pytest.raises(ValueError, match=r"y_test: expected an int64 tensor"):
        Dataset("d", X, y, X[:2], y[:2], X[:1], y[:1].float())


# --- user tensors ---------------------------------------------------------------------------------
def test_custom_tensors_without_a_channel_axis_get_one():
    data = dataset_from_tensors(torch.rand(60, 5, 7), torch.arange(60) % 3, name="mine")
    assert data.name == "mine" and data.input_shape == (1, 5, 7) and data.num_classes == 3


def test_custom_numpy_uint8_images_are_scaled_like_tensors():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 2, 3, 3), dtype=np.uint8)
    labels = np.arange(50) % 2
    from_numpy = dataset_from_tensors(images, labels, standardize=False)
    from_float = dataset_from_tensors(torch.from_numpy(images).float() / 255, torch.from_numpy(labels), standardize=False)
    torch.testing.assert_close(from_numpy.X_train, from_float.X_train)
    assert from_numpy.X_train.max() <= 1.0


def test_float_labels_that_are_whole_numbers_are_accepted():
    data = dataset_from_tensors(torch.rand(30, 1, 2, 2), (torch.arange(30) % 3).double())
    assert data.y_train.dtype == torch.int64 and data.num_classes == 3


# --- torchvision-style raw tensors -----------------------------------------------------------------
def test_uint8_conversion_scales_to_unit_range_then_standardizes():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (40, 6, 6), dtype=torch.uint8)
    labels = torch.arange(40) % 4
    converted = dataset_from_uint8(images, labels, name="fake", seed=2)
    expected = dataset_from_tensors(images.float().unsqueeze(1) / 255.0, labels, name="fake", seed=2)
    assert converted.input_shape == (1, 6, 6)
    for s in SPLITS:
        torch.testing.assert_close(converted.split(s)[0], expected.split(s)[0])


def test_channels_last_images_are_moved_to_channels_first():
    torch.manual_seed(0)
    nhwc = torch.randint(0, 256, (30, 4, 5, 3), dtype=torch.uint8)  # CIFAR stores (N, H, W, C)
    labels = torch.arange(30) % 3
    a = dataset_from_uint8(nhwc, labels, name="fake", channels_last=True)
    b = dataset_from_uint8(nhwc.permute(0, 3, 1, 2).contiguous(), labels, name="fake")
    assert a.input_shape == (3, 4, 5)
    torch.testing.assert_close(a.X_train, b.X_train)
    assert torch.equal(a.y_test, b.y_test)


class FakeVisionSet:
    """Stands in for ``torchvision.datasets.MNIST`` & co: ``.data`` and ``.targets``."""

    shape = (6, 6)
    calls: list = []

    def __init__(self, root, train, download):
        FakeVisionSet.calls.append((type(self).__name__, root, train, download))
        n = 30 if train else 10
        generator = torch.Generator().manual_seed(int(train))
        self.data = torch.randint(0, 256, (n, *self.shape), dtype=torch.uint8, generator=generator)
        self.targets = torch.arange(n) % 5


class FakeCIFAR10(FakeVisionSet):
    def __init__(self, root, train, download):
        super().__init__(root, train, download)
        n = len(self.targets)
        self.data = np.full((n, 4, 4, 3), 7, dtype=np.uint8)  # numpy, channels-last, list targets
        self.targets = [int(t) for t in self.targets]


class MissingFiles:
    def __init__(self, root, train, download):
        raise RuntimeError("Dataset not found. You can use download=True to download it")


@pytest.fixture
def fake_torchvision(monkeypatch):
    datasets = types.SimpleNamespace(MNIST=FakeVisionSet, FashionMNIST=FakeVisionSet, CIFAR10=FakeCIFAR10)
    module = types.ModuleType("torchvision")
    module.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", module)
    FakeVisionSet.calls.clear()
    return datasets


def test_torchvision_train_and_test_files_are_pooled_and_split(fake_torchvision, tmp_path):
    data = load_dataset("mnist", root=tmp_path, seed=0)
    assert data.name == "mnist" and data.input_shape == (1, 6, 6) and data.num_classes == 5
    assert sum(len(data.split(s)[1]) for s in SPLITS) == 40
    assert [c[2] for c in FakeVisionSet.calls] == [True, False]
    assert all(c[1] == str(tmp_path) and c[3] is False for c in FakeVisionSet.calls)


def test_torchvision_cifar_numpy_channels_last_is_converted(fake_torchvision, tmp_path):
    data = load_dataset("cifar10", root=tmp_path, max_samples=20)
    assert data.input_shape == (3, 4, 4) and sum(len(data.split(s)[1]) for s in SPLITS) == 20


def test_missing_torchvision_files_name_the_root_and_the_remedy(fake_torchvision, tmp_path):
    fake_torchvision.FashionMNIST = MissingFiles
    with pytest.raises(ValueError, match=r"root: 'fashion_mnist' files could not be loaded from .*download=True"):
        load_dataset("fashion_mnist", root=tmp_path)


def test_missing_torchvision_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # makes `import torchvision` fail
    with pytest.raises(ImportError, match=r"pip install 'nasrl-nb\[vision\]'"):
        load_dataset("mnist")


def test_datasets_lists_every_loadable_name():
    assert DATASETS[0] == "digits" and set(DATASETS) == {"digits", "mnist", "fashion_mnist", "cifar10", "mnist1d"}
