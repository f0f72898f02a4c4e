"""``pygrad.cuda``: present so course code can ask; pygrad runs on OpenCL devices, never CUDA."""


def is_available():
    """Always False: pygrad's GPU backend is OpenCL (``pygrad.opencl``), not CUDA."""
    return False


def device_count():
    return 0


def manual_seed(seed):
    pass


def manual_seed_all(seed):
    pass
