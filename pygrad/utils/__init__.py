"""Utilities, as in ``torch.utils``: ``pygrad.utils.data`` holds datasets, samplers and the DataLoader."""
from . import data, dlpack

__all__ = ["data", "dlpack"]
