"""An adapter for any Gymnasium environment (optional dependency: ``pip install gymnasium``).

Gymnasium environments step one episode at a time, so :class:`GymTask` scores
one network per call (use it as a per-genome ``fitness``, in parallel through
``executor=`` if it is slow); the total reward of ``episodes`` episodes,
averaged, is the fitness.
"""

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
        every network: comparable fitness).
    kwargs : dict
        Passed to ``gymnasium.make``.

    Raises
    ------
    ImportError
        Without gymnasium.
    ValueError
        An action space other than ``Discrete`` or ``Box`` (``MultiDiscrete``,
        ``MultiBinary``, ``Dict``, ...).

    Notes
    -----
    Discrete action spaces take ``start`` plus the argmax of the network's
    outputs (or, with one output, ``start + (output > 0.5)`` for two
    actions); Box spaces take the outputs clipped to the bounds. Network
    inputs are the flattened observation.
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
        self.seed = int(seed)
        self.kwargs = kwargs
        self.env = gymnasium.make(env_id, **kwargs)
        space = self.env.observation_space
        self.n_inputs = int(np.prod(space.shape))
        act = self.env.action_space
        spaces = gymnasium.spaces
        if not isinstance(act, (spaces.Discrete, spaces.Box)):
            raise ValueError(f"GymTask: {env_id!r} has a {type(act).__name__} action space; "
                             f"supported: Discrete, Box (wrap the environment to map one of "
                             f"those onto it)")
        self.discrete = isinstance(act, spaces.Discrete)
        self.n_outputs = int(act.n) if self.discrete else int(np.prod(act.shape))
        # Discrete(n, start) holds the actions start, ..., start + n - 1
        self.start = int(getattr(act, "start", 0)) if self.discrete else 0

    def action(self, out):
        out = np.asarray(out, dtype=np.float64).ravel()
        if self.discrete:
            if out.size == 1 and self.n_outputs == 2:
                return self.start + int(out[0] > 0.5)
            return self.start + int(np.argmax(out))
        space = self.env.action_space
        return np.clip(out, space.low, space.high).reshape(space.shape)

    def __call__(self, network):
        """Mean return of ``network`` (a callable ``(1, n_inputs) -> (1, n_outputs)``, or a
        genome, whose phenotype is used)."""
        if hasattr(network, "network") and not callable(getattr(network, "step", None)):
            network = network.network()
        total = 0.0
        for k in range(self.episodes):
            obs, _ = self.env.reset(seed=self.seed + k)
            if hasattr(network, "reset"):
                network.reset()
            t, done = 0, False
            while not done:
                x = np.asarray(obs, dtype=np.float64).reshape(1, -1)
                out = network.step(x) if hasattr(network, "step") else network(x)
                obs, reward, terminated, truncated, _ = self.env.step(self.action(out))
                total += float(reward)
                t += 1
                done = terminated or truncated or (self.max_steps is not None
                                                   and t >= self.max_steps)
        return total / self.episodes
