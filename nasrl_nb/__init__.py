"""nasrl_nb: Neural Architecture Search with Reinforcement Learning, in Jupyter, for real.

Public names are imported lazily (PEP 562), so ``import nasrl_nb`` loads only what is
used and never pulls in ipywidgets, matplotlib, networkx or ray.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Architecture": "search_space",
    "Decision": "search_space",
    "SearchSpace": "search_space",
    "custom_space": "search_space",
    "space_from_spec": "search_space",
    "MacroSpace": "macro_space",
    "LayerSpec": "macro_space",
    "ARCHITECTURE_VOCAB": "macro_space",
    "CellSpace": "cell_space",
    "CELL_OPS": "cell_space",
    "SPACES": "spaces",
    "get_space": "spaces",
    "parse_architecture": "spaces",
    "OPS": "operations",
    "ACTIVATIONS": "operations",
    "NORMALIZATIONS": "operations",
    "build_op": "operations",
    "quick_mode": "runtime",
    "seed_everything": "runtime",
    "resolve_device": "runtime",
    "environment_report": "runtime",
    "Dataset": "data",
    "DATASETS": "data",
    "load_dataset": "data",
    "dataset_from_tensors": "data",
    "TrainResult": "training",
    "train_and_evaluate": "training",
    "ChildNetwork": "child_network",
    "count_parameters": "complexity",
    "count_flops": "complexity",
    "measure_latency_ms": "complexity",
    "NASController": "controller",
    "ControllerSample": "controller",
    "PolicySnapshot": "controller",
    "PolicyGradientTrainer": "policy_gradient",
    "UpdateStats": "policy_gradient",
    "Schedule": "policy_gradient",
    "CheckResult": "checks",
    "Search": "search",
    "SearchStep": "search",
    "Stage": "search",
    "make_search": "search_factory",
    "read_history": "search",
    "Evaluator": "evaluation",
    "ChildEvaluator": "evaluation",
    "FunctionEvaluator": "evaluation",
    "compute_reward": "rewards",
    "make_reward": "rewards",
    "RewardFunction": "rewards",
    "AccuracyReward": "rewards",
    "MultiObjectiveReward": "rewards",
    "ConstrainedReward": "rewards",
    "MnasNetReward": "rewards",
    "pareto_front": "pareto",
    "non_dominated_sort": "pareto",
    "SearchStrategy": "strategies",
    "make_strategy": "strategies",
    "METHODS": "strategies",
    "RandomSearch": "random_search",
    "RegularizedEvolution": "evolution",
    "PolicyGradientStrategy": "rl_strategy",
    "export_pytorch": "export",
    "export_search": "export",
    "export_summary": "export",
    "draw_architecture": "drawing",
    "architecture_graph": "drawing",
    "architecture_svg": "drawing",
    "figure_to_png": "drawing",
    "OP_COLORS": "drawing",
    "plot_policy_heatmap": "views",
    "plot_entropy_over_time": "views",
    "plot_rewards": "views",
    "plot_accuracy_vs_cost": "views",
    "plot_alphas": "views",
    "plot_training_curve": "views",
}

# submodules reachable as attributes (``nb.checks.check_space_size``) without an explicit import
_SUBMODULES = {
    "checks", "cli", "complexity", "controller", "data", "diagnostics", "drawing", "evaluation", "export",
    "operations", "pareto", "policy_gradient", "rewards", "runtime", "search", "search_factory", "search_space", "spaces",
    "strategies", "training", "validation", "views", "widgets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nasrl_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
