"""Switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

All of them flip a flag that ``Function.apply`` reads before recording a graph node.  The flags are
thread-local, as in PyTorch: a ``no_grad`` evaluator thread does not stop a trainer thread from
recording, and every new thread starts with grad mode on.  Each switch works as a context manager and
as a decorator, like PyTorch's.
"""
import functools
import threading


class _ThreadState(threading.local):
    """Per-thread modes: ``enabled`` (grad mode) and ``inference`` (inside ``inference_mode``).

    Read as attributes on the hot path (``_state.enabled``); ``_state["enabled"]`` also works.
    """

    def __init__(self):
        self.enabled = True
        self.inference = False

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        setattr(self, key, value)


_state = _ThreadState()


def is_grad_enabled():
    """True when operations on tensors that require grad are being recorded for backward (this thread)."""
    return _state.enabled


class _GradMode:
    """Base class: a context manager that sets the flag to ``self.mode`` and restores it on exit."""

    mode = True

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = self.mode
        return None

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _state.enabled
            _state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state.enabled = prev

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
        self.prev = _state.enabled
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self):
        return None  # the mode was already set in __init__; __exit__ restores self.prev

    def __call__(self, fn):
        _state.enabled = self.prev  # used as a decorator: only the decorated calls change mode
        return super().__call__(fn)


class inference_mode(_GradMode):
    """Like ``no_grad`` (pygrad has no separate inference tensors); ``inference_mode(False)`` changes nothing.

    ``is_inference_mode_enabled()`` is True inside it, in this thread only.
    """

    def __init__(self, mode=True):
        self.mode = False if mode else None

    def __enter__(self):
        self.prev = _state.enabled
        self.prev_inference = _state.inference
        if self.mode is not None:
            _state.enabled = self.mode
            _state.inference = True

    def __exit__(self, *exc):
        _state.enabled = self.prev
        _state.inference = self.prev_inference
        return False

    def __call__(self, fn):
        if self.mode is None:
            return fn

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode():
                return fn(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` in the calling thread."""
    return _state.inference
