"""``pygrad.backends.mps``: Apple's Metal backend of PyTorch; pygrad has none (use OpenCL on Macs)."""


def is_available():
    return False


def is_built():
    return False
