"""Automatic differentiation: graph recording (``Function``), grad modes and the backward engine."""
from .function import Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
