"""``autocast``: a context manager (and decorator) that lowers the precision of matrix products."""
import functools
import threading
import warnings

from .. import dtypes as D

_local = threading.local()


def _active():
    """{device type: dtype} of the autocast regions entered on this thread."""
    s = getattr(_local, "active", None)
    if s is None:
        s = _local.active = {}
    return s


def is_autocast_available(device_type):
    return device_type in ("cpu", "opencl")


def is_autocast_enabled(device_type=None):
    return _active().get(device_type or "opencl") is not None


def get_autocast_dtype(device_type):
    return _active().get(device_type) or (D.float16 if device_type == "opencl" else None)


def _fp16_supported(device):
    from ..runtime.opencl import runtime as rt

    return bool(rt.properties(device.index or 0)["fp16"])


def cast_inputs(*tensors):
    """The operands of a matrix product, cast to the autocast dtype when a region is active for their
    device type (floating tensors only); unchanged otherwise."""
    active = getattr(_local, "active", None)
    if not active:
        return tensors
    t0 = tensors[0]
    dtype = active.get(t0._storage.device.type)
    if dtype is None:
        return tensors
    return tuple(t.to(dtype) if hasattr(t, "_storage") and t.dtype.is_floating_point and t.dtype is not dtype
                 else t for t in tensors)


class autocast:
    """``with pygrad.autocast(device_type, dtype=None, enabled=True):`` as in PyTorch."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type
        self.fast_dtype = D.as_dtype(dtype) if dtype is not None else (
            D.float16 if device_type == "opencl" else None)
        self._enabled = bool(enabled)
        if not enabled:
            return
        if device_type == "cuda":
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.")
            self._enabled = False
        elif device_type == "cpu":
            self._enabled = False  # a documented no-op: pygrad's CPU backend has no fast low-precision GEMM
        elif device_type == "opencl":
            if self.fast_dtype is not D.float16:
                warnings.warn(f"In OpenCL autocast, but the target dtype {self.fast_dtype} is not supported "
                              "(only torch.float16). Disabling autocast.")
                self._enabled = False
        else:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")

    def __enter__(self):
        active = _active()
        self._prev = active.get(self.device)
        if self._enabled and self.device == "opencl":
            from ..device import get_default_device

            dev = get_default_device()
            index = dev.index if dev.type == "opencl" else 0
            try:
                ok = _fp16_supported(type(dev)("opencl", index or 0))
            except Exception:
                ok = False
            if not ok:
                warnings.warn("In OpenCL autocast, but the device has no cl_khr_fp16 (float16 arithmetic). "
                              "Disabling autocast.")
                self._enabled = False
        active[self.device] = self.fast_dtype if self._enabled else None
        return self

    def __exit__(self, *exc):
        _active()[self.device] = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled):
                return fn(*args, **kwargs)
        return wrapper
