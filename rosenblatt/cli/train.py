"""``rosenblatt train CONFIG.toml``: train a model from a config; save model, metrics, curve.

Writes into the config's ``output.dir``:

* ``model.safetensors``: the trained model (``rb.load`` reads it), with the
  preprocessing (standardisation mean/std), task and data split in its metadata (for your
  own data file, also its SHA-256, by which ``evaluate`` finds its test rows again);
* ``checkpoint.safetensors``: the last epoch's training state (model, optimizer, random
  generators), which ``--resume`` continues from;
* ``metrics.json``: per-epoch history, test metrics, timing and the config;
* ``learning_curve.png``: loss and accuracy per epoch, training and validation;
* ``run_config.json``: the run's config (all but ``training.epochs`` and ``[output]``) and
  its data files' sizes and SHA-256, which ``--resume`` must keep.

JSON files are strict JSON: a non-finite number (a diverged loss) is written as ``null``.

Progress goes to stderr; stdout gets the final summary only.

Under an MPI launcher (``mpirun -n 2 rosenblatt train config.toml``) the
ranks train data-parallel (``rb.fit(..., distributed="mpi")``) and rank 0
alone writes the outputs and prints.
"""

import hashlib
import json
import os
import sys
import time

import numpy as np

from . import build, config
from .data import (
    BINARY_LOSSES,
    CLASSIFICATION_LOSSES,
    SIGN_LOSSES,
    prepare,
    resolved_files,
    standardizer,
)
from .errors import CLIError

EXIT_DIVERGED = 3  # the loss diverged: the best model so far and its metrics were written
MAX_THREADS = 1024
RUN_FILES = ("model.safetensors", "metrics.json", "checkpoint.safetensors")
REGRESSION_METRICS = ("mae", "mse")


def add_parser(sub):
    p = sub.add_parser("train", help="train a model described by a TOML config",
                       description="Train a model from a TOML config (see examples/) and write "
                       "the model, metrics.json, learning_curve.png, checkpoint.safetensors (what "
                       "--resume continues) and run_config.json to its output folder. "
                       "Exit codes: 0 trained; 2 a mistake in the command, the config or the "
                       "data (found before training); 3 the loss diverged (the best model "
                       "so far and its metrics are written; try a lower learning rate).")
    p.add_argument("config", metavar="CONFIG.toml")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides output.dir)")
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--seed", type=int, help=f"override seed (0 to {config.MAX_SEED})")
    p.add_argument("--quiet", action="store_true",
                   help="no progress (bar on a terminal, one line per epoch otherwise)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="limit NumPy's BLAS threads (small networks train faster with 1)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run in the output folder from its last checkpoint "
                            "(ends with the same model as an uninterrupted run); the config "
                            "and data files must be the run's, all but training.epochs")
    again.add_argument("--overwrite", action="store_true",
                       help="start again in an output folder that holds a run")
    p.set_defaults(func=run)
    return p


def finite_json(value):
    """``value`` with every non-finite float (NaN, +-inf) as None, NumPy scalars as Python
    numbers: strict JSON (``null``), which jq and JavaScript's JSON.parse read."""
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def write_json(path, value):
    """Write ``value`` as strict JSON, atomically (a reader never sees half a file).

    Non-finite numbers (a diverged loss, an overflow) are written as ``null``
    (:func:`finite_json`): the JSON standard has no NaN or Infinity.
    """
    from ..io.atomic import atomic_write

    with atomic_write(path, "w") as f:
        json.dump(finite_json(value), f, indent=2, allow_nan=False)


def save_figure(fig, path, **kwargs):
    """``fig.savefig`` through the atomic temp-fsync-rename path."""
    import io

    from ..io.atomic import write_bytes_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format=os.path.splitext(path)[1][1:] or "png", **kwargs)
    write_bytes_atomic(path, buffer.getvalue())


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


def binary_threshold(loss_name):
    """Where a one-output binary classifier's output says class 1: its logit (or +-1 score)
    above 0, its probability (binary_cross_entropy, after a Sigmoid) above 0.5."""
    from ..training.metrics import LOGIT_LOSSES  # as rb.fit's accuracy thresholds them

    return 0.0 if loss_name in LOGIT_LOSSES else 0.5


def loss_targets(y, loss_name):
    """Class labels as the loss takes them: 0/1 become -1/+1 for hinge and log_loss (the
    notes' c = +-1); other losses take the labels as they are."""
    if loss_name in SIGN_LOSSES:
        return np.where(np.asarray(y) > 0, 1, -1).astype(np.int64)
    return y


def default_loss(out, task):
    """The loss of a model whose file names none (``rb.save``'s, evolve's), from its outputs
    ``out``: mse for regression; for classification, cross_entropy over several columns and,
    over one (a binary classifier, whose cross-entropy over one class would be log 1 = 0),
    binary_cross_entropy on outputs in [0, 1] (a Sigmoid's), with_logits on others."""
    if task != "classification":
        return "mse"
    if out.ndim == 2 and out.shape[1] > 1:
        return "cross_entropy"
    inside = out.size and np.all((out >= 0) & (out <= 1))
    return "binary_cross_entropy" if inside else "binary_cross_entropy_with_logits"


def evaluate_arrays(model, x, y, loss_name, task):
    """Loss (and accuracy for classification) of a model on arrays.

    Targets of shape (n,) meet outputs of shape (n, 1) as in ``rb.fit``
    (:func:`~rosenblatt.training.trainer.target_for`). ``loss_name`` None: chosen from the
    outputs (:func:`default_loss`).
    """
    import rosenblatt as rb
    from rosenblatt.training.trainer import target_for

    out = predict_batches(model, x)
    loss_name = loss_name or default_loss(out, task)
    loss_fn = getattr(rb.losses, loss_name)
    target = target_for(out, loss_targets(y, loss_name), loss_name)
    # the loss in float64: finite float32 outputs far from their targets (1e30) do not
    # overflow to inf
    out = out.astype(np.float64) if out.dtype.kind == "f" else out
    if np.asarray(target).dtype.kind == "f":
        target = np.asarray(target, dtype=np.float64)
    with rb.no_grad():
        loss = float(np.asarray(loss_fn(rb.tensor(out), target).data))
    result = {"loss": loss, "samples": int(len(x))}
    if task == "classification":
        if out.ndim == 2 and out.shape[1] > 1:
            pred = out.argmax(axis=1)
            labels = y.argmax(axis=1) if y.ndim == 2 else y
        else:
            pred = out.ravel() > binary_threshold(loss_name)
            labels = np.asarray(y).ravel() > 0  # 0/1 or -1/+1 labels
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
    losses = [v for key in ("loss", "val_loss") if key in hist for v in hist[key]
              if v is not None]
    if losses and min(losses) > 0:  # a log scale shows nothing of losses <= 0
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
    save_figure(fig, path, dpi=100, bbox_inches="tight")


def _task(loss_name, y):
    if loss_name in CLASSIFICATION_LOSSES and (y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
                                               or y.ndim == 2 and y.shape[1] > 1):
        return "classification"
    return "regression"


def fit_metrics(metrics, task):
    """training.metrics as ``rb.fit`` takes them: every one for classification; for
    regression the error metrics (mae, mse), accuracy meaning nothing there."""
    known = ("accuracy", "acc", *REGRESSION_METRICS)
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise CLIError(f"config key 'training.metrics': unknown metric {unknown[0]!r}; expected "
                       f"some of: {', '.join(known)}")
    if task == "classification":
        wrong = [m for m in metrics if m in REGRESSION_METRICS]
        if wrong:
            raise CLIError(f"config key 'training.metrics': {wrong[0]!r} measures the error of "
                           f"real-valued outputs; for class labels use \"accuracy\"")
        return tuple(metrics)
    return tuple(m for m in metrics if m in REGRESSION_METRICS)


def check_arguments(args):
    """--epochs, --seed, --threads in range (before anything is read or written)."""
    if args.epochs is not None and args.epochs < 1:
        raise CLIError(f"--epochs must be >= 1; got {args.epochs}")
    if args.seed is not None and not 0 <= args.seed <= config.MAX_SEED:
        raise CLIError(f"--seed must be in [0, {config.MAX_SEED}]; got {args.seed}")
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise CLIError(f"--threads must be in [1, {MAX_THREADS}]; got {args.threads}")


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

    check_arguments(args)
    with blas_threads(args.threads):
        return _run(args)


class _Output:
    """The output folder: created and proven writable before training, removed if unused."""

    def __init__(self, out_dir):
        self.dir = out_dir
        self.created = []

    def make(self, folder, key):
        """Create ``folder`` (and parents) and write a probe file in it; CLIError if not."""
        folder = os.path.abspath(folder)
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise CLIError(f"{key}: {folder} exists and is a file, not a folder")
        missing = []
        head = folder
        while not os.path.exists(head):
            missing.append(head)
            parent = os.path.dirname(head)
            if parent == head:
                break
            head = parent
        if os.path.exists(head) and not os.path.isdir(head):
            raise CLIError(f"{key}: cannot create {folder}: {head} is a file")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise CLIError(f"{key}: cannot create {folder}: {e.strerror or e}") from None
        self.created.extend(reversed(missing))
        probe = os.path.join(folder, f".rosenblatt-write-test.{os.getpid()}")
        try:
            with open(probe, "wb") as f:
                f.write(b"x")
            os.unlink(probe)
        except OSError as e:
            raise CLIError(f"{key}: cannot write in {folder}: {e.strerror or e}") from None

    def discard(self):
        """Remove the folders this run created, if still empty (a refused run leaves nothing)."""
        for folder in reversed(self.created):
            try:
                os.rmdir(folder)
            except OSError:
                pass


def _run(args):
    cfg = config.read(args.config)
    if args.epochs is not None:
        cfg["training"]["epochs"] = args.epochs
    if args.seed is not None:
        cfg["seed"] = args.seed
    out_dir = args.out or cfg["output"]["dir"]
    output = _Output(out_dir)
    key = "option --out" if args.out else "config key 'output.dir'"
    existing = [name for name in RUN_FILES if os.path.isfile(os.path.join(out_dir, name))]
    checkpoint = os.path.join(out_dir, "checkpoint.safetensors")
    if existing and not (args.resume or args.overwrite):
        raise CLIError(f"{out_dir} holds a run already ({', '.join(existing)}); use --resume to "
                       f"continue it or --overwrite to start again")
    try:
        output.make(out_dir, key)
        setup = _prepare(args, cfg, output)
    except BaseException:
        output.discard()
        raise
    if args.overwrite and os.path.exists(checkpoint):
        os.unlink(checkpoint)  # a new run: nothing to resume from
    if args.resume and not os.path.exists(checkpoint):
        print(f"rosenblatt train: note: {out_dir} holds no checkpoint; starting the run from "
              f"the beginning", file=sys.stderr)
    if args.resume and os.path.exists(checkpoint):
        _check_readable(checkpoint)
    _check_same_run(cfg, out_dir, args.resume and os.path.exists(checkpoint),
                      os.path.dirname(os.path.abspath(args.config)))
    return _train(args, cfg, out_dir, checkpoint, **setup)


def _check_readable(checkpoint):
    """``--resume``: the checkpoint can be read at all. A damaged file (truncated, a flipped
    bit, empty) is told apart from a readable checkpoint of another run, which ``rb.fit``
    refuses as "does not belong to this config"."""
    import rosenblatt as rb

    try:
        rb.io.load_checkpoint(checkpoint)
    except rb.FormatError as e:
        reason = str(e).removeprefix(f"{checkpoint}: ")
        raise CLIError(f"--resume: {checkpoint} is damaged or not a checkpoint ({reason}); "
                       f"rerun with --overwrite to start again") from None
    except OSError as e:
        raise CLIError(f"--resume: cannot read {checkpoint}: {e.strerror or e}") from None


RUN_CONFIG = "run_config.json"
RUN_CONFIG_VERSION = 2  # 2: the whole config and the data files' fingerprints; 1: seed, [data]
DATA_FILES = ("path", "test", "validation")  # the [data] keys that may name files


def flat_config(value, prefix=""):
    """``{"optimizer.lr": 0.01, "model.layers[0].type": "Dense", ...}`` of a nested config."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flat_config(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flat_config(v, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def fingerprint(path):
    """``{"size": bytes, "sha256": hex}`` of a file: its contents, whatever its name.

    Read once per run in 1 MiB blocks (about a second per GB); an unreadable file gives
    None, and reading it for training reports the error."""
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
                size += len(block)
    except OSError:
        return None
    return {"size": size, "sha256": digest.hexdigest()}


def _run_config(cfg, base_dir):
    """What ``run_config.json`` records of a run: all of its config but training.epochs
    (``--epochs`` extends a run) and [output] (where it is written), data files as the
    files they name, and those files' fingerprints (:func:`fingerprint`)."""
    current = {k: v for k, v in cfg.items() if k != "output"}
    current["training"] = {k: v for k, v in cfg["training"].items() if k != "epochs"}
    if base_dir is not None:
        current["data"] = resolved_files(cfg["data"], base_dir)
        current["data_files"] = {
            f"data.{k}": fingerprint(current["data"][k]) for k in DATA_FILES
            if isinstance(current["data"].get(k), str) and current["data"][k]}
    current["version"] = RUN_CONFIG_VERSION
    return json.loads(json.dumps(current, sort_keys=True, default=str))


def _check_same_run(cfg, out_dir, resuming, base_dir=None):
    """A resumed run keeps the config of the run it continues, all of it but training.epochs
    and [output] (its seed, training rows and test split, model, loss, optimizer and its
    hyper-parameters, ...), and the contents of its data files, kept in ``run_config.json``;
    a new run writes that file. Otherwise CLIError naming the keys that differ: a run with
    other settings is a new run (``--overwrite`` or another ``--out``).

    With ``base_dir`` (the config's folder), data.path/test/validation are compared as the
    files they name (:func:`~rosenblatt.cli.data.resolved_files`), not as written, and by
    their contents (size and SHA-256)."""
    current = _run_config(cfg, base_dir)
    path = os.path.join(out_dir, RUN_CONFIG)
    if resuming:
        try:
            with open(path, encoding="utf-8") as f:
                before = json.load(f)
        except FileNotFoundError:
            return  # a run of an older version: nothing to compare with
        except (OSError, ValueError, RecursionError) as e:
            raise CLIError(f"--resume: cannot read {path}: {e}") from None
        if not isinstance(before, dict) or not isinstance(before.get("data", {}), dict):
            raise CLIError(f"--resume: {path} is damaged (expected the object train writes); "
                           f"use --overwrite to start again")
        _compare_run_config(before, current, out_dir, base_dir)
        return
    try:
        from ..io.atomic import write_bytes_atomic

        write_bytes_atomic(path, json.dumps(current, indent=1, sort_keys=True).encode())
    except OSError as e:
        raise CLIError(f"cannot write {path}: {e.strerror or e}") from None


def _compare_run_config(before, current, out_dir, base_dir):
    """CLIError naming what differs between a run's ``run_config.json`` (``before``) and the
    config it is resumed under (``current``, :func:`_run_config`)."""
    if base_dir is not None:  # a file written as the config had it
        before = dict(before, data=resolved_files(before.get("data", {}), base_dir))
    if before.get("version") != RUN_CONFIG_VERSION:  # an older run recorded seed and [data]
        before = {k: before.get(k) for k in ("seed", "data")}
        current = {k: current.get(k) for k in ("seed", "data")}
    files_before = before.pop("data_files", None)
    files_now = current.pop("data_files", None)
    old, new = flat_config(before), flat_config(current)
    unset = "(unset)"
    changed = sorted(k for k in old.keys() | new.keys()
                     if old.get(k, unset) != new.get(k, unset))
    if changed:
        key = changed[0]
        more = (f" (and {len(changed) - 1} more: {', '.join(changed[1:6])}"
                f"{', ...' if len(changed) > 6 else ''})" if len(changed) > 1 else "")
        raise CLIError(f"--resume: the run in {out_dir} used {key} "
                       f"{json.dumps(old.get(key, unset))}, not "
                       f"{json.dumps(new.get(key, unset))}{more}; resuming needs the same "
                       f"config (all but training.epochs and [output]); use --overwrite to "
                       f"start again, or another --out for a run with new settings")
    if not isinstance(files_before, dict) or not isinstance(files_now, dict):
        return
    for key, now in sorted(files_now.items()):
        was = files_before.get(key)
        if was is not None and now is not None and was != now:
            what = (f"sha256 {str(was.get('sha256'))[:12]}... -> {now['sha256'][:12]}..."
                    if isinstance(was, dict) else "another file")
            raise CLIError(f"--resume: {key} {current['data'][key.removeprefix('data.')]} "
                           f"changed since the run in {out_dir} began ({what}): its training "
                           f"and test rows are not the run's; use --overwrite to start again")


def _prepare(args, cfg, output):
    """Everything training needs, checked: data, model (memory), optimizer, callbacks."""
    import rosenblatt as rb

    seed, training = cfg["seed"], cfg["training"]
    rb.seed(seed)
    rng = np.random.default_rng(seed)

    loss_name, loss_fn = build.check_loss(training["loss"])
    base_dir = os.path.dirname(os.path.abspath(args.config))
    notes = []
    data = prepare_data(cfg, base_dir, loss_name, notes)
    rb.seed(seed)  # the model's initialisation does not depend on how the data were drawn
    task, shape, xtr_ = data["task"], data["shape"], data["arrays"][0]
    model = build.build_model(cfg["model"]["layers"], shape, cfg["model"]["dtype"], rng,
                              batch_size=min(training["batch_size"], len(xtr_)),
                              memory_limit=build.available_memory())
    first = model[0] if len(model) else None
    if isinstance(first, rb.nn.Embedding) and cfg["data"]["standardize"]:
        raise CLIError("config key 'model.layers[0]': an Embedding takes token indices "
                       "(integers), which standardisation would turn into fractions; set "
                       "data.standardize = false")
    try:
        with rb.no_grad():
            out = model.eval()(rb.tensor(xtr_[:2]))
    except (ValueError, TypeError) as e:  # the real data, which build_model's zeros are not
        raise CLIError(f"config table [model]: the model does not accept dataset "
                       f"{data['source']!r}: {e}") from None
    model.train()
    check_outputs(out, cfg, loss_name, data)
    schedule = build.build_schedule(cfg["schedule"])
    opt_spec = dict(cfg["optimizer"])
    if schedule is not None:
        if "lr" in opt_spec:
            raise CLIError("config keys 'optimizer.lr' and [schedule] both set the learning "
                           "rate; keep one (the schedule's own lr is its starting rate)")
        opt_spec["lr"] = schedule  # evaluated before every step
    optimizer = build.build_optimizer(opt_spec, model.parameters())
    if schedule is not None and isinstance(optimizer, rb.optim.Rprop):
        raise CLIError("config table [schedule]: Rprop has no learning rate to schedule (its "
                       "steps adapt to the gradients' signs; optimizer.lr only sets the first "
                       "step size); remove [schedule], or pick an optimizer such as SGD or Adam")
    regularizers = build.build_named("regularizers", cfg["regularizers"])
    callbacks = build.build_named("callbacks", cfg["callbacks"])
    metrics = fit_metrics(training["metrics"], task)
    logged = {"loss", "lr", "time", *metrics}
    has_validation = len(data["raw"][2]) > 0
    logged |= {f"val_{k}" for k in logged if k not in ("lr", "time")} if has_validation else set()
    for (name, _), cb in zip(cfg["callbacks"], callbacks):
        monitor = getattr(cb, "monitor", None)
        if isinstance(monitor, str) and monitor not in logged:  # found now, not after epoch 1
            raise CLIError(f"config key 'callbacks.{name}.monitor': {monitor!r} is not computed "
                           f"in this run; expected one of: {', '.join(sorted(logged))}"
                           + ("" if has_validation else " (val_* need data.validation > 0)"))
        path = getattr(cb, "path", None)
        if isinstance(path, str):  # a Checkpoint's folder exists and is writable up front
            key = f"config key 'callbacks.{name}'"
            _check_checkpoint_path(path, key, args.config, cfg, base_dir, output.dir)
            output.make(os.path.dirname(os.path.abspath(path)), key)
    return dict(model=model, optimizer=optimizer, regularizers=regularizers,
                callbacks=callbacks, loss_name=loss_name, loss_fn=loss_fn, task=task,
                classes=data["classes"], shape=shape, mean=data["mean"], std=data["std"],
                rng=rng, source=data["source"], notes=notes, columns=data["columns"],
                data_sha256=data["data_sha256"], arrays=data["arrays"],
                sizes=tuple(len(x) for x in data["raw"][::2]))


def _check_checkpoint_path(path, key, config_path, cfg, base_dir, out_dir):
    """A [callbacks] Checkpoint writes ``path`` every epoch: refuse an empty path, the
    config, a data file, a file of the run's own (train writes OUT/checkpoint.safetensors
    itself) and an existing file that is not a training checkpoint, which it would
    replace without a word."""
    import rosenblatt as rb

    if not path:
        raise CLIError(f"{key}: path is empty; give a file name (train also writes "
                       f"{os.path.join(out_dir, 'checkpoint.safetensors')} itself)")
    target = os.path.realpath(path)
    data = resolved_files(cfg["data"], base_dir)
    own = [(f"the config {config_path}", config_path)]
    own += [(f"data.{k} {data[k]}", data[k]) for k in DATA_FILES
             if isinstance(data.get(k), str) and data[k]]
    own += [(f"the run's {name}", os.path.join(out_dir, name))
            for name in (*RUN_FILES, RUN_CONFIG, "learning_curve.png")]
    for what, other in own:
        if os.path.realpath(other) == target:
            raise CLIError(f"{key}: path {path!r} is {what}, which the Checkpoint would "
                           f"overwrite every epoch; give another file (train writes "
                           f"{os.path.join(out_dir, 'checkpoint.safetensors')} itself)")
    if os.path.isfile(target):
        try:
            training = rb.io.load_checkpoint(target).training
        except (rb.FormatError, OSError):
            training = False
        if not training:
            raise CLIError(f"{key}: {path} exists and is not a training checkpoint, which the "
                           f"Checkpoint would overwrite every epoch; give another file, or "
                           f"delete it first")


def prepare_data(cfg, base_dir, loss_name, notes=None):
    """The data of a checked config as its model trains on them (``train`` and ``tune``).

    Parameters
    ----------
    cfg : dict
        A checked config (:func:`~rosenblatt.cli.config.check`).
    base_dir : str
        The config's folder, which ``data.path`` (and data.test/validation files) are
        relative to.
    loss_name : str
        The training loss (class labels are checked against it).
    notes : list, optional
        Where the reports of what was read go (printed on stderr at once without).

    Returns
    -------
    dict
        ``raw``: the (train, validation, test) inputs and targets as read, ``(xtr, ytr, xv,
        yv, xt, yt)``; ``arrays``: the same standardised with the training split's ``mean``
        and ``std``, in model.dtype, inputs reshaped to ``shape``; ``task``; ``classes``
        (None for regression or one-hot targets); ``source`` (the dataset's name or file);
        ``locate`` (the functions that name a file's rows); ``columns`` (a CSV's input
        columns, or None); ``data_sha256`` (the SHA-256 of data.path, or None for a named
        dataset).
    """
    locate = {}
    xtr, ytr, xv, yv, xt, yt = prepare(cfg["data"], cfg["seed"], base_dir, loss_name, notes,
                                       dtype=cfg["model"]["dtype"], locate=locate)
    source = cfg["data"]["name"] or os.path.basename(cfg["data"]["path"])
    task = _task(loss_name, ytr)
    dtype = np.dtype(cfg["model"]["dtype"])
    mean, std = standardizer(xtr) if cfg["data"]["standardize"] else (
        np.zeros(xtr.shape[1]), np.ones(xtr.shape[1]))
    shape = tuple(cfg["data"]["shape"] or (xtr.shape[1],))
    if int(np.prod(shape)) != xtr.shape[1]:
        raise CLIError(f"config key 'data.shape': {list(shape)} holds {int(np.prod(shape))} "
                       f"values but dataset {source!r} has {xtr.shape[1]} "
                       "features per sample")

    def prep_x(x):
        return ((x - mean) / std).astype(dtype).reshape(len(x), *shape)

    def prep_y(y):
        if task == "classification" or y.ndim == 0:
            return y
        y = y.astype(dtype)
        return y[:, None] if y.ndim == 1 else y

    classes = int(ytr.max()) + 1 if task == "classification" and ytr.ndim == 1 else None
    # the file's contents, by which `evaluate` tells the training file from another one and
    # rebuilds its test split (one more read of a file just read whole)
    digest = (fingerprint(resolved_files(cfg["data"], base_dir)["path"])
              if cfg["data"]["path"] else None)
    return dict(raw=(xtr, ytr, xv, yv, xt, yt), task=task, classes=classes, mean=mean,
                std=std, shape=shape, source=source, locate=locate,
                columns=locate.get("columns"), data_sha256=digest and digest["sha256"],
                arrays=(prep_x(xtr), prep_y(ytr), prep_x(xv), prep_y(yv), prep_x(xt),
                        prep_y(yt)))


def check_outputs(out, cfg, loss_name, data):
    """The outputs of a freshly built model (on a probe batch) fit the loss and the data:
    one per class (one for a two-class loss), every held-out class one of the training
    split's, log-probabilities for ``nll``; CLIError naming the key otherwise.

    ``data`` is what :func:`prepare_data` returned.
    """
    classes, source = data["classes"], data["source"]
    last = f"config key 'model.layers[{len(cfg['model']['layers']) - 1}]'"
    width = (out[0] if isinstance(out, tuple) else out).shape[-1]
    if classes is not None and loss_name in BINARY_LOSSES and width != 1:
        raise CLIError(f"{last}: the model outputs {width} values per sample but "
                       f"training.loss {loss_name!r} takes one (the score of class 1); end "
                       f"with out_features = 1, or use loss = \"cross_entropy\"")
    if classes is not None and loss_name not in BINARY_LOSSES:
        # first: a held-out class the training split lacks (then ``classes``, counted on the
        # training split, is not the dataset's count, and the width check below would say so)
        _, _, _, yv, _, yt = data["raw"]
        _check_held_out_classes(cfg["data"], source, classes, width, data["locate"],
                                (("validation", yv), ("test", yt)))
    if classes is not None and loss_name not in BINARY_LOSSES and width != classes:
        one = ("; one output takes a two-class loss (training.loss = "
               "\"binary_cross_entropy_with_logits\")" if width == 1 else "")
        raise CLIError(f"{last}: the model outputs {width} values per sample but "
                       f"dataset {source!r} has {classes} class{'es' if classes != 1 else ''}"
                       f"{one}")
    _check_log_probabilities(out, loss_name, last)


def cli_metadata(cfg, data, loss_name, dtype=None):
    """The ``cli`` metadata of a model file (``train``'s and ``tune``'s): what evaluate and
    predict need to prepare inputs as training did (:mod:`~rosenblatt.cli.modelfile`)."""
    spec = cfg["data"]
    meta = {"dataset": data["source"], "options": spec["options"], "task": data["task"],
            "loss": loss_name, "seed": cfg["seed"],
            "test": spec["test"] if isinstance(spec["test"], float) else 0.0,
            "validation": (spec["validation"] if isinstance(spec["validation"], float)
                           else 0.0),
            "classes": data["classes"], "dtype": dtype or cfg["model"]["dtype"],
            "shape": list(data["shape"]),
            "mean": np.ascontiguousarray(data["mean"], dtype=np.float64),
            "std": np.ascontiguousarray(data["std"], dtype=np.float64)}
    if spec["path"]:
        meta["path"] = True  # your own data: evaluate/predict read files, not names
        meta["target"] = spec["target"]  # a CSV column or .npz array name, a .npy index
        if data["columns"]:  # a CSV's input columns: evaluate/predict match them by name
            meta["columns"] = list(data["columns"])
        if data.get("data_sha256"):  # evaluate --split test: the training file's test rows
            meta["data_sha256"] = data["data_sha256"]
    return meta


def _check_held_out_classes(data, source, classes, width, locate, splits):
    """Every validation/test label is one of the model's classes (those of the training
    split, ``classes`` of them; the model outputs ``width`` values per sample), found before
    training rather than as a failed evaluation after it."""
    for name, y in splits:
        if not len(y) or y.ndim != 1 or y.max() < classes:
            continue
        i = int(np.argmax(y))
        where = (locate[name](i) if name in locate
                 else f"dataset {source!r}, the {name} split's sample {i}")
        what = f"target {data['target']!r}" if data.get("target") is not None else "the label"
        fix = (f"; give the training split more samples (a smaller data.{name}) or use "
               f"another seed" if isinstance(data.get(name), float) else "")
        held = "class 0" if classes == 1 else f"classes 0..{classes - 1}"
        raise CLIError(f"{where}: {what} is {int(y[i])}, but the training split holds only "
                       f"{held} (the model outputs {width} values per "
                       f"sample); every class of the {name} split must occur in training{fix}")


def _check_log_probabilities(out, loss_name, last):
    """``nll`` takes log-probabilities (each row's exp sums to 1); on other outputs the loss
    falls without bound. Checked on the probe batch's outputs, before training."""
    if loss_name != "nll":
        return
    z = np.asarray(out[0].data if isinstance(out, tuple) else out.data, dtype=np.float64)
    if z.ndim < 2:
        z = z.reshape(len(z), -1)
    top = z.max(axis=1, keepdims=True)
    lse = (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))).ravel()
    if not np.allclose(lse, 0.0, atol=1e-3):
        raise CLIError(f"config key 'training.loss': 'nll' takes log-probabilities, but the "
                       f"outputs of {last[len('config key '):]} are not (log-sum-exp of a row "
                       f"is {lse[0]:.4g}, not 0); end model.layers with a LogSoftmax "
                       f"layer, or use loss = \"cross_entropy\" on the logits")


def _train(args, cfg, out_dir, checkpoint, *, model, optimizer, regularizers, callbacks,
           loss_name, loss_fn, task, classes, shape, mean, std, rng, source, notes, arrays,
           sizes, columns=None, data_sha256=None):
    import rosenblatt as rb

    for note in notes:  # what was read, now that every check has passed
        print(note, file=sys.stderr)
    training = cfg["training"]
    xtr_, ytr_, xv_, yv_, xt_, yt_ = arrays
    callbacks = list(callbacks) + [rb.callbacks.Checkpoint(checkpoint)]
    comm, distributed = _mpi_world()
    fit_args = dict(loss=loss_fn, optimizer=optimizer, epochs=training["epochs"],
                    batch_size=training["batch_size"], shuffle=training["shuffle"],
                    metrics=fit_metrics(training["metrics"], task),
                    regularizers=regularizers, callbacks=callbacks,
                    progress=not args.quiet, rng=rng,
                    resume_from=checkpoint if args.resume else None,
                    divergence_factor=training["divergence_factor"],
                    distributed=distributed)
    if len(xv_):
        fit_args["validation_data"] = (xv_, yv_)
    start = time.perf_counter()
    diverged = None
    try:
        history = rb.fit(model, xtr_, ytr_, **fit_args)
    except rb.training.DivergenceError as e:
        diverged, history = e, e.history
    except rb.FormatError as e:
        # another architecture: another config's run; a field that fails the schema (a missing
        # generator state, a NaN best) may be either: a hand-edited file or another config's
        why = ("does not belong to this config" if "another architecture" in str(e)
               else "is damaged or does not belong to this config")
        raise CLIError(f"--resume: {checkpoint} {why}: {e}; rerun with --overwrite to start "
                       f"again") from None
    except (ValueError, TypeError) as e:
        raise CLIError(f"training failed: {e}") from None
    seconds = time.perf_counter() - start
    if comm is not None and comm.Get_rank() != 0:  # rank 0 writes and reports
        return 0
    hist = history_dict(history)
    if getattr(history, "stop_reason", None):
        print(history.stop_reason, file=sys.stderr)
    try:
        test = evaluate_arrays(model, xt_, yt_, loss_name, task)
    except ValueError as e:  # checked up front; kept as a clean message should one slip by
        raise CLIError(f"cannot evaluate the trained model on the test split: {e}; the run's "
                       f"last checkpoint is {checkpoint}") from None
    try:
        return _write_results(args, cfg, out_dir, model, history, hist, test, diverged,
                              seconds, loss_name, task, classes, shape, mean, std, source,
                              sizes, columns, data_sha256)
    except BrokenPipeError:  # stdout closed (`| head`) after every file was written: main's
        raise
    except OSError as e:  # the disk filled up, the folder went away: the checkpoint remains
        raise CLIError(f"cannot write the results in {out_dir}: {e.strerror or e}; the run's "
                       f"last checkpoint is {checkpoint} (free space, then rerun with "
                       f"--resume)") from None


def _write_results(args, cfg, out_dir, model, history, hist, test, diverged, seconds,
                   loss_name, task, classes, shape, mean, std, source, sizes, columns=None,
                   data_sha256=None):
    import rosenblatt as rb

    model_path = os.path.join(out_dir, "model.safetensors")
    meta = {"cli": cli_metadata(cfg, dict(source=source, task=task, classes=classes,
                                          shape=shape, mean=mean, std=std, columns=columns,
                                          data_sha256=data_sha256),
                                loss_name)}
    rb.save(model.eval(), model_path, metadata=meta)
    metrics = {"config": args.config, "dataset": source, "task": task,
               "epochs_run": len(next(iter(hist.values()), [])), "train_seconds": seconds,
               "samples": {"train": sizes[0], "validation": sizes[1], "test": sizes[2]},
               "parameters": model.num_parameters(), "history": hist, "test": test,
               "stop_reason": getattr(history, "stop_reason", None)}
    if diverged is not None:
        metrics["diverged"] = {"epoch": diverged.epoch, "batch": diverged.batch,
                               "loss": (diverged.loss if diverged.loss is not None
                                        and np.isfinite(diverged.loss) else None),
                               "message": str(diverged)}
    write_json(os.path.join(out_dir, "metrics.json"), metrics)
    curve = os.path.join(out_dir, "learning_curve.png")
    try:
        if hist:
            plot_curves(hist, curve, f"{os.path.basename(args.config)}: {source}")
        else:
            curve = None
    except RuntimeError as e:  # matplotlib (the 'plot' extra) is not installed
        print(f"rosenblatt train: no learning curve: {e}", file=sys.stderr)
        curve = None
    if diverged is not None:
        lr = cfg["optimizer"].get("lr") if cfg["optimizer"] else None
        hint = f" than optimizer.lr = {lr:g}" if isinstance(lr, (int, float)) else ""
        print(f"rosenblatt train: the loss diverged at epoch {diverged.epoch + 1}, batch "
              f"{diverged.batch + 1} (loss {diverged.loss:.4g}); wrote the best model so far to "
              f"{model_path}; try a lower learning rate{hint}", file=sys.stderr)
        return EXIT_DIVERGED
    line = f"test loss {test['loss']:.4f}"
    if "accuracy" in test:
        line = f"test accuracy {test['accuracy']:.4f}, " + line
    print(f"{line} ({sizes[2]} samples); trained {metrics['epochs_run']} epochs in "
          f"{seconds:.1f} s")
    print(f"model: {model_path}")
    print(f"metrics: {os.path.join(out_dir, 'metrics.json')}")
    if curve:
        print(f"learning curve: {curve}")
    return 0
