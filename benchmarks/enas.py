"""ENAS on digits: how much cheaper is weight sharing, and how well do shared weights rank?

Three measurements on the NAS-Bench-201 cell space with digits, ground truth from the
digits-cell table (every cell trained from scratch, 2 seeds):

1. **cost** -- one ENAS search scores ``--archs-cost`` architectures with shared weights
   (the supernet's training included); after each of its steps the same architectures are
   trained from scratch with digits-cell's settings, interleaved in the same process, so
   machine load hits both alike. Reported: the ratio of the two wall times.
2. **ranking** -- for each seed and each supernet-training variant, ``--archs-rank`` uniform
   cells are scored with the trained shared weights on the whole validation split and
   compared with the table's validation accuracy: Kendall's tau and Spearman's rho (Yu et
   al. 2020's protocol). Variants: ``enas`` (the controller samples the training
   architectures, as searched: ENAS's default ``controller_steps`` controller updates per
   shared-weight phase, so its search scores ``--archs-cost`` x that many cells), ``uniform``
   (random search with weight sharing; the shared weights on ENAS's cosine schedule, the
   default), ``uniform x4`` (four times longer), ``uniform constant`` (a constant learning
   rate, the default before the cosine), ``fair`` (FairNAS-style strict fairness). Each is scored twice: BN on
   each batch's statistics (the default) and with BN recalibrated per architecture over
   ``--bn-calibration`` training images. Beside them: the table's own noise ceiling (one
   training run against the other on the same cells).
3. **pick** -- the test accuracy (table, mean of seeds) of the architecture ENAS derives
   (and random_ws derives), against random search given the same wall time: as many
   uniform cells as fit in the search's time at the measured from-scratch cost per child,
   the best by one training run's validation accuracy (read from the table).

    python -m benchmarks.enas                       # the full run (~20 min on a loaded 2-core machine)
    NASRL_NB_QUICK=1 python -m benchmarks.enas      # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from nasrl_nb.assembly.config import SearchConfig
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.enas.evaluator import SharedWeightEvaluator
from nasrl_nb.enas.ranking import benchmark_accuracies, ranking_quality
from nasrl_nb.enas.strategy import derive
from nasrl_nb.evaluators.base import ChildEvaluator
from nasrl_nb.nn.data import load_dataset
from nasrl_nb.runtime import environment_report, quick_mode
from nasrl_nb.spaces.cell_space import CellSpace

VARIANTS = ("enas", "uniform", "uniform x4", "uniform constant", "fair")

# digits-cell's own training settings (nasrl_nb/bench/data/digits-cell.json): the from-scratch baseline
SCRATCH = {"epochs": 2, "lr": 0.003, "batch_size": 128, "lr_schedule": "cosine"}


def parse_args(argv=None) -> argparse.Namespace:
    quick = quick_mode()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=2 if quick else 3, help="seeds for ranking and pick (default: 3)")
    p.add_argument("--archs-cost", type=int, default=20 if quick else 100, help="architectures in the cost run (default: 100)")
    p.add_argument("--archs-rank", type=int, default=60 if quick else 200, help="architectures ranked per seed (default: 200)")
    p.add_argument("--steps", type=int, default=80 if quick else 160,
                   help="shared-weight minibatches per supernet (default: 160, i.e. 10 passes over digits' training split)")
    p.add_argument("--cost-steps", type=int, nargs="*", default=None,
                   help="supernet lengths timed in the cost part (default: --steps); the first one's architectures are trained from scratch")
    p.add_argument("--batch", type=int, default=10, help="architectures per ENAS step (default: 10)")
    p.add_argument("--eval-batch", type=int, default=128, help="validation minibatch that scores one architecture (default: 128)")
    p.add_argument("--channels", type=int, default=16, help="width C of the cells (digits-cell: 16)")
    p.add_argument("--candidates", type=int, default=50 if quick else 100, help="candidates ENAS derives from (default: 100)")
    p.add_argument("--pick-scratch", type=int, default=5,
                   help="without the cost part: children trained from scratch per seed to time one (default: 5)")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS, help="supernet trainings ranked (default: all)")
    p.add_argument("--bn-calibration", type=int, default=256,
                   help="training images for the recalibrated-BN scoring of the ranking part (0: leave it out; default: 256)")
    p.add_argument("--skip", nargs="*", default=[], choices=["cost", "ranking", "pick"], help="parts to leave out")
    p.add_argument("--json", default=None, help="also write every figure to this file")
    return p.parse_args(argv)


def enas_search(method: str, seed: int, data, args, budget: int, steps: int | None = None, controller_steps: int = 1):
    """A search whose supernet sees ``steps`` (default ``args.steps``) minibatches over ``budget`` scored
    architectures, in one shared-weight phase per ``controller_steps`` search steps."""
    phases = max(1, math.ceil(budget / (args.batch * controller_steps)))
    steps_per = max(1, round((steps or args.steps) / phases))
    return make_search(method, "cell", data, budget=budget, batch_size=args.batch, seed=seed, channels=args.channels,
                       supernet_train_steps=steps_per, eval_batch_size=args.eval_batch, device="cpu", progress=False,
                       policy_snapshots=False, controller_steps=controller_steps)


def as_searched(method: str, seed: int, data, args):
    """``method``'s search as it runs by default: its ``controller_steps`` (ENAS: 10) search steps per
    shared-weight phase, ``--archs-cost`` x that many scored cells, ``--steps`` supernet minibatches."""
    k = SearchConfig.from_settings(method=method).supernet.controller_steps
    return enas_search(method, seed, data, args, budget=args.archs_cost * k, controller_steps=k)


# --- 1. cost -------------------------------------------------------------------------------------
def cost(args, data) -> dict:
    """ENAS searches with each ``--cost-steps`` supernet length, step by step, interleaved with
    training the first search's architectures from scratch (the others are timed against the
    same from-scratch total: a child's cost hardly depends on which cell it is)."""
    lengths = args.cost_steps or [args.steps]
    searches = {n: enas_search("enas", 0, data, args, args.archs_cost, steps=n) for n in lengths}
    iterators = {n: iter(search) for n, search in searches.items()}
    scratch = ChildEvaluator(data, device="cpu", seed=0, child_kwargs={"channels": args.channels}, cache=False,
                             measure_latency=False, **SCRATCH)
    ws_seconds = dict.fromkeys(lengths, 0.0)
    scratch_seconds = 0.0
    shared, true = [], []
    while not searches[lengths[0]].done:
        for n, iterator in iterators.items():
            start = time.perf_counter()
            step = next(iterator, None)  # one ENAS step: train the supernet, score `batch` architectures
            ws_seconds[n] += time.perf_counter() - start
            if n == lengths[0]:
                first = step
        start = time.perf_counter()
        records = scratch.evaluate(first.architectures)  # the same architectures, from scratch
        scratch_seconds += time.perf_counter() - start
        shared += [r["val_accuracy"] for r in first.results]
        true += [r["val_accuracy"] for r in records]
    n = searches[lengths[0]].evaluations
    return {"architectures": n, "scratch_seconds": scratch_seconds, "scratch_seconds_per_child": scratch_seconds / n,
            "by_supernet_steps": {str(k): {"supernet_steps": searches[k].evaluator.steps, "shared_weight_seconds": v,
                                           "speedup": scratch_seconds / v} for k, v in ws_seconds.items()},
            "minibatch_reward_vs_scratch": ranking_quality(shared, true)}


# --- 2. ranking ----------------------------------------------------------------------------------
def trained_supernet(variant: str, seed: int, data, args) -> tuple[SharedWeightEvaluator, float]:
    start = time.perf_counter()
    if variant == "enas":
        search = as_searched("enas", seed, data, args)
        search.run()
        return search.evaluator, time.perf_counter() - start
    evaluator = SharedWeightEvaluator(CellSpace(), data, channels=args.channels, device="cpu", seed=seed,
                                      lr_schedule="constant" if variant == "uniform constant" else "cosine")
    steps = args.steps * (4 if variant == "uniform x4" else 1)
    sampler = evaluator.sample_fair if variant == "fair" else evaluator.sample_uniform
    for _ in range(0, steps, 100):  # in chunks: one list of sampled architectures at a time
        evaluator.train_shared_weights(min(100, steps - evaluator.steps), sampler=sampler)
    return evaluator, time.perf_counter() - start


def ranking(args, data, bench) -> dict:
    space = CellSpace()
    out: dict = {}
    ceilings = []
    for seed in range(args.seeds):  # the table against itself: one training run vs the other, same cells
        rng = np.random.default_rng(100 + seed)
        archs = list(dict.fromkeys(space.sample(rng) for _ in range(args.archs_rank)))
        runs = [[bench.query(a, seed=s)["val_accuracy"] for a in archs] for s in bench.seeds[:2]]
        ceilings.append(ranking_quality(*runs) if len(runs) == 2 else {"kendall_tau": math.nan, "spearman_rho": math.nan})
    out["noise_ceiling"] = {"runs": ceilings, **{f"mean_{k}": float(np.mean([c[k] for c in ceilings]))
                                                 for k in ("kendall_tau", "spearman_rho")}}
    keys = ["kendall_tau", "spearman_rho", "kendall_tau_minibatch", "kendall_tau_valid_only", "seconds"]
    if args.bn_calibration:
        keys += ["kendall_tau_recalibrated", "spearman_rho_recalibrated"]
    for variant in args.variants:
        rows = []
        for seed in range(args.seeds):
            rng = np.random.default_rng(100 + seed)
            archs = list(dict.fromkeys(space.sample(rng) for _ in range(args.archs_rank)))  # distinct cells
            true = benchmark_accuracies(bench, archs)
            evaluator, seconds = trained_supernet(variant, seed, data, args)
            shared = [evaluator.accuracy(a) for a in archs]
            minibatch = torch.arange(min(128, len(data.y_val)))
            one_batch = [evaluator.accuracy(a, batch=minibatch) for a in archs]
            valid = np.array([space.is_valid(a) for a in archs])
            rows.append({"seed": seed, "seconds": seconds, **ranking_quality(shared, true),
                         "kendall_tau_minibatch": ranking_quality(one_batch, true)["kendall_tau"],
                         "kendall_tau_valid_only": ranking_quality(np.array(shared)[valid], true[valid])["kendall_tau"]})
            recalibrated = ""
            if args.bn_calibration:
                evaluator.bn_calibration = args.bn_calibration
                quality = ranking_quality([evaluator.accuracy(a) for a in archs], true)
                evaluator.bn_calibration = 0
                rows[-1].update(kendall_tau_recalibrated=quality["kendall_tau"], spearman_rho_recalibrated=quality["spearman_rho"])
                recalibrated = f"; BN recalibrated: tau {quality['kendall_tau']:.3f} rho {quality['spearman_rho']:.3f}"
            print(f"  ranking {variant:14s} seed {seed}: tau {rows[-1]['kendall_tau']:.3f} rho {rows[-1]['spearman_rho']:.3f}"
                  f"{recalibrated} (table noise ceiling tau {ceilings[seed]['kendall_tau']:.3f}; {seconds:.0f} s)", flush=True)
        out[variant] = {"runs": rows, **{f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in keys}}
    return out


# --- 3. pick ---------------------------------------------------------------------------------------
def pick(args, data, bench, child_seconds: float | None) -> dict:
    """``child_seconds``: the measured from-scratch cost of a child (the cost part's); None: measure
    it here, training ``--pick-scratch`` uniform children from scratch after each seed's searches."""
    space = CellSpace()
    out: dict = {"scratch_seconds_per_child": child_seconds, "runs": []}
    scratch = ChildEvaluator(data, device="cpu", seed=0, child_kwargs={"channels": args.channels}, cache=False,
                             measure_latency=False, **SCRATCH)
    scratch_seconds, scratch_children = 0.0, 0
    for seed in range(args.seeds):
        row = {"seed": seed}
        for method in ("enas", "random_ws"):
            start = time.perf_counter()
            search = as_searched(method, seed, data, args)
            search.run()
            best = derive(search, num_candidates=args.candidates, seed=seed)[0]["arch"]
            seconds = time.perf_counter() - start
            row[method] = {"arch": str(best), "seconds": seconds, "test_accuracy": bench.query(best)["test_accuracy"]}
        if out["scratch_seconds_per_child"] is None or scratch_children:
            start = time.perf_counter()
            scratch.evaluate([space.sample(np.random.default_rng(500 + seed)) for _ in range(args.pick_scratch)])
            scratch_seconds, scratch_children = scratch_seconds + time.perf_counter() - start, scratch_children + args.pick_scratch
            out["scratch_seconds_per_child"] = child_seconds = scratch_seconds / scratch_children
        k = max(1, math.floor(row["enas"]["seconds"] / child_seconds))  # children ENAS's wall time would train
        rng = np.random.default_rng(1000 + seed)
        sampled = [space.sample(rng) for _ in range(k)]
        run_seed = bench.seeds[seed % len(bench.seeds)]
        chosen = max(sampled, key=lambda a: bench.query(a, seed=run_seed)["val_accuracy"])
        row["random_equal_time"] = {"children": k, "arch": str(chosen), "test_accuracy": bench.query(chosen)["test_accuracy"]}
        print(f"  pick seed {seed}: enas {row['enas']['test_accuracy']:.4f} random_ws {row['random_ws']['test_accuracy']:.4f} "
              f"random ({k} children) {row['random_equal_time']['test_accuracy']:.4f}", flush=True)
        out["runs"].append(row)
    for key in ("enas", "random_ws", "random_equal_time"):
        values = [r[key]["test_accuracy"] for r in out["runs"]]
        out[f"{key}_mean_test_accuracy"], out[f"{key}_std_test_accuracy"] = float(np.mean(values)), float(np.std(values))
    test = bench.values("test_accuracy")
    out["table_best_test_accuracy"], out["table_mean_test_accuracy"] = float(np.nanmax(test)), float(np.nanmean(test))
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)  # tiny nets on a shared 2-core machine: one thread is several times faster
    data = load_dataset("digits", seed=0)
    bench = TabularBenchmark.load("bench:digits-cell")
    result: dict = {"settings": vars(args), "machine": environment_report()}
    child_seconds = None
    if "cost" not in args.skip:
        result["cost"] = cost(args, data)
        c = result["cost"]
        child_seconds = c["scratch_seconds_per_child"]
        for r in c["by_supernet_steps"].values():
            print(f"cost: {c['architectures']} architectures -- shared weights {r['shared_weight_seconds']:.1f} s "
                  f"({r['supernet_steps']} supernet minibatches included), from scratch {c['scratch_seconds']:.1f} s: "
                  f"{r['speedup']:.1f}x cheaper", flush=True)
    if "ranking" not in args.skip:
        result["ranking"] = ranking(args, data, bench)
        for variant, r in result["ranking"].items():
            if variant == "noise_ceiling":
                print(f"ranking: the table's noise ceiling (run vs run): tau {r['mean_kendall_tau']:.3f} "
                      f"rho {r['mean_spearman_rho']:.3f} over {args.seeds} seeds", flush=True)
                continue
            recalibrated = (f"; BN recalibrated over {args.bn_calibration} images: tau {r['mean_kendall_tau_recalibrated']:.3f} "
                            f"rho {r['mean_spearman_rho_recalibrated']:.3f}" if args.bn_calibration else "")
            print(f"ranking {variant:14s}: tau {r['mean_kendall_tau']:.3f} rho {r['mean_spearman_rho']:.3f} "
                  f"(one minibatch: tau {r['mean_kendall_tau_minibatch']:.3f}; valid cells only: "
                  f"tau {r['mean_kendall_tau_valid_only']:.3f}{recalibrated}) over {args.seeds} seeds", flush=True)
    if "pick" not in args.skip:
        result["pick"] = p = pick(args, data, bench, child_seconds)
        print(f"pick (test accuracy, mean of {args.seeds} seeds): enas {p['enas_mean_test_accuracy']:.4f}, random_ws "
              f"{p['random_ws_mean_test_accuracy']:.4f}, random search at equal wall time {p['random_equal_time_mean_test_accuracy']:.4f}; "
              f"table best {p['table_best_test_accuracy']:.4f}, table mean {p['table_mean_test_accuracy']:.4f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float))
    return result


if __name__ == "__main__":
    main()
