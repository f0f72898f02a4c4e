"""PyTorch's module path ``nn.modules.distance``."""
from .upsampling import CosineSimilarity  # noqa: F401
