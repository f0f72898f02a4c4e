"""``pygrad.opencl``: what ``torch.cuda`` is to PyTorch, for OpenCL devices (GPUs of any vendor, CPUs via PoCL)."""
from .runtime.opencl import runtime as _rt


def is_available():
    """True when pyopencl is installed and at least one OpenCL device exists."""
    return _rt.is_available()


def device_count():
    return _rt.device_count()


def _check(index):
    index = 0 if index is None else getattr(index, "index", index) or 0
    # devices up to ``index`` (each probe compiles a kernel: the others are probed only when asked for)
    n = len(_rt._usable(index)) if index >= 0 else _rt.device_count()
    if n == 0:
        raise RuntimeError("no OpenCL device found: " + _rt.INSTALL_HINT)
    if not 0 <= index < n:
        raise RuntimeError(f"OpenCL device index {index} is out of range (this machine has {n})")
    return index


def get_device_name(index=None):
    return _rt.properties(_check(index))["name"]


def get_device_properties(index=None):
    """Compute units, memory sizes, fp64/fp16 support, driver version, ... as a dict."""
    return _rt.properties(_check(index))


def synchronize(index=None):
    """Wait until every kernel queued on the device has finished."""
    _rt.runtime(_check(index)).finish()


def memory_allocated(index=None):
    """Bytes held by live tensors on the device (the caching pool may hold more)."""
    return _rt.runtime(_check(index)).pool.active_bytes


def memory_reserved(index=None):
    """Bytes the caching pool holds: live tensors plus freed blocks kept for reuse."""
    return _rt.runtime(_check(index)).pool.managed_bytes


def empty_cache(index=None):
    """Free the device memory pygrad holds but no tensor uses: cached scalars and the pool's free blocks."""
    from .device import device
    from .runtime import get_backend

    i = _check(index)
    get_backend(device("opencl", i)).empty_cache()
    _rt.runtime(i).pool.free_held()


def get_rng_state(device="opencl"):
    """The OpenCL Philox stream position (seed and counter, 16 bytes), like ``torch.cuda.get_rng_state``."""
    from .random import _device_state, default_generator

    return _device_state(default_generator)


def set_rng_state(new_state, device="opencl"):
    from .random import _set_device_state, default_generator

    _set_device_state(default_generator, new_state)
