"""The library generator: rb.seed, resolve_rng, and `using` confined to its thread."""

import threading

import numpy as np
import pytest

import rosenblatt as rb


def test_seed_makes_draws_repeat():
    rb.seed(3)
    a = rb.randomness.generator().random(4)
    rb.seed(3)
    np.testing.assert_array_equal(a, rb.randomness.resolve_rng(None).random(4))


def test_using_overrides_the_library_generator_in_its_thread_only():
    """Two threads, each building layers inside `using` with its own seed, get exactly the
    weights a single thread gets with that seed, however their draws interleave."""
    def build(seed, step=lambda: None):
        with rb.randomness.using(np.random.default_rng(seed)):
            layers = []
            for _ in range(5):
                step()  # in threads: both threads are inside `using` here, taking turns
                layers.append(rb.nn.Dense(30, 40).W.data.ravel())
            return np.concatenate(layers)

    expected = {seed: build(seed) for seed in (1, 2)}
    results, barrier = {}, threading.Barrier(2)

    def worker(seed):
        results[seed] = build(seed, barrier.wait)

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        np.testing.assert_array_equal(results[seed], expected[seed])


def test_using_restores_and_leaves_other_threads_on_the_global_generator():
    rb.seed(0)
    outer = rb.randomness.generator()
    seen = []
    with rb.randomness.using(np.random.default_rng(5)) as g:
        thread = threading.Thread(target=lambda: seen.append(rb.randomness.generator()))
        thread.start()
        thread.join()
        assert rb.randomness.generator() is g
    assert seen == [outer]
    assert rb.randomness.generator() is outer


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="using: expected a numpy.random.Generator"):
        with rb.randomness.using(3):
            pass
    with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
        rb.seed(-1)
    with pytest.raises(TypeError, match="rng must be"):
        rb.randomness.resolve_rng("x")


def test_seed_after_construction_decides_the_draws_of_objects_built_with_rng_none():
    """An RBM, NEAT and a noisy optimizer keep the library generator they were built with;
    rb.seed called later must still decide what they draw (it used to replace the
    generator, leaving them on the old stream)."""
    rbm = rb.models.RBM(6, 4)
    neat = rb.evolution.NEAT(2, 1, config=rb.evolution.NEATConfig(population=10))

    def draws():
        return np.concatenate([rbm.gibbs(np.zeros((3, 6), np.float32)).ravel(),
                               neat.rng.random(3)])

    rb.seed(11)
    first = draws()
    rb.seed(11)
    np.testing.assert_array_equal(draws(), first)
    rb.seed(12)
    assert not np.array_equal(draws(), first)


def test_deferred_builds_its_generator_only_when_asked_for():
    from rosenblatt import randomness

    built = []

    def build():
        # while it builds, the library generator is the one outside the block
        built.append(randomness.generator())
        return np.random.default_rng(7)

    outer = randomness.generator()
    with randomness.deferred(build):
        pass
    assert built == [] and randomness.generator() is outer
    with randomness.deferred(build):
        g = randomness.generator()
        assert randomness.generator() is g  # built once
        assert g.random() == np.random.default_rng(7).random()
        with randomness.using(np.random.default_rng(1)) as inner:
            assert randomness.generator() is inner
        assert randomness.generator() is g
    assert built == [outer] and randomness.generator() is outer


def test_a_vectorised_generation_that_draws_nothing_builds_no_generator(monkeypatch):
    from rosenblatt.evolution import core

    calls = []
    monkeypatch.setattr(core, "_stream_of", lambda state: calls.append(state) or (1, 1))
    xor = rb.evolution.envs.XOR()
    rb.evolution.NEAT(2, 1, rng=0).run(xor.evaluate, 2, vectorized=True)
    assert calls == []
