"""The mutations of AutoML-Zero (Real et al. 2020, Sec. 4, Fig. 3).

A child is its parent with one of three changes in one component function (Setup, Predict
or Learn, chosen uniformly):

1. insert a random instruction at a random position, or remove the instruction at a random
   position (each half the time, when both are possible);
2. randomize every instruction of the component (its length is kept);
3. change one argument of one instruction: an address (to another of the same kind), or
   a constant (scaled by ``exp(N(0, 1))``, its sign flipped one time in ten).

Types that cannot apply (removing from an empty function, inserting into a full one) are
left out of the draw, so an empty program can only grow. A mutation always returns a valid
program of the same space.
"""

from __future__ import annotations

import numpy as np

from .ops import OPS
from .program import COMPONENTS, Instruction, Program
from .space import ProgramSpace

MUTATIONS = ("insert_remove", "randomize_component", "alter_argument")


def random_instruction(space: ProgramSpace, rng: np.random.Generator) -> Instruction:
    """An op drawn uniformly from the space's ops, each address uniform over its kind, constants from the op's range."""
    op = OPS[space.ops[int(rng.integers(len(space.ops)))]]
    layout = space.layout
    out = int(rng.integers(layout.size(op.output)))
    inputs = tuple(int(rng.integers(layout.size(kind))) for kind in op.inputs)
    data = tuple(float(rng.uniform(low, high)) for low, high in op.data_range)
    return Instruction(op.name, out, inputs, data)


def alter_argument(ins: Instruction, space: ProgramSpace, rng: np.random.Generator) -> Instruction:
    """``ins`` with one address or one constant changed (Sec. 4, mutation type iii)."""
    spec = OPS[ins.op]
    kinds = [spec.output, *spec.inputs]
    slots = [("address", i) for i, kind in enumerate(kinds) if space.layout.size(kind) > 1]
    slots += [("data", i) for i in range(len(ins.data))]
    if not slots:  # nothing to change in place (one address of each kind, no constants): another instruction
        other = random_instruction(space, rng)
        for _ in range(100):  # a space may hold a single instruction: then give up and return it
            if other != ins:
                break
            other = random_instruction(space, rng)
        return other
    what, i = slots[int(rng.integers(len(slots)))]
    if what == "data":
        data = list(ins.data)
        data[i] *= float(np.exp(rng.normal())) * (-1.0 if rng.random() < 0.1 else 1.0)
        return Instruction(ins.op, ins.out, ins.inputs, tuple(data))
    addresses = [ins.out, *ins.inputs]
    size = space.layout.size(kinds[i])
    addresses[i] = (addresses[i] + int(rng.integers(1, size))) % size  # always another address
    return Instruction(ins.op, addresses[0], tuple(addresses[1:]), ins.data)


def mutate(program: Program, space: ProgramSpace, rng: np.random.Generator) -> tuple[Program, str]:
    """A mutated copy of ``program`` and the name of the mutation applied (:data:`MUTATIONS`)."""
    name = COMPONENTS[int(rng.integers(len(COMPONENTS)))]
    body = list(program.component(name))
    limit = space.max_sizes[name]
    allowed = []
    if len(body) < limit or body:
        allowed.append("insert_remove")
    if body:
        allowed += ["randomize_component", "alter_argument"]
    if not allowed:  # this component can hold nothing: try the others
        others = [c for c in COMPONENTS if space.max_sizes[c] > 0]
        if not others:
            raise ValueError("max_sizes: every component has size 0; allowed values: at least one size above 0")
        name = others[int(rng.integers(len(others)))]
        body, limit, allowed = list(program.component(name)), space.max_sizes[name], ["insert_remove"]
    kind = allowed[int(rng.integers(len(allowed)))]
    if kind == "insert_remove":
        can_insert, can_remove = len(body) < limit, bool(body)
        if can_insert and (not can_remove or rng.random() < 0.5):
            body.insert(int(rng.integers(len(body) + 1)), random_instruction(space, rng))
        else:
            del body[int(rng.integers(len(body)))]
    elif kind == "randomize_component":
        body = [random_instruction(space, rng) for _ in body]
    else:
        i = int(rng.integers(len(body)))
        body[i] = alter_argument(body[i], space, rng)
    return program.replace(name, body), kind
