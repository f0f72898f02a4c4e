"""Choosing the backend for an op from its inputs' device."""
from ..runtime import cpu, get_backend


def backend_of(t):
    """The backend module that owns tensor ``t``'s storage."""
    dev = t._storage.device
    if dev.type == "cpu":
        return cpu
    return get_backend(dev)


def check_same_device(*tensors):
    """Raise RuntimeError naming both devices when tensors of one op live on different devices."""
    first = tensors[0]._storage.device
    for t in tensors[1:]:
        d = t._storage.device
        if d is not first and d != first:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{first} and {d}!"
            )


_Tensor = None  # pygrad.Tensor, bound on first use (tensor.py imports this module)


def check_devices(args):
    """The one same-device check every built-in op runs (from ``Function.apply``), before any backend.

    Looks at the tensors among ``args`` and inside list/tuple arguments (``cat``'s list).  A 0-d CPU
    tensor may join tensors of another device, as PyTorch allows CPU scalars; any other mix raises
    PyTorch's RuntimeError naming both devices, so no backend ever sees another device's storage.
    """
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor as _Tensor
    dev = None
    for a in args:
        if isinstance(a, _Tensor):
            d = a._storage.device
            if dev is None:
                dev, first = d, a
            elif d is not dev:
                dev, first = _other_device(dev, first, d, a)
        elif (type(a) is list or type(a) is tuple) and a and isinstance(a[0], _Tensor):
            for t in a:
                if isinstance(t, _Tensor):
                    d = t._storage.device
                    if dev is None:
                        dev, first = d, t
                    elif d is not dev:
                        dev, first = _other_device(dev, first, d, t)


def _other_device(dev, first, d, t):
    """Tensor ``t`` on ``d`` meets tensors on ``dev`` (the first being ``first``): the device to go on with."""
    if d == dev:
        return dev, first
    if d.type == "cpu" and not t._shape:
        return dev, first  # a CPU scalar beside tensors of another device
    if dev.type == "cpu" and not first._shape:
        return d, t  # so far only CPU scalars: the op runs on d
    raise RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, "
        f"{dev} and {d}!"
    )
