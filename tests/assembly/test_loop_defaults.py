"""The loop sits below the configuration (run/ is layer 5, assembly/ layer 7), so it cannot read
``SearchConfig``'s defaults: its own keyword defaults must equal them, or a hand-built search and
``make_search`` would differ silently."""

import inspect

import pytest

from nasrl_nb.assembly.config import ParallelConfig, SearchConfig
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.run.loop import Search
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.strategies.random_search import RandomSearch


def parts():
    space = get_space("cell")
    return space, RandomSearch(space), FunctionEvaluator(lambda arch: {"val_accuracy": 0.5, "test_accuracy": 0.5})

DEFAULTS = {  # Search keyword -> the configuration's default
    "seed": SearchConfig.seed,
    "progress": SearchConfig.progress,
    "policy_snapshots": SearchConfig.policy_snapshots,
    "asynchronous": ParallelConfig.asynchronous,
}


@pytest.mark.parametrize("keyword", sorted(DEFAULTS))
def test_the_loops_defaults_are_the_configurations(keyword):
    assert inspect.signature(Search).parameters[keyword].default == DEFAULTS[keyword]


def test_the_loop_takes_any_configuration_that_can_write_and_check_itself():
    """``config``: an object with ``to_dict`` and ``check_resume`` (SearchConfig has both), else a ValueError."""
    assert callable(SearchConfig.to_dict) and callable(SearchConfig.check_resume)
    with pytest.raises(ValueError, match="^config: expected a SearchConfig or None, got dict$"):
        Search(*parts(), budget=1, progress=False, config={"seed": 0})


def test_a_hand_built_search_resumes_only_with_the_same_essentials(tmp_path):
    """No configuration object: the loop compares its essentials itself; the budget may change."""
    Search(*parts(), budget=2, batch_size=2, progress=False, out_dir=tmp_path / "run").run()
    resumed = Search(*parts(), budget=4, batch_size=2, progress=False, out_dir=tmp_path / "run", resume=True)
    assert resumed.run()["evaluations"] == 4
    with pytest.raises(ValueError, match=r"holds a search with other settings: seed: 0 -> 1 \(only budget"):
        Search(*parts(), budget=4, batch_size=2, seed=1, progress=False, out_dir=tmp_path / "run", resume=True)
