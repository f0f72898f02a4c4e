"""Backends: the primitives that run ops on one kind of device (``cpu``; ``opencl`` later)."""


import threading

_opencl = {}


def set_tensor_class(cls):
    """Called once by ``pygrad.tensor``: the class (storage + layout, ``cls._make``) that backends build
    their results with, so the runtime makes tensors without importing the layer above it."""
    from . import cpu

    cpu._Tensor = cls

_lock = threading.Lock()  # one backend object per device, also when threads ask at the same moment


def get_backend(dev):
    """The backend for a device: the ``cpu`` module, or one ``OpenCLBackend`` per OpenCL device."""
    if dev.type == "cpu":
        from . import cpu

        return cpu
    if dev.type == "opencl":
        index = dev.index or 0
        b = _opencl.get(index)
        if b is None:
            from .opencl.backend import OpenCLBackend

            with _lock:
                b = _opencl.get(index)
                if b is None:
                    b = _opencl[index] = OpenCLBackend(index)
        return b
    raise RuntimeError(f"device '{dev}' is not available: pygrad runs on 'cpu' and 'opencl' devices "
                       "(CUDA is not supported; use an OpenCL driver for your GPU)")
