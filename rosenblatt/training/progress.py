"""Progress bars (tqdm) for ``rb.fit``, the tour and the long commands, on stderr.

One rule everywhere: a bar is drawn when it is asked for (``progress=True``)
and someone can see it: ``stream`` is a terminal, or the code runs in a
Jupyter kernel, where ``tqdm.auto`` draws a widget instead. Otherwise (a pipe,
a log file, a test's captured stream) nothing is written.

:func:`bar` is the general helper; :class:`ProgressBar` is the one ``rb.fit``
drives (epoch, batch within the epoch, running loss and metrics).
"""

import sys
import time

import numpy as np

# desc [#####.....] 4/10 [00:01<00:02, loss 0.25]
BAR_FORMAT = "{desc} [{bar:24}] {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
# fit's bar restarts every epoch: the time since the start, no estimate of what remains
FIT_FORMAT = "{desc} [{bar:%d}] {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


def _tqdm_class():
    """``tqdm.auto``'s choice: the notebook widget inside Jupyter, the text bar elsewhere."""
    from tqdm.auto import tqdm

    return tqdm


def in_notebook():
    """True when ``tqdm.auto`` chose the notebook widget (a Jupyter kernel with ipywidgets)."""
    from tqdm.autonotebook import tqdm as chosen
    from tqdm.std import tqdm as text_tqdm

    return chosen is not text_tqdm


def visible(stream=None):
    """Whether a bar on ``stream`` (default stderr) can be seen: a terminal, or a notebook."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # a closed stream
        tty = False
    return tty or in_notebook()


def bar(iterable=None, *, total=None, desc="", stream=None, enabled=True, leave=True,
        unit="it", bar_format=BAR_FORMAT, **kwargs):
    """A tqdm progress bar on ``stream`` (default stderr), silent unless :func:`visible`.

    Parameters
    ----------
    iterable : iterable, optional
        Iterate over it through the bar (``for x in bar(items): ...``).
    total : int, optional
        The number of steps (default ``len(iterable)`` when it has one).
    desc : str
        Shown before the bar.
    stream : file, default sys.stderr
    enabled : bool, default True
        False: never draw (``progress=False``).
    leave : bool, default True
        Keep the final bar on screen when it closes.
    **kwargs
        Passed to ``tqdm``.

    Returns
    -------
    tqdm
        Disabled (drawing nothing, still iterating) when not visible.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()                    # not a terminal: nothing is drawn
    >>> [x for x in bar(range(3), desc="steps", stream=out)]
    [0, 1, 2]
    >>> out.getvalue()
    ''
    """
    stream = sys.stderr if stream is None else stream
    show = bool(enabled) and visible(stream)
    return _tqdm_class()(iterable, total=total, desc=desc, file=stream, disable=not show,
                         leave=leave, unit=unit, bar_format=bar_format, dynamic_ncols=True,
                         **kwargs)


def write(message, stream=None):
    """Print a line on ``stream`` without breaking the bars drawn there (``tqdm.write``)."""
    stream = sys.stderr if stream is None else stream
    _tqdm_class().write(str(message), file=stream)
    flush = getattr(stream, "flush", None)
    if callable(flush):
        flush()


def _format_logs(logs, summary=False):
    items = [(k, v) for k, v in logs.items() if not (summary and (k == "time" or "/" in k))]
    # NumPy scalars count (a callback's ``arr.mean()``, an integer count); True/False do not
    numbers = (int, float, np.integer, np.floating)
    return "  ".join(f"{k} {v:.4g}" for k, v in items
                     if isinstance(v, numbers) and not isinstance(v, (bool, np.bool_)))


class ProgressBar:
    """``rb.fit``'s bar: ``Epoch 3/10 [#####.....] 45/100 [00:02<00:03, loss 0.1234]``.

    One tqdm bar for the whole run: it counts the batches of the current
    epoch and shows the running loss and metrics, then the epoch's numbers
    (validation ones included) when the epoch ends. Redrawn at most ``fps``
    times a second; draws nothing unless the stream is a terminal (or a
    notebook).

    Parameters
    ----------
    epochs : int
        The run's last epoch (shown as ``Epoch e/epochs``).
    n_batches : int
        Batches per epoch (the trainer updates it every epoch).
    stream : file, default sys.stderr
    width : int, default 24
        Characters of the bar (text terminals).
    fps : float, default 10
        Most redraws per second.
    """

    def __init__(self, epochs, n_batches, stream=None, width=24, fps=10):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = visible(self.stream)
        self.epochs, self.n_batches, self.width = epochs, n_batches, width
        self.interval = 1.0 / fps
        self._last = -float("inf")
        self._bar = None
        self._pending = None  # what a skipped redraw would have shown

    def _draw(self, epoch, done, text, force=False):
        now = time.perf_counter()
        if not force and now - self._last < self.interval:
            self._pending = (epoch, done, text)
            return
        self._last, self._pending = now, None
        if self._bar is None:
            self._bar = bar(total=self.n_batches, desc=f"Epoch {epoch + 1}/{self.epochs}",
                            stream=self.stream, leave=True, unit="batch",
                            bar_format=FIT_FORMAT % self.width)
        b = self._bar
        b.total = self.n_batches
        b.n = done
        b.set_description_str(f"Epoch {epoch + 1}/{self.epochs}", refresh=False)
        b.set_postfix_str(text, refresh=False)
        b.refresh()

    def update(self, epoch, batch, logs):
        """Redraw after ``batch`` (0-based) of ``epoch`` (0-based)."""
        if self.enabled:
            self._draw(epoch, batch + 1, _format_logs(logs))

    def end_epoch(self, epoch, logs):
        """Show the epoch's numbers (loss, metrics, validation)."""
        if self.enabled:
            self._draw(epoch, self.n_batches, _format_logs(logs, summary=True),
                       force=epoch + 1 >= self.epochs)

    def close(self):
        """End the bar, leaving its last line on screen."""
        if self._pending is not None:
            self._draw(*self._pending, force=True)
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EpochLines:
    """``rb.fit``'s log when stderr is not a terminal: one line per epoch, nothing per batch.

    ``epoch 3/10  loss 0.1234  accuracy 0.9531  val_loss 0.2  (0.41 s)``, so a
    run under ``nohup``, in CI or redirected to a file can be followed.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> log = EpochLines(2, stream=out)
    >>> log.end_epoch(0, {"loss": 0.5, "time": 0.25})
    >>> out.getvalue()
    'epoch 1/2  loss 0.5  (0.25 s)\\n'
    """

    per_batch = False  # the trainer need not compute running numbers for it

    def __init__(self, epochs, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.epochs, self.n_batches = epochs, 0

    def update(self, epoch, batch, logs):
        pass

    def end_epoch(self, epoch, logs):
        seconds = logs.get("time")
        tail = f"  ({seconds:.2f} s)" if isinstance(seconds, (int, float)) else ""
        text = _format_logs(logs, summary=True)
        try:
            print(f"epoch {epoch + 1}/{self.epochs}  {text}{tail}", file=self.stream, flush=True)
        except (OSError, ValueError):  # a closed or broken stream must not stop training
            pass

    def close(self):
        pass
