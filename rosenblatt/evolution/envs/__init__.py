"""Environments for neuroevolution, each simulated for a whole population at once.

The protocol (shared by every algorithm of ``rb.evolution``):

* a single network is a callable ``X (n, n_inputs) -> (n, n_outputs)``;
* a *population* network (``rb.evolution.PopulationNetwork``, or CNE's
  ``PopulationModel``) has ``size``, ``__call__(X) -> (P, n, n_outputs)`` and,
  for control tasks, ``reset()``, ``step(obs (P, k)) -> (P, n_outputs)``,
  ``keep(mask)`` and ``take(index)``;
* an environment offers ``__call__(network) -> float`` (one fitness; use it as
  ``fitness=`` of NEAT or CNE) and ``evaluate(population_network) -> (P,)``
  (use it with ``vectorized=True``).
"""

from .bandit import TwoArmedBandit
from .games import (
           TicTacToe,
           expected_outcome,
           expectimax_player,
           network_player,
           perfect_player,
           random_player,
)
from .gym import GymTask
from .pole import CartPole, generalization_starts
from .visual import VisualDiscrimination
from .xor import XOR, xor_fitness

__all__ = ["XOR", "CartPole", "GymTask", "VisualDiscrimination", "generalization_starts",
           "xor_fitness"]
__all__ += ["TicTacToe", "expected_outcome", "expectimax_player", "network_player",
            "perfect_player", "random_player"]
__all__ += ["TwoArmedBandit"]
