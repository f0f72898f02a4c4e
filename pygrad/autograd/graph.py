"""``pygrad.autograd.graph.Node``: the type of every ``grad_fn`` (for ``isinstance`` checks)."""
from .function import Node

__all__ = ["Node"]
