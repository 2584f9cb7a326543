"""Data-parallel training over MPI (notes: "Training neural networks"; DESIGN principle 10).

Every rank (an MPI process, ``mpirun -n N``) holds the whole model and the
same optimizer state. Each global mini-batch of ``B`` examples is cut into
``N`` shards; rank ``r`` computes the gradient ``g_r`` of the mean loss over
its ``n_r`` examples, and **one** ``Allreduce`` of the flat gradient vector
(the model's :class:`~rosenblatt.nn.ParameterVector`) gives every rank

.. math:: g = \\sum_r \\frac{n_r}{B} g_r ,

the gradient of the mean loss over the whole batch: exactly what one process
computes on the batch, up to the order of the floating-point additions. For a
weighted mean loss (``cross_entropy`` with ``weight`` or ``ignore_index``:
``sum_i w_i l_i / W``) the shard's weight is ``W_r / W`` instead, its share of
the weights (:func:`rosenblatt.nn.losses.mean_normaliser`); ``rb.fit`` computes
both from the batch's targets, which every rank holds, when the loss is such a
function or a ``functools.partial`` of one (a lambda hides its options), or any
loss that tells its weights by a ``mean_weights`` attribute.

Two ways to get there, the same arithmetic (the tests check the two give the
same weights and optimizer state):

* **Sharded** (the default when every rank is on one node and the optimizer
  is an element-wise ``rb.optim`` rule): theta is cut into ``N`` nearly
  equal shards. Every rank's theta and gradient live in memory the node's
  ranks share (an MPI-3 shared-memory window; the optimizer's flat vectors
  are moved there, :meth:`~rosenblatt.nn.ParameterVector.move_to`). After
  backward the ranks meet (a barrier: flags in that memory), and rank ``r`` adds the other ranks'
  gradients over its shard, read where they are (a reduce-scatter), steps
  that shard of theta with that shard of the optimizer's state
  (:meth:`~rosenblatt.optim.optimizer.Optimizer.step_part`), and after a
  second meeting copies the other ranks' shards of theta (an all-gather).
  The optimizer's pass over the vector, the one per-step cost that every
  rank would otherwise repeat in full, is split ``N`` ways, and the data
  cross the node's memory once, without an MPI library's intermediate copies.
  Each rank's optimizer state is current in its shard only; ``rb.fit``
  gathers it before writing a checkpoint and when training ends
  (:meth:`DataParallel.sync_state`), so a checkpoint holds the whole state
  and resumes on any number of ranks, or in one process.
* **One Allreduce** (ranks on several nodes, ``shard=False``, or when
  ``rb.fit`` needs the whole reduced gradient before the step: ``clip_norm``,
  a callback's ``on_backward``; then :meth:`DataParallel.reduce` is called
  with ``whole=True``, in the node's memory or not; ``clip_value`` is
  element-wise and stays sharded: each rank clips its shard): the whole flat
  gradient is reduced in place in the optimizer's vector (no copy) and every
  rank takes the same whole
  step, so the ranks' weights stay identical without ever being sent; a
  second, small ``Allreduce`` carries the loss (to detect divergence on every
  rank at once).

Batch normalization is synchronised (PyTorch's SyncBatchNorm): in training
each batch-norm layer sums its per-channel sums over the ranks
(:meth:`DataParallel.sum_over_ranks`), so every rank normalises its shard with
the whole batch's mean and variance and updates identical running statistics,
and its backward's two per-channel means cover the whole batch too: the step
is one process's on the whole batch, batch norm included. That costs three
small ``Allreduce`` calls per layer and step (``C + 1``, ``C`` and ``2 C``
numbers for ``C`` channels). The batch norm of recurrent layers
(``RNN``/``LSTM``/``GRU(batch_norm=True)``) is synchronised the same way, through
the layer's ``sum_over_ranks`` hook; over threads such a model is refused rather
than trained with each part's statistics.

Communication per step is ``size(theta) + 1 + P`` numbers for ``P`` parameter
tensors (the loss, and whether a gradient reached each parameter on the rank: one
that no rank's reached keeps ``grad`` None and the step skips it, as in one
process; plus the batch-norm layers' few) each way either way (sharded: each
rank reads ``(N - 1) / N`` of
the others' gradients and of their weights), whatever the
depth of the model; the per-epoch sums of the loss and the metrics take one
more small ``Allreduce``. ``rb.fit`` seeds backward with the shard's weight
``n_r / B``, so the gradient arrives scaled without a pass over it.

The gradient is reduced after the whole backward pass rather than layer by
layer as backward produces it: between two ranks on one machine the
reduction is memory copies and additions done by the same cores that compute
the backward pass, and Open MPI progresses a non-blocking reduction only
inside MPI calls, so starting it early hides nothing (measured in
``benchmarks/workloads/scale.py --profile``); across machines a network card
would do the transfer, and there overlapping would pay.

Randomness: at the start rank 0's model (its weights, the parameters the
optimizer does not hold, every buffer: batch-norm statistics, SparseDense
masks) and random generators are sent to every rank; at each epoch rank 0's
shuffling generator, so all ranks cut the same batches. Augmentation and
input noise (drawn from that generator) are applied to the whole global
batch on every rank before it is cut, so they draw what one process would
draw. Dropout and RReLU layers draw the whole global batch's masks (slopes)
on every rank and keep their shard's rows: exactly one process's draws
(drawing ``N`` times the numbers, a small cost beside the layer's product);
a rank whose shard of a batch is empty still runs that batch's forward and
backward pass (on no rows) to draw them, as it does with batch norm, whose
sums need every rank. Only those layers: any other draw from the library
generator in forward (the functional ``rb.nn.dropout.dropout(..., rng=None)``,
a custom module's noise) is made by each rank from its copy of rank 0's
generator, so the ranks' shards get the same numbers row for row (not one
process's draws, and correlated across the ranks): use the Dropout and RReLU
layers, or draw from a generator of your own seeded per rank. RigL
(``rb.callbacks.Rewire("rigl")``) ranks the connections by the dense gradient
summed over the ranks.

What every rank must agree on, ``rb.fit`` makes them agree on: the data
(every rank holds the whole data set; :meth:`DataParallel.check_data` raises
the same error on every rank otherwise), the per-batch logs that callbacks
and the progress bar see (the running means over the global batches, one
small ``Allreduce`` a batch when anything reads them), and a stop
(``trainer.stop_training`` set on any rank stops every rank after the
epoch). Only rank 0 writes checkpoints and shows progress.

Examples
--------
A hand-written loop (``rb.fit(..., distributed="mpi")`` does all of this)::

    dp = rb.distributed.DataParallel(model, opt)          # under mpirun -n 2
    for index in batches:                                  # the same on every rank
        mine, weight = dp.shard(index)
        loss = rb.losses.cross_entropy(model(rb.tensor(X[mine])), y[mine])
        opt.zero_grad()
        loss.backward(np.full(loss.data.shape, weight))    # seeded with n_r / B
        dp.step(weight, loss.item(), scaled=True)          # reduce, then the (sharded) step

Seeding backward with the shard's weight is what makes batch norm right
with uneven shards (its backward sums terms over the ranks, which must
already carry the weight); ``loss.backward()`` and ``dp.step(weight)``
scale the gradient afterwards, which is the same only without batch norm.
"""

import _thread
import contextlib
import json
import os
import threading
import time
import zlib

import numpy as np

from ..autodiff import _kernels
from ..checks import one_of, positive_float, positive_int
from ..nn.activations import RReLU
from ..nn.batchnorm import _BatchNorm
from ..nn.dropout import Dropout
from ..nn.parameter import Parameter, ParameterVector
from ..nn.recurrent import RecurrentBase
from ..nn.sparse_dense import SparseDense
from ..optim.optimizer import Optimizer
from ..randomness import generator, resolve_rng, using

__all__ = ["DataParallel", "ThreadParallel", "launched_by_mpirun", "world"]

# set by mpirun/mpiexec of Open MPI, MPICH/Hydra, Intel MPI, PMIx-based launchers and Slurm
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
                       "PMI_RANK", "HYDRA_CONTROL_FD")


# the built-in errors DataParallel.agree raises on the other ranks as the same class (with
# rosenblatt's own, see _shared_error_class; KeyError is not here: its str() is a repr)
_SHARED_ERRORS = {e.__name__: e for e in (ValueError, TypeError, FileNotFoundError,
                                           PermissionError, OSError, RuntimeError,
                                           FloatingPointError, ArithmeticError, MemoryError,
                                           NotImplementedError, AssertionError)}


def _qualified(kind):
    return f"{kind.__module__}.{kind.__qualname__}"


def _shared_error_class(names):
    """The class :meth:`DataParallel.agree` raises for an error whose class and bases are
    ``names`` (its ``__mro__`` as ``module.qualname``): the first that is one of rosenblatt's
    errors (those the training layer sees) or in ``_SHARED_ERRORS``, else None."""
    from ..io.errors import FormatError
    from ..nn.registry import SpecError
    from ..parallel import ExecutorShutdownError
    from .trainer import DivergenceError

    known = {_qualified(e): e for e in (*_SHARED_ERRORS.values(), FormatError, SpecError,
                                        ExecutorShutdownError, DivergenceError)}
    for name in names:
        if name in known:
            return known[name]
    return None


def _error_text(error, limit=None):
    """``error``'s class (its ``__mro__`` as ``module.qualname``) and message, as JSON bytes;
    at most ``limit`` bytes, the message cut (never the JSON) when it is longer."""
    names, message = [_qualified(k) for k in type(error).__mro__], str(error)
    text = json.dumps([names, message]).encode()
    while limit is not None and len(text) > limit:
        if message:  # in proportion to the bytes over (escapes take several a character)
            message = message[:max(0, len(message) * limit // len(text) - 16)]
        elif len(names) > 1:  # the class names alone are too long: its own only
            names = names[:1]
        else:
            return json.dumps([["builtins.RuntimeError"], ""]).encode()
        text = json.dumps([names, message + (" [...]" if message else "")]).encode()
    return text


def _error_from_text(text, rank):
    """The error to raise for rank ``rank``'s :func:`_error_text`: of the same class with the
    same message when :func:`_shared_error_class` knows it, else a RuntimeError naming the
    class and the rank."""
    names, message = json.loads(text.decode())
    kind = _shared_error_class(names)
    name = names[0].rsplit(".", 1)[-1]
    return (RuntimeError(f"rank {rank} stopped with {name}: {message}")
            if kind is None else kind(message))


def launched_by_mpirun():
    """True when this process was started by an MPI launcher (``mpirun``/``mpiexec``/``srun``).

    Looks at the launchers' environment variables only, without initialising MPI.
    """
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def world(owner="distributed"):
    """``mpi4py.MPI.COMM_WORLD``, or a clear error saying what to install or run.

    Raises
    ------
    RuntimeError
        This process was not started by ``mpirun`` (one rank alone trains nothing in parallel).
    ImportError
        mpi4py is not installed.
    """
    if not launched_by_mpirun():
        raise RuntimeError(
            f"{owner}: distributed='mpi' needs one process per rank, started by an MPI "
            f"launcher; this one was started alone. Run e.g. `mpirun -n 2 python train.py` "
            f"or `mpirun -n 2 rosenblatt train config.toml` (as root add --allow-run-as-root)")
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            f"{owner}: distributed='mpi' needs mpi4py: pip install 'rosenblatt[mpi]' (it builds "
            f"against an MPI library: on Debian/Ubuntu apt-get install openmpi-bin "
            f"libopenmpi-dev)") from None
    return MPI.COMM_WORLD


def _as_index(index, n, owner="distributed"):
    """A slice, an index array or a boolean mask of the examples, as an int array (a mask
    selects examples: its positions are not the examples themselves)."""
    if isinstance(index, slice):
        return np.arange(n)[index]
    index = np.asarray(index)
    if index.dtype == bool:
        if index.ndim != 1 or (n is not None and len(index) != n):
            raise ValueError(f"{owner}: a boolean mask of the examples must be 1-d with one "
                             f"entry per example ({n}); got shape {index.shape}")
        return np.flatnonzero(index)
    if index.dtype.kind not in "iu" and index.size:
        raise TypeError(f"{owner}: index must be a slice, an integer index array or a boolean "
                        f"mask of the examples; got a {index.dtype} array")
    return index


# bit generators with an advance(delta) that costs O(1) in delta
_ADVANCES = (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox)


def _unreached(vec, others=()):
    """Indices of the parameters of ``vec`` whose ``grad`` is None there and on the same
    parameter of each vector of ``others`` (replicas, in the same order): call it before
    reading any ``.grad`` vector, which fills those slots with zeros. One pass of identity
    tests over the parameters; the others are looked at only when some ``grad`` is None."""
    none = [i for i, p in enumerate(vec.params) if p.grad is None]
    for other in others:
        if not none:
            break
        params = other.params
        none = [i for i in none if params[i].grad is None]
    return none


def _mpi_sums(MPI, dtype):
    """Whether this process's MPI library can sum arrays of ``dtype`` (Open MPI 4 has no
    float16 datatype: its collectives fail with MPI_ERR_TYPE). A local probe on
    ``COMM_SELF``, no message to another rank."""
    probe = np.zeros(1, dtype=dtype)
    try:
        MPI.COMM_SELF.Allreduce(MPI.IN_PLACE, probe)
    except (MPI.Exception, KeyError, TypeError, ValueError):
        return False
    return True


def _mpi_name(MPI):
    try:
        return MPI.Get_library_version().splitlines()[0].split(",")[0].strip()
    except Exception:  # noqa: BLE001 - only for a message
        return "MPI"


def _gradient_vector(owner, optimizer):
    """The optimizer's flat ParameterVector, or a clear error when data-parallel training
    cannot drive it (not a gradient optimizer of rb.optim, or one that needs a closure)."""
    vec = getattr(optimizer, "vec", None)
    if vec is None or not hasattr(vec, "grad"):
        raise TypeError(f"{owner}: optimizer must be an rb.optim gradient optimizer owning "
                        f"the model's flat ParameterVector; got {type(optimizer).__name__}")
    if getattr(optimizer, "needs_closure", False):
        raise ValueError(f"{owner}: {type(optimizer).__name__} re-evaluates the loss itself "
                         f"instead of taking a gradient step; data-parallel training needs a "
                         f"gradient optimizer (SGD, Adam, ...)")
    return vec


class DataParallel:
    """Synchronous data-parallel training of ``model`` over the ranks of ``comm``.

    Parameters
    ----------
    model : rb.nn.Module
    optimizer : rb.optim optimizer
        A gradient optimizer built on the model's parameters (it owns the flat
        ``ParameterVector`` whose gradient is reduced).
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD`` (the process must have been started by ``mpirun``).
    wait : {"block", "poll"}, default "block"
        How a rank waits for the others in the Allreduce: inside MPI's
        blocking ``Allreduce`` (Open MPI spins on the core: the lowest latency
        on dedicated cores), or by starting non-blocking ``Iallreduce`` calls
        and testing them for ``spin`` seconds, then between sleeps of
        ``poll_interval`` seconds, leaving the core to other work. Use "poll"
        when the ranks share their cores with other processes (more ranks
        than cores, a loaded machine): a rank whose partner is descheduled
        then sleeps instead of spinning on the core the partner needs. On
        idle cores "block" is faster (Open MPI's non-blocking reduction of the
        MLP benchmark's 1 MB gradient took 0.2 ms against 0.1 ms). Either
        way the arithmetic is the same. Sharded, the ranks meet through the
        node's memory instead (flags the ranks write and read, no MPI call):
        after ``spin`` seconds a "block" rank checks the flags between
        ``os.sched_yield()`` calls (the core goes to another thread only if
        one is waiting for it), a "poll" rank between sleeps.
    poll_interval : float, default 1e-4
    spin : float, default 5e-5
        Seconds a waiting rank tests the barrier without pause (a partner
        that is a few microseconds behind costs no system call): "poll" ranks
        and, sharded, "block" ranks.
    shard : {"auto", True, False}, default "auto"
        Sharded optimizer steps through the node's shared memory (see the
        module's notes) when possible: every rank on one node, an element-wise
        ``rb.optim`` optimizer, more than one rank. True raises when it is
        not possible; False always reduces the whole gradient with one
        ``Allreduce`` and steps the whole vector on every rank.

    Attributes
    ----------
    rank, size : int
    is_root : bool
        Rank 0: the one that writes checkpoints and shows progress.
    sharded : bool
        Whether :meth:`reduce` and :meth:`update` shard the step.
    parts : list of slice
        The shards of theta, rank by rank (64-byte aligned cuts); ``part`` is this rank's.
    message_bytes : int
        Bytes each rank sends per step: the gradient (one ``Allreduce`` in
        place) and the loss with a flag per parameter tensor, whether a gradient
        reached it (a second, small one); batch-norm layers add their
        per-channel sums (:meth:`sum_over_ranks`).
    timers : dict
        Seconds spent so far in :meth:`reduce` (or :meth:`allreduce`):
        ``pack`` (scaling the gradient by the shard's weight, unless backward
        was seeded with it; the loss), ``allreduce`` (the
        reductions, waiting for the other ranks included; sharded: the
        meeting), ``unpack`` (sharded: summing this rank's shard), in :meth:`update` when sharded
        (``update``: the shard's optimizer step and the all-gather), ``wait``
        (sharded: time in the meetings, both of them); and ``steps``.

    Raises
    ------
    TypeError
        The MPI library cannot sum arrays of the parameters' dtype: a float16
        model under Open MPI 4, which has no float16 datatype (train it in
        float32 over MPI, or over threads).

    Notes
    -----
    On construction (and when ``rb.fit`` starts), rank 0's model is copied to
    every rank: its weights, the parameters the optimizer does not hold and
    every buffer (batch-norm statistics, SparseDense masks), so ranks that
    initialised differently start equal.
    """

    def __init__(self, model, optimizer, comm=None, wait="block", poll_interval=1e-4,
                 spin=5e-5, shard="auto"):
        vec = _gradient_vector("DataParallel", optimizer)
        unsynced = [m for m in _recurrent_norms(model) if not hasattr(m, "sum_over_ranks")]
        if unsynced:  # (on every rank alike, before anything collective)
            raise ValueError(
                f"DataParallel: the model has recurrent batch normalization "
                f"({_names(unsynced)}), which does not sum its statistics over the ranks: each "
                f"rank would normalise its part of the batch with that part's statistics, not "
                f"the one-process step; train it in one process, or without batch_norm")
        self.wait = one_of("DataParallel", "wait", wait, ("block", "poll"))
        self.poll_interval = positive_float("DataParallel", "poll_interval", poll_interval)
        self.spin = positive_float("DataParallel", "spin", spin, allow_zero=True)
        if shard not in ("auto", True, False):
            raise ValueError(f"DataParallel: shard must be 'auto', True or False; got {shard!r}")
        if comm is None:
            comm = world("DataParallel")
        from mpi4py import MPI  # a communicator was given or found: mpi4py is there

        if not _mpi_sums(MPI, vec.data.dtype):  # (the same library on every rank: all raise)
            raise TypeError(
                f"DataParallel: this MPI library ({_mpi_name(MPI)}) cannot send or sum "
                f"{vec.data.dtype} arrays, the model's parameters (it has no such datatype); "
                f"train the model in float32 over MPI (model.astype(np.float32) before "
                f"building the optimizer), or over threads (distributed='threads')")
        self._in_place, self._testall = MPI.IN_PLACE, MPI.Request.Testall
        self.model, self.optimizer, self.comm, self.vec = model, optimizer, comm, vec
        self.rank, self.size = int(comm.Get_rank()), int(comm.Get_size())
        self.is_root = self.rank == 0
        self._every_rank = None  # the last error that agree or check_data raised on every rank
        # batch norm over the global batch: each layer sums its per-channel statistics (and
        # its backward's two sums) over the ranks, so every rank normalises, and updates its
        # running statistics, as one process would (see rb.nn.batchnorm)
        self._norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
        self._norms += _recurrent_norms(model)  # those that sum over the ranks (else refused)
        # layers that draw per example in training (dropout masks, RReLU slopes): each rank
        # draws the whole global batch's, as one process would, and keeps its rows
        self._rows = None  # (B, start, stop) of this rank's shard of the current batch
        self._drawing = [(m, m.rng) for m in model.modules() if isinstance(m, (Dropout, RReLU))]
        for m, rng in self._drawing:
            # (rng=None: the library generator of each draw, so a later rb.seed decides)
            m.rng = _GlobalBatchDraws(resolve_rng(rng).bit_generator, self,
                                      library=rng is None)
        self._sparse = [m for m in model.modules() if isinstance(m, SparseDense)]
        self._dense_seen = {}  # each layer's dense gradient already summed (RigL)
        for m in self._norms:
            m.sum_over_ranks = self.sum_over_ranks
        # the loss, and a flag per parameter: whether a gradient reached it on this rank
        # (one that no rank's reached keeps grad None after the exchange, so the step skips
        # it as one process does)
        self._small = np.empty(1 + len(vec.params), dtype=vec.data.dtype)
        self.message_bytes = int(vec.data.nbytes + self._small.nbytes)
        self.timers = {"pack": 0.0, "allreduce": 0.0, "unpack": 0.0, "update": 0.0, "wait": 0.0,
                       "steps": 0}
        # the shards: rank r steps theta[parts[r]] (64-byte aligned cuts, nearly equal sizes)
        n, k = vec.size, self.size
        cuts = [min(n, (n * r // k + 15) // 16 * 16) for r in range(k)] + [n]
        self.parts = [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
        self.part = self.parts[self.rank]
        self._node = None
        if shard is not False:
            why = self._why_not_sharded(optimizer)
            if why is None:
                self._node = _NodeMemory(comm, vec.size, self._small.size, vec.data.dtype)
                why = self._node.why_not
                if why is not None:
                    self._node = None
                else:  # theta and the gradient move into the node's memory (values kept)
                    vec.move_to(self._node.thetas[self.rank], self._node.grads[self.rank])
            if why is not None and shard is True:
                raise ValueError(f"DataParallel: shard=True but {why}")
        self.sharded = self._node is not None
        self.broadcast_parameters()

    def _why_not_sharded(self, optimizer):
        if self.size < 2:
            return "there is one rank"
        if not isinstance(optimizer, Optimizer) or type(optimizer).step is not Optimizer.step:
            return (f"{type(optimizer).__name__} is not an element-wise rb.optim rule "
                    f"(it cannot step a shard of the vector alone)")
        return None

    # -- the one message per step ----------------------------------------------------------
    def shard(self, index, n=None):
        """This rank's part of a global batch: ``(its index array, weight n_r / B)``.

        ``index`` is an index array, a boolean mask of the examples (its
        ``True`` positions), or a slice of ``range(n)``; rank ``r``
        gets the ``r``-th of ``size`` nearly equal consecutive parts (a view
        of ``index``: nothing is copied). The model's dropout and RReLU layers
        then draw the whole batch's numbers and keep these rows (one process's
        draws), until the next call.
        """
        index = _as_index(index, n, "DataParallel.shard")
        total = len(index)
        q, extra = divmod(total, self.size)  # np.array_split's parts: `extra` get one more
        r = self.rank
        start = r * q + min(r, extra)
        mine = index[start:start + q + (r < extra)]
        self._rows = (total, start, start + len(mine))
        return mine, (len(mine) / total if total else 0.0)

    def _poll(self, requests):
        """wait="poll": test the non-blocking reductions for ``spin`` seconds, then between
        sleeps of ``poll_interval`` seconds (the core is left to other processes)."""
        start = time.perf_counter()
        while not self._testall(requests):
            if time.perf_counter() - start > self.spin:
                time.sleep(self.poll_interval)

    def allreduce(self, weight, loss=0.0, scaled=False):
        """Average the gradient over the ranks, weighted.

        Each rank passes the weight of its shard (``n_r / B``) and its shard's
        loss; after the ``Allreduce`` every rank holds the weighted sum in the
        gradient vector, and gets the batch's loss. The gradient is scaled and
        reduced in place (no copy of it is made); the loss travels in a
        second, small ``Allreduce``.
        ``scaled``: the gradient is already multiplied by ``weight`` (``rb.fit``
        seeds backward with it), so no pass over the vector scales it. With
        batch-norm layers and uneven shards backward must be seeded with the
        weight (see the module's example): their backward sums terms over the
        ranks, and scaling the gradient afterwards cannot undo the mix.
        """
        self._sum_dense_grads()
        clock = time.perf_counter
        t0 = clock()
        small = self._small
        self._pack(small, loss, weight)  # (the flags before vec.grad fills the slots)
        grad = self.vec.grad
        if weight != 1.0 and not scaled:
            np.multiply(grad, weight, out=grad)
        t1 = clock()
        if self.wait == "poll":
            self._poll([self.comm.Iallreduce(self._in_place, grad),
                        self.comm.Iallreduce(self._in_place, small)])
        else:
            self.comm.Allreduce(self._in_place, grad)
            self.comm.Allreduce(self._in_place, small)
        return self._unpack(small, t0, t1, clock())

    def _pack(self, small, loss, weight):
        """The weighted loss and the reached flags into the small message ``small`` (before
        ``vec.grad`` is read: reading it fills the unreached slots with zeros)."""
        small[0] = loss * weight if weight else 0.0  # an empty shard (a NaN mean): nothing
        for i, p in enumerate(self.vec.params, 1):
            small[i] = p.grad is not None

    def _unpack(self, small, t0, t1, t2):
        """The phase timers (packing ``t0..t1``, reduction ``t1..t2``, unpacking from
        ``t2``); the batch's loss."""
        timers = self.timers
        timers["pack"] += t1 - t0
        timers["allreduce"] += t2 - t1
        timers["unpack"] += time.perf_counter() - t2
        timers["steps"] += 1
        flags = small[1:]
        if not flags.all():  # reached on no rank: the step skips it, as in one process
            for p, reached in zip(self.vec.params, flags):
                if not reached:
                    p.grad = None
        return float(small[0])

    def _meet(self):
        """Every rank of the node reaches this point (the shared buffers are then complete).

        A barrier through the node's memory: each rank writes how many meetings it has
        reached into its own flag and reads the others' (see :meth:`_NodeMemory.meet`).
        """
        start = time.perf_counter()
        stopped = self._node.meet(self.spin, self.poll_interval if self.wait == "poll" else None)
        self.timers["wait"] += time.perf_counter() - start
        if stopped is not None:  # a rank stopped with an error: it will never come
            rank, text = stopped
            raise _error_from_text(text, rank)

    def reduce(self, weight, loss=0.0, scaled=False, whole=False):
        """The batch's gradient where this rank needs it; returns the batch's loss.

        Sharded (:attr:`sharded`): this rank's shard :attr:`part` of the
        gradient vector becomes the weighted sum over the ranks (the rest of
        the vector keeps this rank's own gradient, which the others read
        until they meet again in :meth:`update`: write nothing outside
        :attr:`part` before it), the loss is summed on every rank; a
        reduce-scatter. Else, or with ``whole=True``, :meth:`allreduce`: the
        whole vector on every rank, for a step of the whole vector
        (``optimizer.step()``, not :meth:`update`) that needs all of it, such
        as ``rb.fit``'s with ``clip_norm`` or a callback's ``on_backward``.

        ``scaled``: backward was seeded with ``weight`` (``n_r / B``), as it
        must be when the model has batch-norm layers and the shards are
        uneven (their backward sums terms over the ranks, which must already
        carry the weight); else the gradient is multiplied by ``weight`` here.
        """
        if self._node is None or whole:
            return self.allreduce(weight, loss, scaled)
        self._sum_dense_grads()
        clock = time.perf_counter
        t0 = clock()
        node, part, rank = self._node, self.part, self.rank
        self._pack(node.smalls[rank], loss, weight)  # (the flags before vec.grad fills slots)
        grad, small = self.vec.grad, self._small
        if grad is not node.grads[rank]:
            raise RuntimeError("DataParallel: the optimizer's gradient vector was moved out "
                               "of the node's shared memory; build a new DataParallel")
        lo, hi = part.start, part.stop
        if not scaled and weight != 1.0:  # the others read it where it is: scale it all
            np.multiply(grad, weight, out=grad)
        t1 = clock()
        self._meet()
        t2 = clock()
        own = grad[lo:hi]
        for r, other in enumerate(node.grads):
            if r != rank:
                own += other[lo:hi]
        np.sum(node.smalls, axis=0, out=small)  # the same order on every rank: equal sums
        return self._unpack(small, t0, t1, t2)

    def update(self):
        """The optimizer's step. Sharded: this rank steps its shard of the weights (with its
        shard of the optimizer's state) and receives the others' shards (an all-gather);
        else every rank steps the whole vector."""
        if self._node is None:
            self.optimizer.step()
            return
        t0 = time.perf_counter()
        self.optimizer.step_part(self.part)  # in place, in this rank's theta in the node
        self._meet()
        data, thetas = self.vec.data, self._node.thetas
        for r, sl in enumerate(self.parts):  # the others' shards, read where they are
            if r != self.rank:
                np.copyto(data[sl], thetas[r][sl])
        self.timers["update"] += time.perf_counter() - t0

    def _exchange(self, array):
        """All-gather: each rank's shard of ``array`` (a vector shaped like theta) to every
        rank, through the node's shared exchange buffer."""
        shared = self._node.exchange
        np.copyto(shared[self.part], array[self.part])
        self._meet()
        for r, sl in enumerate(self.parts):
            if r != self.rank:
                np.copyto(array[sl], shared[sl])
        self._meet()  # before anyone writes the buffer again

    def gather_parts(self, array):
        """Collective: every rank's shard of ``array`` (shaped like theta) onto every rank.

        Sharded training leaves each rank with the current values in its own
        shard only; the trainer calls this to put back the last good weights
        on a divergence. Nothing to do when not sharded.
        """
        if self._node is None:
            return
        if array.shape != self.vec.data.shape or array.dtype != self.vec.data.dtype:
            raise ValueError(f"DataParallel.gather_parts: needs an array shaped like theta "
                             f"{self.vec.data.shape} {self.vec.data.dtype}; got "
                             f"{array.shape} {array.dtype}")
        self._exchange(array)

    def sync_state(self):
        """Collective: the whole optimizer state and the whole reduced gradient on every rank.

        In sharded training each rank updates its shard of the optimizer's
        state arrays only; ``rb.fit`` calls this before a checkpoint is
        written (so it holds the full state, and resumes on any number of
        ranks or in one process) and when training ends. Nothing to do when
        not sharded.
        """
        if self._node is None:
            return
        opt = self.optimizer
        for name in opt.state_names:
            value = getattr(opt, name, None)
            if isinstance(value, np.ndarray) and value.shape == self.vec.data.shape \
                    and value.dtype == self.vec.data.dtype:
                self._exchange(value)
        self._exchange(self.vec.grad)

    def sum_over_ranks(self, array):
        """Collective: ``array`` (contiguous) summed element-wise over the ranks, in place.

        Batch-norm layers call it in training (their batch statistics and their
        backward's means over the global batch); every rank must call it."""
        if self._node is not None and array.size <= _SMALL_SUM:
            flat = array.reshape(-1)  # (contiguous: a view)
            flat[...] = self._node_sum(flat)  # (in place; float32 rounded once, from float64)
            return array
        if self.wait == "poll":
            self._poll([self.comm.Iallreduce(self._in_place, array)])
        else:
            self.comm.Allreduce(self._in_place, array)
        return array

    def _node_sum(self, values):
        """:meth:`_NodeMemory.sum` of ``values``; another rank's stop is raised here (its
        error) instead of waited for, as in :meth:`_meet`."""
        start = time.perf_counter()
        out = self._node.sum(np.asarray(values, dtype=np.float64), self.spin,
                             self.poll_interval if self.wait == "poll" else None)
        self.timers["wait"] += time.perf_counter() - start
        if isinstance(out, tuple):  # a rank stopped with an error: it will never come
            rank, text = out
            raise _error_from_text(text, rank)
        return out

    def _unhook(self):
        """This process's part of :meth:`close`, no collective: the layers' own generators
        back and batch norm on this process's batches alone again."""
        for m in self._norms:
            m.sum_over_ranks = None
        for m, rng in self._drawing:  # the layers' own generators back
            m.rng = rng
        self._drawing = []

    def abandon(self, error=None):
        """After an error on this rank alone (the others may be waiting for it): undo what
        can be undone without meeting them, and tell them.

        Sharded, the other ranks wait for this one in the node's memory: this
        rank marks itself stopped there (with ``error``'s class and message),
        and each other rank's next meeting raises that error (as
        :meth:`agree` would: the same class and message) instead of waiting
        forever; they then abandon too. Then :meth:`_unhook`, and theta and
        the gradient back into this process's memory (values kept); the
        shared window stays allocated (freeing it is collective), and later
        steps take the Allreduce path. ``rb.fit`` calls it when a step raises
        on some ranks only; a hand-written loop can do the same. Not
        sharded, ranks waiting in an MPI collective cannot be told: run the
        script as ``mpirun -n N python -m mpi4py script.py``, which ends the
        job when one rank raises.
        """
        self._unhook()
        if self._node is not None:
            if error is None:
                error = RuntimeError("DataParallel.abandon() was called")
            self._node.stop(_error_text(error, _STOP_TEXT - 8))
            vec = self.vec
            vec.move_to(vec.data.copy(), vec.grad.copy())
        self._node, self.sharded = None, False

    def close(self):
        """Collective: free the node's shared buffers (``rb.fit`` does it for the
        ``DataParallel`` it makes); afterwards every step takes the Allreduce path,
        and batch norm normalises each process's batches on their own again."""
        self._unhook()
        if self._node is not None:
            self.sync_state()  # a hand-written loop may have left the state sharded
            vec = self.vec  # theta and the gradient back into this process's memory
            vec.move_to(np.empty_like(vec.data), np.empty_like(vec.data))
            self.comm.Barrier()  # no rank reads another's vectors any more
            self._node.free()
        self._node, self.sharded = None, False

    def step(self, weight, loss=0.0, scaled=False):
        """:meth:`reduce` then :meth:`update`; returns the batch's loss.

        ``scaled``: backward was seeded with ``weight``, as it must be with
        batch norm and uneven shards (see :meth:`allreduce`)."""
        value = self.reduce(weight, loss, scaled)
        self.update()
        return value

    # -- keeping the ranks equal -----------------------------------------------------------
    def broadcast_parameters(self):
        """Copy rank 0's model to every rank: the optimizer's weights, the parameters it does
        not hold (frozen layers) and every buffer (batch-norm statistics, SparseDense masks).

        Each array travels in its own dtype (a bool mask as bytes), in place where it
        is contiguous; the ranks must hold the same architecture.
        """
        self.comm.Bcast(self.vec.data, root=0)
        packed = {id(p) for p in self.vec.params}
        arrays = [p.data for _, p in self.model.named_parameters() if id(p) not in packed]
        arrays += [b for _, b in self.model.named_buffers() if isinstance(b, np.ndarray)]
        for array in arrays:
            if array.size == 0 or not array.flags.writeable:  # (read-only: nothing to set)
                continue
            if array.flags.c_contiguous:
                self.comm.Bcast(array.view(np.uint8) if array.dtype == bool else array, root=0)
            else:
                copy = np.ascontiguousarray(array)
                self.comm.Bcast(copy.view(np.uint8) if copy.dtype == bool else copy, root=0)
                array[...] = copy

    def _sum_dense_grads(self):
        """RigL (rb.callbacks.Rewire): each SparseDense's dense gradient ``x^T g`` of this
        step summed over the ranks (each seeded with its shard's weight: the whole batch's),
        so every rank grows the same connections as one process. A rank whose backward
        collected none this step (no examples) adds zeros."""
        for layer in self._sparse:
            collected = layer.dense_grad
            if collected is None:  # not collecting: the same on every rank (same steps)
                continue
            if collected and collected[-1] is not self._dense_seen.get(id(layer)):
                mine = collected[-1]
            else:
                mine = np.zeros(layer.W.data.shape, dtype=layer.W.data.dtype)
                collected.append(mine)
            self.sum_over_ranks(mine)
            self._dense_seen[id(layer)] = mine

    def collective_forward(self):
        """True when every rank must run the forward and backward passes of every batch,
        even on an empty shard (a batch smaller than the number of ranks): batch-norm layers
        in training call collectives in them, and dropout and RReLU layers draw the whole
        global batch's numbers (so every rank's generators stay in step)."""
        return any(m.training for m in self._norms) or any(
            m.training for m, _ in self._drawing)

    def agree(self, error=None):
        """Collective: go on only if no rank has an error; else raise it on every rank.

        Call it where one rank alone may fail between collectives (a check
        that only rank 0 makes, a file that one rank cannot read): ``error``
        is this rank's exception, or None. When any rank passes one, every
        rank raises the lowest such rank's (that rank its own exception;
        the others one of the same class with the same message when it is
        one of rosenblatt's errors or a common built-in one, else of the
        nearest such class it derives from (a ValueError subclass of another
        package: ValueError), else a RuntimeError naming the class and the
        rank), so one ``except`` catches it on every rank and no rank is left
        waiting in the next collective. One small ``Allreduce`` when all is
        well.
        """
        failed = np.zeros(self.size, dtype=np.float64)
        failed[self.rank] = error is not None
        failed = self.sum(failed)
        if not failed.any():
            return
        first = int(np.flatnonzero(failed)[0])
        text = _error_text(error) if self.rank == first else b""
        n = np.array([len(text)], dtype=np.int64)
        self.comm.Bcast(n, root=first)
        buf = (np.frombuffer(text, dtype=np.uint8).copy() if self.rank == first
               else np.empty(int(n[0]), dtype=np.uint8))
        self.comm.Bcast(buf, root=first)
        if self.rank == first:
            self._every_rank = error
            raise error
        error = _error_from_text(buf.tobytes(), first)
        self._every_rank = error
        raise error

    def raised_on_every_rank(self, error):
        """True when ``error`` is what :meth:`agree` or :meth:`check_data` just raised on every
        rank (so the ranks can still meet, e.g. in :meth:`close`)."""
        return error is not None and error is self._every_rank

    def check_data(self, X, y=None, validation=None, owner="fit", callbacks=None,
                   settings=None):
        """Collective: raise the same ValueError on every rank unless every rank holds the
        same data set (``X``, ``y`` and the validation pair ``(Xv, yv)``) and, when
        ``callbacks`` is given, callbacks of the same types in the same order, and, when
        ``settings`` is given (a dict of name -> number, bool or None: ``rb.fit``'s
        ``batch_size``, ``epochs``, ``shuffle``, ``clip_norm`` ...), the same settings.

        Every rank must hold the whole data and cut its rows from each global
        batch; ranks that each loaded their own part (PyTorch DDP's habit)
        would plan different batches and wait for one another forever. Compares
        the shapes and a checksum of up to 128 evenly spaced values of up to
        128 evenly spaced rows of each array (summed in C order, whatever the
        memory layout: the same data give the same sum, bit for bit), one
        small ``Allgather`` of the same length on every rank. Callbacks decide
        collective steps (a Checkpoint's, a whole-gradient callback's), so a
        callback given on some ranks only (rank 0 alone writes checkpoints:
        give them on every rank) is refused too; so are settings that differ
        (another batch size or number of epochs: the ranks would take
        different numbers of steps and wait for one another forever).
        """
        arrays = [("X", X), ("y", y)]
        pair = (None, None) if validation is None else validation
        arrays += [("validation X", pair[0]), ("validation y", pair[1])]
        mine = []
        for _, a in arrays:
            if a is None:
                mine += [-1.0, -1.0, 0.0]
                continue
            a = np.asarray(a)
            mine += [float(len(a) if a.ndim else -1), float(a.size), _checksum(a)]
        names = sorted(settings or {})  # (the same keys on every rank: the caller's code)
        for name in names:  # None as NaN (NaN equals NaN below)
            value = settings[name]
            mine.append(np.nan if value is None else float(value))
        kinds = ",".join(f"{type(cb).__module__}.{type(cb).__qualname__}"
                         for cb in callbacks or ())
        mine.append(float(zlib.crc32(kinds.encode())) if callbacks is not None else -1.0)
        every = np.empty((self.size, len(mine)), dtype=np.float64)
        self.comm.Allgather(np.array(mine, dtype=np.float64), every)
        same = (every == every[0]) | (np.isnan(every) & np.isnan(every[0]))
        if same.all():
            return
        if not same[:, -1].all():
            self._every_rank = ValueError(
                f"{owner}: distributed='mpi' needs the same callbacks on every rank (they "
                f"decide collective steps: a Checkpoint's, a whole-gradient callback's); the "
                f"ranks were given callbacks of different types. Pass the same callbacks on "
                f"every rank (rank 0 alone writes checkpoints and shows progress)")
            raise self._every_rank
        n_data = 3 * len(arrays)
        differ = [k for k in range(n_data, n_data + len(names)) if not same[:, k].all()]
        if differ:
            k = differ[0]
            values = ", ".join(f"rank {r}: {_settings_text(v)}" for r, v in enumerate(every[:, k]))
            self._every_rank = ValueError(
                f"{owner}: distributed='mpi' needs the same {names[k - n_data]} on every rank "
                f"(the ranks cut the same global batches and take the same steps, or wait for "
                f"one another forever); got {values}. Pass the same arguments on every rank")
            raise self._every_rank
        column = int(np.flatnonzero(~same.all(axis=0))[0])
        name, kind = arrays[column // 3][0], column % 3
        if kind < 2:  # the examples, or the values (the shape of an example)
            unit = "examples" if kind == 0 else "values"
            what = ", ".join(f"rank {r} has {int(v)} {unit}" if v >= 0 else f"rank {r} none"
                             for r, v in enumerate(every[:, column]))
        else:
            what = "the same shape on every rank, but other values"
        self._every_rank = ValueError(
            f"{owner}: distributed='mpi' needs the whole data set on every rank (each rank cuts "
            f"its rows from every global batch itself), the same arrays in the same order; "
            f"{name}: {what}. Load the whole data on every rank")
        raise self._every_rank

    def broadcast_json(self, obj):
        """Rank 0's JSON-able ``obj`` on every rank (sent as UTF-8 text, never pickled)."""
        data = json.dumps(obj).encode() if self.is_root else b""
        n = np.array([len(data)], dtype=np.int64)
        self.comm.Bcast(n, root=0)
        buf = np.frombuffer(data, dtype=np.uint8).copy() if self.is_root else np.empty(
            int(n[0]), dtype=np.uint8)
        self.comm.Bcast(buf, root=0)
        return json.loads(buf.tobytes().decode())

    def broadcast_generators(self, generators):
        """Set each generator of the dict ``{name: numpy Generator}`` to rank 0's state."""
        names = sorted(generators)
        states = self.broadcast_json([generators[k].bit_generator.state for k in names])
        for name, state in zip(names, states):
            generators[name].bit_generator.state = state

    def sum(self, values):
        """The element-wise sum over the ranks of a small float64 vector (per-epoch totals,
        flags). Sharded, through the node's memory: a rank that stopped with an error is
        then raised here too, instead of waited for."""
        values = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if self._node is not None and values.size <= _SMALL_SUM:
            return self._node_sum(values)
        out = np.empty_like(values)
        self.comm.Allreduce(values, out)
        return out

    def __repr__(self):
        return (f"DataParallel(rank {self.rank} of {self.size}, {self.vec.size} parameters, "
                f"{self.message_bytes} bytes per step)")


def _settings_text(value):
    """A setting :meth:`DataParallel.check_data` compared, as the caller wrote it: 16, 0.5,
    None (sent as NaN)."""
    if np.isnan(value):
        return "None"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _checksum(a, rows=128, values=128):
    """A float64 position-weighted sum of up to ``rows`` evenly spaced rows of ``a`` times up
    to ``values`` evenly spaced values of each (one bounded fancy-index copy, in C order
    whatever ``a``'s memory layout, so equal data give equal sums bit for bit); 0.0 for
    non-numeric data. 128 x 128 values cost ~0.1 ms where 1024 x 1024 cost 25 ms on every
    rank, 4% of a one-epoch MNIST fit on two ranks (benchmarks/workloads/scale.py)."""
    if a.dtype.kind not in "biuf":
        return 0.0
    if a.ndim < 2 or not len(a):
        picked = a[np.linspace(0, len(a) - 1, min(len(a), rows)).astype(np.int64)] \
            if a.ndim and len(a) else a
    else:
        inner = a.shape[1:]
        m = int(np.prod(inner))
        if m == 0:
            return 0.0
        r = np.linspace(0, len(a) - 1, min(len(a), rows)).astype(np.int64)
        c = np.linspace(0, m - 1, min(m, values)).astype(np.int64)
        picked = a[(r[:, None],) + tuple(k[None, :] for k in np.unravel_index(c, inner))]
    flat = np.ascontiguousarray(picked, dtype=np.float64).reshape(-1)
    # weighted by position, so rows in another order (a rank that shuffled its copy) differ
    with np.errstate(all="ignore"):
        return float(np.sum(flat * (1.0 + np.arange(flat.size) / max(flat.size, 1))))


class _BatchMarkedDraws(np.random.Generator):
    """The base of a random layer's generator under data parallelism: a layer says which of
    its draws are over the batch (``with rng.per_example(x): ...`` around its draw, as
    Dropout and RReLU do), and the subclass draws those for the whole batch and returns its
    part's rows (:class:`_GlobalBatchDraws` on each MPI rank, :class:`_ThreadDraws` shared
    by the threads of :class:`ThreadParallel`)."""

    _explicit = False  # the layer marks its batch draws (per_example)
    _marked = False  # inside a per_example block on the batch
    #: True when every draw comes from the library generator of the moment (the layer's
    #: ``rng`` is None): no state of its own, so a checkpoint saves none for it (the
    #: "library" state covers it) and one written in one process resumes over MPI
    draws_from_library = False

    @contextlib.contextmanager
    def per_example(self, x):
        """The draws inside are over ``x``'s rows, when ``x`` is the batch (not a Parameter:
        dropout applied to a weight matrix draws as one process does)."""
        self._explicit = True
        self._marked = not isinstance(x, Parameter)
        try:
            yield self
        finally:
            self._marked = False


class _GlobalBatchDraws(_BatchMarkedDraws):
    """A random layer's generator under :class:`DataParallel` (the same stream: it shares the
    layer's bit generator): an array drawn for this rank's shard of a batch (its first axis
    the shard's rows) is drawn for the whole global batch and this rank's rows are
    returned, so every rank draws exactly what one process draws for those rows (dropout
    masks, RReLU slopes), at the cost of drawing the whole batch's numbers on each rank.
    Any other draw is passed through. A layer that says which of its draws are over the
    batch (``with rng.per_example(x): ...`` around its draw, as Dropout and RReLU may) has
    only those treated so: a shape alone cannot tell a batch from a weight matrix whose rows
    happen to equal the shard's (DropConnect). ``library``: the layer's ``rng`` is None, and
    each draw comes from the library generator of the moment (``rb.seed`` replaces it)."""

    def __init__(self, bit_generator, data_parallel, library=False):
        super().__init__(bit_generator)
        self._data_parallel = data_parallel
        self._library = library  # the layer's rng is None: the library generator of the draw
        self.draws_from_library = bool(library)

    def _source(self):
        if self._library:  # (rb.seed replaces the library generator: resolve it each time)
            return resolve_rng(None)
        return super()

    def _global(self, size):
        rows = self._data_parallel._rows
        if rows is None or size is None or np.ndim(size) == 0 or (
                self._explicit and not self._marked):
            return None
        size = tuple(int(k) for k in size)
        total, start, stop = rows
        if not size or size[0] != stop - start:
            return None
        return (total,) + size[1:], slice(start, stop)

    def random(self, size=None, dtype=np.float64, out=None):
        shape = None if out is not None else self._global(size)
        if shape is None:
            return self._source().random(size, dtype, out)
        return self._source().random(shape[0], dtype)[shape[1]]

    def uniform(self, low=0.0, high=1.0, size=None):
        shape = self._global(size) if np.ndim(low) == 0 and np.ndim(high) == 0 else None
        if shape is None:
            return self._source().uniform(low, high, size)
        return self._source().uniform(low, high, shape[0])[shape[1]]


_STOP_TEXT = 4096  # bytes per rank in the node's memory for the error it stopped with
# float64 values per rank and slot for small sums through the node's memory (batch norm's
# per-channel statistics, the loop's totals and flags); larger vectors take an Allreduce
_SMALL_SUM = 8192


class _NodeMemory:
    """Buffers that the ranks of one node share (an MPI-3 shared-memory window).

    ``grads[r]`` and ``thetas[r]``: rank ``r``'s gradient and weights (its
    optimizer's flat vectors live there: the other ranks read their shards in
    place); ``smalls[r]``: its loss; ``exchange``:
    where each rank writes its shard of another vector (the optimizer's state)
    for the others to copy; ``flags[r]``: how many meetings rank ``r`` has
    reached (:meth:`meet`; each on its own cache line), -1 once it stopped
    with an error, whose text is then in ``texts[r]`` (:meth:`stop`). ``why_not`` says why
    sharing is impossible (the ranks are on several nodes, or the window
    cannot be made), else None.
    """

    def __init__(self, comm, n, n_small, dtype):
        from mpi4py import MPI

        self.why_not = None
        try:
            node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
        except Exception as e:  # noqa: BLE001 - an MPI without shared-memory windows
            self.why_not = f"this MPI cannot find the ranks of a node ({e})"
            return
        if node.Get_size() != comm.Get_size():
            node.Free()
            self.why_not = ("the ranks are on several nodes (sharding goes through the memory "
                            "of one node)")
            return
        k, item = comm.Get_size(), np.dtype(dtype).itemsize
        pad = (lambda m: (m + 15) // 16 * 16)  # 64-byte aligned rows
        rows, small = pad(n), pad(n_small)
        total = (2 * k + 1) * rows + k * small
        # and a 64-byte line per rank for its meeting flag, and its error's text if it stops
        # then, 64-byte aligned, two slots of _SMALL_SUM float64 per rank for small sums
        sums_at = (total * item + (64 + _STOP_TEXT) * k + 63) // 64 * 64
        size = sums_at + 2 * k * _SMALL_SUM * 8
        try:
            self.win = MPI.Win.Allocate_shared(size if node.Get_rank() == 0 else 0,
                                               item, comm=node)
            buf, _ = self.win.Shared_query(0)
        except Exception as e:  # noqa: BLE001
            node.Free()
            self.why_not = f"the shared-memory window could not be made ({e})"
            return

        def row(i, count=n):  # each its own base array (a ParameterVector's views need that)
            return np.frombuffer(buf, dtype=dtype, count=count, offset=i * rows * item)

        self.grads = [row(r) for r in range(k)]  # rank r's gradient: its ParameterVector's
        self.thetas = [row(k + r) for r in range(k)]  # rank r's theta: its ParameterVector's
        self.exchange = row(2 * k)
        self.smalls = np.lib.stride_tricks.as_strided(
            row(2 * k + 1, k * small), shape=(k, n_small), strides=(small * item, item))
        # rank r's count of meetings reached: one int64 at the start of its own cache line
        self.flags = np.frombuffer(buf, dtype=np.int64, count=8 * k, offset=total * item)[::8]
        self.texts = np.frombuffer(buf, dtype=np.uint8, count=_STOP_TEXT * k,
                                   offset=total * item + 64 * k).reshape(k, _STOP_TEXT)
        self.sums = np.frombuffer(buf, dtype=np.float64, count=2 * k * _SMALL_SUM,
                                  offset=sums_at).reshape(2, k, _SMALL_SUM)
        self.sums_done = 0
        self.rank, self.others, self.reached = comm.Get_rank(), [
            r for r in range(k) if r != comm.Get_rank()], 0
        self.node = node
        self.win.Lock_all(MPI.MODE_NOCHECK)  # one passive epoch: Sync() orders the accesses
        self.flags[self.rank] = 0
        self.win.Sync()
        node.Barrier()  # every flag at zero before anyone meets

    def meet(self, spin, interval=None):
        """Wait until every rank of the node has reached this meeting; None, or
        ``(rank, text)`` when a rank stopped with an error (:meth:`stop`) instead.

        A rank publishes its writes to the shared buffers (``Win.Sync``, a
        memory fence), then the number of meetings it has reached in its flag,
        and reads the others' flags until each has reached as many; a final
        fence orders its reads of their buffers after. It checks the flags
        without pause for ``spin`` seconds (a partner a few microseconds behind
        costs no system call), then between ``os.sched_yield()`` calls
        (``interval`` None: the core goes to another runnable thread only if
        one waits for it) or sleeps of ``interval`` seconds. The same for any
        MPI: no MPI call, so no MPI library's own waiting policy (Open MPI's
        ``mpi_yield_when_idle``) adds its latency to every meeting.
        """
        self.reached += 1
        reached, flags, clock = self.reached, self.flags, time.perf_counter
        self.win.Sync()
        flags[self.rank] = reached
        start = None
        for r in self.others:
            while (f := flags[r]) < reached:
                if f < 0:  # rank r stopped with an error (stop): it will never come
                    self.win.Sync()  # its text was written before its flag
                    text = self.texts[r]
                    return r, text[8:8 + int(text[:8].view(np.int64)[0])].tobytes()
                if start is None:
                    start = clock()
                elif clock() - start > spin:
                    if interval is None:
                        os.sched_yield()
                    else:
                        time.sleep(interval)
        self.win.Sync()
        return None

    def sum(self, values, spin, interval=None):
        """The element-wise sum over the node's ranks of the float64 vector ``values`` (at
        most ``_SMALL_SUM`` long), in rank order on every rank (equal sums), after one
        meeting; or ``(rank, text)`` when a rank stopped with an error (see :meth:`meet`).

        Each rank writes its row of a slot, meets the others, and adds the rows. The two
        slots alternate, so one meeting suffices: a rank writes a slot again two sums
        later, after a meeting that every rank reaches only once done reading it.
        """
        rows = self.sums[self.sums_done % 2]
        self.sums_done += 1
        m = len(values)
        rows[self.rank, :m] = values
        stopped = self.meet(spin, interval)
        if stopped is not None:
            return stopped
        return rows[:, :m].sum(axis=0)

    def stop(self, text):
        """Mark this rank stopped with an error (``text``: its class and message as bytes,
        cut to fit): the others' :meth:`meet` returns ``(this rank, text)`` instead of
        waiting for it."""
        text = text[:_STOP_TEXT - 8]
        mine = self.texts[self.rank]
        mine[:8] = np.frombuffer(np.int64(len(text)).tobytes(), dtype=np.uint8)
        mine[8:8 + len(text)] = np.frombuffer(text, dtype=np.uint8)
        self.win.Sync()  # the text before the mark
        self.flags[self.rank] = -1
        self.win.Sync()

    def free(self):
        """Collective: release the window and the node's communicator."""
        self.win.Unlock_all()
        self.win.Free()
        self.node.Free()


class _Thread:
    """A daemon thread that runs one job at a time when told to; two raw locks hand the work
    over (``go`` released to start a job, ``done`` when it is finished)."""

    def __init__(self, name):
        self.go, self.done = _thread.allocate_lock(), _thread.allocate_lock()
        self.go.acquire()
        self.done.acquire()
        self.job, self.error = None, None
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            job = self.job
            if job is None:  # stop
                self.done.release()
                return
            try:
                job()
            except BaseException as error:  # handed to the caller by wait()
                self.error = error
            self.done.release()

    def start(self, job):
        self.job = job
        self.go.release()

    def wait(self):
        """Block until the job is done; its exception (or None)."""
        self.done.acquire()
        error, self.error, self.job = self.error, None, None
        return error

    def stop(self):
        self.job = None
        self.go.release()
        self.done.acquire()


def _size(part):
    """How many examples a part (an index array or a slice with a known stop) holds."""
    return part.stop - part.start if isinstance(part, slice) else len(part)


class _SharedDraws:
    """The random numbers of one :meth:`ThreadParallel.run`, drawn once for the whole batch.

    Each random layer (dropout, RReLU) of the model has a source: its own generator, or the
    library generator of the caller's thread (resolved when the run begins, on that thread).
    The ``c``-th draw of layer ``j`` in a run is made once, by the first thread to need it,
    under a lock, for the whole batch (its first axis ``B`` rows), and every thread takes its
    rows of it (a draw not over the batch, a weight-shaped one, is shared whole). A thread
    asks for a draw only after it has taken all of its earlier ones (the same forward pass
    on every thread), so the sources see the draws in the order of one forward pass over
    the whole batch: the numbers, and so the run, are those of the one-thread run,
    whichever thread gets there first.
    """

    def __init__(self, layers):
        self.layers = layers  # the model's random layers (their rng: the sources)
        self.lock = threading.Lock()
        self.sources, self.drawn = [], {}

    def begin(self):
        self.sources = [resolve_rng(m.rng) for m in self.layers]
        self.drawn = {}

    def draw(self, key, method, shape, kwargs):
        with self.lock:
            value = self.drawn.get(key)
            if value is None:
                value = getattr(self.sources[key[0]], method)(size=shape, **kwargs)
                self.drawn[key] = value
        return value


class _ThreadDraws(_BatchMarkedDraws):
    """A random layer's generator in one thread of :meth:`ThreadParallel.run`: a draw over
    the thread's part of the batch (inside ``per_example``, as Dropout and RReLU mark it) is
    the thread's rows of the whole batch's draw (:class:`_SharedDraws`); any other draw (a
    weight-shaped one) is the one draw every thread shares, as the one-thread forward makes
    it once."""

    def __init__(self, shared, layer):
        super().__init__(np.random.PCG64(0))  # a placeholder: every draw goes to `shared`
        self._shared, self._layer = shared, layer
        self._rows = (0, 0, 0)  # (B, start, stop) of this thread's part
        self._count = 0  # draws made in this run

    def begin(self, rows):
        self._rows, self._count = rows, 0

    def _draw(self, method, size, **kwargs):
        self._count += 1
        total, start, stop = self._rows
        size = () if size is None else tuple(int(k) for k in np.atleast_1d(size))
        if not (self._marked and size and size[0] == stop - start):
            # (keyed by the shape too: a draw shaped by the part, but not over its first
            # axis, differs between unequal parts; each shape is then drawn once)
            key = (self._layer, self._count, size)
            return self._shared.draw(key, method, size or None, kwargs)
        key = (self._layer, self._count, (total,) + size[1:])
        return self._shared.draw(key, method, key[2], kwargs)[start:stop]

    def random(self, size=None, dtype=np.float64, out=None):
        if out is not None:
            raise TypeError("ThreadParallel: a random layer's draw into out= is not supported")
        return self._draw("random", size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._draw("uniform", size, low=low, high=high)


class ThreadParallel:
    """Synchronous data-parallel training over threads of one process.

    Each mini-batch of ``B`` examples is cut into ``threads`` nearly equal
    consecutive parts; thread ``k`` runs the forward and backward pass of its
    ``n_k`` examples on its own replica of the model, seeded with the weight
    ``n_k / B``, into its own flat gradient vector, and the caller adds the
    vectors (:meth:`reduce`) into the optimizer's, which then steps once:

    .. math:: g = \\sum_k \\frac{n_k}{B} g_k ,

    the gradient of the mean loss over the whole batch (notes: "Training
    neural networks"), so a step equals the one-thread step on the whole
    batch up to the order of the floating-point additions. The same
    arithmetic as :class:`DataParallel` over MPI ranks, without processes or
    messages: the replicas' parameters view the optimizer's own weight vector
    (:class:`~rosenblatt.nn.ParameterVector` ``data``: nothing is copied or
    sent), each with its own gradient vector.

    Why threads help at all under Python's global interpreter lock: NumPy
    releases it in its products (BLAS) and its element-wise loops, and the
    compiled kernels do too, so the threads' arithmetic runs on separate
    cores; only the autodiff's Python between those calls is serialised.
    While :meth:`run` works NumPy's BLAS is held at one thread per call (each
    thread's products run on its own core, set back afterwards) and the
    compiled kernels run serially. On two cores the products of half a batch
    each keep the cores busier than one BLAS splitting every small product
    (whose threads meet inside each call, so that a core taken away by
    another program stalls both): see ``benchmarks/README.md`` ("data
    parallel over threads") for when it pays.

    Parameters
    ----------
    model : rb.nn.Module
    optimizer : rb.optim optimizer
        A gradient optimizer built on the model's parameters (it owns the flat
        ``ParameterVector``; its ``data`` is what every replica computes with).
    threads : int, default 2
        How many parts each batch is cut into, one thread each (the caller's
        thread runs part 0 on ``model`` itself).

    Attributes
    ----------
    replicas : list of Module
        The models of threads ``1 .. threads - 1``: clones of ``model`` whose
        parameters view the optimizer's weights; their training modes,
        ``requires_grad`` flags and buffers follow ``model`` at every
        :meth:`run`.
    is_root : bool
        Always True (one process: it writes checkpoints, shows progress).
    closed : bool
        Whether :meth:`close` stopped the worker threads; :meth:`run` and
        :meth:`backward` then raise (build a new ThreadParallel).

    Raises
    ------
    ValueError
        The model has batch normalization (each thread would normalise its
        part of the batch with that part's statistics: not the one-thread
        step; use ``distributed="mpi"``, which synchronises the statistics
        over the ranks, or one thread), or the optimizer
        re-evaluates the loss itself (the annealers).

    Notes
    -----
    Layers that draw random numbers in training (dropout, RReLU) draw, in
    :meth:`run`, the whole batch's numbers once, from their generator (or the
    library generator of the caller's thread), in the order of one forward
    pass, and each thread takes its part's rows: the masks are the one-thread
    run's, whichever thread gets there first, so a seeded run is reproducible
    and follows the one-thread run (up to the order of floating-point
    additions). Any other draw from the library generator inside ``fn`` (the
    functional ``rb.nn.dropout.dropout(..., rng=None)``, a custom module's
    noise) is made from the part's own generator (``rb.randomness.using`` on
    its thread, derived from the caller's library generator at each run
    without drawing from it): a seeded run is reproducible, but those numbers
    are not the one-thread run's; use the Dropout and RReLU layers for that.
    The threads share the weights only for reading: nothing may change them
    inside :meth:`run` (the optimizer steps after it, in the caller).

    The parts' weights ``n_k / B`` make the batch's mean of a plain mean
    loss. A weighted mean (``cross_entropy`` with ``weight`` or
    ``ignore_index``: ``sum_i w_i l_i / W``) needs ``W_k / W`` instead, ``W_k``
    the part's sum of the weights (:func:`rosenblatt.nn.losses.mean_normaliser`):
    ``rb.fit`` seeds them so when its loss is such a function or a
    ``functools.partial`` of one (a lambda hides the options), or any loss with
    a ``mean_weights`` attribute; a loop of your own passes its weights to
    backward through :meth:`run`.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)
    >>> net = rb.nn.Sequential(rb.nn.Dense(4, 8, rng=rng), rb.nn.ReLU(),
    ...                        rb.nn.Dense(8, 3, rng=rng)).astype(np.float64)
    >>> opt = rb.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    >>> tp = rb.distributed.ThreadParallel(net, opt, threads=2)
    >>> for index in np.split(np.arange(64), 4):
    ...     loss = tp.backward(lambda m, i: rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i]),
    ...                        index)
    ...     opt.step()
    >>> tp.close()
    """

    def __init__(self, model, optimizer, threads=2):
        vec = _gradient_vector("ThreadParallel", optimizer)
        self.threads = positive_int("ThreadParallel", "threads", threads)
        norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
        norms += _recurrent_norms(model)
        if norms:
            raise ValueError(f"ThreadParallel: the model has batch normalization "
                             f"({_names(norms)}): each thread would normalise its part of "
                             f"the batch with that part's statistics, not the batch's; train "
                             f"it on one thread, or over MPI (distributed='mpi'), which "
                             f"normalises with the whole batch's statistics (BatchNorm1d/2d)")
        vec.check_packed("ThreadParallel")
        self.model, self.optimizer, self.vec = model, optimizer, vec
        self.is_root, self.rank, self.size = True, 0, 1  # one process
        self._copies = [self._replica() for _ in range(self.threads - 1)]
        self.replicas = [c["model"] for c in self._copies]
        self._workers = [_Thread(f"rosenblatt-data-{k}") for k in range(1, self.threads)]
        self.closed = False
        self._collected = []  # RigL: each SparseDense's dense gradients before run()
        # run() calls: each part's library generator advances by them; rb.fit's checkpoints
        # store it (a resumed run's parts draw on from where the saved run's were)
        self.runs = 0
        self._kids = None  # the parts' library generators, re-derived at each run
        # dropout and RReLU: per thread, each random layer and the generator it draws from
        # inside run() (the whole batch's draws, shared: _SharedDraws)
        layers = list({id(m): m for m in model.modules()
                       if isinstance(m, (Dropout, RReLU))}.values())
        self._draws = _SharedDraws(layers)
        twins = [{id(m): r for m, r in c["modules"]} for c in self._copies]
        self._drawing = [[(m, _ThreadDraws(self._draws, j)) for j, m in enumerate(layers)]]
        self._drawing += [[(t[id(m)], _ThreadDraws(self._draws, j)) for j, m in enumerate(layers)]
                          for t in twins]

    def _replica(self):
        """A clone of the model whose packed parameters view ``vec.data``, its own gradient."""
        model, vec = self.model, self.vec
        mine = list(model.parameters())
        rep = model.clone()
        theirs = list(rep.parameters())
        pair = {id(p): r for p, r in zip(mine, theirs)}
        missing = [i for i, p in enumerate(vec.params) if id(p) not in pair]
        if missing:
            raise ValueError(f"ThreadParallel: the optimizer holds {len(missing)} parameters "
                             f"that are not the model's; build it on model.parameters()")
        rvec = ParameterVector([pair[id(p)] for p in vec.params], dtype=vec.data.dtype)
        rvec.move_to(data=vec.data)  # the same values: the replica now reads theta itself
        packed = {id(p) for p in vec.params}
        for p, r in zip(mine, theirs):
            if id(p) not in packed:  # not trained, but read: the model's own array
                r.data = p.data
        modules = list(zip(model.modules(), rep.modules()))
        buffers = [(m, r, name) for m, r in modules for name in type(m).buffers]
        sparse = [(m, r) for m, r in modules if isinstance(m, SparseDense)]
        return {"model": rep, "vec": rvec, "modules": modules,
                "params": list(zip(mine, theirs)), "buffers": buffers, "sparse": sparse}

    def _sync(self):
        """The replicas follow the model: modes, trainable flags, buffers (shared arrays)."""
        vec = self.vec
        vec.check_packed("ThreadParallel")
        for c in self._copies:
            if c["vec"].data is not vec.data:
                raise RuntimeError("ThreadParallel: the optimizer's weight vector was moved "
                                   "since the replicas were made; build a new ThreadParallel")
            for m, r in c["modules"]:
                r.training = m.training
            for p, r in c["params"]:
                r.requires_grad = p.requires_grad
            for m, r, name in c["buffers"]:
                setattr(r, name, getattr(m, name))
            for m, r in c["sparse"]:  # RigL collects x^T g: each replica of its part too
                r.dense_grad = None if m.dense_grad is None else []

    def shards(self, index, n=None):
        """The parts of a batch: ``[(index part, weight n_k / B), ...]``, one per thread.

        ``index`` is an index array, a boolean mask of the examples (its
        ``True`` positions), a slice of ``range(n)``, or the batch
        size ``B`` itself (then the parts are slices of ``range(B)``); part ``k``
        is the ``k``-th of ``threads`` nearly equal consecutive parts (views).
        """
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            total = int(index)
            part = slice
        else:
            index = _as_index(index, n, "ThreadParallel")
            total = len(index)

            def part(a, b):
                return index[a:b]
        q, extra = divmod(total, self.threads)
        cuts = [k * q + min(k, extra) for k in range(self.threads + 1)]
        return [(part(a, b), (b - a) / total if total else 0.0)
                for a, b in zip(cuts[:-1], cuts[1:])]

    def run(self, fn, index, n=None):
        """``fn(model_k, part_k, weight_k)`` on every thread at once; their results, in order.

        Every gradient starts from zero (the optimizer's and the replicas');
        ``index`` as in :meth:`shards`. ``fn`` computes its part's loss with
        the model it is given and calls ``backward`` on it, seeded with
        ``weight_k`` (what :meth:`backward` does). Parts with no examples (a
        batch smaller than ``threads``) are skipped (their result is None).
        Then call :meth:`reduce`. The first exception of any thread is raised
        here, after all have finished.
        """
        if self.closed:  # without its threads only part 0 would run: part of the gradient
            raise RuntimeError(f"ThreadParallel: closed (close() stopped its worker threads); "
                               f"build a new ThreadParallel(model, optimizer, "
                               f"threads={self.threads}) to train again")
        parts = self.shards(index, n)
        self._sync()
        self._collected = [len(m.dense_grad) if m.dense_grad is not None else None
                           for m, _ in (self._copies[0]["sparse"] if self._copies else ())]
        self.vec.clear_grad()
        for c in self._copies:
            c["vec"].clear_grad()
        models = [self.model] + self.replicas
        results = [None] * self.threads
        err = np.geterr()  # the caller's floating-point error handling, in every thread
        rngs = self._part_generators()

        def job(k):
            def work():
                part, weight = parts[k]
                with np.errstate(**err), using(rngs[k]):
                    results[k] = fn(models[k], part, weight)
            return work

        controller = _kernels._blas_controller() if self.threads > 1 else None
        blas = controller.get_num_threads() if controller is not None else 1
        if blas > 1:
            controller.set_num_threads(1)  # each thread's products on its own core
        own_rngs = self._begin_draws(parts)
        try:
            with _kernels.kernel_threads(1 if self.threads > 1 else None):
                sizes = [_size(part) for part, _ in parts]
                busy = [w for k, w in enumerate(self._workers, 1) if sizes[k]]
                for k, w in enumerate(self._workers, 1):
                    if sizes[k]:
                        w.start(job(k))
                try:
                    if sizes[0]:
                        job(0)()
                finally:
                    errors = [w.wait() for w in busy]
        finally:
            if blas > 1:
                controller.set_num_threads(blas)
            for (m, _), rng in zip((slot for slots in self._drawing for slot in slots),
                                   own_rngs):
                m.rng = rng
            self._draws.drawn = {}
        for error in errors:
            if error is not None:
                raise error
        self._parts = parts
        return results

    def _part_generators(self):
        """Each part's library generator for one :meth:`run` (``rb.randomness.using`` on its
        thread): what a draw with ``rng=None`` in ``fn`` other than a Dropout or RReLU
        layer's (the functional ``dropout``, a custom module's noise) draws from.

        Derived from the caller's library generator without drawing from it (its stream,
        which those layers' shared draws follow, stays the one-thread run's): its state
        advanced by ``(threads * runs + k) * 2**64`` for part ``k`` of the run numbered
        ``runs`` (from 1), so the parts draw independent numbers, the runs new ones even
        when nothing else moved the generator, and a seeded fit (a new ThreadParallel)
        draws the same; ``rb.fit`` saves ``runs`` in its checkpoints and puts it back on
        resume, so a resumed run draws what the uninterrupted one did. About 10
        microseconds per part and run (PCG64, NumPy's default, PCG64DXSM and Philox
        advance in O(1); any other bit generator seeds a new generator from a checksum of
        its state instead).
        """
        self.runs += 1
        source = generator().bit_generator
        first = self.threads * self.runs
        if not isinstance(source, _ADVANCES):
            state = zlib.crc32(repr(source.state).encode())
            return [np.random.default_rng([state, first + k]) for k in range(self.threads)]
        kids = self._kids
        if kids is None or type(kids[0].bit_generator) is not type(source):
            kids = self._kids = [np.random.Generator(type(source)())
                                 for _ in range(self.threads)]
        state = source.state
        for k, kid in enumerate(kids):
            kid.bit_generator.state = state
            kid.bit_generator.advance((first + k) << 64)
        return kids

    def _begin_draws(self, parts):
        """Every random layer of every thread draws through its :class:`_ThreadDraws` (its
        part's rows of the batch) until :meth:`run` ends; returns their own generators, to
        put back."""
        if not self._draws.layers:
            return []
        self._draws.begin()  # on the caller's thread: its library generator
        sizes = [_size(part) for part, _ in parts]
        own = []
        for k, slots in enumerate(self._drawing):
            rows = (sum(sizes), sum(sizes[:k]), sum(sizes[:k + 1]))
            for m, draws in slots:
                own.append(m.rng)
                draws.begin(rows)
                m.rng = draws
        return own

    def reduce(self):
        """Add the replicas' gradients into the optimizer's (after :meth:`run`): the batch's
        gradient, in the optimizer's vector, ready for its step.

        A parameter that no part's gradient reached (``grad`` None on the model and on
        every replica that ran: a head this batch's loss does not use) keeps ``grad`` None,
        so the step skips it as the one-thread step does (reading the vectors fills its
        slot with zeros, on which weight decay and momentum would move it).
        """
        vec = self.vec
        busy = [c["vec"] for (part, _), c in zip(self._parts[1:], self._copies) if _size(part)]
        none = _unreached(vec, busy)
        grad = vec.grad
        for rvec in busy:
            grad += rvec.grad
        for i in none:
            vec.params[i].grad = None
        self._reduce_dense_grads()
        return grad

    def _reduce_dense_grads(self):
        """RigL (rb.callbacks.Rewire): the replicas' dense gradients ``x^T g`` (each seeded
        with its part's weight) added into the model layer's, so it ranks the connections
        by the whole batch's gradient, as one thread does."""
        for i, before in enumerate(self._collected):
            if before is None:
                continue
            layer = self._copies[0]["sparse"][i][0]
            theirs = [g for c in self._copies for g in c["sparse"][i][1].dense_grad]
            if not theirs:
                continue
            if len(layer.dense_grad) > before:
                layer.dense_grad[-1] += sum(theirs)
            else:
                layer.dense_grad.append(sum(theirs))
            for c in self._copies:
                c["sparse"][i][1].dense_grad.clear()

    def backward(self, loss_fn, index, n=None):
        """The batch's gradient into the optimizer's vector; returns the batch's mean loss.

        ``loss_fn(model, part) -> scalar Tensor``: the mean loss of the examples
        ``part`` (an index array) computed with ``model``. Runs it on every
        thread (:meth:`run`), backward seeded with each part's weight, then
        :meth:`reduce`. Call the optimizer's ``step()`` next.
        """
        def work(model, part, weight):
            loss = loss_fn(model, part)
            value = float(loss.item())
            loss.backward(np.full(loss.data.shape, weight, loss.data.dtype))
            return value * weight

        values = self.run(work, index, n)
        self.reduce()
        return float(sum(v for v in values if v is not None))

    def close(self):
        """Stop the worker threads (``rb.fit`` does it for the ThreadParallel it makes); it
        cannot run afterwards."""
        for w in self._workers:
            w.stop()
        self._workers = []
        self.closed = True

    def __repr__(self):
        return f"ThreadParallel({self.threads} threads, {self.vec.size} parameters)"


def _recurrent_norms(model):
    """The recurrent layers (RNN, LSTM, GRU, also inside Bidirectional) built with
    ``batch_norm=True``: they normalise through the functional op, not a _BatchNorm layer."""
    return [m for m in model.modules() if isinstance(m, RecurrentBase) and m.batch_norm]


def _names(layers):
    """``BatchNorm1d, LSTM(batch_norm=True)``: the kinds of normalising layers, once each."""
    return ", ".join(sorted({type(m).__name__ + ("(batch_norm=True)" if isinstance(
        m, RecurrentBase) else "") for m in layers}))


def for_fit(distributed, model, optimizer):
    """The :class:`DataParallel` (``"mpi"``) or :class:`ThreadParallel` (``"threads"``) that
    ``rb.fit(..., distributed=...)`` asks for."""
    if isinstance(distributed, (DataParallel, ThreadParallel)):
        if distributed.model is not model or distributed.optimizer is not optimizer:
            raise ValueError("fit: distributed= was built on another model or optimizer than "
                             "the ones passed to fit")
        return distributed
    if distributed == "threads":
        return ThreadParallel(model, optimizer)
    if distributed != "mpi":
        raise ValueError(f"fit: distributed must be None, 'mpi', 'threads', an "
                         f"rb.distributed.DataParallel or ThreadParallel; got {distributed!r}")
    if getattr(optimizer, "needs_closure", False):
        raise ValueError(f"fit: distributed='mpi' needs a gradient optimizer; "
                         f"{type(optimizer).__name__} re-evaluates the loss itself")
    return DataParallel(model, optimizer, world("fit"))
