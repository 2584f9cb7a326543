"""The engine's one hook into gradient memory: ``Tensor._grad_slot`` (what ParameterVector uses)."""

import numpy as np

import rosenblatt as rb


class _Slotted(rb.Tensor):
    """A leaf whose gradient lives in a buffer someone else owns (as a packed Parameter's)."""

    __slots__ = ("buffer", "asked")

    def _grad_slot(self):
        self.asked += 1
        self.grad = self.buffer
        return self.buffer


def _slotted(values):
    t = _Slotted(np.asarray(values, dtype=np.float64), requires_grad=True)
    t.buffer, t.asked = np.full(t.shape, np.nan), 0
    return t


def test_a_plain_leaf_gets_a_fresh_gradient():
    x = rb.tensor([1.0, 2.0], requires_grad=True)
    assert x._grad_slot() is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_the_first_gradient_is_written_into_the_slot_and_later_ones_added():
    x = _slotted([1.0, 2.0])
    (x * x).sum().backward()  # x reaches the product twice: one slot, then one addition
    assert x.grad is x.buffer and x.asked == 1
    np.testing.assert_array_equal(x.buffer, [2.0, 4.0])
    (x * 3).sum().backward()
    assert x.asked == 1  # not cleared: accumulated in place
    np.testing.assert_array_equal(x.buffer, [5.0, 7.0])


def test_a_broadcast_gradient_fills_the_slot():
    x = _slotted([[1.0], [2.0]])
    (x + rb.tensor(np.ones((2, 3)))).sum().backward()
    np.testing.assert_array_equal(x.buffer, [[3.0], [3.0]])
