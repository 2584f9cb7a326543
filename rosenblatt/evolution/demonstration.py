"""Learning from demonstration: evolve networks to act as a person did (notes: "Neuroevolution").

The notes: among the ways humans can intervene in evolution is "demonstration,
in which the human takes direct control and the network learns from that
example". Here that is three small pieces:

1. A :class:`Recorder` wraps the *controller* (a person's input read each
   decision, a scripted policy, a trained network: any policy of the
   environments' protocol, ``obs (P, k) -> actions (P, a)`` or an object with
   ``step``) and passes each decision on to it, keeping what it saw and what
   it did. :func:`record_demonstration` lets it drive an environment (``env.evaluate``, e.g.
   :class:`~rosenblatt.evolution.envs.CartPole`) and returns the
   :class:`Demonstration`: the observations ``(T, k)`` and actions ``(T, a)``,
   which save to JSON or ``.npz`` (no pickle) and load back.
2. :class:`Imitation` turns a demonstration into a fitness (higher is better):
   the agreement of a network's actions with the demonstrator's on the
   recorded observations. It follows the environments' protocol:
   ``imitation(network_or_genome) -> float`` is NEAT's or CNE's per-individual
   ``fitness=``, ``imitation.evaluate(population_network) -> (P,)`` the
   vectorised one (NEAT's :class:`PopulationNetwork`, CNE's
   :class:`PopulationModel` of a weight matrix).
3. Evolution runs on it as on any task, alone or added to a task's own fitness
   (e.g. ``imitation.evaluate(pop) + 1e-3 * env.evaluate(pop)``).

A network that agrees with the demonstrator on the states the demonstrator
visited may still drift into states it never showed (behaviour cloning's
compounding error): demonstrate from several start states (``record_demonstration(...,
population=, starts=)``) so the example covers the states the network will
meet.

Agreement measures (``measure=``):

* ``"squared"``: ``-mean (o - a)^2`` over steps and outputs (continuous actions);
* ``"agreement"``: the fraction of steps and outputs where ``o`` and ``a`` lie on
  the same side of ``threshold`` (0.5: CartPole's zero force; left/right keys);
* ``"choice"``: the fraction of steps where the largest output is the one the
  demonstrator's largest action names (discrete choices, one-hot actions).

Only feed-forward networks are scored (all observations in one batch); a
recurrent controller would need the demonstration replayed in order, and a
demonstration of several episodes interleaves them step by step, so
:class:`Imitation` refuses a recurrent genome or population network, and a
plastic one (a :class:`~rosenblatt.evolution.DevelopmentalNetwork` with a
rule), whose weights develop with what it saw before (scored in one batch it
would act with its birth weights throughout). A developmental network with
fixed weights (``rule=None``) is scored.
"""

import io
import json
import os
import zipfile

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import finite_float, one_of, positive_int, real_array
from .envs._networks import one_network

__all__ = ["Demonstration", "Imitation", "Recorder", "record_demonstration"]

FORMAT = "rosenblatt.demonstration"
VERSION = 1
MEASURES = ("squared", "agreement", "choice")
_NPZ_MAGIC = b"PK\x03\x04"  # a zip archive: np.savez's container


def _values(x):
    """A network's or controller's output as an array (a Module returns a Tensor)."""
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _matrix(owner, name, value):
    """``value`` as a finite float64 matrix ``(T, width)``, or a ValueError naming it.

    Only integers and floats are numbers: strings ("1"), bools, complex numbers (whose
    imaginary part the cast would drop) and integers beyond float64 are refused."""
    a = real_array(owner, name, value.data if isinstance(value, Tensor) else value,
                   shape="a (steps, width) array")
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{owner}: {name} must be a non-empty (steps, width) array, one row "
                         f"per decision; got shape {a.shape}")
    if not np.isfinite(a).all():
        row = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
        raise ValueError(f"{owner}: {name} must be finite; row {row} is "
                         f"{a[row].tolist()}")
    return a


class Demonstration:
    """What a demonstrator saw and did: ``observations (T, k)`` and ``actions (T, a)``.

    Parameters
    ----------
    observations : array_like, shape (T, k)
    actions : array_like, shape (T, a)
        Row ``t`` is the action taken on observation ``t``. Both finite, with
        the same number of rows (at least one).
    info : dict, optional
        JSON-able notes (the task, the demonstrator's scores ...), saved too.

    Raises
    ------
    ValueError
        Empty, ragged, non-finite or non-numeric arrays, or a different number
        of observations and actions.

    Examples
    --------
    >>> demo = Demonstration([[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]])
    >>> demo.steps, demo.n_inputs, demo.n_outputs
    (2, 2, 1)
    >>> Demonstration.from_json(demo.to_json()).actions.tolist()
    [[1.0], [0.0]]
    """

    def __init__(self, observations, actions, info=None):
        owner = "Demonstration"
        self.observations = _matrix(owner, "observations", observations)
        self.actions = _matrix(owner, "actions", actions)
        if self.observations.shape[0] != self.actions.shape[0]:
            raise ValueError(f"{owner}: one action per observation: got "
                             f"{self.observations.shape[0]} observations and "
                             f"{self.actions.shape[0]} actions")
        self.info = {} if info is None else info
        if not isinstance(self.info, dict):
            raise TypeError(f"{owner}: info must be a dict; got {type(info).__name__}")
        try:
            json.dumps(self.info, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{owner}: info must be JSON-able (it is saved with the "
                             f"demonstration): {e}") from None

    @property
    def steps(self):
        """``T``, the number of recorded decisions."""
        return self.observations.shape[0]

    @property
    def n_inputs(self):
        return self.observations.shape[1]

    @property
    def n_outputs(self):
        return self.actions.shape[1]

    def __len__(self):
        return self.steps

    def __repr__(self):
        return (f"Demonstration(steps={self.steps}, n_inputs={self.n_inputs}, "
                f"n_outputs={self.n_outputs})")

    @classmethod
    def concatenate(cls, demonstrations):
        """One demonstration of several (episodes, demonstrators) of the same widths.

        ``info`` of the result: ``{"parts": [each one's info]}``.
        """
        demos = list(demonstrations)
        if not demos or not all(isinstance(d, cls) for d in demos):
            raise ValueError("Demonstration.concatenate: give a non-empty list of "
                             "Demonstrations")
        widths = {(d.n_inputs, d.n_outputs) for d in demos}
        if len(widths) > 1:
            raise ValueError(f"Demonstration.concatenate: the demonstrations have different "
                             f"(observation, action) widths {sorted(widths)}")
        return cls(np.concatenate([d.observations for d in demos]),
                   np.concatenate([d.actions for d in demos]),
                   {"parts": [d.info for d in demos]})

    # -- JSON and .npz -------------------------------------------------------------------
    def to_dict(self):
        return {"format": FORMAT, "version": VERSION,
                "observations": self.observations.tolist(), "actions": self.actions.tolist(),
                "info": self.info}

    def to_json(self, indent=None):
        """The demonstration as JSON text (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d, where="Demonstration.from_json"):
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"{where}: not a demonstration (expected \"format\": "
                             f"\"{FORMAT}\")")
        if type(d.get("version")) is not int or d["version"] != VERSION:
            raise ValueError(f"{where}: unsupported demonstration version "
                             f"{d.get('version')!r} (this version reads {VERSION})")
        missing = [k for k in ("observations", "actions") if k not in d]
        if missing:
            raise ValueError(f"{where}: the demonstration has no {' or '.join(missing)}")
        try:
            return cls(d["observations"], d["actions"], d.get("info"))
        except (TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"{where}: {e}") from None

    @classmethod
    def from_json(cls, text):
        """Rebuild a demonstration from :meth:`to_json`'s text; anything else is a ValueError."""
        try:
            d = json.loads(text)
        except (TypeError, ValueError, RecursionError) as e:
            raise ValueError(f"Demonstration.from_json: not JSON ({e})") from None
        return cls.from_dict(d)

    def save(self, path):
        """Write the demonstration atomically: ``.npz`` arrays if ``path`` ends so, else JSON."""
        from ..io.atomic import write_bytes_atomic

        if os.fspath(path).endswith(".npz"):
            buffer = io.BytesIO()
            np.savez(buffer, format=np.array(FORMAT), version=np.array(VERSION),
                     observations=self.observations, actions=self.actions,
                     info=np.array(json.dumps(self.info)))
            data = buffer.getvalue()
        else:
            data = self.to_json(indent=None).encode()
        write_bytes_atomic(path, data)

    @classmethod
    def load(cls, path):
        """Read a demonstration written by :meth:`save` (JSON or ``.npz``, found from its
        content); a ValueError naming ``path`` if the file holds none. Never unpickles."""
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(_NPZ_MAGIC):
            try:
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    d = {k: z[k] for k in z.files}
                version = d.get("version", np.array(-1))
                # an integer array; any other (1.7, "1", True) is refused by from_dict as it is
                version = version.item() if version.ndim == 0 and version.dtype.kind in "iu" \
                    else version.tolist()
                d = {"format": str(d.get("format")), "version": version,
                     **{k: d[k] for k in ("observations", "actions") if k in d},
                     "info": json.loads(str(d["info"])) if "info" in d else None}
            # a damaged archive (an interrupted copy): zipfile's errors and a short member's
            # EOFError derive from neither ValueError nor OSError
            # info as deeply nested JSON: RecursionError; a huge integer in it: OverflowError
            except (ValueError, TypeError, OSError, KeyError, EOFError, RecursionError,
                    OverflowError, zipfile.BadZipFile) as e:
                raise ValueError(f"{path}: not a demonstration (an .npz file that does not "
                                 f"read as one: {e})") from None
            return cls.from_dict(d, where=str(path))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a demonstration (neither JSON text nor .npz)") \
                from None
        try:
            return cls.from_json(text)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


class Recorder:
    """A policy that hands each decision to ``controller`` and keeps what it saw and did.

    ``controller`` follows the environments' policy protocol: a callable
    ``obs (P, k) -> actions (P, a)``, or an object with ``step(obs)`` (and
    optionally ``reset(P)`` and ``keep(mask)``, which the recorder passes on).
    A person's controller is such a callable that reads their keys. A
    population controller (one with ``take(index)`` and ``keep``, e.g. NEAT's
    PopulationNetwork or CNE's PopulationModel) stays whole: each ``reset(P)``
    steps a copy of its first ``P`` networks (``take``), and ``keep`` narrows
    that copy, as :meth:`~rosenblatt.evolution.envs.CartPole.evaluate` does
    with a population it is given. ``size`` is the controller's.

    Examples
    --------
    >>> rec = Recorder(lambda obs: obs[:, :1] > 0)
    >>> rec.step(np.array([[1.0, 2.0], [-1.0, 0.0]])).tolist()
    [[1.0], [0.0]]
    >>> rec.demonstration().actions.tolist()
    [[1.0], [0.0]]
    """

    def __init__(self, controller):
        if not callable(controller) and not callable(getattr(controller, "step", None)):
            raise TypeError(f"Recorder: controller must be callable or have a step(obs) "
                            f"method; got {type(controller).__name__}")
        self.controller = controller
        self._policy = self._copy(None)  # what is stepped and narrowed
        self.observations, self.actions = [], []

    @property
    def size(self):
        """The controller's ``size`` (its number of networks), or None."""
        return getattr(self.controller, "size", None)

    def _copy(self, population):
        """A private copy of a population controller's first ``population`` networks (default:
        all), which ``keep`` may narrow; any other controller itself."""
        take = getattr(self.controller, "take", None)
        if take is None or getattr(self.controller, "keep", None) is None:
            return self.controller
        if population is None:
            population = self.size
            if not isinstance(population, (int, np.integer)):
                return self.controller
        return take(np.arange(population))

    def reset(self, population=None):
        """A new episode of ``population`` decisions at once: passed on to the controller (to a
        fresh copy of a population controller's networks)."""
        self._policy = self._copy(population)
        reset = getattr(self._policy, "reset", None)
        if reset is not None:
            reset(population)

    def keep(self, mask):
        """Passed on to the controller (a population controller's copy): drop the decisions
        whose episodes ended."""
        keep = getattr(self._policy, "keep", None)
        if keep is not None:
            keep(mask)

    def step(self, obs):
        """The controller's actions ``(P, a)`` for ``obs`` ``(P, k)``, both recorded."""
        obs = np.array(obs, dtype=np.float64)
        step = getattr(self._policy, "step", self._policy)
        action = np.array(_values(step(obs)), dtype=np.float64)
        if action.ndim == 1 and obs.ndim == 2 and action.shape[0] == obs.shape[0]:
            action = action[:, None]  # one action per row, given flat
        if obs.ndim != 2 or action.ndim != 2 or action.shape[0] != obs.shape[0]:
            raise ValueError(f"Recorder: the controller must map observations (P, k) to "
                             f"actions (P, a), one row each; got {obs.shape} -> "
                             f"{action.shape}")
        self.observations.append(obs)
        self.actions.append(action)
        return action

    __call__ = step

    def demonstration(self, info=None):
        """The decisions recorded so far as a :class:`Demonstration`."""
        if not self.observations:
            raise ValueError("Recorder: nothing recorded yet (the controller made no decision)")
        return Demonstration(np.concatenate(self.observations), np.concatenate(self.actions),
                             info)


def record_demonstration(env, controller, population=1, **kwargs):
    """Let ``controller`` drive ``env`` and return what it saw and did.

    Parameters
    ----------
    env : environment
        With ``evaluate(policy, population=, ...) -> (P,)``, e.g.
        :class:`~rosenblatt.evolution.envs.CartPole`.
    controller : policy
        See :class:`Recorder`.
    population : int, default 1
        Episodes run at once (``P``); with ``starts=`` (CartPole) each from
        its own start state, so the demonstration covers more states.
    **kwargs
        Passed to ``env.evaluate`` (``starts``, ``max_steps`` ...).

    Returns
    -------
    Demonstration
        Every decision of every episode (episodes interleaved, step by step);
        ``info["scores"]`` holds the environment's score of each episode.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> env = rb.evolution.envs.CartPole(poles=1, max_steps=20)
    >>> demo = record_demonstration(env, lambda obs: (obs @ [5.0, 5, 30, 5] > 0)[:, None])
    >>> demo.steps, demo.info["scores"]
    (20, [20.0])
    """
    population = positive_int("record_demonstration", "population", population)
    evaluate = getattr(env, "evaluate", None)
    if not callable(evaluate):
        raise TypeError(f"record_demonstration: env must have an evaluate(policy, "
                        f"population=...) method; got {type(env).__name__}")
    recorder = Recorder(controller)
    scores = np.asarray(evaluate(recorder, population=population, **kwargs), dtype=np.float64)
    return recorder.demonstration({"scores": scores.ravel().tolist()})


def _feed_forward(owner, network):
    """Refuse a recurrent (or plastic) genome or (population) network: its outputs depend on
    the order of its inputs, and a demonstration's rows are scored at once, each as if it
    came first."""
    flag = getattr(network, "recurrent", None)
    if flag is None:  # NEAT's Network (genome.network()): its genome's flag
        flag = getattr(getattr(network, "genome", None), "recurrent", None)
    if isinstance(flag, (bool, np.bool_)) and flag:
        raise ValueError(f"{owner}: only feed-forward networks are scored (every recorded "
                         f"observation in one batch, each as the first of an episode); got a "
                         f"recurrent {type(network).__name__}, whose actions depend on what "
                         f"it saw before; evolve feed-forward genomes (NEATConfig("
                         f"recurrent=False), DevelopmentalNetwork(rule=None)) on an "
                         f"Imitation fitness")


class Imitation:
    """Agreement with a :class:`Demonstration` as a fitness (higher is better).

    Parameters
    ----------
    demonstration : Demonstration
    measure : {"squared", "agreement", "choice"}, default "squared"
        See the module docstring.
    threshold : float, default 0.5
        The decision boundary of ``measure="agreement"``.

    Notes
    -----
    With network outputs ``o_t`` and recorded actions ``a_t`` on the ``T``
    recorded observations (``a`` outputs each):

    .. math::

        \\text{squared} = -\\frac{1}{T a}\\sum_{t, j} (o_{tj} - a_{tj})^2,\\quad
        \\text{agreement} = \\frac{1}{T a}\\sum_{t, j}
            [(o_{tj} > c) = (a_{tj} > c)],\\quad
        \\text{choice} = \\frac1T \\sum_t [\\arg\\max_j o_{tj} = \\arg\\max_j a_{tj}]

    Examples
    --------
    >>> demo = Demonstration([[0.0], [1.0]], [[0.0], [1.0]])
    >>> Imitation(demo)(lambda X: X)
    -0.0
    >>> Imitation(demo, "agreement").evaluate(lambda X: np.stack([X, 1 - X])).tolist()
    [1.0, 0.0]
    """

    def __init__(self, demonstration, measure="squared", threshold=0.5):
        if not isinstance(demonstration, Demonstration):
            raise TypeError(f"Imitation: demonstration must be a Demonstration (record one, or "
                            f"Demonstration.load a saved one); got "
                            f"{type(demonstration).__name__}")
        self.demonstration = demonstration
        self.measure = one_of("Imitation", "measure", measure, MEASURES)
        self.threshold = finite_float("Imitation", "threshold", threshold)
        self.n_inputs, self.n_outputs = demonstration.n_inputs, demonstration.n_outputs
        if self.measure == "choice" and self.n_outputs < 2:
            # the argmax of one column is always 0: every network would score 1
            raise ValueError(f"Imitation: measure='choice' needs actions of at least 2 "
                             f"columns (one per choice); the demonstration has "
                             f"{self.n_outputs}; for a single action use measure='agreement' "
                             f"(one threshold) or 'squared'")

    def score(self, outputs):
        """The measure of outputs ``(T, a)`` (one network: a float) or ``(P, T, a)`` (``(P,)``)."""
        o = np.asarray(_values(outputs), dtype=np.float64)
        a = self.demonstration.actions
        if o.shape[-2:] != a.shape or o.ndim not in (2, 3):
            raise ValueError(f"Imitation: a network's outputs on the {a.shape[0]} recorded "
                             f"observations must have shape {a.shape} (or (P, {a.shape[0]}, "
                             f"{a.shape[1]}) for a population), one column per recorded "
                             f"action; got {o.shape}")
        # a NaN output: NaN under "squared" (a failed evaluation, see on_error), and agrees
        # with nothing under the counting measures
        if self.measure == "squared":
            s = -np.mean((o - a) ** 2, axis=(-2, -1))
        elif self.measure == "agreement":
            same = ((o > self.threshold) == (a > self.threshold)) & ~np.isnan(o)
            s = np.mean(same, axis=(-2, -1))
        else:
            same = (np.argmax(o, axis=-1) == np.argmax(a, axis=-1)) & ~np.isnan(o).any(axis=-1)
            s = np.mean(same, axis=-1)
        return float(s) if o.ndim == 2 else s

    def __call__(self, network):
        """Fitness of one network or genome (its phenotype): a callable ``(T, k) -> (T, a)``
        (a Module, ``genome.network()``), or a population of one ``-> (1, T, a)``.
        A developmental genome, network or genes is scored as a population of one. A
        recurrent or plastic genome or network is refused (ValueError: see the module's
        docstring)."""
        network = one_network(network)
        _feed_forward("Imitation", network)
        out = _values(network(self.demonstration.observations))
        if out.ndim == 3 and out.shape[0] == 1:
            out = out[0]
        if out.ndim != 2:
            raise ValueError(f"Imitation: a network's outputs must have shape "
                             f"{self.demonstration.actions.shape}; got {out.shape} (score a "
                             f"population with Imitation.evaluate)")
        return self.score(out)

    def evaluate(self, population_network):
        """Fitness ``(P,)`` of a population network ``(T, k) -> (P, T, a)`` (NEAT's
        PopulationNetwork, CNE's PopulationModel, a DevelopmentalPopulation with fixed
        weights); a recurrent or plastic one is refused."""
        _feed_forward("Imitation.evaluate", population_network)
        out = _values(population_network(self.demonstration.observations))
        if out.ndim != 3:
            raise ValueError(f"Imitation.evaluate: a population network's outputs must have "
                             f"shape (P, {self.demonstration.steps}, {self.n_outputs}); got "
                             f"{out.shape} (score one network with Imitation(network))")
        return self.score(out)
