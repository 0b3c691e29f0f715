"""Bad input through the command line and the run folder: one clear line, exit status 2, nothing changed.

Issue 8. Every row of :data:`CLI_CASES` runs ``nasrl_nb.cli.commands.main(argv)`` in process
(fast) and checks: exit status 2, no traceback, the last line of stderr names the option
(or the file) and, where it matters, what is accepted, and the folder the row works in is
byte for byte what it was. A smaller set runs as a real ``python -m nasrl_nb`` subprocess,
and hypothesis feeds random option values and random bytes in every file of a run folder:
the answer is always a clean error or a clean success, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasrl_nb.cli.commands import main

REPO = Path(__file__).resolve().parents[2]
GOOD_CELL = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
RUN_FILES = ("history.jsonl", "steps.jsonl", "summary.json", "config.json", "checkpoint.pt")
TINY = ["--epochs", "1", "--max-samples", "60", "--channels", "4"]  # a child trains in well under a second


# --- a tiny finished run, made once, copied for each test that damages it ------------------------
@pytest.fixture(scope="module")
def template_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("template") / "run"
    argv = ["search", "--method", "random", "--budget", "2", "--batch", "2", *TINY, "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


@pytest.fixture
def workdir(tmp_path, template_run) -> Path:
    """A folder with a copy of the run (``run``), a plain file, a foreign .py file, binary and deep files."""
    shutil.copytree(template_run, tmp_path / "run")
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "mine.py").write_text("print('a file the user wrote')\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00\x81garbage")
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    (tmp_path / "empty").write_text("")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("keep me\n")
    return tmp_path


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder`` with its bytes (folders: None) and mode."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes(), p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
    }


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def assert_clean_error(code: int, err: str, *fields: str) -> None:
    assert code == 2, f"exit status {code}, stderr: {err}"
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert "error:" in last, err
    for field in fields:
        assert field in last, f"{field!r} not named in: {last}"


# --- the table: (argv with {w} for the work folder, words the message must contain) ---------------
def search(*extra: str) -> list[str]:
    return ["search", "--budget", "2", "--batch", "2", *TINY, "--quiet", *extra]


def train(*extra: str) -> list[str]:
    return ["train", "--arch", GOOD_CELL, *TINY, *extra]


CLI_CASES: dict[str, tuple[list[str], tuple[str, ...]]] = {}

# numbers: every integer option of search and train, each with values of every bad kind
for opt in ("--epochs", "--batch", "--budget", "--channels", "--cells-per-stage", "--max-samples"):
    for value, words in (("0", ("positive integer",)), ("-3", ("positive integer",)), ("1.5", ("int",)), ("abc", ("int",)), ("", ("int",))):
        CLI_CASES[f"search {opt}={value!r}"] = (search(opt, value, "--out", "{w}/new"), (opt, *words))
for opt in ("--epochs", "--batch-size", "--channels", "--max-samples"):
    for value, words in (("0", ("positive integer",)), ("-1", ("positive integer",)), ("2.5", ("int",)), ("x", ("int",))):
        CLI_CASES[f"train {opt}={value!r}"] = (train(opt, value), (opt, *words))
for opt in ("--lr", "--controller-lr", "--max-params", "--max-flops", "--max-latency-ms"):
    for value, words in (("0", ("positive number",)), ("-1", ("positive number",)), ("nan", ("positive number",)),
                         ("inf", ("positive number",)), ("abc", ("float",))):
        CLI_CASES[f"search {opt}={value!r}"] = (search(opt, value, "--out", "{w}/new"), (opt, *words))
for value, words in (("0", ("positive number",)), ("-0.5", ("positive number",)), ("nan", ("positive number",)), ("1e", ("float",))):
    CLI_CASES[f"train --lr={value!r}"] = (train("--lr", value), ("--lr", *words))
for value, words in (("-1", (">= 0",)), ("nan", (">= 0",)), ("inf", (">= 0",)), ("x", ("float",))):
    CLI_CASES[f"search --entropy-weight={value!r}"] = (search("--entropy-weight", value, "--out", "{w}/new"), ("--entropy-weight", *words))
for command in ("search", "train"):
    for value, words in (("-1", ("0..9223372036854775807",)), (str(2**70), ("0..9223372036854775807",)),
                         (str(2**63), ("0..9223372036854775807",)), ("1.5", ("int",)), ("seven", ("int",))):
        argv = search("--seed", value, "--out", "{w}/new") if command == "search" else train("--seed", value)
        CLI_CASES[f"{command} --seed={value!r}"] = (argv, ("--seed", *words))

# choices
for opt, value in (("--method", "bayes"), ("--space", "nas"), ("--constraint-mode", "soft")):
    CLI_CASES[f"search {opt}={value}"] = (search(opt, value, "--out", "{w}/new"), (opt, "invalid choice"))
# --dataset also takes bench:NAME and csv:PATH, so it is checked by the command, not by argparse's choices
CLI_CASES["search --dataset=imagenet"] = (search("--dataset", "imagenet", "--out", "{w}/new"),
                                          ("--dataset", "allowed values", "bench:NAME"))
for opt, value in (("--space", "nas"), ("--dataset", "svhn"), ("--optimizer", "rmsprop")):
    CLI_CASES[f"train {opt}={value}"] = (train(opt, value), (opt, "invalid choice"))
for value in ("tpu", "gpu", "cuda:x", "cuda:-1"):
    CLI_CASES[f"search --device={value}"] = (search("--device", value, "--out", "{w}/new"), ("device", "allowed values"))
    CLI_CASES[f"train --device={value}"] = (train("--device", value), ("device", "allowed values"))
for mode in ("penalty", "mnasnet"):
    CLI_CASES[f"search --constraint-mode {mode} without a budget"] = (
        search("--constraint-mode", mode, "--out", "{w}/new"), ("--constraint-mode", "--max-params"))

# an option the method would ignore (issue 20)
for method, option, value in (("random", "--controller-lr", "0.1"), ("evolution", "--entropy-weight", "0.1"),
                              ("reinforce", "--supernet-steps", "3"), ("random", "--warmup-steps", "2"),
                              ("reinforce", "--remedy", "darts-")):
    CLI_CASES[f"search --method {method} {option}"] = (
        search("--method", method, option, value, "--out", "{w}/new"), (option, "only for methods", repr(method)))

# --out of search
CLI_CASES.update({
    "search --out names a file": (search("--out", "{w}/afile"), ("--out", "is a file")),
    "search --out under a file": (search("--out", "{w}/afile/sub"), ("--out", "is a file")),
    "search --out deep under a file": (search("--out", "{w}/afile/a/b/c"), ("--out", "is a file")),
    "search --out name too long": (search("--out", "{w}/" + "a" * 300), ("--out", "255")),
    "search --out nested name too long": (search("--out", "{w}/x/" + "b" * 256 + "/y"), ("--out", "255")),
    "search --out empty": (search("--out", ""), ("--out", "empty")),
    "search --out blank": (search("--out", "   "), ("--out", "empty")),
    "search --out a non-empty folder": (search("--out", "{w}/full"), ("out",)),
    "search --out an existing run": (search("--out", "{w}/run"), ("out",)),
    "search --out missing": (["search", "--budget", "2"], ("--out", "required")),
    "search --resume in a missing folder": (search("--out", "{w}/nothing", "--resume"), ("--out", "does not exist")),
    "search --resume in a folder without a run": (search("--out", "{w}/full", "--resume"), ("full",)),
    "search --resume on a file": (search("--out", "{w}/afile", "--resume"), ("--out", "is a file")),
    "search --resume --budget below what is evaluated": (
        ["search", "--out", "{w}/run", "--resume", "--budget", "1", "--quiet"], ("budget", "at least 2")),
    "search unknown option": (search("--out", "{w}/new", "--chanels", "8"), ("unrecognized arguments",)),
})

# --arch of train
CLI_CASES.update({
    "train --arch missing": (["train"], ("--arch", "required")),
    "train --arch empty": (["train", "--arch", "", *TINY], ("arch",)),
    "train --arch unknown op": (["train", "--arch", GOOD_CELL.replace("none", "conv_9x9"), *TINY], ("arch", "allowed values")),
    "train --arch too few groups": (["train", "--arch", "|none~0|+|none~0|none~1|", *TINY], ("arch", "node groups")),
    "train --arch wrong source": (["train", "--arch", GOOD_CELL.replace("none~1", "none~2"), *TINY], ("arch", "source")),
    "train --arch @missing": (["train", "--arch", "@{w}/nope.txt", *TINY], ("arch", "nope.txt")),
    "train --arch @folder": (["train", "--arch", "@{w}/full", *TINY], ("arch", "full")),
    "train --arch @binary": (["train", "--arch", "@{w}/binary", *TINY], ("arch", "UTF-8", "binary")),
    "train --arch @empty": (["train", "--arch", "@{w}/empty", *TINY], ("arch",)),
    "train --arch @ alone": (["train", "--arch", "@", *TINY], ("arch",)),
    "train macro --arch @deep json": (["train", "--space", "macro", "--arch", "@{w}/deep.json", *TINY], ("arch", "nested too deeply")),
    "train macro --arch deep inline": (["train", "--space", "macro", "--arch", "[" * 5000 + "]" * 5000, *TINY], ("arch",)),
    "train macro --arch invalid json": (["train", "--space", "macro", "--arch", "[{'layer_type': 1}]", *TINY], ("arch", "JSON")),
    "train macro --arch an object": (["train", "--space", "macro", "--arch", '{"layer_type": "conv3x3"}', *TINY], ("arch", "list")),
    "train macro --arch a number": (["train", "--space", "macro", "--arch", "42", *TINY], ("arch",)),
    "train macro --arch too few layers": (["train", "--space", "macro", "--arch", "[]", *TINY], ("arch", "layers")),
    "train cell --arch given JSON": (["train", "--arch", "[1, 2]", *TINY], ("arch",)),
})

# data too small to split, children too large to allocate
for n in ("1", "5", "20"):
    CLI_CASES[f"train --max-samples {n}"] = (["train", "--arch", GOOD_CELL, "--epochs", "1", "--max-samples", n], ("max_samples", "at least 21"))
    CLI_CASES[f"search --max-samples {n}"] = (
        ["search", "--budget", "2", "--epochs", "1", "--max-samples", n, "--quiet", "--out", "{w}/new"], ("max_samples", "at least 21"))
for command in ("search", "train"):
    for channels in ("1000000", "10000000", str(2**63)):  # 2**63: beyond int64, torch raises TypeError
        argv = ["search", "--budget", "2", "--quiet", "--out", "{w}/new"] if command == "search" else ["train", "--arch", GOOD_CELL]
        CLI_CASES[f"{command} --channels {channels}"] = ([*argv, "--channels", channels], ("--channels", "smaller"))

# export
CLI_CASES.update({
    "export --out a folder": (["export", "{w}/run", "--out", "{w}/full"], ("out", "is a folder")),
    "export --out empty": (["export", "{w}/run", "--out", ""], ("out", "file name")),
    "export --out in a missing folder": (["export", "{w}/run", "--out", "{w}/nope/net.py"], ("out", "does not exist")),
    "export --out under a file": (["export", "{w}/run", "--out", "{w}/afile/net.py"], ("out", "not a folder")),
    "export --out a file the user wrote": (["export", "{w}/run", "--out", "{w}/mine.py"], ("out", "--force")),
    "export --out a data file": (["export", "{w}/run", "--out", "{w}/binary"], ("out", "--force")),
    "export --out name too long": (["export", "{w}/run", "--out", "{w}/" + "n" * 300 + ".py"], ("out",)),
    "export DIR missing": (["export", "{w}/nothing"], ("summary.json", "nothing")),
    "export DIR a file": (["export", "{w}/afile"], ("summary.json",)),
    "export DIR without a run": (["export", "{w}/full"], ("summary.json",)),
    "export DIR missing argument": (["export"], ("DIR",)),
})
CLI_CASES.update({
    "rebuild-checkpoint of a readable checkpoint": (["rebuild-checkpoint", "{w}/run"], ("checkpoint.pt", "--force")),
    "rebuild-checkpoint DIR missing": (["rebuild-checkpoint", "{w}/nothing"], ("nothing", "config.json")),
    "rebuild-checkpoint DIR a file": (["rebuild-checkpoint", "{w}/afile"], ("afile", "config.json")),
    "rebuild-checkpoint DIR without a run": (["rebuild-checkpoint", "{w}/full"], ("full", "config.json")),
    "rebuild-checkpoint DIR missing argument": (["rebuild-checkpoint"], ("DIR",)),
    "rebuild-checkpoint unknown option": (["rebuild-checkpoint", "{w}/run", "--budget", "3"], ("unrecognized arguments",)),
})
for name in ("class", "def", "None", "lambda", "1abc", "my-net", "", "a b"):
    CLI_CASES[f"export --class-name {name!r}"] = (["export", "{w}/run", "--class-name", name], ("class_name", "identifier"))

# the commands themselves
CLI_CASES.update({
    "no command": ([], ("COMMAND",)),
    "unknown command": (["serch"], ("invalid choice",)),
    "spaces with an argument": (["spaces", "--tabel"], ("unrecognized arguments",)),
})


def damage(run: Path, name: str, data: bytes | str) -> None:
    path = run / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def checkpoint_bytes(obj) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class NotAllowed:  # pickled as a reference to this class: torch.load(weights_only=True) refuses it
    pass


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


# damaged run folders: (file, its new bytes (or a function of the run), words the message must contain)
RUN_DAMAGE = {
    "checkpoint.pt empty": ("checkpoint.pt", b"", ("checkpoint.pt",)),
    "checkpoint.pt truncated": ("checkpoint.pt", lambda run: (run / "checkpoint.pt").read_bytes()[:200], ("checkpoint.pt",)),
    "checkpoint.pt random bytes": ("checkpoint.pt", bytes(range(256)) * 4, ("checkpoint.pt",)),
    "checkpoint.pt a text file": ("checkpoint.pt", "hello\n", ("checkpoint.pt",)),
    "checkpoint.pt a list": ("checkpoint.pt", lambda run: checkpoint_bytes([1, 2, 3]), ("checkpoint.pt", "list")),
    "checkpoint.pt a tensor": ("checkpoint.pt", lambda run: checkpoint_bytes(torch.zeros(3)), ("checkpoint.pt", "Tensor")),
    "checkpoint.pt a foreign dict": ("checkpoint.pt", lambda run: checkpoint_bytes({"model": torch.zeros(2)}), ("checkpoint.pt",)),
    "checkpoint.pt refused by the safe loader": ("checkpoint.pt", lambda run: checkpoint_bytes({"x": NotAllowed()}), ("checkpoint.pt",)),
    "checkpoint.pt missing fields": (
        "checkpoint.pt", lambda run: checkpoint_bytes({**torch.load(run / "checkpoint.pt", weights_only=True), "rng": None, "strategy": None}),
        ("checkpoint.pt",)),
    "history.jsonl a corrupt line": ("history.jsonl", lambda run: (run / "history.jsonl").read_text().replace("}", "", 1), ("history.jsonl", "line 1")),
    "history.jsonl second line corrupt": (
        "history.jsonl", lambda run: "\n".join((run / "history.jsonl").read_text().splitlines()[:1] + ["{not json"]) + "\n",
        ("history.jsonl", "line 2")),
    "history.jsonl binary": ("history.jsonl", b"\xff\xfe\x00garbage\n" * 2, ("history.jsonl", "line 1")),
    "history.jsonl a list per line": ("history.jsonl", "[1]\n[2]\n", ("history.jsonl", "line 1")),
    "history.jsonl records without status": ("history.jsonl", '{"arch": "x"}\n{"arch": "y"}\n', ("history.jsonl", "line 1")),
    "history.jsonl too few records": ("history.jsonl", lambda run: (run / "history.jsonl").read_text().splitlines()[0] + "\n", ("history.jsonl",)),
    "history.jsonl empty": ("history.jsonl", "", ("history.jsonl",)),
    "config.json not json": ("config.json", "{", ("config.json",)),
    "config.json a list": ("config.json", "[1, 2]", ("config.json",)),
    "config.json binary": ("config.json", b"\xff\xfe", ("config.json",)),
}

# summary.json of the wrong shape, through export
SUMMARY_DAMAGE = {
    "summary.json a list": ("[]", ("summary.json",)),
    "summary.json a string": ('"hello"', ("summary.json",)),
    "summary.json not json": ("{", ("summary.json",)),
    "summary.json binary": (b"\xff\xfe\x00", ("summary.json",)),
    "summary.json deeply nested": ("[" * 100_000 + "]" * 100_000, ("summary.json",)),
    "summary.json empty object": ("{}", ("summary.json",)),
    "summary.json best_arch a number": (lambda s: {**s, "best_arch": 5}, ("summary.json",)),
    "summary.json best_arch garbage": (lambda s: {**s, "best_arch": "not an arch"}, ("summary.json", "arch")),
    "summary.json space a string": (lambda s: {**s, "space": "cell"}, ("summary.json",)),
    "summary.json space unknown": (lambda s: {**s, "space": {"space": "nas"}}, ("summary.json", "space")),
    "summary.json space unknown key": (lambda s: {**s, "space": {**s["space"], "depth": 3}}, ("summary.json", "depth")),
    "summary.json evaluator a string": (lambda s: {**s, "evaluator": "child"}, ("summary.json", "evaluator")),
    "summary.json no input shape": (lambda s: {**s, "evaluator": {"kind": "ChildEvaluator"}}, ("summary.json", "input shape")),
    "summary.json input shape of text": (lambda s: {**s, "evaluator": {**s["evaluator"], "input_shape": "1x8x8"}}, ("summary.json",)),
    "summary.json channels a string": (
        lambda s: {**s, "evaluator": {**s["evaluator"], "child_kwargs": {"channels": "wide"}}}, ("summary.json", "channels")),
}


def test_the_table_has_at_least_150_bad_inputs():
    assert len(CLI_CASES) + len(RUN_DAMAGE) + len(SUMMARY_DAMAGE) >= 150


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_bad_cli_input_is_one_clear_line_exit_2_and_changes_nothing(name, workdir, capsys):
    argv, fields = CLI_CASES[name]
    before = snapshot(workdir)
    code, err = run_cli([a.replace("{w}", str(workdir)) for a in argv], capsys)
    assert_clean_error(code, err, *fields)
    assert snapshot(workdir) == before, "a rejected command changed files on disk"


@pytest.mark.parametrize("name", list(RUN_DAMAGE))
def test_a_damaged_run_folder_names_the_file_and_what_to_do(name, workdir, capsys):
    file, data, fields = RUN_DAMAGE[name]
    run = workdir / "run"
    damage(run, file, data(run) if callable(data) else data)
    before = snapshot(workdir)
    code, err = run_cli(["search", "--out", run, "--resume", "--budget", "3", "--quiet"], capsys)
    assert_clean_error(code, err, *fields)
    assert "another folder" in err or "--resume" in err or "restore" in err, err  # what the user can do
    assert snapshot(workdir) == before, "resuming a damaged run changed its files"


@pytest.mark.parametrize("name", list(SUMMARY_DAMAGE))
def test_export_of_a_summary_of_the_wrong_shape_names_the_file(name, workdir, capsys):
    data, fields = SUMMARY_DAMAGE[name]
    run = workdir / "run"
    damage(run, "summary.json", json.dumps(data(_summary(run))) if callable(data) else data)
    before = snapshot(workdir)
    code, err = run_cli(["export", run, "--out", workdir / "net.py"], capsys)
    assert_clean_error(code, err, *fields)
    assert snapshot(workdir) == before


# --- a lost or damaged checkpoint is rebuilt from the history; resuming then continues exactly -----
def test_rebuild_checkpoint_then_resume_equals_the_uninterrupted_run(workdir, capsys):
    run = workdir / "run"
    (run / "checkpoint.pt").write_bytes(b"")
    code, err = run_cli(["search", "--out", run, "--resume", "--budget", "4", "--quiet"], capsys)
    assert_clean_error(code, err, "checkpoint.pt", "nasrl-nb rebuild-checkpoint")
    assert run_cli(["rebuild-checkpoint", run], capsys)[0] == 0
    assert run_cli(["search", "--out", run, "--resume", "--budget", "4", "--quiet"], capsys)[0] == 0
    other = workdir / "uninterrupted"
    argv = ["search", "--method", "random", "--budget", "4", "--batch", "2", *TINY, "--out", other, "--quiet"]
    assert run_cli(argv, capsys)[0] == 0

    def timeless(folder):
        rows = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k not in ("seconds", "latency_ms")} for row in rows]

    assert len(timeless(run)) == 4 and timeless(run) == timeless(other)


def test_a_history_that_does_not_match_the_config_is_not_rebuilt(workdir, capsys):
    run = workdir / "run"
    (run / "checkpoint.pt").unlink()
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "seed": config["seed"] + 1}))
    before = snapshot(workdir)
    code, err = run_cli(["rebuild-checkpoint", run], capsys)
    assert_clean_error(code, err, "history.jsonl", "line 1", "does not follow from config.json")
    assert snapshot(workdir) == before


# --- export never destroys a file it did not write ----------------------------------------------
def test_export_refuses_a_foreign_file_replaces_its_own_and_force_replaces_any(workdir, capsys):
    run, mine, net = workdir / "run", workdir / "mine.py", workdir / "net.py"
    assert run_cli(["export", run, "--out", net], capsys)[0] == 0
    first = net.read_text()
    assert "(exported by nasrl_nb)" in first.splitlines()[0]
    compile(first, str(net), "exec")
    assert run_cli(["export", run, "--out", net, "--class-name", "Other"], capsys)[0] == 0  # its own file: replaced
    assert "class Other(nn.Module)" in net.read_text()
    code, err = run_cli(["export", run, "--out", mine], capsys)
    assert_clean_error(code, err, "--force")
    assert mine.read_text() == "print('a file the user wrote')\n"
    assert run_cli(["export", run, "--out", mine, "--force"], capsys)[0] == 0
    assert "class ExportedNet(nn.Module)" in mine.read_text()


def test_export_api_refuses_a_foreign_file_unless_forced(workdir):
    from nasrl_nb.assembly.result import result, write_export

    mine = workdir / "mine.py"
    with pytest.raises(ValueError, match=r"out: .*exists and was not written by nasrl_nb export; pass --force \(force=True\)"):
        result(workdir / "run").to_pytorch(mine)
    with pytest.raises(ValueError, match=r"out: .*force=True"):
        write_export(mine, "x = 1\n")
    assert mine.read_text() == "print('a file the user wrote')\n"
    source = result(workdir / "run").to_pytorch(mine, force=True)
    assert mine.read_text() == source


# --- the files of a run share one mode ---------------------------------------------------------------
def test_every_file_of_a_run_has_the_same_permissions(template_run):
    modes = {name: (template_run / name).stat().st_mode & 0o777 for name in RUN_FILES if (template_run / name).exists()}
    assert {"history.jsonl", "summary.json", "checkpoint.pt"} <= set(modes)
    umask = os.umask(0)
    os.umask(umask)
    assert set(modes.values()) == {0o666 & ~umask}, modes


# --- the real program: no traceback reaches stderr, exit status 2; Ctrl-C is clean -----------------
SUBPROCESS_CASES = [
    "search --out names a file",
    "search --controller-lr='-1'",
    "search --seed='1180591620717411303424'",
    "train --arch @binary",
    "train macro --arch @deep json",
    "train --channels 1000000",
    "export --out a file the user wrote",
    "export --class-name 'class'",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_the_program_prints_one_line_and_exits_2(name, workdir):
    argv, fields = CLI_CASES[name]
    before = snapshot(workdir)
    out = subprocess.run(
        [sys.executable, "-m", "nasrl_nb", *[a.replace("{w}", str(workdir)) for a in argv]],
        capture_output=True, text=True, cwd=REPO, timeout=180, env={**os.environ, "NASRL_NB_QUICK": "1"},
    )
    assert_clean_error(out.returncode, out.stderr, *fields)
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert snapshot(workdir) == before


# "ready" is printed once the interpreter is up and runpy has found the package (its __init__ only
# defines lazy names): a Ctrl-C inside Python's own start-up (site, encodings, runpy) is not ours
STARTER = (
    "import runpy, sys, nasrl_nb; print('ready', flush=True); sys.argv = ['nasrl_nb', *sys.argv[1:]]; "
    "runpy.run_module('nasrl_nb', run_name='__main__')"
)


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3, 0.5])
def test_ctrl_c_in_the_first_half_second_is_clean(delay, tmp_path):
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", STARTER, "search", "--budget", "2", *TINY, "--quiet", "--out", str(tmp_path / f"r{attempt}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "NASRL_NB_QUICK": "1"},
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)
        frames = re.findall(r'File "([^"]+)"', err)
        if not frames or any("nasrl_nb" in frame for frame in frames):
            break  # else the signal landed in the starter or in runpy, before nasrl_nb ran: try again
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 130), (proc.returncode, err)
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1].startswith("interrupted"), err


# --- property-based: random option values and random bytes in run files ------------------------------
TEXT_OPTIONS = ["--epochs", "--batch", "--budget", "--seed", "--lr", "--channels", "--cells-per-stage", "--max-samples",
                "--max-params", "--max-flops", "--max-latency-ms", "--controller-lr", "--entropy-weight", "--device",
                "--method", "--space", "--dataset", "--constraint-mode"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
values = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@SETTINGS
@given(opt=st.sampled_from(TEXT_OPTIONS), value=values)
def test_random_search_option_values_are_a_clean_error(opt, value, workdir, capsys):
    # --out names a file, so even a value that is fine ends in a clean error before any training
    code, err = run_cli(["search", opt, value, "--quiet", "--out", workdir / "afile"], capsys)
    assert code == 2 and "Traceback" not in err and "error:" in err, err


@SETTINGS
@given(opt=st.sampled_from(["--epochs", "--lr", "--batch-size", "--seed", "--channels", "--max-samples", "--optimizer",
                            "--device", "--space"]), value=values)
def test_random_train_option_values_are_a_clean_error(opt, value, capsys):
    code, err = run_cli(["train", "--arch", "not an architecture", opt, value], capsys)
    assert code == 2 and "Traceback" not in err and "error:" in err, err


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(RUN_FILES), data=st.binary(max_size=300), keep=st.integers(0, 400))
def test_random_bytes_in_a_run_file_are_a_clean_error_or_a_clean_success(file, data, keep, template_run, tmp_path_factory, capsys):
    run = tmp_path_factory.mktemp("fuzz") / "run"
    shutil.copytree(template_run, run)
    original = (run / file).read_bytes()
    damage(run, file, original[:keep] + data)  # a prefix of the real file (a torn write), then noise
    for argv in (["search", "--out", run, "--resume", "--quiet"], ["export", run]):
        code, err = run_cli(argv, capsys)
        assert code in (0, 2), (code, err)
        assert "Traceback" not in err, err
        if code == 2:
            assert "error:" in err
