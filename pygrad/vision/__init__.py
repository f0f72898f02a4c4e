"""Images for pygrad: transforms and small datasets, in the style of ``torchvision`` (but not pretending to be it).

``pygrad.vision.transforms`` turns PIL images into tensors and augments them; ``pygrad.vision.datasets``
holds ``MNIST`` (read from local IDX files) and ``Digits`` (scikit-learn's 8 x 8 digits, offline).
Pillow and scikit-learn are imported only when needed (``pip install 'pygrad[demo]'`` installs both).
"""
from . import datasets, transforms
from .datasets import MNIST, Digits

__all__ = ["transforms", "datasets", "MNIST", "Digits"]
