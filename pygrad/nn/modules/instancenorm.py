"""PyTorch's module path ``nn.modules.instancenorm``."""
from .normalization import InstanceNorm1d, InstanceNorm2d, _InstanceNorm  # noqa: F401
