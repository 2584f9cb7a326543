"""Genome construction (rosenblatt.evolution.genome): Genome.minimal's argument checks."""

import numpy as np
import pytest

from rosenblatt.evolution.genome import Genome


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=[0.1, 0.2]), r"weights must have \(n_inputs \+ 1\) \* n_outputs = 3 values; "
                               r"got 2"),
    (dict(weights=[0.1, 0.2, 0.3, 0.4]), "= 3 values; got 4"),
    (dict(weights=[np.nan, 0.0, 0.0]), "weights must be finite; got nan at 0"),
    (dict(weights=[0.0, np.inf, 0.0]), "weights must be finite; got inf at 1"),
    (dict(weights=["a", "b", "c"]), "weights must be numbers"),
    (dict(activation="nope"), "activation must be one of .*; got 'nope'"),
    (dict(output_activation="nope"), "output_activation must be one of .*; got 'nope'"),
    (dict(n_inputs=0, weights=[0.1]), "n_inputs must be a positive integer; got 0"),
    (dict(n_outputs=0, weights=[]), "n_outputs must be a positive integer; got 0"),
    (dict(bias=float("nan")), "bias must be a finite number"),
])
def test_minimal_checks_its_arguments(kwargs, match):
    args = dict(id=0, n_inputs=2, n_outputs=1, weights=[0.1, 0.2, 0.3])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Genome.minimal(**args)


def test_minimal_takes_any_array_of_weights():
    g = Genome.minimal(0, 2, 2, np.arange(6.0).reshape(2, 3), activation="identity")
    assert [c.weight for c in g.connections] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert g.network()(np.array([[1.0, 1.0]])).tolist() == [[3.0, 12.0]]
