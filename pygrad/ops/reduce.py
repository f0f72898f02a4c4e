"""Reductions (``sum``, ``mean``, ``max``, ``var``, ...), scans (``cumsum``) and sorting.

A reduction collapses the dims listed in ``dim`` (all dims when None).  Its backward *expands* the
gradient back over those dims: ``sum`` copies it to every element, ``mean`` divides by the count,
``max``/``min`` send it to the elements that won (shared evenly among ties, as PyTorch does).
"""
import builtins
import collections
import warnings

import numpy as np

from .. import dtypes as D
from ..autograd import grad_mode
from ..autograd.function import Function
from .dispatch import backend_of
from .movement import wrap_dim


def _dims(x, dim):
    """Normalise ``dim`` (None, int, or tuple/list) to a sorted tuple of non-negative dims."""
    nd = x.dim()
    if dim is None:
        return tuple(range(nd))
    if isinstance(dim, (tuple, list)):
        wrapped = [wrap_dim(d, nd) for d in dim]
        if len(set(wrapped)) != len(wrapped):
            d = next(d for d in wrapped if wrapped.count(d) > 1)
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        # an empty list of dims reduces over all of them, as in PyTorch
        return tuple(sorted(wrapped)) if wrapped else tuple(range(nd))
    d = wrap_dim(dim, nd)
    return (d,) if nd else ()  # a 0-d tensor accepts dim 0 / -1 and has nothing to reduce


def _expand_back(g, x_shape, dims, keepdim):
    """Undo a reduction's shape change on a gradient: re-insert reduced dims, then broadcast."""
    if not keepdim and len(dims) == len(x_shape):
        return g.expand(x_shape)  # a full reduction: the 0-d gradient expands as it is (one view, not two)
    if not keepdim:
        shape = list(x_shape)
        for d in dims:
            shape[d] = 1
        g = g.reshape(tuple(shape))
    return g.expand(x_shape)


def _return_type(name):
    base = collections.namedtuple(name, ["values", "indices"])

    def __repr__(self):
        return f"{D.REPR_NAMESPACE}.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__repr__": __repr__, "__slots__": ()})


return_types = type("return_types", (), {n: _return_type(n) for n in
                                          ("max", "min", "sort", "topk", "median", "mode", "kthvalue")})


class _Reduce(Function):
    """sum / prod / amax / amin / all / any over ``dims``: one NumPy call on the CPU backend."""

    np_fn = None
    saves = False  # whether backward needs the input and output

    @classmethod
    def forward(cls, ctx, x, dims, keepdim, dtype):
        ctx.dims, ctx.keepdim, ctx.shape = dims, keepdim, x._shape
        # float16 sums and products accumulate in float32 (as PyTorch), then round once
        compute = D.float32 if dtype is D.float16 and cls.np_fn in (np.sum, np.prod) else dtype
        y = backend_of(x).reduce(cls.np_fn, x, dims, keepdim, dtype, compute)
        if cls.saves:
            ctx.save_for_backward(x, y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        return cls.grad(ctx, g), None, None, None


class Sum(_Reduce):
    _builtin = True
    np_fn = staticmethod(np.sum)

    @staticmethod
    def grad(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)


class Prod(_Reduce):
    _builtin = True
    saves = True
    np_fn = staticmethod(np.prod)

    @staticmethod
    def grad(ctx, g):
        # d(prod)/dx_i is the product of the other elements: y / x_i when no element is 0; with one 0,
        # the product of the nonzero ones at that 0 and 0 elsewhere; with two or more 0s, 0 everywhere.
        x, _ = ctx.saved_tensors
        zero = x == 0
        x_nz = x.masked_fill(zero, 1)
        nonzero_prod = _expand_back(x_nz.prod(ctx.dims, keepdim=True), ctx.shape, ctx.dims, True)
        n_zeros = _expand_back(zero.sum(ctx.dims, keepdim=True), ctx.shape, ctx.dims, True)
        the_only_zero = zero & (n_zeros == 1)
        d = (nonzero_prod / x_nz).where(n_zeros == 0, nonzero_prod * the_only_zero)
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * d


class Amax(_Reduce):
    _builtin = True
    saves = True
    np_fn = staticmethod(np.max)

    @staticmethod
    def grad(ctx, g):
        x, y = ctx.saved_tensors
        hit = x == _expand_back(y, ctx.shape, ctx.dims, ctx.keepdim)
        count = hit.sum(dim=ctx.dims, keepdim=True)
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * hit / count


class Amin(Amax):
    _builtin = True
    np_fn = staticmethod(np.min)


class MaxAll(Amax):
    node_name = "MaxBackward1"  # x.max() without dim: the gradient is shared evenly among ties


class MinAll(Amin):
    node_name = "MinBackward1"


class All(_Reduce):
    _builtin = True
    np_fn = staticmethod(np.all)


class Any(_Reduce):
    _builtin = True
    np_fn = staticmethod(np.any)


class SumDim(Sum):
    """``sum`` over given dims: the same op, recorded as PyTorch's ``SumBackward1`` (``sum.dim_IntList``)."""
    node_name = "SumBackward1"


def sum(x, dim=None, keepdim=False, *, dtype=None):
    if dtype is None:
        dtype = x.dtype if x.dtype.is_floating_point else D.int64
    return (Sum if dim is None else SumDim).apply(x, _dims(x, dim), keepdim, D.as_dtype(dtype))


class ProdDim(Prod):
    """``prod`` along a dim: the same op, recorded as PyTorch's ``ProdBackward1`` (``prod.dim_int``)."""
    node_name = "ProdBackward1"


def prod(x, dim=None, keepdim=False, *, dtype=None):
    if dtype is None:
        dtype = x.dtype if x.dtype.is_floating_point else D.int64
    return (Prod if dim is None else ProdDim).apply(x, _dims(x, dim), keepdim, D.as_dtype(dtype))


class Mean(Function):
    """``sum / count``; backward spreads ``g / count`` over the reduced elements."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        count = 1
        for d in dims:
            count *= x._shape[d]
        ctx.dims, ctx.keepdim, ctx.shape, ctx.count = dims, keepdim, x._shape, count
        if dtype is D.float16:  # accumulate in float32: the mean of 65504s is 65504, not inf (as PyTorch)
            s = Sum.apply(x, dims, keepdim, D.float32)
            return (s / count if count else s * float("nan")).to(dtype)
        s = Sum.apply(x, dims, keepdim, dtype)
        return s / count if count else s * float("nan")

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) / ctx.count, None, None, None


def mean(x, dim=None, keepdim=False, *, dtype=None):
    dtype = D.as_dtype(dtype) if dtype is not None else x.dtype
    if not dtype.is_floating_point:
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {_torch_type_word(x.dtype)}")
    return (Mean if dim is None else MeanDim).apply(x, _dims(x, dim), keepdim, dtype)


class MeanDim(Mean):
    """``mean`` over given dims, recorded as PyTorch's ``MeanBackward1``."""
    node_name = "MeanBackward1"


def _torch_type_word(d):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float16": "Half", "float32": "Float", "float64": "Double"}[d.name]


def _check_nonempty(x, name, dims, dim_given=True):
    """max-like reductions have no value for no elements: RuntimeError (all dims) or IndexError (that dim)."""
    if x.numel() == 0 and (not dim_given or x.dim() == 0):
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if x._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def amax(x, dim=(), keepdim=False):
    dims = _dims(x, None if dim == () else dim)
    _check_nonempty(x, "amax", dims, dim_given=dim not in ((), None))
    return Amax.apply(x, dims, keepdim, x.dtype)


def amin(x, dim=(), keepdim=False):
    dims = _dims(x, None if dim == () else dim)
    _check_nonempty(x, "amin", dims, dim_given=dim not in ((), None))
    return Amin.apply(x, dims, keepdim, x.dtype)


def all(x, dim=None, keepdim=False):
    return All.apply(x, _dims(x, dim), keepdim, D.uint8 if x.dtype is D.uint8 else D.bool_)


def any(x, dim=None, keepdim=False):
    # PyTorch keeps uint8 for uint8 inputs (a legacy of uint8 masks); every other dtype gives bool
    return Any.apply(x, _dims(x, dim), keepdim, D.uint8 if x.dtype is D.uint8 else D.bool_)


def count_nonzero(x, dim=None):
    return sum(x != 0, dim)


class _ArgReduce(Function):
    """max/min along one dim: values (differentiable) and indices (not), like ``torch.max(x, dim)``."""

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        values, idx = backend_of(x).max_min_dim(x, dim, cls.np_arg is np.argmax)
        if not keepdim:
            idx, values = idx.squeeze(dim), values.squeeze(dim)
        ctx.mark_non_differentiable(idx)
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x._shape
        ctx.save_for_backward(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g, g_idx):
        (idx,) = ctx.saved_tensors
        if not ctx.keepdim:
            g, idx = g.unsqueeze(ctx.dim), idx.unsqueeze(ctx.dim)
        return g.new_zeros(ctx.shape).scatter(ctx.dim, idx, g), None, None


class MaxDim(_ArgReduce):
    node_name = "MaxBackward0"
    np_arg = staticmethod(np.argmax)


class MinDim(_ArgReduce):
    node_name = "MinBackward0"
    np_arg = staticmethod(np.argmin)


def _max_min(x, dim, keepdim, other, kind):
    if dim is None and other is None:
        if x.numel() == 0:
            raise RuntimeError(f"{kind}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        return (MaxAll if kind == "max" else MinAll).apply(x, _dims(x, None), False, x.dtype)
    if hasattr(dim, "_storage") or hasattr(other, "_storage"):
        return x.maximum(dim if other is None else other) if kind == "max" else x.minimum(
            dim if other is None else other)
    d = wrap_dim(dim, x.dim())
    if x.dim() and x._shape[d] == 0:
        raise IndexError(f"{kind}(): Expected reduction dim {d} to have non-zero size.")
    if x.dim() == 0:
        return getattr(return_types, kind)(x.clone(), x.new_zeros((), dtype=D.int64))
    cls = MaxDim if kind == "max" else MinDim
    return getattr(return_types, kind)(*cls.apply(x, d, keepdim))


def max(x, dim=None, keepdim=False, *, other=None):
    return _max_min(x, dim, keepdim, other, "max")


def min(x, dim=None, keepdim=False, *, other=None):
    return _max_min(x, dim, keepdim, other, "min")


def _arg(x, dim, keepdim, np_fn, name):
    if x.dtype is D.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if x.numel() == 0 and dim is None:
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
    if dim is None:
        r = backend_of(x).call(np_fn, x.reshape(-1), out_dtype=D.int64)
        return r.reshape((1,) * x.dim()) if keepdim else r
    d = wrap_dim(dim, x.dim())
    if x.dim() == 0:
        return x.new_zeros((), dtype=D.int64)
    _check_nonempty(x, name, (d,))
    return backend_of(x).call(np_fn, x, axis=d, keepdims=keepdim, out_dtype=D.int64)


def argmax(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, np.argmax, "argmax")


def argmin(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, np.argmin, "argmin")


def _var_args(x, dim, unbiased, correction, name="var"):
    """The reduced dims and the divisor ``n - correction`` of ``var``/``std``, warning as PyTorch where it is
    <= 0 (the result is then nan or inf)."""
    if isinstance(dim, bool) and unbiased is None:  # var(x, False) means unbiased=False
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    if not x.dtype.is_floating_point:
        what = "std and var" if name in ("var", "std") else name
        raise RuntimeError(f"{what} only support floating point and complex dtypes")
    dims = _dims(x, dim)
    n = 1
    for d in dims:
        n *= x._shape[d]
    n_out = x.numel() // n if n else builtins.max(1, x.numel())
    if x.numel() // builtins.max(n_out, 1) - correction <= 0:  # PyTorch's "reduction factor"
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    return dims, builtins.max(n - correction, 0)  # a divisor of 0 gives 0/0 = nan, as in PyTorch


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return Var.apply(x, *_var_args(x, dim, unbiased, correction, "var"), keepdim)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return Std.apply(x, *_var_args(x, dim, unbiased, correction, "std"), keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` from one pass of the fused kernel on OpenCL (``torch.var_mean``)."""
    return VarMean.apply(input, *_var_args(input, dim, unbiased, correction, "var_mean"), keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim`` (``torch.std_mean``)."""
    return StdMean.apply(input, *_var_args(input, dim, unbiased, correction, "std_mean"), keepdim)


def _var_and_mean(x, dims, n_eff, keepdim, root=False, want_mean=True):
    """``(var or, with root, std, mean)`` of x over dims: the OpenCL backend's fused kernel (var_reduce: two
    passes per chunk, chunks merged by Chan's formula) where it takes the shape, else the composition."""
    fused = getattr(backend_of(x), "var_reduce", None)
    if fused is not None and x.numel():
        r = fused(x, dims, n_eff, keepdim, root, want_mean=want_mean)
        if r is not None:
            return r if want_mean else (r, None)
    v = _variance(x, dims, n_eff, keepdim, root)
    return v, (mean(x, dims, keepdim=keepdim) if want_mean else None)


def _variance(x, dims, n_eff, keepdim, root=False):
    """``var`` (or, with root, ``std``) of x over dims, composed of reductions (the CPU backend, and OpenCL
    devices without float64 for long rows).

    float16 computes in float32 (as PyTorch).  float32 squares of large deviations overflow (the std of
    +-1e30 is 1.41e30, but 1e60 is past float32): PyTorch's CPU kernels accumulate float32 in double;
    here the deviations are scaled by their largest magnitude first, which needs no float64 device
    support, so var = s^2 * q and std = s * sqrt(q) with q = sum((c / s)^2) / n_eff.  Where float64 is
    as fast as float32 (the CPU backend, OpenCL CPU devices) float32 is computed in float64 instead."""
    if x.dtype is D.float16:
        return _variance(x.to(D.float32), dims, n_eff, keepdim, root).to(D.float16)
    if x.dtype is D.float32 and getattr(backend_of(x), "fast_fp64", True):
        # CPUs: float64 costs no more than the scaling passes; PyTorch's CPU kernels do the same
        return _variance(x.to(D.float64), dims, n_eff, keepdim, root).to(D.float32)
    centered = x - mean(x, dims, keepdim=True)
    if x.dtype is D.float64 or x.numel() == 0:
        v = sum(centered * centered, dims, keepdim) / n_eff
        return v.sqrt() if root else v
    s = centered.abs().amax(dims, keepdim=True)
    s = s.masked_fill((s == 0) | s.isinf(), 1)  # all equal (or inf/nan deviations): no scaling
    u = centered / s
    q = sum(u * u, dims, keepdim) / n_eff
    s = s if keepdim or not dims else s.squeeze(dims)
    return s * q.sqrt() if root else s * s * q


def _centered(x, m, dims, keepdim):
    """x minus its mean ``m`` (as the forward returned it: keepdim or not), broadcast back.  Under
    create_graph the mean is computed again, as an op: a double backward needs its dependence on x."""
    if m is None or (grad_mode.is_grad_enabled() and x.requires_grad):
        return x - mean(x, dims, keepdim=True)
    return x - (m if keepdim or not dims else _expand_back(m, x._shape, dims, False))


class Var(Function):
    """``sum((x - mean)**2) / n_eff`` over ``dims``; backward: ``g * 2 (x - mean) / n_eff``, with the mean
    the forward kernel returned (no second reduction)."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dims, n_eff, keepdim):
        ctx.dims, ctx.n_eff, ctx.keepdim, ctx.shape = dims, n_eff, keepdim, x._shape
        v, m = _var_and_mean(x, dims, n_eff, keepdim, want_mean=ctx.needs_input_grad[0])
        ctx.save_for_backward(x, m)
        return v

    @staticmethod
    def backward(ctx, g):
        x, m = ctx.saved_tensors
        return _expand_back(g * (2 / ctx.n_eff), ctx.shape, ctx.dims, ctx.keepdim) * \
            _centered(x, m, ctx.dims, ctx.keepdim), None, None, None


class Std(Function):
    """``sqrt(var)``; backward: ``g (x - mean) / (n_eff std)``, and 0 where std is 0 (as in PyTorch)."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dims, n_eff, keepdim):
        ctx.dims, ctx.n_eff, ctx.keepdim, ctx.shape = dims, n_eff, keepdim, x._shape
        y, m = _var_and_mean(x, dims, n_eff, keepdim, root=True, want_mean=ctx.needs_input_grad[0])
        ctx.save_for_backward(x, y, m)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y, m = ctx.saved_tensors
        g_over_y = (g / (y * ctx.n_eff)).masked_fill(y == 0, 0)
        return _expand_back(g_over_y, ctx.shape, ctx.dims, ctx.keepdim) * _centered(x, m, ctx.dims, ctx.keepdim), \
            None, None, None


class VarMean(Function):
    """``(var, mean)`` as PyTorch's ``VarMeanBackward0``: gradient ``gv 2 (x - mean) / n_eff + gm / n``."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dims, n_eff, keepdim):
        ctx.dims, ctx.n_eff, ctx.keepdim, ctx.shape = dims, n_eff, keepdim, x._shape
        v, m = _var_and_mean(x, dims, n_eff, keepdim)
        ctx.save_for_backward(x, m)
        return v, m

    @staticmethod
    def backward(ctx, gv, gm):
        x, m = ctx.saved_tensors
        return _var_mean_grad(ctx, x, m, None if gv is None else gv * (2 / ctx.n_eff), gm), None, None, None


class StdMean(Function):
    """``(std, mean)`` as PyTorch's ``StdMeanBackward0``: ``gs (x - mean) / (n_eff std) + gm / n``."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dims, n_eff, keepdim):
        ctx.dims, ctx.n_eff, ctx.keepdim, ctx.shape = dims, n_eff, keepdim, x._shape
        y, m = _var_and_mean(x, dims, n_eff, keepdim, root=True)
        ctx.save_for_backward(x, y, m)
        return y, m

    @staticmethod
    def backward(ctx, gs, gm):
        x, y, m = ctx.saved_tensors
        gd = None if gs is None else (gs / (y * ctx.n_eff)).masked_fill(y == 0, 0)
        return _var_mean_grad(ctx, x, m, gd, gm), None, None, None


def _var_mean_grad(ctx, x, m, gd, gm):
    """``gd (x - mean) + gm / n`` broadcast back over the reduced dims (either gradient may be None)."""
    n = 1
    for d in ctx.dims:
        n *= ctx.shape[d]
    out = None
    if gd is not None:
        out = _expand_back(gd, ctx.shape, ctx.dims, ctx.keepdim) * _centered(x, m, ctx.dims, ctx.keepdim)
    if gm is not None:
        gmx = _expand_back(gm / n, ctx.shape, ctx.dims, ctx.keepdim)
        out = gmx.contiguous() if out is None else out + gmx
    return out


def logsumexp(x, dim, keepdim=False):
    dims = _dims(x, dim)
    xf = x if x.dtype.is_floating_point else x.to(D.get_default_dtype())
    return Logsumexp.apply(xf, dims, keepdim)


class Logsumexp(Function):
    """``m + log(sum(exp(x - m)))`` over ``dims`` (m the max, 0 where it is +-inf): one fused kernel where
    the backend has ``row_reduce`` (OpenCL), else composed; backward ``g * exp(x - y)``."""

    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim, ctx.shape = dims, keepdim, x._shape
        b = backend_of(x)
        if hasattr(b, "row_reduce") and x.numel():
            y = b.row_reduce(x, "logsumexp", dims, keepdim)
        elif x.numel() == 0:  # log of an empty sum: -inf
            y = x.exp().sum(dims, keepdim).log()
        else:
            m = amax(x, dims, keepdim=True)
            m = m.masked_fill(m.isinf(), 0)
            y = (x - m).exp().sum(dims, keepdim=True).log() + m
            y = y if keepdim else y.squeeze(dims) if dims else y
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        e = (x - _expand_back(y, ctx.shape, ctx.dims, ctx.keepdim)).exp()
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * e, None, None


# softmax and log_softmax are fused row ops: see rows.py
from .rows import LogSoftmax, Softmax, log_softmax, softmax  # noqa: E402,F401


class Cumsum(Function):
    """Running sum along ``dim``; backward is the reversed running sum of the gradient."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        acc = np.float32 if dtype is D.float16 else dtype.np  # float16 accumulates in float32
        return backend_of(x).call(np.cumsum, x, axis=dim, out_dtype=dtype, dtype=acc)

    @staticmethod
    def backward(ctx, g):
        return g.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None, None


def cumsum(x, dim, *, dtype=None):
    if dtype is None:
        dtype = x.dtype if x.dtype.is_floating_point else D.int64
    if x.dim() == 0:
        return x.to(dtype).clone()
    return Cumsum.apply(x, wrap_dim(dim, x.dim()), D.as_dtype(dtype))


def cumprod(x, dim, *, dtype=None):
    d = wrap_dim(dim, x.dim())
    if dtype is None:
        dtype = x.dtype if x.dtype.is_floating_point else D.int64
    if x.dim() == 0:  # a 0-d tensor keeps shape () (the backends scan 1-d rows)
        return Cumprod.apply(x.reshape(1), 0, D.as_dtype(dtype)).reshape(())
    return Cumprod.apply(x, d, D.as_dtype(dtype))


class Cumprod(Function):
    """Running product along ``dim``; the backward handles zeros without dividing by them."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        y = backend_of(x).call(np.cumprod, x, axis=dim, out_dtype=dtype)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        # dy_k/dx_i (k >= i) is the product of x_0..x_k without x_i: y_k / x_i when x_i != 0, so
        # dx_i = sum_{k>=i} g_k y_k / x_i (a reversed cumsum).  That sum is 0 past the first 0 of the
        # slice (every y_k there is 0); at the first 0 itself, use the running product that skips it.
        x, y = ctx.saved_tensors
        d = ctx.dim
        zero = x == 0
        first_zero = zero & (zero.cumsum(d) == 1)
        y_skip = x.masked_fill(first_zero, 1).cumprod(d)

        def rev_cumsum(t):
            return t.flip(d).cumsum(d).flip(d)

        dx = (rev_cumsum(g * y) / x.masked_fill(zero, 1)).where(~first_zero, rev_cumsum(g * y_skip))
        return dx, None, None


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_torch_type_word(x.dtype)}")
    dims = _dims(x, dim)
    if p == "fro":
        p = 2
    if p == "inf":
        p = float("inf")
    p = float(p)
    if abs(p) == float("inf") and x.numel() == 0:
        if dim is None or x.dim() == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the "
                               "operation does not have an identity")
        if builtins.all(x._shape[d] for d in range(x.dim()) if d not in dims):  # (PyTorch's message lacks a space)
            d = next(d for d in dims if x._shape[d] == 0)
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on the dimension {d}because this "
                               "dimension is empty and the operation does not have an identity")
    return Norm.apply(x, p, dims, keepdim)


class Norm(Function):
    """The vector p-norm ``sum(|x|**p) ** (1/p)`` over ``dims`` (max / min of ``|x|`` for p = +-inf, the count
    of nonzeros for p = 0): one fused kernel where the backend has ``row_reduce`` (OpenCL), else composed.
    Its gradient at 0 is 0, and shared evenly among ties for p = +-inf (as in PyTorch)."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        b = backend_of(x)
        if p != 0 and hasattr(b, "row_reduce") and x.numel():
            y = b.row_reduce(x, "norm", dims, keepdim, p)
        elif p == 2:
            y = (x * x).sum(dims, keepdim).sqrt()
        elif p == 1:
            y = x.abs().sum(dims, keepdim)
        elif p == float("inf"):
            y = x.abs().amax(dims, keepdim)
        elif p == float("-inf"):
            y = x.abs().amin(dims, keepdim)
        elif p == 0:
            y = (x != 0).to(x.dtype).sum(dims, keepdim)
        else:
            y = (x.abs() ** p).sum(dims, keepdim) ** (1.0 / p)
        ctx.p, ctx.dims, ctx.keepdim, ctx.shape = p, dims, keepdim, x._shape
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return x * 0, None, None, None
        if p == 1:
            return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * x.sign(), None, None, None
        if abs(p) == float("inf"):  # d max|x| / dx: sign(x) on the elements equal to it, shared among ties
            hit = x.abs() == _expand_back(y, ctx.shape, ctx.dims, ctx.keepdim)
            count = hit.sum(dim=ctx.dims, keepdim=True)
            return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * x.sign() * hit / count, None, None, None
        # d|x|_p/dx_i = sign(x_i) |x_i|**(p-1) / |x|_p**(p-1)
        scale = (g / y ** (p - 1)).masked_fill(y == 0, 0)
        dx = x if p == 2 else x.sign() * x.abs() ** (p - 1)
        return _expand_back(scale, ctx.shape, ctx.dims, ctx.keepdim) * dx, None, None, None


def sort(x, dim=-1, descending=False, stable=False):
    if x.dim() == 0:
        return return_types.sort(x.clone(), x.new_zeros((), dtype=D.int64))
    d = wrap_dim(dim, x.dim())
    idx = backend_of(x).argsort(x.detach(), d, descending)  # stable: ties keep their order
    return return_types.sort(x.gather(d, idx), idx)


def argsort(x, dim=-1, descending=False, stable=False):
    return sort(x, dim, descending, stable).indices


def topk(x, k, dim=-1, largest=True, sorted=True):
    d = wrap_dim(dim, x.dim())
    if k < 0 or k > (x._shape[d] if x.dim() else 1):
        raise RuntimeError("selected index k out of range")
    s = sort(x, d, descending=largest)
    return return_types.topk(s.values.narrow(d, 0, k), s.indices.narrow(d, 0, k))


def median(x, dim=None, keepdim=False):
    if dim is None:
        flat = x.reshape(-1)
        n = flat.numel()
        if n == 0:
            return x.new_full((), float("nan"))
        return Median.apply(x)
    d = wrap_dim(dim, x.dim())
    if x.dim() == 0:  # a 0-d tensor is its own median, at index 0
        return return_types.median(x.clone(), x.new_zeros((), dtype=D.int64))
    s = sort(x, d)
    n = x._shape[d]
    k = (n - 1) // 2
    v, i = s.values.narrow(d, k, 1), s.indices.narrow(d, k, 1)
    if x.dtype.is_floating_point and n:
        # NaN propagates, as in PyTorch: sort puts NaNs last, so a NaN last means the median is NaN, found
        # (as the first NaN, stably sorted) right after the numbers
        last = s.values.narrow(d, n - 1, 1)
        first_nan = (~x.isnan()).sum(d, keepdim=True).clamp(max=n - 1)
        has_nan = last.isnan()
        v = v.where(~has_nan, last)
        i = i.where(~has_nan, s.indices.gather(d, first_nan))
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return return_types.median(v, i)


class Median(Function):
    """``median()`` without dim: the lower middle value; its gradient is shared evenly by the elements
    equal to it (as for ``max()``, and as in PyTorch)."""

    _builtin = True

    @staticmethod
    def forward(ctx, x):
        s = sort(x.reshape(-1)).values
        y = s[(x.numel() - 1) // 2]
        if x.dtype.is_floating_point:  # a NaN anywhere makes the median NaN (sort puts NaNs last)
            y = y.where(~s[-1].isnan(), s[-1])
        y = y.clone()
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        hit = (x == y) | (x.isnan() & y.isnan()) if x.dtype.is_floating_point else x == y
        return g * hit / hit.sum()
