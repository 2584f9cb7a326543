"""Fuzzing rb.load: truncated, bit-flipped and random files raise only rb.FormatError, fast."""

import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import rosenblatt as rb

nn = rb.nn
_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    """A small but varied checkpoint: nested layers, buffers, tuples, optimizer-like state."""
    model = nn.Sequential(nn.Dense(3, 4), nn.Tanh(), nn.Sequential(nn.Dense(4, 2)),
                          nn.BatchNorm1d(2), nn.Identity())
    path = tmp_path_factory.mktemp("fuzz") / "good.st"
    state = {"step": 3, "moments": [np.ones(4, np.float32), np.zeros((2, 2))], "betas": (0.9, 0.99)}
    rb.save(model, path, optimizer=state, metadata={"epoch": 2, "rng": {"state": 2**100}})
    return path.read_bytes()


def _load(tmp_path, blob):
    """rb.load on ``blob``: a model, or FormatError; anything else fails the test."""
    path = tmp_path / "fuzzed.st"
    path.write_bytes(blob)
    try:
        model = rb.load(path)
    except rb.FormatError:
        return None
    assert isinstance(model, nn.Module)
    return model


class _Timeout:
    """SIGALRM guard: a hang fails the test instead of freezing the suite."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        def fail(*_):
            raise TimeoutError(f"rb.load took more than {self.seconds} s")

        self.previous = signal.signal(signal.SIGALRM, fail)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def test_the_unfuzzed_file_loads(tmp_path, good_file):
    assert _load(tmp_path, good_file) is not None


@pytest.mark.slow
@settings(max_examples=1000, **_SETTINGS)
@given(data=st.data())
def test_truncated_files(tmp_path, good_file, data):
    cut = data.draw(st.integers(0, len(good_file) - 1))
    with _Timeout(10):
        assert _load(tmp_path, good_file[:cut]) is None


@pytest.mark.slow
@settings(max_examples=1500, **_SETTINGS)
@given(data=st.data())
def test_bit_flipped_files(tmp_path, good_file, data):
    blob = bytearray(good_file)
    header_end = 8 + int.from_bytes(good_file[:8], "little")
    # most flips land in the header (where parsing happens), some anywhere
    for _ in range(data.draw(st.integers(1, 4))):
        limit = header_end if data.draw(st.booleans()) else len(blob)
        pos = data.draw(st.integers(0, limit - 1))
        blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    with _Timeout(10):
        _load(tmp_path, bytes(blob))


@pytest.mark.slow
@settings(max_examples=500, **_SETTINGS)
@given(blob=st.binary(max_size=512), prefix=st.booleans())
def test_random_files(tmp_path, blob, prefix):
    if prefix:  # a plausible header length, so the parser gets past the first check
        blob = min(len(blob), 300).to_bytes(8, "little") + blob
    with _Timeout(10):
        assert _load(tmp_path, blob) is None


@pytest.mark.slow
@settings(max_examples=300, **_SETTINGS)
@given(header=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                       children, max_size=4),
    max_leaves=20))
def test_random_json_in_the_architecture(tmp_path, good_file, header):
    """Valid safetensors, valid JSON, nonsense architecture."""
    import json

    from rosenblatt.io.safetensors_format import decode, encode

    tensors, meta = decode(good_file)
    meta["architecture"] = json.dumps(header)
    with _Timeout(10):
        assert _load(tmp_path, encode(tensors, meta)) is None
