"""Session 12 (lead): NEAT checks an edited config again, only when a field changed."""
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
