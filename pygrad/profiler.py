"""``pygrad.profiler``: where the time of a training step goes, shaped like ``torch.profiler``.

    with pygrad.profiler.profile() as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total"))
    prof.export_chrome_trace("trace.json")      # open in chrome://tracing or ui.perfetto.dev

Per op (each autograd ``Function`` forward, each node's backward, each optimizer step, and any
``record_function`` block) it records host time, self time (minus the ops it called), OpenCL kernel
launches, and bytes copied between host and device; with
``activities=[ProfilerActivity.CPU, ProfilerActivity.OPENCL]`` also device time from OpenCL profiling
events.  Launches, bytes and device time count in the innermost op that caused them (like self time);
host time ("CPU total") includes the ops called inside.  Nothing is instrumented while no profiler runs: entering swaps timing wrappers into
``Function.apply``, the backward engine and the OpenCL launch/copy paths, and leaving puts the
originals back, so code outside a ``with profile()`` pays nothing.
"""
import enum
import json
import os
import threading
import time


class ProfilerActivity(enum.Enum):
    """What to record: host-side times (CPU) and device kernel times (OPENCL, from OpenCL events)."""

    CPU = "cpu"
    OPENCL = "opencl"


_ACTIVE = None  # the running profile, if any (one at a time)


class FunctionEvent:
    """One timed call: name, start and end (ns since the profile began), launches and copies inside."""

    __slots__ = ("name", "start", "end", "children_ns", "launches", "h2d_bytes", "d2h_bytes", "device_ns",
                 "depth", "kernels", "thread")

    def __init__(self, name, start, depth):
        self.name, self.start, self.end, self.depth = name, start, start, depth
        self.children_ns = self.launches = self.h2d_bytes = self.d2h_bytes = self.device_ns = 0
        self.kernels = []  # (OpenCL event, kernel name) while device timing is on
        self.thread = threading.get_ident()

    @property
    def cpu_time_total(self):
        return (self.end - self.start) / 1000.0  # us

    @property
    def self_cpu_time_total(self):
        return (self.end - self.start - self.children_ns) / 1000.0

    @property
    def device_time_total(self):
        return self.device_ns / 1000.0

    def __repr__(self):
        return f"<FunctionEvent {self.name} cpu_time={self.cpu_time_total:.1f}us launches={self.launches}>"


class FunctionEventAvg:
    """The events of one name added up (``key_averages()`` rows)."""

    def __init__(self, key):
        self.key = key
        self.count = self.launches = self.h2d_bytes = self.d2h_bytes = 0
        self.cpu_time_total = self.self_cpu_time_total = self.device_time_total = 0.0

    def add(self, e):
        self.count += 1
        self.launches += e.launches
        self.h2d_bytes += e.h2d_bytes
        self.d2h_bytes += e.d2h_bytes
        self.cpu_time_total += e.cpu_time_total
        self.self_cpu_time_total += e.self_cpu_time_total
        self.device_time_total += e.device_time_total

    @property
    def cpu_time(self):
        return self.cpu_time_total / max(self.count, 1)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} count={self.count} self_cpu_time_total={self.self_cpu_time_total:.1f}us "
                f"launches={self.launches}>")


_SORT_KEYS = {"self_cpu_time_total", "cpu_time_total", "device_time_total", "count", "launches", "h2d_bytes",
              "d2h_bytes", "self_device_time_total", "cuda_time_total", "self_cuda_time_total"}


def _fmt_us(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _fmt_bytes(n):
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


class EventList(list):
    """A list of ``FunctionEventAvg`` (or ``FunctionEvent``) with ``table()``, as in torch.profiler."""

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None, top_level_events_only=False):
        """A text table, one row per op, sorted by ``sort_by`` (e.g. ``"self_cpu_time_total"``), largest first."""
        rows = list(self)
        if sort_by is not None:
            key = {"self_device_time_total": "device_time_total", "cuda_time_total": "device_time_total",
                   "self_cuda_time_total": "device_time_total"}.get(sort_by, sort_by)
            if sort_by not in _SORT_KEYS:
                raise ValueError(f"sort_by must be one of {sorted(_SORT_KEYS)}, got {sort_by!r}")
            rows.sort(key=lambda r: getattr(r, key), reverse=True)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        total_self = sum(r.self_cpu_time_total for r in self) or 1.0
        total_cpu = sum(r.self_cpu_time_total for r in self)
        device = any(r.device_time_total for r in self)
        width = min(max([len("Name")] + [len(r.key) for r in rows]), max_name_column_width)
        cols = ["Self CPU %", "Self CPU", "CPU total", "CPU time avg"] + (["Device total"] if device else []) + \
            ["# of Calls", "Launches", "H2D bytes", "D2H bytes"]
        line = "-" * width + "  " + "  ".join("-" * 12 for _ in cols)
        out = [line, f"{'Name':<{width}}  " + "  ".join(f"{c:>12}" for c in cols), line]
        for r in rows:
            name = r.key if len(r.key) <= width else r.key[:width - 3] + "..."
            vals = [f"{100.0 * r.self_cpu_time_total / total_self:.2f}%", _fmt_us(r.self_cpu_time_total),
                    _fmt_us(r.cpu_time_total), _fmt_us(r.cpu_time)]
            if device:
                vals.append(_fmt_us(r.device_time_total))
            vals += [str(r.count), str(r.launches), _fmt_bytes(r.h2d_bytes), _fmt_bytes(r.d2h_bytes)]
            out.append(f"{name:<{width}}  " + "  ".join(f"{v:>12}" for v in vals))
        out.append(line)
        out.append(f"Self CPU time total: {_fmt_us(total_cpu)}")
        if device:
            out.append(f"Self device time total: {_fmt_us(sum(r.device_time_total for r in self))}")
        return "\n".join(out)

    def __str__(self):
        return self.table()


def _kernel_name(kernel):
    try:
        return kernel.name  # a grouped program's copy (sgd_k_v2) reports the file's name (sgd_k)
    except Exception:
        return "kernel"


class record_function:
    """Label a block of code in the profile (``with record_function("data"): ...``); free when not profiling."""

    def __init__(self, name, args=None):
        self.name = name
        self._prof = None

    def __enter__(self):
        self._prof = _ACTIVE
        if self._prof is not None:
            self._prof._push(self.name)
        return self

    def __exit__(self, *exc):
        if self._prof is not None:
            self._prof._pop()
        return False


class profile:
    """Record ops while the ``with`` block runs; then ``key_averages()``, ``events()``, ``export_chrome_trace``.

    Args:
        activities: ``[ProfilerActivity.CPU]`` (default) times the host; adding ``ProfilerActivity.OPENCL``
            also measures each kernel on the device (the OpenCL queue runs with profiling on meanwhile).
        record_shapes, profile_memory, with_stack: accepted for compatibility with torch.profiler; unused.
    """

    def __init__(self, activities=None, record_shapes=False, profile_memory=False, with_stack=False, enabled=True,
                 **kwargs):
        acts = set(activities) if activities is not None else {ProfilerActivity.CPU}
        self.device_timing = ProfilerActivity.OPENCL in acts
        self.enabled = enabled
        self._events = []
        self._stack = []
        self._orig = []
        self._t0 = 0
        self._queues = {}

    # -- recording ----------------------------------------------------------------------------------
    def _now(self):
        return time.perf_counter_ns() - self._t0

    def _push(self, name):
        e = FunctionEvent(name, self._now(), len(self._stack))
        self._stack.append(e)
        return e

    def _pop(self):
        e = self._stack.pop()
        e.end = self._now()
        if self._stack:
            self._stack[-1].children_ns += e.end - e.start
        self._events.append(e)
        return e

    def _current(self):
        if not self._stack:
            self._push("(outside any op)")  # launches/copies at top level still count, under one name
            e = self._pop()
            return e
        return self._stack[-1]

    # -- patching -----------------------------------------------------------------------------------
    def _patch(self, owner, name, make):
        orig = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, make(orig))
        self._orig.append((owner, name, orig))

    def __enter__(self):
        global _ACTIVE
        if not self.enabled:
            return self
        if _ACTIVE is not None:
            raise RuntimeError("a pygrad profiler is already running")
        from .autograd import engine
        from .autograd.function import Function

        prof = self

        def make_apply(orig):
            fn = orig.__func__

            def apply(cls, *args, **kwargs):
                prof._push(cls.__name__)
                try:
                    return fn(cls, *args, **kwargs)
                finally:
                    prof._pop()
            return classmethod(apply)

        def make_engine_apply(orig):
            def _apply(node, out_grads):
                prof._push("autograd::engine::evaluate_function: " + node.name())
                try:
                    return orig(node, out_grads)
                finally:
                    prof._pop()
            return _apply

        self._patch(Function, "apply", make_apply)
        self._patch(engine, "_apply", make_engine_apply)
        self._patch_opencl()
        self._t0 = time.perf_counter_ns()
        _ACTIVE = self
        return self

    def _patch_opencl(self):
        import sys

        if "pygrad.runtime.opencl.kernels" not in sys.modules:
            return  # no OpenCL used yet: nothing to count (a device first used inside the block is missed)
        from .runtime.opencl import kernels, runtime as rtmod

        prof = self

        def make_call(orig):
            def __call__(kself, queue, global_size, local_size, *args):
                e = prof._current()
                e.launches += 1
                q = prof._queues.get(id(queue))
                event = orig(kself, q if q is not None else queue, global_size, local_size, *args)
                if prof.device_timing:
                    e.kernels.append((event, kself))  # (the kernel's name is read once, at the end)
                return event
            return __call__

        def make_read(orig):
            def read(rself, dst, src, src_offset=0):
                prof._current().d2h_bytes += getattr(dst, "nbytes", 0)
                return orig(rself, dst, src, src_offset)
            return read

        def make_write(orig):
            def write(rself, dst, src):
                prof._current().h2d_bytes += getattr(src, "nbytes", 0)
                return orig(rself, dst, src)
            return write

        self._patch(kernels._TypedKernel, "__call__", make_call)
        self._patch(rtmod.Runtime, "read", make_read)
        self._patch(rtmod.Runtime, "write", make_write)
        if self.device_timing:  # a profiling queue per device, used for launches while the block runs
            import pyopencl as cl

            for rt in rtmod._state["runtimes"].values():
                rt.queue.finish()
                pq = cl.CommandQueue(rt.context, properties=cl.command_queue_properties.PROFILING_ENABLE)
                self._queues[id(rt.queue)] = pq
                self._orig.append((rt, "queue", rt.queue))
                rt.queue = pq
                self._queues[id(pq)] = pq

    def __exit__(self, *exc):
        global _ACTIVE
        if not self.enabled or _ACTIVE is not self:
            return False
        while self._stack:
            self._pop()
        _ACTIVE = None
        for owner, name, orig in reversed(self._orig):
            if owner.__class__.__name__ == "Runtime" and name == "queue":
                owner.queue.finish()
            setattr(owner, name, orig)
        self._orig = []
        if self.device_timing:
            for e in self._events:
                for event, _ in e.kernels:
                    try:
                        e.device_ns += event.profile.end - event.profile.start
                    except Exception:  # an event from a queue without profiling
                        pass
        return False

    # -- results ------------------------------------------------------------------------------------
    def events(self):
        """Every recorded call, in the order they finished."""
        return EventList(self._events)

    def key_averages(self, group_by_input_shape=False):
        """One row per op name with calls, host/self/device time, launches and bytes copied."""
        rows = {}
        for e in self._events:
            rows.setdefault(e.name, FunctionEventAvg(e.name)).add(e)
        return EventList(rows.values())

    def export_chrome_trace(self, path):
        """Write the events in the Chrome trace format (chrome://tracing, ui.perfetto.dev)."""
        pid = os.getpid()
        trace = []
        for e in self._events:
            trace.append({"name": e.name, "ph": "X", "cat": "cpu_op", "ts": e.start / 1000.0,
                          "dur": (e.end - e.start) / 1000.0, "pid": pid, "tid": e.thread,
                          "args": {"launches": e.launches, "h2d_bytes": e.h2d_bytes, "d2h_bytes": e.d2h_bytes}})
            for event, kernel in e.kernels:
                try:  # device clock -> host clock: the op's start plus the kernel's wait in the queue
                    queued, start, end = event.profile.queued, event.profile.start, event.profile.end
                except Exception:
                    continue
                ts = e.start + (start - queued)
                trace.append({"name": _kernel_name(kernel), "ph": "X", "cat": "kernel", "ts": ts / 1000.0,
                              "dur": (end - start) / 1000.0, "pid": pid, "tid": "opencl", "args": {"op": e.name}})
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)
        return path
