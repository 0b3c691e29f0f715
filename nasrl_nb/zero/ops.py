"""The primitive operations of AutoML-Zero's programs (Real et al. 2020, Sec. 3 and Supplementary Table S1).

A program works on a memory of scalars ``s0, s1, ...``, vectors ``v0, v1, ...`` (length ``d``)
and matrices ``m0, m1, ...`` (``d x d``). Each operation reads one or two addresses of a given
kind, may carry constants (``data``: a constant's value, a random initialisation's range)
and writes one address. An :class:`Op` holds three things: the kinds it reads and writes,
how it is written as Python (``template``, one line a student reads) and how it is
computed on a batch of tasks at once (``fn``: every argument has a leading task axis ``T``,
so one call runs the instruction on every task; see :mod:`nasrl_nb.zero.interpreter`).

This is a subset of the paper's 65 operations: arithmetic, elementwise maths, dot, outer,
matrix-vector and matrix-matrix products, norms, means, constants and random
initialisation. :data:`OP_SETS` names the sets a search may draw from: ``"full"`` (all of
them) and ``"linear"`` (the four a linear model trained by gradient descent needs: a
restriction of the kind the paper's Sec. 4.1 makes to keep a rediscovery affordable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KINDS = ("s", "v", "m")  # scalar (T,), vector (T, d), matrix (T, d, d)


@dataclass(frozen=True)
class Op:
    """One primitive: ``inputs`` and ``output`` are kinds (``"s"``, ``"v"``, ``"m"``).

    ``template`` renders it as Python with ``{o}``, ``{a}``, ``{b}`` for the addresses and
    ``{c0}``, ``{c1}`` for its constants. ``fn(rng, data, d, *args)`` computes it for a batch
    of tasks (each argument has a leading task axis). ``data_range`` is where new constants
    are drawn from (one ``(low, high)`` per constant).
    """

    name: str
    inputs: tuple[str, ...]
    output: str
    template: str
    fn: Callable
    data_range: tuple[tuple[float, float], ...] = ()

    @property
    def num_data(self) -> int:
        return len(self.data_range)


def _binary(name, kinds, out, symbol, fn):
    return Op(name, kinds, out, f"{{o}} = {{a}} {symbol} {{b}}", lambda rng, data, d, a, b: fn(a, b))


def _unary(name, kind, out, template, fn):
    return Op(name, (kind,), out, template, lambda rng, data, d, a: fn(a))


_RANGE = ((-1.0, 1.0),)
_SPREAD = ((-1.0, 1.0), (0.01, 1.0))  # a mean (or low) and a spread (or high - low)

OPS: dict[str, Op] = {op.name: op for op in [
    # scalar arithmetic and maths
    _binary("s_add", ("s", "s"), "s", "+", np.add),
    _binary("s_sub", ("s", "s"), "s", "-", np.subtract),
    _binary("s_mul", ("s", "s"), "s", "*", np.multiply),
    _binary("s_div", ("s", "s"), "s", "/", np.divide),
    _unary("s_abs", "s", "s", "{o} = abs({a})", np.abs),
    _unary("s_reciprocal", "s", "s", "{o} = 1 / {a}", np.reciprocal),
    _unary("s_sin", "s", "s", "{o} = np.sin({a})", np.sin),
    _unary("s_cos", "s", "s", "{o} = np.cos({a})", np.cos),
    _unary("s_exp", "s", "s", "{o} = np.exp({a})", np.exp),
    _unary("s_log", "s", "s", "{o} = np.log({a})", np.log),
    _unary("s_heaviside", "s", "s", "{o} = 1.0 * ({a} >= 0)", lambda a: 1.0 * (a >= 0)),
    Op("s_const", (), "s", "{o} = {c0}", lambda rng, data, d: np.float64(data[0]), _RANGE),
    Op("s_uniform", (), "s", "{o} = rng.uniform({c0}, {c0} + {c1})", None, _SPREAD),
    # vector arithmetic and maths
    _binary("v_add", ("v", "v"), "v", "+", np.add),
    _binary("v_sub", ("v", "v"), "v", "-", np.subtract),
    _binary("v_mul", ("v", "v"), "v", "*", np.multiply),
    _binary("v_div", ("v", "v"), "v", "/", np.divide),
    _unary("v_abs", "v", "v", "{o} = abs({a})", np.abs),
    _unary("v_reciprocal", "v", "v", "{o} = 1 / {a}", np.reciprocal),
    _unary("v_relu", "v", "v", "{o} = np.maximum({a}, 0)", lambda a: np.maximum(a, 0)),
    _unary("v_heaviside", "v", "v", "{o} = 1.0 * ({a} > 0)", lambda a: 1.0 * (a > 0)),
    Op("sv_mul", ("s", "v"), "v", "{o} = {a} * {b}", lambda rng, data, d, a, b: a[:, None] * b),
    Op("s_broadcast", ("s",), "v", "{o} = np.full(d, {a})", lambda rng, data, d, a: np.repeat(a[:, None], d, axis=1)),
    _unary("v_norm", "v", "s", "{o} = np.linalg.norm({a})", lambda a: np.linalg.norm(a, axis=-1)),
    _unary("v_mean", "v", "s", "{o} = np.mean({a})", lambda a: a.mean(axis=-1)),
    Op("dot", ("v", "v"), "s", "{o} = np.dot({a}, {b})", lambda rng, data, d, a, b: np.einsum("ti,ti->t", a, b)),
    Op("outer", ("v", "v"), "m", "{o} = np.outer({a}, {b})", lambda rng, data, d, a, b: a[:, :, None] * b[:, None, :]),
    Op("v_gaussian", (), "v", "{o} = rng.normal({c0}, {c1}, size=d)", None, _SPREAD),
    # matrix arithmetic and maths
    _binary("m_add", ("m", "m"), "m", "+", np.add),
    _binary("m_sub", ("m", "m"), "m", "-", np.subtract),
    _binary("m_mul", ("m", "m"), "m", "*", np.multiply),
    Op("sm_mul", ("s", "m"), "m", "{o} = {a} * {b}", lambda rng, data, d, a, b: a[:, None, None] * b),
    Op("mv", ("m", "v"), "v", "{o} = {a} @ {b}", lambda rng, data, d, a, b: np.einsum("tij,tj->ti", a, b)),
    Op("mm", ("m", "m"), "m", "{o} = {a} @ {b}", lambda rng, data, d, a, b: a @ b),
    _unary("m_transpose", "m", "m", "{o} = {a}.T", lambda a: np.swapaxes(a, -1, -2)),
    _unary("m_norm", "m", "s", "{o} = np.linalg.norm({a})", lambda a: np.linalg.norm(a, axis=(-2, -1))),
    Op("m_gaussian", (), "m", "{o} = rng.normal({c0}, {c1}, size=(d, d))", None, _SPREAD),
]}

# what a random op draws, per task: the shape after the task axis
RANDOM_SHAPES = {"s_uniform": lambda d: (), "v_gaussian": lambda d: (d,), "m_gaussian": lambda d: (d, d)}

OP_SETS: dict[str, tuple[str, ...]] = {
    "full": tuple(OPS),
    # what a linear model trained by gradient descent needs: s1 = dot(w, x); w += (label - s1) * x
    "linear": ("s_sub", "sv_mul", "v_add", "dot"),
}


def random_op(name: str, rng: np.random.Generator, data: tuple[float, ...], num_tasks: int, d: int) -> np.ndarray:
    """A random initialisation op for ``num_tasks`` tasks: independent draws per task."""
    shape = (num_tasks, *RANDOM_SHAPES[name](d))
    if name == "s_uniform":
        return rng.uniform(data[0], data[0] + data[1], size=shape)
    return rng.normal(data[0], data[1], size=shape)
