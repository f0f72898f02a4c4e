"""``DistributedDataParallel``: every rank holds a full replica of the model and trains on its own shard
of the batch; gradients are averaged over ranks during ``backward()``, so every replica takes the same
optimizer step, the one a single process would take on the whole (global) batch.

How the averaging overlaps the backward pass: parameters are grouped into buckets (``bucket_cap_mb``,
in reverse registration order, which is roughly the order their gradients become ready).  A
post-accumulate-grad hook on every parameter copies its gradient into its bucket's flat buffer; when a
bucket is complete, its all-reduce is started at once (buckets start in order, the same on every rank)
on a communication thread, while the autograd engine goes on with the earlier layers.  A callback
queued with the engine waits for the last all-reduce and writes the averages into ``.grad`` before
``backward()`` returns.

Why a thread: MPICH progresses a non-blocking ``Iallreduce`` only inside MPI calls, and the backward
pass makes none, so with plain requests the communication waits for the final ``Wait``.  The
communication thread makes the blocking ``Allreduce`` of each bucket (mpi4py releases the GIL inside
MPI), so it advances while the main thread computes.  MPICH busy-polls inside a blocking call, which
costs the backward pass some CPU when cores are scarce; ``PYGRAD_DDP_COMM=thread-poll`` instead
progresses an ``Iallreduce`` with ``Test()`` between 50-microsecond sleeps, and
``PYGRAD_DDP_COMM=request`` uses plain non-blocking requests waited on at the end.
``benchmarks/bench_distributed.py`` compares the three; on a loaded 2-core machine the blocking
thread hid the most communication (79-92% of it) and left the shortest final wait.
"""
import contextlib
import os
import time

import numpy as np

from ... import distributed as dist
from ...autograd import engine, grad_mode
from ..module import Module

_POLL_S = 5e-5  # how long the communication thread sleeps between tests of an all-reduce


class _Bucket:
    def __init__(self, index, dtype, device):
        self.index, self.dtype, self.device = index, dtype, device
        self.params = []     # indices into DDP._params
        self.offsets = []
        self.numel = 0
        self.buf = None


class DistributedDataParallel(Module):
    """Data parallelism across the ranks of the default process group (see the module docstring).

    ``state_dict()`` keys start with ``module.`` as in PyTorch; ``ddp.module.state_dict()`` gives the
    plain model's keys (load those into a model that is not wrapped)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, init_sync=True):
        super().__init__()
        dist._check_group(process_group)
        pg = dist._pg()
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        object.__setattr__(self, "_pg_", pg)
        object.__setattr__(self, "_params", params)
        self._names = [n for n, p in module.named_parameters() if p.requires_grad]
        self._comm_mode = os.environ.get("PYGRAD_DDP_COMM", "thread")
        if self._comm_mode not in ("thread", "thread-poll", "request"):
            raise ValueError(f"PYGRAD_DDP_COMM must be 'thread', 'thread-poll' or 'request', got {self._comm_mode!r}")
        self._verify_shapes()
        if init_sync:
            with grad_mode.no_grad():
                for t in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(t, 0)
        self._build_buckets()
        self._iter = None
        self.timeline = []  # per synced backward: (event, bucket, t) records, for the overlap measurements
        self._hooks = [p.register_post_accumulate_grad_hook(self._make_hook(i)) for i, p in enumerate(params)]

    # -- construction ----------------------------------------------------------------------------------
    def _verify_shapes(self):
        """Every rank must wrap the same parameters (shapes and dtypes): checked once, here."""
        mine = [(n, tuple(p._shape), str(p.dtype)) for n, p in zip(self._names, self._params)]
        every = self._pg_.comm.allgather(mine)
        for r, theirs in enumerate(every):
            if theirs != every[0]:
                diff = next(((a, b) for a, b in zip(every[0], theirs) if a != b), None)
                what = (f"rank 0 has {diff[0]} but rank {r} has {diff[1]}" if diff else
                        f"rank 0 has {len(every[0])} parameters but rank {r} has {len(theirs)}")
                raise RuntimeError("DDP expects the same model on every rank: parameter shapes or dtypes differ "
                                   f"across ranks ({what})")

    def _build_buckets(self):
        buckets, current = [], {}
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            key = (p.dtype, str(p.device))
            b = current.get(key)
            item = np.dtype(p.dtype.np).itemsize
            if b is None or (b.numel and (b.numel + p.numel()) * item > self.bucket_bytes_cap):
                b = current[key] = _Bucket(len(buckets), p.dtype, p.device)
                buckets.append(b)
            b.params.append(i)
            b.offsets.append(b.numel)
            b.numel += p.numel()
        for b in buckets:
            b.buf = np.zeros(b.numel, b.dtype.np)
        self._buckets = buckets
        self._bucket_of = {}
        for b in buckets:
            for k, i in enumerate(b.params):
                self._bucket_of[i] = (b, b.offsets[k])

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self._pg_.size > 1:
            with grad_mode.no_grad():
                for buf in self.module.buffers():
                    dist.broadcast(buf, 0)
        out = self.module(*inputs, **kwargs)
        if grad_mode.is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare(out)
        else:
            self._iter = None
        return out

    def _prepare(self, out):
        """A new synced iteration: nothing ready yet; with find_unused_parameters, the parameters the
        output does not depend on are found now (a walk of its graph) and count as ready at once."""
        it = {"pending": [len(b.params) for b in self._buckets], "next": 0, "works": [], "ready": set(),
              "started": False, "used": np.zeros(len(self._params), np.int32), "unused": []}
        if self.find_unused_parameters:
            reached = _leaves_reached(out)
            it["unused"] = [i for i, p in enumerate(self._params) if id(p) not in reached]
        self._iter = it

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward accumulates gradients locally, without communication; the first
        backward after it averages the accumulated gradients."""
        prev = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    # -- backward --------------------------------------------------------------------------------------
    def _make_hook(self, i):
        def hook(p):
            it = self._iter
            if it is None or i in it["ready"]:
                return
            if not it["started"]:
                it["started"] = True
                it["t"] = [("backward", -1, time.perf_counter())]
                engine.queue_callback(self._finish)
                for j in it["unused"]:
                    self._mark_ready(it, j, None)
            it["used"][i] = 1
            self._mark_ready(it, i, p.grad)
        return hook

    def _mark_ready(self, it, i, grad):
        b, off = self._bucket_of[i]
        n = self._params[i].numel()
        if grad is None:
            b.buf[off:off + n] = 0
        else:
            b.buf[off:off + n] = _host(grad)
        it["ready"].add(i)
        it["pending"][b.index] -= 1
        while it["next"] < len(self._buckets) and it["pending"][it["next"]] == 0:
            self._launch(it, self._buckets[it["next"]])
            it["next"] += 1

    def _launch(self, it, b):
        MPI, rec = self._pg_.MPI, it["t"]
        rec.append(("launch", b.index, time.perf_counter()))
        buf = b.buf
        if self._comm_mode == "request":
            it["works"].append(dist.Work(self._pg_.comm.Iallreduce(MPI.IN_PLACE, buf, MPI.SUM)))
            return

        def job(comm, index=b.index):
            rec.append(("comm_start", index, time.perf_counter()))
            if self._comm_mode == "thread-poll":
                # a non-blocking all-reduce progressed by Test() between short sleeps (no busy-polled core)
                req = comm.Iallreduce(MPI.IN_PLACE, buf, MPI.SUM)
                while not req.Test():
                    time.sleep(_POLL_S)
            else:
                comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM)
            rec.append(("comm_end", index, time.perf_counter()))

        it["works"].append(self._pg_.submit(job))

    def _finish(self):
        """End of backward: start what is left, wait for every all-reduce, write the averages to .grad."""
        it, self._iter = self._iter, None
        if it is None:
            return
        missing = [i for i in range(len(self._params)) if i not in it["ready"]]
        if missing and not self.find_unused_parameters:
            for w in it["works"]:
                w.wait()
            names = ", ".join(self._names[i] for i in missing)
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This "
                "error indicates that your module has parameters that were not used in producing loss. You can "
                "enable unused parameter detection by passing the keyword argument `find_unused_parameters=True` "
                f"to `torch.nn.parallel.DistributedDataParallel`. Parameters that did not receive a gradient: {names}")
        for i in missing:
            self._mark_ready(it, i, None)
        rec = it["t"]
        rec.append(("wait", -1, time.perf_counter()))
        for w in it["works"]:
            w.wait()
        rec.append(("waited", -1, time.perf_counter()))
        used = None
        if self.find_unused_parameters:
            used = it["used"]
            self._pg_.comm.Allreduce(self._pg_.MPI.IN_PLACE, used, self._pg_.MPI.MAX)
        size = self._pg_.size
        with grad_mode.no_grad():
            for b in self._buckets:
                b.buf /= size
                for i, off in zip(b.params, b.offsets):
                    if used is not None and not used[i]:
                        continue  # unused on every rank: .grad stays as it was (None), as in PyTorch
                    p = self._params[i]
                    _store_grad(p, b.buf[off:off + p.numel()])
        rec.append(("done", -1, time.perf_counter()))
        self.timeline.append(rec)
        del self.timeline[:-8]


def _host(g):
    """A gradient's values as a flat NumPy array (a view for a CPU tensor, a download for OpenCL)."""
    if g.device.type == "cpu":
        from ...runtime import cpu

        return cpu.to_numpy(g).reshape(-1)
    return g.detach().cpu().numpy().reshape(-1)


def _store_grad(p, values):
    import pygrad

    if p.grad is None:
        p.grad = pygrad.from_numpy(values.reshape(p._shape).copy()).to(p.device)
    elif p.grad.device.type == "cpu":
        from ...runtime import cpu

        cpu.to_numpy(p.grad)[...] = values.reshape(p._shape)
        p.grad._storage.version += 1
    else:
        p.grad.copy_(pygrad.from_numpy(values.reshape(p._shape)).to(p.device))


def _leaves_reached(out):
    """ids of the leaf tensors the autograd graph of ``out`` (tensors in any nesting) reaches."""
    from ...tensor import Tensor

    stack, tensors = [out], []
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            tensors.append(x)
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    reached, seen = set(), set()
    nodes = [t.grad_fn for t in tensors if t.grad_fn is not None]
    for t in tensors:
        if t.grad_fn is None and t.requires_grad:
            reached.add(id(t))
    while nodes:
        n = nodes.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, engine.AccumulateGrad):
            reached.add(id(n.variable))
            continue
        nodes.extend(nxt for nxt, _ in n.next_functions if nxt is not None)
    return reached
