"""Matrix products: ``matmul`` (``@``) in all its forms, ``mm``, ``bmm``, ``dot``, ``mv``, ``outer``.

Everything reduces to one batched product of (..., n, k) by (..., k, m) operands with broadcast
batch dims.  1-D operands are viewed as a row (left) or column (right) and the extra dim is removed
from the result, which is exactly PyTorch's definition of ``matmul``.  The gradient of ``C = A @ B``
is ``dA = dC @ Bᵀ`` and ``dB = Aᵀ @ dC`` (the engine sums broadcast batch dims back).
"""

import numpy as np

from .. import _core
from ..amp.autocast_mode import cast_inputs
from ..autograd.function import Function
from .dispatch import backend_of, check_same_device
from .movement import _view_op

# matmul's view of a folded product back to its batch shape (PyTorch's node: UnsafeViewBackward0)
_UnsafeView = _view_op("UnsafeView", lambda g, s, info: g.reshape(s))


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
        if a.dim() == 2 and b.dim() == 2:
            return (_grad_mat1(g, b, _column_major(a)) if ctx.needs_input_grad[0] else None,
                    _grad_mat2(g, a, _column_major(b)) if ctx.needs_input_grad[1] else None)
        ga = g @ b.mT if ctx.needs_input_grad[0] else None
        gb = a.mT @ g if ctx.needs_input_grad[1] else None
        return ga, gb


def _column_major(m):
    """A 2-D tensor stored transposed (``w.t()`` of a contiguous ``w``, as ``nn.Linear`` passes its weight)."""
    return m._strides[0] == 1 and m._strides[1] == m._shape[0] and m._shape[0] > 1 and m._shape[1] > 1


def _grad_mat1(g, b, a_column_major):
    """``g @ b.t()``, the gradient of ``a`` in ``a @ b``, laid out like ``a`` (PyTorch's mm_mat1_backward): for
    a column-major ``a`` it is computed as ``(b @ g.t()).t()``, so the leaf under a ``.t()`` gets a contiguous
    gradient it can keep without a copy."""
    return b.mm(g.t()).t() if a_column_major else g.mm(b.t())


def _grad_mat2(g, a, b_column_major):
    """``a.t() @ g``, the gradient of ``b`` in ``a @ b``, laid out like ``b`` (PyTorch's mm_mat2_backward)."""
    return g.t().mm(a).t() if b_column_major else a.t().mm(g)


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


def _matmul(input, other):
    a, b = input, other
    if not hasattr(b, "_storage") or not hasattr(a, "_storage"):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(b).__name__}")
    check_same_device(a, b)
    _check_dtypes(a, b, "matmul")
    if a.dim() == 0 or b.dim() == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.dim()}D and {b.dim()}D")
    if a.dim() == 1 and b.dim() == 1:
        return _dot(a, b)
    if a.dim() == 2 and b.dim() == 1 and a._shape[1] == b._shape[0]:
        return Mv.apply(a, b)
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(-1) if b.dim() == 1 else b
    if a2._shape[-1] != b2._shape[-2]:
        if a.dim() == 1 or b.dim() == 1:
            raise RuntimeError(f"size mismatch, got input ({list(a._shape)}), other ({list(b._shape)}): "
                               f"{a._shape[-1]} != {b2._shape[-2]}")
        _core_shape(a2, b2)
    shape = _core_shape(a2, b2)
    if a2.dim() > 2 and b2.dim() == 2:
        # PyTorch's fold: (..., n, k) @ (k, m) is one (rows, k) @ (k, m) product (a copy first when the rows are
        # not one strided block), viewed back; its backward is then two plain products, not a batched one
        # plus a sum over the broadcast weight
        rows = _core.numel(a2._shape[:-1])
        r = Mm.apply(a2.reshape(rows, a2._shape[-1]), b2)
        r = _UnsafeView.apply(r, (shape, _core.contiguous_strides(shape), r._offset), None)
    else:
        r = (Mm if a2.dim() == 2 and b2.dim() == 2 else Bmm).apply(a2, b2)
    if a.dim() == 1:
        r = r.squeeze(-2)
    if b.dim() == 1:
        r = r.squeeze(-1)
    return r


def _mm(input, mat2):
    a, b = input, mat2
    if a.dim() != 2 or b.dim() != 2:
        raise RuntimeError(f"{'self' if a.dim() != 2 else 'mat2'} must be a matrix")
    _check_dtypes(a, b, "mm")
    _core_shape(a, b)
    return Mm.apply(a, b)


def _bmm(input, mat2):
    a, b = input, mat2
    if a.dim() != 3 or b.dim() != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if a.dim() != 3 else "batch2 must be a 3D tensor")
    _check_dtypes(a, b, "bmm")
    if a._shape[0] != b._shape[0] or a._shape[2] != b._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a._shape[0]}, {a._shape[2]}] but got: [{b._shape[0]}, {b._shape[1]}].")
    return Bmm.apply(a, b)


def _dot(input, tensor):
    a, b = input, tensor
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.dim()}D and {b.dim()}D tensors")
    _check_dtypes(a, b, "dot")
    if a._shape[0] != b._shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a._shape[0]}] and src [{b._shape[0]}] "
                           f"to have the same number of elements, but got {a._shape[0]} and {b._shape[0]} "
                           "elements respectively")
    return Dot.apply(a, b)


def _mv(input, vec):
    a, v = input, vec
    if a.dim() != 2 or v.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a.dim()}, {v.dim()}")
    check_same_device(a, v)
    _check_dtypes(a, v, "mv")
    if a._shape[1] != v._shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a._shape[0]}), mat ({a._shape[0]}x{a._shape[1]}), "
                           f"vec ({v._shape[0]})")
    return Mv.apply(a, v)


def _outer(input, vec2):
    a, b = input, vec2
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"outer: expected 1D tensors, got {a.dim()}D and {b.dim()}D")
    return a.unsqueeze(1) * b.unsqueeze(0)


class Dot(Function):
    """Inner product of two 1-D tensors (``DotBackward0``): one product, backward ``g * other``."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend_of(a).matmul(a.unsqueeze(0), b.unsqueeze(-1)).reshape(())

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None), (g * a if ctx.needs_input_grad[1] else None)


class Mv(Function):
    """Matrix times vector (``MvBackward0``)."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, v):
        ctx.save_for_backward(a, v)
        return backend_of(a).matmul(a, v.unsqueeze(-1)).reshape(a._shape[:1])

    @staticmethod
    def backward(ctx, g):
        a, v = ctx.saved_tensors
        ga = g.unsqueeze(1) * v.unsqueeze(0) if ctx.needs_input_grad[0] else None
        gv = a.t().mv(g) if ctx.needs_input_grad[1] else None
        return ga, gv


class Addmm(Function):
    """``beta * input + alpha * (mat1 @ mat2)`` in one op (``AddmmBackward0``): what ``nn.Linear`` records."""

    _builtin = True

    @staticmethod
    def forward(ctx, bias, a, b, beta, alpha):
        ctx.save_for_backward(a if ctx.needs_input_grad[2] else None, b if ctx.needs_input_grad[1] else None)
        ctx.beta, ctx.alpha = beta, alpha
        ctx.layout = _column_major(a), _column_major(b)
        y = backend_of(a).matmul(a, b)
        if alpha != 1:
            y = y.mul_(alpha)
        if beta == 0:  # PyTorch: input is ignored (nan/inf in it do not propagate)
            return y
        bias = bias if beta == 1 else bias * beta
        if bias.dtype is y.dtype and len(bias._shape) <= 2 and \
                all(s in (1, n) for s, n in zip(bias._shape[::-1], y._shape[::-1])):
            be = backend_of(a)
            if be.name == "cpu":  # y is the product's fresh array: add the bias in place (one pass, no new tensor)
                yv = be.to_numpy(y)
                be.ufunc_quiet(np.add, (yv, be.to_numpy(bias)), yv)
                return y
            return y + bias  # one kernel; add_ would add into a temporary and copy it back (two)
        return y.add_(bias)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gbias = (g if ctx.beta == 1 else g * ctx.beta) if ctx.needs_input_grad[0] else None
        if ctx.alpha != 1:
            g = g * ctx.alpha
        ga = _grad_mat1(g, b, ctx.layout[0]) if ctx.needs_input_grad[1] else None
        gb = _grad_mat2(g, a, ctx.layout[1]) if ctx.needs_input_grad[2] else None
        return gbias, ga, gb, None, None


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``; input broadcasts to the (n, m) result."""
    if not all(hasattr(t, "_storage") for t in (input, mat1, mat2)):
        raise TypeError("addmm(): arguments 'input', 'mat1' and 'mat2' must be Tensors")
    if mat1.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError(f"{'mat1' if mat1.dim() != 2 else 'mat2'} must be a matrix, got "
                           f"{mat1.dim() if mat1.dim() != 2 else mat2.dim()}-D tensor")
    check_same_device(input, mat1, mat2)
    input, mat1, mat2 = cast_inputs(input, mat1, mat2)
    _check_dtypes(mat1, mat2, "mm")
    _check_dtypes(input, mat1, "addmm")
    shape = _core_shape(mat1, mat2)
    try:
        _core.broadcast_shapes(input._shape, shape)
    except RuntimeError:
        raise RuntimeError(f"The expanded size of the tensor ({shape[-1]}) must match the existing size "
                           f"({input._shape[-1]}) at non-singleton dimension 1.  Target sizes: {list(shape)}.  "
                           f"Tensor sizes: {list(input._shape)}") from None
    r = Addmm.apply(input, mat1, mat2, beta, alpha)
    if tuple(r._shape) != shape:  # a 0-d or 1-d input with beta == 0 keeps the product's shape
        r = r.expand(shape)
    return _into(out, r)


def _into(out, r):
    """Write ``r`` into ``out=`` (resized as PyTorch does when its shape differs) and return ``out``."""
    if out is None:
        return r
    from .movement import _into as into

    return into(out, r)


def matmul(input, other, *, out=None):
    """``torch.matmul``; ``out=`` receives the result (resized when its shape differs, as in PyTorch)."""
    input, other = cast_inputs(input, other)  # float16 inside an autocast region (pygrad.amp)
    return _into(out, _matmul(input, other))


def mm(input, mat2, *, out=None):
    """``torch.mm``; ``out=`` receives the result (resized when its shape differs, as in PyTorch)."""
    input, mat2 = cast_inputs(input, mat2)  # float16 inside an autocast region (pygrad.amp)
    return _into(out, _mm(input, mat2))


def bmm(input, mat2, *, out=None):
    """``torch.bmm``; ``out=`` receives the result (resized when its shape differs, as in PyTorch)."""
    input, mat2 = cast_inputs(input, mat2)  # float16 inside an autocast region (pygrad.amp)
    return _into(out, _bmm(input, mat2))


def dot(input, tensor, *, out=None):
    """``torch.dot``; ``out=`` receives the result (resized when its shape differs, as in PyTorch)."""
    return _into(out, _dot(input, tensor))


def mv(input, vec, *, out=None):
    """``torch.mv``; ``out=`` receives the result (resized when its shape differs, as in PyTorch)."""
    return _into(out, _mv(input, vec))


def outer(input, vec2, *, out=None):
    """``torch.outer``; ``out=`` receives the result (resized when its shape differs, as in PyTorch)."""
    return _into(out, _outer(input, vec2))
