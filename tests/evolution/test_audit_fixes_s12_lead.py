"""Session 12 (lead): NEAT checks an edited config again, only when a field changed."""
import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.config import ConfigError


@pytest.mark.parametrize("key, value", [("population", 150.0), ("population", True),
                                        ("add_node_rate", 2), ("recurrent", 1),
                                        ("activations", ("sine", "nope"))])
def test_a_config_edited_between_generations_is_checked(key, value):
    xor = rb.evolution.envs.XOR()
    neat = rb.evolution.NEAT(2, 1, config=rb.evolution.NEATConfig(population=20), rng=0)
    neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
    setattr(neat.config, key, value)  # the same value of another type counts as an edit
    with pytest.raises(ConfigError, match=key):
        neat.tell(neat.evaluate(xor.evaluate, vectorized=True))


def test_an_unchanged_config_is_not_checked_again(monkeypatch):
    xor = rb.evolution.envs.XOR()
    neat = rb.evolution.NEAT(2, 1, config=rb.evolution.NEATConfig(population=20), rng=0)
    neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
    calls = []
    monkeypatch.setattr(type(neat.config), "check", lambda self: calls.append(1))
    neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
    assert calls == []
    neat.config.add_node_rate = 0.05
    neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
    assert calls == [1]


def _two_objectives_then_crash(net):
    raise RuntimeError("simulator crashed")


def test_cascading_vectorised_fitness_that_raises_follows_on_error():
    # (s12/a9's patch) selection="cascading" with vectorized=True ignored on_error
    neat = rb.evolution.NEAT(2, 1, config=rb.evolution.NEATConfig(population=10), rng=0,
                             selection="cascading")
    with pytest.raises(RuntimeError, match="simulator crashed"):
        neat.evaluate(_two_objectives_then_crash, vectorized=True)
    r = neat.run(_two_objectives_then_crash, 3, vectorized=True, on_error="stop")
    assert r.error is not None and "simulator crashed" in str(r.error)
    f = neat.evaluate(_two_objectives_then_crash, vectorized=True, on_error="worst")
    assert f.shape[0] == 10 and np.all(f == -np.inf)
