"""``pygrad.backends``: PyTorch's public namespace of backend flags (``torch.backends``).

The CUDA/cuDNN/MPS flags exist so that programs written for PyTorch can set and read them; there is no
CUDA, cuDNN or MPS here, so they change nothing (``is_available()`` answers False).  ``opencl`` holds
pygrad's own flags, which do mean something.  Not to be confused with ``pygrad.runtime``, the internal
layer that owns storage and kernels.
"""
from . import cpu, cuda, cudnn, mkldnn, mps, opencl, openmp  # noqa: F401
