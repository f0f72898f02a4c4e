"""Switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

All of them flip one module-level flag that ``Function.apply`` reads before recording a graph node.
Each works as a context manager and as a decorator, like PyTorch's.
"""
import functools

_state = {"enabled": True}


def is_grad_enabled():
    """True when operations on tensors that require grad are being recorded for backward."""
    return _state["enabled"]


class _GradMode:
    """Base class: a context manager that sets the flag to ``self.mode`` and restores it on exit."""

    mode = True

    def __enter__(self):
        self.prev = _state["enabled"]
        _state["enabled"] = self.mode
        return None

    def __exit__(self, *exc):
        _state["enabled"] = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _state["enabled"]
            _state["enabled"] = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state["enabled"] = prev

        return wrapper


class no_grad(_GradMode):
    """Do not record operations (evaluation, parameter updates): results have ``requires_grad=False``."""

    mode = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` works like ``no_grad``; it also takes effect when called bare."""

    def __init__(self, mode):
        self.prev = _state["enabled"]
        self.mode = bool(mode)
        _state["enabled"] = self.mode

    def __enter__(self):
        return None  # the mode was already set in __init__; __exit__ restores self.prev

    def __call__(self, fn):
        _state["enabled"] = self.prev  # used as a decorator: only the decorated calls change mode
        return super().__call__(fn)


class inference_mode(_GradMode):
    """Like ``no_grad`` (pygrad has no separate inference tensors); ``inference_mode(False)`` changes nothing."""

    def __init__(self, mode=True):
        self.mode = False if mode else None

    def __enter__(self):
        self.prev = _state["enabled"]
        if self.mode is not None:
            _state["enabled"] = self.mode

    def __call__(self, fn):
        if self.mode is None:
            return fn
        return super().__call__(fn)


def is_inference_mode_enabled():
    return False
