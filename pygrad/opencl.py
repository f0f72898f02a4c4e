"""``pygrad.opencl``: what ``torch.cuda`` is to PyTorch, for OpenCL devices (GPUs of any vendor, CPUs via PoCL)."""
from .runtime.opencl import runtime as _rt


def is_available():
    """True when pyopencl is installed and at least one OpenCL device exists."""
    return _rt.is_available()


def device_count():
    return _rt.device_count()


def _check(index):
    n = _rt.device_count()
    if n == 0:
        raise RuntimeError("no OpenCL device found: " + _rt.INSTALL_HINT)
    index = 0 if index is None else getattr(index, "index", index) or 0
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
    _rt.runtime(_check(index)).pool.free_held()
