"""The settings a running search changes (lr, temperature) are one implementation for every trainer."""

import pytest

from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.rl.live_settings import LiveSettings
from nasrl_nb.rl.registry import make_trainer
from nasrl_nb.spaces.search_space import custom_space


@pytest.mark.parametrize("algorithm", ["reinforce", "ppo", "a2c", "trpo", "sac"])
def test_every_trainer_sets_lr_on_each_group_and_temperature_on_its_controller(algorithm):
    controller = LSTMController(custom_space({"op": ["a", "b", "c"]}), hidden_size=8)
    trainer = make_trainer(controller, algorithm)
    assert isinstance(trainer, LiveSettings)
    trainer.lr = 0.0125
    assert trainer.lr == 0.0125 and {g["lr"] for g in trainer.optimizer.param_groups} == {0.0125}
    trainer.temperature = 2.5
    assert controller.temperature == 2.5 and trainer.temperature == 2.5
    with pytest.raises(ValueError, match="^lr: "):
        trainer.lr = 0
