"""Boolean options refuse truthy strings ("no" would switch them on), as CartPole(velocities=)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.recurrent import RecurrentPopulationModel

nn = rb.nn


def _esp(v):
    return rb.evolution.ESP(nn.Sequential(nn.Dense(2, 3), nn.Tanh(), nn.Dense(3, 1)),
                            population=8, adapt_size=v).adapt_size


def _coevolution(name):
    def make(v):
        cne = rb.evolution.CNE(nn.Dense(18, 9), population=4, rng=0)
        co = rb.evolution.Coevolution(cne, game=rb.evolution.envs.TicTacToe(), sample=2,
                                      **{name: v})
        return getattr(co, name)
    return make


def _tictactoe(v):
    return rb.evolution.envs.TicTacToe(symmetric=v).symmetric


def _interactive(v):
    return rb.evolution.Interactive(color=v, population=2, width=4, height=4, rng=0).color


def _recurrent(v):
    return RecurrentPopulationModel(nn.RNN(2, 3), np.zeros((1, 18)), outputs=1, fast=v).fast


@pytest.mark.parametrize("make, name", [
    (_esp, "ESP: adapt_size"),
    (_coevolution("shared_sampling"), "Coevolution: shared_sampling"),
    (_coevolution("fitness_sharing"), "Coevolution: fitness_sharing"),
    (_tictactoe, "TicTacToe: symmetric"),
    (_interactive, "Interactive: color"),
    (_recurrent, "RecurrentPopulationModel: fast"),
])
def test_boolean_options_refuse_other_values(make, name):
    for bad in ("no", "false", 1, None):
        with pytest.raises(TypeError, match=f"{name} must be True or False; got {bad!r}"):
            make(bad)
    assert make(np.bool_(False)) is False
    assert make(True) is True and make(False) is False
