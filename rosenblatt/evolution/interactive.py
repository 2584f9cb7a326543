"""Interactive evolution: a person is the fitness function, or shapes it (notes: "Neuroevolution").

A Picbreeder-style loop (Secretan et al. 2011) over CPPN genomes
(:func:`~.cppn.cppn_image` paints each one as an image): every generation
shows a gallery; the *chooser* (a person clicking in a web page, see
:mod:`.gallery`, or any callable, which is how tests drive it) picks the
parents of the next generation. The chosen images survive unchanged and the
rest of the gallery is filled with their mutated (one parent) or crossed and
mutated (two parents) children, with NEAT's operators, so images grow in
complexity as the person goes. Any step can be undone, and any image saved as
a PNG with its genome's JSON, from which a later session can start.

*Shaping*: a hook called between generations may change the session, e.g.
set an ``objective(image) -> float``; from then on each generation breeds a
larger brood and the gallery shows the children that score best on it, so
the person steers an automatic fitness instead of choosing every time.
"""

import copy
import os
import struct
import zlib

import numpy as np

from ..checks import boolean, positive_int, unit_interval
from ..randomness import resolve_rng
from .config import NEATConfig
from .core import Result
from .cppn import cppn_config, cppn_image
from .genome import Genome
from .neat import InnovationTracker, crossover, mutate, mutate_add_node

__all__ = ["Interactive", "encode_png", "write_png"]


def encode_png(image):
    """PNG bytes of an 8-bit image: ``(height, width)`` grey or ``(height, width, 3)`` RGB.

    Standard library only: zlib for the compressed data and each chunk's CRC.

    Examples
    --------
    >>> encode_png(np.zeros((2, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise TypeError(f"encode_png: image must be uint8; got {a.dtype}")
    if a.ndim == 2:
        color = 0
    elif a.ndim == 3 and a.shape[2] == 3:
        color = 2
    else:
        raise ValueError(f"encode_png: image must be (height, width) or (height, width, 3); "
                         f"got {a.shape}")
    h, w = a.shape[:2]
    if h == 0 or w == 0:  # the PNG format has no empty image (IHDR needs width, height >= 1)
        raise ValueError(f"encode_png: image must have at least one row and one column; got "
                         f"{a.shape}")
    rows = a.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def write_png(path, image):
    """Write :func:`encode_png` of ``image`` to ``path`` atomically."""
    from ..io.atomic import write_bytes_atomic

    write_bytes_atomic(path, encode_png(image))


def to_pixels(values):
    """CPPN outputs in ``[-1, 1]`` to uint8 pixels."""
    return np.round((np.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def _check_genome(where, g):
    if not isinstance(g, Genome):
        raise TypeError(f"{where}: expected a CPPN Genome (rb.evolution.Genome); got "
                        f"{type(g).__name__}")
    if g.n_inputs != 3 or g.n_outputs not in (1, 3):
        raise ValueError(f"{where}: genome {g.id} has {g.n_inputs} inputs and {g.n_outputs} "
                         f"outputs; an image CPPN has 3 inputs (x, y, d) and 1 (grey) or 3 "
                         f"(RGB) outputs")
    if g.recurrent:
        raise ValueError(f"{where}: genome {g.id} is recurrent; an image CPPN is feed-forward")
    return g


class Interactive:
    """Picbreeder-style interactive evolution of CPPN images.

    Parameters
    ----------
    chooser : callable, optional
        ``chooser(images) -> indices`` of the parents, given the gallery (a
        list of uint8 arrays); needed by :meth:`run` only (the web page calls
        :meth:`next` itself).
    population : int, default 12
        Images in the gallery.
    width, height : int, default 96
    color : bool, default False
        RGB images (3 CPPN outputs) instead of grey ones. With ``genomes``
        the genomes decide (RGB CPPNs make an RGB session); ``color=True``
        with grey genomes is refused.
    genomes : list of Genome, optional
        The first gallery (e.g. genomes saved by an earlier session); the
        rest is filled with their children. Each must be an image CPPN: 3
        inputs (x, y, d) and 1 or 3 outputs.
    config : NEATConfig, optional
        Mutation settings; default :func:`~.cppn.cppn_config`.
    crossover_rate : float, default 0.3
        Probability that a child of two or more chosen parents is a crossover.
    objective : callable, optional
        ``objective(image) -> float``; when set, each generation breeds
        ``brood`` children and shows those that score best.
    brood : int, default 4 * population
    shaping : callable, optional
        ``shaping(session)``, called after each choice and before breeding;
        it may change ``session.objective``, ``width``, ``height`` or
        ``config`` (the person reshaping the task between generations), which
        are then checked as the constructor checks them (the config by
        :meth:`NEATConfig.check <rosenblatt.evolution.NEATConfig.check>`).
    rng : numpy.random.Generator or int, optional

    Attributes
    ----------
    genomes : list of Genome
        The current gallery.
    generation : int
    history : list of list of int
        The parents chosen at each generation (undo removes the last).

    Examples
    --------
    >>> session = Interactive(chooser=lambda images: [0, 1], population=6, width=8,
    ...                       height=8, rng=0)
    >>> result = session.run(2)
    >>> session.generation, len(session.images()), session.images()[0].shape
    (2, 6, (8, 8))
    >>> _ = session.undo(); session.generation
    1
    """

    def __init__(self, chooser=None, population=12, width=96, height=96, color=False,
                 genomes=None, config=None, crossover_rate=0.3, objective=None, brood=None,
                 shaping=None, rng=None):
        owner = "Interactive"
        if chooser is not None and not callable(chooser):
            raise TypeError(f"{owner}: chooser must be callable; got {type(chooser).__name__}")
        for name, fn in (("objective", objective), ("shaping", shaping)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{owner}: {name} must be callable or None; got "
                                f"{type(fn).__name__}")
        self.chooser, self.objective, self.shaping = chooser, objective, shaping
        self.population = positive_int(owner, "population", population)
        if self.population < 2:
            raise ValueError(f"{owner}: population must be at least 2; got {population}")
        self.width = positive_int(owner, "width", width)
        self.height = positive_int(owner, "height", height)
        self.config = cppn_config() if config is None else config
        if not isinstance(self.config, NEATConfig):
            raise TypeError(f"{owner}: config must be a NEATConfig; got "
                            f"{type(self.config).__name__}")
        self.crossover_rate = unit_interval(owner, "crossover_rate", crossover_rate,
                                            closed_high=True)
        self.brood = positive_int(owner, "brood", 4 * self.population if brood is None
                                  else brood)
        self.rng = resolve_rng(rng)
        boolean(owner, "color", color)
        if genomes is not None:
            genomes = [_check_genome(owner, g) for g in genomes]
            if not genomes:
                raise ValueError(f"{owner}: genomes must not be empty")
            outs = {g.n_outputs for g in genomes}
            if len(outs) > 1:
                raise ValueError(f"{owner}: genomes mix grey and RGB CPPNs (outputs {outs})")
            rgb = outs.pop() == 3
            if color and not rgb:  # an explicit color=True the grey genomes cannot honour
                raise ValueError(f"{owner}: color=True but the genomes are grey CPPNs (1 "
                                 f"output); RGB images need CPPNs with 3 outputs (leave color "
                                 f"out to take it from the genomes)")
            color = rgb
        self.color = bool(color)
        n_out = 3 if self.color else 1
        top = max([3 + 1 + n_out] + [n.id + 1 for g in genomes or [] for n in g.nodes])
        innov = max([4 * n_out] + [c.innovation + 1 for g in genomes or []
                                   for c in g.connections])
        self.tracker = InnovationTracker(next_innovation=innov, next_node=top)
        self.next_id = max([0] + [g.id + 1 for g in genomes or []])
        if genomes is None:
            genomes = [self._first() for _ in range(self.population)]
        else:
            genomes = [g.with_genes(self._new_id()) for g in genomes]
            genomes = genomes[:self.population] + self._children(
                list(range(len(genomes[:self.population]))), genomes,
                self.population - len(genomes[:self.population]))
        self.genomes = genomes
        self.generation = 0
        self.history = []
        self._undo = []
        self._cache = {}

    # -- breeding ------------------------------------------------------------------------
    def _new_id(self):
        self.next_id += 1
        return self.next_id - 1

    def _first(self):
        """A random minimal CPPN with one hidden node, so the first images are not plain."""
        c = self.config
        n_out = 3 if self.color else 1
        w = self.rng.uniform(-c.weight_init_range, c.weight_init_range, 4 * n_out)
        g = Genome.minimal(self._new_id(), 3, n_out, w, activation=c.activation,
                           output_activation=c.output_activation)
        return mutate_add_node(g, self.tracker, c, self.rng, self._new_id())

    def _children(self, parents, genomes, n):
        """``n`` children of ``genomes[parents]``: mutated copies or crossovers."""
        c, rng = self.config, self.rng
        kids = []
        for _ in range(n):
            a = genomes[parents[int(rng.integers(len(parents)))]]
            if len(parents) > 1 and rng.random() < self.crossover_rate:
                others = [p for p in parents if genomes[p] is not a]
                b = genomes[others[int(rng.integers(len(others)))]]
                a = crossover(a, b, c, rng, self._new_id())
            kids.append(mutate(a, self.tracker, c, rng, self._new_id()))
        return kids

    # -- the gallery ---------------------------------------------------------------------
    def image(self, index):
        """The uint8 image of gallery entry ``index`` (cached)."""
        g = self.genomes[index]
        key = (g.id, self.width, self.height)
        if key not in self._cache:
            self._cache[key] = to_pixels(cppn_image(g, self.width, self.height))
        return self._cache[key]

    def images(self):
        """The gallery: one uint8 image per genome."""
        return [self.image(i) for i in range(len(self.genomes))]

    def png(self, index):
        """PNG bytes of gallery entry ``index``."""
        return encode_png(self.image(self._index(index)))

    def _index(self, index, where="Interactive"):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not (
                0 <= int(index) < len(self.genomes)):
            last = len(self.genomes) - 1
            raise ValueError(f"{where}: an image index must be an int in 0..{last}; got "
                             f"{index!r}")
        return int(index)

    # -- the loop ------------------------------------------------------------------------
    def next(self, parents):
        """Breed the next generation from the chosen gallery entries; returns the new gallery.

        The parents stay (in the order chosen), then come their children.
        When ``shaping`` or ``objective`` raises, or ``shaping`` leaves a
        value the constructor would refuse, the error propagates and
        the session is left as it was (gallery, generation, history, undo,
        objective, size and config).
        """
        if isinstance(parents, (int, np.integer)):
            parents = [parents]
        parents = [self._index(p, "Interactive.next") for p in list(parents)]
        if not parents:
            raise ValueError("Interactive.next: choose at least one parent")
        parents = list(dict.fromkeys(parents))
        snapshot = self._snapshot()
        try:
            if self.shaping is not None:
                self.shaping(self)
                self._check_shaped()
            self.tracker.new_generation()
            kept = [self.genomes[p] for p in parents][:self.population]
            n = self.population - len(kept)
            if self.objective is None:
                kids = self._children(parents, self.genomes, n)
            else:
                brood = self._children(parents, self.genomes, max(self.brood, n))
                score = np.array([float(self.objective(to_pixels(cppn_image(g, self.width,
                                                                            self.height))))
                                  for g in brood])
                kids = [brood[i] for i in np.argsort(-score, kind="stable")[:n]]
        except BaseException:
            self._restore(snapshot)
            raise
        # only a finished step is recorded (a failed one leaves nothing to undo)
        self._undo.append(snapshot)
        self.history.append(parents)
        self.genomes = kept + kids
        self.generation += 1
        return self.images()

    def _check_shaped(self):
        """What ``shaping`` may change, checked as the constructor checks it (a NEATConfig
        again, as ``NEAT.run``/``tell`` do: a value set in place is named, and a default
        ``activations`` follows a new ``activation``)."""
        owner = "Interactive (after shaping)"
        if not isinstance(self.config, NEATConfig):
            raise TypeError(f"{owner}: config must be a NEATConfig; got "
                            f"{type(self.config).__name__}")
        self.config.check()
        self.width = positive_int(owner, "width", self.width)
        self.height = positive_int(owner, "height", self.height)
        if self.objective is not None and not callable(self.objective):
            raise TypeError(f"{owner}: objective must be callable or None; got "
                            f"{type(self.objective).__name__}")

    def _snapshot(self):
        # the config object and a copy of its values: shaping may change it in place
        # (session.config.rate = ...) or hand the session another one
        return (self.genomes, self.generation, self.objective, self.width, self.height,
                self.config, copy.deepcopy(vars(self.config)))

    def _restore(self, snapshot):
        (self.genomes, self.generation, self.objective, self.width, self.height, config,
         values) = snapshot
        # the values go back into the caller's own NEATConfig (not a copy in its place), so
        # the session keeps following the object the caller goes on reshaping
        vars(config).clear()
        vars(config).update(values)
        self.config = config

    def undo(self):
        """Go back one generation (returns the restored gallery).

        What ``shaping`` changed for that generation (``objective``, ``width``,
        ``height``, ``config``) is restored too: the config's values are written
        back into the session's NEATConfig of that generation (the caller's own
        object, which later edits of it still reach), not swapped for a copy.
        """
        if not self._undo:
            raise ValueError("Interactive.undo: nothing to undo (still at the first gallery)")
        self._restore(self._undo.pop())
        self.history.pop()
        return self.images()

    @property
    def can_undo(self):
        return bool(self._undo)

    def save(self, index, directory):
        """Write gallery entry ``index`` as ``<stem>.png`` and ``<stem>.json`` (atomically).

        The stem is ``gen<generation>-genome<id>``. Returns the two paths.
        """
        index = self._index(index, "Interactive.save")
        g = self.genomes[index]
        os.makedirs(directory, exist_ok=True)
        stem = os.path.join(directory, f"gen{self.generation}-genome{g.id}")
        write_png(stem + ".png", self.image(index))
        g.save(stem + ".json")
        return stem + ".png", stem + ".json"

    @classmethod
    def load(cls, paths, **kwargs):
        """A session starting from saved genome JSON files (see :meth:`save`).

        ``paths`` is a list of paths, or one path (a str or ``os.PathLike``).
        """
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]  # one file, not the characters of its path
        return cls(genomes=[Genome.load(p) for p in paths], **kwargs)

    def run(self, generations):
        """Let ``chooser`` pick the parents for ``generations`` generations.

        Returns a :class:`~.core.Result` whose ``best`` is the first parent
        chosen last, ``evaluations`` the number of images shown and
        ``history["chosen"]`` the choices.
        """
        if self.chooser is None:
            raise ValueError("Interactive.run: needs a chooser (or drive next() yourself)")
        generations = positive_int("Interactive.run", "generations", generations)
        start = len(self.history)  # the choices of earlier runs and next() calls are not ours
        shown, best = 0, self.genomes[0]
        for _ in range(generations):
            images = self.images()
            shown += len(images)
            chosen = self.chooser(images)
            if isinstance(chosen, (int, np.integer)):
                chosen = [chosen]
            chosen = list(chosen)
            best = self.genomes[self._index(chosen[0], "Interactive.run")] if chosen else best
            self.next(chosen)
        return Result(best=best, best_fitness=float("nan"), generations=generations,
                      evaluations=shown,
                      history={"chosen": [list(c) for c in self.history[start:]]})
