"""Paired CPU-time ratios of CNE's fused population pass against the loop over networks.

The two sides of the ``neat`` workload's CNE rows (``rb_cne`` / ``loop_cne``), timed
alternately with ``time.process_time`` (one thread), rounds of 200 fused calls
against 10 loops (batch 256) or 2,000 against 50 (batch 4)::

    nice -n -15 env PYTHONPATH=$PWD python -m benchmarks.cne_paired 256 7
    nice -n -15 env PYTHONPATH=$PWD python -m benchmarks.cne_paired 4 5
    nice -n -15 env PYTHONPATH=$PWD python -m benchmarks.cne_paired 256 7 float32
"""

import sys
import time

import numpy as np

from benchmarks.workloads import neat


def _per_call(fn, k):
    t0 = time.process_time()
    for _ in range(k):
        fn()
    return (time.process_time() - t0) / k


def main(batch=256, rounds=7, dtype="float64"):
    fused, loop = neat.rb_cne(1000, batch, dtype), neat.loop_cne(1000, batch, dtype)
    fused()
    loop()
    kf, kl = (200, 10) if batch >= 64 else (2000, 50)
    tf, tl = [], []
    for _ in range(rounds):
        tf.append(_per_call(fused, kf))
        tl.append(_per_call(loop, kl))
    ratios = np.array(tl) / np.array(tf)
    print(f"batch {batch}, {dtype}: fused {np.median(tf) * 1e3:.3f} ms, "
          f"loop {np.median(tl) * 1e3:.2f} ms, paired ratio median {np.median(ratios):.2f}x "
          f"[{ratios.min():.2f}-{ratios.max():.2f}]")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]), *sys.argv[3:4])
