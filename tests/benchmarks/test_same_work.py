"""Both sides of a row do the same work, and the reference computes the same number (audit
s10/a7, findings 1-3): a ratio of two different computations is no ratio."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def test_every_neat_genome_evaluation_decodes_the_population(monkeypatch):
    """neat-python builds every network at every evaluation; rosenblatt's timed calls must
    pack every genome's record from the population's genes, not run records cached by an
    earlier call (the warm-up's)."""
    pytest.importorskip("numba")
    neat_row = pytest.importorskip("benchmarks.workloads.neat")
    from rosenblatt.evolution import network

    monkeypatch.setattr(neat_row, "WARM_GENERATIONS", 2)  # a few hidden nodes are enough
    run = neat_row.rb_evaluations(2)
    neat = run.neat
    run()  # the harness's warm-up call
    packed, pack = [], network._packed

    def spy(block, genomes):
        packed.append((block.size, block is neat.genes() and genomes == neat.population))
        return pack(block, genomes)

    monkeypatch.setattr(network, "_packed", spy)
    run()
    assert packed == [(150, True), (150, True)]
    assert not any("record" in g._cache for g in neat.population)


def _direct_parzen(samples, test, sigma):
    """The Parzen log-likelihood by its definition, one test point at a time."""
    n, d = samples.shape
    out = []
    for x in test:
        e = -((samples - x) ** 2).sum(1) / (2 * sigma**2)
        out.append(e.max() + np.log(np.exp(e - e.max()).sum()))
    return np.mean(out) - np.log(n) - d / 2 * np.log(2 * np.pi * sigma**2)


def test_the_parzen_reference_gives_the_exact_log_likelihood_where_kernels_underflow():
    pytest.importorskip("scipy")
    gan = pytest.importorskip("benchmarks.workloads.gan")
    import rosenblatt as rb

    samples, test = gan.parzen_data(60)  # 784-D, sigma 0.2: every kernel ~exp(-1600)
    exact = _direct_parzen(samples, test, gan.SIGMA)
    assert gan.exact_parzen(samples, test, gan.SIGMA, block=25) == pytest.approx(exact, rel=1e-12)
    assert rb.models.parzen_log_likelihood(samples, test, sigma=gan.SIGMA) == pytest.approx(
        exact, rel=1e-12)
    gan.scipy_parzen(samples, test)()  # agrees with rosenblatt, so it does not raise


def test_optuna_proposes_each_trial_from_a_cold_sampler(monkeypatch):
    """An Optuna sampler keeps the GP it fitted last and warm-starts the next fit from it:
    every timed call must start without one, as rosenblatt's and skopt's do."""
    tuning = pytest.importorskip("benchmarks.workloads.tuning")
    run = tuning.optuna_propose()
    if run is None:
        pytest.skip("Optuna's GPSampler (and PyTorch) not installed")
    import optuna

    cold = []

    def spy(self, *args, **kwargs):  # the fit itself takes seconds: pretend it, keep its GP
        cold.append(getattr(self, "_gprs_cache_list", None) is None)
        self._gprs_cache_list = ["the GP fitted here"]
        return {}  # the trial's values then come from the sampler's independent sampler

    monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", spy)
    run()
    run()
    assert cold == [True, True]
