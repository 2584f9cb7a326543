"""The NTM copy task at full size, and its length-generalisation table (issue 16).

Trains an NTM (LSTM controller, memory N x M, one read and one write head, shifts -1..1) or
the LSTM baseline on the copy task with 8-bit vectors and lengths 1..--train-max, with the
tour chapter's recipe (rb.fit over rounds of fresh sequences, Adam, gradient norm clipped to
10, masked sigmoid cross-entropy), then measures bits of error per sequence at longer
lengths. Writes the learning curve and the table as JSON.

    PYTHONPATH=. python examples/ntm_copy.py --model ntm --out ntm.json
    PYTHONPATH=. python examples/ntm_copy.py --model lstm --out lstm.json

Measured with the defaults (8-bit vectors, trained on lengths 1-10, 50 rounds of 2,000
sequences, batch 16, Adam lr 3e-3, clip 10; one BLAS thread on a loaded 2-core machine):

    bits of error per sequence     length 10   20      30      50     parameters  time
    NTM (LSTM 100, memory 128x20)  0.0         0.02    0.5     37.8   65,096      14 min
    LSTM (256 units)               0.43        53.1    115.8   198.5  274,440     11 min

Training curve (bits of error per sequence after round 1, 3, 5, 7, 10, 15, 20, 30, 50):
NTM 17.4, 14.1, 11.4, 1.6, 0.001, 0, 0, 0, 0; LSTM 15.4, 12.3, 10.0, 7.3, 4.1, 2.1, 1.3,
0.48, 0.08. The NTM's write weighting moved by exactly one location on 98% of the input
steps of length-50 sequences.

With ``--constant-initial`` (M_0 = 1e-6, r_0 = 0, w_0 on location 0, as the quick tour
chapter uses: there it made the length claims hold at 10 of 10 seeds instead of 5), the same
seed learned faster (bits of error after round 1, 3, 5, 7, 10: 16.9, 13.0, 0.006, 0.4, 0) but
generalised worse at this size: 0.0, 3.7, 57.4 and 166.8 bits at lengths 10, 20, 30 and 50
after 50 rounds (62,260 parameters), though its write weighting moved by one location on 100%
of the steps. One seed each way: which initial state generalises better at full size is not
settled, so the learned one, measured above, stays the default here.
"""

import argparse
import json
import time

import numpy as np

import rosenblatt as rb
from rosenblatt.tour.chapters.ntm import (
    BITS,
    copy_recipe,
    evaluate_copy,
    lstm_baseline,
    train_copy,
    write_moves,
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("ntm", "lstm"), default="ntm")
    p.add_argument("--train-max", type=int, default=10)
    p.add_argument("--test", type=int, nargs="+", default=[10, 20, 30, 50])
    p.add_argument("--memory", type=int, nargs=2, default=[128, 20])
    p.add_argument("--controller", type=int, default=100)
    p.add_argument("--lstm-hidden", type=int, default=256)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--per-round", type=int, default=2000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--optimizer", choices=("adam", "rmsprop"), default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--constant-initial", action="store_true",
                   help="start from the constant M_0, r_0, w_0 (learn_initial=False, as the "
                        "tour chapter does) instead of learning them")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    rng = np.random.default_rng(args.seed)
    if args.model == "ntm":
        model = rb.nn.NTM(BITS + 1, BITS, controller_size=args.controller,
                          memory_size=tuple(args.memory), learn_initial=not args.constant_initial,
                          rng=rng)
    else:
        model = lstm_baseline(args.lstm_hidden, rng)
    opt = copy_recipe(model, lr=args.lr, optimizer=args.optimizer)
    started = time.time()
    curve = train_copy(model, opt, lengths=(1, args.train_max), rounds=args.rounds,
                       per_round=args.per_round, seed=args.seed,
                       log=lambda m: print(f"[{time.time() - started:7.0f}s] {m}", flush=True))
    table = {L: evaluate_copy(model, L) for L in args.test}
    result = {"args": vars(args), "parameters": model.num_parameters(),
              "seconds": time.time() - started, "curve": curve.tolist(), "test": table}
    if args.model == "ntm":
        X, _, _ = rb.datasets.copy_bits(16, length=max(args.test), bits=BITS, rng=7)
        with model.evaluating(), rb.no_grad():
            _, trace = model(rb.tensor(X), return_trace=True)
        result["write_moves_one_location"] = write_moves(trace, max(args.test))
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
