"""Hand-written programs: what a search from the empty program should rediscover, and foils.

:func:`logistic_regression` is a linear model trained by stochastic gradient descent on the
logistic loss (Real et al. 2020, Sec. 4.1 and Fig. 6 show evolution rediscovering it): for
``p = sigmoid(w . x)`` the gradient of ``-log p(label)`` with respect to ``w`` is
``(p - label) * x``, so a step of size ``lr`` is ``w += lr * (label - p) * x``. With the
interpreter's conventions (``v0`` = x, ``s0`` = label, ``s1`` = p when Learn runs) and ``v1``
as ``w`` that is four instructions, three when ``lr`` is 1.

:func:`hebbian` drops the error term (``w += label * x``): no gradient, a foil for the tests
and the notebook.
"""

from __future__ import annotations

from .program import Instruction, Program


def logistic_regression(lr: float | None = None) -> Program:
    """``predict: s1 = dot(v1, v0)``; ``learn: v1 += lr * (s0 - s1) * v0`` (lr in ``s3``; none when ``lr`` is None)."""
    scale = () if lr is None else (Instruction("s_mul", 2, (3, 2)),)  # s2 = lr * error
    return Program(
        setup=() if lr is None else (Instruction("s_const", 3, (), (lr,)),),  # s3 = lr
        predict=(Instruction("dot", 1, (1, 0)),),  # s1 = w . x
        learn=(Instruction("s_sub", 2, (0, 1)),  # s2 = label - sigmoid(w . x)
               *scale,
               Instruction("sv_mul", 0, (2, 0)),  # v0 = s2 * x  (x is reloaded before every Predict and Learn)
               Instruction("v_add", 1, (1, 0))),  # w = w + v0
    )


def hebbian() -> Program:
    """``w += label * x``: the class-1 examples summed, no error term."""
    return Program(predict=(Instruction("dot", 1, (1, 0)),),
                   learn=(Instruction("sv_mul", 0, (0, 0)), Instruction("v_add", 1, (1, 0))))
