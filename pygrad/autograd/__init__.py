"""Automatic differentiation: graph recording (``Function``), grad modes and the backward engine.

Read ``docs/autograd.md`` for a tour; the code is in ``function.py`` (nodes), ``engine.py`` (the
backward pass), ``api.py`` (``backward``, ``grad``, hooks) and ``gradcheck.py`` (finite differences).
"""
from .function import Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .api import backward, grad, detect_anomaly, set_detect_anomaly, is_anomaly_enabled
from .gradcheck import gradcheck, gradgradcheck
from . import function, graph

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "detect_anomaly", "set_detect_anomaly", "gradcheck", "gradgradcheck"]
