"""The package is laid out in layers: no module imports from a higher layer, and no cycles.

Function-level imports count too: a lazy import from a lower layer to a higher one is the
same dependency, only hidden.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nasrl_nb"

# top-level module or subpackage -> layer; a module may import from its own layer or below
LAYERS = {
    "runtime": 0,
    "validation": 0,
    "interrupts": 0,
    "stats": 0,
    "spaces": 1,
    "checkpoint": 1,  # exact save and restore: atomic files, RNG states, plain JSON
    "nn": 2,
    "controllers": 2,
    "rewards": 2,
    "rl": 3,
    "strategies": 4,  # who proposes architectures (random, evolution, RL, bandits, curriculum)
    "evaluators": 4,  # who trains them (serial, processes, Ray, asynchronous)
    "bench": 5,  # tabular benchmarks: tables of trained architectures, built by the evaluators
    "run": 5,  # the loop over a strategy and an evaluator, its run folder and summary
    "enas": 6,  # weight sharing: supernet, shared-weight evaluator, ENAS strategy
    "darts": 6,  # the continuous relaxation: mixed op, relaxed supernets, architect, strategy
    "pnas": 6,  # progressive search: expansion, predictor ensemble, PNAS strategy
    "zero": 6,  # AutoML-Zero: programs evolved on the run loop (beside the methods)
    "assembly": 7,  # every method together: configuration, factory, method registry, export
    "viz": 8,
    "display": 8,
    "widgets": 9,
    "checks": 9,
    "cli": 10,
}


def _modules(root: Path = PACKAGE) -> dict[str, Path]:
    """``{"run.loop": path}`` for every module except the package's own ``__init__``/``__main__``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and parts != ["__main__"]:
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, root: Path = PACKAGE) -> set[str]:
    """Package-relative names of the nasrl_nb modules that ``name`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    modules = _modules(root)
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:  # `from . import x` imports module x, `from .x import f` module x
                    sub = f"{module}.{alias.name}".strip(".")
                    targets.add(sub if sub in modules else module)
            elif node.module and node.module.startswith("nasrl_nb."):
                targets.add(node.module.removeprefix("nasrl_nb."))
        elif isinstance(node, ast.Import):
            targets.update(a.name.removeprefix("nasrl_nb.") for a in node.names if a.name.startswith("nasrl_nb."))
    return {t for t in targets if t in modules and t != name}


def test_every_top_level_module_has_a_layer():
    tops = {name.split(".")[0] for name in _modules()}
    assert tops <= set(LAYERS), f"give these a layer in LAYERS: {sorted(tops - set(LAYERS))}"


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for name, path in _modules().items():
        layer = LAYERS[name.split(".")[0]]
        for target in _imports(name, path):
            if LAYERS[target.split(".")[0]] > layer:
                upward.append(f"{name} (layer {layer}) -> {target} (layer {LAYERS[target.split('.')[0]]})")
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = {name: _imports(name, path) for name, path in _modules().items()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_walker_finds_function_level_imports(tmp_path):
    """The walker above must see lazy imports, or the layer and cycle tests prove nothing."""
    for folder in ("spaces", "viz"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "viz" / "drawing.py").write_text("")
    (tmp_path / "spaces" / "space.py").write_text("def show():\n    from ..viz.drawing import draw\n")
    assert _imports("spaces.space", tmp_path / "spaces" / "space.py", tmp_path) == {"viz.drawing"}


def _private_uses(name: str, path: Path, root: Path = PACKAGE) -> list[str]:
    """Private names (``_x``, not dunders) that module ``name`` takes from another nasrl_nb module:
    ``from .m import _x``, or ``m._x`` where ``m`` is a nasrl_nb module or a name imported from one."""
    private = lambda n: n.startswith("_") and not n.startswith("__")  # noqa: E731
    tree = ast.parse(path.read_text())
    found, imported = [], set()
    for node in ast.walk(tree):
        own = isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("nasrl_nb"))
        if own:
            for alias in node.names:
                if private(alias.name):
                    found.append(f"{name}: from {'.' * node.level}{node.module or ''} import {alias.name}")
                imported.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("nasrl_nb"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and isinstance(node.value, ast.Name):
            if node.value.id in imported:
                found.append(f"{name}: {node.value.id}.{node.attr}")
    return found


def test_no_module_takes_a_private_name_from_another():
    found = [use for name, path in _modules().items() for use in _private_uses(name, path)]
    assert not found, "private names used across modules (make them public or move them):\n" + "\n".join(found)


def test_the_private_name_scan_finds_both_forms(tmp_path):
    (tmp_path / "a.py").write_text(
        "from .b import _helper, public\nfrom . import c\nimport nasrl_nb.d\n"
        "def f():\n    return c._secret, public._inner, nasrl_nb._x, __name__, self_._own\n"
    )
    uses = _private_uses("a", tmp_path / "a.py", tmp_path)
    assert uses == ["a: from .b import _helper", "a: c._secret", "a: public._inner", "a: nasrl_nb._x"]
