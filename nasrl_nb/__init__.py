"""nasrl_nb: Neural Architecture Search with Reinforcement Learning, in Jupyter, for real.

``import nasrl_nb as nb`` gives the names a notebook needs (``__all__``), grouped below by
the package's layers (``tests/test_layers.py``: a module imports only from its own layer or
below), and each subpackage as an attribute (``nb.checks``, ``nb.runtime``). They are
imported lazily (PEP 562), so ``import nasrl_nb`` loads only what is used and never pulls in
ipywidgets, matplotlib, networkx or ray.
"""

from importlib import import_module as _import_module

from . import display as _display
from .interrupts import deferred_interrupt as _deferred_interrupt

__version__ = "0.1.0"

# public name -> module that defines it, layer by layer
_EXPORTS = {
    # layer 0: the runtime (device, seeds, quick mode) and rank statistics
    "quick_mode": "runtime",
    "seed_everything": "runtime",
    "resolve_device": "runtime",
    "environment_report": "runtime",
    "kendall_tau": "stats",
    "spearman_rho": "stats",
    # layer 1: search spaces and architectures (the search/trainer contract)
    "Architecture": "spaces.search_space",
    "Decision": "spaces.search_space",
    "SearchSpace": "spaces.search_space",
    "custom_space": "spaces.search_space",
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
    "space_from_spec": "spaces.registry",
    "parse_architecture": "spaces.registry",
    "architecture_from_json": "spaces.registry",
    "record_architecture": "spaces.registry",
    # layer 2: child networks and data; controllers; rewards
    "OPS": "nn.operations",
    "ACTIVATIONS": "nn.operations",
    "NORMALIZATIONS": "nn.operations",
    "build_op": "nn.operations",
    "Dataset": "nn.data",
    "DATASETS": "nn.data",
    "load_dataset": "nn.data",
    "dataset_from_tensors": "nn.data",
    "ChildNetwork": "nn.child_network",
    "TrainResult": "nn.training",
    "train_and_evaluate": "nn.training",
    "count_parameters": "nn.complexity",
    "count_flops": "nn.complexity",
    "measure_latency_ms": "nn.complexity",
    "NASController": "controllers.lstm",
    "ControllerSample": "controllers.lstm",
    "PolicySnapshot": "controllers.lstm",
    "max_entropy": "controllers.lstm",
    "GRUController": "controllers.gru",
    "AttentionController": "controllers.attention",
    "make_controller": "controllers.registry",
    "grow_controller": "controllers.growth",
    "RewardFunction": "rewards.objectives",
    "AccuracyReward": "rewards.objectives",
    "ZophLeReward": "rewards.objectives",
    "MultiObjectiveReward": "rewards.objectives",
    "ConstrainedReward": "rewards.objectives",
    "MnasNetReward": "rewards.objectives",
    "compute_reward": "rewards.objectives",
    "make_reward": "rewards.objectives",
    "objective_reward": "rewards.objectives",
    "pareto_front": "rewards.pareto",
    "non_dominated_sort": "rewards.pareto",
    # layer 3: policy optimisers for the controllers
    "reinforce_loss": "rl.policy_gradient",
    "ppo_loss": "rl.ppo",
    "PolicyGradientTrainer": "rl.policy_gradient",
    "UpdateStats": "rl.policy_gradient",
    "Schedule": "rl.policy_gradient",
    "A2CTrainer": "rl.a2c",
    "TRPOTrainer": "rl.trpo",
    "SoftActorCritic": "rl.sac",
    "FactoredUCB1": "rl.bandits",
    "FactoredThompson": "rl.bandits",
    "make_trainer": "rl.registry",
    # layer 4: the search (strategies, evaluators, the loop, run folders, results) ...
    "make_search": "search.factory",
    "resume_search": "search.factory",
    "Search": "search.loop",
    "SearchStep": "search.loop",
    "Stage": "search.loop",
    "SearchConfig": "search.config",
    "SearchStrategy": "search.strategy",
    "METHODS": "search.methods",
    "make_strategy": "search.methods",
    "RandomSearch": "search.random_search",
    "RegularizedEvolution": "search.evolution",
    "PolicyGradientStrategy": "search.rl_strategy",
    "BanditStrategy": "search.bandit_strategy",
    "CurriculumStrategy": "search.curriculum",
    "Evaluator": "search.evaluation",
    "ChildEvaluator": "search.evaluation",
    "FunctionEvaluator": "search.evaluation",
    "train_architecture": "search.evaluation",
    "ProcessEvaluator": "search.parallel",
    "RayEvaluator": "search.ray_evaluator",
    "RunFolder": "search.run_folder",
    "read_history": "search.run_folder",
    "load_run": "search.run_folder",
    "rebuild_checkpoint": "search.rebuild",
    "export_search": "search.export",
    "export_summary": "search.export",
    "export_result": "search.export",
    "run_result": "search.export",
    "search_result": "search.export",
    "export_pytorch": "search.standalone",
    # ... tabular benchmarks ...
    "TabularBenchmark": "bench.tabular",
    "TabularEvaluator": "bench.evaluator",
    "BuildSettings": "bench.build",
    "table_transfer": "bench.transfer",
    "run_showdown": "bench.showdown",
    # ... and one-shot search: ENAS's weight sharing, DARTS's relaxation
    "CellSupernet": "oneshot.supernet",
    "MacroSupernet": "oneshot.supernet",
    "build_shared_supernet": "oneshot.supernet",
    "SharedWeightEvaluator": "oneshot.evaluator",
    "EnasStrategy": "oneshot.enas",
    "RandomWeightSharing": "oneshot.enas",
    "ranking_quality": "oneshot.ranking",
    "MixedOp": "oneshot.mixed_op",
    "FusedMixedOp": "oneshot.mixed_op",
    "BilevelOptimizer": "oneshot.darts",
    "RelaxedCellSupernet": "oneshot.relaxed_cell",
    "DartsStrategy": "oneshot.darts_strategy",
    # ... and PNAS: cells grown edge by edge, ranked by a learned predictor
    "ProgressiveSearch": "pnas.strategy",
    # layer 5: plots (pure functions returning a Figure)
    "draw_architecture": "viz.drawing",
    "architecture_graph": "viz.drawing",
    "architecture_svg": "viz.drawing",
    "figure_to_png": "viz.drawing",
    "OP_COLORS": "viz.drawing",
    "plot_policy_heatmap": "viz.views",
    "plot_entropy_over_time": "viz.views",
    "plot_rewards": "viz.views",
    "plot_accuracy_vs_cost": "viz.views",
    "plot_training_curve": "viz.views",
    "plot_alphas": "viz.darts_plots",
    "plot_alpha_heatmap": "viz.darts_plots",
    "plot_collapse": "viz.darts_plots",
    "darts_epochs": "viz.darts_plots",
    "plot_pnas_steps": "viz.pnas_plots",
    # layer 6: exercise checks (the widgets are nasrl_nb.widgets: they need ipywidgets)
    "CheckResult": "checks",
}

# subpackages and modules reachable as attributes (``nb.checks.check_space_size``) without an explicit import
_SUBMODULES = frozenset({
    "runtime", "validation", "interrupts", "stats", "spaces", "nn", "controllers", "rewards", "rl", "search", "bench",
    "oneshot", "pnas", "viz", "display", "widgets", "checks", "cli",
})

__all__ = sorted(_EXPORTS)

_display.register()  # in a notebook: figures as pictures, architectures as drawings


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
        return _import_module(f".{module}", __name__)


def __dir__():
    """The public names, the submodules and ``__version__``: what ``nb.<Tab>`` should offer."""
    return sorted(set(__all__) | _SUBMODULES | {"__version__"})
