"""Running a program on a batch of tasks: Setup once, then Predict and Learn per example (Real et al. 2020, Sec. 3).

For each task the memory starts at zero and Setup runs once. Then, for every training
example in order: ``v0`` = the features and ``s0`` = 0, Predict runs, ``s1`` is squashed by a
sigmoid; ``v0`` = the features again and ``s0`` = the label, Learn runs. Finally Predict runs
on each held-out example (``s0`` = 0, no Learn) and ``s1`` is its logit (the reference code
does the same: the sigmoid during training, ``sigmoid(s1) > 0.5`` on held-out examples).

The fast part: the memory holds every task at once -- scalars ``(T, S)``, vectors
``(T, V, d)``, matrices ``(T, M, d, d)`` -- and each instruction is one NumPy call over the
task axis, so ``T`` tasks cost little more than one. :meth:`~nasrl_nb.zero.program.Program.to_python`
is the simple twin, one task at a time; the tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ops import OPS, random_op
from .program import MemoryLayout, Program


@dataclass
class Memory:
    """The memory of ``T`` tasks: ``s`` (T, S), ``v`` (T, V, d), ``m`` (T, M, d, d), all zeros at first."""

    s: np.ndarray
    v: np.ndarray
    m: np.ndarray

    @classmethod
    def zeros(cls, layout: MemoryLayout, num_tasks: int) -> Memory:
        d = layout.dim
        return cls(np.zeros((num_tasks, layout.scalars)), np.zeros((num_tasks, layout.vectors, d)),
                   np.zeros((num_tasks, layout.matrices, d, d)))

    def bank(self, kind: str) -> np.ndarray:
        return {"s": self.s, "v": self.v, "m": self.m}[kind]


def run_component(instructions, memory: Memory, rng: np.random.Generator, dim: int) -> None:
    """Execute ``instructions`` in order on every task of ``memory`` (in place)."""
    for step in compile_component(instructions, memory, dim):
        step(rng)


def compile_component(instructions, memory: Memory, dim: int) -> list:
    """Each instruction as a function of the generator, bound once to views of ``memory``.

    ``memory.s[:, i]`` is a view that stays valid while the memory is written in place, so the
    look-ups are done once per program run instead of once per example.
    """
    num_tasks = memory.s.shape[0]
    steps = []
    for ins in instructions:
        spec = OPS[ins.op]
        out, index = memory.bank(spec.output), ins.out
        if spec.fn is None:  # a random initialisation: an independent draw per task
            def step(rng, out=out, index=index, op=ins.op, data=ins.data):
                out[:, index] = random_op(op, rng, data, num_tasks, dim)
        else:
            args = tuple(memory.bank(kind)[:, i] for kind, i in zip(spec.inputs, ins.inputs))

            def step(rng, out=out, index=index, fn=spec.fn, data=ins.data, args=args):
                out[:, index] = fn(rng, data, dim, *args)  # a scalar constant broadcasts over the tasks
        steps.append(step)
    return steps


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Execution:
    """What running a program gave, per task: ``train_predictions`` (T, n_train) after the
    sigmoid, ``valid_logits`` (T, n_valid), and ``diverged`` (T,): a non-finite training prediction."""

    train_predictions: np.ndarray
    valid_logits: np.ndarray
    diverged: np.ndarray


def execute(program: Program, layout: MemoryLayout, x_train, y_train, x_valid, *,
            rng: np.random.Generator) -> Execution:
    """Run ``program`` on tasks given as ``x_train`` (T, n, d), ``y_train`` (T, n) and ``x_valid`` (T, n', d)."""
    num_tasks, n_train, _ = x_train.shape
    memory = Memory.zeros(layout, num_tasks)
    train_predictions = np.zeros((num_tasks, n_train))
    valid_logits = np.zeros((num_tasks, x_valid.shape[1]))
    predict = compile_component(program.predict, memory, layout.dim)
    learn = compile_component(program.learn, memory, layout.dim)
    with np.errstate(all="ignore"):  # a program may divide by zero or overflow: it then diverges, it does not raise
        run_component(program.setup, memory, rng, layout.dim)
        for i in range(n_train):
            memory.v[:, 0] = x_train[:, i]  # 1. Predict sees the features, not the label
            memory.s[:, 0] = 0.0
            for step in predict:
                step(rng)
            memory.s[:, 1] = sigmoid(memory.s[:, 1])
            train_predictions[:, i] = memory.s[:, 1]
            memory.v[:, 0] = x_train[:, i]  # 2. Learn sees features, label and the squashed prediction
            memory.s[:, 0] = y_train[:, i]
            for step in learn:
                step(rng)
        for j in range(x_valid.shape[1]):  # 3. held-out examples: Predict only
            memory.v[:, 0] = x_valid[:, j]
            memory.s[:, 0] = 0.0
            for step in predict:
                step(rng)
            valid_logits[:, j] = memory.s[:, 1]
    diverged = ~np.isfinite(train_predictions).all(axis=1)
    return Execution(train_predictions, valid_logits, diverged)


def task_accuracies(execution: Execution, y_valid: np.ndarray) -> np.ndarray:
    """Per task, the fraction of held-out examples with ``(logit > 0) == label``; 0 for a diverged
    task, and a non-finite logit counts as wrong (the paper gives such programs the minimum fitness)."""
    logits = execution.valid_logits
    correct = np.isfinite(logits) & ((logits > 0) == (y_valid > 0.5))
    return np.where(execution.diverged, 0.0, correct.mean(axis=1))
