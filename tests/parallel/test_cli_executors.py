"""The commands' executors: ``evolve``, ``tune`` and ``tour`` with ``--workers N`` and
``--scheduler ADDRESS`` give the serial run's results.

* ``rosenblatt evolve``: every algorithm it offers (NEAT, CNE, CoSyNE, ESP, HyperNEAT), whose
  tasks carry genome JSON or weight vectors with the network's architecture
  spec, never a pickled model;
* ``rosenblatt tune`` with median pruning: the study is a function of its seed
  and ``n_parallel`` (trial ``i`` is pruned against the curves of trials
  ``0 .. i - n_parallel``, handed over by ``minimize(history=...)``);
* ``rosenblatt tour``: chapters named to the workers, results back as JSON-able
  dicts, reported in order with the same claims.

Serial, ``rb.parallel.local(2)`` and a Dask ``LocalCluster`` (two worker
processes on 127.0.0.1) are compared.
"""

import concurrent.futures
import functools
import io
import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli.evolve import task_fitness, weights_fitness
from rosenblatt.cli.main import main
from rosenblatt.tour import chapter, run_tour

EVOLVE = {
    "neat": 'algorithm = "neat"\ntask = "pole2"\ngenerations = 3\nseed = 0\n'
            '[task_options]\nmax_steps = 200\n[neat]\npopulation = 40\n',
    "cne": 'algorithm = "cne"\ntask = "pole2"\ngenerations = 3\nseed = 0\n'
           '[task_options]\nmax_steps = 200\n[cne]\npopulation = 40\nhidden = [4]\n',
    "cosyne": 'algorithm = "cosyne"\ntask = "pole2"\ngenerations = 3\nseed = 0\n'
              '[task_options]\nmax_steps = 200\n[cosyne]\npopulation = 20\nhidden = [3]\n',
    "esp": 'algorithm = "esp"\ntask = "pole2"\ngenerations = 2\nseed = 0\n'
           '[task_options]\nmax_steps = 200\n[esp]\npopulation = 8\ntrials = 3\n'
           'hidden = [3]\n',
    "hyperneat": 'algorithm = "hyperneat"\ntask = "visual"\ngenerations = 2\nseed = 0\n'
                 '[task_options]\nresolution = 6\n[neat]\npopulation = 40\n',
}

TUNE = """
seed = 1
[data]
name = "xor"
validation = 0.25
[[model.layers]]
type = "Dense"
out_features = 4
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 5
batch_size = 8
[tune]
method = "bayes"
n_trials = 7
n_initial = 3
pruning = "median"
n_parallel = 2
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-4, high = 1e-1 }
"""

TOUR = ["perceptron", "sigmoid-neurons"]


def _evolve(tmp_path, algorithm, *extra):
    cfg = tmp_path / f"{algorithm}.toml"
    cfg.write_text(EVOLVE[algorithm])
    out = tmp_path / f"{algorithm}{len(extra)}{extra[-1][-4:] if extra else ''}"
    assert main(["evolve", str(cfg), "--out", str(out), *extra]) == 0
    history = json.loads((out / "history.json").read_text())
    weights = algorithm in ("cne", "cosyne", "esp")
    best = out / ("best.safetensors" if weights else "best.json")
    if weights:
        champion = rb.nn.ParameterVector(rb.load(best).parameters()).data.tolist()
    else:
        champion = json.loads(best.read_text())
    return history["history"], history["evaluations"], champion


def _tune(tmp_path, *extra):
    cfg = tmp_path / "tune.toml"
    cfg.write_text(TUNE)
    out = tmp_path / f"tune{len(extra)}{extra[-1][-4:] if extra else ''}"
    assert main(["tune", str(cfg), "--out", str(out), *extra]) == 0
    study = json.loads((out / "study.json").read_text())
    trials = [(t["number"], t["params"], t["value"], t["status"], t["attrs"])
              for t in study["trials"]]
    weights = rb.nn.ParameterVector(rb.load(out / "model.safetensors").parameters()).data
    return trials, weights.tolist()


def _tour(tmp_path, *extra):
    out = tmp_path / f"tour{len(extra)}{extra[-1][-4:] if extra else ''}"
    assert main(["tour", "--quick", "--quiet", "--only", *TOUR, "--out", str(out),
                 *extra]) == 0
    report = json.loads((out / "report.json").read_text())
    figures = {p.name: p.read_bytes() for p in (out / "figures").iterdir()}
    return [(c["name"], c["error"], c["claims"]) for c in report["chapters"]], figures


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("serial")
    return {"evolve": {a: _evolve(tmp, a) for a in EVOLVE}, "tune": _tune(tmp),
            "tour": _tour(tmp)}


def test_every_evolve_algorithm_through_a_process_pool(serial, tmp_path):
    for algorithm in EVOLVE:
        assert _evolve(tmp_path, algorithm, "--workers", "2") == serial["evolve"][algorithm]


def test_pruned_study_through_a_process_pool(serial, tmp_path):
    trials, _ = serial["tune"]
    # pruning did act (3 of the 7 trials with seed 1; none with seed 0, whose Latin-hypercube
    # start found a good rate at once)
    assert [t[3] for t in trials].count("pruned") >= 1
    assert _tune(tmp_path, "--workers", "2") == serial["tune"]


def test_tour_chapters_through_a_process_pool(serial, tmp_path):
    claims, figures = serial["tour"]
    assert [c[0] for c in claims] == TOUR and all(c["passed"] for r in claims for c in r[2])
    assert _tour(tmp_path, "--workers", "2") == serial["tour"]


def test_cli_executor_options_are_checked(tmp_path, capsys):
    cfg = tmp_path / "neat.toml"
    cfg.write_text(EVOLVE["neat"])
    assert main(["evolve", str(cfg), "--workers", "0"]) == 2
    assert "--workers must be a positive integer; got 0" in capsys.readouterr().err
    assert main(["tour", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dask_address():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0",
                                       worker_dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


def test_dask_cluster_gives_the_serial_results(serial, dask_address, tmp_path):
    extra = ("--scheduler", dask_address)
    assert _evolve(tmp_path, "cne", *extra) == serial["evolve"]["cne"]  # NEAT: test_executors
    assert _tune(tmp_path, *extra) == serial["tune"]
    assert _tour(tmp_path, *extra)[0] == serial["tour"][0]


# -- the library paths the commands use ----------------------------------------------------------

def test_vectorised_cne_and_hyperneat_take_an_executor():
    env = rb.evolution.envs.CartPole(poles=2, max_steps=200)

    def new_net():  # a run leaves its champion in the model: each run gets a fresh one
        return rb.nn.Sequential(rb.nn.Dense(6, 1, rng=0), rb.nn.Sigmoid()).astype(np.float64)

    net = new_net()
    text = json.dumps({"task": "pole2", "task_options": {"max_steps": 200}}, sort_keys=True)
    remote = functools.partial(weights_fitness, text, json.dumps(rb.nn.registry.spec_of(net)))

    def here(thetas):
        return env.evaluate(rb.evolution.PopulationModel(net, thetas))

    visual = json.dumps({"task": "visual", "task_options": {"resolution": 6}}, sort_keys=True)
    grid = rb.evolution.grid(6)

    def hyper():
        return rb.evolution.HyperNEAT(rb.evolution.Substrate(grid, grid),
                                      rb.evolution.cppn_config(population=20), rng=0)

    for algo in (rb.evolution.CNE, rb.evolution.CoSyNE):
        serial = algo(new_net(), population=20, rng=1).run(here, 3, vectorized=True)
        with rb.parallel.local(2) as pool:
            parallel = algo(new_net(), population=20, rng=1).run(remote, 3, vectorized=True,
                                                                 executor=pool)
        assert parallel.history == serial.history
        assert np.array_equal(parallel.best, serial.best)
    serial = hyper().run(functools.partial(task_fitness, visual), 2, vectorized=True)
    with rb.parallel.local(2) as pool:
        parallel = hyper().run(functools.partial(task_fitness, visual), 2, vectorized=True,
                               executor=pool)
    assert parallel.history == serial.history
    assert parallel.best.to_json() == serial.best.to_json()


def _noisy(params, seen):
    """An objective that depends on what it was told of earlier trials (like pruning)."""
    return {"value": (params["x"] - 0.3) ** 2 + 0.01 * len(seen), "attrs": {"seen": seen}}


def _seen(trials):
    return [t.number for t in trials]


def test_minimize_history_is_trials_up_to_i_minus_n_parallel():
    space = rb.tuning.Space({"x": rb.tuning.Uniform(-1, 1)})
    kw = dict(method="random", n_trials=6, seed=0, n_parallel=2, history=_seen)
    serial = rb.tuning.minimize(_noisy, space, **kw)
    assert [t.attrs["seen"] for t in serial.trials] == [[], [], [0], [0, 1], [0, 1, 2],
                                                         [0, 1, 2, 3]]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        threaded = rb.tuning.minimize(_noisy, space, executor=pool, **kw)
    with rb.parallel.local(2) as pool:
        processes = rb.tuning.minimize(_noisy, space, executor=pool, **kw)
    for study in (threaded, processes):
        assert [(t.params, t.value, t.attrs) for t in study.trials] == \
            [(t.params, t.value, t.attrs) for t in serial.trials]
    with pytest.raises(TypeError, match="history must be callable"):
        rb.tuning.minimize(_noisy, space, method="random", n_trials=2, history=3)


def test_tune_fit_prunes_the_same_on_a_thread_pool():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)

    def build(p):  # layers draw from the trial's generator: `using` holds per thread
        return rb.nn.Sequential(rb.nn.Dense(2, 4), rb.nn.Tanh(), rb.nn.Dense(4, 2))

    space = rb.tuning.Space({"lr": rb.tuning.LogUniform(1e-4, 0.1)})
    kw = dict(validation_data=(X, y), epochs=4, method="random", n_trials=7, seed=0,
              pruning="median", n_parallel=2)
    serial, model = rb.tuning.tune_fit(build, space, X, y, **kw)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        threaded, model2 = rb.tuning.tune_fit(build, space, X, y, executor=pool, **kw)
    assert "pruned" in [t.status for t in serial.trials]
    assert [(t.params, t.value, t.status) for t in threaded.trials] == \
        [(t.params, t.value, t.status) for t in serial.trials]
    assert np.array_equal(rb.nn.ParameterVector(model.parameters()).data,
                          rb.nn.ParameterVector(model2.parameters()).data)


@chapter("Executor test: a chapter that fails", section="Perceptrons",
                 name="executor-test-fails")
def _failing_chapter(ctx):
    ctx.text("before the failure")
    ctx.table(["a", "b"], [[1, 2.5]])
    with ctx.figure("a line") as fig:
        fig.add_subplot().plot([0, 1], [1, 0])
    ctx.claim("one claim", True, "detail")
    raise RuntimeError("this chapter fails on purpose")


def test_run_tour_through_an_executor_reports_a_failing_chapter_as_serially():
    pytest.importorskip("matplotlib")
    from rosenblatt.tour.registry import registered
    from rosenblatt.tour.runner import result_to_json

    chosen = [c for c in registered() if c.name == "executor-test-fails"]
    serial = run_tour(chapters=chosen, out=None, progress=False, log=io.StringIO())
    with rb.parallel.local(2) as pool:
        parallel = run_tour(chapters=chosen, out=None, progress=False, log=io.StringIO(),
                            executor=pool)
    a, b = serial.results[0], parallel.results[0]
    assert "this chapter fails on purpose" in b.error and b.error == a.error
    assert json.dumps(result_to_json(a)["blocks"]) == json.dumps(result_to_json(b)["blocks"])
    assert [blk.kind for blk in b.blocks] == ["text", "table", "figure", "claim"]
    assert parallel.environment["workers"] == 2
