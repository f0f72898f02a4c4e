"""``pygrad.amp``: automatic mixed precision (``autocast``) and loss scaling (``GradScaler``).

``autocast("opencl")`` runs matrix products (``matmul``, ``mm``, ``bmm``, ``addmm``, ``nn.Linear``) in
float16 on OpenCL devices that have ``cl_khr_fp16``; for every other device type it is a no-op (with
PyTorch's warning where PyTorch warns).  ``GradScaler`` scales the loss, unscales the gradients and
skips steps with inf/nan gradients; for ``"cuda"`` (absent here) it disables itself as PyTorch does.
"""
from .autocast_mode import autocast, is_autocast_available, is_autocast_enabled, get_autocast_dtype  # noqa: F401
from .grad_scaler import GradScaler  # noqa: F401
