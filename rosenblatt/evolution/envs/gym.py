"""An adapter for any Gymnasium environment (optional dependency: ``pip install gymnasium``).

Gymnasium environments step one episode at a time, so :class:`GymTask` scores
one network per call (use it as a per-genome ``fitness``, in parallel through
``executor=`` if it is slow); the total reward of ``episodes`` episodes,
averaged, is the fitness. Each thread steps an environment of its own (made
on first use), and a pickled task carries none, so a thread or a process pool
scores every network as a serial loop does.
"""

import threading

import numpy as np

from ...checks import positive_int

__all__ = ["GymTask"]


class GymTask:
    """Fitness of a network on a Gymnasium environment: mean episode return.

    Parameters
    ----------
    env_id : str
        A registered Gymnasium id (``"CartPole-v1"``, ...).
    episodes : int, default 1
    max_steps : int, optional
        Cut episodes at this many steps.
    seed : int, default 0
        Episode ``k`` is reset with seed ``seed + k`` (the same episodes for
        every network: comparable fitness); a non-negative integer, as
        Gymnasium's ``reset(seed=)`` takes.
    kwargs : dict
        Passed to ``gymnasium.make``.

    Raises
    ------
    ImportError
        Without gymnasium.
    ValueError
        A ``seed`` that is not a non-negative integer; an action space other
        than ``Discrete`` or ``Box`` (``MultiDiscrete``, ``MultiBinary``,
        ``Dict``, ...), or an observation space that
        ``gymnasium.spaces.flatten`` cannot flatten (``Graph``, ``Sequence``); and,
        when scoring, a network whose output width is not ``n_outputs`` (one output
        is also accepted for ``Discrete(2)``).

    Notes
    -----
    Discrete action spaces take ``start`` plus the argmax of the network's
    outputs (or, with one output, ``start + (output > 0.5)`` for two
    actions); Box spaces take the outputs clipped to the bounds. Network
    inputs are the observation flattened by ``gymnasium.spaces.flatten``
    (a Box's values; a Discrete one one-hot; a Tuple's or Dict's parts, each
    so, concatenated), ``n_inputs = gymnasium.spaces.flatdim(space)`` of them.

    :attr:`env` is the calling thread's environment: a thread pool's workers
    each step their own, and a worker process builds its own from
    ``env_id`` and ``kwargs``.
    """

    def __init__(self, env_id, episodes=1, max_steps=None, seed=0, **kwargs):
        try:
            import gymnasium
        except ImportError:
            raise ImportError("GymTask needs gymnasium: pip install gymnasium") from None
        self.env_id = env_id
        self.episodes = positive_int("GymTask", "episodes", episodes)
        self.max_steps = None if max_steps is None else positive_int("GymTask", "max_steps",
                                                                      max_steps)
        # int() would take 1.7 as 1 and '3' as 3, and fail on None without naming seed
        self.seed = positive_int("GymTask", "seed", seed, allow_zero=True)
        self.kwargs = kwargs
        self._local = threading.local()
        env = self._local.env = gymnasium.make(env_id, **kwargs)
        space = self.observation_space = env.observation_space
        spaces = gymnasium.spaces
        if isinstance(space, spaces.Box):
            self._flatten = None  # a Box is read as before: its values, raveled
            self.n_inputs = int(np.prod(space.shape))
        else:
            try:
                self.n_inputs = int(spaces.flatdim(space))
            except (ValueError, TypeError, NotImplementedError):
                raise ValueError(f"GymTask: {env_id!r} has a {type(space).__name__} observation "
                                 f"space, which gymnasium.spaces.flatten cannot flatten into "
                                 f"network inputs; supported: Box, Discrete, MultiDiscrete, "
                                 f"MultiBinary, and Tuple or Dict of those (wrap the "
                                 f"environment to map one of those onto it)") from None
            self._flatten = spaces.flatten
        act = self.action_space = env.action_space
        if not isinstance(act, (spaces.Discrete, spaces.Box)):
            raise ValueError(f"GymTask: {env_id!r} has a {type(act).__name__} action space; "
                             f"supported: Discrete, Box (wrap the environment to map one of "
                             f"those onto it)")
        self.discrete = isinstance(act, spaces.Discrete)
        self.n_outputs = int(act.n) if self.discrete else int(np.prod(act.shape))
        # Discrete(n, start) holds the actions start, ..., start + n - 1
        self.start = int(getattr(act, "start", 0)) if self.discrete else 0

    @property
    def env(self):
        """This thread's environment (made from ``env_id`` and ``kwargs`` on first use)."""
        env = getattr(self._local, "env", None)
        if env is None:
            import gymnasium

            env = self._local.env = gymnasium.make(self.env_id, **self.kwargs)
        return env

    def __getstate__(self):
        # no environment travels to a worker process (it builds its own), nor the
        # thread-local holder, which cannot be pickled
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def observation(self, obs):
        """``obs`` as the network's input row ``(1, n_inputs)``."""
        if self._flatten is not None:
            obs = self._flatten(self.observation_space, obs)
        return np.asarray(obs, dtype=np.float64).reshape(1, -1)

    def action(self, out):
        """The environment's action for one network output ``out`` (``n_outputs`` values;
        for ``Discrete(2)`` also one); another width is a ValueError (an argmax over fewer
        outputs would silently never take the last actions)."""
        out = np.asarray(out, dtype=np.float64).ravel()
        if out.size != self.n_outputs and not (self.discrete and self.n_outputs == 2
                                               and out.size == 1):
            one = " (or 1, read as output > 0.5)" if self.discrete and self.n_outputs == 2 \
                else ""
            raise ValueError(f"GymTask: {self.env_id!r} has a {type(self.action_space).__name__}"
                             f" action space, which takes {self.n_outputs} network "
                             f"outputs{one}; the network gave {out.size}")
        if self.discrete:
            if out.size == 1:
                return self.start + int(out[0] > 0.5)
            return self.start + int(np.argmax(out))
        space = self.action_space
        return np.clip(out, space.low, space.high).reshape(space.shape)

    def __call__(self, network):
        """Mean return of ``network`` (a callable ``(1, n_inputs) -> (1, n_outputs)``, or a
        genome, whose phenotype is used); NaN once the network outputs NaN (as XOR's
        fitness: the algorithms' ``on_error`` decides what that does)."""
        if hasattr(network, "network") and not callable(getattr(network, "step", None)):
            network = network.network()
        env = self.env  # this thread's: episodes on threads of a pool do not interleave
        total = 0.0
        for k in range(self.episodes):
            obs, _ = env.reset(seed=self.seed + k)
            if hasattr(network, "reset"):
                network.reset()
            t, done = 0, False
            while not done:
                x = self.observation(obs)
                out = np.asarray(network.step(x) if hasattr(network, "step") else network(x),
                                 dtype=np.float64)
                if np.isnan(out).any():  # argmax would take the first NaN's action silently
                    return float("nan")
                obs, reward, terminated, truncated, _ = env.step(self.action(out))
                total += float(reward)
                t += 1
                done = terminated or truncated or (self.max_steps is not None
                                                   and t >= self.max_steps)
        return total / self.episodes
