"""AutoML-Zero: how often does evolution from the empty program rediscover gradient descent, and how fast?

For each seed, runs :func:`nasrl_nb.zero.run.make_zero_search` (regularized evolution of
Setup/Predict/Learn programs on projected binary digits tasks, starting from the empty program)
with a fixed budget, and compares its best program (chosen by fitness on the search tasks)
with the hand-written logistic regression trained by SGD (:func:`nasrl_nb.zero.examples.logistic_regression`,
learning rate 1) on the *unseen* test tasks.

Success: the best program's test-task accuracy is within 0.01 of the hand-written program's
(or above it). ``error_term`` says whether its Learn computes ``s0 - s1`` (label minus
prediction) -- the gradient's error term -- somewhere. One JSON line per seed is appended to
``--out`` as it finishes, then a summary line.

    python -m benchmarks.zero_rediscovery --seeds 0 1 2 3 4 5 6 7 8 9 --budget 5000 --out zero.jsonl [--set sample_size=3]
"""

from __future__ import annotations

import argparse
import json
import time

from nasrl_nb.zero.evaluate import ProgramEvaluator
from nasrl_nb.zero.examples import logistic_regression
from nasrl_nb.zero.run import ZeroConfig, best_program, make_zero_search

SETTINGS = dict(num_tasks=4, test_tasks=4, n_train=60, n_valid=60)  # small tasks: a 2-core machine shared by many


def error_term(program) -> bool:
    """Does Learn compute label minus prediction (``s_sub sX s0 s1``)?"""
    return any(i.op == "s_sub" and i.inputs == (0, 1) for i in program.learn)


def reference(config: ZeroConfig) -> dict:
    """The hand-written program on the same tasks, without the cache."""
    evaluator = ProgramEvaluator(dim=config.dim, num_tasks=config.num_tasks, test_tasks=config.test_tasks,
                                 n_train=config.n_train, n_valid=config.n_valid, seed=config.task_seed, fec=False)
    record = evaluator.evaluate_program(logistic_regression(), config.space().layout)
    return {"val_accuracy": record["val_accuracy"], "test_accuracy": record["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--budget", type=int, default=5000)
    parser.add_argument("--out", default="zero_rediscovery.jsonl")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="other ZeroConfig settings, e.g. sample_size=3 max_learn=4 (integers)")
    args = parser.parse_args()
    extra = {k: int(v) for k, v in (item.split("=", 1) for item in args.set)}
    base = ZeroConfig(budget=args.budget, **{**SETTINGS, **extra})
    ref = reference(base)
    rows = []
    for seed in args.seeds:
        config = ZeroConfig.from_dict({**base.to_dict(), "seed": seed})
        start, cpu = time.perf_counter(), time.process_time()
        search = make_zero_search(config)
        search.run()
        program, record = best_program(search)
        row = {"seed": seed, "budget": args.budget, "wall_s": round(time.perf_counter() - start, 1),
               "cpu_s": round(time.process_time() - cpu, 1), "best_val": record["val_accuracy"],
               "best_test": record["test_accuracy"], "found_at": record["evaluation"], "fec_hits": search.fec_hits,
               "reference_val": ref["val_accuracy"], "reference_test": ref["test_accuracy"],
               "success": record["test_accuracy"] >= ref["test_accuracy"] - 0.01, "error_term": error_term(program),
               "program": program.to_text()}
        rows.append(row)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    summary = {"summary": True, "seeds": len(rows), "successes": sum(r["success"] for r in rows),
               "error_term": sum(r["error_term"] for r in rows), "wall_s": [r["wall_s"] for r in rows],
               "cpu_s": [r["cpu_s"] for r in rows], "settings": {**SETTINGS, **extra, "budget": args.budget}}
    with open(args.out, "a") as f:
        f.write(json.dumps(summary) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
