"""vector_chunks deals a population to its tasks in turn and puts the values back in order."""

import concurrent.futures

import numpy as np
import pytest

from rosenblatt.evolution.core import vector_chunks


def _tagged(population):
    """Each individual's value: 10 x its payload + the size of its task."""
    population = np.asarray(population, dtype=np.float64).reshape(-1)
    return 10.0 * population + population.size


def test_population_is_dealt_to_tasks_in_turn():
    payloads = list(range(7))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        values = vector_chunks(_tagged, payloads, payloads, np.asarray, pool, chunk_size=3)
    # ceil(7 / 3) = 3 tasks: individuals 0, 3, 6 | 1, 4 | 2, 5
    assert values.tolist() == [10.0 * i + (3 if i % 3 == 0 else 2) for i in payloads]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the cut does not depend on workers
        again = vector_chunks(_tagged, payloads, payloads, np.asarray, pool, chunk_size=3)
    assert again.tolist() == values.tolist()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert vector_chunks(_tagged, [], [], np.asarray, pool, chunk_size=3).tolist() == []


def test_a_fitness_that_miscounts_is_a_clear_error():
    with concurrent.futures.ThreadPoolExecutor(1) as pool, pytest.raises(
            ValueError, match=r"one value per individual of its sub-population \(\[2, 2\] "
                              r"individuals\); got \[1, 1\]"):
        vector_chunks(lambda p: [0.0], [1, 2, 3, 4], [1, 2, 3, 4], np.asarray, pool,
                      chunk_size=2)
