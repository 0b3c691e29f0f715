"""Run-time switches shared by the library, the notebooks and the tests.

Quick mode is one environment variable, ``NASRL_NB_QUICK``, read here and nowhere else:
when set (to anything but ``0``/``false``/empty) every notebook and test shrinks its
budgets so that it finishes in about a minute on a 2-core CPU.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .validation import require_seed

QUICK_ENV = "NASRL_NB_QUICK"
DEVICES = ("auto", "cpu", "cuda", "mps")
# Intra-op torch threads of a notebook kernel in quick mode (quick_kernel_threads).
QUICK_KERNEL_THREADS = 1


def quick_mode() -> bool:
    """True when ``NASRL_NB_QUICK`` asks for small budgets (notebooks under test, Binder)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def quick_kernel_threads() -> bool:
    """In quick mode, give this process (a notebook kernel) one intra-op torch thread; True if it did.

    ``import nasrl_nb`` calls it inside IPython only. Quick mode is what Binder, CI and a lab's
    shared machines run, where several kernels share two cores: there one thread was never slower
    for notebook 04 (BENCHMARKS.md, "Notebook kernels: one torch thread in quick mode"). Children
    train with one thread whatever this says (``ChildConfig.threads``).
    Outside quick mode the kernel keeps torch's default.
    """
    if not quick_mode():
        return False
    torch.set_num_threads(QUICK_KERNEL_THREADS)
    return True


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so that a run on the CPU repeats exactly."""
    seed = require_seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``; the old count comes back afterwards.

    The intra-op thread count changes how PyTorch splits a reduction on the CPU, hence the
    last bits of a child's metrics: every evaluator (serial, worker processes, Ray) trains a
    child with the same count, so that they give the same records.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device="auto") -> torch.device:
    """Map ``"auto" | "cpu" | "cuda" | "cuda:N" | "mps"`` (or a torch.device) to a device.

    ``"auto"`` picks CUDA when available, else Apple's MPS, else the CPU. Asking for a
    device that this machine lacks is a ``ValueError``, not a crash inside the first kernel.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device: must be a string, got {device!r}; allowed values: auto, cpu, cuda, cuda:N, mps")
    name = device.strip().lower()
    base = name.split(":", 1)[0]
    if base not in DEVICES or (":" in name and base != "cuda"):
        raise ValueError(f"device: {device!r} is not allowed; allowed values: auto, cpu, cuda, cuda:N, mps")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available here; allowed values: auto, cpu")
        if ":" in name:
            index = name.split(":", 1)[1]
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise ValueError(
                    f"device: {device!r} is not a CUDA device here; allowed: cuda:0..cuda:{torch.cuda.device_count() - 1}"
                )
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("device: 'mps' requested but MPS is not available here; allowed values: auto, cpu")
    return torch.device(name)


def environment_report() -> dict:
    """Versions, machine, device and quick mode: what a notebook's first cell shows a student,
    and what the benchmarks record beside each timing."""
    import platform

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),  # the CPU architecture, e.g. x86_64 or arm64
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(resolve_device("auto")),
        "cuda_available": torch.cuda.is_available(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "quick_mode": quick_mode(),
    }
