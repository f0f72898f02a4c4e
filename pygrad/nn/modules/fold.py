"""PyTorch's module path ``nn.modules.fold``."""
from .upsampling import Fold, Unfold  # noqa: F401
