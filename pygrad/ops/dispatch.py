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
