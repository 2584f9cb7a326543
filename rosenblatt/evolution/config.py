"""NEATConfig: every parameter of NEAT, validated on construction and again by each
``NEAT.run``/``NEAT.tell`` (bad keys are named).

The defaults are the XOR settings of Stanley & Miikkulainen (2002, section
4.1): population 150, c1 = c2 = 1.0, c3 = 0.4, delta_t = 3.0, an 80% chance of
weight mutation (each weight 90% perturbed, 10% replaced), 3% add-node, 5%
add-connection, a 75% chance an inherited gene is disabled when either parent
disabled it (else it keeps its parent's flag: 87.5% off), 25% of offspring by
mutation alone, interspecies mating 0.001, stagnation after 15 generations,
species champions of species larger than five copied unchanged. Values the
paper leaves to the code (weight ranges, survival threshold) follow Stanley's
NEAT C++ release (1.2.1), and so do two details of breeding: crossover keeps
the chosen parent's enabled flag (``Genome::mate_multipoint``), and a child
that would be its parent by construction is mutated (a species with one
breeding member always breeds by mutation; a crossover of a genome with itself
or an identical one is always mutated; ``Species::reproduce``). Children can
still equal a parent by chance, as in the paper and NEAT C++: a mutation-only
child whose draws chose no structural mutation and missed the
``weight_mutation_rate`` draw, or a ``mate_only_rate`` crossover child whose
genes all came from one parent (about 12% of the non-elite offspring of the
XOR run). Over 100 XOR runs these two took the mean from 40.9 to
31-33 generations (the paper: 32); other NEAT C++ choices measured no better
and are not used (the log is in ``benchmarks/README.md``).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..checks import is_int
from . import activations as _act

__all__ = ["NEATConfig", "ConfigError"]


class ConfigError(ValueError):
    """A configuration with an unknown key or a value out of range."""


class _Derived(tuple):
    """``activations`` filled in from ``activation`` (the default, ``(activation,)``).

    A tuple like any other (equal to the plain one), marked so that a config derived from
    this one (``dataclasses.replace``, an edit followed by :meth:`NEATConfig.check`) fills it
    in again from its own ``activation`` instead of keeping the old one.
    """

    __slots__ = ()


def _is_real(value):
    """A Python or NumPy real number (not a bool)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


_RATES = ("weight_mutation_rate", "weight_perturb_rate", "add_node_rate",
          "add_connection_rate", "toggle_enable_rate", "disable_inherit_rate",
          "mutation_only_rate", "mate_only_rate", "mate_average_rate", "interspecies_rate",
          "survival_threshold",
          "activation_mutation_rate")


@dataclass
class NEATConfig:
    """NEAT's parameters (Stanley & Miikkulainen 2002); defaults are the paper's XOR run.

    Parameters
    ----------
    population : int, default 150
    excess_coefficient, disjoint_coefficient, weight_coefficient : float
        ``c1``, ``c2``, ``c3`` of the compatibility distance (1.0, 1.0, 0.4).
    compatibility_threshold : float, default 3.0
        ``delta_t``; its starting value when ``target_species`` is set.
    target_species : int or None
        When set, ``delta_t`` moves by ``threshold_step`` each generation
        towards this many species (the dynamic threshold of the NEAT users'
        page), never below ``threshold_min``.
    representative : {"random", "champion"}
        Each species' representative for the next generation's speciation: a
        random member (the paper) or its fittest (NEAT's C++ code).
    normalize_below : int, default 20
        ``N`` (genes of the larger genome) is taken as 1 when both genomes
        have fewer genes than this.
    weight_mutation_rate : 0.8
        Chance a genome's weights are mutated; then each weight is perturbed
        (``weight_perturb_rate`` = 0.9) by ``U(-p, p)`` with ``p =
        weight_mutation_power`` (2.5, NEAT C++'s value) or replaced by a draw
        from ``U(-p, p)``; weights stay within ``+-weight_max`` (8).
    weight_init_range : 1.0
        First-generation and new-connection weights are ``U(-r, r)``.
    add_node_rate, add_connection_rate : 0.03, 0.05
    split_old_below : int, default 15
        Add-node prefers older genes in genomes smaller than this (NEAT C++).
    toggle_enable_rate : float
        Chance of flipping one connection's enabled flag.
    disable_inherit_rate : 0.75
        Chance that a matching gene disabled in either parent is disabled in
        the child (which otherwise keeps the flag of the parent its gene came
        from, as NEAT C++ does).
    mutation_only_rate : 0.25
        Offspring made by mutating one parent, without crossover (all of them
        when only one member of the species may breed).
    mate_only_rate : 0.2
        Crossover offspring not mutated further.
    mate_average_rate : 0.4
        Crossovers that average matching weights instead of picking one
        (NEAT C++'s "multipoint average" mating).
    interspecies_rate : 0.001
    survival_threshold : 0.2
        Fraction of each species (its best) allowed to reproduce.
    stagnation : int, default 15
        Generations without improvement after which a species (not the one
        holding the best genome) no longer reproduces.
    population_stagnation : int, default 0 (off)
        Generations without improvement of the whole population's best fitness
        after which only the two best species reproduce, half the population
        each, by mutating their champions (NEAT C++'s "delta coding", there at
        ``dropoff_age + 5`` = 20). Off by default: on XOR at 20 it raised the
        mean over 100 runs from 40.9 to 45.1 generations.
    elitism_min_size : int, default 5
        Species with more members than this keep their champion unchanged.
    recurrent : bool
        Allow add-connection to close cycles; phenotypes are then recurrent.
    bias : float, default 1.0
        The bias node's activation in every genome (:attr:`Genome.bias
        <rosenblatt.evolution.genome.Genome.bias>`). Weights are initialised
        and mutated on one scale, so this sets how far the bias term moves per
        mutation against the inputs' terms.
    activation, output_activation : str
        The activations of new hidden nodes and of the output nodes
        (``steep_sigmoid`` = ``1 / (1 + exp(-4.9 x))``).
    activations : tuple of str, optional
        The set new hidden nodes draw from (CPPNs; ``activation_mutation_rate``
        then re-draws one node's function). Default ``(activation,)``, which
        follows ``activation`` in a config derived from this one
        (``dataclasses.replace``, :meth:`to_dict` and :meth:`from_dict`, or
        ``activation`` set and then :meth:`check`, which NEAT calls).

    Examples
    --------
    >>> NEATConfig(add_node_rate=0.05).population
    150
    >>> NEATConfig.from_dict({"populaton": 10})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rosenblatt.evolution.config.ConfigError: NEATConfig: unknown key 'populaton' (did you ...
    """

    population: int = 150
    excess_coefficient: float = 1.0
    disjoint_coefficient: float = 1.0
    weight_coefficient: float = 0.4
    compatibility_threshold: float = 3.0
    target_species: int = None
    threshold_step: float = 0.3
    threshold_min: float = 0.3
    normalize_below: int = 20
    representative: str = "random"
    weight_mutation_rate: float = 0.8
    weight_perturb_rate: float = 0.9
    weight_mutation_power: float = 2.5
    weight_init_range: float = 1.0
    weight_max: float = 8.0
    add_node_rate: float = 0.03
    add_connection_rate: float = 0.05
    add_connection_tries: int = 20
    split_old_below: int = 15
    toggle_enable_rate: float = 0.0
    disable_inherit_rate: float = 0.75
    mutation_only_rate: float = 0.25
    mate_only_rate: float = 0.2
    mate_average_rate: float = 0.4
    interspecies_rate: float = 0.001
    survival_threshold: float = 0.2
    stagnation: int = 15
    population_stagnation: int = 0
    elitism_min_size: int = 5
    recurrent: bool = False
    bias: float = 1.0
    activation: str = "steep_sigmoid"
    output_activation: str = "steep_sigmoid"
    activations: tuple = None
    activation_mutation_rate: float = 0.0

    def __post_init__(self):
        self.check()

    def check(self):
        """Raise ConfigError naming the first key out of range.

        Construction checks every key; :class:`~rosenblatt.evolution.NEAT`
        checks again at the start of each ``run`` and ``tell``, since a config
        is a plain dataclass whose fields may be set later (``Interactive``
        edits them in place).
        """
        def bad(key, what):
            raise ConfigError(f"NEATConfig: {key} must be {what}; got "
                              f"{getattr(self, key)!r}")

        # NumPy numbers (a sweep over np.arange, a value read from an array) are numbers too:
        # stored as Python ones, so that to_dict() stays JSON and TOML
        for key in _RATES:
            v = getattr(self, key)
            if not _is_real(v) or not 0 <= v <= 1:
                bad(key, "a probability in [0, 1]")
            setattr(self, key, float(v) if isinstance(v, np.floating) else int(v)
                    if isinstance(v, np.integer) else v)
        for key in ("population", "normalize_below", "add_connection_tries", "stagnation",
                    "split_old_below"):
            v = getattr(self, key)
            if not is_int(v) or v < 1:
                bad(key, "a positive integer")
            setattr(self, key, int(v))
        if self.population < 2:
            bad("population", "at least 2")
        for key in ("elitism_min_size", "population_stagnation"):
            v = getattr(self, key)
            if not is_int(v) or v < 0:
                bad(key, "a non-negative integer")
            setattr(self, key, int(v))
        if self.target_species is not None:
            if not is_int(self.target_species) or self.target_species < 1:
                bad("target_species", "None or a positive integer")
            self.target_species = int(self.target_species)
        for key in ("excess_coefficient", "disjoint_coefficient", "weight_coefficient",
                    "weight_init_range", "weight_mutation_power"):
            v = getattr(self, key)
            if not _is_real(v) or not (math.isfinite(v) and v >= 0):
                bad(key, "a finite number >= 0")
            setattr(self, key, float(v) if isinstance(v, (np.floating, np.integer)) else v)
        for key in ("compatibility_threshold", "threshold_step", "threshold_min", "weight_max"):
            v = getattr(self, key)
            if not _is_real(v) or not (math.isfinite(v) and v > 0):
                bad(key, "a finite number > 0")
            setattr(self, key, float(v) if isinstance(v, (np.floating, np.integer)) else v)
        if not _is_real(self.bias) or not math.isfinite(self.bias):
            bad("bias", "a finite number")
        if isinstance(self.bias, (np.floating, np.integer)):
            self.bias = float(self.bias)
        if self.representative not in ("random", "champion"):
            bad("representative", "'random' or 'champion'")
        if not isinstance(self.recurrent, bool):
            bad("recurrent", "True or False")
        for key in ("activation", "output_activation"):  # a list or table is no name
            v = getattr(self, key)
            if not isinstance(v, str) or v not in _act.ACTIVATIONS:
                bad(key, f"one of {', '.join(_act.NAMES)}")
        if self.activations is None or isinstance(self.activations, _Derived):
            # the default follows ``activation``, also in a config derived from this one
            self.activations = _Derived((self.activation,))
        acts = self.activations
        if isinstance(acts, str) or not isinstance(acts, (list, tuple)) or not acts or any(
                not isinstance(a, str) or a not in _act.ACTIVATIONS for a in acts):
            bad("activations", f"a non-empty list of names from {', '.join(_act.NAMES)}")
        if not isinstance(acts, tuple):
            self.activations = tuple(acts)
        if self.target_species is not None and self.threshold_min > self.compatibility_threshold:
            raise ConfigError(f"NEATConfig: threshold_min ({self.threshold_min!r}) must not "
                              f"exceed compatibility_threshold ({self.compatibility_threshold!r})"
                              f" when target_species is set (the dynamic threshold would jump "
                              f"up to threshold_min); lower threshold_min")

    # -- presets ---------------------------------------------------------------------------
    @classmethod
    def double_pole(cls, **overrides):
        """The settings of NEAT's double-pole balancing with velocities (DPV) runs.

        Stanley & Miikkulainen (2002, section 5) use the XOR settings for DPV
        (population 150, c1 = c2 = 1.0, c3 = 0.4, delta_t = 3.0, 3% add-node,
        5% add-connection, stagnation after 15 generations, feed-forward
        networks of steep sigmoids), which are this class's defaults. Two values
        differ, taken from NEAT C++ 1.2.1's experiment (``pole2_markov.ne`` and
        ``pole2_test``): ``mutate_link_weights_prob 0.9``, a 90% chance of weight
        mutation against XOR's 80% (seed by seed no different from 0.8 on 26
        paired seeds), and the bias sensor's value 0.5 (``bias``): over 96
        seeds the median fell from 4,234 to 2,929 evaluations, fewer on 67 of
        the 96 (``benchmarks/README.md``).

        Examples
        --------
        >>> NEATConfig.double_pole().weight_mutation_rate
        0.9
        >>> NEATConfig.double_pole().bias
        0.5
        >>> NEATConfig.double_pole(population=50).population
        50
        """
        return cls.from_dict({"weight_mutation_rate": 0.9, "bias": 0.5, **overrides},
                             where="NEATConfig.double_pole")

    # -- dict / TOML -----------------------------------------------------------------------
    @classmethod
    def keys(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, d, where="NEATConfig"):
        """Build from a mapping; an unknown key raises ConfigError naming it."""
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a table of settings; got {type(d).__name__}")
        known = cls.keys()
        for key in d:
            if key not in known:
                import difflib

                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{where}: unknown key {key!r}{hint}")
        return cls(**d)

    @classmethod
    def from_toml(cls, path, table=None):
        """Read from a TOML file (optionally from one ``[table]`` of it)."""
        try:  # Python >= 3.11
            import tomllib
        except ModuleNotFoundError:  # Python 3.10: tomli, which the `all` extra installs
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                raise ConfigError("NEATConfig.from_toml: Python 3.10 reads TOML with tomli: "
                                  "pip install tomli (or 'rosenblatt[all]')") from None

        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path}: not valid TOML ({e})") from None
            except UnicodeDecodeError as e:  # TOML is UTF-8 text; tomllib decodes it first
                raise ConfigError(f"{path}: not valid TOML (not UTF-8 text: {e})") from None
        if table is not None:
            if table not in data:  # a misspelt table must not quietly give the defaults
                tables = [k for k, v in data.items() if isinstance(v, dict)]
                raise ConfigError(f"{path}: no table [{table}]; the file's tables: "
                                  f"{', '.join(f'[{t}]' for t in tables) or 'none'}")
            data = data[table]
        else:
            # a file laid out as `rosenblatt evolve` reads it keeps the settings in [neat]
            known = cls.keys()
            tables = [k for k, v in data.items() if isinstance(v, dict) and k not in known]
            if tables:
                raise ConfigError(f"{path}: [{tables[0]}] is a table, not a NEATConfig key; "
                                  f"read its settings with NEATConfig.from_toml(path, "
                                  f"table={tables[0]!r})")
        return cls.from_dict(data, where=f"{path}")

    def to_dict(self):
        """The settings as a dict of plain values (what :meth:`from_dict` reads back).

        ``activations`` is left out while it is its default ``(activation,)``, so that
        the dict with another ``activation`` gives hidden nodes that one.
        """
        d = dataclasses.asdict(self)
        if isinstance(self.activations, _Derived):
            del d["activations"]
        else:
            d["activations"] = list(self.activations)
        return d
