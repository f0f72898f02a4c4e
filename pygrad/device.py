"""Devices: where a tensor's storage lives (``cpu`` or an OpenCL device ``opencl:N``)."""
import os
import threading

_KNOWN = ("cpu", "opencl", "cuda")


class device:
    """``pygrad.device("cpu")``, ``device("opencl:1")`` or ``device("opencl", 1)``, like ``torch.device``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string such as 'cpu' or 'opencl:0', got {type!r}")
        if ":" in type:
            if index is not None:
                raise ValueError(f"device string {type!r} already holds an index")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in _KNOWN:
            raise RuntimeError(
                f"Expected one of cpu, opencl device type at start of device string: {type}"
            )
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type = type
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


CPU = device("cpu")


class _DefaultDevice(threading.local):
    """The default device, per thread as in PyTorch: every thread starts from ``PYGRAD_DEVICE`` (or cpu)."""

    value = None


_default = _DefaultDevice()


def as_device(d):
    """Normalise a device argument (None, str, int or device) to a ``device``."""
    if d is None:
        return get_default_device()
    if isinstance(d, device):
        return d
    if isinstance(d, int):
        return device("opencl", d)
    return device(d)


def get_default_device():
    """The device factories use when no ``device=`` is given (``PYGRAD_DEVICE`` sets it at start)."""
    d = _default.value
    if d is None:
        d = _default.value = device(os.environ.get("PYGRAD_DEVICE", "cpu"))
    return d


def set_default_device(d):
    """Make ``d`` the device factories use in this thread (thread-local, as ``torch.set_default_device``)."""
    _default.value = CPU if d is None else as_device(d)
