"""Do the defaults learn? Every method with its defaults, at a lab's budgets, over many seeds.

For each method and budget the script runs seeded searches with nothing but the method, the
table and the budget (``make_search``'s defaults: :data:`~nasrl_nb.assembly.config.METHOD_DEFAULTS`
and the batch-size rule), and reports for each:

* the test accuracy of the pick (the architecture with the best *validation* accuracy seen),
  mean ± standard error, and its difference to random search in standard errors of the
  difference (NAS-Bench-201's protocol, Dong & Yang 2020, Sec. 5);
* whether the method improves on its own start: the mean validation accuracy of the first and
  the last fifth of the architectures it evaluated (random search's stay equal);
* for the controllers, the policy's entropy (nats, summed over decisions) at the first and the
  last update.

``--real`` also runs ``--real-methods`` (default: REINFORCE and random search) on real children (trained on digits, one epoch
each) for a few seeds at a lab's budget, with the same summary.

    python -m benchmarks.learning_curves                               # 100 seeds x {50, 100, 300}, 2 workers
    python -m benchmarks.learning_curves --seeds 5 --budgets 50        # a quick look
    python -m benchmarks.learning_curves --real --real-seeds 5 --real-budget 48 --no-table
    python -m benchmarks.learning_curves --why --no-table                # why the old defaults did not learn
    python -m benchmarks.learning_curves --budgets 100 --transform rank  # the same table, accuracies -> rank / n
    python -m benchmarks.learning_curves --methods random --variant 'rank 4={"trainer_kwargs": {"rank_window": 4}}'
    python -m benchmarks.learning_curves --methods random --variant-of ucb --variant 'c 2={"bandit_kwargs": {"exploration": 2}}'

``--table`` takes any table (``bench:NAME``, ``csv:PATH``); ``--transform rank`` first writes a copy
whose validation and test accuracies are replaced by their rank / n over all rows (an increasing
transform that changes the rewards' scale and shape, not their order) to a temporary CSV.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nasrl_nb.runtime import environment_report

METHODS = ("random", "evolution", "reinforce", "ppo", "a2c", "trpo", "sac", "ucb", "thompson", "pnas")
_TABLE = {}


def _init(table: str | None) -> None:
    import torch

    torch.set_num_threads(1)  # two workers on two cores
    if table is not None:
        from nasrl_nb.bench.tabular import TabularBenchmark

        _TABLE["bench"] = TabularBenchmark.load(table)


def run_one(job) -> dict:
    """One seeded search with the defaults: ``(method, seed, budget, real)`` -> its learning record."""
    from nasrl_nb.assembly.compare import LearningCurve, learning_curve
    from nasrl_nb.assembly.factory import make_search

    method, seed, budget, real, *extra = job
    settings = extra[0] if extra else None  # a --variant's make_search keywords
    start = time.perf_counter()
    if real:
        search = make_search(method, "cell", "digits", budget=budget, seed=seed, epochs=1, progress=False)
        search.run()
        curve = LearningCurve.of(search)
    else:
        curve = learning_curve(_TABLE["bench"], method, seed, budget=budget, settings=settings)
    first, last = curve.fifths()
    return {"method": method, "seed": seed, "budget": budget, "curve": curve.best.tolist(), "first_fifth": first,
            "last_fifth": last, "entropy_first": float(curve.entropy[0]) if len(curve.entropy) else None,
            "entropy_last": float(curve.entropy[-1]) if len(curve.entropy) else None,
            "batch_size": curve.batch_size, "seconds": time.perf_counter() - start, "records": curve.records}


def summarize(runs: list[dict]) -> dict:
    finals = np.array([r["curve"][-1] for r in runs])
    first = np.array([r["first_fifth"] for r in runs])
    last = np.array([r["last_fifth"] for r in runs])
    ent0 = [r["entropy_first"] for r in runs if r["entropy_first"] is not None]
    ent1 = [r["entropy_last"] for r in runs if r["entropy_last"] is not None]
    n = len(runs)
    return {
        "runs": n, "batch_size": runs[0]["batch_size"],
        "final_mean": float(finals.mean()), "final_se": float(finals.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        "first_fifth": float(first.mean()), "last_fifth": float(last.mean()),
        "entropy_first": float(np.mean(ent0)) if ent0 else None, "entropy_last": float(np.mean(ent1)) if ent1 else None,
        "curve": np.mean([r["curve"] for r in runs], axis=0).tolist(),
        "seconds_per_run": float(np.mean([r["seconds"] for r in runs])),
        **({"steps": step_summary(runs)} if runs[0].get("records") else {}),
    }


def step_summary(runs: list[dict]) -> list[dict]:
    """Per PNAS step over the runs: mean candidates and trained cells, and the predictor's Spearman
    rho on the cells it chose (mean ± s.e. over the runs where the step was complete, >= 3 cells)."""
    out = []
    for step in range(1, 1 + max(len(r["records"]) for r in runs)):
        rows = [r["records"][step - 1] for r in runs if len(r["records"]) >= step]
        rhos = np.array([row["spearman"] for row in rows if row["spearman"] is not None], dtype=float)
        out.append({"step": step, "edges": rows[0]["edges"], "runs": len(rows),
                    "candidates": float(np.mean([row["candidates"] for row in rows])),
                    "trained": float(np.mean([row["trained"] for row in rows])),
                    "spearman_runs": len(rhos), "spearman": float(rhos.mean()) if len(rhos) else None,
                    "spearman_se": float(rhos.std(ddof=1) / math.sqrt(len(rhos))) if len(rhos) > 1 else None})
    return out


def pnas_markdown(results: dict, budgets) -> str:
    """PNAS's steps at each budget: candidates, cells trained, the predictor's Spearman rho."""
    lines = ["### PNAS step by step (means over the seeds)", "",
             "| budget | step | edges | candidates | trained | predictor's Spearman on the cells it chose (runs) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for budget in budgets:
        s = results.get(("pnas", budget))
        if s is None or "steps" not in s:
            continue
        grow = [row for row in s["steps"] if row["edges"] is not None]
        for row in s["steps"]:
            rho = "—" if row["spearman"] is None else (
                f"{row['spearman']:+.2f}" + ("" if row["spearman_se"] is None else f" ± {row['spearman_se']:.2f}")
                + f" ({row['spearman_runs']})")
            lines.append(f"| {budget} | {row['step']} | {row['edges'] or 'all'} | {row['candidates']:.0f} | "
                         f"{row['trained']:.1f} | {rho} |")
        lines.append(f"| {budget} | steps 1-6 | | {sum(r['candidates'] for r in grow):.0f} | "
                     f"{sum(r['trained'] for r in grow):.1f} | trained vs a search that trains every candidate |")
    return "\n".join(lines)


def rank_table(table: str, path: Path) -> str:
    """Write ``table`` with ``val_accuracy`` and ``test_accuracy`` replaced by their average rank / n to ``path``.

    The ranks are over all rows of the table (every architecture and seed), so the transform is
    increasing: every comparison of two accuracies comes out as before, while their scale and the
    shape of their distribution (digits-cell: a long tail of broken cells near 10%) become uniform.
    Returns ``csv:PATH`` for :meth:`TabularBenchmark.load`.
    """
    import csv
    import gzip

    from scipy.stats import rankdata

    from nasrl_nb.bench.tabular import resolve_table

    source = resolve_table(table)
    with (gzip.open(source, "rt") if str(source).endswith(".gz") else open(source)) as f:
        rows = list(csv.DictReader(f))
    for column in ("val_accuracy", "test_accuracy"):
        ranks = rankdata([float(r[column]) for r in rows])  # average ranks: ties stay ties
        for row, rank in zip(rows, ranks):
            row[column] = f"{rank / len(rows):.8f}"
    for row in rows:
        row.pop("val_accuracy_per_epoch", None)  # per-epoch curves are not transformed: left out
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return f"csv:{path}"


# the controller settings compared by --why: what main had before issue 19, the values the benchmark
# scripts had tuned (Adam), the first SGD defaults (z-scored advantages), and today's (rank advantages)
WHY_SETTINGS = {
    "before (Adam 3.5e-4, batch 8, batch-std advantages)": {
        "batch_size": 8, "trainer_kwargs": {"optimizer": "adam", "lr": 3.5e-4, "advantage_std": "batch", "rank_window": None}},
    "tuned Adam (0.01, batch 4, batch-std advantages)": {
        "batch_size": 4, "trainer_kwargs": {"optimizer": "adam", "lr": 0.01, "advantage_std": "batch", "rank_window": None}},
    "SGD 0.2, batch rule, (R - b) / history std": {"trainer_kwargs": {"rank_window": None}},
    "defaults (SGD 0.2, batch rule, ranks among the last 8 rewards)": {},
}


def step_sizes(initialisations: int = 5) -> list[float]:
    """Per decision, |grad log pi(a_t)|^2 over all the LSTM's weights / over its head's bias alone.

    A step of SGD changes decision t's logits by lr times this squared norm (times the advantage);
    a per-decision table of logits is the head's bias alone. Mean over ``initialisations`` seeds.
    """
    import torch

    from nasrl_nb.controllers.lstm import LSTMController
    from nasrl_nb.spaces.registry import get_space

    ratios = []
    for seed in range(initialisations):
        torch.manual_seed(seed)
        ctrl = LSTMController(get_space("cell"), seed=seed)
        out = ctrl(ctrl.sample(1).indices)
        row = []
        for t in range(out.decision_log_probs.shape[1]):
            grads = torch.autograd.grad(out.decision_log_probs[0, t], list(ctrl.parameters()), retain_graph=True, allow_unused=True)
            bias = torch.autograd.grad(out.decision_log_probs[0, t], [ctrl.heads[str(t)].bias], retain_graph=True)[0]
            row.append(sum(float((g ** 2).sum()) for g in grads if g is not None) / float((bias ** 2).sum()))
        ratios.append(row)
    return np.mean(ratios, axis=0).tolist()


def why(table: str, seeds: int) -> str:
    """The markdown of ``--why``: step sizes per decision, and each WHY_SETTINGS' learning at 100 evaluations."""
    from nasrl_nb.assembly.compare import LearningCurve, _run
    from nasrl_nb.bench.tabular import TabularBenchmark

    bench = TabularBenchmark.load(table)
    lines = ["| controller training | updates | entropy, first → last update (nats) | mean val. acc., first → last fifth | "
             "std of the advantages, last fifth of the updates | test acc. of the pick |", "|---|---:|---:|---:|---:|---:|"]
    for name, settings in WHY_SETTINGS.items():
        searches = [_run(bench, "reinforce", seed, 100, settings) for seed in range(seeds)]
        curves = [LearningCurve.of(search) for search in searches]
        first, last = np.mean([c.fifths() for c in curves], axis=0)
        finals = np.array([c.best[-1] for c in curves])
        # how far the late updates push: the spread of the advantages their losses used
        late = [np.std([a for step in s.steps[-max(1, len(s.steps) // 5):] for a in step.advantages]) for s in searches]
        lines.append(f"| {name} | {len(curves[0].entropy)} | {np.mean([c.entropy[0] for c in curves]):.3f} → "
                     f"{np.mean([c.entropy[-1] for c in curves]):.3f} | {100 * first:.1f} → {100 * last:.1f} | "
                     f"{np.mean(late):.2f} | {100 * finals.mean():.2f} ± {100 * finals.std(ddof=1) / math.sqrt(seeds):.2f} |")
    ratios = ", ".join(f"{r:.2f}" for r in step_sizes())
    return (f"### Why the old defaults did not learn (REINFORCE on {table}, 100 evaluations, {seeds} seeds)\n\n"
            + "\n".join(lines) + f"\n\nSquared gradient norm of log pi(a_t) over all the LSTM's weights, relative to "
            f"its head's bias alone (a per-decision table of logits), decisions 1-6, mean of 5 initialisations: {ratios}.")


def markdown(results: dict, budgets, title: str) -> str:
    lines = [title, "",
             "| method | budget | batch | test acc. of the pick (mean ± s.e.) | vs random (s.e. of the difference) | "
             "mean val. acc., first → last fifth | entropy, first → last update (nats) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for budget in budgets:
        rand = results.get(("random", budget))
        for (method, b), s in results.items():
            if b != budget:
                continue
            if rand is not None and method != "random":
                diff = s["final_mean"] - rand["final_mean"]
                se = math.hypot(s["final_se"], rand["final_se"])
                vs = f"{100 * diff:+.2f} ({diff / se:+.1f})" if se > 0 else f"{100 * diff:+.2f}"
            else:
                vs = "—"
            ent = ("—" if s["entropy_first"] is None
                   else f"{s['entropy_first']:.2f} → {s['entropy_last']:.2f}")
            lines.append(f"| {method} | {budget} | {s['batch_size']} | {100 * s['final_mean']:.2f} ± {100 * s['final_se']:.2f} | "
                         f"{vs} | {100 * s['first_fifth']:.1f} → {100 * s['last_fifth']:.1f} | {ent} |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default="bench:digits-cell", help="bench:NAME or csv:PATH (default: bench:digits-cell)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 300], help="evaluations per run")
    parser.add_argument("--seeds", type=int, default=100, help="seeded runs per method and budget (default: 100)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--workers", type=int, default=2, help="processes, one torch thread each (default: 2)")
    parser.add_argument("--real", action="store_true", help="also real children on digits (--real-methods)")
    parser.add_argument("--real-seeds", type=int, default=5)
    parser.add_argument("--real-budget", type=int, default=48)
    parser.add_argument("--real-methods", nargs="+", choices=METHODS, default=["random", "reinforce"],
                        help="the methods run on real children (default: random reinforce)")
    parser.add_argument("--no-table", action="store_true", help="skip the table (with --real or --why)")
    parser.add_argument("--why", action="store_true", help="old vs new controller settings, and per-decision step sizes")
    parser.add_argument("--why-seeds", type=int, default=20)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                        help="also --variant-of's method with these make_search keywords, as a row named NAME "
                             "(repeatable), e.g. 'rank 4={\"trainer_kwargs\": {\"rank_window\": 4}}'")
    parser.add_argument("--variant-of", choices=METHODS, default="reinforce",
                        help="the method the --variant rows run (default: reinforce)")
    parser.add_argument("--transform", choices=("none", "rank"), default="none",
                        help="rank: run on a copy of the table whose accuracies are replaced by rank / n")
    parser.add_argument("--markdown", default=None, help="also write the markdown sections to this file")
    parser.add_argument("--json", default=None, help="also write every summary to this file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    sections, dump = [], {}
    context = multiprocessing.get_context("spawn")
    variants = {}
    for spec in args.variant:
        name, sep, settings = spec.partition("=")
        try:
            variants[name] = json.loads(settings)
        except json.JSONDecodeError:
            sep = ""
        if not sep or not name or not isinstance(variants.get(name), dict):
            raise SystemExit(f"--variant: expected NAME=JSON with a JSON object, got {spec!r}")
    scratch = tempfile.TemporaryDirectory()
    if args.transform == "rank":
        args.table = rank_table(args.table, Path(scratch.name) / "ranked.csv")
    if not args.no_table:
        with context.Pool(args.workers, initializer=_init, initargs=(args.table,)) as pool:
            results = {}
            for budget in args.budgets:
                for method in args.methods:
                    seeds = range(args.first_seed, args.first_seed + args.seeds)
                    runs = pool.map(run_one, [(method, s, budget, False) for s in seeds])
                    results[(method, budget)] = summarize(runs)
                    s = results[(method, budget)]
                    print(f"{method} @ {budget}: pick {100 * s['final_mean']:.2f} ± {100 * s['final_se']:.2f}, "
                          f"val {100 * s['first_fifth']:.1f} -> {100 * s['last_fifth']:.1f}, "
                          f"entropy {s['entropy_first']} -> {s['entropy_last']}", file=sys.stderr, flush=True)
                    if "steps" in s:  # PNAS: its steps as soon as they are measured
                        print(pnas_markdown({(method, budget): s}, [budget]), file=sys.stderr, flush=True)
                for name, settings in variants.items():  # --variant-of's method with other settings, as extra rows
                    seeds = range(args.first_seed, args.first_seed + args.seeds)
                    runs = pool.map(run_one, [(args.variant_of, s, budget, False, settings) for s in seeds])
                    results[(name, budget)] = summarize(runs)
                    s = results[(name, budget)]
                    print(f"{name} @ {budget}: pick {100 * s['final_mean']:.2f} ± {100 * s['final_se']:.2f}, "
                          f"val {100 * s['first_fifth']:.1f} -> {100 * s['last_fifth']:.1f}, "
                          f"entropy {s['entropy_first']} -> {s['entropy_last']}", file=sys.stderr, flush=True)
            pool.close()
            pool.join()
        shown = args.table if args.transform == "none" else f"{parse_args(argv).table}, accuracies replaced by rank / n"
        sections.append(markdown(results, args.budgets, f"### The defaults on {shown} ({args.seeds} seeds per cell)"))
        if "pnas" in args.methods:
            sections.append(pnas_markdown(results, args.budgets))
        dump["table"] = {f"{m}@{b}": s for (m, b), s in results.items()}
    if args.real:
        with context.Pool(args.workers, initializer=_init, initargs=(None,)) as pool:
            real = {}
            for method in args.real_methods:
                runs = pool.map(run_one, [(method, s, args.real_budget, True) for s in range(args.real_seeds)])
                print(f"{method} on real children: {np.mean([r['seconds'] for r in runs]):.0f} s per seed",
                      file=sys.stderr, flush=True)
                real[(method, args.real_budget)] = summarize(runs)
            pool.close()
            pool.join()
        sections.append(markdown(real, [args.real_budget],
                                 f"### The defaults on real children (digits, 1 epoch each; {args.real_seeds} seeds)"))
        dump["real"] = {f"{m}@{b}": s for (m, b), s in real.items()}
    if args.why:
        _init(None)
        sections.append(why(args.table, args.why_seeds))
    footer = (f"`python -m benchmarks.learning_curves {shlex.join(argv if argv is not None else sys.argv[1:])}` "
              f"(Python {environment_report()['python']}, {args.workers} workers, one torch thread each)")
    text = "\n\n".join(sections + [footer])
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=1))
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
