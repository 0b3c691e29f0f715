"""Ctrl-C held back (nasrl_nb.interrupts): raised after the block, once, and never inside torch's start-up."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nasrl_nb.interrupts import deferred_interrupt

REPO = Path(__file__).resolve().parents[1]


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_inside_the_block_is_raised_after_it():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            ctrl_c()
            finished.append("block")  # reached: the signal did not cut the block short
    assert finished == ["block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_nested_block_leaves_the_interrupt_to_the_outermost():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            with deferred_interrupt():
                ctrl_c()
            finished.append("after the inner block")  # the inner block did not raise
    assert finished == ["after the inner block"]


def test_a_block_without_ctrl_c_raises_nothing_and_restores_the_handler():
    with deferred_interrupt():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_the_block_runs_as_is():
    seen = []

    def body():
        with deferred_interrupt():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


# Ctrl-C sent from inside torch's own import (an import hook fires it as torch.functional loads),
# then what the code under test prints; torch must have finished starting before the interrupt
SEND_CTRL_C_DURING_TORCH_IMPORT = """
import os, signal, sys
class SendCtrlC:
    def find_spec(self, name, path, target=None):
        if name == "torch.functional":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, SendCtrlC())
def torch_loaded():
    torch = sys.modules.get("torch")
    return torch is not None and hasattr(torch, "nn") and hasattr(torch, "functional")
"""


def run_with_ctrl_c_in_torch_import(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SEND_CTRL_C_DURING_TORCH_IMPORT + code], capture_output=True, text=True,
                          cwd=REPO, timeout=180)


def test_the_command_line_waits_for_torch_then_exits_130():
    out = run_with_ctrl_c_in_torch_import("""
from nasrl_nb.cli import main
status = main(["spaces"])
print(status, torch_loaded())
""")
    assert out.stdout.split() == ["130", "True"], (out.stdout, out.stderr)
    assert out.stderr.strip() == "interrupted", out.stderr


def test_a_notebooks_first_lazy_import_stops_after_torch_has_loaded():
    """"Interrupt kernel" during the first ``from nasrl_nb import ...``: the cell stops, the kernel lives."""
    out = run_with_ctrl_c_in_torch_import("""
import nasrl_nb
try:
    nasrl_nb.load_dataset
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", torch_loaded())
print(callable(nasrl_nb.load_dataset))
""")
    assert out.stdout.split() == ["interrupted", "True", "True"], (out.stdout, out.stderr)
