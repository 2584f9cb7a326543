"""Search spaces: hyper-parameters and their ranges (notes: "Choosing hyperparameters").

The notes ask "is 200 hidden units 'similar' to 300 hidden units or not?". A
space answers half of that question before any trial is run: each
hyper-parameter is *warped* to the unit interval on the scale where equal
steps mean equal changes, and the Gaussian process learns the other half (a
length scale per column, :mod:`rosenblatt.tuning.gaussian_process`).

=====================  ====================================================
distribution           columns of the unit cube
=====================  ====================================================
``Uniform(a, b)``      one: ``u = (x - a) / (b - a)``
``LogUniform(a, b)``   one: ``u = (ln x - ln a) / (ln b - ln a)`` (``a > 0``)
``Int(a, b, log=)``    one: the integers' cells ``[a - 1/2, b + 1/2]`` mapped
                       linearly (or logarithmically) onto ``[0, 1]``; decoding
                       rounds, so every integer owns a cell
``Choice(values)``     one per value (one-hot); decoding takes the largest
=====================  ====================================================

A parameter may exist only when another one takes given values (a
*conditional* parameter): ``Uniform(0, 0.99, when={"optimizer": "sgd"})``.
An inactive parameter is absent from the trial's ``params`` and its columns
hold a constant (``0.5``, or zeros for a choice), so the Gaussian process sees
all inactive points as one.
"""

import collections.abc
import math

import numpy as np

from ..checks import is_int, positive_int
from ..randomness import resolve_rng

_SCALARS = (str, int, float, bool, type(None))
_DICT_KEYS = type({}.keys())
_MAX_INT = 2**53  # integers beyond this are not exact in float64, where the cube lives


def _plain(value):
    """A NumPy scalar as the plain Python value the JSON study holds (others as they are)."""
    return value.item() if isinstance(value, np.generic) else value


def _number(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{owner}: {name} must be a number; got {type(value).__name__} "
                        f"{value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite; got {value!r}")
    return value


def _check_when(owner, when):
    if when is None:
        return None
    if not isinstance(when, dict) or not when:
        raise TypeError(f"{owner}: when must be a dict {{parent name: value or list of values}}; "
                        f"got {when!r}")
    out = {}
    for parent, values in when.items():
        if not isinstance(parent, str):
            raise TypeError(f"{owner}: when's keys must be parameter names; got {parent!r}")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        values = [_plain(v) for v in values]  # JSON, as the study stores them
        if not values:
            raise ValueError(f"{owner}: when[{parent!r}] lists no values")
        out[parent] = values
    return out


class Distribution:
    """Base of the distributions: columns, sampling, warping, grid and a JSON config."""

    columns = 1
    kind = ""

    def _describe(self):
        return f"{type(self).__name__}"

    def config(self):
        raise NotImplementedError

    def __repr__(self):
        cond = f", when={self.when!r}" if self.when else ""
        return f"{self._describe()[:-1]}{cond})"

    def __eq__(self, other):
        return type(self) is type(other) and self.config() == other.config()

    def __hash__(self):
        return hash(repr(self))


class _Numeric(Distribution):
    """Shared by Uniform, LogUniform and Int: one column, a (possibly log) linear warp."""

    log = False

    def _warp_bounds(self):
        return self.low, self.high

    def to_unit(self, values):
        a, b = self._warp_bounds()
        x = np.asarray(values, dtype=np.float64)
        if self.log:
            return (np.log(x) - math.log(a)) / (math.log(b) - math.log(a))
        return (x - a) / (b - a)

    def _from_unit_raw(self, u):
        a, b = self._warp_bounds()
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        if self.log:
            x = np.exp(math.log(a) + u * (math.log(b) - math.log(a)))
        else:
            x = a + u * (b - a)
        # the ends of the cube are the bounds exactly: exp(log(1e-4)) is 1.0000000000000009e-4,
        # which a grid, a search polished onto the box's edge and the study would report
        return np.where(u <= 0.0, a, np.where(u >= 1.0, b, x))


class Uniform(_Numeric):
    """A real hyper-parameter, uniform on ``[low, high]``.

    Examples
    --------
    >>> d = Uniform(0.0, 0.6)
    >>> float(d.to_unit(0.3)), float(d.from_unit(0.5))
    (0.5, 0.3)
    """

    kind = "uniform"

    def __init__(self, low, high, when=None):
        owner = type(self).__name__
        self.low, self.high = _number(owner, "low", low), _number(owner, "high", high)
        if not self.low < self.high:
            raise ValueError(f"{owner}: the range [{low!r}, {high!r}] is empty or inverted; "
                             "need low < high")
        if not math.isfinite(self.high - self.low):
            raise ValueError(f"{owner}: high - low must be finite (the range is warped to "
                             f"[0, 1]); got [{low!r}, {high!r}], narrow it")
        self.when = _check_when(owner, when)

    def _describe(self):
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"

    def from_unit(self, u):
        x = self._from_unit_raw(u)
        return np.clip(x, self.low, self.high)

    def grid(self, k):
        if k == 1:
            return [float(self.from_unit(0.5))]
        return [float(v) for v in self.from_unit(np.linspace(0.0, 1.0, k))]

    def contains(self, value):
        return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
            and self.low <= value <= self.high

    def canonical(self, value):
        return float(value)

    def config(self):
        cfg = {"type": self.kind, "low": self.low, "high": self.high}
        return cfg | ({"when": self.when} if self.when else {})


class LogUniform(Uniform):
    """A positive real hyper-parameter, uniform in ``log`` on ``[low, high]`` (learning rates).

    Examples
    --------
    >>> d = LogUniform(1e-4, 1e-1)
    >>> round(float(d.from_unit(1 / 3)), 12)
    0.001
    """

    kind = "loguniform"
    log = True

    def __init__(self, low, high, when=None):
        super().__init__(low, high, when)
        if self.low <= 0:
            raise ValueError(f"LogUniform: a log range must be positive; got low={low!r} "
                             "(the log of 0 is -inf: use a small positive low such as 1e-8)")


class Int(_Numeric):
    """An integer hyper-parameter in ``[low, high]`` (both included), optionally on a log scale.

    Each integer owns the cell ``[i - 1/2, i + 1/2]`` of the warped line, so
    decoding rounds and uniform sampling gives every integer its share
    (equal shares, or shares proportional to its log-width with ``log=True``).
    ``low`` and ``high`` lie within ``+-2**53`` (the integers float64 holds exactly).

    Examples
    --------
    >>> d = Int(16, 512, log=True)
    >>> int(d.from_unit(0.0)), int(d.from_unit(1.0)), d.grid(3)
    (16, 512, [16, 91, 512])
    """

    kind = "int"

    def __init__(self, low, high, log=False, when=None):
        if not (is_int(low) and is_int(high)):
            raise TypeError(f"Int: low and high must be integers; got {low!r}, {high!r}")
        if not isinstance(log, (bool, np.bool_)):  # "failed" or 1e308 would be truthy
            raise TypeError(f"Int: log must be True or False; got {log!r:.40}")
        self.low, self.high, self.log = int(low), int(high), bool(log)
        if max(abs(self.low), abs(self.high)) > _MAX_INT:
            raise ValueError(f"Int: low and high must be within +-2**53 (exact in float64); "
                             f"got [{low}, {high}]")
        if not self.low <= self.high:
            raise ValueError(f"Int: the range [{low}, {high}] is inverted; need low <= high")
        if self.log and self.low < 1:
            raise ValueError(f"Int: a log range must be >= 1; got low={low} (log=True cannot "
                             "reach 0 or negative integers)")
        self.when = _check_when("Int", when)

    def _describe(self):
        log = ", log=True" if self.log else ""
        return f"Int({self.low}, {self.high}{log})"

    def _warp_bounds(self):
        return self.low - 0.5, self.high + 0.5

    def from_unit(self, u):
        return np.clip(np.rint(self._from_unit_raw(u)), self.low, self.high).astype(np.int64)

    def grid(self, k):
        if k == 1:
            return [int(self.from_unit(0.5))]
        if self.high - self.low + 1 <= k:  # log or not: every integer of the range
            return list(range(self.low, self.high + 1))
        # k points from the first to the last integer, spaced on the warped scale
        if self.log:
            pts = np.exp(np.linspace(math.log(self.low), math.log(self.high), k))
        else:
            pts = np.linspace(self.low, self.high, k)
        return sorted({int(v) for v in np.rint(pts)})

    def contains(self, value):
        return is_int(value) and self.low <= value <= self.high

    def canonical(self, value):
        return int(value)

    def config(self):
        cfg = {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}
        return cfg | ({"when": self.when} if self.when else {})


class Choice(Distribution):
    """A categorical hyper-parameter: one of ``values`` (strings, numbers, booleans, None).

    Warped one-hot (one column per value), so no order is imposed on the values.
    NumPy scalars (``Choice(np.linspace(0, 0.5, 6))``) are kept as the plain
    Python values a study's JSON holds. ``values`` is ordered (a list, a tuple, an
    array): the order numbers the columns, so it decides what a seed samples; a
    set is refused (its order changes from one process to the next).

    Examples
    --------
    >>> d = Choice(["relu", "tanh"])
    >>> d.to_unit(["tanh"]).tolist(), d.from_unit([[0.2, 0.7]])
    ([[0.0, 1.0]], ['tanh'])
    """

    kind = "choice"

    def __init__(self, values, when=None):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"Choice: values must be a list; got {values!r}")
        if isinstance(values, collections.abc.Set) and not isinstance(values, _DICT_KEYS):
            # a set of strings is listed in hash order, which differs per process
            # (PYTHONHASHSEED): the same seed would draw other values in each worker
            # (a dict's keys keep their insertion order)
            raise TypeError(f"Choice: values must be a list (an ordered sequence); got "
                            f"{type(values).__name__} {values!r:.80}, whose order changes from "
                            f"one process to the next; pass a list in the order you want")
        values = [_plain(v) for v in values]  # NumPy scalars as the JSON study holds them
        if not values:
            raise ValueError("Choice: values is empty; give at least one value")
        for v in values:
            if not isinstance(v, _SCALARS) or isinstance(v, float) and not math.isfinite(v):
                raise TypeError(f"Choice: each value must be a string, number, bool or None "
                                f"(JSON scalars); got {type(v).__name__} {v!r}")
        if len({(type(v), v) for v in values}) != len(values):
            raise ValueError(f"Choice: values has duplicates: {values!r}")
        self.values = values
        self.columns = len(values)
        self.when = _check_when("Choice", when)

    def _describe(self):
        return f"Choice({self.values!r})"

    def index(self, value):
        value = _plain(value)
        for i, v in enumerate(self.values):
            if type(v) is type(value) and v == value:
                return i
        raise ValueError(f"Choice: {value!r} is not one of {self.values!r}")

    def to_unit(self, values):
        idx = [self.index(v) for v in values]
        out = np.zeros((len(idx), self.columns))
        out[np.arange(len(idx)), idx] = 1.0
        return out

    def from_unit(self, u):
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        return [self.values[i] for i in np.argmax(u, axis=1)]

    def grid(self, k):
        return list(self.values)

    def contains(self, value):
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def canonical(self, value):
        return self.values[self.index(value)]

    def config(self):
        cfg = {"type": self.kind, "values": list(self.values)}
        return cfg | ({"when": self.when} if self.when else {})


_KINDS = {"uniform": Uniform, "loguniform": LogUniform, "int": Int, "choice": Choice}


def distribution_from_config(name, cfg):
    """A distribution from ``{"type": ..., ...}`` (the JSON/TOML form); errors name ``name``."""
    if not isinstance(cfg, dict):
        raise TypeError(f"Space: parameter {name!r} must be a table with a 'type'; got {cfg!r}")
    kind = cfg.get("type")
    if kind not in _KINDS:
        raise ValueError(f"Space: parameter {name!r}: type must be one of "
                         f"{', '.join(map(repr, _KINDS))}; got {kind!r}")
    allowed = {"uniform": ("low", "high"), "loguniform": ("low", "high"),
               "int": ("low", "high", "log"), "choice": ("values",)}[kind] + ("type", "when")
    for key in cfg:
        if key not in allowed:
            raise ValueError(f"Space: parameter {name!r}: key {key!r} is not recognised for "
                             f"type {kind!r}; expected one of: {', '.join(allowed)}")
    args = {k: v for k, v in cfg.items() if k != "type"}
    try:
        return _KINDS[kind](**args)
    except TypeError as e:
        if "required positional argument" in str(e) or "unexpected keyword" in str(e):
            need = ", ".join(a for a in allowed if a not in ("type", "when", "log"))
            raise ValueError(f"Space: parameter {name!r} of type {kind!r} needs {need}; "
                             f"got {sorted(args)}") from None
        raise TypeError(f"Space: parameter {name!r}: {e}") from None
    except ValueError as e:  # a bad bound: which of the space's parameters has it
        raise ValueError(f"Space: parameter {name!r}: {e}") from None


def _grid_key(value):
    """What tells two grid values apart: 1, 1.0 and True are three values."""
    return type(value).__name__, value


def _sum_product(factors, variables, size):
    """The sum, over every assignment of ``variables`` (``size[v]`` values each), of the
    product of ``factors``: ``(scope, table)`` pairs, each table an object array of Python
    ints with an axis per variable of its scope (exact, however large the count).

    Variable elimination: each step sums out the variable whose factors' joint table is the
    smallest, so the work grows with the most variables summed together, not with all.
    """
    factors = list(factors)
    remaining = list(variables)

    def joint_scope(v):
        return list(dict.fromkeys(u for scope, _ in factors if v in scope for u in scope))

    while remaining:
        v = min(remaining, key=lambda u: math.prod(size[w] for w in joint_scope(u)))
        remaining.remove(v)
        scope = joint_scope(v)
        product = np.ones([size[u] for u in scope], dtype=object)
        for own, table in [f for f in factors if v in f[0]]:
            axes = np.transpose(np.asarray(table, dtype=object), [own.index(u) for u in scope
                                                                  if u in own])
            product = product * axes.reshape([size[u] if u in own else 1 for u in scope])
        factors = [f for f in factors if v not in f[0]]
        factors.append((tuple(u for u in scope if u != v),
                        np.asarray(product.sum(axis=scope.index(v)), dtype=object)))
    return math.prod(np.asarray(table, dtype=object).item() for _, table in factors)


class Space:
    """The hyper-parameters of a search: names -> distributions, warped to a unit cube.

    Parameters
    ----------
    params : dict
        ``{name: Uniform | LogUniform | Int | Choice}`` (or their config dicts,
        ``{"type": "loguniform", "low": 1e-4, "high": 0.1}``). A parameter
        with ``when={"parent": value or [values]}`` exists only when its
        parent takes one of those values; the parent must be in the space.

    Attributes
    ----------
    names : list of str
    dim : int
        Columns of the unit cube (one per numeric parameter, one per choice value).

    Examples
    --------
    >>> import numpy as np
    >>> space = Space({"lr": LogUniform(1e-4, 1e-1), "hidden": Int(16, 512, log=True),
    ...                "activation": Choice(["relu", "tanh"])})
    >>> space.dim
    4
    >>> p = space.sample(1, np.random.default_rng(0))[0]
    >>> space.from_unit(space.to_unit([p]))[0] == p
    True
    """

    def __init__(self, params):
        if isinstance(params, Space):
            params = params.params
        if not isinstance(params, dict) or not params:
            raise ValueError(f"Space: params must be a non-empty dict {{name: distribution}}; "
                             f"got {params!r}")
        self.params = {}
        for name, dist in params.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"Space: parameter names must be non-empty strings; got {name!r}")
            if isinstance(dist, dict):
                dist = distribution_from_config(name, dist)
            if not isinstance(dist, Distribution):
                raise TypeError(f"Space: parameter {name!r} must be Uniform, LogUniform, Int or "
                                f"Choice; got {type(dist).__name__}")
            self.params[name] = dist
        self.names = list(self.params)
        self._order = self._topological_order()
        self.slices = {}
        start = 0
        for name in self.names:
            self.slices[name] = slice(start, start + self.params[name].columns)
            start += self.params[name].columns
        self.dim = start

    def _topological_order(self):
        # each condition in its parent's canonical form (an int 1 for a real parent is 1.0,
        # a NumPy scalar the plain value): what sampling and checking both compare with
        self._when = {}
        for name, dist in self.params.items():
            self._when[name] = {}
            for parent, values in (dist.when or {}).items():
                if parent not in self.params:
                    raise ValueError(f"Space: parameter {name!r} depends on {parent!r}, which is "
                                     f"not in the space (names: {', '.join(self.names)})")
                if parent == name:
                    raise ValueError(f"Space: parameter {name!r} depends on itself")
                for v in values:
                    if not self.params[parent].contains(v):
                        raise ValueError(f"Space: parameter {name!r} depends on {parent}={v!r}, "
                                         f"which {parent!r} ({self.params[parent]!r}) never takes")
                self._when[name][parent] = [self.params[parent].canonical(v) for v in values]
        order, placed = [], set()
        while len(order) < len(self.names):
            ready = [n for n in self.names if n not in placed
                     and all(p in placed for p in (self.params[n].when or {}))]
            if not ready:
                raise ValueError("Space: the 'when' conditions form a cycle among "
                                 f"{[n for n in self.names if n not in placed]}")
            order += ready
            placed.update(ready)
        return order

    def __len__(self):
        return len(self.names)

    def __repr__(self):
        return f"Space({self.params!r})"

    def __eq__(self, other):
        return isinstance(other, Space) and self.config() == other.config()

    __hash__ = None

    def config(self):
        """The JSON form ``{name: {"type": ..., ...}}`` (``Space(config)`` rebuilds it)."""
        return {name: dist.config() for name, dist in self.params.items()}

    def is_active(self, name, params):
        """Whether ``name`` exists given the (already decided) values of its parents."""
        return all(parent in params and self._meets(name, parent, params[parent])
                   for parent in self._when[name])

    def _meets(self, name, parent, value):
        """Whether ``parent`` taking ``value`` meets ``name``'s condition on it."""
        pdist = self.params[parent]
        if pdist.contains(value):
            value = pdist.canonical(value)
        return any(type(v) is type(value) and v == value for v in self._when[name][parent])

    # -- warping -----------------------------------------------------------------------------
    def to_unit(self, params_list):
        """Rows of the unit cube, shape ``(n, dim)``, for a list of params dicts."""
        params_list = [self.check(p) for p in params_list]
        out = np.empty((len(params_list), self.dim))
        for name in self.names:
            dist, cols = self.params[name], self.slices[name]
            active = np.array([name in p for p in params_list], dtype=bool)
            out[:, cols] = 0.0 if dist.kind == "choice" else 0.5
            if active.any():
                values = [p[name] for p, a in zip(params_list, active) if a]
                warped = dist.to_unit(values)
                out[active, cols] = warped if dist.kind == "choice" else warped[:, None]
        return out

    def _decode(self, U):
        """Decoded values per parameter (arrays) and each parameter's active mask, vectorised."""
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        if U.shape[1] != self.dim:
            raise ValueError(f"Space: expected rows of {self.dim} columns; got shape {U.shape}")
        values, active = {}, {}
        for name in self._order:  # parents before children
            dist, cols = self.params[name], self.slices[name]
            if dist.kind == "choice":
                values[name] = np.argmax(U[:, cols], axis=1)  # an index into dist.values
            else:
                values[name] = dist.from_unit(U[:, cols.start])
            mask = np.ones(len(U), dtype=bool)
            for parent, wanted in self._when[name].items():
                pdist = self.params[parent]
                if pdist.kind == "choice":
                    hit = np.isin(values[parent], [pdist.index(v) for v in wanted])
                else:
                    hit = np.isin(values[parent], wanted)
                mask &= active[parent] & hit
            active[name] = mask
        return U, values, active

    def from_unit(self, U):
        """Params dicts for rows of the cube (clipped, rounded, argmax'ed; inactive dropped)."""
        U, values, active = self._decode(U)
        columns = {}
        for name in self.names:
            dist = self.params[name]
            if dist.kind == "choice":
                columns[name] = [dist.values[i] for i in values[name]]
            else:
                columns[name] = [dist.canonical(v) for v in values[name].tolist()]
        return [{name: columns[name][i] for name in self.names if active[name][i]}
                for i in range(len(U))]

    def project(self, U):
        """Snap rows of the cube to the points that decoding them gives (rounded, one-hot).

        The same as ``to_unit(from_unit(U))``, without building a dict per row.
        """
        U, values, active = self._decode(U)
        out = np.empty_like(U)
        for name in self.names:
            dist, cols = self.params[name], self.slices[name]
            on = active[name]
            if dist.kind == "choice":
                block = np.zeros((len(U), dist.columns))
                block[np.arange(len(U)), values[name]] = 1.0
                block[~on] = 0.0
                out[:, cols] = block
            else:
                out[:, cols.start] = np.where(on, dist.to_unit(values[name]), 0.5)
        return out

    # -- sampling and grids --------------------------------------------------------------------
    def sample(self, n, rng=None):
        """``n`` params dicts drawn uniformly on the warped scales (the random search's draws).

        ``rng``: a ``numpy.random.Generator``, an int seed, or None (the library generator).
        """
        n = positive_int("Space.sample", "n", n, allow_zero=True)
        rng = resolve_rng(rng)
        U = rng.random((n, self.dim))
        return self.from_unit(U)

    def latin_hypercube(self, n, rng=None):
        """``n`` params dicts spread over every parameter (a Latin hypercube, McKay et al.
        1979): each numeric parameter takes one value in each of ``n`` equal slices of its
        warped range, in random order; a choice with ``c`` values takes them in shuffled
        rounds of all ``c`` (so each ``n // c`` or ``n // c + 1`` times, and which ones
        get one more is drawn, whatever their place in the list). Five random points in
        four dimensions leave a whole half of some parameter's range untried in 23% of
        draws (1 - (1 - 2 / 2^5)^4); these never do.
        """
        n = positive_int("Space.latin_hypercube", "n", n, allow_zero=True)
        rng = resolve_rng(rng)
        U = np.zeros((n, self.dim))
        for name in self.names:
            dist, cols = self.params[name], self.slices[name]
            if dist.kind == "choice":
                # shuffled rounds of all the values, the last one cut short: each value
                # n // c or n // c + 1 times, and the first min(n, c) points all differ
                c = dist.columns
                rounds = [rng.permutation(c) for _ in range(-(-n // c))]
                idx = np.concatenate(rounds)[:n] if rounds else np.zeros(0, dtype=int)
                U[np.arange(n), cols.start + idx] = 1.0
            else:
                U[:, cols.start] = (rng.permutation(n) + rng.random(n)) / max(n, 1)
        return self.from_unit(U)

    def grid(self, points):
        """Every combination on a grid: ``points`` values per numeric parameter, every choice.

        Numeric values are evenly spaced on the warped scale (so geometric for
        log ranges) and include both ends; integer ranges narrower than
        ``points`` give each integer. Conditional parameters are expanded only
        where they are active, and combinations are listed once each, in the
        order of ``itertools.product`` over the parameters' values (the last
        parameter varying fastest; an inactive parameter at its first value).
        Only the combinations are visited, not the product of every parameter's
        values: the time is that of the list returned.
        """
        points = positive_int("Space.grid", "points", points)
        axes = self._axes(points)
        # A parameter's parents decide whether it is active: visit them first. Branching on
        # an active parameter's values only, each combination is reached once.
        topological = all(self.names.index(p) < self.names.index(c)
                          for c in self.names for p in self._when[c])
        order = self.names if topological else self._order
        combos, p = [], {}

        def expand(depth):
            if depth == len(order):
                combos.append({name: p[name] for name in self.names if name in p})
                return
            name = order[depth]
            if not self.is_active(name, p):
                expand(depth + 1)
                return
            for value in axes[name]:
                p[name] = value
                expand(depth + 1)
            del p[name]

        expand(0)
        if not topological:  # the product's order: by the values' places (an inactive one at 0)
            place = {name: {_grid_key(v): i for i, v in enumerate(axes[name])}
                     for name in self.names}
            combos.sort(key=lambda c: tuple(place[name][_grid_key(c[name])] if name in c else 0
                                            for name in self.names))
        return combos

    def grid_size(self, points):
        """How many combinations :meth:`grid` gives, counted exactly without listing them.

        Each parameter that no ``when`` names multiplies the count by its number
        of values where it is active (by 1 where not), so the count is a sum,
        over the values of the parents (the parameters a ``when`` names, or
        inactive), of a product. The sum is taken one parent at a time
        (variable elimination, Zhang & Poole 1994): independent parents multiply
        their own sums, so ``d`` switches each with a conditional parameter are
        counted at once, not by listing their ``2 ** d`` combinations. Only
        parents that one ``when`` names together are summed jointly.
        """
        points = positive_int("Space.grid_size", "points", points)
        axes = self._axes(points)
        parents = [name for name in self._order if any(name in self._when[c] for c in self.names)]
        # a parent is one of its values' indices, or len(values) when inactive
        size = {name: len(axes[name]) + 1 for name in parents}
        factors = []
        for name in self.names:
            conditions = tuple(self._when[name])
            active = np.ones([size[q] for q in conditions], dtype=bool)
            for k, q in enumerate(conditions):
                meets = [self._meets(name, q, v) for v in axes[q]] + [False]
                active &= np.reshape(meets, [-1 if j == k else 1 for j in range(len(conditions))])
            if name in parents:  # 1 where its index agrees with whether it is active
                table = np.zeros((size[name], *active.shape), dtype=int)
                table[:-1], table[-1] = active, ~active
                factors.append(((name, *conditions), table.astype(object)))
            else:
                factors.append((conditions, np.where(active, len(axes[name]), 1).astype(object)))
        return _sum_product(factors, parents, size)

    def _axes(self, points):
        """Each parameter's grid values, once each (points of a very narrow real range may
        round to one float)."""
        return {name: list({_grid_key(v): v for v in self.params[name].grid(points)}.values())
                for name in self.names}

    def check(self, params):
        """Validate one params dict: known names, values in range, conditions respected."""
        if not isinstance(params, dict):
            raise TypeError(f"Space: params must be a dict; got {type(params).__name__}")
        for name in params:
            if name not in self.params:
                raise ValueError(f"Space: unknown parameter {name!r}; "
                                 f"expected one of: {', '.join(self.names)}")
        out = {}
        for name in self._order:
            active = self.is_active(name, out)
            if name in params and not active:
                raise ValueError(f"Space: parameter {name!r} is inactive here (it needs "
                                 f"{self.params[name].when!r})")
            if active:
                if name not in params:
                    raise ValueError(f"Space: parameter {name!r} is missing")
                value = params[name]
                if not self.params[name].contains(value):
                    raise ValueError(f"Space: parameter {name!r} = {value!r} is outside "
                                     f"{self.params[name]!r}")
                out[name] = self.params[name].canonical(value)
        return {name: out[name] for name in self.names if name in out}

    def column_names(self):
        """A label per column of the cube (``"activation=relu"`` for one-hot columns)."""
        labels = []
        for name in self.names:
            dist = self.params[name]
            if dist.kind == "choice":
                labels += [f"{name}={v}" for v in dist.values]
            else:
                labels.append(name)
        return labels
