"""``pygrad.cuda``: present so course code can ask; pygrad runs on OpenCL devices, never CUDA."""


def is_available():
    """Always False: pygrad's GPU backend is OpenCL (``pygrad.opencl``), not CUDA."""
    return False


def device_count():
    return 0


def is_bf16_supported(including_emulation=True):
    """False: no CUDA device (pygrad's bfloat16 runs on the CPU and OpenCL backends)."""
    return False


def manual_seed(seed):
    pass


def manual_seed_all(seed):
    pass


# ``pygrad.cuda.amp.GradScaler`` / ``autocast``: PyTorch's older spelling of ``pygrad.amp`` for CUDA
# (here: disabled with PyTorch's warnings, so the same script runs without CUDA).
class _CudaAmp:
    """``pygrad.cuda.amp``: ``GradScaler(...)`` is ``pygrad.amp.GradScaler("cuda", ...)``."""

    def __init__(self):
        self.__name__ = __name__ + ".amp"

    @staticmethod
    def GradScaler(init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
        import warnings

        from .amp import GradScaler

        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        return GradScaler("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    @staticmethod
    def autocast(enabled=True, dtype=None, cache_enabled=True):
        from .amp import autocast

        return autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


amp = _CudaAmp()
import sys as _sys  # noqa: E402

_sys.modules[__name__ + ".amp"] = amp  # ``import pygrad.cuda.amp`` works too
