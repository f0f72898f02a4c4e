"""PyTorch's module path ``nn.modules.module``."""
from ..module import *  # noqa: F401,F403
from ..module import Module  # noqa: F401
