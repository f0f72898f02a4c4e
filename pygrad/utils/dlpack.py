"""DLPack: zero-copy exchange of CPU tensors with NumPy, PyTorch, JAX and any other DLPack library.

Zero-copy means the storage is shared: a write through one library is seen by the other.  pygrad
produces its capsules through NumPy's DLPack exporter (over a view of the tensor's storage) and reads
other libraries' capsules through ``numpy.from_dlpack`` (then wraps that array without a copy).
OpenCL tensors report DLPack's OpenCL device type; they are exported only as a host copy, where the
consumer allows a copy (``copy=True`` or ``dl_device=(kDLCPU, 0)``).
"""
import numpy as np

__all__ = ["to_dlpack", "from_dlpack"]

kDLCPU = 1
kDLOpenCL = 4


def tensor_dlpack_device(t):
    """``Tensor.__dlpack_device__``: ``(kDLCPU, 0)`` or ``(kDLOpenCL, index)``."""
    dev = t.device
    if dev.type == "cpu":
        return (kDLCPU, 0)
    return (kDLOpenCL, dev.index or 0)


def tensor_dlpack(t, stream=None, max_version=None, dl_device=None, copy=None):
    """``Tensor.__dlpack__``: a DLPack capsule sharing the tensor's memory (a host copy of an OpenCL
    tensor only where the consumer allows one)."""
    if t.requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    if stream is not None and stream != -1 and t.device.type == "cpu":
        raise ValueError(f"stream must be None for a CPU tensor, got {stream!r}")
    to_host = dl_device is not None and tuple(dl_device)[0] == kDLCPU
    if dl_device is not None and not to_host and tuple(dl_device) != tensor_dlpack_device(t):
        raise BufferError(f"pygrad can export a {t.device} tensor only to its own device or to the CPU, "
                          f"not to DLPack device {tuple(dl_device)}")
    if t.device.type != "cpu":
        if copy is False or not (copy or to_host):
            raise BufferError(
                f"a {t.device} tensor cannot be shared through DLPack (consumers cannot address OpenCL buffers): "
                "call .cpu() first, or let the consumer copy (e.g. numpy.from_dlpack(t, copy=True))")
        arr = np.array(t.detach()._host(), copy=True)
    else:
        arr = t._host()  # a view of the storage: shared memory
        if copy:
            arr = arr.copy()
    return arr.__dlpack__() if max_version is None else arr.__dlpack__(max_version=max_version)


class _Capsule:
    """A bare DLPack capsule (``torch.utils.dlpack.to_dlpack``'s result) as a producer numpy can read."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        return self.capsule

    def __dlpack_device__(self):
        return (kDLCPU, 0)


def from_dlpack(ext_tensor):
    """A CPU tensor sharing memory with ``ext_tensor`` (an object with ``__dlpack__``, or a DLPack capsule)."""
    from ..creation import from_numpy

    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack expects an object with __dlpack__ or a DLPack capsule, got "
                        f"{type(ext_tensor).__name__}")
    dev = getattr(ext_tensor, "__dlpack_device__", lambda: (kDLCPU, 0))()
    if dev[0] not in (kDLCPU, 3):  # 3 = kDLCUDAHost: host memory a CPU can read
        raise BufferError(f"from_dlpack: pygrad reads only CPU memory, the tensor is on DLPack device {tuple(dev)}")
    try:
        arr = np.from_dlpack(ext_tensor)
    except TypeError:  # a producer without the newer keyword arguments
        arr = np.from_dlpack(_Capsule(ext_tensor.__dlpack__()))
    return from_numpy(arr)


def to_dlpack(tensor):
    """``torch.utils.dlpack.to_dlpack``: a DLPack capsule sharing ``tensor``'s memory."""
    return tensor.__dlpack__()
