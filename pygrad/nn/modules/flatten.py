"""PyTorch's module path ``nn.modules.flatten``."""
from .linear import Flatten, Unflatten  # noqa: F401
