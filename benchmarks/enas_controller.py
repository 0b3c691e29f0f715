"""Does ENAS's controller concentrate within a lab's budget? Its policy entropy with the defaults.

ENAS (Pham et al. 2018, Sec. 2.2) trains its controller for many steps per pass of the shared
weights, thousands in all; a lab run has tens. For each variant and seed this runs
``make_search("enas", ...)`` on digits with nothing but the budget (and the variant's one
change) and reports the policy's entropy (the sum over the cell's 6 decisions along the greedy
path, nats; uniform: 6 ln 5 = 9.66) after the first and the last update, the mean reward of
the first and last fifth of the steps, and the wall time. Variants:

- ``default``: make_search's ENAS defaults (controller lr 0.01, 10 controller updates per
  shared-weight pass: ``ENAS_TRAINER``, ``ENAS_CONTROLLER_STEPS``);
- ``paper lr``: the paper's controller settings (``ENAS_PAPER_TRAINER``: Adam at 3.5e-4);
- ``controller_steps=1``: one controller update per pass of the shared weights.

    python -m benchmarks.enas_controller                        # budgets 100 and 300, 3 seeds
    NASRL_NB_QUICK=1 python -m benchmarks.enas_controller       # a quick look
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.enas.strategy import ENAS_PAPER_TRAINER
from nasrl_nb.nn.data import load_dataset
from nasrl_nb.runtime import quick_mode

VARIANTS = {"default": {}, "paper lr": {"trainer_kwargs": ENAS_PAPER_TRAINER}, "controller_steps=1": {"controller_steps": 1}}


def parse_args(argv=None) -> argparse.Namespace:
    quick = quick_mode()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budgets", type=int, nargs="*", default=[100] if quick else [100, 300], help="scored cells per search")
    p.add_argument("--seeds", type=int, default=1 if quick else 3, help="seeds per budget and variant (default: 3)")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS), help="default: all")
    p.add_argument("--json", default=None, help="also write every figure to this file")
    return p.parse_args(argv)


def run(variant: str, budget: int, seed: int, data) -> dict:
    search = make_search("enas", "cell", data, budget=budget, seed=seed, device="cpu", progress=False, **VARIANTS[variant])
    start = time.perf_counter()
    search.run()
    seconds = time.perf_counter() - start
    entropy = [float(s.policy.entropy.sum()) for s in search.steps]
    k = max(1, len(search.steps) // 5)
    rewards = [s.mean_reward for s in search.steps]
    return {"variant": variant, "budget": budget, "seed": seed, "updates": search.num_steps,
            "supernet_minibatches": search.evaluator.steps, "entropy_first": entropy[0], "entropy_last": entropy[-1],
            "reward_first": float(np.mean(rewards[:k])), "reward_last": float(np.mean(rewards[-k:])), "seconds": seconds}


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(1)  # tiny nets on a shared 2-core machine
    data = load_dataset("digits", seed=0)
    rows = []
    for budget in args.budgets:
        for variant in args.variants:
            for seed in range(args.seeds):
                rows.append(r := run(variant, budget, seed, data))
                print(f"  budget {budget} {variant:18s} seed {seed}: {r['updates']} updates, {r['supernet_minibatches']} supernet "
                      f"minibatches, entropy {r['entropy_first']:.2f} -> {r['entropy_last']:.2f}, reward "
                      f"{r['reward_first']:.3f} -> {r['reward_last']:.3f}, {r['seconds']:.1f} s", flush=True)
            mine = [r for r in rows if r["budget"] == budget and r["variant"] == variant]
            print(f"budget {budget} {variant:18s}: entropy after the last update "
                  f"{np.mean([r['entropy_last'] for r in mine]):.2f} (mean of {len(mine)}; first "
                  f"{np.mean([r['entropy_first'] for r in mine]):.2f}), reward {np.mean([r['reward_first'] for r in mine]):.3f}"
                  f" -> {np.mean([r['reward_last'] for r in mine]):.3f}, {np.mean([r['seconds'] for r in mine]):.1f} s per search",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
