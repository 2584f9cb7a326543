"""rb.training.metrics: the training loop's per-batch metrics and the score functions,
checked against sklearn.metrics."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import metrics as M


def _fit_logs(plan, pred, target, batch_size):
    """Epoch values as rb.fit sums a plan's (total, count) over batches."""
    sums = {name: [0.0, 0] for name, _ in plan}
    for i in range(0, len(pred), batch_size):
        for name, fn in plan:
            s, c = fn(pred[i:i + batch_size], target[i:i + batch_size])
            sums[name][0] += s
            sums[name][1] += c
    return {name: s / max(c, 1) for name, (s, c) in sums.items()}


# -- defects: a5/1 (+-1 targets per batch), a5/12 (multi-label), a5/21 (one name) -------------
def test_accuracy_on_signed_targets_does_not_depend_on_the_batch():
    assert M.accuracy(np.array([[0.3]]), np.array([[1]]), signed=True) == (1, 1)
    assert M.accuracy(np.array([[0.3]]), np.array([[1]]), signed=False) == (0, 1)
    y = np.array([1, 1, -1, -1])
    pred = np.array([[0.2], [0.4], [-0.2], [-0.4]], np.float32)
    plan = M.plan(["accuracy"], y, "mse")
    for bs in (4, 2, 1):
        assert _fit_logs(plan, pred, y, bs)["accuracy"] == 1.0


def test_accuracy_of_independent_outputs_thresholds_every_column():
    logits = np.array([[6, 0], [6, 6], [6, -6], [6, -6]], np.float32)
    Y = np.array([[1, 1], [0, 0], [1, 0], [0, 1]], np.float32)
    plan = M.plan(["accuracy"], Y, "binary_cross_entropy_with_logits")
    # per label: (logit > 0) == target, as (P > 0) == Y averaged: 3 of 8 right
    assert _fit_logs(plan, logits, Y, 4)["accuracy"] == ((logits > 0) == Y).mean() == 0.375
    assert M.accuracy(logits, Y, 0.0, multilabel=True) == (3, 8)
    # softmax outputs keep the arg-max
    labels = np.array([1, 0, 1, 0])
    plan = M.plan(["accuracy"], labels, "cross_entropy")
    assert _fit_logs(plan, logits[:, ::-1], labels, 4)["accuracy"] == 0.75


def test_a_single_metric_name_is_one_metric():
    assert [name for name, _ in M.resolve("mae")] == ["mae"]
    assert [name for name, _ in M.resolve(M.mse)] == ["mse"]
    X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    net = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0))
    h = rb.fit(net, X, X[:, :1] * 2, loss="mse", metrics="mae", epochs=1, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.01))
    assert "mae" in h.history


# Through rb.fit/evaluate: needs fit._metric_plan to delegate to metrics.plan (see the report).
def test_evaluate_accuracy_is_the_same_for_every_batch_size():
    X = np.array([[1.0], [2.0], [-1.0], [-2.0]], np.float32)
    net = rb.nn.Sequential(rb.nn.Dense(1, 1, rng=0))
    net[0].W.data[:] = 0.2
    net[0].b.data[:] = 0
    y = np.array([1, 1, -1, -1])
    got = {bs: rb.training.evaluate(net, X, y, loss="mse", batch_size=bs)["accuracy"]
           for bs in (4, 2, 1)}
    assert got == {4: 1.0, 2: 1.0, 1: 1.0}
    net = rb.nn.Sequential(rb.nn.Dense(4, 2, rng=0))
    net[0].W.data[:] = [[3, -3], [3, 3], [3, -3], [3, -3]]
    net[0].b.data[:] = 0
    Y = np.array([[1, 1], [0, 0], [1, 0], [0, 1]], np.float32)
    res = rb.training.evaluate(net, np.eye(4, dtype=np.float32), Y,
                               loss="binary_cross_entropy_with_logits")
    assert res["accuracy"] == 0.375
    # f1 of one logit output: thresholded at 0, as the loss says
    net = rb.nn.Sequential(rb.nn.Dense(1, 1, rng=0))
    net[0].W.data[:] = 1.0
    net[0].b.data[:] = 0
    X = np.array([[0.3], [-1.0], [0.2], [-0.1]], np.float32)
    res = rb.training.evaluate(net, X, np.array([1, 0, 0, 0]), batch_size=1,
                               loss="binary_cross_entropy_with_logits", metrics=["f1"])
    assert res["f1"] == pytest.approx(2 / 3)


# -- score functions against sklearn.metrics ---------------------------------------------------
skm = pytest.importorskip("sklearn.metrics")

LABEL_CASES = {
    "random 4 classes": (np.random.default_rng(0).integers(0, 4, 60),
                         np.random.default_rng(1).integers(0, 4, 60)),
    "all wrong": (np.array([0, 1, 2, 0, 1]), np.array([1, 2, 0, 2, 0])),
    "one class present": (np.zeros(6, int), np.zeros(6, int)),
    "class only predicted": (np.array([0, 0, 1, 1]), np.array([0, 2, 1, 2])),
    "strings": (np.array(["a", "b", "b", "c"]), np.array(["a", "b", "c", "c"])),
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_match_sklearn(case, average):
    import warnings

    t, p = LABEL_CASES[case]
    for ours, theirs in ((M.precision, skm.precision_score), (M.recall, skm.recall_score),
                         (M.f1, skm.f1_score)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns about 0/0; both give 0
            want = theirs(t, p, average=average, zero_division=0.0)
        np.testing.assert_allclose(ours(t, p, average=average), want, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "a single label was found"
        np.testing.assert_array_equal(M.confusion_matrix(t, p), skm.confusion_matrix(t, p))


@pytest.mark.parametrize("t, p", [
    ([0, 1, 1, 0, 1], [1, 1, 0, 0, 1]),
    ([0, 0, 0], [0, 0, 0]),            # no positive anywhere: 0/0 -> zero_division
    ([1, 1, 0], [0, 0, 1]),            # all wrong
    ([-1, 1, 1, -1], [1, 1, -1, -1]),  # -1/+1 labels
])
def test_binary_scores_match_sklearn(t, p):
    import warnings

    for zd in (0.0, 1.0):
        for ours, theirs in ((M.precision, skm.precision_score), (M.recall, skm.recall_score),
                             (M.f1, skm.f1_score)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert ours(t, p, zero_division=zd) == pytest.approx(
                    theirs(t, p, zero_division=zd), abs=1e-12)
    assert M.precision(["n", "y"], ["y", "y"], pos_label="y") == 0.5


def test_score_argument_errors():
    with pytest.raises(ValueError, match="average='binary' needs two classes; got 3"):
        M.f1([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="pos_label=1 is not one of the classes"):
        M.recall([0, 2], [2, 0])
    with pytest.raises(ValueError, match="average must be one of"):
        M.precision([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="y_true has 3 samples but y_pred has 2"):
        M.precision([0, 1, 1], [0, 1])
    np.testing.assert_array_equal(M.confusion_matrix([0, 1, 2], [0, 2, 2], labels=[2, 0]),
                                  skm.confusion_matrix([0, 1, 2], [0, 2, 2], labels=[2, 0]))


def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(2)
    t = rng.integers(0, 2, 200)
    for score in (rng.normal(size=200) + t, np.round(rng.random(200), 1),  # many ties
                  np.zeros(200), (1 - t) * 1.0):  # all tied; all wrong (AUC 0)
        assert M.roc_auc(t, score) == pytest.approx(skm.roc_auc_score(t, score), abs=1e-12)
    p1 = rng.random(200)  # two columns: the classes' probabilities (rows summing to 1)
    proba = np.c_[1 - p1, p1]
    assert M.roc_auc(t * 2 - 1, proba) == pytest.approx(skm.roc_auc_score(t, p1))
    with pytest.raises(ValueError, match="undefined with one class"):
        M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="for several classes"):
        M.roc_auc([0, 1, 2], [0.1, 0.2, 0.3])


def test_log_loss_matches_sklearn():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(50, 4)) * 3
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    t = rng.integers(0, 4, 50)
    assert M.log_loss(t, prob) == pytest.approx(skm.log_loss(t, prob), rel=1e-12)
    p32 = prob.astype(np.float32)
    assert M.log_loss(t, p32) == pytest.approx(skm.log_loss(t, p32), rel=1e-6)
    # binary from the positive class's probability; confident and wrong (clipped, finite)
    tb, pb = np.array([0, 1, 1, 0]), np.array([0.0, 1.0, 0.0, 0.3])
    assert M.log_loss(tb, pb) == pytest.approx(skm.log_loss(tb, pb), rel=1e-12)
    # one class present: labels name the columns
    assert M.log_loss([2, 2], [[0.1, 0.9], [0.4, 0.6]], labels=[1, 2]) == pytest.approx(
        skm.log_loss([2, 2], [[0.1, 0.9], [0.4, 0.6]], labels=[1, 2]))
    with pytest.raises(ValueError, match="one class"):
        M.log_loss([1, 1], [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        M.log_loss([0, 1], [[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        M.log_loss([0, 1], [[2.0, -1.0], [0.5, 0.5]])


def test_r2_matches_sklearn():
    rng = np.random.default_rng(4)
    t = rng.normal(size=(30, 3))
    p = t + rng.normal(size=(30, 3)) * [0.1, 1.0, 3.0]
    t[:, 2] = 5.0  # a constant target column
    for mo in ("uniform_average", "raw_values", "variance_weighted"):
        np.testing.assert_allclose(M.r2(t, p, multioutput=mo),
                                   skm.r2_score(t, p, multioutput=mo), rtol=1e-12)
    assert M.r2(t[:, 0], p[:, 0]) == pytest.approx(skm.r2_score(t[:, 0], p[:, 0]))
    assert M.r2([3.0, 3.0], [3.0, 3.0]) == skm.r2_score([3.0, 3.0], [3.0, 3.0]) == 1.0
    assert M.r2([3.0, 3.0], [3.0, 2.0]) == skm.r2_score([3.0, 3.0], [3.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match="at least 2 samples"):
        M.r2([1.0], [1.0])


def test_top_k_accuracy_matches_sklearn_with_ties():
    rng = np.random.default_rng(5)
    score = np.round(rng.random((80, 5)), 1)  # many ties
    t = rng.integers(0, 5, 80)
    for k in (1, 2, 3, 4):
        assert M.top_k_accuracy(t, score, k=k) == pytest.approx(
            skm.top_k_accuracy_score(t, score, k=k, labels=np.arange(5)), abs=1e-12)
    tied = np.zeros((3, 4))
    assert M.top_k_accuracy([3, 2, 0], tied, k=1) == pytest.approx(
        skm.top_k_accuracy_score([3, 2, 0], tied, k=1, labels=np.arange(4)))
    with pytest.raises(ValueError, match="column indices 0 to 4"):
        M.top_k_accuracy([5], score[:1])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        M.top_k_accuracy(t, score, k=0)


# -- precision/recall/f1 in rb.fit: exact epoch values from summed counts -----------------------
@pytest.mark.parametrize("loss, pred, y", [
    ("binary_cross_entropy_with_logits", np.random.default_rng(6).normal(size=(37, 1)),
     np.random.default_rng(7).integers(0, 2, 37)),
    ("hinge", np.random.default_rng(6).normal(size=(37, 1)),
     np.random.default_rng(7).integers(0, 2, 37) * 2 - 1),
    ("cross_entropy", np.random.default_rng(6).normal(size=(37, 2)),
     np.random.default_rng(7).integers(0, 2, 37)),
    ("binary_cross_entropy", np.random.default_rng(6).random((37, 1)),
     np.random.default_rng(7).integers(0, 2, 37)),
])
def test_fit_precision_recall_f1_equal_sklearn_on_the_whole_epoch(loss, pred, y):
    plan = M.plan(["precision", "recall", "f1", "accuracy"], y, loss)
    if pred.shape[1] == 2:
        decided = pred.argmax(1)
    else:
        decided = (pred[:, 0] > (0.5 if loss == "binary_cross_entropy" else 0.0)).astype(int)
    truth = (y > 0).astype(int)
    for bs in (37, 5, 1):
        logs = _fit_logs(plan, pred, y, bs)
        assert logs["precision"] == pytest.approx(skm.precision_score(truth, decided))
        assert logs["recall"] == pytest.approx(skm.recall_score(truth, decided))
        assert logs["f1"] == pytest.approx(skm.f1_score(truth, decided))
        assert logs["accuracy"] == pytest.approx(skm.accuracy_score(truth, decided))


def test_fit_f1_of_independent_outputs_is_the_micro_average():
    rng = np.random.default_rng(8)
    logits, Y = rng.normal(size=(20, 3)), rng.integers(0, 2, (20, 3))
    plan = M.plan(["f1"], Y.astype(np.float32), "binary_cross_entropy_with_logits")
    assert _fit_logs(plan, logits, Y, 3)["f1"] == pytest.approx(
        skm.f1_score(Y, (logits > 0).astype(int), average="micro"))


def test_fit_f1_over_several_classes_is_refused_with_the_fix():
    plan = M.plan(["f1"], np.array([0, 1, 2]), "cross_entropy")
    with pytest.raises(ValueError, match=r"f1: outputs of 3 classes.*average='macro'"):
        plan[0][1](np.eye(3), np.array([0, 1, 2]))
    assert M.plan(["f1", "precision"], np.zeros((4, 2), np.float32), "mse") == []  # regression


def test_fit_reports_precision_recall_f1():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(64, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0))
    h = rb.fit(net, X, y, loss="cross_entropy", metrics=["accuracy", "f1", "precision", "recall"],
               optimizer=rb.optim.Adam(net.parameters(), lr=0.05), epochs=5, batch_size=16,
               progress=False, rng=0)
    assert all(0 <= h[m][-1] <= 1 for m in ("f1", "precision", "recall"))
    pred = rb.training.predict(net, X).argmax(1)
    res = rb.training.evaluate(net, X, y, loss="cross_entropy", metrics=["f1"], batch_size=7)
    assert res["f1"] == pytest.approx(skm.f1_score(y, pred))


def test_unbound_f1_of_one_output_asks_for_the_threshold():
    # 0.5 would be silently wrong for logits: the loss decides, so plan() binds it
    with pytest.raises(ValueError, match="f1: where a single output says class 1 depends on "
                                         "the loss"):
        M.batch_f1(np.array([[0.3], [-1.0]]), np.array([[1], [0]]))
    assert M.batch_f1(np.array([[0.3], [-1.0]]), np.array([[1], [0]]), threshold=0.0) == (2, 2)


def test_top_k_fit_metric_matches_sklearn():
    rng = np.random.default_rng(10)
    score, t = np.round(rng.random((40, 6)), 1), rng.integers(0, 6, 40)
    plan = M.plan(["accuracy", M.top_k(3)], t, "cross_entropy")
    assert [name for name, _ in plan] == ["accuracy", "top3_accuracy"]
    want = skm.top_k_accuracy_score(t, score, k=3, labels=np.arange(6))
    assert _fit_logs(plan, score, t, 7)["top3_accuracy"] == pytest.approx(want)
    assert _fit_logs(plan, score, np.eye(6)[t], 7)["top3_accuracy"] == pytest.approx(want)
    with pytest.raises(ValueError, match="top_k: k must be a positive integer; got 0"):
        M.top_k(0)


# -- EpochScore: whole-data-set scores after every epoch ----------------------------------------
def _moons_net(n_out, rng_seed=0):
    return rb.nn.Sequential(rb.nn.Dense(2, 8, rng=rng_seed), rb.nn.Tanh(),
                            rb.nn.Dense(8, n_out, rng=rng_seed))


def test_epoch_score_records_whole_set_scores_equal_to_sklearn():
    X, y = rb.datasets.load("moons", n_samples=80, rng=0)
    Xv, yv = X[60:], y[60:]
    net = _moons_net(1)
    rec = []
    spy = rb.callbacks.LambdaCallback(
        on_epoch_end=lambda trainer, epoch, logs: rec.append(rb.training.predict(net, Xv)))
    h = rb.fit(net, X[:60], y[:60], loss="binary_cross_entropy_with_logits", epochs=3,
               batch_size=8, optimizer=rb.optim.Adam(net.parameters(), lr=0.05),
               validation_data=(Xv, yv), progress=False, rng=0,
               callbacks=[M.EpochScore("roc_auc"), M.EpochScore("f1_macro"),
                          M.EpochScore("r2", data=(Xv, yv.astype(np.float32)), name="r2_v"),
                          spy])
    for epoch, out in enumerate(rec):
        assert h["val_roc_auc"][epoch] == pytest.approx(skm.roc_auc_score(yv, out[:, 0]))
        assert h["val_f1_macro"][epoch] == pytest.approx(
            skm.f1_score(yv, (out[:, 0] > 0).astype(int), average="macro"))
        assert h["r2_v"][epoch] == pytest.approx(skm.r2_score(yv, out[:, 0]))


def test_epoch_score_of_softmax_outputs_and_errors():
    X, y = rb.datasets.load("moons", n_samples=40, rng=1)
    net = _moons_net(2)
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=1, progress=False, rng=0,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               callbacks=[M.EpochScore("roc_auc", data=(X, y)),
                          M.EpochScore(lambda t, out: float(out.shape[1]), data=(X, y),
                                       name="width")])
    out = rb.training.predict(net, X)
    proba = np.exp(out) / np.exp(out).sum(1, keepdims=True)
    assert h["roc_auc"][0] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert h["width"] == [2.0]
    with pytest.raises(ValueError, match="unknown score 'auc'"):
        M.EpochScore("auc")
    with pytest.raises(ValueError, match="needs data=\\(X, y\\) or fit's validation_data"):
        rb.fit(net, X, y, loss="cross_entropy", epochs=1, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               callbacks=[M.EpochScore("f1_macro")])


# -- defects of audit w2: 1 (labels=), 2 (zero_division=nan), 3/4 (NaN, empty), 16 (multi-label
# EpochScore), 19 (NaN and mixed labels) --------------------------------------------------------
def _sk(fn, *args, **kwargs):
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):  # sklearn casts NaN labels
        warnings.simplefilter("ignore")  # sklearn warns about 0/0
        return fn(*args, **kwargs)


SCORES = ((M.precision, skm.precision_score), (M.recall, skm.recall_score),
          (M.f1, skm.f1_score))
SUBSET_CASES = [  # (y_true, y_pred, labels)
    ([0, 3, 1], [0, 0, 1], [0, 1]),    # a class-3 sample predicted 0: a false positive of 0
    ([0, 0, 1], [0, 3, 1], [0, 1]),    # a class-0 sample predicted 3: a false negative of 0
    (np.random.default_rng(11).integers(0, 5, 50), np.random.default_rng(12).integers(0, 5, 50),
     [4, 0, 2]),
    (np.random.default_rng(13).integers(0, 4, 30), np.random.default_rng(14).integers(0, 4, 30),
     [1, 7, 3]),                       # 7 is in neither: 0/0 for it
    (["a", "b", "c", "c"], ["a", "c", "c", "b"], ["c", "a"]),
    ([0, 0, 1], [2, 0, 1], [2]),       # no true sample of the labels: weighted falls back
    ([0, 0, 1], [0, 0, 1], [2]),       # no sample of the labels at all
]


@pytest.mark.parametrize("case", range(len(SUBSET_CASES)))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_with_labels_a_subset_match_sklearn(case, average):
    t, p, labels = SUBSET_CASES[case]
    for zd in (0.0, 1.0, np.nan):
        for ours, theirs in SCORES:
            want = _sk(theirs, t, p, average=average, labels=labels, zero_division=zd)
            np.testing.assert_allclose(
                ours(t, p, average=average, labels=labels, zero_division=zd), want, rtol=1e-12,
                err_msg=f"{ours.__name__} zero_division={zd}")


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", "binary", None])
def test_zero_division_nan_leaves_undefined_classes_out_as_sklearn(average):
    rng = np.random.default_rng(15)
    cases = [([0, 0, 1, 1], [0, 0, 0, 0]), ([0, 0, 0], [0, 0, 0]), ([1, 1, 0], [0, 0, 1])]
    if average != "binary":
        cases += [([0, 1, 2, 2, 1], [0, 0, 0, 1, 1]),  # class 2 never predicted
                  (rng.integers(0, 6, 12), rng.integers(0, 3, 12))]
    for t, p in cases:
        for ours, theirs in SCORES:
            want = _sk(theirs, t, p, average=average, zero_division=np.nan)
            np.testing.assert_allclose(ours(t, p, average=average, zero_division=np.nan),
                                       want, rtol=1e-12, err_msg=f"{ours.__name__} {t} {p}")


@pytest.mark.parametrize("t, p, where", [
    ([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], "y_true"),
    ([1.0, 2.0, np.inf], [1.0, 2.0, 3.0], "y_true"),
    ([1.0, 2.0, 3.0], [1.0, np.nan, 3.0], "y_pred"),
    ([[1.0, 1], [2, 2], [np.nan, 3]], [[1.0, 1], [2, 2], [3, 3.5]], "y_true"),
])
def test_r2_refuses_nan_and_inf_as_sklearn(t, p, where):
    with pytest.raises(ValueError):
        skm.r2_score(t, p)
    for mo in ("uniform_average", "raw_values", "variance_weighted"):
        with pytest.raises(ValueError, match=f"r2: {where} contains NaN or inf"):
            M.r2(t, p, multioutput=mo)


def test_nan_scores_and_empty_input_are_refused_as_sklearn():
    for score in ([[np.nan, 1, 0], [0, 1, 2]], [[np.inf, 1, 0], [0, 1, 2]]):
        with pytest.raises(ValueError):
            skm.top_k_accuracy_score([0, 1], score, k=1, labels=[0, 1, 2])
        with pytest.raises(ValueError, match="top_k_accuracy: y_score contains NaN or inf"):
            M.top_k_accuracy([0, 1], score, k=1)
    with pytest.raises(ValueError):
        skm.log_loss([], np.zeros((0, 2)), labels=[0, 1])
    with pytest.raises(ValueError, match="log_loss: no samples"):
        M.log_loss([], np.zeros((0, 2)), labels=[0, 1])
    with pytest.raises(ValueError, match="log_loss: y_prob contains NaN"):
        M.log_loss([0, 1, 1], [0.2, np.nan, 0.9])
    for average in ("binary", "macro", "micro", "weighted", None):
        for ours, theirs in SCORES:
            with pytest.raises(ValueError):
                theirs([], [], average=average)
            with pytest.raises(ValueError, match=f"{ours.__name__}: no samples"):
                ours([], [], average=average, zero_division=1.0)
    with pytest.raises(ValueError, match="confusion_matrix: no samples"):
        M.confusion_matrix([], [])
    with pytest.raises(ValueError, match="roc_auc: no samples"):
        M.roc_auc([], [])


NAN = [0.0, np.nan, 1.0]
BAD_LABELS = [  # (y_true, y_pred, what the message names)
    (NAN, [0.0, 1.0, 1.0], "y_true contains NaN or inf"),
    ([0.0, 1.0, 1.0], NAN, "y_pred contains NaN or inf"),
    ([0.0, np.inf, 1.0], [0.0, 1.0, 1.0], "y_true contains NaN or inf"),
    ([0, 1, 1], ["0", "1", "1"], "y_true and y_pred hold a mix of numbers and strings"),
    (["0", "1"], [0.0, 1.0], "y_true and y_pred hold a mix of numbers and strings"),
    (np.array([0, "1", 1], object), [0, 1, 1], "y_true and y_pred hold a mix of numbers and"),
]


@pytest.mark.parametrize("t, p, message", BAD_LABELS)
def test_nan_and_mixed_type_labels_are_refused_as_sklearn(t, p, message):
    # sklearn: "Input y_true contains NaN", "Mix of label input types" (a TypeError from
    # sorting a mixed object array)
    with pytest.raises((ValueError, TypeError)):
        _sk(skm.confusion_matrix, t, p)
    with pytest.raises(ValueError, match=f"confusion_matrix: {message}"):
        M.confusion_matrix(t, p)
    for average in ("binary", "macro", "micro", "weighted", None):
        for ours, theirs in SCORES:
            with pytest.raises((ValueError, TypeError)):
                _sk(theirs, t, p, average=average)
            with pytest.raises(ValueError, match=f"{ours.__name__}: {message}"):
                ours(t, p, average=average)


MULTILABEL = (np.random.default_rng(16).integers(0, 2, (25, 4)),
              np.random.default_rng(17).integers(0, 2, (25, 4)))


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_of_multilabel_indicators_match_sklearn(average):
    t, p = MULTILABEL
    t = t.copy()
    t[:, 3] = 0  # a label with no true sample
    for labels in (None, [2, 0], [3]):
        for zd in (0.0, 1.0, np.nan):
            for ours, theirs in SCORES:
                want = _sk(theirs, t, p, average=average, labels=labels, zero_division=zd)
                np.testing.assert_allclose(
                    ours(t, p.astype(bool), average=average, labels=labels, zero_division=zd),
                    want, rtol=1e-12, err_msg=f"{ours.__name__} labels={labels} zd={zd}")
    with pytest.raises(ValueError, match="f1: multi-label .* average='binary'"):
        M.f1(t, p)
    with pytest.raises(ValueError, match="labels must be column indices in 0 to 3"):
        M.f1(t, p, average="macro", labels=[4])
    with pytest.raises(ValueError, match="y_true has shape \\(25, 4\\) but y_pred has"):
        M.f1(t, p[:, 0], average="macro")
    with pytest.raises(ValueError, match="0/1 indicator"):
        M.f1(t * 2, p, average="macro")


@pytest.mark.parametrize("loss, threshold, signed", [
    ("binary_cross_entropy_with_logits", 0.0, False), ("hinge", 0.0, True),
])
def test_epoch_score_of_a_multilabel_model_thresholds_every_column(loss, threshold, signed):
    r = np.random.default_rng(0)
    X = r.normal(size=(60, 4)).astype(np.float32)
    Y = (X[:, :3] + 0.3 * r.normal(size=(60, 3)) > 0).astype(np.float32)  # multi-hot rows
    if signed:
        Y = 2 * Y - 1
    net = rb.nn.Sequential(rb.nn.Dense(4, 3, rng=0))
    rec = []
    spy = rb.callbacks.LambdaCallback(
        on_epoch_end=lambda trainer, epoch, logs: rec.append(rb.training.predict(net, X)))
    names = ("f1_macro", "f1_weighted", "precision_macro", "recall_macro")
    h = rb.fit(net, X, Y, loss=loss, epochs=3, batch_size=20, progress=False, rng=0,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.5), validation_data=(X, Y),
               callbacks=[*(M.EpochScore(n) for n in names), spy])
    truth = (Y > 0).astype(int)
    for epoch, out in enumerate(rec):
        P = (out > threshold).astype(int)
        for n in names:
            kind, average = n.split("_")
            fn = {"f1": skm.f1_score, "precision": skm.precision_score,
                  "recall": skm.recall_score}[kind]
            assert h[f"val_{n}"][epoch] == pytest.approx(
                _sk(fn, truth, P, average=average, zero_division=0.0), abs=1e-12)


def test_epoch_score_roc_auc_refuses_independent_outputs():
    r = np.random.default_rng(0)
    X = r.normal(size=(30, 4)).astype(np.float32)
    Y = (X[:, :2] > 0).astype(np.float32)  # two independent labels
    net = rb.nn.Sequential(rb.nn.Dense(4, 2, rng=0))
    with pytest.raises(ValueError, match="outputs are independent labels"):
        rb.fit(net, X, Y, loss="binary_cross_entropy_with_logits", epochs=1, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1), validation_data=(X, Y),
               callbacks=[M.EpochScore("roc_auc")])


# -- audit s6 (a4) ---------------------------------------------------------------------------
# 4: labels of another type than the class labels matched no sample: silent zeros
@pytest.mark.parametrize("call", [
    lambda: M.f1([0, 1, 1], [0, 1, 0], average="macro", labels=["0", "1"]),
    lambda: M.precision([0, 1, 1], [0, 1, 0], average=None, labels=["0", "1"]),
    lambda: M.recall(["a", "b"], ["a", "b"], average="macro", labels=[0, 1]),
    lambda: M.confusion_matrix([0, 1, 1], [0, 1, 0], labels=["0", "1"]),
])
def test_labels_of_another_type_than_the_classes_are_refused(call):
    with pytest.raises(ValueError, match="labels .* a mix of numbers and strings"):
        call()


def test_confusion_matrix_refuses_labels_of_which_none_is_true():
    skm = pytest.importorskip("sklearn.metrics")
    with pytest.raises(ValueError, match="At least one label"):
        skm.confusion_matrix([0, 1, 1], [0, 1, 0], labels=[5, 6])
    with pytest.raises(ValueError, match=r"confusion_matrix: none of labels \[5, 6\] occurs in "
                                         r"y_true"):
        M.confusion_matrix([0, 1, 1], [0, 1, 0], labels=[5, 6])
    # one true label among them is enough, as scikit-learn
    np.testing.assert_array_equal(M.confusion_matrix([0, 1, 1], [0, 1, 0], labels=[1, 5]),
                                  skm.confusion_matrix([0, 1, 1], [0, 1, 0], labels=[1, 5]))
    assert M.f1([0, 1, 1], [0, 1, 0], average="macro", labels=[0, 1]) == pytest.approx(2 / 3)


# 7: one output against -1/+1 targets is decided by its sign, as rb.fit's accuracy decides
def test_epoch_score_decides_signed_targets_by_the_sign():
    skm = pytest.importorskip("sklearn.metrics")
    y = np.array([[1], [1], [-1], [-1], [1], [-1]])
    out = np.array([[0.3], [0.7], [-0.2], [0.1], [-0.4], [-0.9]])
    truth, seen = M._decode(out, y, "label", "mse", "f1_macro")
    np.testing.assert_array_equal(seen, (out.ravel() > 0).astype(int))
    np.testing.assert_array_equal(truth, (y.ravel() > 0).astype(int))
    # through rb.fit: EpochScore scores what the sign rule of val_accuracy decides
    X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    y = np.where(X[:, :1] > 0, 1, -1)
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0), rb.nn.Tanh())
    h = rb.fit(net, X, y, loss="mse", epochs=1, progress=False, metrics=["accuracy"],
               optimizer=rb.optim.SGD(net.parameters(), lr=1e-6), validation_data=(X, y),
               callbacks=[M.EpochScore("recall_macro")])
    out = rb.training.predict(net, X).ravel()
    assert h["val_accuracy"][-1] == pytest.approx(skm.accuracy_score(y.ravel() > 0, out > 0))
    assert h["val_recall_macro"][-1] == pytest.approx(
        skm.recall_score(y.ravel() > 0, out > 0, average="macro"))
