"""``pygrad.nn``: modules, parameters, layers, losses, ``functional`` and ``init``."""
from . import functional, init, parallel, utils
from .module import Module
from .modules import *  # noqa: F401,F403
from .modules import __dict__ as _mods
from .parameter import Parameter

__all__ = ["Module", "Parameter", "functional", "init", "utils"] + [
    k for k, v in _mods.items() if isinstance(v, type) and issubclass(v, Module)]
