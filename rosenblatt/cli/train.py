"""``rosenblatt train CONFIG.toml``: train a model from a config; save model, metrics, curve.

Writes into the config's ``output.dir``:

* ``model.safetensors``: the trained model (``rb.load`` reads it), with the
  preprocessing (standardisation mean/std), task and data split in its metadata;
* ``metrics.json``: per-epoch history, test metrics, timing and the config;
* ``learning_curve.png``: loss and accuracy per epoch, training and validation.

Progress goes to stderr; stdout gets the final summary only.

Under an MPI launcher (``mpirun -n 2 rosenblatt train config.toml``) the
ranks train data-parallel (``rb.fit(..., distributed="mpi")``) and rank 0
alone writes the outputs and prints.
"""

import json
import os
import sys
import time

import numpy as np

from . import build, config
from .data import CLASSIFICATION_LOSSES, prepare, standardizer
from .errors import CLIError


def add_parser(sub):
    p = sub.add_parser("train", help="train a model described by a TOML config",
                       description="Train a model from a TOML config (see examples/) and write "
                       "the model, metrics.json and learning_curve.png to its output folder.")
    p.add_argument("config", metavar="CONFIG.toml")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides output.dir)")
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--seed", type=int, help="override seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, metavar="N",
                   help="limit NumPy's BLAS threads (small networks train faster with 1)")
    p.set_defaults(func=run)
    return p


def history_dict(history):
    """Per-epoch metrics as {name: [values]} from a History (NaN -> None, valid JSON)."""
    table = history.history if hasattr(history, "history") else dict(history)
    return {k: [float(v) if np.isfinite(v) else None for v in vs] for k, vs in table.items()}


def predict_batches(model, x, batch_size=1024):
    """The model's outputs for x, in evaluation mode, without building a graph."""
    import rosenblatt as rb

    model.eval()
    outs = []
    with rb.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(np.asarray(model(rb.tensor(x[i:i + batch_size])).data))
    return np.concatenate(outs) if outs else np.empty((0,))


def evaluate_arrays(model, x, y, loss_name, task):
    """Loss (and accuracy for classification) of a model on arrays."""
    import rosenblatt as rb

    out = predict_batches(model, x)
    loss_fn = getattr(rb.losses, loss_name)
    with rb.no_grad():
        loss = float(np.asarray(loss_fn(rb.tensor(out), y).data))
    result = {"loss": loss, "samples": int(len(x))}
    if task == "classification":
        pred = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else (out.ravel() > 0)
        labels = y.argmax(axis=1) if y.ndim == 2 else y
        result["accuracy"] = float(np.mean(pred.astype(int) == labels.astype(int)))
    return result


def plot_curves(hist, path, title):
    """Save the learning curves (loss; accuracy when present) as a PNG."""
    from ..tour.context import new_figure

    acc = [k for k in ("accuracy", "val_accuracy") if k in hist]
    fig = new_figure((9 if acc else 5, 3.4))
    axes = fig.subplots(1, 2 if acc else 1)
    axes = list(np.atleast_1d(axes))
    def values(key):
        return [np.nan if v is None else v for v in hist[key]]

    for key in ("loss", "val_loss"):
        if key in hist:
            axes[0].plot(range(1, len(hist[key]) + 1), values(key), label=key)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[0].grid(True, alpha=0.3)
    if acc:
        for key in acc:
            axes[1].plot(range(1, len(hist[key]) + 1), values(key), label=key)
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("accuracy")
        axes[1].legend()
        axes[1].grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def _task(loss_name, y):
    if loss_name in CLASSIFICATION_LOSSES and (y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
                                               or y.ndim == 2 and y.shape[1] > 1):
        return "classification"
    return "regression"


def _mpi_world():
    """``(communicator, "mpi")`` under mpirun with several ranks, else ``(None, None)``."""
    from ..training.distributed import launched_by_mpirun, world

    if not launched_by_mpirun():
        return None, None
    try:
        comm = world("rosenblatt train")
    except ImportError as e:
        raise CLIError(str(e)) from None
    return (comm, "mpi") if comm.Get_size() > 1 else (None, None)


def run(args):
    from ..tour.threads import blas_threads

    with blas_threads(args.threads):
        return _run(args)


def _run(args):
    import rosenblatt as rb

    cfg = config.read(args.config)
    if args.epochs is not None:
        if args.epochs < 1:
            raise CLIError(f"--epochs must be >= 1; got {args.epochs}")
        cfg["training"]["epochs"] = args.epochs
    if args.seed is not None:
        cfg["seed"] = args.seed
    out_dir = args.out or cfg["output"]["dir"]
    seed, training = cfg["seed"], cfg["training"]
    rb.seed(seed)
    rng = np.random.default_rng(seed)

    loss_name, loss_fn = build.check_loss(training["loss"])
    xtr, ytr, xv, yv, xt, yt = prepare(cfg["data"], seed)
    rb.seed(seed)  # the model's initialisation does not depend on how the data were drawn
    task = _task(loss_name, ytr)
    dtype = np.dtype(cfg["model"]["dtype"])
    mean, std = standardizer(xtr) if cfg["data"]["standardize"] else (
        np.zeros(xtr.shape[1]), np.ones(xtr.shape[1]))

    shape = tuple(cfg["data"]["shape"] or (xtr.shape[1],))
    if int(np.prod(shape)) != xtr.shape[1]:
        raise CLIError(f"config key 'data.shape': {list(shape)} holds {int(np.prod(shape))} "
                       f"values but dataset {cfg['data']['name']!r} has {xtr.shape[1]} "
                       "features per sample")

    def prep_x(x):
        return ((x - mean) / std).astype(dtype).reshape(len(x), *shape)

    def prep_y(y):
        if task == "classification" or y.ndim == 0:
            return y
        y = y.astype(dtype)
        return y[:, None] if y.ndim == 1 else y

    xtr_, xv_, xt_ = prep_x(xtr), prep_x(xv), prep_x(xt)
    ytr_, yv_, yt_ = prep_y(ytr), prep_y(yv), prep_y(yt)

    model = build.build_model(cfg["model"]["layers"], shape, cfg["model"]["dtype"], rng)
    with rb.no_grad():
        out = model.eval()(rb.tensor(xtr_[:2]))
    model.train()
    classes = int(ytr.max()) + 1 if task == "classification" and ytr.ndim == 1 else None
    if classes is not None and out.shape[-1] not in (classes,) and not (
            classes == 2 and out.shape[-1] == 1):
        raise CLIError(f"config key 'model.layers[{len(cfg['model']['layers']) - 1}]': the model "
                       f"outputs {out.shape[-1]} values per sample but dataset "
                       f"{cfg['data']['name']!r} has {classes} classes")
    schedule = build.build_schedule(cfg["schedule"])
    opt_spec = dict(cfg["optimizer"])
    if schedule is not None:
        if "lr" in opt_spec:
            raise CLIError("config keys 'optimizer.lr' and [schedule] both set the learning "
                           "rate; keep one (the schedule's own lr is its starting rate)")
        opt_spec["lr"] = schedule  # evaluated before every step
    optimizer = build.build_optimizer(opt_spec, model.parameters())
    regularizers = build.build_named("regularizers", cfg["regularizers"])
    callbacks = build.build_named("callbacks", cfg["callbacks"])

    comm, distributed = _mpi_world()
    fit_args = dict(loss=loss_fn, optimizer=optimizer, epochs=training["epochs"],
                    batch_size=training["batch_size"], shuffle=training["shuffle"],
                    metrics=tuple(training["metrics"]) if task == "classification" else (),
                    regularizers=regularizers, callbacks=callbacks,
                    progress=not args.quiet, rng=rng, distributed=distributed)
    if len(xv_):
        fit_args["validation_data"] = (xv_, yv_)
    start = time.perf_counter()
    try:
        history = rb.fit(model, xtr_, ytr_, **fit_args)
    except (ValueError, TypeError) as e:
        raise CLIError(f"training failed: {e}") from None
    seconds = time.perf_counter() - start
    if comm is not None and comm.Get_rank() != 0:  # rank 0 writes and reports
        return 0
    hist = history_dict(history)
    if getattr(history, "stop_reason", None):
        print(history.stop_reason, file=sys.stderr)
    test = evaluate_arrays(model, xt_, yt_, loss_name, task)

    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "model.safetensors")
    meta = {"cli": {"dataset": cfg["data"]["name"], "options": cfg["data"]["options"],
                    "task": task, "loss": loss_name, "seed": seed,
                    "test": cfg["data"]["test"], "validation": cfg["data"]["validation"],
                    "classes": classes, "dtype": cfg["model"]["dtype"], "shape": list(shape),
                    "mean": np.ascontiguousarray(mean, dtype=np.float64),
                    "std": np.ascontiguousarray(std, dtype=np.float64)}}
    rb.save(model.eval(), model_path, metadata=meta)
    metrics = {"config": args.config, "dataset": cfg["data"]["name"], "task": task,
               "epochs_run": len(next(iter(hist.values()), [])), "train_seconds": seconds,
               "samples": {"train": len(xtr), "validation": len(xv), "test": len(xt)},
               "parameters": model.num_parameters(), "history": hist, "test": test,
               "stop_reason": getattr(history, "stop_reason", None)}
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    curve = os.path.join(out_dir, "learning_curve.png")
    try:
        plot_curves(hist, curve, f"{os.path.basename(args.config)}: {cfg['data']['name']}")
    except RuntimeError as e:  # matplotlib (the 'plot' extra) is not installed
        print(f"rosenblatt train: no learning curve: {e}", file=sys.stderr)
        curve = None
    line = f"test loss {test['loss']:.4f}"
    if "accuracy" in test:
        line = f"test accuracy {test['accuracy']:.4f}, " + line
    print(f"{line} ({len(xt)} samples); trained {metrics['epochs_run']} epochs in {seconds:.1f} s")
    print(f"model: {model_path}")
    print(f"metrics: {os.path.join(out_dir, 'metrics.json')}")
    if curve:
        print(f"learning curve: {curve}")
    return 0

