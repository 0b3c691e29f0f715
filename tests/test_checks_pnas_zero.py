"""The checkers of notebooks 12 (PNAS's beam size) and 13 (AutoML-Zero's Learn rule and the FEC cache).

Each checker accepts every correct form of its answer and rejects the usual wrong ones with a
hint that names the missed idea.
"""

from __future__ import annotations

import pytest

from nasrl_nb.checks import check_beam_size, check_fec_collisions, check_learn_rule, solution
from nasrl_nb.zero.evaluate import ProgramEvaluator
from nasrl_nb.zero.examples import hebbian, logistic_regression
from nasrl_nb.zero.program import Instruction, MemoryLayout, Program
from nasrl_nb.zero.tasks import projected_binary_tasks


def _fails(result, *needles: str) -> None:
    assert not result, result
    for needle in needles:
        assert needle in result.message, result.message


# --- PNAS: K from the beam rule -----------------------------------------------------------------


def test_beam_size_is_what_make_search_fixes():
    import nasrl_nb as nb
    from nasrl_nb.bench.evaluator import TabularEvaluator
    from nasrl_nb.bench.tabular import TabularBenchmark
    from nasrl_nb.pnas.expansion import distinct_functions, one_edge_cells

    bench = TabularBenchmark.load("bench:digits-cell")
    first = distinct_functions(bench.space, one_edge_cells(bench.space))
    for budget in (50, 100, 300):
        search = nb.make_search("pnas", "cell", evaluator=TabularEvaluator(bench, seed=0), budget=budget, seed=0,
                                progress=False)
        assert check_beam_size(budget, search.strategy.beam_size, first_step=first)


@pytest.mark.parametrize("answer", [58, 58.0, (300 - 9) // 5])
def test_beam_size_passes_in_several_forms(answer):
    assert check_beam_size(300, answer)


def test_beam_size_hints():
    _fails(check_beam_size(300, 60), "Step 1 spends part of the budget")
    _fails(check_beam_size(300, 55), "distinct function")
    _fails(check_beam_size(300, 48), "not an expansion step")
    _fails(check_beam_size(300, 59), "Round down")
    _fails(check_beam_size(300, 70), "too high")
    _fails(check_beam_size(300, "58"), "whole number")
    _fails(check_beam_size(300, None), "whole number")


def test_beam_size_solution_passes():
    namespace: dict = {"functions": 9}  # notebook 12's distinct functions among the one-edge cells
    exec(solution("beam_size").code, namespace)
    assert check_beam_size(300, namespace["answer"])


# --- AutoML-Zero: Learn of logistic regression ------------------------------------------------

LAYOUT = MemoryLayout(scalars=4, vectors=2, matrices=0, dim=8)
TASKS = projected_binary_tasks(8, dim=8, seed=0)


@pytest.mark.parametrize("answer", [
    ["s_sub s2 s0 s1", "sv_mul v0 s2 v0", "v_add v1 v1 v0"],  # the reference
    "s_sub s2 s0 s1; sv_mul v0 s2 v0; v_add v1 v1 v0",  # one text
    ["s_sub s3 s0 s1", "sv_mul v0 s3 v0", "v_add v1 v0 v1"],  # another scratch scalar, commuted sum
    ["s_sub s1 s0 s1", "sv_mul v0 s1 v0", "v_add v1 v1 v0"],  # the error in s1: Predict overwrites it
    ["s_sub s2 s1 s0", "sv_mul v0 s2 v0", "v_sub v1 v1 v0"],  # two minus signs
    ["s_sub s2 s0 s1", "sv_mul v0 s2 v0", "v_add v1 v1 v0", "s_add s3 s3 s3"],  # a dead line
    [Instruction("s_sub", 2, (0, 1)), Instruction("sv_mul", 0, (2, 0)), Instruction("v_add", 1, (1, 0))],
    logistic_regression(),  # a whole Program
    logistic_regression().to_text(),  # a whole program's text
])
def test_learn_rule_accepts_every_correct_form(answer):
    assert check_learn_rule(answer, LAYOUT, TASKS)
    assert check_learn_rule(answer)  # the default tasks too


def test_learn_rule_hints():
    _fails(check_learn_rule([], LAYOUT, TASKS), "leaves the weights")
    _fails(check_learn_rule(["sv_mul v0 s0 v0", "v_add v1 v1 v0"], LAYOUT, TASKS), "no error term", "Hebbian")
    _fails(check_learn_rule(["s_sub s2 s1 s0", "sv_mul v0 s2 v0", "v_add v1 v1 v0"], LAYOUT, TASKS), "sign")
    _fails(check_learn_rule(["s_sub s2 s0 s1", "sv_mul v1 s2 v0"], LAYOUT, TASKS), "replaced", "accumulated")
    _fails(check_learn_rule(["sv_mul v0 s2 v0", "s_sub s2 s0 s1", "v_add v1 v1 v0"], LAYOUT, TASKS), "order")
    _fails(check_learn_rule(logistic_regression(0.5), LAYOUT, TASKS), "Setup", "learning rate 1")
    _fails(check_learn_rule(["v_add v1 v1 v0"], LAYOUT, TASKS), "error label - prediction")
    _fails(check_learn_rule(["s_sub s5 s0 s1", "sv_mul v0 s5 v0", "v_add v1 v1 v0"], LAYOUT, TASKS),
           "s5", "4 scalars")
    _fails(check_learn_rule("s_sub s2 s0", LAYOUT, TASKS), "could not be read")
    _fails(check_learn_rule(3, LAYOUT, TASKS), "list of Instructions")
    wrong_predict = logistic_regression().replace("predict", (Instruction("dot", 1, (0, 0)),))
    _fails(check_learn_rule(wrong_predict, LAYOUT, TASKS), "Predict")


def test_learn_rule_solution_passes():
    namespace: dict = {}
    exec(solution("learn_rule").code, namespace)
    assert check_learn_rule(namespace["answer"], LAYOUT, TASKS)


# --- AutoML-Zero: which programs the cache answers -----------------------------------------------

REFERENCE = logistic_regression()
CANDIDATES = {name: Program.parse(text) for name, text in {
    "a": "setup: s_add s3 s3 s3 | predict: dot s1 v1 v0 | learn: s_sub s2 s0 s1; sv_mul v0 s2 v0; v_add v1 v1 v0",
    "b": "setup: | predict: dot s1 v1 v0 | learn: s_sub s2 s0 s1; sv_mul v0 s2 v0; v_add v1 v0 v1",
    "c": "setup: s_const s3 0.5 | predict: dot s1 v1 v0 | learn: s_sub s2 s0 s1; s_mul s2 s3 s2; sv_mul v0 s2 v0; "
         "v_add v1 v1 v0",
    "d": "setup: | predict: dot s1 v1 v0 | learn: sv_mul v0 s2 v0; s_sub s2 s0 s1; v_add v1 v1 v0",
    "e": "setup: | predict: dot s1 v1 v0; s_sub s3 s0 s1 | learn: s_sub s2 s0 s1; sv_mul v0 s2 v0; v_add v1 v1 v0",
    "f": "setup: | predict: dot s1 v0 v1 | learn: s_sub s2 s0 s1; sv_mul v0 s2 v0; v_add v1 v1 v0",
    "hebbian": hebbian().to_text(),
}.items()}
EVALUATOR = ProgramEvaluator(num_tasks=4, test_tasks=0)


def test_fec_collisions_are_what_the_evaluator_caches():
    """The checker's set is the set of programs a real evaluator answers from its cache after the reference."""
    evaluator = ProgramEvaluator(num_tasks=4, test_tasks=0)
    evaluator.evaluate_program(REFERENCE, LAYOUT)
    hits = set()
    for name, program in CANDIDATES.items():
        fresh = ProgramEvaluator(num_tasks=4, test_tasks=0)
        fresh.evaluate_program(REFERENCE, LAYOUT)
        if fresh.evaluate_program(program, LAYOUT)["fec_hit"]:
            hits.add(name)
    assert hits == {"a", "b", "e", "f"}
    assert check_fec_collisions(REFERENCE, CANDIDATES, hits, evaluator=EVALUATOR, layout=LAYOUT)


@pytest.mark.parametrize("answer", [{"a", "b", "e", "f"}, ["f", "e", "b", "a"], ("a", "b", "e", "f"),
                                    frozenset("abef")])
def test_fec_collisions_accepts_every_form(answer):
    assert check_fec_collisions(REFERENCE, CANDIDATES, answer, evaluator=EVALUATOR, layout=LAYOUT)
    assert check_fec_collisions(REFERENCE, CANDIDATES, answer)  # the default evaluator and layout


def test_fec_collisions_hints():
    check = lambda answer: check_fec_collisions(REFERENCE, CANDIDATES, answer, evaluator=EVALUATOR, layout=LAYOUT)  # noqa: E731
    _fails(check({"a", "b"}), "hashes predictions, not text")  # the commuted dot and the dead Predict line missed
    _fails(check(set()), "hashes predictions, not text")
    _fails(check("a"), "hashes predictions, not text")
    _fails(check({"a", "b", "c", "e", "f"}), "another step size")  # a new learning rate changes the predictions
    _fails(check({"a", "b", "d", "e", "f"}), "used before it is computed")
    _fails(check(set(CANDIDATES)), "learn differently")
    _fails(check({"z"}), "not a program's name", "allowed values")
    _fails(check(3), "names of the programs")


def test_fec_collisions_solution_passes():
    namespace = {"reference": REFERENCE, "candidates": CANDIDATES, "evaluator": EVALUATOR, "layout": LAYOUT}
    exec(solution("fec_collisions").code, namespace)
    assert namespace["answer"] == {"a", "b", "e", "f"}


def test_fec_collisions_needs_candidates():
    with pytest.raises(ValueError, match="candidates"):
        check_fec_collisions(REFERENCE, {}, set())
