"""Atomic writes: a process killed while saving leaves a loadable file; temporaries are cleaned."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.io import atomic_write, clean_stale_temporaries, write_bytes_atomic

WRITER = textwrap.dedent("""
    import sys, numpy as np, rosenblatt as rb
    path = sys.argv[1]
    small = rb.nn.Sequential(rb.nn.Dense(4, 4))
    big = rb.nn.Sequential(rb.nn.Dense(4, 400), rb.nn.Dense(400, 400))  # ~0.6 MB
    i = 0
    while True:
        rb.save(big if i % 2 else small, path, metadata={"i": i})
        if i == 0:
            print("ready", flush=True)
        i += 1
""")


@pytest.mark.slow
def test_killed_writer_always_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "model.st"
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        ckpt = rb.io.load_checkpoint(path)  # must never raise
        seen.add(ckpt.metadata["i"] % 2)
    # a later save removes what the killed writers left behind
    rb.save(rb.nn.Dense(2, 2), path)
    assert sorted(os.listdir(tmp_path)) == ["model.st"]
    assert seen  # the writer made progress


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.txt"
    write_bytes_atomic(path, b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"half of the new")
        raise RuntimeError("crash")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_failed_save_keeps_the_old_model(tmp_path):
    path = tmp_path / "m.st"
    rb.save(rb.nn.Dense(2, 3), path)

    class NotRegistered(rb.nn.Module):
        pass

    with pytest.raises(TypeError):
        rb.save(NotRegistered(), path)
    assert rb.load(path).out_features == 3


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    path = tmp_path / "m.st"
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(proc.stdout)
    stale = tmp_path / f".m.st.{dead}.abc123.tmp"
    mine = tmp_path / f".m.st.{os.getpid()}.def456.tmp"
    other = tmp_path / ".other.st.1.abc.tmp"
    for p in (stale, mine, other):
        p.write_bytes(b"x")
    assert clean_stale_temporaries(path) == [str(stale)]
    assert mine.exists() and other.exists()


def test_text_mode_and_bad_mode(tmp_path):
    with atomic_write(tmp_path / "t.json", "w") as f:
        f.write("{\"é\": 1}")
    assert (tmp_path / "t.json").read_text(encoding="utf-8") == "{\"é\": 1}"
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_write(tmp_path / "x", "a"):
            pass


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "p", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "p").stat().st_mode & 0o777 == 0o644
