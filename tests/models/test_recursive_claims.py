"""The notes' claim for recursive networks: composition over a tree reads what a bag of words
cannot (negation, and more of it than seen in training)."""

import numpy as np

import rosenblatt as rb

V = len(rb.datasets.SENTIMENT_WORDS)


def bags(trees, phrases=False):
    """Word counts of every labelled phrase (or of the sentences only), with the labels."""
    X, y = [], []
    for t in trees:
        for node in (t.nodes() if phrases else [t]):
            if node.label is not None:
                X.append(np.bincount(node.leaves(), minlength=V))
                y.append(node.label)
    return np.array(X, np.float32), np.array(y)


def test_tree_net_beats_bag_of_words_on_held_out_and_deeper_negation():
    results = []
    for seed in range(3):
        train, _ = rb.datasets.sentiment_trees(400, negations=(0, 2), rng=seed)
        test, y_test = rb.datasets.sentiment_trees(300, negations=(0, 2), rng=100 + seed)
        deep, y_deep = rb.datasets.sentiment_trees(300, negations=(3, 4), rng=200 + seed)
        net = rb.models.RecursiveNet(V, 16, 3, rng=seed)
        net.fit(train, epochs=20, batch_size=16, lr=0.02, rng=seed)
        # the bag of words gets the same supervision: every labelled phrase is an example
        bow = rb.nn.Sequential(rb.nn.Dense(V, 40, rng=seed), rb.nn.Tanh(),
                               rb.nn.Dense(40, 3, rng=seed))
        assert abs(bow.num_parameters() - net.num_parameters()) < 0.05 * net.num_parameters()
        X, y = bags(train, phrases=True)
        rb.fit(bow, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(bow.parameters(), lr=0.02),
               epochs=30, progress=False, rng=seed)
        tree_acc = [(net.predict(t) == yt).mean() for t, yt in ((test, y_test), (deep, y_deep))]
        bow_acc = [(bow(bags(t)[0]).data.argmax(1) == yt).mean()
                   for t, yt in ((test, y_test), (deep, y_deep))]
        results.append(tree_acc + bow_acc)
    tree_same, tree_deep, bow_same, bow_deep = np.mean(results, axis=0)
    # measured (seeds 0-2): tree 1.00 / 1.00, bag of words 1.00 / 0.49
    assert tree_same > 0.97 and tree_deep > 0.9
    assert bow_deep < 0.65 and tree_deep > bow_deep + 0.25
    assert bow_same > 0.9  # the bag of words does learn the depths it saw: it cannot extrapolate


def test_tree_net_learns_arithmetic_mod_10():
    train, _ = rb.datasets.arithmetic_trees(2000, depth=(1, 2), rng=0)
    test, y_test = rb.datasets.arithmetic_trees(500, depth=(1, 2), rng=1)
    net = rb.models.RecursiveNet(len(rb.datasets.ARITHMETIC_WORDS), 32, 10, rng=0)
    net.fit(train, epochs=30, batch_size=32, lr=0.01, rng=0)
    # measured: 0.73 held out (chance 0.10); every node's value is supervised
    assert (net.predict(test) == y_test).mean() > 0.5
