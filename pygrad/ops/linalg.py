"""Matrix products: ``matmul`` (``@``) in all its forms, ``mm``, ``bmm``, ``dot``, ``mv``, ``outer``.

Everything reduces to one batched product of (..., n, k) by (..., k, m) operands with broadcast
batch dims.  1-D operands are viewed as a row (left) or column (right) and the extra dim is removed
from the result, which is exactly PyTorch's definition of ``matmul``.  The gradient of ``C = A @ B``
is ``dA = dC @ Bᵀ`` and ``dB = Aᵀ @ dC`` (the engine sums broadcast batch dims back).
"""

from .. import _core
from ..autograd.function import Function
from .dispatch import backend_of, check_same_device


def _check_dtypes(a, b, name):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype.name} != {b.dtype.name}"
                           if name in ("mm", "matmul") else
                           f"expected scalar type {a.dtype.name} but found {b.dtype.name} in {name}")
    if a.dtype.name == "bool":
        raise NotImplementedError(f'"{name}" not implemented for \'Bool\'')


class Mm(Function):
    """The core product of operands with >= 2 dims (batch dims broadcast)."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend_of(a).matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g @ b.mT if ctx.needs_input_grad[0] else None
        gb = a.mT @ g if ctx.needs_input_grad[1] else None
        return ga, gb


class Bmm(Mm):
    _builtin = True


def _core_shape(a, b):
    """Result shape of the batched product, or RuntimeError naming both shapes."""
    if a._shape[-1] != b._shape[-2]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a._shape[-2]}x{a._shape[-1]} and "
            f"{b._shape[-2]}x{b._shape[-1]})")
    try:
        batch = _core.broadcast_shapes(a._shape[:-2], b._shape[:-2])
    except RuntimeError as e:
        raise RuntimeError(f"matmul: batch dimensions of {list(a._shape)} and {list(b._shape)} do not "
                           f"broadcast: {e}") from None
    return batch + (a._shape[-2], b._shape[-1])


def matmul(input, other):
    a, b = input, other
    if not hasattr(b, "_storage") or not hasattr(a, "_storage"):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(b).__name__}")
    check_same_device(a, b)
    _check_dtypes(a, b, "matmul")
    if a.dim() == 0 or b.dim() == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.dim()}D and {b.dim()}D")
    if a.dim() == 1 and b.dim() == 1:
        return dot(a, b)
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(-1) if b.dim() == 1 else b
    if a2._shape[-1] != b2._shape[-2]:
        if a.dim() == 1 or b.dim() == 1:
            raise RuntimeError(f"size mismatch, got input ({list(a._shape)}), other ({list(b._shape)}): "
                               f"{a._shape[-1]} != {b2._shape[-2]}")
        _core_shape(a2, b2)
    _core_shape(a2, b2)
    r = (Mm if a2.dim() == 2 and b2.dim() == 2 else Bmm).apply(a2, b2)
    if a.dim() == 1:
        r = r.squeeze(-2)
    if b.dim() == 1:
        r = r.squeeze(-1)
    return r


def mm(input, mat2):
    a, b = input, mat2
    if a.dim() != 2 or b.dim() != 2:
        raise RuntimeError(f"{'self' if a.dim() != 2 else 'mat2'} must be a matrix")
    _check_dtypes(a, b, "mm")
    _core_shape(a, b)
    return Mm.apply(a, b)


def bmm(input, mat2):
    a, b = input, mat2
    if a.dim() != 3 or b.dim() != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if a.dim() != 3 else "batch2 must be a 3D tensor")
    _check_dtypes(a, b, "bmm")
    if a._shape[0] != b._shape[0] or a._shape[2] != b._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a._shape[0]}, {a._shape[2]}] but got: [{b._shape[0]}, {b._shape[1]}].")
    return Bmm.apply(a, b)


def dot(input, tensor):
    a, b = input, tensor
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.dim()}D and {b.dim()}D tensors")
    _check_dtypes(a, b, "dot")
    if a._shape[0] != b._shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a._shape[0]}] and src [{b._shape[0]}] "
                           f"to have the same number of elements, but got {a._shape[0]} and {b._shape[0]} "
                           "elements respectively")
    return Mm.apply(a.unsqueeze(0), b.unsqueeze(-1)).reshape(())


def mv(input, vec):
    a, v = input, vec
    if a.dim() != 2 or v.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a.dim()}, {v.dim()}")
    return matmul(a, v)


def outer(input, vec2):
    a, b = input, vec2
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"outer: expected 1D tensors, got {a.dim()}D and {b.dim()}D")
    return a.unsqueeze(1) * b.unsqueeze(0)
