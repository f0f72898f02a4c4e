"""``default_collate``: turn a list of samples into one batch, the way PyTorch does.

The batch mirrors the structure of one sample: tensors are stacked along a new first dimension,
Python numbers and NumPy arrays become tensors, and tuples, lists and dicts are collated
field by field (``[(x0, y0), (x1, y1)]`` -> ``[stack([x0, x1]), tensor([y0, y1])]``).
"""
import collections.abc
import copy

import numpy as np

from ... import dtypes as D
from ...creation import as_tensor, tensor
from ...ops.movement import stack
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                                  "lists; found {}")


def _is_numpy(elem):
    return type(elem).__module__ == "numpy" and not isinstance(elem, (np.str_, np.bytes_))


def _is_text_array(arr):
    return arr.dtype.kind in "SaUO"  # strings and Python objects cannot become tensors


def default_collate(batch):
    """Collate a list of samples (tensors, numbers, NumPy arrays, strings, or tuples/lists/dicts of them)."""
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if _is_numpy(elem):
        if isinstance(elem, np.ndarray):
            if _is_text_array(elem):
                raise TypeError(default_collate_err_msg_format.format(elem.dtype))
            return default_collate([as_tensor(b) for b in batch])
        return as_tensor(np.array(batch))  # NumPy scalars keep their dtype (np.int32 -> int32)
    if isinstance(elem, float):
        return tensor(batch, dtype=D.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)  # keeps the mapping's type (OrderedDict, a custom dict, ...)
            clone.update(collated)
            return clone
        try:
            return elem_type(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed  # as in PyTorch, a tuple of fields becomes a list of batches
        try:
            return elem_type(transposed)
        except TypeError:
            return transposed
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_convert(data):
    """What a DataLoader does to each sample when batching is off: NumPy arrays become tensors."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray) and _is_text_array(data):
            return data
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        try:
            return elem_type(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
