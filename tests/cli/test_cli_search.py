"""`nasrl-nb search` and `nasrl-nb export`: files, errors, Ctrl-C and --resume, through real processes."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import torch

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.cli.commands import main

TINY = ["--space", "macro", "--epochs", "1", "--channels", "4", "--max-samples", "200", "--device", "cpu", "--quiet"]


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_bad_arguments_get_one_error_line(tmp_path, capsys):
    assert main(["search", "--budget", "0", "--out", str(tmp_path / "a")]) == 2
    assert re.fullmatch(r"error: (--)?budget: must be a positive integer, got 0", capsys.readouterr().err.strip())
    (tmp_path / "empty").mkdir()
    assert main(["search", "--resume", "--out", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.startswith("error: resume: no search in")
    assert main(["export", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.startswith("error: out_dir: no summary.json in")


def test_search_then_guard_the_folder_then_export(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--method", "random", "--budget", "2", "--batch", "2", *TINY, "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["evaluations"] == 2 and summary["method"] == "random"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "history.jsonl", "steps.jsonl", "summary.json"]
    assert main(["search", "--method", "evolution", "--budget", "2", *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds a search with other settings (method: 'random' -> 'evolution')" in err
    assert "--resume" in err and "--overwrite" in err
    assert main(["search", "--method", "evolution", "--resume", "--out", str(out)]) == 2
    assert "other settings: method: 'random' -> 'evolution'" in capsys.readouterr().err
    target = tmp_path / "best.py"
    assert main(["export", str(out), "--out", str(target), "--class-name", "Best"]) == 0
    source = target.read_text()
    assert summary["best_arch"] in source and "class Best(nn.Module)" in source
    compile(source, str(target), "exec")


def test_ctrl_c_then_resume_completes_the_budget(tmp_path, cli_env, run_cli):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "nasrl_nb", "search", "--method", "reinforce", "--budget", "24", "--batch", "2", *TINY, "--out", str(out)]
    env = {**cli_env, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    history = out / "history.jsonl"
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None and not (history.exists() and len(lines(history)) >= 2):
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole process group
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    assert "interrupted:" in stderr and "--resume" in stderr and stdout == ""

    state = torch.load(out / "checkpoint.pt", weights_only=True)
    saved = lines(history)
    assert 2 <= state["evaluations"] == len(saved) < 24  # history and checkpoint agree: nothing half-written
    assert [row["evaluation"] for row in saved] == list(range(len(saved)))
    assert json.loads((out / "summary.json").read_text())["evaluations"] == len(saved)

    done = run_cli("search", "--resume", "--out", str(out), "--quiet", timeout=180)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["evaluations"] == 24 and summary["done"]
    final = lines(history)
    assert len(final) == 24 and final[: len(saved)] == saved  # the saved part is kept as it was
    assert [row["evaluation"] for row in final] == list(range(24))
    exported = run_cli("export", str(out))
    assert exported.returncode == 0 and summary["best_arch"] in exported.stdout


def test_sigkill_at_random_moments_then_resume_equals_the_uninterrupted_run(tmp_path, cli_env):
    """A kill at any instant (here: SIGKILL at seeded random moments) leaves a folder that resumes exactly."""
    reference = make_search("reinforce", "macro", "digits", budget=6, batch_size=2, epochs=1, channels=4,
                            max_samples=200, device="cpu", seed=0, progress=False)
    reference.run()
    out = tmp_path / "run"
    history, checkpoint = out / "history.jsonl", out / "checkpoint.pt"
    command = [sys.executable, "-m", "nasrl_nb", "search", "--method", "reinforce", "--budget", "6", "--batch", "2",
               *TINY, "--out", str(out)]
    rng = random.Random(0)
    kills = 0
    def records_on_disk() -> int:
        return history.read_bytes().count(b"\n") if history.exists() else 0

    for target in sorted(rng.sample(range(6), 3)):  # kill once at least `target` records are on disk...
        resume = ["--resume"] if (out / "config.json").exists() else []
        proc = subprocess.Popen(command + resume, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.time() + 60
        while proc.poll() is None and time.time() < deadline and records_on_disk() < target:
            time.sleep(0.005)
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.4))  # ...plus a random moment, mid-child or mid-commit
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # no handler runs: whatever is on disk is what there is
            proc.communicate()
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read()
            break
        if checkpoint.exists():  # the checkpoint never counts a record that is not on disk
            counted = torch.load(checkpoint, weights_only=True)["evaluations"]
            assert counted <= history.read_bytes().count(b"\n")
    done = subprocess.run(command + ["--resume"], env=cli_env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert kills >= 1

    def timeless(rows):
        return [{k: v for k, v in row.items() if k not in ("seconds", "latency_ms")} for row in rows]

    assert timeless(lines(history)) == timeless(reference.history)
    assert [s["rewards"] for s in lines(out / "steps.jsonl")] == [s.rewards for s in reference.steps]
    assert json.loads(done.stdout)["best_arch"] == reference.summary()["best_arch"]
