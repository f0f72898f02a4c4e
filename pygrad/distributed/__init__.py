"""``pygrad.distributed``: PyTorch's ``torch.distributed`` API over MPI (through mpi4py).

Start one process per rank with ``mpiexec -n 4 python train.py`` or ``pygrad run -n 4 train.py``;
rank and world size come from MPI.  ``init_process_group`` accepts ``backend="mpi"`` and, so that
tutorial code runs unchanged, ``"gloo"`` (which also means MPI here); ``"nccl"`` raises as in a
PyTorch build without NCCL.

Collectives work in place on tensors of every dtype.  A contiguous CPU tensor is handed to MPI
without a copy (the buffer protocol on the NumPy array of its storage); a non-contiguous one goes
through one contiguous copy and is written back.  An OpenCL tensor is staged through host memory
(read to a NumPy array, communicated, written back): two device<->host transfers per collective,
the one host round trip a training step makes (MPI cannot read OpenCL buffers).

With ``PYGRAD_DEBUG=1`` every collective first all-gathers the shape and dtype of its tensor from
every rank and raises a RuntimeError naming them on every rank when they differ; without it a
mismatch is undefined behaviour, as in MPI and PyTorch.
"""
import importlib.util
import os
import sys
import threading

import numpy as np

from ..runtime import cpu
from ..tensor import Tensor

_INSTALL = 'pygrad.distributed needs mpi4py and an MPI library: pip install "pygrad[distributed]"'

__all__ = ["is_available", "is_initialized", "init_process_group", "destroy_process_group", "get_rank",
           "get_world_size", "get_backend", "barrier", "ReduceOp", "Work", "all_reduce", "broadcast", "reduce",
           "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor", "gather", "scatter", "send",
           "recv", "isend", "irecv", "all_gather_object", "broadcast_object_list", "group", "GroupMember",
           "set_debug_level_from_env"]


def _mpi():
    """mpi4py's MPI module (importing it initialises MPI), or the install hint as an ImportError."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return MPI


def is_available():
    """True when mpi4py is installed (the only thing pygrad's distributed backend needs)."""
    return importlib.util.find_spec("mpi4py") is not None


class _RedOpType(int):
    def __new__(cls, value, name):
        self = super().__new__(cls, value)
        self._name = name
        return self

    @property
    def name(self):
        return self._name

    def __repr__(self):
        return f"<RedOpType.{self._name}: {int(self)}>"


class ReduceOp:
    """Reduction operations for ``all_reduce`` / ``reduce`` / ``reduce_scatter_tensor`` (as ``torch.distributed``)."""

    RedOpType = _RedOpType
    SUM = _RedOpType(0, "SUM")
    AVG = _RedOpType(1, "AVG")
    PRODUCT = _RedOpType(2, "PRODUCT")
    MIN = _RedOpType(3, "MIN")
    MAX = _RedOpType(4, "MAX")
    BAND = _RedOpType(5, "BAND")
    BOR = _RedOpType(6, "BOR")
    BXOR = _RedOpType(7, "BXOR")


class GroupMember:
    WORLD = None  # the default group once initialised (there are no sub-groups yet)
    NON_GROUP_MEMBER = -100


class group:
    WORLD = None


class _ProcessGroup:
    """The default group: two duplicates of COMM_WORLD, one for blocking calls from the caller's
    thread and one for the communication thread that runs ``async_op=True`` collectives, so the
    order of operations on each communicator is the program order on every rank."""

    def __init__(self, backend):
        MPI = _mpi()
        self.MPI = MPI
        self.backend = backend
        self.comm = MPI.COMM_WORLD.Dup()
        self.async_comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._thread = None
        self._jobs = None
        # a second thread may call MPI only if the library was initialised with MPI_THREAD_MULTIPLE
        # (mpi4py asks for it by default); otherwise async work runs at once, in the caller's thread
        self.threads_ok = MPI.Query_thread() == MPI.THREAD_MULTIPLE

    def submit(self, fn):
        """Run ``fn(async_comm)`` on the communication thread, in submission order; returns a Work."""
        if not self.threads_ok:
            work = Work()
            fn(self.async_comm)
            work._done.set()
            return work
        if self._thread is None:
            import queue

            self._jobs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._loop, name="pygrad-dist-comm", daemon=True)
            self._thread.start()
        work = Work()
        self._jobs.put((fn, work))
        return work

    def _loop(self):
        while True:
            fn, work = self._jobs.get()
            if fn is None:
                work._done.set()
                return
            try:
                fn(self.async_comm)
            except BaseException as e:  # reported by wait() on the caller's thread
                work._exc = e
            work._done.set()

    def close(self):
        if self._thread is not None:
            w = Work()
            self._jobs.put((None, w))
            w._done.wait()
            self._thread.join()
        self.comm.Free()
        self.async_comm.Free()


_state = {"pg": None, "prev_hook": None, "debug": False}


def set_debug_level_from_env():
    """Re-read ``PYGRAD_DEBUG`` (read once by ``init_process_group``): 1 checks every collective's
    shapes and dtypes across ranks first."""
    _state["debug"] = os.environ.get("PYGRAD_DEBUG", "") not in ("", "0")


class Work:
    """The handle an ``async_op=True`` collective or ``isend``/``irecv`` returns.

    ``wait()`` blocks until the operation has finished and its result is in the tensor;
    ``is_completed()`` asks without blocking."""

    def __init__(self, request=None, finish=None):
        self._request = request      # an MPI request (isend / irecv), or None for a comm-thread job
        self._done = threading.Event()
        self._finish = finish        # runs once on the caller's thread after completion (write-back)
        self._exc = None
        self._source = None

    def _complete(self):
        if self._finish is not None:
            f, self._finish = self._finish, None
            f()

    def is_completed(self):
        if self._request is not None:
            if not self._done.is_set() and self._request.Test():
                self._done.set()
        if self._done.is_set():
            if self._exc is None:
                self._complete()
            return True
        return False

    def wait(self, timeout=None):
        if self._request is not None:
            if not self._done.is_set():
                self._request.Wait()
                self._done.set()
        elif not self._done.wait(None if timeout is None else _seconds(timeout)):
            raise RuntimeError(f"Work.wait timed out after {timeout}")
        if self._exc is not None:
            raise RuntimeError(f"distributed operation failed: {self._exc}") from self._exc
        self._complete()
        return True

    def is_success(self):
        return self.is_completed() and self._exc is None

    def exception(self):
        return self._exc

    def result(self):
        self.wait()
        return []


def _seconds(timeout):
    return timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)


# -- process group ----------------------------------------------------------------------------------
def is_initialized():
    return _state["pg"] is not None


def _pg():
    pg = _state["pg"]
    if pg is None:
        raise ValueError("Default process group has not been initialized, "
                         "please make sure to call init_process_group.")
    return pg


def _check_group(g):
    if g is not None and g is not _state["pg"]:
        raise ValueError("pygrad.distributed has only the default process group (group=None)")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the job's process group: rank and world size come from MPI (``mpiexec``).

    ``backend`` may be ``"mpi"``, ``"gloo"`` (an alias for MPI, so tutorial code runs) or None.
    A process started without ``mpiexec`` is a job of one rank."""
    if _state["pg"] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name in ("cpu:gloo,cuda:nccl", "undefined"):
        name = "mpi"
    if name == "nccl":
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if name not in ("mpi", "gloo"):
        raise ValueError(f"Invalid backend: '{backend}' (pygrad.distributed supports 'mpi' and its alias 'gloo')")
    pg = _ProcessGroup(name)
    if world_size not in (-1, None) and int(world_size) != pg.size:
        pg.close()
        raise ValueError(f"world_size={world_size} does not match the MPI job's size {pg.size} "
                         f"(start the processes with mpiexec -n {world_size})")
    if rank not in (-1, None) and int(rank) != pg.rank:
        pg.close()
        raise ValueError(f"rank={rank} does not match this process's MPI rank {pg.rank}")
    _state["pg"] = pg
    set_debug_level_from_env()
    GroupMember.WORLD = group.WORLD = pg
    if pg.size > 1:
        _install_excepthook()


def destroy_process_group(group=None):
    _check_group(group)
    pg = _state["pg"]
    if pg is None:
        raise ValueError("Default process group has not been initialized, "
                         "please make sure to call init_process_group.")
    pg.close()
    _state["pg"] = None
    GroupMember.WORLD = globals()["group"].WORLD = None


def _launched_size():
    """The number of ranks mpiexec started (1 when this process was not started by mpiexec)."""
    for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        if os.environ.get(k, "").isdigit():
            return int(os.environ[k])
    return 1


def _install_excepthook():
    """A rank that dies of an exception prints its traceback, then aborts the whole job, so the other
    ranks do not wait forever in a collective (mpiexec then exits non-zero).  Installed by
    ``init_process_group``, and already when pygrad is imported in a job of several ranks, so a rank
    that fails before ``init_process_group`` ends the job too."""
    if _state["prev_hook"] is not None:
        return
    prev = sys.excepthook
    _state["prev_hook"] = prev

    def hook(exc_type, exc, tb):
        try:
            rank = _state["pg"].rank if _state["pg"] is not None else os.environ.get(
                "PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "?"))
            import time
            import traceback

            # one write, then a moment for mpiexec to forward it: Abort tears every rank down at once
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            sys.stdout.flush()
            sys.stderr.write(f"[pygrad.distributed] rank {rank} raised an exception; aborting the job\n{text}")
            sys.stderr.flush()
            time.sleep(0.5)
        finally:
            _mpi().COMM_WORLD.Abort(1)

    sys.excepthook = hook


def get_rank(group=None):
    _check_group(group)
    return _pg().rank


def get_world_size(group=None):
    _check_group(group)
    return _pg().size


def get_backend(group=None):
    _check_group(group)
    return _pg().backend


def barrier(group=None, async_op=False, device_ids=None):
    _check_group(group)
    pg = _pg()
    if async_op:
        return pg.submit(lambda comm: comm.Barrier())
    pg.comm.Barrier()


# -- tensors <-> MPI buffers ------------------------------------------------------------------------
def _check_tensor(t, name="tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type torch.Tensor "
                        f"but got {type(t)} instead.")


class _Host:
    """A C-contiguous NumPy array holding a tensor's elements for MPI.

    A contiguous CPU tensor: a view of its storage (zero copy; MPI writes straight into the tensor).
    Otherwise (non-contiguous, or on an OpenCL device): a host copy, written back by ``store()``."""

    def __init__(self, t, read=True):
        self.t = t
        view = cpu.to_numpy(t) if t.device.type == "cpu" else None
        self.direct = view is not None and view.flags.c_contiguous
        if self.direct:
            self.arr = view.reshape(-1)  # a view of the storage: MPI reads and writes the tensor itself
        elif view is not None:
            self.arr = (np.ascontiguousarray(view) if read else np.empty(t._shape, t.dtype.np)).reshape(-1)
        else:
            self.arr = (t.detach().cpu().numpy().reshape(-1).copy() if read
                        else np.empty(t.numel(), t.dtype.np))

    def store(self):
        """The communicated values into the tensor (a no-op for the zero-copy case but the version)."""
        t = self.t
        if not self.direct:
            if t.device.type == "cpu":
                cpu.to_numpy(t)[...] = self.arr.reshape(t._shape)
            else:
                _write(t, self.arr)
                return
        t._storage.version += 1


_INT_KINDS = "iub"


def _mpi_op(MPI, op, dtype):
    """The MPI operation for a ReduceOp on ``dtype`` (bool: SUM/MAX are OR, PRODUCT/MIN are AND)."""
    op = int(op)
    if dtype.np == np.bool_:
        table = {0: MPI.LOR, 2: MPI.LAND, 3: MPI.LAND, 4: MPI.LOR, 5: MPI.LAND, 6: MPI.LOR, 7: MPI.LXOR}
    else:
        table = {0: MPI.SUM, 1: MPI.SUM, 2: MPI.PROD, 3: MPI.MIN, 4: MPI.MAX, 5: MPI.BAND, 6: MPI.BOR,
                 7: MPI.BXOR}
    if op == 1 and not dtype.is_floating_point:
        raise RuntimeError(f"ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    if op in (5, 6, 7) and dtype.is_floating_point:
        raise RuntimeError(f"ReduceOp.{_opname(op)} needs an integer or bool tensor, got {dtype}")
    if op not in table:
        raise ValueError(f"unsupported reduce op {op!r}")
    return table[op]


def _opname(op):
    names = {int(v): k for k, v in vars(ReduceOp).items() if isinstance(v, _RedOpType)}
    return names.get(int(op), str(op))


def _debug_check(pg, what, *tensors):
    """PYGRAD_DEBUG=1: all ranks agree on the shapes and dtypes of this collective, or all raise."""
    if not _state["debug"]:
        return
    what = what() if callable(what) else what
    mine = (what, tuple((tuple(t._shape), str(t.dtype)) for t in tensors))
    every = pg.comm.allgather(mine)
    if any(e != every[0] for e in every):
        desc = "; ".join(f"rank {r}: {e[0]} " + ", ".join(f"shape {list(s)} dtype {d}" for s, d in e[1])
                         for r, e in enumerate(every))
        raise RuntimeError(f"Detected mismatch between collectives on ranks ({what} on rank {pg.rank}): {desc}")


def _run(pg, async_op, fn, finish):
    """Run ``fn(comm)`` now (then ``finish()``), or on the communication thread returning a Work."""
    if async_op:
        return pg.submit(fn) if finish is None else _with_finish(pg.submit(fn), finish)
    fn(pg.comm)
    if finish is not None:
        finish()
    return None


def _with_finish(work, finish):
    work._finish = finish
    return work


# -- collectives --------------------------------------------------------------------------------------
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks; every rank gets the result, in place."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    _debug_check(pg, lambda: f"all_reduce({_opname(op)})", tensor)
    MPI = pg.MPI
    mop = _mpi_op(MPI, op, tensor.dtype)
    h = _Host(tensor)
    size = pg.size

    def finish():
        if int(op) == 1:
            np.divide(h.arr, size, out=h.arr, casting="unsafe")
        h.store()

    return _run(pg, async_op, lambda comm: comm.Allreduce(MPI.IN_PLACE, h.arr, mop), finish)


def broadcast(tensor, src=0, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every rank."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    src = _root(pg, src if group_src is None else group_src, "src")
    _debug_check(pg, f"broadcast(src={src})", tensor)
    h = _Host(tensor, read=pg.rank == src)
    return _run(pg, async_op, lambda comm: comm.Bcast(h.arr, root=src), h.store if pg.rank != src else None)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over all ranks into ``tensor`` of rank ``dst`` (the others keep theirs)."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    dst = _root(pg, dst if group_dst is None else group_dst, "dst")
    _debug_check(pg, f"reduce(dst={dst})", tensor)
    MPI = pg.MPI
    mop = _mpi_op(MPI, op, tensor.dtype)
    h = _Host(tensor)
    root = pg.rank == dst
    size = pg.size

    def fn(comm):
        if root:
            comm.Reduce(MPI.IN_PLACE, h.arr, mop, root=dst)
        else:
            comm.Reduce(h.arr, None, mop, root=dst)

    def finish():
        if int(op) == 1:
            np.divide(h.arr, size, out=h.arr, casting="unsafe")
        h.store()

    return _run(pg, async_op, fn, finish if root else None)


def _root(pg, r, name):
    r = int(r)
    if not 0 <= r < pg.size:
        raise ValueError(f"Invalid {name} rank {r}: the group has ranks 0..{pg.size - 1}")
    return r


def _same(t, ref, what):
    if tuple(t._shape) != tuple(ref._shape) or t.dtype != ref.dtype:
        raise ValueError(f"{what}: every tensor must have the input's shape {list(ref._shape)} and dtype "
                         f"{ref.dtype}, got shape {list(t._shape)} and dtype {t.dtype}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` = ``tensor`` of rank ``r``, on every rank."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    if not isinstance(tensor_list, list) or len(tensor_list) != pg.size:
        raise ValueError(f"all_gather: tensor_list must be a list of {pg.size} tensors (the world size)")
    for t in tensor_list:
        _check_tensor(t, "tensor_list")
        _same(t, tensor, "all_gather")
    _debug_check(pg, "all_gather", tensor)
    h = _Host(tensor)
    out = np.empty(pg.size * h.arr.size, tensor.dtype.np)
    return _run(pg, async_op, lambda comm: comm.Allgather(h.arr, out), lambda: _split_into(out, tensor_list))


def _split_into(flat, tensors):
    n = flat.size // max(len(tensors), 1)
    for i, t in enumerate(tensors):
        _write(t, flat[i * n:(i + 1) * n])


def _write(t, values):
    """``t[...] = values`` (a flat NumPy array) for a tensor on any device, bumping its version."""
    if t.device.type == "cpu":
        cpu.to_numpy(t)[...] = values.reshape(t._shape)
        t._storage.version += 1
    else:
        import pygrad
        from ..autograd import grad_mode

        with grad_mode.no_grad():
            t.detach().copy_(pygrad.from_numpy(np.ascontiguousarray(values).reshape(t._shape)).to(t.device))


def _check_world_times(op, big_name, big, small_name, small, pg):
    """``big`` must hold world_size times ``small``'s elements, in ``small``'s dtype."""
    if big.numel() != pg.size * small.numel() or big.dtype != small.dtype:
        raise ValueError(f"{op}: {big_name} must have world_size ({pg.size}) times the {small_name}'s "
                         f"{small.numel()} elements and its dtype {small.dtype}, got shape {list(big._shape)} "
                         f"and dtype {big.dtype}")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """The inputs of all ranks concatenated (or stacked) into ``output_tensor`` (world_size x numel elements)."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    _check_group(group)
    pg = _pg()
    _check_world_times("all_gather_into_tensor", "output_tensor", output_tensor, "input", input_tensor, pg)
    _debug_check(pg, "all_gather_into_tensor", input_tensor)
    h = _Host(input_tensor)
    o = _Host(output_tensor, read=False)
    return _run(pg, async_op, lambda comm: comm.Allgather(h.arr, o.arr), o.store)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` over ranks and give rank ``r`` the r-th of world_size equal chunks, in ``output``."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    _check_group(group)
    pg = _pg()
    _check_world_times("reduce_scatter_tensor", "input", input, "output", output, pg)
    _debug_check(pg, "reduce_scatter_tensor", input)
    MPI = pg.MPI
    mop = _mpi_op(MPI, op, input.dtype)
    h = _Host(input)
    o = _Host(output, read=False)
    size = pg.size

    def finish():
        if int(op) == 1:
            np.divide(o.arr, size, out=o.arr, casting="unsafe")
        o.store()

    return _run(pg, async_op, lambda comm: comm.Reduce_scatter_block(h.arr, o.arr, mop), finish)


def _check_root_list(op, tensors, tensor, pg, root, role):
    """``gather``/``scatter``'s list (``op + "_list"``): on the root rank one tensor like ``tensor`` per rank,
    elsewhere none; ``role`` names the root in the messages ("destination" or "source")."""
    name = op + "_list"
    if root:
        if not tensors:
            raise ValueError(f"Argument ``{name}`` must be specified on {role} rank.")
        if len(tensors) != pg.size:
            raise ValueError(f"{op}: {name} must hold {pg.size} tensors (the world size)")
        for t in tensors:
            _check_tensor(t, name)
            _same(t, tensor, op)
    elif tensors:
        raise ValueError(f"Argument ``{name}`` must NOT be specified on non-{role} ranks.")


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False, group_dst=None):
    """``gather_list[r]`` = ``tensor`` of rank ``r``, on rank ``dst`` only."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    dst = _root(pg, dst if group_dst is None else group_dst, "dst")
    root = pg.rank == dst
    _check_root_list("gather", gather_list, tensor, pg, root, "destination")
    _debug_check(pg, f"gather(dst={dst})", tensor)
    h = _Host(tensor)
    out = np.empty(pg.size * h.arr.size, tensor.dtype.np) if root else None
    return _run(pg, async_op, lambda comm: comm.Gather(h.arr, out, root=dst),
                (lambda: _split_into(out, gather_list)) if root else None)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False, group_src=None):
    """``tensor`` of rank ``r`` = ``scatter_list[r]`` of rank ``src``."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    src = _root(pg, src if group_src is None else group_src, "src")
    root = pg.rank == src
    _check_root_list("scatter", scatter_list, tensor, pg, root, "source")
    _debug_check(pg, f"scatter(src={src})", tensor)
    inp = np.concatenate([_Host(t).arr for t in scatter_list]) if root else None
    o = _Host(tensor, read=False)
    return _run(pg, async_op, lambda comm: comm.Scatter(inp, o.arr, root=src), o.store)


# -- point to point ----------------------------------------------------------------------------------
def _p2p_peer(pg, peer, name):
    peer = _root(pg, peer, name)
    if peer == pg.rank:
        raise ValueError(f"Invalid {name} rank: {peer} is this process's own rank")
    return peer


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending ``tensor`` to rank ``dst``; returns a Work (keep the tensor unchanged until wait())."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    dst = _p2p_peer(pg, dst if group_dst is None else group_dst, "dst")
    h = _Host(tensor)
    w = Work(pg.comm.Isend(h.arr, dest=dst, tag=tag))
    w._keep = h
    return w


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None); returns a Work."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    src = group_src if src is None else src
    src = pg.MPI.ANY_SOURCE if src is None else _p2p_peer(pg, src, "src")
    h = _Host(tensor, read=False)
    w = Work(pg.comm.Irecv(h.arr, source=src, tag=tag), h.store)
    return w


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` (returns when the buffer may be reused)."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    dst = _p2p_peer(pg, dst if group_dst is None else group_dst, "dst")
    pg.comm.Send(_Host(tensor).arr, dest=dst, tag=tag)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender's rank."""
    _check_tensor(tensor)
    _check_group(group)
    pg = _pg()
    src = group_src if src is None else src
    src = pg.MPI.ANY_SOURCE if src is None else _p2p_peer(pg, src, "src")
    h = _Host(tensor, read=False)
    status = pg.MPI.Status()
    pg.comm.Recv(h.arr, source=src, tag=tag, status=status)
    h.store()
    return status.Get_source()


# -- Python objects (pickled) -------------------------------------------------------------------------
def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` = ``obj`` of rank ``r`` (any picklable object)."""
    _check_group(group)
    pg = _pg()
    if len(object_list) != pg.size:
        raise ValueError(f"all_gather_object: object_list must have {pg.size} entries (the world size)")
    object_list[:] = pg.comm.allgather(obj)


def broadcast_object_list(object_list, src=0, group=None, device=None, group_src=None):
    """Replace ``object_list``'s entries by those of rank ``src`` (picklable objects)."""
    _check_group(group)
    pg = _pg()
    src = _root(pg, src if group_src is None else group_src, "src")
    object_list[:] = pg.comm.bcast(list(object_list) if pg.rank == src else None, root=src)


if _launched_size() > 1 and is_available():
    _install_excepthook()
