"""Run every benchmark workload, rosenblatt and its references alternating, and compare.

Usage::

    python -m benchmarks.run [--quick] [--only NAME[,NAME...]] [--json PATH] [--repeats N]
    python benchmarks/run.py ...            # the same
    python -m benchmarks.run --claims neat-xor,nsga2 [--runs N] [--workers N | --scheduler A]

Each module ``benchmarks/workloads/<topic>.py`` defines ``workloads(quick)``
returning a list of dicts (see ``benchmarks/README.md``). For every workload
the harness calls each implementation once to warm up, then times
``repeats`` calls, alternating rosenblatt and the references (rb, torch,
sklearn, rb, torch, sklearn, ...) so that a slow phase of a shared machine
hits all of them alike. It prints one table and writes a JSON file with
every time, the machine, the library versions, the BLAS in use and the
thread counts.

Ratios are rosenblatt / reference in throughput terms: 1.5 means rosenblatt
does 1.5x the reference's work per second (for "us/op" units, it takes
1/1.5 of the reference's time). A ratio is taken pair by pair, round by round
(reference time / rosenblatt time of the same round, which ran back to back),
and the median of those is reported with their range: a shared machine's
speed drifts between rounds, and a ratio of two medians would mix slow and
fast phases.

Timed workloads never run in parallel. ``--claims`` runs the papers' claim
runners instead (seeded runs whose results do not depend on timing:
``benchmarks/claims.py``), and those may go to ``--workers N`` processes or a
Dask ``--scheduler``: the same rows as serially.
"""

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.common import (  # noqa: E402
    all_of,
    blas_threads,
    optional,
    ratios_met,
    torch_or_none,
)

HERE = Path(__file__).resolve().parent
UNITS = ("samples/s", "steps/s", "tokens/s", "us/op")


# -- the machine ---------------------------------------------------------------------------------

def cpu_model():
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    """CPU, cores, OS, Python, library versions, BLAS and thread counts."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name, module in (("rosenblatt", "rosenblatt"), ("torch", "torch"),
                         ("sklearn", "sklearn"), ("scipy", "scipy")):
        mod = optional(module)
        versions[name] = getattr(mod, "__version__", None) if mod else None
    # installed, not imported here: greenlet decides whether Optuna's GPSampler (the tuning
    # row's reference) takes its batched L-BFGS-B path (workloads/tuning.py)
    for name in ("optuna", "greenlet"):
        versions[name] = _installed_version(name)
    tpc = optional("threadpoolctl")
    blas = []
    if tpc is not None:
        blas = [{k: info.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                           "architecture", "threading_layer", "prefix", "filepath")}
                for info in tpc.threadpool_info()]
    torch = optional("torch")
    torch_blas = None
    if torch is not None:  # PyTorch brings its own BLAS (MKL on x86 wheels) and oneDNN
        config = torch.__config__.show()
        torch_blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split()
                           if part.startswith("BLAS_INFO=")), None)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "blas": blas,
        "torch_blas": torch_blas,
        "threads": {"numpy_blas": blas_threads(),
                    "torch": torch.get_num_threads() if torch is not None else None},
        "git_commit": _git_commit(),
    }


def _installed_version(name):
    """The installed version of distribution ``name`` (not imported), or None."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_commit():
    """The checkout's commit (12 hex digits) read from its git files, or None: a loose branch
    ref, one packed by ``git gc`` / ``git pack-refs`` (``packed-refs``), a detached HEAD, and
    a ``git worktree`` (``.git`` a file naming its git dir; refs in the common dir)."""
    git = HERE.parent / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: PATH"
            text = git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git = HERE.parent / text[len("gitdir:"):].strip()
        ref = (git / "HEAD").read_text().strip()
        if not ref.startswith("ref: "):
            return ref[:12]
        name = ref[5:].strip()
        common = git
        if (git / "commondir").is_file():
            common = git / (git / "commondir").read_text().strip()
        for base in (git, common):
            loose = base / name
            if loose.is_file():
                return loose.read_text().strip()[:12]
        for line in (common / "packed-refs").read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == name:
                return parts[0][:12]
    except OSError:
        pass
    return None


def _load_average():
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None


def _warn_if_busy(load, cores, steady=False):
    if steady:  # --threads 1 --timer cpu: what can be done on a busy machine is done
        if load is not None and cores and load > cores:
            print(f"note: load average {load:.1f} on {cores} cores; CPU-time ratios still "
                  "move by ~10% under contention for caches and memory bandwidth.")
        return
    if load is not None and cores and load > 0.5 * cores:
        print(f"WARNING: the machine is busy (load average {load:.1f} on {cores} cores): "
              "multi-threaded BLAS/OpenMP slow down erratically when cores are taken away "
              "(PyTorch's spinning OpenMP threads most); ratios are unreliable. For steadier "
              "ratios use --threads 1 --timer cpu, or rerun when the machine is idle.")


def gemm_peak(n=2048, repeats=5, timer=time.perf_counter):
    """The machine's float32 matrix-multiply rate, GFLOP/s: best of ``repeats`` n^3 products,
    timed with ``timer``: the workloads' own timer, so that "% of peak" compares like with
    like (with ``--timer cpu`` both are this process's CPU time)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = timer()
        np.matmul(a, b, out=out)
        best = min(best, timer() - t0)
    return 2.0 * n**3 / best / 1e9


# -- workloads -----------------------------------------------------------------------------------

def discover(only=None):
    """Import every ``benchmarks/workloads/*.py``; returns (module name, module or error)."""
    found = []
    for path in sorted((HERE / "workloads").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        try:
            found.append((path.stem, importlib.import_module(f"benchmarks.workloads.{path.stem}")))
        except Exception as err:  # a workload whose library part is not there yet
            found.append((path.stem, err))
    return found


def _only_tokens(text, module_names, workload_names):
    """``--only``'s text as tokens. Workload names contain commas ("..., epoch of 60,000"),
    so the whole text is one token when it is part of a module's or a workload's name;
    otherwise it is split on commas."""
    whole = text.strip()
    if not whole:
        return []
    if any(whole in name for name in (*module_names, *workload_names)):
        return [whole]
    return [o.strip() for o in whole.split(",") if o.strip()]


def _parse_only(text, quick):
    """``--only``'s tokens (:func:`_only_tokens`), those among them that name no module
    and no workload of this mode (``workloads(quick)``: a full run has rows, and sizes in
    names, that --quick has not), and the modules whose ``workloads()`` failed (their names
    unknown: the run reports and skips them, as without ``--only``). The workloads are built
    only when a token is not part of a module's name."""
    if not text.strip():
        return [], [], []
    modules = discover()
    module_names = [name for name, _ in modules]
    split = _only_tokens(text, module_names, [])
    if not _split_only(split, module_names)[1]:  # every token names a module
        return split, [], []
    names, failed = [], []
    for module_name, module in modules:
        if isinstance(module, Exception):
            continue
        try:
            names.extend(w.get("name", "") for w in module.workloads(quick))
        except Exception as err:  # the run reports it ("workloads() failed") and goes on
            failed.append(f"{module_name} ({type(err).__name__}: {err})")
    only = _only_tokens(text, module_names, names)
    rest = _split_only(only, module_names)[1]
    return only, [o for o in rest if not any(o in name for name in names)], failed


def _split_only(only, module_names):
    """``--only``'s tokens as (module tokens, name tokens). One rule, whatever the other
    tokens: a token that is part of a module's name selects that module's workloads (all of
    them, and no other module's); any other token selects the workloads, in any module,
    whose names contain it."""
    by_module = [o for o in only if any(o in name for name in module_names)]
    return by_module, [o for o in only if o not in by_module]


def _selected(only, module_name, workload_name, module_names):
    """Whether ``--only`` (its tokens; none: everything) selects this workload."""
    if not only:
        return True
    by_module, by_name = _split_only(only, module_names)
    return (any(o in module_name for o in by_module)
            or any(o in workload_name for o in by_name))


def _writable_json(parser, text):
    """``--json``'s path, its folder made and a file writable there (checked before timing:
    a full run's results must not be lost to a bad path at the end)."""
    path = Path(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder")
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".probe"):
            pass
    except OSError as err:
        parser.error(f"--json {text}: cannot write there ({err})")
    return path


def _validate(w, module_name):
    missing = [k for k in ("name", "unit", "work", "rosenblatt") if k not in w]
    if missing:
        raise ValueError(f"workload from {module_name} lacks {missing}")
    if w["unit"] not in UNITS:
        raise ValueError(f"workload {w['name']}: unit must be one of {UNITS}; got {w['unit']!r}")


def _time_once(fn, timer=time.perf_counter):
    gc.collect()
    t0 = timer()
    fn()
    return timer() - t0


def _summary(times, work, unit):
    """Median, min and max of the times and of the rate in the workload's unit."""
    med = statistics.median(times)
    if unit == "us/op":
        rate = lambda t: t / work * 1e6  # lower is better
        lo, hi = rate(min(times)), rate(max(times))
    else:
        rate = lambda t: work / t
        lo, hi = rate(max(times)), rate(min(times))
    return {"times_s": times, "median_s": med, "value": rate(med), "min": lo, "max": hi}


def _throughput_ratio(rb, ref):
    """rosenblatt / reference in throughput terms (> 1: rosenblatt is faster): the median,
    min and max over rounds of the paired ratio ``ref time / rb time``."""
    pairs = [r / b for b, r in zip(rb["times_s"], ref["times_s"])]
    return statistics.median(pairs), min(pairs), max(pairs)


def row_repeats(w, repeats, quick):
    """How many rounds to time workload ``w``: ``--repeats`` when given (``repeats``), else
    the row's own ``"repeats"``, else 3 with ``--quick`` and 5 without."""
    return int(repeats or w.get("repeats") or (3 if quick else 5))


def run_workload(w, repeats, timer=time.perf_counter, measure=None):
    """Warm up, then time ``repeats`` alternating calls of rosenblatt and each reference
    (:func:`row_repeats` gives the count; it is recorded as the result's ``"repeats"``).

    ``measure(name)``, when given, times implementation ``name`` for one round somewhere
    else (:func:`isolated`: in a process of its own, which warms itself up) and returns
    the round's time; there is then no warm-up round here."""
    impls = {"rosenblatt": w["rosenblatt"]}
    result = {"name": w["name"], "unit": w["unit"], "work": w["work"],
              "target": w.get("target", ""), "notes": w.get("notes", ""), "references": {}}
    for ref in w.get("references", {}):
        fn = w["references"][ref]
        if fn is None:
            result["references"][ref] = {"skipped": "not installed or no equivalent"}
        else:
            impls[ref] = fn
    times = {name: [] for name in impls}
    failed = {}
    result["repeats"] = repeats
    for round_ in range(0 if measure is None else 1, repeats + 1):  # round 0 warms up
        for name, fn in impls.items():
            if name in failed:
                continue
            try:
                elapsed = _time_once(fn, timer) if measure is None else measure(name)
            except Exception as err:  # report it and go on with the others
                failed[name] = f"{type(err).__name__}: {err}"
                traceback.print_exc()
                continue
            if round_:
                times[name].append(elapsed)
    if "rosenblatt" in failed:
        result["error"] = failed["rosenblatt"]
        return result
    result["rosenblatt"] = _summary(times["rosenblatt"], w["work"], w["unit"])
    for name in impls:
        if name == "rosenblatt":
            continue
        if name in failed:
            result["references"][name] = {"error": failed[name]}
            continue
        ref = _summary(times[name], w["work"], w["unit"])
        ref["ratio"], ref["ratio_min"], ref["ratio_max"] = _throughput_ratio(
            result["rosenblatt"], ref)
        result["references"][name] = ref
    if "flops" in w:
        result["gflops"] = w["flops"] / result["rosenblatt"]["median_s"] / 1e9
    return result


ISOLATED_CALLS = 3  # timed calls per process in --isolate mode (their median is the round's)


def isolated(module_name, index, args):
    """``measure(name)`` for :func:`run_workload`: implementation ``name`` of workload
    ``index`` of ``module_name`` timed in a new Python process with this run's settings
    (``--quick``, ``--threads``, ``--timer``): one warm-up call, then ``ISOLATED_CALLS``
    calls, each after ``gc.collect()``; the median is the round's time. So no library's
    threads, caches or allocator state are left behind for the next one. Each process
    still builds the whole workload module (every implementation), so it imports and sets
    up PyTorch and scikit-learn whichever library it times; and what a workload's check
    reads from its callables in this process (side results) is not collected."""
    def measure(name):
        cmd = [sys.executable, "-m", "benchmarks.run", "--time-one",
               f"{module_name}:{index}:{name}", "--timer", args.timer]
        if args.quick:
            cmd.append("--quick")
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent),
                                                        env.get("PYTHONPATH")) if p)
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent, env=env)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the process timing {name} failed: {tail}")
        return statistics.median(json.loads(lines[-1]))
    return measure


def time_one(spec, quick, timer):
    """The child's side of :func:`isolated`: ``spec`` is ``module:index:implementation``;
    prints the timed calls' seconds as one JSON list."""
    module_name, index, name = spec.split(":", 2)
    module = importlib.import_module(f"benchmarks.workloads.{module_name}")
    w = module.workloads(quick)[int(index)]
    fn = w["rosenblatt"] if name == "rosenblatt" else w["references"][name]
    fn()
    print(json.dumps([_time_once(fn, timer) for _ in range(ISOLATED_CALLS)]))


def judge(w, result, results):
    """Whether the target holds: the workload's ``check``, else its ``target_ratio``s; True,
    False, or None when it cannot be judged (a reference it names has no ratio: skipped or
    failed)."""
    if "error" in result:
        return None
    if "check" in w:
        return w["check"](result, results)
    return ratios_met(result["references"], w.get("target_ratio"))


def judge_peak(w, result):
    """The verdict once the end-of-run GEMM peak is known: :func:`judge`'s (``result["met"]``)
    and, where the workload sets ``target_peak_fraction``, rosenblatt at that fraction of the
    peak or more (None when no fraction was measured)."""
    need = w.get("target_peak_fraction")
    if need is None or "error" in result:
        return result.get("met")
    fraction = result.get("peak_fraction")
    return all_of(result.get("met"), None if fraction is None else fraction >= need)


# -- output --------------------------------------------------------------------------------------

def _fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def table(results):
    """The results as rows of text (a Markdown table)."""
    header = ["workload", "unit", "rosenblatt median [min-max]", "reference", "reference median",
              "ratio rb/ref [min-max]", "target", "met"]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], r.get("unit", ""), "ERROR: " + r["error"][:60], "", "", "",
                         r.get("target", ""), ""])
            continue
        rb = r["rosenblatt"]
        rb_text = f"{_fmt(rb['value'])} [{_fmt(rb['min'])}-{_fmt(rb['max'])}]"
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        refs = list(r["references"].items()) or [("-", {})]
        for i, (name, ref) in enumerate(refs):
            if "value" in ref:
                ref_text, ratio = _fmt(ref["value"]), f"{ref['ratio']:.2f}x"
                if ref.get("ratio_min", ref["ratio"]) != ref.get("ratio_max", ref["ratio"]):
                    ratio += f" [{ref['ratio_min']:.2f}-{ref['ratio_max']:.2f}]"
            elif name == "-":  # a row without references: nothing failed
                ref_text, ratio = "", ""
            else:
                ref_text, ratio = ref.get("skipped") or ("ERROR " + ref.get("error", ""))[:40], ""
            first = i == 0
            rows.append([r["name"] if first else "", r["unit"] if first else "",
                         rb_text if first else "", name, ref_text, ratio,
                         r.get("target", "") if first else "", met if first else ""])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(row) for row in rows)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats (~1 min)")
    parser.add_argument("--only", default="", help="comma-separated substrings of module or "
                        "workload names (e.g. mlp,xor): a token in a module's name selects that "
                        "module's workloads, any other token the workloads whose names contain "
                        "it; the whole text is one token when it is part of a name (names "
                        "have commas: 'epoch of 60,000')")
    parser.add_argument("--json", default=None,
                        help="where to write the results (default benchmarks/results/latest.json)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per "
                        "implementation, for every row (default: the row's own count where it "
                        "sets one, else 3 with --quick and 5 without)")
    parser.add_argument("--threads", type=int, default=None, help="limit NumPy's BLAS, "
                        "OpenMP, rosenblatt's kernels and PyTorch to this many threads (default: "
                        "leave NumPy's as is); 1 gives steadier ratios on a busy machine")
    parser.add_argument("--timer", choices=("wall", "cpu"), default=None, help="wall-clock "
                        "time (default) or this process's CPU time; 'cpu' with --threads 1 "
                        "ignores the time other programs take the core away")
    parser.add_argument("--isolate", action="store_true", help="time each implementation "
                        "in a process of its own, the processes alternating round by round "
                        f"({ISOLATED_CALLS} calls each, after a warm-up): no library's threads "
                        "or caches left behind for the next (each process still builds the "
                        "whole workload, so it loads PyTorch and scikit-learn too)")
    parser.add_argument("--time-one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true", help="list the workloads (with --quick: the "
                        "quick ones) and exit")
    parser.add_argument("--claims", default="", metavar="NAME[,NAME...]", help="instead of "
                        "timing, run these claim runners over seeded runs (benchmarks/claims.py: "
                        "neat-xor, neat-pole, cosyne-markov, cosyne-non-markov, nsga2); the timed "
                        "run's options (--json, --quick, --only, --repeats, --threads, --timer, "
                        "--isolate, --list) are refused with it")
    parser.add_argument("--runs", type=int, default=None, help="with --claims: seeded runs per "
                        "claim runner (default: each runner's own)")
    from rosenblatt.cli.executors import add_options, executor_for

    add_options(parser, "run the --claims runners' seeds (never the timed repeats)")
    args = parser.parse_args(argv)
    # the timed run's options mean nothing to the claim runners, and --runs nothing to the
    # timed run: refused rather than ignored (a --json that writes nothing loses the results)
    timed_only = [flag for flag, given in (
        ("--json", args.json is not None), ("--quick", args.quick), ("--only", bool(args.only)),
        ("--repeats", args.repeats is not None), ("--threads", args.threads is not None),
        ("--timer", args.timer is not None), ("--isolate", args.isolate), ("--list", args.list))
        if given]
    if args.claims and timed_only:
        parser.error(f"{', '.join(timed_only)}: options of the timed workloads; --claims runs "
                     "the claim runners' seeded runs (--runs, --workers, --scheduler) and "
                     "prints their summaries")
    if not args.claims and args.runs is not None:
        parser.error("--runs: the number of seeded runs of each --claims runner; the timed "
                     "workloads take --repeats")
    args.timer = args.timer or "wall"
    args.json = args.json or str(HERE / "results" / "latest.json")
    if args.claims:
        from benchmarks import claims

        names = [n.strip() for n in args.claims.split(",") if n.strip()]
        unknown = [n for n in names if n not in claims.RUNNERS]
        if unknown:
            parser.error(f"--claims: no runner {unknown[0]!r}; the runners are "
                         f"{', '.join(claims.RUNNERS)}")
        if args.runs is not None and args.runs < 1:
            parser.error(f"--runs must be a positive integer; got {args.runs}")
        with executor_for(args, "benchmarks.run --claims") as executor:
            for name in names:
                t0 = time.perf_counter()
                claims.run(name, args.runs, executor)
                print(f"[{time.perf_counter() - t0:6.1f} s] {name}", flush=True)
        return 0
    if args.workers is not None or args.scheduler:
        parser.error("--workers/--scheduler run the --claims runners' seeds in parallel; timed "
                     "workloads run one at a time (parallel repeats would distort each other's "
                     "timings)")
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be a positive integer; got {args.repeats}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer; got {args.threads}")

    if args.list:  # the rows of this mode that --only selects (all without it)
        modules = discover()
        module_names = [name for name, _ in modules]
        built, lines = [], []
        for module_name, module in modules:
            try:
                if isinstance(module, Exception):
                    raise module
                built.append((module_name, module.workloads(args.quick)))
            except Exception as err:  # as a run reports it: the other modules are still listed
                what = "import" if isinstance(module, Exception) else "workloads()"
                lines.append((module_name, "", f"{module_name}: {what} failed: "
                                                 f"{type(err).__name__}: {err}"))
        names = [w.get("name", "") for _, rows in built for w in rows]
        only = _only_tokens(args.only, module_names, names)
        unmatched = [o for o in _split_only(only, module_names)[1]
                     if not any(o in name for name in names)]
        if unmatched:
            parser.error(f"--only: {unmatched[0]!r} names no module or workload")
        lines += [(module_name, w["name"], f"{module_name}: {w['name']}  [{w['unit']}]  "
                                           f"target: {w.get('target', '')}")
                  for module_name, rows in built for w in rows]
        for module_name, name, line in sorted(lines, key=lambda t: module_names.index(t[0])):
            if (not only or _selected(only, module_name, name, module_names)
                    or (not name and _split_only(only, module_names)[1])):
                print(line)  # (a failed module's line: when it, or any row, may be meant)
        return 0
    if not args.time_one:  # an --isolate child times one call and writes no JSON
        only, unmatched, failed = _parse_only(args.only, args.quick)
        if unmatched:
            parser.error(f"--only: {unmatched[0]!r} names no module or workload (see --list)"
                         + (f"; workloads() failed in {', '.join(failed)}" if failed else ""))
        json_path = _writable_json(parser, args.json)  # before anything is timed

    start = time.perf_counter()
    timer = time.process_time if args.timer == "cpu" else time.perf_counter
    if args.timer == "cpu" and args.threads != 1:
        print("note: --timer cpu sums the CPU time of all threads; use it with --threads 1")
    limiter = None
    if args.threads:
        for name in ("torch", "sklearn.neural_network", "scipy.linalg"):
            optional(name)  # load their thread pools first, so that the limit reaches them
        tpc = optional("threadpoolctl")
        if tpc is None:
            parser.error("--threads needs threadpoolctl (pip install threadpoolctl)")
        limiter = tpc.threadpool_limits(limits=args.threads)
        import rosenblatt as rb

        rb.set_num_threads(args.threads)  # also the compiled kernels' (Numba's) thread pool
    torch_or_none()  # PyTorch threads = NumPy BLAS threads, before any workload is built
    if args.time_one:
        time_one(args.time_one, args.quick, timer)
        return 0
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores; BLAS: "
          + ", ".join(f"{b['internal_api']} {b['version']} ({b['num_threads']} threads"
                      + (f", {b['architecture']} kernels)" if b.get("architecture") else ")")
                      for b in info["blas"])
          + f"; torch threads: {info['threads']['torch']} (its BLAS: {info['torch_blas']})")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    info["openblas_env"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                            if k in os.environ}
    if info["openblas_env"]:
        print("note: " + ", ".join(f"{k}={v}" for k, v in info["openblas_env"].items())
              + " is set: OpenBLAS runs the kernels named above, not the ones it would pick for "
              "this CPU (see 'OpenBLAS kernels' in benchmarks/README.md)")
    info["load_average_start"] = _load_average()
    steady = args.threads == 1 and args.timer == "cpu"
    _warn_if_busy(info["load_average_start"], info["cores"], steady)
    peak = gemm_peak(timer=timer)
    info["gemm_peak_gflops"] = peak
    print(f"float32 GEMM peak (np.matmul 2048^3, best of 5, {args.timer} time): "
          f"{peak:.1f} GFLOP/s")

    results, errors, judged = [], [], []
    modules = discover()
    names = [name for name, _ in modules]
    by_module, by_name = _split_only(only, names)
    if only and not by_name:  # every --only token names a module: build only those modules
        modules = [(n, m) for n, m in modules if any(o in n for o in by_module)]
    for module_name, module in modules:
        if isinstance(module, Exception):
            if _selected(only, module_name, "", names):
                errors.append(f"{module_name}: import failed: {type(module).__name__}: {module}")
                print(f"[skip] {errors[-1]}")
            continue
        try:
            todo = [(i, w) for i, w in enumerate(module.workloads(args.quick))
                    if _selected(only, module_name, w.get("name", ""), names)]
        except Exception as err:
            errors.append(f"{module_name}: workloads() failed: {type(err).__name__}: {err}")
            print(f"[skip] {errors[-1]}")
            continue
        for index, w in todo:
            _validate(w, module_name)
            t0 = time.perf_counter()
            measure = isolated(module_name, index, args) if args.isolate else None
            result = run_workload(w, row_repeats(w, args.repeats, args.quick), timer, measure)
            result["module"] = module_name
            result["met"] = judge(w, result, results)
            results.append(result)
            judged.append((w, result))
            print(f"[{time.perf_counter() - t0:6.1f} s] {w['name']}", flush=True)

    if any("gflops" in r for r in results):  # a busy start can understate the peak: take the
        peak = max(peak, gemm_peak(timer=timer))  # better of two measurements
        info["gemm_peak_gflops"] = peak
        print(f"float32 GEMM peak, best of start and end: {peak:.1f} GFLOP/s")
        for r in results:
            if "gflops" in r:
                r["peak_fraction"] = r["gflops"] / peak
    for w, r in judged:  # a "% of peak" target can only be judged now
        r["met"] = judge_peak(w, r)
    print()
    for text in table(results):
        print(text)
    for r in results:
        if "peak_fraction" in r:
            print(f"{r['name']}: rosenblatt runs at {r['gflops']:.1f} GFLOP/s, "
                  f"{100 * r['peak_fraction']:.0f}% of the float32 GEMM peak")
        if r.get("notes"):
            print(f"{r['name']}: {r['notes']}")
    for e in errors:
        print("error:", e)
    info["load_average_end"] = _load_average()
    _warn_if_busy(info["load_average_end"], info["cores"], steady)
    elapsed = time.perf_counter() - start
    print(f"total {elapsed:.0f} s")

    # each row records its own "repeats"; this is the command line's (None: the defaults)
    report = {"quick": args.quick, "repeats": args.repeats, "elapsed_s": elapsed,
              "timer": args.timer, "threads_limit": args.threads, "isolated": args.isolate,
              "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": info, "results": results, "errors": errors}
    json_path.write_text(json.dumps(report, indent=1, default=float))
    print(f"wrote {json_path}")
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
