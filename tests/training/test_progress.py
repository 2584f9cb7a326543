"""Progress bars (tqdm): drawn on a terminal, silent in a pipe or with progress=False."""

import io
import sys

import numpy as np

import rosenblatt as rb
from rosenblatt.training import progress


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([0, 1, 1, 0])


def _fit(**kwargs):
    net = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=0), rb.nn.Tanh(), rb.nn.Dense(4, 2, rng=0))
    return rb.fit(net, X, Y, loss="cross_entropy", epochs=3, batch_size=2, rng=0,
                  optimizer=rb.optim.SGD(net.parameters(), lr=0.1), **kwargs)


def test_fit_draws_a_bar_on_a_terminal(monkeypatch):
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    _fit(progress=True)
    text = tty.getvalue()
    assert "Epoch 3/3 [" in text and "2/2" in text and "loss " in text
    assert text.endswith("\n")  # the bar is closed, its last line left on screen


def test_fit_is_silent_with_progress_false_even_on_a_terminal(monkeypatch):
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    _fit(progress=False)
    assert tty.getvalue() == ""


def test_fit_logs_one_line_per_epoch_when_stderr_is_not_a_terminal(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    _fit(progress=True)
    lines = pipe.getvalue().splitlines()  # no bar: one line per epoch (nohup, CI, a log file)
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(" loss " in line and line.endswith(" s)") for line in lines)
    pipe.truncate(0)
    _fit(progress=False)
    assert pipe.getvalue() == ""


def test_the_bar_is_closed_when_training_stops_early(monkeypatch):
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    stop = rb.callbacks.LambdaCallback(
        on_epoch_end=lambda trainer, epoch, logs: setattr(trainer, "stop_training", True))
    _fit(progress=True, callbacks=[stop])
    assert "Epoch 1/3" in tty.getvalue() and tty.getvalue().endswith("\n")


def test_bar_helper_draws_only_when_visible_and_enabled():
    tty, pipe, off = Tty(), io.StringIO(), Tty()
    for stream, enabled in ((tty, True), (pipe, True), (off, False)):
        assert list(progress.bar(range(4), desc="steps", stream=stream,
                                 enabled=enabled)) == [0, 1, 2, 3]
    assert "steps [" in tty.getvalue() and "4/4" in tty.getvalue()
    assert pipe.getvalue() == "" and off.getvalue() == ""
    assert progress.visible(tty) and not progress.visible(pipe)


def test_the_tour_draws_a_bar_on_a_terminal_and_logs_lines_everywhere():
    from rosenblatt.tour import Chapter, run_tour

    def one(ctx):
        ctx.claim("true", True)

    chapters = [Chapter("First", section="Perceptrons", order=1, fn=one, name="first"),
                Chapter("Second", section="Dropout", order=2, fn=one, name="second")]
    tty, pipe, quiet = Tty(), io.StringIO(), Tty()
    run_tour(out=None, chapters=chapters, log=tty)
    run_tour(out=None, chapters=chapters, log=pipe)
    run_tour(out=None, chapters=chapters, log=quiet, progress=False)
    assert "2/2" in tty.getvalue() and "tour: Second [" in tty.getvalue()
    for stream in (tty, pipe, quiet):
        text = stream.getvalue()
        assert "[1/2] First ..." in text and "1/1 claims confirmed" in text
    assert "[#" not in pipe.getvalue() and "[#" not in quiet.getvalue()


def test_epoch_lines_show_numpy_scalars_and_skip_bools():
    out = io.StringIO()
    log = progress.EpochLines(2, stream=out)
    log.end_epoch(0, {"loss": 0.5, "val_acc": np.float32(0.75), "live": np.int64(120),
                      "flag": True, "time": 0.1})
    line = out.getvalue()
    assert "val_acc 0.75" in line and "live 120" in line and "flag" not in line
