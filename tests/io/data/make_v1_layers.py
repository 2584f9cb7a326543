"""Write ``v1_layers.safetensors``: a model file of format version 1, kept to prove old files load.

It was written by the code of commit 9b3d9b8 (before the layer registry moved from ``io`` to
``nn``) with ``PYTHONPATH=<that checkout> python tests/io/data/make_v1_layers.py``; do not
regenerate it with newer code, or the test that uses it proves nothing. The model is a
``Sequential`` holding one layer of each kind whose config is written by hand (Dense, Conv1d,
Conv2d, RBF, a nested Sequential) and a few that follow the attribute convention; the metadata
holds one input and the expected output of each.
"""

import os

import numpy as np

import rosenblatt as rb

nn = rb.nn


def layers():
    return [
        nn.Dense(3, 4),
        nn.Dense(3, 2, bias=False, init="he"),
        nn.Conv1d(2, 3, 3, padding="same"),
        nn.Conv2d(2, 3, (3, 2), stride=2, bias=False),
        nn.RBF(3, 4, kind="ricker", width=0.5),
        nn.Sequential(nn.Dense(3, 5), nn.Tanh(), nn.Sequential(nn.Dense(5, 2))),
        nn.BatchNorm1d(3, momentum=0.2),
        nn.Maxout(3, 2, pieces=3),
        nn.Dropout(0.3),
    ]


INPUTS = [(2, 3), (2, 3), (2, 2, 7), (2, 2, 7, 6), (2, 3), (2, 3), (4, 3), (2, 3), (2, 3)]


def main():
    rng = np.random.default_rng(12)
    model = nn.Sequential(*layers())
    # non-trivial weights and statistics (positive, as running variances must be)
    model.load_state_dict({name: rng.uniform(0.5, 1.5, value.shape).astype(value.dtype)
                           for name, value in model.state_dict().items()})
    model.eval()
    cases = []
    with rb.no_grad():
        for layer, shape in zip(model, INPUTS):
            x = rng.standard_normal(shape).astype(np.float32)
            cases.append([x, layer(rb.tensor(x)).data])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "v1_layers.safetensors")
    rb.save(model, path, metadata={"cases": cases})


if __name__ == "__main__":
    main()
