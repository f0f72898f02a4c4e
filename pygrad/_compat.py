"""Small top-level names PyTorch programs use: ``compile``, memory formats, ``is_complex``.

``compile`` is a documented no-op (pygrad has no graph compiler): it returns the model or function
unchanged, so ``model = torch.compile(model)`` keeps working.  Memory formats are accepted where PyTorch
takes ``memory_format=``; pygrad tensors are always row-major (``contiguous_format``).
"""


class memory_format:
    """A memory layout name (``pygrad.contiguous_format``, ``channels_last``, ...)."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return self._name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """PyTorch's ``torch.compile``: here it returns ``model`` itself (no compiler; same results, same speed).

    Used as ``@pygrad.compile`` or ``@pygrad.compile(mode=...)`` it returns the function unchanged.
    """
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError("torch.compile() expects a callable (a Module or a function)")
    return model


def is_complex(input):
    """False: pygrad has no complex dtypes."""
    if not hasattr(input, "_storage"):
        raise TypeError(f"is_complex(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return False


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous" if input.numel()
                           else "Boolean value of Tensor with no values is ambiguous")
    return bool(input.item() != 0)
