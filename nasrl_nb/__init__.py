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
    "LSTMController": "controllers.lstm",
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
    # layer 4: search strategies (who proposes) and evaluators (who trains)
    "SearchStrategy": "strategies.base",
    "RandomSearch": "strategies.random_search",
    "RegularizedEvolution": "strategies.evolution",
    "PolicyGradientStrategy": "strategies.rl",
    "BanditStrategy": "strategies.bandit",
    "CurriculumStrategy": "strategies.curriculum",
    "Evaluator": "evaluators.base",
    "ChildEvaluator": "evaluators.base",
    "FunctionEvaluator": "evaluators.base",
    "train_architecture": "evaluators.base",
    "ProcessEvaluator": "evaluators.process",
    "RayEvaluator": "evaluators.ray_evaluator",
    # layer 5: tabular benchmarks; one search run (the loop, its run folder)
    "Search": "run.loop",
    "SearchStep": "run.loop",
    "Stage": "run.loop",
    "RunFolder": "run.folder",
    "read_history": "run.folder",
    "load_run": "run.folder",
    "TabularBenchmark": "bench.tabular",
    "TabularEvaluator": "bench.evaluator",
    "BuildSettings": "bench.build",
    "table_transfer": "bench.transfer",
    # layer 6: one-shot search: ENAS's weight sharing, DARTS's relaxation
    "CellSupernet": "enas.supernet",
    "MacroSupernet": "enas.supernet",
    "build_shared_supernet": "enas.supernet",
    "SharedWeightEvaluator": "enas.evaluator",
    "EnasStrategy": "enas.strategy",
    "RandomWeightSharing": "enas.strategy",
    "ranking_quality": "enas.ranking",
    "MixedOp": "darts.mixed_op",
    "FusedMixedOp": "darts.mixed_op",
    "BilevelOptimizer": "darts.architect",
    "RelaxedCellSupernet": "darts.relaxed_cell",
    "DartsStrategy": "darts.strategy",
    # ... and PNAS: cells grown edge by edge, ranked by a learned predictor
    "ProgressiveSearch": "pnas.strategy",
    # layer 7: every method put together (configuration, factory, registry, the result)
    "make_search": "assembly.factory",
    "resume_search": "assembly.factory",
    "SearchConfig": "assembly.config",
    "METHODS": "assembly.methods",
    "make_strategy": "assembly.methods",
    "rebuild_checkpoint": "assembly.rebuild",
    "result": "assembly.result",
    "SearchResult": "assembly.result",
    "run_showdown": "assembly.comparable_cost",
    # layer 8: plots (pure functions returning a Figure)
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
    "draw_mixed_op": "viz.relaxation_drawing",
    "draw_relaxed_supernet": "viz.relaxation_drawing",
    "plot_pnas_steps": "viz.pnas_plots",
    # layer 9: exercise checks (the widgets are nasrl_nb.widgets: they need ipywidgets)
    "CheckResult": "checks",
}

# subpackages and modules reachable as attributes (``nb.checks.check_space_size``) without an explicit import
_SUBMODULES = frozenset({
    "runtime", "validation", "interrupts", "stats", "spaces", "checkpoint", "nn", "controllers", "rewards", "rl",
    "strategies", "evaluators", "bench", "run", "enas", "darts", "pnas", "zero", "assembly", "viz", "display", "widgets", "checks", "cli",
})

__all__ = sorted(_EXPORTS)

if _display.register():  # in a notebook: figures as pictures, architectures as drawings
    _import_module(".runtime", __name__).quick_kernel_threads()  # and, in quick mode, one torch thread


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
