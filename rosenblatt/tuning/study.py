"""A study: the trials of a hyper-parameter search, saved as JSON, tabulated and plotted.

Notes section: "Choosing hyperparameters" ("we might try a new combination,
and it might not do that well, but we won't have replaced our current best").
A :class:`Study` is plain data (STYLE.md: studies are dataclasses with JSON
round-trips): the space's config, the search's settings and one
:class:`Trial` per evaluated combination. :func:`rosenblatt.tuning.minimize`
saves it atomically after every trial and resumes from the file.
"""

import csv
import dataclasses
import io
import json
import math
import os

import numpy as np

from ..io.atomic import atomic_write
from .space import Space

FORMAT = "rosenblatt.study"
VERSION = 1
STATUSES = ("complete", "failed", "pruned")
_TABLE_COLUMNS = ("number", "status", "value", "seconds", "error")  # to_rows, to_csv
_KEYS = ("format", "version", "space", "settings", "trials")
_INT_SETTINGS = ("seed", "n_initial", "grid_points", "n_parallel")  # minimize's, when present


@dataclasses.dataclass
class Trial:
    """One evaluated combination.

    Attributes
    ----------
    number : int
        Its place in the search (proposal order, from 0).
    params : dict
        The hyper-parameters (active ones only), plain JSON values.
    value : float or None
        The objective's value (lower is better); None when the trial failed.
    status : {"complete", "failed", "pruned"}
        "pruned": stopped early by a pruning rule; its value is the best seen before.
    seconds : float
        Wall time of the objective.
    started : float
        Start time, seconds since the epoch.
    error : str or None
        Why a failed trial failed (``"ValueError: ..."``).
    attrs : dict
        What the objective reported besides its value (a learning curve ...).
    """

    number: int
    params: dict
    value: float | None
    status: str
    seconds: float = 0.0
    started: float = 0.0
    error: str | None = None
    attrs: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d, where="a study file"):
        """A trial from its JSON dict, validated (``where`` names the file in errors).

        Raises
        ------
        ValueError
            A missing or unknown key, or a field of the wrong kind: ``number`` a
            non-negative int, ``params`` and ``attrs`` dicts, ``status`` one of
            ``STATUSES``, ``value`` a finite number (complete or pruned) or null
            (failed), ``seconds`` and ``started`` finite numbers, ``error`` a
            string or null.
        """
        if not isinstance(d, dict):
            raise ValueError(f"Trial: each trial in {where} must be a JSON object; got "
                             f"{type(d).__name__} {d!r:.60}")
        fields = [f.name for f in dataclasses.fields(cls)]
        number = d.get("number")
        at = f"trial {number!r} in {where}" if _is_int(number) else f"a trial in {where}"
        unknown = set(d) - set(fields)
        if unknown:
            raise ValueError(f"Trial: unknown keys {sorted(unknown)} in {at}; a trial has "
                             f"{', '.join(fields)}")
        missing = [k for k in ("number", "params", "value", "status") if k not in d]
        if missing:
            raise ValueError(f"Trial: {at} has no {', '.join(map(repr, missing))}")

        def bad(field, expected):
            return ValueError(f"Trial: field {field!r} of {at} must be {expected}; got "
                              f"{d[field]!r:.60}")

        if not _is_int(number) or number < 0:
            raise bad("number", "a non-negative integer")
        if d["status"] not in STATUSES:
            raise bad("status", f"one of {', '.join(map(repr, STATUSES))}")
        if not isinstance(d["params"], dict):
            raise bad("params", "an object of parameter values")
        if d["status"] == "failed":
            if d["value"] is not None:
                raise bad("value", "null for a failed trial")
        elif not _is_finite(d["value"]):
            raise bad("value", f"a finite number for a {d['status']} trial")
        for field in ("seconds", "started"):
            if field in d and not _is_finite(d[field]):
                raise bad(field, "a finite number")
        if d.get("error") is not None and not isinstance(d["error"], str):
            raise bad("error", "a string or null")
        if "attrs" in d and not isinstance(d["attrs"], dict):
            raise bad("attrs", "an object")
        trial = cls(**d)
        if trial.value is not None:
            trial.value = float(trial.value)
        return trial

    @property
    def ok(self):
        """True when the trial has a value (complete or pruned)."""
        return self.value is not None and self.status != "failed"


class Study:
    """The trials of one search over ``space``, with its settings.

    Parameters
    ----------
    space : Space
    settings : dict
        The search's settings (method, seed, acquisition ...), JSON values;
        a resumed search must use the same ones.
    trials : list of Trial, optional

    Examples
    --------
    >>> from rosenblatt.tuning import Space, Uniform
    >>> study = Study(Space({"x": Uniform(-1, 1)}), {"method": "random"})
    >>> study.add(Trial(0, {"x": 0.5}, 0.25, "complete"))
    >>> study.add(Trial(1, {"x": -0.1}, 0.01, "complete"))
    >>> study.best_params, study.best_value
    ({'x': -0.1}, 0.01)
    """

    def __init__(self, space, settings=None, trials=()):
        self.space = space if isinstance(space, Space) else Space(space)
        self.settings = dict(settings or {})
        self.trials = []
        for t in trials:
            self.add(t)

    def __repr__(self):
        done = sum(t.ok for t in self.trials)
        best = f", best {self.best_value:.6g}" if done else ""
        return (f"Study({len(self.trials)} trials: {done} with a value, "
                f"{len(self.failed)} failed{best})")

    def add(self, trial):
        """Record a trial (kept in number order), checked as a study file's trials are.

        NumPy numbers become plain ones and ``params`` their canonical values
        (:meth:`Space.check`), so that what is added can be saved and loaded.

        Raises
        ------
        ValueError
            A field that a study file refuses (:meth:`Trial.from_dict`),
            params outside the space, ``attrs`` that are not JSON, or a number
            already recorded.
        """
        if not isinstance(trial, Trial):
            raise TypeError(f"Study.add: trial must be a Trial; got {type(trial).__name__}")
        for field in ("number", "value", "seconds", "started"):
            value = getattr(trial, field)
            if isinstance(value, np.generic):
                setattr(trial, field, value.item())
        checked = Trial.from_dict(trial.to_dict(), "Study.add")
        try:
            params = self.space.check(trial.params)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Study.add: field 'params' of trial {trial.number}: {e}") from None
        try:
            json.dumps(trial.attrs, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Study.add: the attrs of trial {trial.number} must be JSON (plain "
                             f"data, finite numbers); {type(e).__name__}: {e}") from None
        if any(t.number == trial.number for t in self.trials):
            raise ValueError(f"Study: trial {trial.number} is already recorded")
        trial.params, trial.value = params, checked.value
        self.trials.append(trial)
        self.trials.sort(key=lambda t: t.number)

    # -- results ------------------------------------------------------------------------------
    @property
    def completed(self):
        """Trials with a value (complete or pruned)."""
        return [t for t in self.trials if t.ok]

    @property
    def failed(self):
        return [t for t in self.trials if t.status == "failed"]

    @property
    def best(self):
        """The trial with the lowest value (the earliest of equal ones); complete trials first."""
        pool = [t for t in self.trials if t.status == "complete"] or self.completed
        if not pool:
            why = f"; the first error: {self.failed[0].error}" if self.failed else ""
            raise ValueError(f"Study: no trial has a value yet ({len(self.trials)} trials){why}")
        return min(pool, key=lambda t: (t.value, t.number))

    @property
    def best_params(self):
        return dict(self.best.params)

    @property
    def best_value(self):
        return self.best.value

    def best_so_far(self):
        """The running minimum of the values, one per trial in number order (NaN before any)."""
        out, best = [], math.inf
        for t in self.trials:
            if t.ok:
                best = min(best, t.value)
            out.append(best if math.isfinite(best) else math.nan)
        return np.array(out)

    # -- tables ------------------------------------------------------------------------------
    def _param_columns(self):
        """``{parameter name: its column}``: the name, or ``param_<name>`` for a parameter
        named like one of the table's own columns (``number``, ``value`` ...), which it
        would overwrite."""
        taken = set(_TABLE_COLUMNS)
        out = {}
        for name in self.space.names:
            column = name
            while column in taken:
                column = f"param_{column}"
            taken.add(column)
            out[name] = column
        return out

    def to_rows(self):
        """Rows: number, status, value, seconds, each parameter (None if inactive), error.

        A parameter named like one of those columns is under ``param_<name>``.
        """
        columns = self._param_columns()
        rows = []
        for t in self.trials:
            row = {"number": t.number, "status": t.status, "value": t.value,
                   "seconds": t.seconds}
            row.update({columns[name]: t.params.get(name) for name in self.space.names})
            row["error"] = t.error
            rows.append(row)
        return rows

    def to_csv(self, path=None):
        """The table as CSV text; written (atomically) to ``path`` when given."""
        buffer = io.StringIO()
        header = ["number", "status", "value", "seconds", *self._param_columns().values(),
                  "error"]
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in self.to_rows():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        text = buffer.getvalue()
        if path is not None:
            with atomic_write(path, "w") as f:
                f.write(text)
        return text

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self):
        return {"format": FORMAT, "version": VERSION, "space": self.space.config(),
                "settings": self.settings, "trials": [t.to_dict() for t in self.trials]}

    @classmethod
    def from_dict(cls, d, where="the study"):
        """A study from its JSON dict, validated (``where`` names the file in errors).

        Raises
        ------
        ValueError
            Not a study, another version, an unknown key, a bad space,
            settings or trial (:meth:`Trial.from_dict`), params outside the
            space, or trial numbers other than 0, 1, 2 ... in order.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"Study: {where} is not a study (expected format {FORMAT!r})")
        if d.get("version") != VERSION:
            raise ValueError(f"Study: {where} has unsupported version {d.get('version')!r}; "
                             f"this library reads version {VERSION}")
        unknown = set(d) - set(_KEYS)
        if unknown:
            raise ValueError(f"Study: unknown keys {sorted(unknown)} in {where}; a study has "
                             f"{', '.join(_KEYS)}")
        if "space" not in d:
            raise ValueError(f"Study: {where} has no 'space'")
        try:
            space = Space(d["space"])
        except (TypeError, ValueError) as e:
            raise ValueError(f"Study: field 'space' of {where}: {e}") from None
        settings = d.get("settings", {})
        if not isinstance(settings, dict):
            raise ValueError(f"Study: field 'settings' of {where} must be an object; got "
                             f"{settings!r:.60}")
        method = settings.get("method")
        if method is not None and method not in ("grid", "random", "bayes"):
            raise ValueError(f"Study: setting 'method' of {where} must be 'grid', 'random' or "
                             f"'bayes'; got {method!r:.60}")
        for key in _INT_SETTINGS:
            value = settings.get(key)
            if value is not None and (not _is_int(value) or value < (0 if key == "seed" else 1)):
                least = "non-negative" if key == "seed" else "positive"
                raise ValueError(f"Study: setting {key!r} of {where} must be a {least} integer "
                                 f"or null; got {value!r:.60}")
        raw = d.get("trials", [])
        if not isinstance(raw, list):
            raise ValueError(f"Study: field 'trials' of {where} must be a list; got "
                             f"{raw!r:.60}")
        trials = [Trial.from_dict(t, where) for t in raw]
        numbers = [t.number for t in trials]
        if numbers != list(range(len(trials))):
            # minimize records trials in order, so a study holds trials 0 .. n - 1
            raise ValueError(f"Study: the trials of {where} must be numbered 0, 1, 2 ... in "
                             f"order, without gaps or repeats; got {numbers[:20]}")
        for t in trials:
            try:
                space.check(t.params)
            except (TypeError, ValueError) as e:
                raise ValueError(f"Study: field 'params' of trial {t.number} in {where}: "
                                 f"{e}") from None
        return cls(space, settings, trials)

    def save(self, path):
        """Write the study as JSON, atomically (a reader sees the old file or the new one).

        Raises
        ------
        ValueError
            The trials are not numbered 0, 1, 2 ... (as :meth:`load` requires).
        """
        numbers = {t.number for t in self.trials}
        missing = [i for i in range(len(self.trials)) if i not in numbers]
        if missing:
            raise ValueError(f"Study.save: the trials must be numbered 0, 1, 2 ... without "
                             f"gaps; trial {missing[0]} is missing (numbers "
                             f"{sorted(numbers)[:20]}); add it first")
        # One trial per line: readable, and the C encoder (an indent selects the slow Python one)
        head = {k: v for k, v in self.to_dict().items() if k != "trials"}
        trials = ",\n".join(json.dumps(t.to_dict(), allow_nan=False) for t in self.trials)
        text = json.dumps(head, allow_nan=False)[:-1] + ', "trials": [\n' + trials + "\n]}\n"
        with atomic_write(path, "w") as f:
            f.write(text)

    @classmethod
    def load(cls, path):
        """Read a study written by :meth:`save`.

        Raises
        ------
        ValueError
            The file is not valid JSON or not a valid study (the message names
            the file and the field: :meth:`from_dict`).
        """
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, huge integers
                raise ValueError(f"Study: {path} is not valid JSON: {str(e)[:200]}") from None
            except RecursionError:
                raise ValueError(f"Study: {path} is not a study (JSON nested too deeply)") \
                    from None
        return cls.from_dict(data, path)

    # -- the surrogate and its length scales ---------------------------------------------------
    def surrogate(self, **gp_kwargs):
        """A Gaussian process fitted to the completed trials, on the space's unit cube."""
        from .gaussian_process import GaussianProcess

        done = self.completed
        if len(done) < 2:
            raise ValueError(f"Study: fitting a surrogate needs at least 2 trials with a value; "
                             f"got {len(done)}")
        kwargs = {"learn_noise": True, "noise_bounds": (1e-6, 1.0), "n_restarts": 3, "rng": 0}
        kwargs.update(gp_kwargs)
        gp = GaussianProcess(**kwargs)
        return gp.fit(self.space.to_unit([t.params for t in done]),
                      np.array([t.value for t in done]))

    def importance(self, gp=None):
        """Relevance of each parameter: ``1 / length scale`` of the ARD surrogate, summing to 1.

        A parameter that does not change the value gets a long length scale
        (the notes: the model learns "this scale of similarity for each
        hyperparameter") and so a small share. A choice counts by its most
        relevant column.
        """
        gp = gp or self.surrogate()
        inv = 1.0 / gp.length_scales_
        raw = {name: float(inv[self.space.slices[name]].max()) for name in self.space.names}
        total = sum(raw.values())
        return {name: v / total for name, v in raw.items()}

    # -- plots --------------------------------------------------------------------------------
    def plot_convergence(self, ax=None):
        """Each trial's value and the best so far, against the trial number; returns the figure."""
        fig, ax = _axes(ax, (5.5, 3.2))
        numbers = [t.number for t in self.trials]
        ok = [t for t in self.trials if t.ok]
        ax.plot([t.number for t in ok], [t.value for t in ok], ".", color="0.6", label="trial")
        ax.step(numbers, self.best_so_far(), where="post", label="best so far")
        for t in self.failed:
            ax.axvline(t.number, color="tab:red", alpha=0.2, lw=1)
        ax.set_xlabel("trial")
        ax.set_ylabel("value")
        ax.legend()
        ax.grid(True, alpha=0.3)
        return fig

    def plot_importance(self, ax=None, gp=None):
        """A bar per parameter: its relevance from the surrogate's length scales."""
        fig, ax = _axes(ax, (5.0, 0.5 + 0.4 * len(self.space)))
        imp = self.importance(gp)
        names = sorted(imp, key=imp.get)
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance (1 / length scale, normalised)")
        return fig

    def plot_slice(self, fig=None):
        """One panel per parameter: the value of each trial against that parameter."""
        names = self.space.names
        if fig is None:
            fig = new_figure((3.2 * len(names), 3.0))
        axes = np.atleast_1d(fig.subplots(1, len(names), sharey=True))
        ok = self.completed
        values = [t.value for t in ok]
        for ax, name in zip(axes, names):
            dist = self.space.params[name]
            pts = [(t.params[name], v) for t, v in zip(ok, values) if name in t.params]
            if dist.kind == "choice":
                index = {repr(v): i for i, v in enumerate(dist.values)}
                ax.scatter([index[repr(p)] for p, _ in pts], [v for _, v in pts],
                           c=[t.number for t in ok if name in t.params], cmap="viridis", s=14)
                ax.set_xticks(range(len(dist.values)), [str(v) for v in dist.values])
            else:
                ax.scatter([p for p, _ in pts], [v for _, v in pts],
                           c=[t.number for t in ok if name in t.params], cmap="viridis", s=14)
                if getattr(dist, "log", False):
                    ax.set_xscale("log")
            ax.set_xlabel(name)
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("value")
        return fig


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value):
    """A finite JSON number (not a bool, which JSON keeps apart) that float64 holds: an
    integer beyond it (JSON has no limit; ``10**400``) is no finite float, not a crash."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def new_figure(size):
    """A matplotlib Figure on the Agg canvas (no pyplot state); a clear error without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("study plots need matplotlib: pip install 'rosenblatt[plot]'") from e
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _axes(ax, size):
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(size)
    return fig, fig.add_subplot()
