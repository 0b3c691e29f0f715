"""Small tables for the tabular-benchmark tests: real CSV files written by the tests themselves.

``complete_table_lines`` gives every one of the 6,466 unique cells a row per seed whose accuracy
follows a planted rule (:func:`planted_accuracy`), so that analyses and searches can be checked
against a known ground truth.
"""

from __future__ import annotations

import gzip
from pathlib import Path

HEADER = "arch,seed,val_accuracy,test_accuracy,params,flops,train_seconds,val_accuracy_per_epoch"
A = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
B = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
# C and C2 are isomorphic: node 1 feeds nothing (edges 1->2 and 1->3 are none), so its op is dead
C = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
C2 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def write_table(path: Path, lines, header: str = HEADER) -> Path:
    """Write ``header`` and ``lines`` as a CSV (gzipped when the name ends in ``.gz``)."""
    text = "\n".join([header, *lines]) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def planted_accuracy(arch) -> float:
    """Planted truth: each nor_conv_3x3 adds 0.05; none on the input->output edge (decision 3) costs 0.2."""
    ops = arch.choices
    return 0.5 + 0.05 * ops.count("nor_conv_3x3") - (0.2 if ops[3] == "none" else 0.0)


def complete_table_lines() -> list[str]:
    """Two seeds for each of the 6,466 unique cells; the seeds' noise (+-0.004) cannot reorder the
    planted 0.05 steps; seed 0 costs 1 s and seed 1 costs 2 s of training."""
    from nasrl_nb.bench.build import unique_cells

    lines = []
    for k, arch in enumerate(unique_cells()):
        acc = planted_accuracy(arch)
        for seed, noise in ((0, 0.004), (1, -0.004)):
            lines.append(f"{arch},{seed},{acc + noise * (k % 3 - 1):.6f},{acc:.6f},{1000 + k},{2000 + k},{1.0 + seed},"
                         f"{acc / 2:.6f};{acc:.6f}")
    return lines
