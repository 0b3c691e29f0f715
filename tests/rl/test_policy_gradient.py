"""REINFORCE and PPO: the bandit gradient in closed form, the pre-batch baseline, the advantages
the loss used, PPO's trust region, learning, schedules, checkpoints."""

from __future__ import annotations

import copy
import io
import json
import math

import pytest
import torch

from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.rl.policy_gradient import (
    PolicyGradientTrainer,
    Schedule,
    UpdateStats,
    epsilon_greedy_weights,
    reinforce_loss,
)
from nasrl_nb.rl.ppo import approx_kl, ppo_loss
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.search_space import custom_space

ARM_REWARD = {"a": 1.0, "b": 0.2}


def bandit(seed=0):
    """A two-armed bandit: one decision, unclipped logits theta = head(h_0)."""
    seed_everything(seed)
    ctrl = LSTMController(custom_space({"arm": ["a", "b"]}), hidden_size=8, tanh_constant=None)
    with torch.no_grad():
        ctrl.heads["0"].bias.copy_(torch.tensor([0.3, -0.4]))  # unequal arms
    return ctrl


def toy(seed=0, hidden_size=16):
    seed_everything(seed)
    return LSTMController(custom_space({"op": ["a", "b", "c", "d"], "width": [8, 16, 32]}), hidden_size=hidden_size)


def toy_rewards(architectures):
    """Only op "c" pays; width is irrelevant."""
    return [1.0 if arch.choices[0] == "c" else 0.0 for arch in architectures]


def gradient(ctrl, loss) -> dict[str, torch.Tensor]:
    ctrl.zero_grad()
    loss.backward()
    return {n: p.grad.clone() for n, p in ctrl.named_parameters() if p.grad is not None}


def arch_loss(ctrl, actions, rewards, baseline):
    """The package's one REINFORCE loss on whole architectures: -mean (R - b) log pi(a)."""
    return reinforce_loss(ctrl.log_prob(actions)[0], torch.as_tensor(rewards, dtype=torch.float32) - baseline)


@pytest.mark.parametrize("baseline", [0.0, 0.55])
def test_reinforce_gradient_on_two_armed_bandit_matches_closed_form(baseline):
    ctrl = bandit()
    arms = list(ctrl.space.enumerate())
    rewards = torch.tensor([ARM_REWARD[a.choices[0]] for a in arms])
    pi = ctrl(arms[:1]).logits[0][0].softmax(-1)  # (2,) pi_theta(a)
    # closed form: J = sum_a pi(a) R(a), dJ/dtheta_k = pi_k (R_k - J); autograd of -J in parameter space
    closed_theta = -(pi * (rewards - (pi * rewards).sum())).detach()
    closed = gradient(ctrl, -(pi * rewards).sum())
    # exact expectation of the REINFORCE loss gradient: sum_a pi(a) grad[-(R(a) - b) log pi(a)]
    weights = pi.detach()
    expected = {n: torch.zeros_like(g) for n, g in closed.items()}
    for k, arch in enumerate(arms):
        for n, g in gradient(ctrl, arch_loss(ctrl, [arch], [rewards[k]], baseline)).items():
            expected[n] += weights[k] * g
    assert set(expected) == set(closed)
    for n in closed:
        torch.testing.assert_close(expected[n], closed[n], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(expected["heads.0.bias"], closed_theta)  # d loss / d bias = d loss / d theta


def test_reinforce_monte_carlo_gradient_converges_to_closed_form():
    ctrl = bandit()
    arms = list(ctrl.space.enumerate())
    rewards = torch.tensor([ARM_REWARD[a.choices[0]] for a in arms])
    pi = ctrl(arms[:1]).logits[0][0].softmax(-1).detach()
    closed_theta = -(pi * (rewards - (pi * rewards).sum()))
    seed_everything(1)
    sample = ctrl.sample(20_000)
    sampled_rewards = rewards[sample.indices[:, 0]]
    # the loss on sample()'s own log_prob, and on log_prob by teacher forcing
    via_sample = gradient(ctrl, reinforce_loss(sample.log_prob, sampled_rewards - 0.5))["heads.0.bias"]
    via_loss = gradient(ctrl, arch_loss(ctrl, sample.indices, sampled_rewards, 0.5))["heads.0.bias"]
    torch.testing.assert_close(via_sample, via_loss)
    assert float((via_sample - closed_theta).abs().max()) < 0.01  # standard error is about 0.003


def test_ppo_gradient_equals_reinforce_at_old_policy_and_vanishes_when_clipped():
    ctrl = toy()
    sample = ctrl.sample(16)
    advantages = torch.randn(16, 1)
    out = ctrl(sample.indices)
    ppo, clipped = ppo_loss(out.decision_log_probs, out.decision_log_probs.detach(), advantages, clip=0.2)
    assert float(clipped) == 0.0
    reinforce = gradient(ctrl, reinforce_loss(ctrl(sample.indices).decision_log_probs, advantages))
    for n, g in gradient(ctrl, ppo).items():
        torch.testing.assert_close(g, reinforce[n])
    # ratio far above 1 + clip with positive advantages: the clipped branch has no gradient
    out = ctrl(sample.indices)
    loss, clipped = ppo_loss(out.decision_log_probs, out.decision_log_probs.detach() - 1.0, advantages.abs(), clip=0.2)
    assert float(clipped) == 1.0
    assert all(float(g.abs().max()) == 0.0 for g in gradient(ctrl, loss).values())


@pytest.mark.parametrize(
    ("algorithm", "value_baseline"), [("reinforce", False), ("ppo", False), ("reinforce", True), ("ppo", True)]
)
def test_policy_learns_the_rewarded_choice(algorithm, value_baseline):
    def run():
        ctrl = toy(seed=3)
        trainer = PolicyGradientTrainer(ctrl, algorithm=algorithm, lr=0.02, value_baseline=value_baseline)
        before = ctrl.policy_snapshot(16).probs[0][2]
        for _ in range(50):
            architectures = trainer.propose(8)
            trainer.update_policy(architectures, toy_rewards(architectures))
        return before, ctrl.policy_snapshot(16).probs[0][2]

    before, after = run()
    assert before < 0.4 and after > 0.8
    assert run() == (before, after)  # seeded runs repeat exactly


def test_baseline_is_an_exponential_moving_average():
    trainer = PolicyGradientTrainer(toy(), baseline_decay=0.9)
    assert trainer.baseline is None
    assert trainer.update_baseline([1.0, 3.0]) == pytest.approx(2.0)  # the first batch sets b
    assert trainer.update_baseline([6.0]) == pytest.approx(0.9 * 2.0 + 0.1 * 6.0)


def test_bandit_update_uses_the_baseline_from_before_the_batch():
    """The gradient the trainer applies is the closed form with b = the EMA before this batch."""
    ctrl = bandit()
    trainer = PolicyGradientTrainer(ctrl, baseline_decay=0.9, entropy_weight=0.0, grad_clip=None,
                                    normalize_advantages=False)
    arms = list(ctrl.space.enumerate())  # one sample of each arm: [a, b]
    rewards = torch.tensor([ARM_REWARD[a.choices[0]] for a in arms])  # (2,)
    for b_before in (None, 0.25):  # the very first update, then one with an EMA from earlier batches
        trainer.baseline = b_before
        pi = ctrl(arms[:1]).logits[0][0].softmax(-1).detach()  # (2,) pi_theta before the step
        stats = trainer.update_policy(arms, rewards.tolist())
        b = float(rewards.mean()) if b_before is None else b_before  # the first update: the batch mean
        # closed form: d/dtheta -1/B sum_k (R_k - b) log pi(k) = -1/B sum_k (R_k - b) (e_k - pi)
        closed = -((rewards - b)[:, None] * (torch.eye(2) - pi)).mean(0)
        torch.testing.assert_close(ctrl.heads["0"].bias.grad, closed)
        assert stats.baseline == pytest.approx(b) and stats.advantages == pytest.approx((rewards - b).tolist())
        ema_after = float(rewards.mean()) if b_before is None else 0.9 * b_before + 0.1 * float(rewards.mean())
        assert trainer.baseline == pytest.approx(ema_after)  # updated only after the loss
        # the post-batch EMA would have given another gradient, so the check above can fail
        wrong = -((rewards - ema_after)[:, None] * (torch.eye(2) - pi)).mean(0)
        assert b_before is None or float((wrong - closed).abs().max()) > 1e-3


def test_advantages_subtract_the_baseline_before_the_batch_and_scale_by_reward_std():
    ctrl = toy()
    trainer = PolicyGradientTrainer(ctrl, baseline_decay=0.5, advantage_std="batch")
    first = trainer.update_policy(ctrl.sample(3).architectures, [0.1, 0.2, 0.6])
    assert first.baseline == pytest.approx(0.3)  # no EMA yet: the batch's own mean
    assert first.advantages == pytest.approx([(r - 0.3) / 0.26457513 for r in (0.1, 0.2, 0.6)], rel=1e-5)
    assert trainer.baseline == pytest.approx(0.3)
    rewards = torch.tensor([0.2, 0.5, 0.9])
    stats = trainer.update_policy(ctrl.sample(3).architectures, rewards.tolist())
    assert stats.baseline == pytest.approx(0.3)  # the EMA before this batch
    assert stats.advantages == pytest.approx(((rewards - 0.3) / rewards.std()).tolist(), rel=1e-5)
    b = 0.5 * 0.3 + 0.5 * float(rewards.mean())
    assert trainer.baseline == pytest.approx(b)
    single = trainer.update_policy(ctrl.sample(1).architectures, [0.7])  # B == 1: no scaling
    assert single.baseline == pytest.approx(b) and single.advantages == pytest.approx([0.7 - b])
    b = 0.5 * b + 0.5 * 0.7
    same = trainer.update_policy(ctrl.sample(2).architectures, [0.4, 0.4])  # std == 0: divided by the floor
    assert same.advantages == pytest.approx([(0.4 - b) / 0.02] * 2)


def test_advantage_normalisation_has_a_floor_on_the_std():
    ctrl = toy()
    rewards = [0.9, 0.9001]  # two nearly equal rewards, well above the baseline
    naive = (0.9 - 0.3) / float(torch.tensor(rewards).std())
    assert naive > 1000  # what dividing by the raw std would give
    trainer = PolicyGradientTrainer(ctrl, advantage_std="batch")
    trainer.baseline = 0.3
    stats = trainer.update_policy(ctrl.sample(2).architectures, rewards)
    assert max(abs(a) for a in stats.advantages) == pytest.approx(0.6001 / 0.02, rel=1e-4)
    wide = PolicyGradientTrainer(ctrl, advantage_std="batch", advantage_std_floor=1e-9)
    wide.baseline = 0.3
    assert max(abs(a) for a in wide.update_policy(ctrl.sample(2).architectures, rewards).advantages) > 1000
    spread = PolicyGradientTrainer(ctrl, advantage_std="batch")  # above the floor the batch std is used as before
    spread.baseline = 0.3
    assert spread.update_policy(ctrl.sample(2).architectures, [0.2, 0.6]).advantages == pytest.approx(
        [(0.2 - 0.3) / 0.28284271, (0.6 - 0.3) / 0.28284271], rel=1e-5)


@pytest.mark.parametrize("algorithm", ["reinforce", "ppo"])
@pytest.mark.parametrize("normalize", [False, True])
def test_the_reported_advantages_are_the_ones_the_loss_used(algorithm, normalize):
    """The gradient applied equals the REINFORCE gradient of the stats' advantages (PPO at pi_old)."""
    ctrl = toy(seed=6)
    trainer = PolicyGradientTrainer(ctrl, algorithm=algorithm, ppo_epochs=1, entropy_weight=0.0, grad_clip=None,
                                    normalize_advantages=normalize)
    for step in range(3):  # the first update (no EMA yet) and two more
        architectures = trainer.propose(6)
        before = copy.deepcopy(ctrl)  # pi_old
        stats = trainer.update_policy(architectures, [0.1, 0.4, 0.35, 0.9, 0.0, 0.6])
        advantages = torch.tensor(stats.advantages)[:, None]  # (B, 1), exactly what the stats report
        expected = gradient(before, reinforce_loss(before(architectures).decision_log_probs, advantages))
        for n, p in ctrl.named_parameters():
            torch.testing.assert_close(p.grad, expected[n], rtol=1e-5, atol=1e-7)
        assert stats.step == step


@pytest.mark.parametrize("lr", [0.05, 10**-0.5])  # 10**-0.5: the dashboard slider's largest lr
def test_ppo_early_stop_keeps_the_kl_within_the_trust_region(lr):
    def run(target_kl):
        ctrl = toy(seed=4)
        trainer = PolicyGradientTrainer(ctrl, algorithm="ppo", lr=lr, ppo_epochs=8, target_kl=target_kl)
        kls, stopped = [], []
        for _ in range(6):
            architectures = trainer.propose(8)
            with torch.no_grad():
                old = ctrl(architectures).decision_log_probs  # pi_old on this batch
            stats = trainer.update_policy(architectures, toy_rewards(architectures))
            with torch.no_grad():
                measured = approx_kl(ctrl(architectures).decision_log_probs, old)  # after the last epoch
            assert stats.kl == pytest.approx(measured, rel=1e-4, abs=1e-8)
            kls.append(measured)
            stopped.append(stats.kl_stopped)
        return kls, stopped

    kls, stopped = run(0.02)
    assert max(kls) <= 1.5 * 0.02 and any(stopped)
    free, _ = run(None)  # the same run without the early stop leaves the region
    assert max(free) > 1.5 * 0.02


def test_value_baseline_starts_at_mean_reward_and_gives_per_decision_advantages():
    ctrl = toy()
    trainer = PolicyGradientTrainer(ctrl, value_baseline=True, normalize_advantages=False)
    architectures = ctrl.sample(4).architectures
    stats = trainer.update_policy(architectures, [0.0, 1.0, 1.0, 0.0])
    assert stats.baseline == pytest.approx(0.5) and stats.value_loss == pytest.approx(0.25)
    assert stats.advantages == pytest.approx([-0.5, 0.5, 0.5, -0.5])
    values = [trainer.update_policy(architectures, [1.0] * 4).baseline for _ in range(20)]
    assert all(b > a for a, b in zip(values[:-1], values[1:], strict=True)) and values[-1] > 0.6  # V(start) climbs to 1


def test_runtime_settings_take_effect_on_the_next_update():
    ctrl = toy()
    trainer = PolicyGradientTrainer(ctrl, lr=1e-3, optimizer="adam")
    trainer.lr = 0.05
    assert all(group["lr"] == 0.05 for group in trainer.optimizer.param_groups)
    before = [p.detach().clone() for p in ctrl.parameters()]
    stats = trainer.update_policy(ctrl.sample(4).architectures, [0.1, 0.9, 0.3, 0.5])
    step = max(float((p.detach() - q).abs().max()) for p, q in zip(ctrl.parameters(), before, strict=True))
    assert stats.lr == 0.05 and step == pytest.approx(0.05, rel=0.01)  # Adam's first step moves by ~lr

    trainer.temperature = 3.0
    assert ctrl.temperature == 3.0
    assert trainer.update_policy(ctrl.sample(2).architectures, [0.0, 1.0]).temperature == 3.0

    losses = {}
    for weight in (0.0, 0.5):  # same parameters and batch, different entropy weight
        trainer = PolicyGradientTrainer(toy(seed=5), lr=1e-3)
        trainer.entropy_weight = weight
        architectures = trainer.controller.sample(4, greedy=False).architectures
        losses[weight] = trainer.update_policy(architectures, [0.1, 0.9, 0.3, 0.5])
    assert losses[0.5].entropy_weight == 0.5
    assert losses[0.0].loss - losses[0.5].loss == pytest.approx(0.5 * losses[0.5].entropy, rel=1e-5)


def test_schedule_interpolates_temperature_and_entropy_weight():
    schedule = Schedule(temperature_start=5.0, temperature_end=1.0, entropy_start=0.1, entropy_end=0.0, steps=4)
    ctrl = toy()
    trainer = PolicyGradientTrainer(ctrl, schedule=schedule)
    for k in range(6):
        frac = min(k / 4, 1.0)
        assert ctrl.temperature == pytest.approx(5.0 - 4.0 * frac)
        stats = trainer.update_policy(trainer.propose(2), [0.0, 1.0])
        assert stats.temperature == pytest.approx(5.0 - 4.0 * frac)
        assert stats.entropy_weight == pytest.approx(0.1 - 0.1 * frac)


def test_epsilon_greedy_mixes_in_uniform_architectures():
    ctrl = toy()
    with torch.no_grad():
        ctrl.heads["0"].bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))  # strongly prefers "a"
    explorer = PolicyGradientTrainer(ctrl, epsilon=1.0)
    counts = torch.bincount(torch.tensor([a.indices[0] for a in explorer.propose(4000)]), minlength=4)
    assert float((counts / 4000 - 0.25).abs().max()) < 0.04
    greedy = PolicyGradientTrainer(ctrl, epsilon=0.0)
    state = ctrl.generator.get_state()
    proposed = greedy.propose(6)
    ctrl.generator.set_state(state)
    assert proposed == ctrl.sample(6).architectures


def test_ppo_reports_kl_and_clip_fraction():
    ctrl = toy()
    trainer = PolicyGradientTrainer(ctrl, algorithm="ppo", lr=0.05, ppo_epochs=3)
    stats = trainer.update_policy(ctrl.sample(8).architectures, [0.0, 1.0] * 4)
    assert stats.kl is not None and stats.kl > 0 and 0.0 <= stats.clip_fraction <= 1.0
    assert 1 <= stats.epochs <= 3 and stats.kl_stopped in (True, False)
    reinforce = PolicyGradientTrainer(toy()).update_policy(ctrl.sample(2).architectures, [0.0, 1.0])
    assert reinforce.kl is None and reinforce.clip_fraction is None and reinforce.kl_stopped is None
    assert isinstance(stats, UpdateStats) and json.loads(json.dumps(stats.to_dict()))["step"] == 0


@pytest.mark.parametrize(("algorithm", "value_baseline"), [("reinforce", False), ("ppo", True)])
def test_state_dict_round_trip_reproduces_the_run(algorithm, value_baseline):
    kwargs = {"algorithm": algorithm, "lr": 0.01, "value_baseline": value_baseline}
    trainer = PolicyGradientTrainer(toy(seed=1), **kwargs)
    for _ in range(3):
        architectures = trainer.propose(4)
        trainer.update_policy(architectures, toy_rewards(architectures))
    trainer.temperature, trainer.entropy_weight = 1.5, 0.01
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    buffer.seek(0)
    restored = PolicyGradientTrainer(toy(seed=2), **kwargs)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.num_updates == 3 and restored.baseline == trainer.baseline and restored.temperature == 1.5

    results = []
    for t in (trainer, restored):  # the controller's generator came back with the state
        architectures = t.propose(6)
        stats = t.update_policy(architectures, toy_rewards(architectures))
        results.append((architectures, stats.to_dict(), t.propose(6)))
    assert results[0] == results[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "a2c"}, "algorithm: 'a2c' is not allowed; allowed values: reinforce, ppo"),
        ({"lr": 0.0}, "lr: must be a positive number"),
        ({"lr": -1e-3}, "lr: must be a positive number"),
        ({"baseline_decay": 1.0}, r"baseline_decay: must be a number in \[0, 1\)"),
        ({"baseline_decay": -0.1}, r"baseline_decay: must be a number in \[0, 1\)"),
        ({"epsilon": 1.5}, r"epsilon: must be a number in \[0.0, 1.0\]"),
        ({"entropy_weight": -1.0}, "entropy_weight: must be a finite number >= 0"),
        ({"ppo_epochs": 0}, "ppo_epochs: must be a positive integer"),
        ({"grad_clip": 0}, "grad_clip: must be a positive number"),
        ({"target_kl": 0.0}, "target_kl: must be a positive number"),
        ({"advantage_std_floor": 0.0}, "advantage_std_floor: must be a positive number"),
        ({"schedule": {"steps": 3}}, "schedule: expected a Schedule or None"),
    ],
)
def test_bad_trainer_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PolicyGradientTrainer(toy(), **kwargs)


def test_bad_runtime_inputs():
    with pytest.raises(ValueError, match="controller: expected a Controller"):
        PolicyGradientTrainer(torch.nn.Linear(2, 2))
    trainer = PolicyGradientTrainer(toy())
    with pytest.raises(ValueError, match="batch_size: must be a positive integer"):
        trainer.propose(0)
    architectures = trainer.propose(2)
    with pytest.raises(ValueError, match="rewards: expected 2 rewards"):
        trainer.update_policy(architectures, [1.0])
    with pytest.raises(ValueError, match="rewards: must be finite numbers"):
        trainer.update_policy(architectures, [1.0, float("nan")])
    with pytest.raises(ValueError, match="lr: must be a positive number"):
        trainer.lr = 0
    with pytest.raises(ValueError, match="entropy_weight: must be a finite number >= 0"):
        trainer.entropy_weight = -0.1
    with pytest.raises(ValueError, match="steps: must be a positive integer"):
        Schedule(steps=0)


EPS_LOGITS = torch.tensor([1.0, 0.4, -0.2, -0.5])  # one decision, K = 4
EPS_REWARDS = torch.tensor([0.2, 0.9, 0.7, 0.4])


def one_decision(epsilon, algorithm="reinforce"):
    """A K=4 one-decision controller with logits EPS_LOGITS, and a trainer that leaves the gradient in .grad."""
    seed_everything(0)
    ctrl = LSTMController(custom_space({"op": ["a", "b", "c", "d"]}), hidden_size=8, tanh_constant=None)
    with torch.no_grad():
        ctrl.heads["0"].weight.zero_()
        ctrl.heads["0"].bias.copy_(EPS_LOGITS)
    trainer = PolicyGradientTrainer(ctrl, algorithm=algorithm, epsilon=epsilon, normalize_advantages=False,
                                    entropy_weight=0.0, grad_clip=None, ppo_epochs=1, target_kl=None)
    return trainer


@pytest.mark.parametrize("algorithm", ["reinforce", "ppo"])
@pytest.mark.parametrize("baseline", [0.0, 0.9])
def test_epsilon_greedy_expected_update_is_the_policy_gradient(algorithm, baseline):
    """The exact expected update under the mixture mu = (1 - eps) pi + eps / K equals grad J.

    Enumerate the K architectures, take the trainer's own gradient on each (one-architecture
    batch, fixed baseline), weight it by mu(a): that is the update's expectation. It must be
    -pi_k (R_k - sum_j pi_j R_j) in the logits, whatever the baseline (it cancels only with pi / mu).
    """
    epsilon = 0.3
    pi = EPS_LOGITS.softmax(-1)
    mu = (1 - epsilon) * pi + epsilon / 4
    expected = torch.zeros(4)
    for k in range(4):
        trainer = one_decision(epsilon, algorithm)
        trainer.baseline = baseline  # the baseline this update uses
        arch = trainer.controller.space.from_indices([k])
        trainer.update_policy([arch], [float(EPS_REWARDS[k])])
        expected += mu[k] * trainer.controller.heads["0"].bias.grad  # d loss / d logits, before the step
    true_gradient = -(pi * (EPS_REWARDS - (pi * EPS_REWARDS).sum()))  # -grad J
    torch.testing.assert_close(expected, true_gradient, rtol=1e-5, atol=1e-6)
    # scoring the mixture's samples with log pi alone would be off by far more than the tolerance
    naive = -sum(mu[k] * (EPS_REWARDS[k] - baseline) * (torch.eye(4)[k] - pi) for k in range(4))
    assert float((naive - true_gradient).abs().max()) > 0.01


def test_epsilon_greedy_weights_are_pi_over_the_mixture():
    log_pi = torch.log(torch.tensor([0.5, 0.01, 0.2]))
    weights = epsilon_greedy_weights(log_pi, math.log(1 / 12), 0.3)
    mu = 0.7 * log_pi.exp() + 0.3 / 12
    torch.testing.assert_close(weights, log_pi.exp() / mu)
    assert float(weights.max()) <= 1 / 0.7
    trainer = one_decision(0.0)
    assert trainer.behaviour_weights(torch.zeros(3, 1)).tolist() == [1.0, 1.0, 1.0]  # on-policy: no reweighting
