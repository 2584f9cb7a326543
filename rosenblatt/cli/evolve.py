"""``rosenblatt evolve CONFIG.toml``: neuroevolution from a config (notes: "Neuroevolution").

A config names the algorithm, the task and the budget::

    algorithm = "neat"            # neat | cne | cosyne | esp | hyperneat
    task = "xor"                  # xor | pole1 | pole2 | pole2nv | visual (HyperNEAT's
                                  # task; the others see one input per retina cell)
    generations = 100
    seed = 0
    repeats = 1                   # average a noisy fitness over this many evaluations
    on_error = "raise"            # "stop": end cleanly; "worst": a failing fitness scores worst

    [task_options]                # keyword arguments of the environment (max_steps, ...)
    [neat]                        # rb.evolution.NEATConfig keys (neat and hyperneat)
    [cne]                         # rb.evolution.CNE arguments, plus hidden = [8] and
                                  # activation = "tanh" for the network
    [cosyne]                      # rb.evolution.CoSyNE arguments, plus hidden, activation
    [esp]                         # rb.evolution.ESP arguments, plus hidden = [8] (one
                                  # hidden layer: ESP's subpopulations are its neurons)
    [hyperneat]                   # threshold, weight_max, deltas
    [output]
    dir = "runs/neat_xor"         # default: runs/<config file name>

A table the algorithm does not read (``[cne]`` beside ``algorithm = "neat"``) is
refused rather than dropped: its settings would silently not apply.

Writes ``best.json`` (the champion genome; for CNE, CoSyNE and ESP
``best.safetensors``, the model), ``history.json``, ``fitness.png`` and, for
genomes, ``champion.png``. An output folder that holds these files from an
earlier run is refused (the two runs' files would mix) unless ``--overwrite``,
which removes them first. ``--workers N`` or ``--scheduler ADDRESS``
evaluate the populations in N processes or on a Dask cluster, with the same
results.

``rosenblatt evolve --interactive [--port N] [--no-browser] [--out DIR]`` needs
no config: it serves a Picbreeder-style gallery of CPPN images on 127.0.0.1
(``rb.evolution.GalleryServer``); the person clicks the parents of each
generation, undoes, and saves images with their genomes into ``--out``.
"""

import functools
import json
import os
import sys
import time

from .config import MAX_SEED, load_toml
from .errors import CLIError
from .executors import add_options as add_executor_options, executor_for
from .train import _Output, finite_json, save_figure

TOP_KEYS = ("algorithm", "task", "generations", "seed", "repeats", "on_error", "task_options",
            "neat", "cne", "cosyne", "esp", "hyperneat", "output")
WEIGHT_ALGORITHMS = {"cne": "CNE", "cosyne": "CoSyNE", "esp": "ESP"}  # a fixed network's weights
ALGORITHMS = ("neat", "cne", "cosyne", "esp", "hyperneat")
READS = {"hyperneat": ("neat", "hyperneat")}  # the tables an algorithm reads (default: its own)
TASKS = ("xor", "pole1", "pole2", "pole2nv", "visual")
OUTPUT_KEYS = ("dir",)
# what a run writes: a folder holding any of them holds a run
RESULT_FILES = ("best.json", "best.safetensors", "history.json", "fitness.png", "champion.png")


def add_parser(sub):
    p = sub.add_parser("evolve", help="evolve networks (NEAT, CNE, CoSyNE, ESP, HyperNEAT) "
                       "from a config",
                       description="Run neuroevolution from a TOML config and write the best "
                       "genome (or model), history.json, fitness.png and, for genomes, "
                       "champion.png.")
    p.add_argument("config", metavar="CONFIG.toml", nargs="?")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides output.dir)")
    p.add_argument("--generations", type=int, help="override generations")
    p.add_argument("--seed", type=int, help="override seed")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in an output folder that holds a run (its results are "
                        "removed)")
    add_executor_options(p, "evaluate the populations (per task, a sub-population of genomes "
                         "as flat arrays or of weight vectors)")
    g = p.add_argument_group("interactive evolution (no config)")
    g.add_argument("--interactive", action="store_true", help="evolve CPPN images by choosing "
                   "them in a local web page (saved images go to --out, default runs/"
                   "interactive)")
    g.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    g.add_argument("--no-browser", action="store_true", help="print the address only")
    g.add_argument("--population", type=int, default=12, help="images per generation")
    g.add_argument("--size", type=int, default=96, help="image width and height in pixels")
    g.add_argument("--color", action="store_true", help="RGB images")
    g.add_argument("--load", nargs="+", metavar="GENOME.json", help="start from saved genomes")
    p.set_defaults(func=run)
    return p


def read(path):
    """Parse and check an evolve config; returns a dict with defaults filled in."""
    raw = load_toml(path)  # a missing, binary or malformed file: one line
    for key in raw:
        if key not in TOP_KEYS:
            raise CLIError(f"{path}: unknown key {key!r} (expected one of {', '.join(TOP_KEYS)})")
    cfg = {"algorithm": raw.get("algorithm", "neat"), "task": raw.get("task", "xor"),
           "generations": raw.get("generations", 100), "seed": raw.get("seed", 0),
           "repeats": raw.get("repeats", 1), "on_error": raw.get("on_error", "raise")}
    if cfg["algorithm"] not in ALGORITHMS:
        raise CLIError(f"{path}: algorithm must be one of {', '.join(ALGORITHMS)}; got "
                       f"{cfg['algorithm']!r}")
    if cfg["task"] not in TASKS:
        raise CLIError(f"{path}: task must be one of {', '.join(TASKS)}; got {cfg['task']!r}")
    if cfg["algorithm"] == "hyperneat" and cfg["task"] != "visual":
        raise CLIError(f"{path}: algorithm 'hyperneat' runs the 'visual' task (its substrate "
                       f"is the retina); got task {cfg['task']!r}")
    for key in ("generations", "repeats"):
        if isinstance(cfg[key], bool) or not isinstance(cfg[key], int) or cfg[key] < 1:
            raise CLIError(f"{path}: {key} must be a positive integer; got {cfg[key]!r}")
    _check_seed(cfg["seed"], f"{path}: seed")
    if cfg["on_error"] not in ("raise", "stop", "worst"):
        raise CLIError(f"{path}: on_error must be 'raise', 'stop' or 'worst'; got "
                       f"{cfg['on_error']!r}")
    for key in ("task_options", "neat", "cne", "cosyne", "esp", "hyperneat", "output"):
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise CLIError(f"{path}: [{key}] must be a table")
        cfg[key] = value
    reads = READS.get(cfg["algorithm"], (cfg["algorithm"],))
    unread = [key for key in ALGORITHMS if cfg[key] and key not in reads]
    if unread:  # a table left behind when `algorithm` changed: its settings would be dropped
        raise CLIError(f"{path}: algorithm {cfg['algorithm']!r} does not read the table "
                       f"[{unread[0]}] (it reads {' and '.join(f'[{k}]' for k in reads)}); "
                       f"rename the table or remove it")
    for key in cfg["output"]:
        if key not in OUTPUT_KEYS:
            raise CLIError(f"{path}: unknown key {key!r} in [output] (expected one of "
                           f"{', '.join(OUTPUT_KEYS)})")
    stem = os.path.splitext(os.path.basename(path))[0]
    cfg["output"].setdefault("dir", os.path.join("runs", stem))
    if not isinstance(cfg["output"]["dir"], str) or not cfg["output"]["dir"]:
        raise CLIError(f"{path}: [output] dir must be a non-empty string; got "
                       f"{cfg['output']['dir']!r}")
    return cfg


def _check_seed(seed, where):
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise CLIError(f"{where} must be an integer in [0, {MAX_SEED}]; got {seed!r}")


def _environment(cfg):
    import rosenblatt as rb

    envs = rb.evolution.envs
    opts = dict(cfg["task_options"])
    try:
        if cfg["task"] == "xor":
            if opts:
                raise TypeError(f"xor takes no options; got {sorted(opts)}")
            return envs.XOR()
        if cfg["task"] == "visual":
            return envs.VisualDiscrimination(**opts)
        poles = 1 if cfg["task"] == "pole1" else 2
        if cfg["task"] == "pole2nv":
            opts.setdefault("fitness", "gruau")
        return envs.CartPole(poles=poles, velocities=cfg["task"] != "pole2nv", **opts)
    except (TypeError, ValueError) as e:
        raise CLIError(f"[task_options]: {e}") from None


def _solved(cfg, env):
    """stop(champion-or-theta) for tasks with a success criterion, else None."""
    import numpy as np

    if cfg["task"] == "xor":
        return lambda g: bool(env.solved(g.network()(env.X)))
    if cfg["task"].startswith("pole") and cfg["task"] != "pole2nv":
        return lambda g: np.isfinite(getattr(g, "fitness", np.nan) or np.nan) and (
            g.fitness >= env.max_steps)
    return None


@functools.lru_cache(maxsize=4)
def _task_from_json(text):
    return _environment(json.loads(text))


def task_fitness(text, population):
    """The task's vectorised fitness of a population network, the task given as JSON text
    (what a Dask worker receives with each sub-population: no environment object travels)."""
    return _task_from_json(text).evaluate(population)


@functools.lru_cache(maxsize=4)
def _model_from_json(text):
    import rosenblatt as rb

    return rb.nn.registry.build(json.loads(text))


def weights_fitness(text, spec, thetas):
    """CNE's vectorised fitness in a worker: the task (JSON text), the fixed network rebuilt
    from its architecture spec (JSON text, through the registry) and a sub-population of
    weight vectors ``thetas`` (P, n). No model object travels, only its config and weights."""
    import rosenblatt as rb

    model = _model_from_json(spec)
    return _task_from_json(text).evaluate(rb.evolution.PopulationModel(model, thetas))


def _task_text(cfg):
    return json.dumps({"task": cfg["task"], "task_options": cfg["task_options"]},
                      sort_keys=True)


def evolve(cfg, executor=None):
    """Run the configured algorithm; returns ``(result, algorithm object, env)``.

    ``executor``: evaluate sub-populations through it (a process pool, a Dask
    cluster's): NEAT and HyperNEAT send genome JSON, CNE, CoSyNE and ESP weight
    vectors with the network's architecture spec; the task travels as JSON text. The results are
    those of a serial run.
    """
    import numpy as np

    import rosenblatt as rb

    env = _environment(cfg)
    common = dict(vectorized=True, repeats=cfg["repeats"], on_error=cfg["on_error"])
    if cfg["algorithm"] == "neat":
        try:
            config = rb.evolution.NEATConfig.from_dict(cfg["neat"], where="[neat]")
        except rb.evolution.ConfigError as e:
            raise CLIError(str(e)) from None
        algo = rb.evolution.NEAT(env.n_inputs, env.n_outputs, config, rng=cfg["seed"])
        stop = _solved(cfg, env)
        fitness = env.evaluate
        if executor is not None:
            fitness = functools.partial(task_fitness, _task_text(cfg))
        return algo.run(fitness, cfg["generations"], stop=stop, executor=executor,
                        **common), algo, env
    if cfg["algorithm"] == "hyperneat":
        opts = dict(cfg["hyperneat"])
        try:
            config = rb.evolution.cppn_config(**cfg["neat"])
        except (TypeError, rb.evolution.ConfigError) as e:
            raise CLIError(f"[neat]: {e}") from None
        r = env.resolution
        sub = rb.evolution.Substrate(rb.evolution.grid(r), rb.evolution.grid(r))
        try:
            algo = rb.evolution.HyperNEAT(sub, config, rng=cfg["seed"], **opts)
        except (TypeError, ValueError) as e:
            raise CLIError(f"[hyperneat]: {e}") from None
        fitness = env.evaluate
        if executor is not None:  # genome JSON out, painted and scored in the workers
            fitness = functools.partial(task_fitness, _task_text(cfg))
        return algo.run(fitness, cfg["generations"], executor=executor, **common), algo, env
    name = cfg["algorithm"]
    opts = dict(cfg[name])
    hidden = opts.pop("hidden", [8])
    act = opts.pop("activation", "tanh")
    acts = {"tanh": rb.nn.Tanh, "sigmoid": rb.nn.Sigmoid, "relu": rb.nn.ReLU}
    if act not in acts:
        raise CLIError(f"[{name}]: activation must be one of {', '.join(acts)}; got {act!r}")
    if not isinstance(hidden, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden):
        raise CLIError(f"[{name}]: hidden must be a list of positive layer widths, e.g. [8]; "
                       f"got {hidden!r}")
    rng = np.random.default_rng(cfg["seed"])
    layers, width = [], env.n_inputs
    for h in hidden:
        layers += [rb.nn.Dense(width, int(h), rng=rng), acts[act]()]
        width = int(h)
    out_act = rb.nn.Identity() if cfg["task"] == "visual" else rb.nn.Sigmoid()
    model = rb.nn.Sequential(*layers, rb.nn.Dense(width, env.n_outputs, rng=rng),
                             out_act).astype(np.float64)
    try:
        algo = getattr(rb.evolution, WEIGHT_ALGORITHMS[name])(model, rng=cfg["seed"], **opts)
    except (TypeError, ValueError) as e:
        raise CLIError(f"[{name}]: {e}") from None

    def fitness(thetas):
        return env.evaluate(rb.evolution.PopulationModel(model, thetas))

    if executor is not None:  # weight vectors out; the network rebuilt from its spec there
        fitness = functools.partial(weights_fitness, _task_text(cfg),
                                    json.dumps(rb.nn.registry.spec_of(model)))

    callbacks, stop = [], None
    if cfg["task"].startswith("pole") and cfg["task"] != "pole2nv":
        callbacks.append(lambda state: state["fitness"] >= env.max_steps)
    if cfg["task"] == "xor":
        def stop(theta):
            return bool(env.solved(rb.evolution.population_forward(model, theta[None],
                                                                    env.X))[0])
    return algo.run(fitness, cfg["generations"], callbacks=callbacks, stop=stop,
                    executor=executor, **common), algo, env


def plot(history, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if "species" in history else 1, figsize=(9, 3.2),
                             squeeze=False)
    ax = axes[0, 0]
    g = range(1, len(history["best"]) + 1)
    for key in ("best", "mean", "worst"):
        ax.plot(g, history[key], label=key)
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    ax.legend()
    ax.grid(True, alpha=0.3)
    if "species" in history:
        axes[0, 1].plot(g, history["species"])
        axes[0, 1].set_xlabel("generation")
        axes[0, 1].set_ylabel("species")
        axes[0, 1].grid(True, alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def run_interactive(args):
    """``--interactive``: serve a Picbreeder-style gallery on 127.0.0.1 until interrupted."""
    import webbrowser

    import rosenblatt as rb

    out = args.out or os.path.join("runs", "interactive")
    options = dict(population=args.population, width=args.size, height=args.size,
                   rng=args.seed)
    try:
        if args.load:
            # (--color with grey genomes is refused; without it the genomes decide)
            session = rb.evolution.Interactive.load(args.load, color=args.color, **options)
        else:
            session = rb.evolution.Interactive(color=args.color, **options)
        server = rb.evolution.GalleryServer(session, directory=out, port=args.port)
    except (TypeError, ValueError, OSError) as e:
        raise CLIError(f"evolve --interactive: {e}") from None
    print(f"interactive evolution: open {server.url} (Ctrl-C to stop); saving to {out}",
          flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def run(args):
    import rosenblatt as rb

    if args.interactive:
        return run_interactive(args)
    if args.config is None:
        raise CLIError("evolve: give a CONFIG.toml, or --interactive")
    if args.generations is not None and args.generations < 1:
        raise CLIError(f"--generations must be a positive integer; got {args.generations}")
    if args.seed is not None:
        _check_seed(args.seed, "--seed")
    cfg = read(args.config)
    if args.generations is not None:
        cfg["generations"] = args.generations
    if args.seed is not None:
        cfg["seed"] = args.seed
    out = args.out or cfg["output"]["dir"]
    existing = [name for name in RESULT_FILES if os.path.isfile(os.path.join(out, name))]
    if existing and not args.overwrite:
        raise CLIError(f"{out} holds a run already ({', '.join(existing)}); use --overwrite to "
                       f"start again")
    # the folder exists and is writable now, not after the run (whose results would be lost)
    output = _Output(out)
    output.make(out, "option --out" if args.out else "config key 'output.dir'")
    start = time.perf_counter()
    try:
        with executor_for(args, "evolve") as executor:
            result, algo, env = evolve(cfg, executor)
    except rb.evolution.FitnessError as e:
        output.discard()
        raise CLIError(str(e)) from None
    except BaseException:  # a refused config (checked as the algorithm is built) leaves nothing
        output.discard()
        raise
    seconds = time.perf_counter() - start
    try:
        best_path = _write_results(args, cfg, out, result, algo, seconds)
    except OSError as e:  # the disk filled up, the folder went away during the run
        raise CLIError(f"cannot write the results in {out}: {e.strerror or e}") from None
    state = "solved" if result.stopped else "ran"
    print(f"{cfg['algorithm']} {state} {cfg['task']} in {result.generations} generations "
          f"({result.evaluations} evaluations, {seconds:.1f} s); best fitness "
          f"{result.best_fitness:.4g}")
    print(f"best: {best_path}")
    return 0


def _write_results(args, cfg, out, result, algo, seconds):
    """best.safetensors or best.json, history.json (strict JSON), the figures; the best's path."""
    import rosenblatt as rb
    from rosenblatt.io.atomic import write_bytes_atomic

    # --overwrite: none of the earlier run's files stays beside this run's (a NEAT champion.png
    # next to a CNE best.safetensors), nor a figure this run could not draw
    for name in RESULT_FILES:
        path = os.path.join(out, name)
        if os.path.isfile(path):
            os.unlink(path)
    if cfg["algorithm"] in WEIGHT_ALGORITHMS:
        best_path = os.path.join(out, "best.safetensors")
        rb.save(algo.model, best_path)
    else:
        best_path = os.path.join(out, "best.json")
        result.best.save(best_path)
    history = {k: v for k, v in result.history.items() if k != "species_sizes"}
    summary = {"config": args.config, "algorithm": cfg["algorithm"], "task": cfg["task"],
               "generations": result.generations, "evaluations": result.evaluations,
               "best_fitness": result.best_fitness, "stopped": result.stopped,
               "seconds": seconds, "history": history}
    write_bytes_atomic(os.path.join(out, "history.json"),
                       json.dumps(finite_json(summary), indent=1, allow_nan=False).encode())
    try:
        plot(result.history, os.path.join(out, "fitness.png"),
             f"{cfg['algorithm']} on {cfg['task']}")
        if cfg["algorithm"] not in WEIGHT_ALGORITHMS:
            import matplotlib.pyplot as plt

            ax = rb.evolution.draw(result.best)
            save_figure(ax.figure, os.path.join(out, "champion.png"), dpi=100,
                        bbox_inches="tight")
            plt.close(ax.figure)
    except ImportError as e:
        print(f"rosenblatt evolve: no figures: {e}", file=sys.stderr)
    return best_path
