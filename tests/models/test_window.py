"""WindowClassifier (notes: "Window approach" of Collobert and Weston's NLP from scratch)."""

import numpy as np

import rosenblatt as rb


def test_default_head_takes_the_word_modules_dtype():
    words = rb.nn.Embedding(9, 3, rng=0, dtype=np.float64)
    net = rb.models.WindowClassifier(words, window=5, n_classes=2, hidden=4, rng=0)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}
    X = np.random.default_rng(0).integers(0, 9, (40, 5))
    y = (X[:, 0] > 4).astype(np.int64)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=1, progress=False)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}
    net32 = rb.models.WindowClassifier(rb.nn.Embedding(9, 3, rng=0), window=5, hidden=4, rng=0)
    assert {p.dtype for p in net32.parameters()} == {np.dtype(np.float32)}
