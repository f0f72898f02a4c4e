"""PyTorch's module path ``nn.modules.batchnorm`` (the classes live in ``normalization``)."""
from .normalization import BatchNorm1d, BatchNorm2d, _BatchNorm  # noqa: F401
