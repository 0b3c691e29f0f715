"""A mutation check: one-line mistakes that the named tests must catch.

Each entry of :data:`MUTATIONS` is plain data: a file of the package, an exact text in it, the
wrong text to put in its place, and the test node ids (relative to the repository root) that
must then FAIL. The check copies ``nasrl_nb/`` into a temporary folder, makes the one
replacement there (never in the working tree), runs the named tests in a process whose
``import nasrl_nb`` finds the copy, and asserts that pytest reports failed tests (exit status 1:
not 0, and not a collection or usage error). One subprocess, ``tests/mutation_runner.py``, serves
every entry: it imports PyTorch and pytest once and forks a child per mutation, which imports
``nasrl_nb`` afresh (with the mutated file) and runs only the entry's node ids with ``-x``.
A refactor that removes or duplicates an entry's text fails
:func:`test_each_mutation_names_text_that_exists_exactly_once` loudly, so an entry cannot go
stale silently: update the entry with the code.

To add one, append a ``Mutation``; keep its tests few and fast (the whole check should stay
under about a minute on 2 cores).
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]


class Mutation(NamedTuple):
    file: str  # path of a file inside nasrl_nb/
    old: str  # the exact text, present exactly once in that file
    new: str  # what the mutation puts in its place
    tests: tuple[str, ...]  # node ids that must fail, relative to the repository root


MUTATIONS: dict[str, Mutation] = {
    # Thompson sampling: the posterior of a mean after n observations spreads as sigma / sqrt(n)
    "thompson spread sigma/n": Mutation(
        "rl/bandits.py",
        "return mean, self.sigma() / np.sqrt(n)",
        "return mean, self.sigma() / n",
        ("tests/rl/test_bandits.py::test_thompson_posterior_shrinks_towards_the_global_mean",),
    ),
    # epsilon-greedy: the mixture's samples scored with log pi alone (no pi / mu weight)
    "epsilon-greedy without its importance weight": Mutation(
        "rl/policy_gradient.py",
        "advantages = advantages * self.behaviour_weights(out.decision_log_probs)[:, None]  # (B, D)",
        "advantages = advantages  # (B, D)",
        ("tests/rl/test_policy_gradient.py::test_epsilon_greedy_expected_update_is_the_policy_gradient",),
    ),
    "epsilon-greedy weight mu / pi instead of pi / mu": Mutation(
        "rl/policy_gradient.py",
        "return 1.0 / ((1 - epsilon) + epsilon * torch.exp(log_uniform - log_pi))",
        "return (1 - epsilon) + epsilon * torch.exp(log_uniform - log_pi)",
        ("tests/rl/test_policy_gradient.py::test_epsilon_greedy_weights_are_pi_over_the_mixture",
         "tests/rl/test_policy_gradient.py::test_epsilon_greedy_expected_update_is_the_policy_gradient"),
    ),
    # A2C: the clip must cover the critic, which shares the loss and the optimiser
    "a2c clips the controller only": Mutation(
        "rl/policy_gradient.py",
        'params = [p for group in self.optimizer.param_groups for p in group["params"]]',
        "params = list(self.controller.parameters())",
        ("tests/rl/test_a2c.py::test_a2c_clips_the_critic_with_the_controller",),
    ),
    "sac reports no grad norm": Mutation(
        "rl/sac.py",
        "grad_norm=sum(norms) / len(norms),",
        "grad_norm=0.0,",
        ("tests/rl/test_sac.py::test_sac_reports_the_policy_gradient_norm_before_clipping",),
    ),
    # PPO (rl/ppo.py): the surrogate without its clip
    "ppo surrogate without the clip": Mutation(
        "rl/ppo.py",
        "surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)",
        "surrogate = ratio * advantages",
        ("tests/rl/test_policy_gradient.py::test_ppo_gradient_equals_reinforce_at_old_policy_and_vanishes_when_clipped",),
    ),
    # DARTS's fused mixed op: the ops that start with ReLU must read the shared relu(x), not x
    "fused mixed op skips the shared relu": Mutation(
        "darts/mixed_op.py",
        "h = relu_x if relu_first else x",
        "h = x",
        ("tests/darts/test_mixed_op.py::test_fused_mixed_op_equals_the_plain_sum[cell-nchw-darts]",),
    ),
    "curriculum drops the value-baseline head": Mutation(
        "strategies/curriculum.py",
        "if old.value_head is not None:",
        "if False:",
        ("tests/strategies/test_curriculum.py::test_growth_keeps_the_value_baseline_head",),
    ),
    "ucb re-proposes known architectures": Mutation(
        "rl/bandits.py",
        "if row not in self.known:",
        "if True:",
        ("tests/rl/test_bandits.py::test_ucb_does_not_spend_a_budget_on_known_architectures",),
    ),
    # the controller's defaults (issue 19): plain SGD, advantages over the std of every reward seen
    "controller steps with Adam instead of SGD": Mutation(
        "rl/policy_gradient.py",
        'optimizer_class = torch.optim.SGD if self.optimizer_name == "sgd" else torch.optim.Adam',
        "optimizer_class = torch.optim.Adam",
        ("tests/assembly/test_defaults_learn.py::test_an_sgd_step_is_theta_minus_lr_times_the_gradient",),
    ),
    "advantages over the batch's std instead of the history's": Mutation(
        "rl/policy_gradient.py",
        "std = self.reward_stats.std",
        "std = float(rewards.std())",
        ("tests/assembly/test_defaults_learn.py::test_history_scale_divides_by_the_std_of_every_reward_seen",),
    ),
    # REINFORCE's default advantages (issue 19, aim 2): centred ranks among the recent rewards
    "rank advantages not centred": Mutation(
        "rl/policy_gradient.py",
        "return math.sqrt(12.0) * (quantile - 0.5)",
        "return math.sqrt(12.0) * quantile",
        ("tests/assembly/test_defaults_learn.py::test_rank_advantages_are_centred_mid_rank_quantiles",),
    ),
    "rank window forgets the earlier rewards": Mutation(
        "rl/policy_gradient.py",
        "window = (self.recent_rewards + rewards.tolist())[-max(self.rank_window, rewards.numel()):]",
        "window = rewards.tolist()",
        ("tests/assembly/test_defaults_learn.py::test_the_rank_window_holds_the_last_rewards_and_survives_a_checkpoint",),
    ),
    # ENAS (issue 20): the reward reads a validation minibatch; phase 1 trains the controller's samples
    "enas reward on a training minibatch": Mutation(
        "enas/evaluator.py",
        'accuracy = self._accuracy(arch, "val", batch)',
        'accuracy = self._accuracy(arch, "train", batch)',
        ("tests/enas/test_enas_as_trained.py::test_phase_one_trains_on_training_minibatches_and_the_reward_reads_validation_minibatches",),
    ),
    "enas phase 1 trains uniform cells, not the controller's": Mutation(
        "enas/strategy.py",
        'return self.controller.sample(require_positive("n", n, integer=True)).architectures',
        'return [self.space.sample(np.random.default_rng(seed)) for seed in range(require_positive("n", n, integer=True))]',
        ("tests/enas/test_enas_as_trained.py::test_phase_one_trains_the_controllers_samples",),
    ),
    # DARTS (issue 20): the architecture step reads the other half of the training split
    "darts architecture step on the weight step's batch": Mutation(
        "darts/strategy.py",
        "stats = self.optimizer.step((X[w_idx], y[w_idx]), (X[a_idx], y[a_idx])).to_dict()",
        "stats = self.optimizer.step((X[w_idx], y[w_idx]), (X[w_idx], y[w_idx])).to_dict()",
        ("tests/darts/test_darts_as_searched.py::test_the_architecture_step_reads_the_alpha_half_and_the_weight_step_the_weight_half",),
    ),
    # the same intra-op threads per child in every evaluator
    "child trains with the caller's threads": Mutation(
        "evaluators/base.py",
        "with preserved_rng(), torch_threads(self.threads):",
        "with preserved_rng():",
        ("tests/evaluators/test_evaluation.py::test_a_child_trains_with_the_evaluators_threads_whatever_the_caller_has",),
    ),
}


def test_each_mutation_names_text_that_exists_exactly_once():
    for name, mutation in MUTATIONS.items():
        text = (REPO / "nasrl_nb" / mutation.file).read_text()
        assert text.count(mutation.old) == 1, (
            f"{name}: {mutation.old!r} occurs {text.count(mutation.old)} times in nasrl_nb/{mutation.file}; "
            "update this entry with the code")
        assert mutation.new != mutation.old and mutation.tests, name
        for node in mutation.tests:
            assert (REPO / node.split("::")[0]).is_file(), f"{name}: no test file {node}"


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """A compiled copy of nasrl_nb/ in a fresh folder, and an env whose Python imports it.

    Only pytest-timeout is loaded in the subprocess (no plugin autoload: nbval, Jupyter and
    Playwright's plugins would double its start-up).
    """
    root = tmp_path_factory.mktemp("mutant")
    shutil.copytree(REPO / "nasrl_nb", root / "nasrl_nb", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(root / "nasrl_nb", quiet=1)  # once; a mutated file is recompiled (its mtime moves)
    env = {**os.environ, "PYTHONPATH": str(root), "NASRL_NB_QUICK": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return root, env


@pytest.fixture(scope="module")
def outcomes(request, package_copy):
    """Every selected entry run by one ``tests/mutation_runner.py``: one start-up, a fork per mutation.

    Only the entries this session selected run (``-k`` picks one without paying for the rest).
    """
    root, env = package_copy
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "originalname", None) == "test_the_named_tests_fail_on_the_mutation"]
    jobs = [{"name": name, "file": MUTATIONS[name].file, "old": MUTATIONS[name].old, "new": MUTATIONS[name].new,
             "tests": [str(REPO / node) for node in MUTATIONS[name].tests]} for name in names]
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "mutation_runner.py")], input=json.dumps(jobs),
                          cwd=root, env=env, capture_output=True, text=True, timeout=300 + 120 * len(jobs))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, json.loads(proc.stdout)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_named_tests_fail_on_the_mutation(name, outcomes):
    root, results = outcomes
    result = results[name]
    assert result["status"] is not None, f"{name}: {result['tail']}"
    # the tests imported the copy, with the mutated file in it, not the working tree's package
    assert result["imported"] and Path(result["imported"]).resolve() == (root / "nasrl_nb" / "__init__.py").resolve(), (
        f"{name}: the tests imported {result['imported']}:\n{result['tail']}")
    assert result["status"] == 1, f"{name}: the mutation survived (exit {result['status']}):\n{result['tail']}"
    assert "failed" in result["tail"], result["tail"]
    assert (root / "nasrl_nb" / MUTATIONS[name].file).read_text().count(MUTATIONS[name].old) == 1  # put back
