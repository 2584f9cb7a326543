"""A float32 optimizer step stays in float32 arithmetic.

NumPy 2 treats a NumPy float64 *scalar* (``np.sqrt(0.9)``) as a strong
float64: ``buf /= np.sqrt(c)`` on a float32 ``buf`` then runs a casting
float64 loop, invisibly (the result is cast back) and ~40% slower over the
whole Adam step, which is how it was found. Every optimizer's update runs
here on arrays that refuse float64 operands.
"""

import numpy as np
import pytest

import rosenblatt as rb


class _NoFloat64(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        outs = kwargs.get("out") or ()
        for x in inputs + tuple(outs):
            if isinstance(x, (np.generic, np.ndarray)) and x.dtype == np.float64:
                raise AssertionError(f"{ufunc.__name__}.{method} on float32 data got a float64 "
                                     f"operand ({type(x).__name__})")
        plain = lambda x: x.view(np.ndarray) if isinstance(x, _NoFloat64) else x  # noqa: E731
        inputs = tuple(plain(x) for x in inputs)
        if outs:
            kwargs["out"] = tuple(plain(o) for o in outs)
        if "where" in kwargs:
            kwargs["where"] = plain(kwargs["where"])
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if outs:  # keep checking: ``a *= b`` rebinds ``a`` to what this returns
            return outs[0] if len(outs) == 1 else outs
        if isinstance(result, np.ndarray) and result.dtype == np.float32:
            return result.view(_NoFloat64)
        return result


OPTIMIZERS = {
    "sgd": lambda p: rb.optim.SGD(p, lr=0.1),
    "sgd_momentum_wd": lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda p: rb.optim.Adagrad(p, lr=0.1),
    "adadelta": lambda p: rb.optim.Adadelta(p),
    "rmsprop_centered_momentum": lambda p: rb.optim.RMSprop(p, lr=0.01, momentum=0.9,
                                                            centered=True),
    "adam": lambda p: rb.optim.Adam(p, lr=0.01),
    "adam_eps_inside_wd": lambda p: rb.optim.Adam(p, lr=0.01, eps_inside_sqrt=True,
                                                  weight_decay=0.01),
    "rprop": lambda p: rb.optim.Rprop(p, lr=0.01),
    "gains": lambda p: rb.optim.AdaptiveGains(p, lr=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_float32_step_uses_no_float64_arithmetic(name):
    rng = np.random.default_rng(0)
    w = rb.nn.Parameter(rng.standard_normal(64).astype(np.float32))
    opt = OPTIMIZERS[name]([w])
    for attr, value in list(vars(opt).items()):  # state and scratch arrays
        if isinstance(value, np.ndarray):
            setattr(opt, attr, value.view(_NoFloat64))
    theta = opt.vec.data.view(_NoFloat64)
    for _ in range(3):
        grad = rng.standard_normal(64).astype(np.float32).view(_NoFloat64)
        opt._update(theta, grad)
        opt.t += 1
    assert theta.dtype == np.float32 and np.isfinite(theta.view(np.ndarray)).all()
