"""AutoML-Zero (nasrl_nb.zero): the interpreter against known values and against its one-task
Python twin, fitness of hand-written programs, mutations, the functional-equivalence cache,
seeded searches, exact resume, and bad input (one line naming the field; CLI exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nasrl_nb.cli.commands import main
from nasrl_nb.zero.evaluate import ProgramEvaluator, probe_hash, program_fitness
from nasrl_nb.zero.examples import hebbian, logistic_regression
from nasrl_nb.zero.interpreter import Memory, execute, run_component, sigmoid
from nasrl_nb.zero.mutations import MUTATIONS, mutate, random_instruction
from nasrl_nb.zero.ops import OPS, RANDOM_SHAPES
from nasrl_nb.zero.program import Instruction as I
from nasrl_nb.zero.program import MemoryLayout, Program
from nasrl_nb.zero.run import ZeroConfig, best_program, improvements, make_zero_search
from nasrl_nb.zero.space import ProgramSpace
from nasrl_nb.zero.tasks import projected_binary_tasks

LAYOUT = MemoryLayout(scalars=4, vectors=3, matrices=2, dim=3)
TINY = dict(budget=60, batch_size=10, population_size=10, sample_size=3, num_tasks=2, test_tasks=1, n_train=20,
            n_valid=20, scalars=3, vectors=2, max_setup=1, max_predict=2, max_learn=3)


@pytest.fixture(scope="module")
def tasks():
    return projected_binary_tasks(8, dim=8, seed=0)


# --- the interpreter ---------------------------------------------------------------------------
def _memory():
    """Two tasks with known contents."""
    mem = Memory.zeros(LAYOUT, 2)
    mem.s[:, 0], mem.s[:, 1] = [2.0, -1.0], [3.0, 0.5]
    mem.v[:, 0] = [[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]]
    mem.v[:, 1] = [[4.0, 5.0, 6.0], [1.0, 1.0, 1.0]]
    mem.m[:, 0] = np.arange(18.0).reshape(2, 3, 3)
    return mem


@pytest.mark.parametrize("ins, kind, out, expected", [
    (I("s_sub", 2, (0, 1)), "s", 2, [-1.0, -1.5]),
    (I("s_mul", 2, (0, 1)), "s", 2, [6.0, -0.5]),
    (I("s_heaviside", 2, (1,)), "s", 2, [1.0, 1.0]),
    (I("s_const", 3, (), (0.25,)), "s", 3, [0.25, 0.25]),
    (I("dot", 2, (0, 1)), "s", 2, [32.0, 1.0]),
    (I("v_norm", 2, (0,)), "s", 2, [np.sqrt(14.0), np.sqrt(5.0)]),
    (I("v_mean", 2, (1,)), "s", 2, [5.0, 1.0]),
    (I("sv_mul", 2, (0, 0)), "v", 2, [[2.0, 4.0, 6.0], [0.0, 1.0, -2.0]]),
    (I("v_relu", 2, (0,)), "v", 2, [[1.0, 2.0, 3.0], [0.0, 0.0, 2.0]]),
    (I("s_broadcast", 2, (1,)), "v", 2, [[3.0] * 3, [0.5] * 3]),
    (I("mv", 2, (0, 0)), "v", 2, [[8.0, 26.0, 44.0], [12.0, 15.0, 18.0]]),
    (I("outer", 1, (0, 1)), "m", 1, [np.outer([1, 2, 3], [4, 5, 6]), np.outer([0, -1, 2], [1, 1, 1])]),
    (I("m_transpose", 1, (0,)), "m", 1, [np.arange(9.0).reshape(3, 3).T, np.arange(9.0, 18.0).reshape(3, 3).T]),
    (I("m_norm", 3, (0,)), "s", 3, [np.linalg.norm(np.arange(9.0)), np.linalg.norm(np.arange(9.0, 18.0))]),
])
def test_ops_on_known_inputs(ins, kind, out, expected):
    mem = _memory()
    run_component([ins], mem, np.random.default_rng(0), LAYOUT.dim)
    np.testing.assert_allclose(mem.bank(kind)[:, out], np.array(expected, dtype=float))


def test_random_ops_draw_per_task_with_the_right_shape():
    mem = _memory()
    run_component([I("v_gaussian", 2, (), (0.0, 1.0)), I("m_gaussian", 1, (), (5.0, 0.1))], mem, np.random.default_rng(0), 3)
    assert not np.allclose(mem.v[0, 2], mem.v[1, 2])  # independent draws per task
    assert abs(mem.m[:, 1].mean() - 5.0) < 0.2
    assert set(RANDOM_SHAPES) == {name for name, op in OPS.items() if op.fn is None}


def _run_python_twin(program: Program, layout: MemoryLayout, x_train, y_train, x_valid):
    """One task, through the program's rendered Python (the simple twin of the batched interpreter)."""
    ns = {"np": np, "d": layout.dim, "rng": None}
    ns.update({f"s{i}": np.float64(0.0) for i in range(layout.scalars)})
    ns.update({f"v{i}": np.zeros(layout.dim) for i in range(layout.vectors)})
    ns.update({f"m{i}": np.zeros((layout.dim, layout.dim)) for i in range(layout.matrices)})
    exec(program.to_python(), ns)
    train, valid = [], []
    with np.errstate(all="ignore"):
        ns["setup"]()
        for x, y in zip(x_train, y_train):
            ns["v0"], ns["s0"] = x.copy(), np.float64(0.0)
            ns["predict"]()
            ns["s1"] = sigmoid(ns["s1"])
            train.append(ns["s1"])
            ns["v0"], ns["s0"] = x.copy(), np.float64(y)
            ns["learn"]()
        for x in x_valid:
            ns["v0"], ns["s0"] = x.copy(), np.float64(0.0)
            ns["predict"]()
            valid.append(ns["s1"])
    return np.array(train, dtype=float), np.array(valid, dtype=float)


def test_batched_interpreter_equals_the_rendered_python_one_task_at_a_time():
    deterministic = [n for n, op in OPS.items() if op.fn is not None and n not in ("s_div", "s_reciprocal")]
    space = ProgramSpace(LAYOUT, deterministic, {"setup": 3, "predict": 4, "learn": 4})
    tb = projected_binary_tasks(3, dim=LAYOUT.dim, n_train=15, n_valid=10, seed=3)
    rng = np.random.default_rng(0)
    for _ in range(12):
        program = Program(*(tuple(random_instruction(space, rng) for _ in range(int(rng.integers(1, 4)))) for _ in range(3)))
        batched = execute(program, LAYOUT, tb.x_train, tb.y_train, tb.x_valid, rng=np.random.default_rng(0))
        for t in range(tb.num_tasks):
            train, valid = _run_python_twin(program, LAYOUT, tb.x_train[t], tb.y_train[t], tb.x_valid[t])
            np.testing.assert_allclose(batched.train_predictions[t], train, rtol=1e-6, atol=1e-9, equal_nan=True)
            np.testing.assert_allclose(batched.valid_logits[t], valid, rtol=1e-6, atol=1e-9, equal_nan=True)


def test_the_label_is_hidden_from_predict():
    """``s1 = s0 + s0`` in Predict would be a perfect classifier if Predict saw the label."""
    leak = Program(predict=(I("s_add", 1, (0, 0)),))
    tb = projected_binary_tasks(4, seed=1)
    assert program_fitness(leak, MemoryLayout(), tb).mean() < 0.7


def test_learn_sees_the_sigmoid_of_the_prediction():
    """Learn copies s1 into s2 (s2 = s1 + s3, s3 = 0); Predict reports s2 - 0.5 shifted back as a logit."""
    program = Program(predict=(I("s_const", 1, (), (2.0,)),), learn=(I("s_add", 2, (1, 3)),))
    tb = projected_binary_tasks(1, n_train=3, n_valid=2, seed=0)
    layout = MemoryLayout()
    execution = execute(program, layout, tb.x_train, tb.y_train, tb.x_valid, rng=np.random.default_rng(0))
    np.testing.assert_allclose(execution.train_predictions, sigmoid(2.0))


# --- fitness --------------------------------------------------------------------------------------
def test_logistic_regression_is_fit_and_broken_versions_are_not(tasks):
    layout = MemoryLayout(scalars=4, vectors=2, matrices=0, dim=8)
    good = program_fitness(logistic_regression(), layout, tasks).mean()
    assert good > 0.85
    flipped = logistic_regression().replace("learn", (I("s_sub", 2, (1, 0)), *logistic_regression().learn[1:]))  # w -= grad
    assert program_fitness(flipped, layout, tasks).mean() < 0.5
    assert program_fitness(Program(), layout, tasks).mean() == 0.5  # the empty program answers class 0; tasks are balanced
    assert program_fitness(hebbian(), layout, tasks).mean() < 0.8  # no error term: the features' shared offset defeats it
    centred = projected_binary_tasks(8, dim=8, seed=0, offset=0.0)
    assert program_fitness(hebbian(), layout, centred).mean() > 0.85  # ... which is why the tasks have one


def test_a_diverging_program_gets_zero_on_its_tasks(tasks):
    blowup = Program(setup=(I("s_const", 2, (), (1e300,)),), predict=(I("s_mul", 1, (2, 2)), I("s_sub", 1, (1, 1))))
    layout = MemoryLayout()
    assert program_fitness(blowup, layout, tasks).max() == 0.0  # inf * inf - inf is NaN: diverged


# --- mutations ---------------------------------------------------------------------------------
def test_mutations_keep_programs_valid_and_change_them():
    space = ProgramSpace(MemoryLayout(scalars=4, vectors=3, matrices=1, dim=4), "full",
                         {"setup": 2, "predict": 3, "learn": 4})
    rng = np.random.default_rng(0)
    kinds, program = {}, Program()
    for _ in range(600):
        child, kind = mutate(program, space, rng)
        space.wrap(child)  # validates: ops of the space, addresses in range, sizes within max_sizes
        if kind != "randomize_component":
            assert child != program
        kinds[kind] = kinds.get(kind, 0) + 1
        program = child
    assert set(kinds) == set(MUTATIONS)


def test_the_empty_program_can_only_grow():
    space = ProgramSpace()
    rng = np.random.default_rng(1)
    for _ in range(20):
        child, kind = mutate(Program(), space, rng)
        assert kind == "insert_remove" and len(child) == 1


def test_program_text_round_trips():
    space = ProgramSpace(MemoryLayout(matrices=2), "full")
    rng = np.random.default_rng(2)
    program = Program()
    for _ in range(200):
        program, _ = mutate(program, space, rng)
        assert Program.parse(program.to_text()) == program
        assert space.parse(str(space.wrap(program))).choices[0] == program


# --- functional equivalence cache ----------------------------------------------------------------
def test_fec_hits_equivalent_programs_and_misses_different_ones():
    evaluator = ProgramEvaluator(num_tasks=3, test_tasks=1, n_train=40, n_valid=40)
    layout = MemoryLayout()
    lr = logistic_regression()
    first = evaluator.evaluate_program(lr, layout)
    dead = lr.replace("setup", (I("s_add", 3, (3, 3)),))  # writes 0 + 0 into an unread scalar
    swapped = lr.replace("learn", (I("s_sub", 2, (0, 1)), I("sv_mul", 0, (2, 0)), I("v_add", 1, (0, 1))))  # w = x' + w
    for twin in (dead, swapped):
        record = evaluator.evaluate_program(twin, layout)
        assert record["fec_hit"] and record["val_accuracy"] == first["val_accuracy"]
    for other in (hebbian(), logistic_regression(0.1), Program()):
        assert not evaluator.evaluate_program(other, layout)["fec_hit"]
    assert (evaluator.hits, evaluator.misses) == (2, 4)
    fresh = ProgramEvaluator(num_tasks=3, test_tasks=1, n_train=40, n_valid=40, fec=False)
    assert fresh.evaluate_program(dead, layout)["val_accuracy"] == first["val_accuracy"]  # the hit was right


def test_probe_hash_tells_different_predictions_apart(tasks):
    layout = MemoryLayout()
    probe = tasks.head(10, 10)
    assert probe_hash(logistic_regression(), layout, probe) != probe_hash(logistic_regression(0.5), layout, probe)
    assert probe_hash(Program(), layout, probe) == probe_hash(Program(learn=(I("s_add", 3, (2, 2)),)), layout, probe)


# --- the search ------------------------------------------------------------------------------------
def _rows(history):
    return [(r["arch"], r["reward"], r["fec_hit"], r["step"]) for r in history]


def test_seeded_searches_repeat_and_seeds_differ():
    a, b, c = (make_zero_search(seed=s, **TINY) for s in (0, 0, 1))
    for search in (a, b, c):
        search.run()
    assert _rows(a.history) == _rows(b.history)
    assert _rows(a.history) != _rows(c.history)
    assert a.history[0]["arch"] == Program().to_text()  # the population starts empty
    assert a.fec_hits > 0


def test_resume_gives_the_same_run(tmp_path):
    whole = make_zero_search(seed=3, out_dir=tmp_path / "whole", **TINY)
    whole.run()
    part = make_zero_search(seed=3, out_dir=tmp_path / "part", **{**TINY, "budget": 30})
    part.run()
    resumed = make_zero_search(seed=3, out_dir=tmp_path / "part", resume=True, **TINY)
    assert resumed.evaluations == 30
    resumed.run()
    assert _rows(resumed.history) == _rows(whole.history)
    assert resumed.evaluator.hits == whole.evaluator.hits  # the cache came back with the checkpoint
    with pytest.raises(ValueError, match=r"zero\.dim: 8 -> 4"):
        make_zero_search(seed=3, out_dir=tmp_path / "part", resume=True, **{**TINY, "dim": 4})


def test_cli_runs_and_resumes_like_one_run(tmp_path, capsys):
    args = ["--quiet", "--seed", "2", "--population-size", "10", "--sample-size", "3", "--num-tasks", "2",
            "--test-tasks", "1", "--n-train", "20", "--n-valid", "20", "--batch-size", "10"]
    assert main(["zero", "--out", str(tmp_path / "a"), "--budget", "40", *args]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert main(["zero", "--out", str(tmp_path / "b"), "--budget", "20", *args]) == 0
    capsys.readouterr()
    assert main(["zero", "--out", str(tmp_path / "b"), "--budget", "40", "--resume", "--quiet"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["evaluations"] == whole["evaluations"] == 40
    assert resumed["best_arch"] == whole["best_arch"] and resumed["fec_hits"] == whole["fec_hits"]
    assert resumed["best_python"].startswith("def setup():")
    lines = [json.loads(x) for x in (tmp_path / "b" / "history.jsonl").read_text().splitlines()]
    assert [r["arch"] for r in lines] == [json.loads(x)["arch"] for x in (tmp_path / "a" / "history.jsonl").read_text().splitlines()]


def test_best_program_and_improvements_read_the_history():
    search = make_zero_search(seed=0, **TINY)
    search.run()
    program, record = best_program(search)
    assert record["reward"] == max(r["reward"] for r in search.history)
    steps = improvements(search.history)
    assert steps[0]["evaluation"] == 0 and steps[-1]["reward"] == record["reward"]
    assert all(a["reward"] < b["reward"] for a, b in zip(steps, steps[1:]))
    assert isinstance(program, Program)


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, field", [
    (lambda: I("nope", 0), "op"),
    (lambda: I("s_add", 0, (1,)), "inputs"),
    (lambda: I("s_const", 0, (), ()), "data"),
    (lambda: Program.parse("predict: dot s1 v1"), "program"),
    (lambda: Program.parse("guess: dot s1 v1 v0"), "program"),
    (lambda: MemoryLayout(scalars=1), "scalars"),
    (lambda: ProgramSpace(ops="everything"), "ops"),
    (lambda: ProgramSpace(MemoryLayout(matrices=0), ["mm"]), "ops"),
    (lambda: ProgramSpace().wrap(Program(predict=(I("dot", 1, (7, 0)),))), "address"),
    (lambda: ProgramSpace(ops="linear").wrap(Program(predict=(I("mv", 0, (0, 0)),))), "op"),
    (lambda: ZeroConfig(ops="quadratic"), "ops"),
    (lambda: ZeroConfig(population_size=0), "population_size"),
    (lambda: ZeroConfig(population_size=5, sample_size=6), "sample_size"),
    (lambda: ZeroConfig(fec="yes"), "fec"),
    (lambda: ZeroConfig.from_dict({"mutation_rate": 0.9}), "zero"),
    (lambda: projected_binary_tasks(2, n_train=300, n_valid=100), "n_train"),
])
def test_bad_input_is_one_line_naming_the_field(make, field):
    with pytest.raises(ValueError) as err:
        make()
    message = str(err.value)
    assert message.startswith(f"{field}") and "\n" not in message


@pytest.mark.parametrize("argv, needle", [
    (["--budget", "0"], "--budget"),
    (["--ops", "quadratic"], "--ops"),
    (["--sample-size", "500"], "sample_size"),
    (["--scalars", "1"], "scalars"),
    (["--resume"], "--out"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, needle):
    assert main(["zero", "--out", str(tmp_path / "missing"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert needle in err[-1]
    assert not (tmp_path / "missing").exists()
