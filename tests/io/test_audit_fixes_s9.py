"""io audit fixes (s9/b1): an optimizer state of another algorithm named as such, an empty
path refused before anything is written. Each test failed before its fix (the audit's
finding number)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.io import atomic_write


def _net():
    return rb.nn.Sequential(rb.nn.Dense(3, 4, rng=np.random.default_rng(0)),
                            rb.nn.Dense(4, 2, rng=np.random.default_rng(1)))


# -- 11: restoring another optimizer's state ---------------------------------------------------
def test_restore_into_another_optimizer_names_the_one_in_the_file(tmp_path):
    net = _net()
    opt = rb.optim.Adam(net.parameters(), lr=0.01)
    x = rb.tensor(np.ones((5, 3), np.float32))
    for _ in range(2):
        opt.zero_grad()
        (net(x) ** 2).sum().backward()
        opt.step()
    path = str(tmp_path / "adam.safetensors")
    rb.save(net, path, optimizer=opt.state_dict())
    other = _net()
    with pytest.raises(rb.FormatError, match="\"algorithm\" = 'Adam': expected 'SGD'"):
        rb.io.restore(path, other, rb.optim.SGD(other.parameters(), lr=0.5))
    same = _net()
    adam = rb.optim.Adam(same.parameters(), lr=0.5)
    rb.io.restore(path, same, adam)  # the same algorithm: restored
    assert adam.t == 2


# -- 8: an empty path ------------------------------------------------------------------------
def test_an_empty_path_is_refused_as_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="the path is empty; give a file name"):
        with atomic_write(""):
            pass
    with pytest.raises(FileNotFoundError, match="the path is empty"):
        rb.save(_net(), "")
    assert list(tmp_path.iterdir()) == []
