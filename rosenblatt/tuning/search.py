"""Grid, random and Bayesian hyper-parameter search (notes: "Choosing hyperparameters").

The notes' three ways, as ``method``:

* ``"grid"``: "a naive grid search [that tries] all possible combinations",
  infeasible as it "blows up in size" (``points`` values per numeric
  parameter, every value of a choice: :meth:`Space.grid`);
* ``"random"``: random combinations, which still "repeatedly [try]
  hyperparameter values which may have no effect", but almost surely never
  the same value of a continuous parameter twice, unlike the grid (and never
  a combination already tried or running while another is left, up to 100
  draws);
* ``"bayes"``: Bayesian optimisation. After ``n_initial`` trials spread as a
  Latin hypercube (:meth:`Space.latin_hypercube`: one in each slice of every
  range), a Gaussian process (:mod:`~rosenblatt.tuning.gaussian_process`, with
  priors on its length scales and amplitude) is fitted to the trials so far
  and the next combination maximises an acquisition
  (:mod:`~rosenblatt.tuning.acquisition`), keeping the best so far.

Parallel trials: with an ``executor`` (any :class:`concurrent.futures.Executor`:
a thread or process pool, Dask's ``client.get_executor()``, ``mpi4py.futures``)
up to ``n_parallel`` trials run at once. A new proposal must avoid the points
still running: the Gaussian process is conditioned on them too, with made-up
values (Ginsbourger et al. 2010): ``liar="believer"`` (the Kriging believer:
the GP's own mean there), or a constant liar ``"min"``, ``"mean"``, ``"max"``
(of the values seen). Only plain dicts of parameters cross to the workers
(and the objective itself, which the user hands to the executor).

Reproducibility: trial ``i`` draws from ``numpy.random.default_rng([seed, i])``
(the Bayesian search's initial design from a stream of its own, a function of
``seed`` and ``n_initial``) and is proposed knowing the results of trials
``0 .. i - n_parallel`` and the parameters (not yet the results) of trials
``i - n_parallel + 1 .. i - 1``: trial ``i`` is submitted once trial
``i - n_parallel`` has been recorded, and trials are recorded in order. So a
search is a function of its seed and ``n_parallel`` alone: the serial loop
(which honours ``n_parallel`` too), a process pool
(:func:`rosenblatt.parallel.local`), Dask and MPI executors give the same
trials, whatever finishes first; a resumed search continues exactly.
``n_parallel`` defaults to 1 whatever the executor (the serial search, one
trial at a time); set it (to the number of workers, say) to run trials at
once: the study is then that of the same ``n_parallel`` on any executor. It is
one of the study's settings, so a resumed search keeps it.
"""

import collections
import concurrent.futures
import contextlib
import functools
import json
import math
import numbers
import os
import time
import warnings

import numpy as np

from ..checks import one_of, positive_float, positive_int
from ..parallel import ExecutorShutdownError, submit
from ..randomness import resolve_rng
from .acquisition import ACQUISITIONS, maximize_acquisition
from .space import Space
from .study import Study, Trial

METHODS = ("grid", "random", "bayes")
LIARS = ("believer", "min", "mean", "max")
_DESIGN_STREAM = 2**32 - 1  # the initial design's stream: no trial has this number
GRID_POINTS = 5  # values per numeric parameter of method="grid" without n_trials/grid_points
MAX_GRID = 10**6  # points a grid search may list (it is built whole before the first trial)
_GP_DEFAULTS = {"kernel": "matern52", "noise": 1e-6, "learn_noise": True,
                "noise_bounds": (1e-6, 1.0), "n_restarts": 2,
                "length_scale_prior": (math.log(0.5), 1.0), "amplitude_prior": (2.0, 0.15)}


def evaluate(objective, params, *context):
    """Run ``objective(params)``: plain ``(status, value, error, attrs, seconds, started)``.

    Nothing the objective raises escapes: an exception, a NaN or infinite
    value, or a value that is not a number marks the trial "failed" with the
    reason. The objective may return a number or a dict ``{"value": number,
    "pruned": bool, "attrs": {...}}``. Module-level, so that a process pool
    ships only ``params`` (a dict) and the objective.
    """
    started = time.time()
    t0 = time.perf_counter()
    try:
        result = objective(dict(params), *context)
    except Exception as e:  # noqa: BLE001 - a failed trial is data, not a crash
        return "failed", None, f"{type(e).__name__}: {e}", {}, time.perf_counter() - t0, started
    seconds = time.perf_counter() - t0
    status, attrs = "complete", {}
    if isinstance(result, dict):
        if "value" not in result:
            return ("failed", None, f"TypeError: the objective returned a dict without 'value' "
                    f"(keys {sorted(result)})", {}, seconds, started)
        attrs = result.get("attrs", {}) or {}
        try:  # the study is JSON: what the objective reports must be too
            json.dumps(attrs, allow_nan=False)
            if not isinstance(attrs, dict):
                raise TypeError(f"attrs must be a dict; got {type(attrs).__name__}")
        except (TypeError, ValueError) as e:
            attrs = {"attrs_error": f"{type(e).__name__}: {e} (attrs dropped: the study is JSON)"}
        status = "pruned" if result.get("pruned") else "complete"
        result = result["value"]
    if isinstance(result, np.ndarray) and result.shape in ((), (1,)):
        result = result.reshape(()).item()
    if isinstance(result, bool) or not isinstance(result, numbers.Real):
        return ("failed", None, f"TypeError: the objective returned {type(result).__name__} "
                f"{result!r:.60}; expected a number", attrs, seconds, started)
    try:
        value = float(result)
    except OverflowError as e:  # an int beyond float64 (10**400): as much a failure as inf
        return ("failed", None, f"OverflowError: the objective returned {result!r:.60}: {e}",
                attrs, seconds, started)
    if not math.isfinite(value):
        return ("failed", None, f"ValueError: the objective returned {value}", attrs, seconds,
                started)
    return status, value, None, attrs, seconds, started


class _Proposer:
    """Proposes trial ``number``'s params from the trials finished and those still running."""

    def __init__(self, space, method, seed, n_initial, acquisition, grid, gp, liar, xi, kappa,
                 n_candidates):
        self.space, self.method, self.seed = space, method, seed
        self.n_initial, self.acquisition, self.grid = n_initial, acquisition, grid
        self.gp_kwargs, self.liar, self.xi, self.kappa = gp, liar, xi, kappa
        self.n_candidates = n_candidates
        self._design = None

    def __call__(self, number, finished, pending):
        if self.method == "grid":
            return dict(self.grid[number])
        rng = np.random.default_rng([self.seed, number])
        ok = [t for t in finished if t.ok]
        if self.method == "bayes" and number < self.n_initial:
            params = self._initial_design()[number]
            if _key(params) not in _taken(finished, pending):  # (a small discrete space
                return dict(params)  # may repeat a point)
        if self.method == "random" or number < self.n_initial or len(ok) < 2:
            return self._random(rng, finished, pending)
        with one_blas_thread():
            return self._bayes(rng, finished, ok, pending)

    def _initial_design(self):
        """The Bayesian search's first ``n_initial`` trials: a Latin hypercube
        (:meth:`Space.latin_hypercube`) drawn from its own stream of ``seed``, so that the
        Gaussian process starts from points that cover every parameter's range."""
        if self._design is None:
            rng = np.random.default_rng([self.seed, _DESIGN_STREAM])
            self._design = self.space.latin_hypercube(self.n_initial, rng)
        return self._design

    def _random(self, rng, finished, pending):
        taken = _taken(finished, pending)
        for _ in range(100):  # distinct from the running ones (a small discrete space may repeat)
            params = self.space.sample(1, rng)[0]
            if _key(params) not in taken:
                return params
        return params

    def _bayes(self, rng, finished, ok, pending):
        from .gaussian_process import GaussianProcess

        space = self.space
        values = np.array([t.value for t in ok])
        failed = [t for t in finished if not t.ok]
        # A failed combination (diverged, crashed) counts as the worst seen, so the search
        # learns to stay away from it rather than trying it again.
        X = space.to_unit([t.params for t in ok] + [t.params for t in failed])
        y = np.concatenate([values, np.full(len(failed), values.max())])
        gp = GaussianProcess(**self.gp_kwargs, rng=rng).fit(X, y)
        if pending:
            P = space.to_unit(pending)
            lies = {"believer": lambda: gp.predict(P, return_std=False),
                    "min": lambda: np.full(len(P), values.min()),
                    "mean": lambda: np.full(len(P), values.mean()),
                    "max": lambda: np.full(len(P), values.max())}[self.liar]()
            # the fitted hyper-parameters, fixed (one length scale when ard=False: the
            # fitted one, not its copy per column, which an isotropic GP refuses)
            scales = gp.length_scales_ if gp.ard else gp.length_scales_[:1]
            fitted = {**self.gp_kwargs, "length_scales": scales, "amplitude": gp.amplitude_,
                      "noise": gp.noise_, "learn_noise": False}
            # ... and the first fit's standardisation: y's mean and std with the lies would
            # rescale the amplitude and noise and shift the prior mean (Ginsbourger et al.
            # condition the same GP on the lies)
            gp = GaussianProcess(**fitted).fit(np.concatenate([X, P]), np.concatenate([y, lies]),
                                               optimize=False,
                                               standardisation=(gp.y_mean_, gp.y_std_))
        # The incumbent is the lowest posterior mean at an evaluated point: with noisy values
        # (a network's validation score) the lowest observation is biased low, and EI against
        # it would stop exploring; without noise the two agree.
        best = float(gp.normalise(gp.predict(X[:len(ok)], return_std=False).min()))
        exclude = X if not pending else np.concatenate([X, space.to_unit(pending)])
        anchors = space.to_unit([t.params for t in sorted(ok, key=lambda t: t.value)[:5]])
        U = maximize_acquisition(gp, space, best, rng, self.acquisition, self.xi, self.kappa,
                                 self.n_candidates, exclude=exclude, anchors=anchors)
        return space.from_unit(U)[0]


_controller = None


def one_blas_thread():
    """One BLAS thread for the GP's small matrices (DESIGN principle 9).

    On a loaded 2-core machine, multi-threaded OpenBLAS made each proposal
    3-30x slower (SciPy's L-BFGS-B, on vectors of a few numbers, took 12 ms
    a step).
    A no-op without threadpoolctl.
    """
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return contextlib.nullcontext()
        import scipy.linalg  # noqa: F401 - SciPy may bring its own OpenBLAS: load it before
        import scipy.optimize  # noqa: F401 - the controller lists the libraries it limits
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def _taken(finished, pending):
    """The keys of every combination tried or running."""
    return {_key(p) for p in pending} | {_key(t.params) for t in finished}


def _key(params):
    return tuple(sorted((k, type(v).__name__, v) for k, v in params.items()))


def _saturated(space, k):
    """Whether ``k`` points per numeric parameter list every value of every parameter (only
    choices and integers can: more points then give the same grid)."""
    for d in space.params.values():
        if d.kind in ("uniform", "loguniform"):
            return False
        if d.kind == "int" and len(d.grid(k)) < d.high - d.low + 1:
            return False
    return True


def _grid_points(space, n_trials, cap=1000):
    """Points per numeric parameter for the largest grid that fits in ``n_trials`` (at least 1):
    the fewest points that give it.

    The grid's size does not grow with every point: on a log-integer axis two grid values
    may round onto one integer (``Int(1, 64, log=True)``: 20 combinations for 10 and for
    11 points with a choice of two), so the search goes on past such a plateau until the
    grid outgrows ``n_trials``, lists every value of a discrete space, or ``k`` reaches ``cap``.
    """
    best_k, best_size = 1, space.grid_size(1)
    k = 1
    while k < cap and not _saturated(space, k):
        k += 1
        size = space.grid_size(k)
        if size > n_trials:
            break
        if size > best_size:
            best_k, best_size = k, size
    return best_k


def _count(n):
    """A grid's size for a message: exact, or its order of magnitude when very large."""
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"


def _check_picklable(objective, executor):
    """A process pool sends the objective to its workers by name (module and qualified name,
    in a background thread, so a failure would only mark each trial failed): a lambda or a
    function defined inside another has no such name. Checked once, before the first trial,
    by looking at the name (this module never pickles anything itself)."""
    if not isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return  # threads share it; Dask and mpi4py send functions their own way
    fn = objective
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str) and "<" in name:  # "<lambda>", "outer.<locals>.inner"
        raise TypeError(_unpicklable(objective, TypeError(f"{name} has no importable name")))


def _unpicklable(objective, error):
    name = getattr(objective, "__qualname__", type(objective).__name__)
    return (f"minimize: the objective {name!r} cannot be sent to the executor's workers "
            f"({type(error).__name__}: {error}); it must be a module-level function (or a "
            f"functools.partial of one with plain-data arguments), not a lambda or a "
            f"function defined inside another")


def _is_pickling_error(error):
    """True when a trial's future failed in transit: the objective (or the history's data)
    could not be pickled; nothing the objective raises reaches the future (see evaluate)."""
    if type(error).__name__ == "PicklingError":
        return True
    return isinstance(error, (AttributeError, TypeError)) and "pickle" in str(error)


def _gp_kwargs(gp, dim):
    """The Gaussian process's keyword arguments: the defaults updated by ``gp``, checked by
    building one and against the space's ``dim`` columns (before the first trial, not when
    the initial design has run)."""
    from .gaussian_process import GaussianProcess

    if gp is not None and not isinstance(gp, dict):
        raise TypeError(f"minimize: gp must be a dict of GaussianProcess keyword arguments; "
                        f"got {type(gp).__name__} {gp!r:.60}")
    if gp and "rng" in gp:
        raise ValueError("minimize: gp must not set rng; the search seeds it from seed")
    kwargs = {**_GP_DEFAULTS, **(gp or {})}
    if kwargs.get("noise_prior") is not None and not kwargs.get("learn_noise"):
        raise ValueError(f"minimize: gp: noise_prior applies only with learn_noise=True (a "
                         f"fixed noise has no prior); got noise_prior={kwargs['noise_prior']!r} "
                         f"with learn_noise={kwargs.get('learn_noise')!r}")
    try:
        model = GaussianProcess(**kwargs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"minimize: gp: {e}") from None
    scales = model.length_scales
    if scales is not None and scales.size not in (1, model._n_scales(dim)):
        expected = (f"1 or {dim} (one per column of the space's cube, Space.dim)" if model.ard
                    else "1 (ard=False takes one)")
        raise ValueError(f"minimize: gp: length_scales has {scales.size} values "
                         f"for a space of {dim} columns; expected {expected}")
    return kwargs


def _extra_settings(extra):
    """``minimize``'s ``extra_settings``: a dict of JSON values under names of their own."""
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise TypeError(f"minimize: extra_settings must be a dict of JSON values; got "
                        f"{type(extra).__name__} {extra!r:.60}")
    own = ("method", "seed", "acquisition", "n_initial", "grid_points", "liar", "n_parallel")
    for key in extra:
        if not isinstance(key, str) or key in own:
            raise ValueError(f"minimize: extra_settings must name settings other than "
                             f"minimize's own ({', '.join(own)}); got {key!r}")
    try:
        return json.loads(json.dumps(extra, allow_nan=False))  # as the study file holds them
    except (TypeError, ValueError) as e:
        raise ValueError(f"minimize: extra_settings must be plain JSON values (the study "
                         f"stores them); {type(e).__name__}: {e}") from None


def _check_path(name, path):
    """``save_to``/``resume_from``: a file in a folder that exists (checked before any trial)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"minimize: {name} must be a path (str or os.PathLike); got "
                        f"{type(path).__name__} {path!r:.60}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"minimize: {name} must be a path as text; got bytes {path!r:.60}")
    if os.path.isdir(path):
        raise ValueError(f"minimize: {name} must be a study file; got the folder {path!r} "
                         f"(e.g. {os.path.join(path, 'study.json')!r})")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"minimize: {name} {path!r}: the folder {folder!r} does not exist; "
                         f"create it first")
    return path


def minimize(objective, space, method="bayes", n_trials=None, n_initial=None, acquisition="ei",
             executor=None, seed=None, callbacks=None, resume_from=None, *, n_parallel=None,
             liar="believer", grid_points=None, save_to=None, xi=0.0, kappa=1.96,
             n_candidates=2000, gp=None, history=None, extra_settings=None):
    """Search ``space`` for the parameters that minimise ``objective``; returns a :class:`Study`.

    Parameters
    ----------
    objective : callable
        ``objective(params: dict) -> float`` (lower is better), or a dict
        ``{"value": float, "pruned": bool, "attrs": {...}}``. To maximise, return ``-value``.
        A trial whose objective raises, returns NaN/inf or a non-number is
        recorded as failed (with the reason) and the search goes on.
    space : Space or dict
        The hyper-parameters (a dict is passed to :class:`Space`).
    method : {"grid", "random", "bayes"}, default "bayes"
    n_trials : int, optional
        How many trials in all (a resumed study counts its own). Required for
        "random" and "bayes"; for "grid", the default is the whole grid (of
        ``grid_points`` values per numeric parameter), and at most the whole
        grid runs: a resumed grid study keeps its ``grid_points``, so a larger
        ``n_trials`` does not extend a finished grid (a warning says so).
    n_initial : int, optional
        Trials before the Gaussian process takes over ("bayes"), a Latin
        hypercube of the space; default ``min(10, max(2, n_trials // 3))``, or
        the resumed study's own (so a study can be resumed with more trials).
    acquisition : {"ei", "ucb", "pi"}, default "ei"
        Expected improvement, (lower) confidence bound or probability of improvement.
    executor : concurrent.futures.Executor, optional
        Runs the trials (``n_parallel`` at a time), e.g. ``rb.parallel.local(n)``
        or a Dask ``client.get_executor()``; the objective must then be
        module-level (or a ``functools.partial`` of one) and only its params
        dict crosses per trial. Default: in this thread, one by one.
    seed : int, optional
        Default: drawn from the library generator (``rb.seed``) and stored in the study.
    callbacks : sequence of callables, optional
        ``fn(study, trial)`` after every recorded trial; returning True stops the search
        (trials still running are waited for and recorded).
    resume_from : str or os.PathLike, optional
        A study file: if it exists its trials are kept and the search continues
        with the next one (same settings required: those not given, ``seed``,
        ``n_initial``, ``grid_points`` and ``n_parallel``, are the file's); the
        study is saved there after every trial unless ``save_to`` says otherwise.
        The space must hold the same parameters; listed in another order, the
        file's order is kept (it orders the unit cube's columns), so the
        search continues exactly.
    n_parallel : int, optional
        Trials in flight at once; default 1, whatever the executor: the serial
        search, so any executor gives the study of a serial run. To run trials
        at once on an executor's workers, set it (e.g. to
        :func:`rosenblatt.parallel.workers` of the executor): the trials depend
        on it (see the module docstring), not on the executor, so the same
        value gives the same study serially and on any executor. Stored in the
        study's settings.
    liar : {"believer", "min", "mean", "max"}, default "believer"
        The values assumed at running trials when proposing another (see the module docstring).
    grid_points : int, optional
        Values per numeric parameter of the grid; default the most that fit in
        ``n_trials``, or 5 (``GRID_POINTS``) without ``n_trials`` (then the
        whole grid runs: ``5 ** d`` trials for ``d`` numeric parameters, times
        the choices' values), or the resumed study's own.
    save_to : str or os.PathLike, optional
        Where to save the study (JSON, atomically) after every trial; default
        ``resume_from``. Its folder must exist.
    xi, kappa : float
        Exploration of EI/PI (a margin in standardised units of the values; 0, as
        Snoek et al. 2012: 0.01 kept the search from refining Branin's minimum)
        and of UCB.
    n_candidates : int, default 2000
        Random points scored per proposal before L-BFGS-B polishes the best
        (plus ``n_candidates // 4`` drawn near the five best trials so far).
    gp : dict, optional
        Keyword arguments of :class:`GaussianProcess` (default: Matérn 5/2,
        ARD, noise learnt from 1e-6 up, ``length_scale_prior=(ln 0.5, 1)``,
        ``amplitude_prior=(2, 0.15)``; pass ``None`` for either to fit by the
        likelihood alone), checked before the first trial; not ``rng``
        (each proposal's generator comes from ``seed``).
    history : callable, optional
        ``history(trials) -> plain data``, called in this process when trial
        ``i`` is submitted, with exactly trials ``0 .. i - n_parallel`` (those
        recorded by then, whatever finished first; in a resumed study, those
        of the earlier session too, and no later ones). The objective is then
        called ``objective(params, data)``, and ``data`` crosses to the worker
        with the params. This is how a trial learns from earlier ones
        reproducibly: pruning (:func:`~rosenblatt.tuning.networks.tune_fit`
        sends the earlier learning curves) gives the same study on any
        executor for a seed and ``n_parallel``.
    extra_settings : dict, optional
        More settings of the objective's own (plain JSON values under names
        other than minimize's), stored in the study and checked as the others
        on resume: e.g. the metric that ``tune_fit`` scores, so that a study is
        not continued with values of another quantity. A resumed file without
        one of them takes it as given.

    Returns
    -------
    Study

    Raises
    ------
    ValueError
        A bad argument; a ``resume_from`` file that is not a valid study, or
        was searched with other settings; a ``save_to`` whose folder is missing.
    TypeError
        An objective that a process pool cannot send to its workers (a lambda
        or a nested function): checked before the first trial.
    rosenblatt.parallel.ExecutorShutdownError
        The executor is shut down (or its client closed), or its pool broke with trials
        in flight (a worker process died): those trials are not recorded, and a search
        resumed from the saved study runs them again.

    Examples
    --------
    >>> from rosenblatt.tuning import Space, Uniform, minimize
    >>> study = minimize(lambda p: (p["x"] - 0.3) ** 2, Space({"x": Uniform(-1, 1)}),
    ...                  method="bayes", n_trials=12, seed=0)
    >>> round(study.best_params["x"], 2)
    0.3
    """
    if not callable(objective):
        raise TypeError(f"minimize: objective must be callable; got {type(objective).__name__}")
    space = space if isinstance(space, Space) else Space(space)
    one_of("minimize", "method", method, METHODS)
    one_of("minimize", "acquisition", acquisition, ACQUISITIONS)
    one_of("minimize", "liar", liar, LIARS)
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"minimize: executor must be a concurrent.futures.Executor (with "
                        f"submit); got {type(executor).__name__}")
    if history is not None and not callable(history):
        raise TypeError(f"minimize: history must be callable history(trials) -> data; got "
                        f"{type(history).__name__}")
    if callable(callbacks):
        raise TypeError("minimize: callbacks must be a list of fn(study, trial); got a single "
                        "callable (wrap it in a list)")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"minimize: each callback must be callable fn(study, trial); "
                            f"got {type(cb).__name__}")
    positive_float("minimize", "xi", xi, allow_zero=True)
    positive_float("minimize", "kappa", kappa, allow_zero=True)
    n_candidates = positive_int("minimize", "n_candidates", n_candidates)
    gp_kwargs = _gp_kwargs(gp, space.dim)
    extra_settings = _extra_settings(extra_settings)

    if n_parallel is not None:
        n_parallel = positive_int("minimize", "n_parallel", n_parallel)
    if resume_from is not None:
        resume_from = _check_path("resume_from", resume_from)
    save_to = save_to if save_to is not None else resume_from
    if save_to is not None:
        save_to = _check_path("save_to", save_to)
    if executor is not None:
        _check_picklable(objective, executor)

    study = None
    if resume_from is not None and os.path.exists(resume_from):
        study = Study.load(resume_from)
        if study.space != space:
            raise ValueError(f"minimize: the study in {resume_from} searched another space "
                             f"({study.space.config()}); resume with the same space")
        # the same parameters, perhaps listed in another order: search the file's space, whose
        # order is that of the cube's columns the earlier trials were drawn in
        space = study.space
        # What the caller leaves out is the file's: the seed, the settings derived from the
        # first session's n_trials (so a study resumes with a larger budget), n_parallel.
        if seed is None:
            seed = study.settings.get("seed")
        if n_initial is None:
            n_initial = study.settings.get("n_initial")
        if grid_points is None:
            grid_points = study.settings.get("grid_points")
        if n_parallel is None:
            n_parallel = study.settings.get("n_parallel")
    if n_parallel is None:
        n_parallel = 1
    if seed is None:
        seed = int(resolve_rng(None).integers(2**63))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"minimize: seed must be a non-negative integer; got {seed!r}")
    seed = int(seed)

    grid = None
    if method == "grid":
        if grid_points is None and n_trials is None:
            grid_points = GRID_POINTS  # the whole grid, as documented
        if grid_points is None:
            n_trials = positive_int("minimize", "n_trials", n_trials)
            grid_points = _grid_points(space, n_trials)
            smallest, two = space.grid_size(grid_points), space.grid_size(2)
            if smallest > n_trials or (grid_points == 1 and two > smallest):
                raise ValueError(
                    f"minimize: the smallest useful grid over this space (2 values per numeric "
                    f"parameter) has {_count(two)} points, more than n_trials="
                    f"{n_trials}: the notes' 'blows up in size'. Raise n_trials, pass "
                    f"grid_points to run part of a grid, or use method='random'")
        grid_points = positive_int("minimize", "grid_points", grid_points)
        # the grid is built whole before the first trial: bound it first (a resumed file's
        # grid_points too) by its exact size, counted without listing it
        if grid_points > MAX_GRID:
            raise ValueError(f"minimize: grid_points={grid_points} makes a grid of more than "
                             f"{MAX_GRID:,} points; use fewer grid_points or method='random'")
        size = space.grid_size(grid_points)
        if size > MAX_GRID:
            raise ValueError(f"minimize: grid_points={grid_points} makes a grid of "
                             f"{_count(size)} points, more than {MAX_GRID:,} points (the "
                             f"most a grid search lists); use fewer grid_points or "
                             f"method='random'")
        grid = space.grid(grid_points)
        if study is not None and n_trials is not None and n_trials > len(grid):
            warnings.warn(f"minimize: the grid of {resume_from} (grid_points {grid_points}) "
                          f"holds {len(grid)} combinations, fewer than n_trials={n_trials}; a "
                          f"resumed grid study keeps its grid_points, so at most those run "
                          f"(for a finer grid, start a study elsewhere with a larger "
                          f"grid_points)", stacklevel=2)
        n_trials = len(grid) if n_trials is None else min(n_trials, len(grid))
    elif n_trials is None:
        raise ValueError(f"minimize: n_trials is required for method={method!r}")
    n_trials = positive_int("minimize", "n_trials", n_trials)
    if n_initial is None:
        n_initial = min(10, max(2, n_trials // 3))
    n_initial = positive_int("minimize", "n_initial", n_initial)

    settings = {"method": method, "seed": seed, "acquisition": acquisition,
                "n_initial": n_initial, "grid_points": grid_points, "liar": liar,
                "n_parallel": n_parallel, **extra_settings}
    optional = ("n_parallel", *extra_settings)  # a file written without them: taken as given
    if study is None:
        study = Study(space, settings)
    else:
        # (a file written before n_parallel was a setting does not have it: taken as given)
        changed = {k: (study.settings.get(k), v) for k, v in settings.items()
                   if study.settings.get(k) != v
                   and not (k in optional and k not in study.settings)}
        if changed:
            listed = ", ".join(f"{k}: {a!r} in the file, {b!r} now"
                               for k, (a, b) in changed.items())
            raise ValueError(f"minimize: cannot resume {resume_from} with other settings "
                             f"({listed})")
        study.settings.update({k: settings[k] for k in optional})

    propose = _Proposer(space, method, seed, n_initial, acquisition, grid, gp_kwargs, liar, xi,
                        kappa, n_candidates)
    todo = [i for i in range(n_trials) if i not in {t.number for t in study.trials}]

    def record(number, params, outcome):
        status, value, error, attrs, seconds, started = outcome
        trial = Trial(number, params, value, status, seconds, started, error, attrs)
        study.add(trial)
        if save_to is not None:
            study.save(save_to)
        if status == "failed":
            warnings.warn(f"minimize: trial {number} failed ({error}); the search goes on",
                          stacklevel=3)
        stops = [bool(cb(study, trial)) for cb in callbacks]  # every one sees every trial
        return any(stops)

    window = collections.deque()  # (number, params, future), oldest first
    stop = False

    def oldest():
        number, params, future = window.popleft()
        try:
            outcome = future.result()
        except (concurrent.futures.BrokenExecutor, concurrent.futures.CancelledError) as e:
            # The executor failed, not the trial (a worker process died and broke the pool,
            # or the pool was shut down with the trial in flight): this trial and those still
            # in flight are left unrecorded, so that resume_from runs them again.
            raise ExecutorShutdownError(
                f"minimize: the executor {type(executor).__name__} lost trial {number} "
                f"({type(e).__name__}: {str(e).rstrip('.') or 'cancelled'}); its pool broke (a "
                f"worker process died, e.g. killed for memory) or it was shut down. Trials "
                f"{number} and later were not recorded: pass resume_from (or the save_to file) "
                f"with a new executor to run them again") from e
        except Exception as e:  # noqa: BLE001 - the executor itself failed in another way
            if _is_pickling_error(e):  # every trial would fail the same way: stop now
                raise TypeError(_unpicklable(objective, e)) from None
            outcome = ("failed", None, f"{type(e).__name__}: {e}", {}, 0.0, time.time())
        return record(number, params, outcome)

    for number in todo:
        while len(window) >= n_parallel:
            stop = oldest() or stop
        if stop:
            break
        # Trial i knows the results of trials 0 .. i - n_parallel and the params of the
        # later ones: those in flight and, in a resumed study, those recorded in the earlier
        # session that were in flight then (so the resumed search continues exactly).
        known = [t for t in study.trials if t.number <= number - n_parallel]
        pending = [t.params for t in study.trials if t.number > number - n_parallel]
        params = propose(number, known, pending + [p for _, p, _ in window])
        context = () if history is None else (history(known),)
        if executor is None:
            future = concurrent.futures.Future()
            future.set_result(evaluate(objective, params, *context))
        else:
            try:
                future = submit(executor, evaluate, objective, params, *context,
                                owner="minimize")
            except Exception as e:
                if _is_pickling_error(e):  # an executor that pickles as it submits
                    raise TypeError(_unpicklable(objective, e)) from None
                raise
        window.append((number, params, future))
    while window:
        oldest()
    return study
