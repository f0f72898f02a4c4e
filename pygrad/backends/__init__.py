"""Backends: the primitives that run ops on one kind of device (``cpu``; ``opencl`` later)."""


def get_backend(dev):
    """The backend module for a device; RuntimeError for devices pygrad cannot use yet."""
    if dev.type == "cpu":
        from . import cpu

        return cpu
    raise RuntimeError(
        f"device '{dev}' is not supported by this build of pygrad: only the CPU backend exists so far "
        "(the OpenCL backend is being written)"
    )
