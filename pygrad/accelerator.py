"""``pygrad.accelerator``: PyTorch's device-agnostic questions ("is there an accelerator? which?").

pygrad's accelerator is an OpenCL GPU.  An OpenCL device that is a CPU (PoCL) runs pygrad's kernels but
is not an accelerator, so on such a machine ``is_available()`` is False and ``current_accelerator()``
None, as PyTorch answers on a machine without CUDA/MPS/XPU: programs then pick the CPU path.
"""
from .device import device as _device

_state = {"index": 0}


def _gpu_indices():
    """Indices of the OpenCL devices that are GPUs (they are numbered first)."""
    try:
        from .runtime.opencl import runtime as rt

        if not rt.is_available():
            return []
        return [i for i in range(rt.device_count()) if rt.properties(i)["type"] == "GPU"]
    except Exception:  # no pyopencl, no platform, a broken driver: no accelerator
        return []


def is_available():
    """True when an OpenCL GPU exists."""
    return bool(_gpu_indices())


def device_count():
    """Number of OpenCL GPUs."""
    return len(_gpu_indices())


def current_accelerator(check_available=False):
    """``device('opencl:N')`` of the current OpenCL GPU, or None when there is none."""
    gpus = _gpu_indices()
    if not gpus:
        return None
    return _device("opencl", gpus[_state["index"]] if _state["index"] < len(gpus) else gpus[0])


def current_device_index():
    return _state["index"] if _gpu_indices() else -1


def set_device_index(index):
    """Choose which OpenCL GPU ``current_accelerator`` names (its index among the GPUs)."""
    index = getattr(index, "index", index)
    n = device_count()
    if not 0 <= index < max(n, 1) or n == 0:
        raise RuntimeError(f"accelerator device index {index} is out of range (this machine has {n} OpenCL GPUs)")
    _state["index"] = index


set_device_idx = set_device_index


def synchronize(device=None):
    """Wait for the queued kernels of the current accelerator (or ``device``)."""
    dev = current_accelerator() if device is None else _device(device)
    if dev is not None:
        from . import opencl

        opencl.synchronize(dev.index)
