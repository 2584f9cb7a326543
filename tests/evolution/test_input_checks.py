"""User input refused with a named error: genome files, configs, substrates, environments,
cascading selection, CoSyNE's mutation and the run loop's callbacks."""

import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import Genome, GenomeFormatError


def _genome_dict():
    return json.loads(Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0]).to_json())


def _edit(path, value):
    d = _genome_dict()
    *keys, last = path
    target = d
    for k in keys:
        target = target[k]
    target[last] = value
    return d


# -- genome files -----------------------------------------------------------------------------
def test_genome_nodes_and_innovations_must_be_sorted():
    d = _genome_dict()
    d["nodes"] = d["nodes"][::-1]  # once passed, then network() failed reshaping
    with pytest.raises(GenomeFormatError, match="nodes must be sorted by id; node 2 comes "
                       "after node 3"):
        Genome.from_dict(d)
    d = _genome_dict()
    d["connections"] = d["connections"][::-1]
    with pytest.raises(GenomeFormatError, match="connections must be sorted by innovation"):
        Genome.from_dict(d)
    d = _genome_dict()
    d["nodes"].append({"id": 5, "kind": "input", "activation": "identity"})
    with pytest.raises(GenomeFormatError, match="must be hidden nodes"):
        Genome.from_dict(d)


@pytest.mark.parametrize("path, value, says", [
    (("connections", 0, "enabled"), "false", "connection 'enabled' must be true or false; "
     "got 'false'"),
    (("recurrent",), "false", "'recurrent' must be true or false"),
    (("recurrent",), 0, "'recurrent' must be true or false"),
    (("n_inputs",), 2.7, "'n_inputs' must be an integer; got 2.7"),
    (("id",), "3", "'id' must be an integer"),
    (("nodes", 0, "id"), 0.0, "node 'id' must be an integer"),
    (("connections", 1, "src"), True, "connection 'src' must be an integer"),
    (("connections", 1, "weight"), "1.5", "connection 'weight' must be a number"),
    (("nodes", 0, "kind"), 1, "node 'kind' must be a string"),
    (("nodes",), "abc", "'nodes' must be a list of JSON objects"),
])
def test_genome_fields_need_their_json_types(path, value, says):
    with pytest.raises(GenomeFormatError, match="malformed genome") as info:
        Genome.from_dict(_edit(path, value))
    assert says in str(info.value)


def test_genome_round_trip_still_exact():
    n = rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=20, add_node_rate=0.5,
                                                         recurrent=True), rng=0)
    n.run(rb.evolution.envs.xor_fitness, 4)
    for g in n.population:
        assert Genome.from_json(g.to_json()) == g


def test_genome_deep_json_and_binary_files(tmp_path):
    with pytest.raises(GenomeFormatError, match="nested too deeply"):
        Genome.from_json("[" * 100000)
    png = tmp_path / "champion.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(GenomeFormatError, match="champion.png: not a genome"):
        Genome.load(png)


# -- NEATConfig ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [
    ("activation", ["sine"]), ("output_activation", {"a": 1}), ("activations", [["sine"]]),
])
def test_config_activation_of_the_wrong_type_is_named(key, value):
    with pytest.raises(rb.evolution.ConfigError, match=f"NEATConfig: {key} must be"):
        rb.evolution.NEATConfig(**{key: value})


def test_config_from_toml_names_bad_activation_and_missing_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[neat]\nactivation = ["sine"]\n')
    with pytest.raises(rb.evolution.ConfigError, match="activation must be one of"):
        rb.evolution.NEATConfig.from_toml(path, table="neat")
    path.write_text('[neat]\npopulation = 20\n[cne]\nx = 1\n')
    with pytest.raises(rb.evolution.ConfigError, match=r"no table \[naet\]; the file's tables: "
                       r"\[neat\], \[cne\]"):
        rb.evolution.NEATConfig.from_toml(path, table="naet")
    assert rb.evolution.NEATConfig.from_toml(path, table="neat").population == 20


# -- Substrate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, says", [
    (dict(inputs=np.zeros((4, 3))), r"inputs must be an \(n, 2\) array .* got shape \(4, 3\)"),
    (dict(inputs=[]), r"inputs must be an \(n, 2\) array .* n >= 1; got shape \(0,\)"),
    (dict(outputs=np.zeros(6)), r"outputs must be an \(n, 2\) array"),
    (dict(hidden=[[np.nan, 0.0]]), "hidden has a non-finite coordinate at node 0"),
    (dict(outputs=[[0.0, 1.0], [np.inf, 0.0]]), "outputs has a non-finite coordinate at node 1"),
    (dict(inputs=[["a", "b"]]), r"inputs must be an \(n, 2\) array"),
    (dict(activation=["tanh"]), "activation must be one of"),
])
def test_substrate_layers_are_n_by_2_finite(kwargs, says):
    args = {"inputs": rb.evolution.grid(2), "outputs": rb.evolution.grid(2), **kwargs}
    with pytest.raises(ValueError, match=f"Substrate: {says}"):
        rb.evolution.Substrate(**args)
    assert rb.evolution.Substrate(rb.evolution.grid(2), rb.evolution.grid(3), hidden=[]
                                  ).queries().shape == (36, 4)


# -- CartPole -----------------------------------------------------------------------------------
def _half(obs):
    return np.full((len(obs), 1), 0.5)


@pytest.mark.parametrize("kwargs, error, says", [
    (dict(failure_angle=float("nan")), ValueError, "failure_angle must be finite and > 0; "
     "got nan"),
    (dict(failure_angle=-1.0), ValueError, "failure_angle must be finite and > 0; got -1.0"),
    (dict(failure_angle="abc"), TypeError, "failure_angle must be a number; got str"),
    (dict(velocities="no"), TypeError, "velocities must be True or False; got 'no'"),
])
def test_cartpole_parameters_are_checked(kwargs, error, says):
    with pytest.raises(error, match=f"CartPole: {says}"):
        rb.evolution.envs.CartPole(max_steps=50, **kwargs)


@pytest.mark.parametrize("starts, says", [
    (np.zeros((2, 4)), r"got \(2, 4\)"),
    (np.zeros((7, 6)), r"\(population, 6\) = \(2, 6\).* got \(7, 6\)"),
    (np.full((2, 6), np.nan), "starts must be finite"),
])
def test_cartpole_starts_must_be_population_by_6(starts, says):
    env = rb.evolution.envs.CartPole(max_steps=50)
    with pytest.raises(ValueError, match=f"CartPole.evaluate: .*{says}"):
        env.evaluate(_half, population=2, starts=starts)
    assert env.evaluate(_half, population=2, starts=np.zeros((2, 6))).shape == (2,)


def test_generalization_of_one_genomes_network():
    # a single phenotype steps one observation at a time: the 625 starts go one by one
    # and count as the same genome in a population network does
    env = rb.evolution.envs.CartPole(poles=1)
    g = Genome.minimal(0, 4, 1, weights=[2.0, 3.0, 30.0, 6.0, 0.0], activation="sigmoid")
    one = env.generalization(g.network(), steps=50)
    assert one.shape == (1,) and 0 < one[0] < 625
    np.testing.assert_array_equal(one, env.generalization(rb.evolution.PopulationNetwork([g]),
                                                          steps=50))


# -- run_loop's callbacks -----------------------------------------------------------------------
def test_run_loop_takes_one_callback_or_names_callbacks():
    from rosenblatt.evolution.core import run_loop

    seen = []
    ran, stopped, _ = run_loop(lambda g: (g, float(g)), 5,
                               callbacks=lambda s: seen.append(s["generation"]) or len(seen) == 3)
    assert (ran, stopped, seen) == (3, True, [0, 1, 2])
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0)).astype(np.float64)
    res = rb.evolution.CNE(net, population=6, rng=0).run(
        lambda th: -np.abs(th).sum(axis=1), 4, vectorized=True,
        callbacks=lambda s: s["generation"] >= 1)
    assert res.generations == 2 and res.stopped
    with pytest.raises(TypeError, match="CNE.run: callbacks must be a callable or a list of "
                       "callables; got int"):
        rb.evolution.CNE(net, population=6, rng=0).run(lambda th: th[:, 0], 2,
                                                       vectorized=True, callbacks=3)
    with pytest.raises(TypeError, match="each callback must be callable; got str"):
        run_loop(lambda g: (g, 0.0), 2, callbacks=["stop"])


@pytest.mark.parametrize("innovation", [10**19, -2**63 - 5])
def test_genome_numbers_beyond_int64_are_format_errors(innovation):
    # kept sorted, they once passed validation and overflowed in network()
    d = json.loads(Genome.minimal(0, 2, 1, [0.5, -0.5, 1.0]).to_json())
    d["connections"][-1 if innovation > 0 else 0]["innovation"] = innovation
    with pytest.raises(GenomeFormatError, match=r"must be in \[0, 2\^63\)"):
        Genome.from_json(json.dumps(d))


def test_genome_version_true_is_not_version_1():
    d = json.loads(Genome.minimal(0, 2, 1, [0.5, -0.5, 1.0]).to_json())
    d["version"] = True
    with pytest.raises(GenomeFormatError, match="unsupported genome version"):
        Genome.from_json(json.dumps(d))
