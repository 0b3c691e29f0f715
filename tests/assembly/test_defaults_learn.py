"""The defaults learn within a lab's budget (issue 19): the rule, the optimiser, the reward scale.

Oracles: the history's reward std against NumPy; one SGD step against ``theta - lr * grad``; the
same search with rewards in other units proposes the same architectures. Behaviour: a default
search on the table commits (its entropy falls) and samples better than it started, for every
method that learns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrl_nb.assembly.compare import learning_curve
from nasrl_nb.assembly.config import BATCH_SIZE_RULE, SearchConfig, TrainerConfig, batch_size_rule
from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.rl.policy_gradient import PolicyGradientTrainer, RewardStats, reinforce_loss
from nasrl_nb.spaces.registry import get_space


@pytest.fixture(scope="module")
def bench(digits_cell_table):
    return digits_cell_table


def test_reward_stats_match_numpy_and_survive_a_checkpoint():
    rng = np.random.default_rng(0)
    rewards = rng.uniform(0.1, 0.95, size=37)
    stats = RewardStats()
    for chunk in np.array_split(rewards, 5):
        stats.add(chunk)
    assert stats.count == 37
    assert stats.mean == pytest.approx(rewards.mean(), abs=1e-12)
    assert stats.std == pytest.approx(rewards.std(), abs=1e-12)
    assert RewardStats.from_state(stats.state_dict()).std == stats.std
    assert RewardStats().std == 0.0


def test_history_scale_divides_by_the_std_of_every_reward_seen():
    ctrl = LSTMController(get_space("cell"), seed=0)
    trainer = PolicyGradientTrainer(ctrl)
    assert (trainer.optimizer_name, trainer.advantage_std) == ("sgd", "history")
    seen = []
    for batch in ([0.2, 0.9, 0.5, 0.6], [0.7, 0.8, 0.1, 0.95]):
        archs = trainer.propose(4)
        baseline = trainer.batch_baseline(batch)
        stats = trainer.update_policy(archs, batch)
        seen += batch
        expected = (np.array(batch) - baseline) / np.std(seen)
        np.testing.assert_allclose(stats.advantages, expected, rtol=1e-5)


def test_an_sgd_step_is_theta_minus_lr_times_the_gradient():
    torch.manual_seed(0)
    ctrl = LSTMController(get_space("cell"), seed=0)
    trainer = PolicyGradientTrainer(ctrl, lr=0.2, entropy_weight=0.0, grad_clip=None)
    archs, rewards = trainer.propose(4), [0.3, 0.9, 0.6, 0.5]
    before = [p.detach().clone() for p in ctrl.parameters()]
    # the gradient the update must follow, computed by hand: A = (R - mean R) / std(R)
    r = torch.tensor(rewards)
    advantages = ((r - r.mean()) / r.std(unbiased=False))[:, None]
    out = ctrl(ctrl.as_indices(archs))
    grads = torch.autograd.grad(reinforce_loss(out.decision_log_probs, advantages), list(ctrl.parameters()), allow_unused=True)
    trainer.update_policy(archs, rewards)
    for p, b, g in zip(ctrl.parameters(), before, grads):
        expected = b if g is None else b - 0.2 * g
        torch.testing.assert_close(p.detach(), expected, rtol=1e-4, atol=1e-6)


def test_the_policy_does_not_depend_on_the_reward_units(bench):
    """Accuracy as a fraction or in tenths of it: the same architectures, update after update."""
    def run(scale):
        torch.manual_seed(3)  # the controller's initial weights
        ctrl = LSTMController(get_space("cell"), seed=3)
        trainer = PolicyGradientTrainer(ctrl)
        proposed = []
        from nasrl_nb.bench.evaluator import TabularEvaluator

        evaluator = TabularEvaluator(bench, seed=3)
        for _ in range(10):
            archs = trainer.propose(4)
            rewards = [scale * r["val_accuracy"] for r in evaluator.evaluate(archs)]
            trainer.update_policy(archs, rewards)
            proposed += [str(a) for a in archs]
        return proposed

    assert run(1.0) == run(0.1)


def test_the_batch_size_rule_and_where_it_is_recorded():
    assert [batch_size_rule("reinforce", b) for b in (12, 50, 100, 200, 300, 5000)] == [2, 2, 4, 8, 8, 8]
    assert batch_size_rule("evolution", 300) == 1
    assert batch_size_rule("reinforce", 50, workers=6) == 6
    config = SearchConfig.from_settings(method="reinforce", budget=100)
    assert config.batch_size == 4 and config.rules == {"batch_size": BATCH_SIZE_RULE}
    assert config.to_dict()["rules"]["batch_size"] == BATCH_SIZE_RULE  # written to config.json
    given = SearchConfig.from_settings(method="reinforce", budget=100, batch_size=3)
    assert given.batch_size == 3 and "batch_size" not in given.rules
    # a saved run keeps its batch when it resumes with a larger budget
    resumed = SearchConfig.from_dict(config.to_dict()).with_settings(budget=300)
    assert resumed.batch_size == 4
    assert SearchConfig.from_settings(method="darts", budget=10).batch_size == 1  # one epoch per step


def test_trainer_config_defaults_are_the_trainers():
    """One place for each default: the config section and the trainer agree."""
    import inspect

    signature = inspect.signature(PolicyGradientTrainer.__init__).parameters
    config = TrainerConfig()
    for name in ("lr", "optimizer", "advantage_std", "normalize_advantages", "baseline_decay", "entropy_weight"):
        assert signature[name].default == getattr(config, name), name


def test_bad_trainer_choices_name_the_field():
    with pytest.raises(ValueError, match=r"trainer\.optimizer.*sgd.*adam"):
        SearchConfig.from_settings(trainer_kwargs={"optimizer": "rmsprop"})
    with pytest.raises(ValueError, match=r"advantage_std.*history.*batch"):
        PolicyGradientTrainer(LSTMController(get_space("cell"), seed=0), advantage_std="global")


@pytest.mark.parametrize("method", ["reinforce", "ppo", "a2c", "trpo", "sac"])
def test_a_default_search_on_the_table_commits_and_improves(bench, method):
    """With nothing but the method and a budget of 100, the policy's entropy falls and the last
    fifth of the samples beats the first (mean over 3 seeds)."""
    curves = [learning_curve(bench, method, seed, budget=100) for seed in range(3)]
    first = np.mean([c.entropy[0] for c in curves])
    last = np.mean([c.entropy[-1] for c in curves])
    assert last < 0.85 * first, (first, last)
    start, end = np.mean([c.fifths() for c in curves], axis=0)
    assert end > start + 0.1, (start, end)


@pytest.mark.parametrize("method", ["evolution", "thompson", "ucb"])
def test_default_searches_without_a_policy_improve_on_their_start(bench, method):
    curves = [learning_curve(bench, method, seed, budget=100) for seed in range(3)]
    start, end = np.mean([c.fifths() for c in curves], axis=0)
    assert end > start + 0.1, (start, end)


def test_random_search_does_not_improve(bench):
    """The control: the same measure does not move for a search that learns nothing."""
    curves = [learning_curve(bench, "random", seed, budget=100) for seed in range(3)]
    start, end = np.mean([c.fifths() for c in curves], axis=0)
    assert abs(end - start) < 0.1


def test_zoph_and_les_settings_are_a_preset_not_the_default():
    config = SearchConfig.from_settings(method="reinforce", preset="zoph-le", budget=100)
    assert (config.trainer.optimizer, config.trainer.lr, config.trainer.normalize_advantages) == ("adam", 6e-4, False)
    assert config.rules["preset"] == "zoph-le" and config.to_dict()["rules"]["preset"] == "zoph-le"
    assert SearchConfig.from_settings(method="reinforce").trainer.optimizer == "sgd"
    with pytest.raises(ValueError, match=r"preset: 'enas' is not allowed; allowed values: zoph-le"):
        SearchConfig.from_settings(preset="enas")
    with pytest.raises(ValueError, match=r"preset: 'zoph-le' .* allowed methods: reinforce, ppo, not 'random'"):
        SearchConfig.from_settings(method="random", preset="zoph-le")


def test_the_cli_preset_and_the_rule_in_config_json(tmp_path, capsys):
    import json

    from nasrl_nb.cli.commands import main

    out = tmp_path / "run"
    assert main(["search", "--method", "reinforce", "--dataset", "bench:digits-cell", "--budget", "8",
                 "--preset", "zoph-le", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["trainer"]["optimizer"] == "adam" and config["rules"]["preset"] == "zoph-le"
    assert config["batch_size"] == 2 and config["rules"]["batch_size"] == BATCH_SIZE_RULE
    capsys.readouterr()
    assert main(["search", "--dataset", "bench:digits-cell", "--budget", "12", "--preset", "zoph-le",
                 "--out", str(out), "--resume", "--quiet"]) == 2
    assert "preset: chooses the settings of a new search" in capsys.readouterr().err
    assert main(["search", "--preset", "long", "--out", str(tmp_path / "x")]) == 2
    assert "zoph-le" in capsys.readouterr().err  # the allowed value is named


def test_a_run_folder_written_before_the_new_defaults_resumes_as_it_ran():
    """config.json of earlier runs has no trainer.optimizer: their controller stepped by Adam on the
    batch's reward std (and their supernet at a constant rate); reading it back keeps that."""
    old = SearchConfig.from_settings(method="reinforce", budget=20).to_dict()
    for key in ("optimizer", "advantage_std"):
        old["trainer"].pop(key)
    old["supernet"].pop("lr_schedule")
    config = SearchConfig.from_dict(old)
    assert (config.trainer.optimizer, config.trainer.advantage_std) == ("adam", "batch")
    assert config.supernet.lr_schedule == "constant"
    assert SearchConfig.from_dict(SearchConfig.from_settings(budget=20).to_dict()).trainer.optimizer == "sgd"


# --- rank advantages (REINFORCE's default: fitness shaping by ranks) ------------------------------


def test_rank_advantages_are_centred_mid_rank_quantiles():
    """Oracle: scipy's average ranks. F = (rank - 1/2) / n, A = sqrt(12) (F - 1/2)."""
    from scipy.stats import rankdata

    from nasrl_nb.rl.policy_gradient import rank_advantages

    window = torch.tensor([0.3, 0.9, 0.5, 0.5, 0.1, 0.7, 0.95, 0.2])
    rewards = window[-4:]  # the batch is the window's newest rewards
    expected = np.sqrt(12) * ((rankdata(window.numpy())[-4:] - 0.5) / 8 - 0.5)
    np.testing.assert_allclose(rank_advantages(rewards, window).numpy(), expected, rtol=1e-6)
    # over the whole window they average 0 and have the spread of a uniform variable scaled to 1
    whole = rank_advantages(window, window)
    assert float(whole.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(rank_advantages(torch.tensor([0.4, 0.4]), torch.tensor([0.4, 0.4])).abs().max()) == 0.0  # ties: 0


def test_the_rank_window_holds_the_last_rewards_and_survives_a_checkpoint():
    ctrl = LSTMController(get_space("cell"), seed=0)
    trainer = PolicyGradientTrainer(ctrl, rank_window=6)
    for batch in ([0.2, 0.9, 0.5, 0.6], [0.7, 0.8, 0.1, 0.95]):
        stats = trainer.update_policy(trainer.propose(4), batch)
    assert trainer.recent_rewards == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.1, 0.95])
    # the second batch was ranked among [0.5, 0.6] and itself: 0.1 lowest, 0.95 highest
    window = torch.tensor([0.5, 0.6, 0.7, 0.8, 0.1, 0.95])
    from nasrl_nb.rl.policy_gradient import rank_advantages

    np.testing.assert_allclose(stats.advantages, rank_advantages(window[-4:], window).numpy(), rtol=1e-5)
    assert stats.baseline == pytest.approx(float(window.median()))
    copy = PolicyGradientTrainer(LSTMController(get_space("cell"), seed=1), rank_window=6)
    copy.load_state_dict(trainer.state_dict())
    assert copy.recent_rewards == trainer.recent_rewards
    with pytest.raises(ValueError, match=r"rank_window: .*value_baseline"):
        PolicyGradientTrainer(LSTMController(get_space("cell"), seed=0), rank_window=4, value_baseline=True)
    with pytest.raises(ValueError, match=r"rank_window"):
        PolicyGradientTrainer(LSTMController(get_space("cell"), seed=0), rank_window=0)


def _proposals(bench, transform, **trainer_kwargs):
    from nasrl_nb.bench.evaluator import TabularEvaluator

    torch.manual_seed(3)  # the controller's initial weights
    ctrl = LSTMController(get_space("cell"), seed=3)
    trainer = PolicyGradientTrainer(ctrl, **trainer_kwargs)
    evaluator = TabularEvaluator(bench, seed=3)
    proposed = []
    for _ in range(10):
        archs = trainer.propose(4)
        trainer.update_policy(archs, [transform(r["val_accuracy"]) for r in evaluator.evaluate(archs)])
        proposed += [str(a) for a in archs]
    return proposed


def test_rank_advantages_do_not_depend_on_the_rewards_shape(bench):
    """Any increasing transform of the accuracy (here its cube) proposes the same architectures
    with rank advantages; the history-std advantages, only scale-free, do not."""
    window = SearchConfig.from_settings(method="reinforce").trainer.rank_window
    assert _proposals(bench, lambda r: r, rank_window=window) == _proposals(bench, lambda r: r ** 3, rank_window=window)
    assert _proposals(bench, lambda r: r) != _proposals(bench, lambda r: r ** 3)


def test_reinforces_default_ranks_and_the_zoph_le_preset_does_not():
    config = SearchConfig.from_settings(method="reinforce", budget=100)
    assert config.trainer.rank_window == 8
    assert SearchConfig.from_settings(method="reinforce", preset="zoph-le").trainer.rank_window is None
    for method in ("ppo", "a2c", "trpo", "sac"):
        assert SearchConfig.from_settings(method=method).trainer.rank_window is None, method
    # a run folder written before rank advantages existed resumes with R - b, as it ran
    old = config.to_dict()
    old["trainer"].pop("rank_window")
    assert SearchConfig.from_dict(old).trainer.rank_window is None


# --- UCB's exploration: a bonus counted in the rewards' std, c = 1 ---------------------------------


def test_ucbs_default_bonus_is_one_reward_std(bench):
    """The default search's UCB scores are mean + 1 * sigma * sqrt(2 ln N / n), sigma the std of the
    rewards seen (oracle: NumPy on the recorded rewards)."""
    from nasrl_nb.assembly.factory import make_search
    from nasrl_nb.bench.evaluator import TabularEvaluator

    search = make_search("ucb", "cell", None, budget=40, seed=0, progress=False,
                         evaluator=TabularEvaluator(bench, seed=0))
    search.run()
    bandit = search.strategy.bandit
    rewards = np.array([r["val_accuracy"] for r in search.history])
    assert bandit.sigma() == pytest.approx(rewards.std(ddof=1))
    for t in range(len(bandit.counts)):
        n = bandit.counts[t]
        expected = bandit.means(t) + bandit.sigma() * np.sqrt(2 * np.log(n.sum()) / n)
        np.testing.assert_allclose(bandit.scores(t)[n > 0], expected[n > 0])


def test_ucbs_proposals_do_not_depend_on_the_rewards_units(bench):
    """The rule holds on any table's scale: rewards in other units give the same search (a factor of
    8, exact in floating point, so that ties among the table's discrete accuracies stay ties)."""
    from nasrl_nb.rl.bandits import FactoredUCB1

    def run(transform):
        from nasrl_nb.bench.evaluator import TabularEvaluator

        bandit, evaluator, proposed = FactoredUCB1(get_space("cell"), seed=5), TabularEvaluator(bench, seed=5), []
        for _ in range(20):
            archs = bandit.propose(4)
            bandit.observe(archs, [transform(r["val_accuracy"]) for r in evaluator.evaluate(archs)])
            proposed += [str(a) for a in archs]
        return proposed

    assert run(lambda r: r) == run(lambda r: 8.0 * r)
