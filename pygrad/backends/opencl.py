"""``pygrad.backends.opencl``: pygrad's own OpenCL flags, which do change what runs.

- ``kernel_shape(device=None)``: "cpu" or "gpu", the shape of every kernel family the device runs (CPU
  devices get CPU-shaped kernels unless ``PYGRAD_KERNEL_SHAPE`` forces one).
- ``set_kernel_shape("cpu" | "gpu" | None)``: force a shape for devices set up from now on (the
  ``PYGRAD_KERNEL_SHAPE`` environment variable, which this sets; None removes it).
- ``is_available()``: an OpenCL runtime with at least one usable device exists.
"""
import os

from ..runtime.opencl import runtime as _rt


def is_available():
    return _rt.is_available()


def _index(device):
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    from ..device import device as _device

    d = _device(device)
    if d.type != "opencl":
        raise ValueError(f"expected an OpenCL device, got {d}")
    return d.index or 0


def kernel_shape(device=None):
    """The kernel shape ("cpu" or "gpu") in force on ``device`` (default ``opencl:0``)."""
    index = _index(device)
    rts = _rt._state["runtimes"]
    if index in rts:
        return rts[index].kernel_shape
    return _rt.properties(index)["kernel_shape"]


def set_kernel_shape(shape):
    """Force a kernel shape for OpenCL devices set up after this call (None: choose by device type)."""
    if shape is None:
        os.environ.pop("PYGRAD_KERNEL_SHAPE", None)
        return
    if shape not in _rt.KERNEL_SHAPES:
        raise ValueError(f"kernel shape must be 'cpu' or 'gpu', got {shape!r}")
    os.environ["PYGRAD_KERNEL_SHAPE"] = shape
