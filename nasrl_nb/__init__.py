"""nasrl_nb: Neural Architecture Search with Reinforcement Learning, in Jupyter, for real.

Public names are imported lazily (PEP 562), so ``import nasrl_nb`` loads only what is
used and never pulls in ipywidgets, matplotlib, networkx or ray.
"""

from __future__ import annotations

import importlib

from . import display
from .interrupts import deferred_interrupt as _deferred_interrupt

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Architecture": "spaces.search_space",
    "Decision": "spaces.search_space",
    "SearchSpace": "spaces.search_space",
    "custom_space": "spaces.search_space",
    "space_from_spec": "spaces.registry",
    "architecture_from_json": "spaces.registry",
    "MacroSpace": "spaces.macro_space",
    "LayerSpec": "spaces.macro_space",
    "ARCHITECTURE_VOCAB": "spaces.macro_space",
    "ZophLeSpace": "spaces.zoph_le_space",
    "CellSpace": "spaces.cell_space",
    "CELL_OPS": "spaces.cell_space",
    "DartsSpace": "spaces.darts_space",
    "DARTS_OPS": "spaces.darts_space",
    "SPACES": "spaces.registry",
    "get_space": "spaces.registry",
    "parse_architecture": "spaces.registry",
    "record_architecture": "spaces.registry",
    "OPS": "nn.operations",
    "ACTIVATIONS": "nn.operations",
    "NORMALIZATIONS": "nn.operations",
    "build_op": "nn.operations",
    "quick_mode": "runtime",
    "seed_everything": "runtime",
    "resolve_device": "runtime",
    "environment_report": "runtime",
    "Dataset": "nn.data",
    "DATASETS": "nn.data",
    "load_dataset": "nn.data",
    "dataset_from_tensors": "nn.data",
    "TrainResult": "nn.training",
    "train_and_evaluate": "nn.training",
    "ChildNetwork": "nn.child_network",
    "count_parameters": "nn.complexity",
    "count_flops": "nn.complexity",
    "measure_latency_ms": "nn.complexity",
    "NASController": "controllers.lstm",
    "GRUController": "controllers.gru",
    "AttentionController": "controllers.attention",
    "make_controller": "controllers.registry",
    "grow_controller": "controllers.growth",
    "A2CTrainer": "rl.a2c",
    "TRPOTrainer": "rl.trpo",
    "SoftActorCritic": "rl.sac",
    "FactoredUCB1": "rl.bandits",
    "FactoredThompson": "rl.bandits",
    "make_trainer": "rl.registry",
    "BanditStrategy": "search.bandit_strategy",
    "CurriculumStrategy": "search.curriculum",
    "ControllerSample": "controllers.lstm",
    "PolicySnapshot": "controllers.lstm",
    "PolicyGradientTrainer": "rl.policy_gradient",
    "UpdateStats": "rl.policy_gradient",
    "Schedule": "rl.policy_gradient",
    "reinforce_loss": "rl.policy_gradient",
    "ppo_loss": "rl.policy_gradient",
    "CheckResult": "checks",
    "Search": "search.loop",
    "SearchStep": "search.loop",
    "Stage": "search.loop",
    "make_search": "search.factory",
    "resume_search": "search.factory",
    "rebuild_checkpoint": "search.rebuild",
    "read_history": "search.run_folder",
    "load_run": "search.run_folder",
    "RunFolder": "search.run_folder",
    "SearchConfig": "search.config",
    "Evaluator": "search.evaluation",
    "ChildEvaluator": "search.evaluation",
    "FunctionEvaluator": "search.evaluation",
    "ProcessEvaluator": "search.parallel",
    "RayEvaluator": "search.ray_evaluator",
    "train_architecture": "search.evaluation",
    "compute_reward": "rewards.objectives",
    "make_reward": "rewards.objectives",
    "RewardFunction": "rewards.objectives",
    "AccuracyReward": "rewards.objectives",
    "ZophLeReward": "rewards.objectives",
    "objective_reward": "rewards.objectives",
    "MultiObjectiveReward": "rewards.objectives",
    "ConstrainedReward": "rewards.objectives",
    "MnasNetReward": "rewards.objectives",
    "pareto_front": "rewards.pareto",
    "non_dominated_sort": "rewards.pareto",
    "SearchStrategy": "search.strategy",
    "make_strategy": "search.methods",
    "METHODS": "search.methods",
    "RandomSearch": "search.random_search",
    "RegularizedEvolution": "search.evolution",
    "PolicyGradientStrategy": "search.rl_strategy",
    "export_pytorch": "search.standalone",
    "export_search": "search.export",
    "export_summary": "search.export",
    "export_result": "search.export",
    "run_result": "search.export",
    "search_result": "search.export",
    "draw_architecture": "viz.drawing",
    "architecture_graph": "viz.drawing",
    "architecture_svg": "viz.drawing",
    "figure_to_png": "viz.drawing",
    "OP_COLORS": "viz.drawing",
    "plot_policy_heatmap": "viz.views",
    "plot_entropy_over_time": "viz.views",
    "plot_rewards": "viz.views",
    "plot_accuracy_vs_cost": "viz.views",
    "plot_alphas": "viz.darts_plots",
    "plot_training_curve": "viz.views",
    "max_entropy": "controllers.lstm",
    "BuildSettings": "bench.build",
    "TabularBenchmark": "bench.tabular",
    "TabularEvaluator": "bench.evaluator",
    "run_showdown": "bench.showdown",
    "table_transfer": "bench.transfer",
    "CellSupernet": "oneshot.supernet",
    "MacroSupernet": "oneshot.supernet",
    "build_shared_supernet": "oneshot.supernet",
    "SharedWeightEvaluator": "oneshot.evaluator",
    "EnasStrategy": "oneshot.enas",
    "RandomWeightSharing": "oneshot.enas",
    "kendall_tau": "stats",
    "spearman_rho": "stats",
    "MixedOp": "oneshot.mixed_op",
    "BilevelOptimizer": "oneshot.darts",
    "RelaxedCellSupernet": "oneshot.relaxed_cell",
    "DartsStrategy": "oneshot.darts_strategy",
    "plot_alpha_heatmap": "viz.darts_plots",
    "plot_collapse": "viz.darts_plots",
    "darts_epochs": "viz.darts_plots",
    "ranking_quality": "oneshot.ranking",
}

# submodules reachable as attributes (``nb.checks.check_space_size``) without an explicit import
_SUBMODULES = {
    "bench", "checks", "cli", "controllers", "nn", "rewards", "rl", "runtime", "search", "spaces", "validation",
    "viz", "widgets",
}

__all__ = sorted(_EXPORTS)

display.register()  # in a notebook: figures as pictures, architectures as drawings


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _import(name)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nasrl_nb' has no attribute {name!r}")
    value = getattr(_import(module), name)
    globals()[name] = value
    return value


def _import(module: str):
    """Import a submodule with Ctrl-C (a notebook's "interrupt kernel") held back until it is done.

    The first one imports torch, and a ``KeyboardInterrupt`` inside torch's start-up aborts
    the process (see :mod:`nasrl_nb.interrupts`): the kernel would die instead of stopping.
    """
    with _deferred_interrupt():
        return importlib.import_module(f".{module}", __name__)


def __dir__():
    return sorted(set(globals()) | set(__all__))
