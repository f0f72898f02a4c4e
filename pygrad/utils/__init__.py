"""Utilities, as in ``torch.utils``: ``pygrad.utils.data`` holds datasets, samplers and the DataLoader."""
from . import data, dlpack, safetensors

__all__ = ["data", "dlpack", "safetensors"]
