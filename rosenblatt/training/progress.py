"""A one-line progress bar with live loss and metrics, on stderr."""

import sys
import time


class ProgressBar:
    """Redraws ``Epoch 3/10 [#####.....] 45/100  loss 0.1234`` at most ``fps`` times a second.

    Only draws when ``stream`` is a terminal.
    """

    def __init__(self, epochs, n_batches, stream=None, width=24, fps=10):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.epochs, self.n_batches, self.width = epochs, n_batches, width
        self.interval = 1.0 / fps
        self._last = 0.0

    def update(self, epoch, batch, logs):
        """Redraw after ``batch`` (0-based) of ``epoch`` (0-based)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.interval and batch + 1 < self.n_batches:
            return
        self._last = now
        done = int(self.width * (batch + 1) / self.n_batches)
        bar = "#" * done + "." * (self.width - done)
        text = "  ".join(f"{k} {v:.4g}" for k, v in logs.items())
        self.stream.write(f"\rEpoch {epoch + 1}/{self.epochs} [{bar}] {batch + 1}/"
                          f"{self.n_batches}  {text}\x1b[K")
        self.stream.flush()

    def end_epoch(self, epoch, logs):
        """Print the epoch's summary line."""
        if not self.enabled:
            return
        text = "  ".join(f"{k} {v:.4g}" for k, v in logs.items()
                         if k != "time" and "/" not in k)
        self.stream.write(f"\rEpoch {epoch + 1}/{self.epochs}  {text}\x1b[K\n")
        self.stream.flush()
