"""The CPU backend: storage is a 1-D NumPy array; kernels are NumPy ufuncs on zero-copy strided views.

A backend is a small, fixed set of primitives that ops call (see ``docs/internals.md``).  Ops never
touch storage directly, so a second backend (OpenCL) only has to provide the same primitives.

* ``empty`` / ``from_numpy`` / ``to_numpy``: allocate, wrap and read storage;
* ``elementwise``: apply a NumPy function to broadcast inputs, writing a fresh contiguous output;
* ``reduce``: a NumPy reduction over some dims;
* ``copy_``: strided (and broadcasting, casting) copy into an existing tensor, via ``_core.strided_copy``;
* ``gather`` / ``scatter``: read or write storage elements at int64 offsets, via ``_core``;
* ``call``: the escape hatch for NumPy routines with no general kernel (``sort``, ``matmul``, ``cumsum``);
* ``softmax`` / ``softmax_backward`` / ``layer_norm`` / ``layer_norm_backward``: fused row ops (``ops/rows.py``).
"""
import warnings

import numpy as np

from .. import _core, _vmath
from .. import dtypes as D
from ..device import CPU

name = "cpu"
# PyTorch returns IEEE results (inf, nan) silently; NumPy would warn.  NumPy attributes its
# floating-point RuntimeWarnings to the calling module, so silence them for this module only.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=__name__)


try:  # NumPy >= 2: switch its floating-point error mode for one call without building an errstate object
    from numpy._core.umath import _extobj_contextvar, _make_extobj

    _IGNORE_FP = _make_extobj(all="ignore")

    def _ufunc_quiet(fn, args, out):
        """``fn(*args, out=out)`` with NumPy's floating-point warnings off (PyTorch returns inf/nan silently)."""
        token = _extobj_contextvar.set(_IGNORE_FP)
        try:
            fn(*args, out=out)
        finally:
            _extobj_contextvar.reset(token)
except ImportError:  # older NumPy: the public context manager (about 1.5 us more per op)
    def _ufunc_quiet(fn, args, out):
        with np.errstate(all="ignore"):
            fn(*args, out=out)

ufunc_quiet = _ufunc_quiet  # (for ops that run a ufunc in place on a fresh result)

_Tensor = None  # the class results are made of: set by ``pygrad.runtime.set_tensor_class`` (no import upward)


def empty(shape, dtype, strides=None):
    """A new uninitialised tensor: contiguous, or dense with the given (permuted) strides."""
    Tensor = _Tensor
    n = _core.numel(shape)
    data = np.empty(n, dtype=dtype.np)
    t = Tensor._make(_core.Storage(data, CPU, dtype, n), shape, strides or _core.contiguous_strides(shape), 0)
    if strides is None:
        t._np = data.reshape(shape)
    return t


def from_numpy(arr, dtype):
    """Wrap a NumPy array as a tensor sharing its memory.

    The storage is the 1-D window of the array's buffer that runs from element ``[0, 0, ...]`` to the
    last element it can reach.  Arrays with negative or non-whole-element strides are copied first.
    """
    Tensor = _Tensor
    item = arr.itemsize
    if any(s < 0 or s % item for s in arr.strides):
        arr = np.ascontiguousarray(arr)
    shape = tuple(arr.shape)
    strides = tuple(s // item for s in arr.strides)
    if arr.flags.c_contiguous and arr.size:  # (a fresh result: the usual case) its flat view is the storage
        return Tensor._make(_core.Storage(arr.reshape(-1), CPU, dtype, arr.size), shape, strides, 0)
    lo, hi = _core.storage_extent(shape, strides, 0)
    if hi < lo:  # no elements
        base = np.empty(0, dtype=arr.dtype)
        return Tensor._make(_core.Storage(base, CPU, dtype, 0), shape, _core.contiguous_strides(shape), 0)
    base = np.lib.stride_tricks.as_strided(arr, shape=(hi + 1,), strides=(item,),
                                           writeable=arr.flags.writeable)
    return Tensor._make(_core.Storage(base, CPU, dtype, hi + 1), shape, strides, 0)


def to_numpy(t):
    """A NumPy view of the tensor's elements (shares memory); cached on the tensor."""
    a = t._np
    if a is None:
        a = t._np = _core.ndarray_view(t._storage.data, t._shape, t._strides, t._offset)
    return a


def _arg(x, np_dtype):
    """A NumPy operand: a view for tensors, a 0-d array of the compute dtype for Python numbers."""
    if hasattr(x, "_storage"):
        a = to_numpy(x)
        return a if a.dtype == np_dtype else a.astype(np_dtype)
    return np.asarray(x).astype(np_dtype)


def elementwise(fn, inputs, shape, out_dtype, compute_dtype):
    """``out = fn(*inputs)`` broadcast to ``shape``; inputs are cast to ``compute_dtype`` first
    (one dtype for all inputs, or a tuple with one per input)."""
    out = empty(shape, out_dtype, _core.dense_strides_like(inputs, shape))
    if isinstance(compute_dtype, tuple):
        args = [_arg(x, D.compute_dtype(d).np) for x, d in zip(inputs, compute_dtype)]
    else:
        args = [_arg(x, D.compute_dtype(compute_dtype).np) for x in inputs]
    if out._storage.size:
        _ufunc_quiet(fn, args, to_numpy(out))  # (the filter above is lost when imported inside catch_warnings)
    return out


def reduce(fn, x, dims, keepdim, out_dtype, compute_dtype):
    """``fn(x, axis=dims, keepdims=keepdim)`` as a new tensor (fn is a NumPy reduction)."""
    a = _arg(x, D.compute_dtype(compute_dtype).np)
    r = _UFUNC_REDUCE.get(fn, fn)(a, axis=dims, keepdims=keepdim)
    if isinstance(r, np.generic) and r.dtype == out_dtype.np:  # a full reduction's NumPy scalar: store it as is
        out = empty((), out_dtype)
        out._storage.data[0] = r
        return out
    return wrap(np.asarray(r), out_dtype)


# np.sum is np.add.reduce behind ~1 us of Python argument handling: call the ufunc's reduce directly
_UFUNC_REDUCE = {np.sum: np.add.reduce}


def var_reduce(x, dims, n_eff, keepdim, root, want_mean=False):
    """var (root: std) of a float16/32/64 tensor over ``dims``, with want_mean ``(var, mean)``: the mean
    accumulated in float64, then the float64 squares of the deviations summed (as PyTorch's CPU kernels: no
    overflow for float32 deviations past 1e19), divided by ``n_eff`` (0 gives inf or nan, as PyTorch)."""
    a = to_numpy(x)
    if a.dtype not in (np.float16, np.float32, np.float64):
        return None
    dims = tuple(dims)
    acb = _acb(a, dims)
    if acb is not None:  # float32, the kept dims one block in the middle: the compiled loop
        mean, m2 = _vmath.var_acb(a, *acb)
        kshape = tuple(1 if d in dims else s for d, s in enumerate(a.shape))
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.divide(m2, n_eff)
        v = (np.sqrt(v) if root else v).reshape(kshape if keepdim else [s for d, s in enumerate(a.shape)
                                                                         if d not in dims])
        v = wrap(np.array(v, np.float32), x.dtype)  # (ascontiguousarray would make a 0-d result 1-d)
        if not want_mean:
            return v
        m = mean.reshape(kshape if keepdim else v._shape)
        return v, wrap(np.array(m, np.float32), x.dtype)
    m = np.mean(a, axis=dims, dtype=np.float64, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = np.asarray(np.subtract(a, m, dtype=np.float64))  # (0-d input: a 0-d array, not a scalar)
        v = np.divide(np.add.reduce(np.square(d, out=d), axis=dims, keepdims=keepdim), n_eff)
        if root:
            v = np.sqrt(v)
    v = wrap(np.asarray(v), x.dtype)
    if not want_mean:
        return v
    return v, wrap(m if keepdim else m.reshape(np.shape(v)), x.dtype)


def _acb(a, dims):
    """``(A, C, B)`` when ``a`` is a C-contiguous float32 array whose kept dims (not in ``dims``) are one block
    between the reduced ones (batch norm's (N, C, H, W) over (0, 2, 3); a full or a row reduction), else None."""
    if a.dtype != np.float32 or not a.flags.c_contiguous or a.size == 0 or not dims:
        return None
    kept = [d for d in range(a.ndim) if d not in dims]
    if kept and kept != list(range(kept[0], kept[-1] + 1)):
        return None
    if not kept:  # a full reduction: one run
        return 1, 1, a.size
    k0, k1 = kept[0], kept[-1] + 1
    return int(np.prod(a.shape[:k0])), int(np.prod(a.shape[k0:k1])), int(np.prod(a.shape[k1:]))


def call(fn, *tensors, out_dtype=None, **kwargs):
    """Run a NumPy routine on tensor views and wrap its (new) array result(s)."""
    arrs = [to_numpy(t) if hasattr(t, "_storage") else t for t in tensors]
    r = fn(*arrs, **kwargs)
    if isinstance(r, tuple):
        return tuple(wrap(np.asarray(a), out_dtype) for a in r)
    return wrap(np.asarray(r), out_dtype)


def max_min_dim(x, dim, largest):
    """``(values, indices)`` of max (largest) or min along ``dim``, keeping it as size 1 (first index wins)."""
    a = to_numpy(x)
    idx = (np.argmax if largest else np.argmin)(a, axis=dim, keepdims=True)
    return wrap(np.take_along_axis(a, idx, axis=dim)), wrap(idx)


def argsort(x, axis, descending):
    """Stable sort order along ``axis`` (int64); descending keeps ties in their original order, as PyTorch."""
    a = to_numpy(x)
    if not descending:
        return wrap(np.argsort(a, axis=axis, kind="stable"))
    rev = np.flip(np.argsort(np.flip(a, axis), axis=axis, kind="stable"), axis)
    return wrap(a.shape[axis] - 1 - rev)


def wrap(arr, dtype=None):
    """A tensor owning a contiguous copy of ``arr`` converted to ``dtype`` (no copy when it already is)."""
    if dtype is None:
        from ..dtypes import from_numpy_dtype

        dtype = from_numpy_dtype(arr.dtype)
    arr = np.asarray(arr, dtype=dtype.np, order="C")
    if not arr.flags.owndata and arr.base is not None and arr.size != getattr(arr.base, "size", -1):
        arr = arr.copy()  # do not keep a large base array alive for a small result
    if arr.flags.c_contiguous and arr.flags.writeable:  # the usual case: a flat view is the storage
        Tensor = _Tensor
        shape = arr.shape
        t = Tensor._make(_core.Storage(arr.reshape(-1), CPU, dtype, arr.size), shape,
                         _core.contiguous_strides(shape), 0)
        t._np = arr
        return t
    return from_numpy(arr, dtype)


def copy_(dst, src):
    """Write ``src`` (broadcast to ``dst``'s shape, cast to its dtype) into ``dst``'s elements."""
    shape = dst._shape
    src_strides = _core.expand_strides(src._shape, src._strides, shape)
    if src.dtype is not dst.dtype:
        src = wrap(D.np_cast(np.broadcast_to(to_numpy(src), shape), dst.dtype), dst.dtype)
        src_strides = src._strides
    elif src._storage is dst._storage:
        src = wrap(np.array(to_numpy(src)))  # the regions may overlap: read everything first
        src_strides = _core.expand_strides(src._shape, src._strides, shape)
    _core.strided_copy(dst._storage.data, dst._strides, dst._offset,
                       src._storage.data, src_strides, src._offset, shape)


def offsets_along_dim(x, d, index):
    """Storage offsets of ``x.gather(d, index)`` (shapes already checked): ``index`` along d, aranges elsewhere."""
    if x.dim() == 0:
        idx = np.asarray(to_numpy(index)).reshape(1)
        if idx[0] != 0:
            raise IndexError(f"index {idx[0]} is out of bounds for dimension 0 with size 1")
        return _core.advanced_offsets((1,), (0,), x._offset, [(0, idx)])[1].reshape(())
    idx = np.asarray(to_numpy(index))
    negative = idx < 0
    if negative.any():  # gather/scatter take no negative indices (unlike x[i]), as PyTorch
        raise IndexError(f"index {idx[negative].flat[0]} is out of bounds for dimension {d} with size {x._shape[d]}")
    adv = []
    for k in range(x.dim()):
        if k == d:
            adv.append((k, idx))
        else:
            shape = [1] * x.dim()
            shape[k] = index._shape[k]
            adv.append((k, np.arange(index._shape[k], dtype=np.int64).reshape(shape)))
    return _core.advanced_offsets(x._shape, x._strides, x._offset, adv)[1]


def gather(x, offsets):
    """Elements of ``x``'s storage at ``offsets`` (an int64 array), shaped like ``offsets``."""
    return wrap(_core.gather(x._storage.data, offsets), x.dtype)


def scatter(dst, offsets, values, accumulate):
    """``storage[offsets] = values`` (or ``+=``): ``values`` is a tensor broadcastable to offsets."""
    # a writeable contiguous copy: broadcast_to returns a read-only view, which _core's typed
    # memoryviews refuse even when its layout is already contiguous
    vals = np.array(np.broadcast_to(_arg(values, dst.dtype.np), offsets.shape), order="C")
    _core.scatter(dst._storage.data, offsets, vals, accumulate)


def cast(x, dtype):
    """A contiguous copy of ``x`` converted to ``dtype`` (C-style: floats truncate toward zero)."""
    return wrap(D.np_cast(to_numpy(x), dtype), dtype)


def matmul(a, b):
    """Batched matrix product of operands with >= 2 dims (NumPy hands 2-D blocks to BLAS)."""
    return wrap(np.matmul(to_numpy(a), to_numpy(b)), a.dtype)


def transfer(x, dev):
    """Bring a tensor from another device to the CPU."""
    return wrap(np.array(x._host()), x.dtype)


def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
    """im2col: every sliding window of a (N, C, H, W) tensor, as (N, C, kh, kw, oh, ow).

    The padded input is viewed with ``as_strided`` so the windows overlap in memory without a
    copy; one ``ascontiguousarray`` then lays them out for the matrix product of a convolution.
    """
    a = to_numpy(x)
    if a.dtype in (np.float32, np.float64):  # one compiled pass (_core.im2col): no padded copy
        return wrap(_core.im2col(np.ascontiguousarray(a), tuple(kernel), tuple(dilation), tuple(padding),
                                 tuple(stride), pad_value), x.dtype)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    if ph or pw:
        a = np.pad(a, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    n, c, h, w = a.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    s = a.strides
    win = np.lib.stride_tricks.as_strided(
        a, (n, c, kh, kw, oh, ow), (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw), writeable=False)
    return wrap(np.ascontiguousarray(win), x.dtype)


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    """(values, int64 flat H*W indices) of each max-pool window of a float32/float64 (N, C, H, W) tensor,
    in one compiled pass (``_core.max_pool2d_fwd``); ``None`` for other dtypes (callers compose it)."""
    a = to_numpy(x)
    if a.dtype not in (np.float32, np.float64):
        return None
    from ..dtypes import int64

    v, i = _core.max_pool2d_fwd(np.ascontiguousarray(a), tuple(kernel), tuple(stride), tuple(padding),
                                tuple(dilation), out_hw[0], out_hw[1])
    return wrap(v, x.dtype), wrap(i, int64)


def max_pool2d_backward(g, indices, in_hw, window=None):
    """Gradient of ``max_pool2d``: each output gradient added at its window's argmax (one compiled pass).
    ``window`` (kernel, stride, padding, dilation) is for backends that gather per input element; unused here."""
    return wrap(_core.max_pool2d_bwd(np.ascontiguousarray(to_numpy(g)), np.ascontiguousarray(to_numpy(indices)),
                                     in_hw[0], in_hw[1]), g.dtype)


def avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor):
    """Window means of a float32/float64 (N, C, H, W) tensor in one compiled pass (``_core.avg_pool2d_fwd``);
    ``divisor`` 0 means PyTorch's own count.  ``None`` for other dtypes (callers compose it)."""
    a = to_numpy(x)
    if a.dtype not in (np.float32, np.float64):
        return None
    return wrap(_core.avg_pool2d_fwd(np.ascontiguousarray(a), tuple(kernel), tuple(stride), tuple(padding),
                                     out_hw[0], out_hw[1], count_include_pad, divisor), x.dtype)


def avg_pool2d_backward(g, in_hw, kernel, stride, padding, count_include_pad, divisor):
    """Gradient of ``avg_pool2d``: each output gradient over its divisor, added across its window."""
    return wrap(_core.avg_pool2d_bwd(np.ascontiguousarray(to_numpy(g)), in_hw[0], in_hw[1], tuple(kernel),
                                     tuple(stride), tuple(padding), count_include_pad, divisor), g.dtype)


def fold(cols, out_hw, kernel, dilation, padding, stride):
    """col2im, the adjoint of ``unfold``: sums each window column back into a (N, C, H, W) image.

    Loops over the kh*kw kernel offsets (not over elements): each adds one strided slab.
    """
    c = to_numpy(cols)
    if c.dtype in (np.float32, np.float64):  # one compiled pass (_core.col2im)
        return wrap(_core.col2im(np.ascontiguousarray(c), out_hw[0], out_hw[1], tuple(dilation), tuple(padding),
                                 tuple(stride)), cols.dtype)
    n, ch, kh, kw, oh, ow = c.shape
    (dh, dw), (ph, pw), (sh, sw) = dilation, padding, stride
    H, W = out_hw[0] + 2 * ph, out_hw[1] + 2 * pw
    out = np.zeros((n, ch, H, W), dtype=c.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw] += c[:, :, i, j]
    return wrap(out[:, :, ph: ph + out_hw[0], pw: pw + out_hw[1]], cols.dtype)


# -- convolution: im2col + matrix product per batch chunk ----------------------------------------------------
_CONV_CHUNK_BYTES = 512 << 10  # the im2col columns of one chunk stay in cache for the product that reads them


def _conv_chunks(n, per_sample_bytes):
    step = max(1, _CONV_CHUNK_BYTES // max(per_sample_bytes, 1))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def conv2d(x, w, b, kernel, stride, padding, dilation, workspace=None):
    """2-D convolution of a float32/float64 (N, C, H, W) tensor by (Cout, C, kh, kw) weights (groups 1) and an
    optional (Cout,) bias: per batch chunk one compiled im2col (``_core.im2col``) and one product into the
    output, so each chunk's columns are read while still in cache (no full-batch column matrix).
    ``workspace`` (a dict for what a backend keeps for its backward) is unused here: the backward rebuilds."""
    xa = np.ascontiguousarray(to_numpy(x))
    N, C, H, W = xa.shape
    cout = w._shape[0]
    w2 = np.ascontiguousarray(to_numpy(w)).reshape(cout, -1)
    K = w2.shape[1]
    oh, ow = _core._check_conv(N, C, H, W, kernel, dilation, padding, stride)
    L = oh * ow
    out = np.empty((N, cout, L), xa.dtype)
    if out.size:
        for i, j in _conv_chunks(N, K * L * xa.itemsize):
            cols = _core.im2col(xa[i:j], kernel, dilation, padding, stride, 0.0)
            np.matmul(w2, cols.reshape(j - i, K, L), out=out[i:j])
        if b is not None:
            out += to_numpy(b).reshape(cout, 1)
    return wrap(out.reshape(N, cout, oh, ow), x.dtype)


def conv2d_backward(g, x, w, kernel, stride, padding, dilation, needs, workspace=None):
    """Gradients (input, weight, bias) of ``conv2d``, each None where ``needs`` says it is not wanted: per batch
    chunk the columns are built again (cheaper than keeping the whole column matrix), the weight gradient is
    ``sum_n g_n cols_n^T`` and the input's is col2im of ``w^T g_n``."""
    xa = np.ascontiguousarray(to_numpy(x))
    N, C, H, W = xa.shape
    kh, kw = kernel
    cout = w._shape[0]
    w2 = np.ascontiguousarray(to_numpy(w)).reshape(cout, -1)
    K = w2.shape[1]
    oh, ow = g._shape[2], g._shape[3]
    L = oh * ow
    ga = np.ascontiguousarray(to_numpy(g)).reshape(N, cout, L)
    gx = np.zeros((N, C, H, W), xa.dtype) if needs[0] else None
    gw = np.zeros((cout, K), xa.dtype) if needs[1] else None
    if ga.size and (needs[0] or needs[1]):
        w2t = w2.T
        for i, j in _conv_chunks(N, K * L * xa.itemsize):
            if needs[1]:
                cols = _core.im2col(xa[i:j], kernel, dilation, padding, stride, 0.0).reshape(j - i, K, L)
                gw += np.matmul(ga[i:j], cols.transpose(0, 2, 1)).sum(0)
            if needs[0]:
                gcols = np.matmul(w2t, ga[i:j]).reshape(j - i, C, kh, kw, oh, ow)
                gx[i:j] = _core.col2im(gcols, H, W, dilation, padding, stride)
    gb = ga.sum(axis=(0, 2)) if needs[2] else None
    return tuple(None if a is None else wrap(a.reshape(shape), x.dtype)
                 for a, shape in ((gx, x._shape), (gw, w._shape), (gb, (cout,))))


# -- row ops (softmax, log_softmax, layer_norm): a few whole-array NumPy passes each --------------------------
def _rows_np(x):
    """``x`` as a NumPy array in its compute dtype: float16 computes in float32, as PyTorch's CPU kernels."""
    a = to_numpy(x)
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _f32_rows(a, dim):
    """``a`` as a (rows, n) float32 array when ``dim`` is its last dim and it is C-contiguous (the compiled
    row loops of ``_vmath`` take it), else None."""
    if a.dtype != np.float32 or dim != a.ndim - 1 or not a.flags.c_contiguous or a.size == 0:
        return None
    return a.reshape(-1, a.shape[-1])


def softmax(x, dim, log):
    """softmax (or log_softmax, ``log``) along ``dim``: ``z = x - max``, then ``exp(z) / sum`` or ``z - log(sum)``."""
    if x.numel() == 0:
        return empty(x._shape, x.dtype)
    a = _rows_np(x)
    rows = _f32_rows(a, dim) if x.dtype is D.float32 else None
    if rows is not None:  # one compiled pass per row
        out = empty(x._shape, x.dtype)
        _vmath.softmax_rows(rows, to_numpy(out).reshape(rows.shape), log)
        return out
    with np.errstate(all="ignore"):
        z = a - a.max(axis=dim, keepdims=True)  # a new array: the passes below work in place on it
        if log:
            s = np.exp(z).sum(axis=dim, keepdims=True)
            z -= np.log(s)
        else:
            np.exp(z, out=z)
            z /= z.sum(axis=dim, keepdims=True)
    return wrap(z, x.dtype)


def softmax_backward(g, y, dim, log):
    """The input gradient of softmax (``y * (g - sum(g y))``) or log_softmax (``g - exp(y) sum(g)``)."""
    if y.numel() == 0:
        return empty(y._shape, y.dtype)
    gy, ya = _rows_np(g), _rows_np(y)
    rows = _f32_rows(ya, dim) if y.dtype is D.float32 and g.dtype is D.float32 else None
    if rows is not None:  # one compiled pass per row
        out = empty(y._shape, y.dtype)
        _vmath.softmax_backward_rows(np.ascontiguousarray(gy).reshape(rows.shape), rows,
                                     to_numpy(out).reshape(rows.shape), log)
        return out
    with np.errstate(all="ignore"):
        if log:
            r = np.exp(ya)
            r *= -gy.sum(axis=dim, keepdims=True)
            r += gy
        else:
            r = gy * ya
            s = r.sum(axis=dim, keepdims=True)
            np.subtract(gy, s, out=r)
            r *= ya
    return wrap(r, y.dtype)


def layer_norm(x, w, b, n, eps):
    """``(y, mean, rstd)`` of layer norm over rows of ``n`` elements (x, w, b contiguous; mean and rstd
    per row, in the compute dtype).  Two passes for the statistics (mean, then squared deviations)."""
    rows = x.numel() // n if n else 0
    a = _rows_np(x).reshape(rows, n)
    ct = a.dtype
    if rows == 0 or n == 0:
        with np.errstate(all="ignore"):
            mean = np.full(rows, np.nan, ct)
        return empty(x._shape, x.dtype), wrap(mean), wrap(mean.copy())
    wa, ba = (None if t is None else _rows_np(t).reshape(n) for t in (w, b))
    if ct == np.float32 and x.dtype is D.float32 and all(t is None or t.dtype == ct for t in (wa, ba)):
        y, mean, rstd = empty(x._shape, x.dtype), np.empty(rows, ct), np.empty(rows, ct)
        _vmath.layer_norm_rows(a, wa, ba, to_numpy(y).reshape(rows, n), mean, rstd, eps)  # one compiled pass
        return y, wrap(mean), wrap(rstd)
    mean = a.mean(axis=1, dtype=ct)
    d = a - mean[:, None]
    var = np.einsum("ij,ij->i", d, d) / ct.type(n)
    rstd = (1 / np.sqrt(var + ct.type(eps))).astype(ct)
    d *= rstd[:, None]
    if w is not None:
        d *= _rows_np(w).reshape(n)
    if b is not None:
        d += _rows_np(b).reshape(n)
    return wrap(d.reshape(x._shape), x.dtype), wrap(mean), wrap(rstd)


def layer_norm_backward(g, x, w, mean, rstd, n, needs):
    """Gradients of layer norm for (input, weight, bias), each None where ``needs`` says it is not wanted:
    ``gx = rstd (g w - mean(g w) - xhat mean(g w xhat))``, ``gw = sum_rows g xhat``, ``gb = sum_rows g``."""
    rows = x.numel() // n if n else 0
    a, gy = _rows_np(x).reshape(rows, n), _rows_np(g).reshape(rows, n)
    wa = _rows_np(w).reshape(n) if w is not None else None
    if (rows and n and a.dtype == np.float32 and x.dtype is D.float32 and gy.dtype == np.float32
            and (wa is None or wa.dtype == np.float32)):  # one compiled pass over the rows
        gxa = np.empty((rows, n), np.float32) if needs[0] else None
        gwa, gba = (np.zeros(n, np.float64) if k else None for k in needs[1:3])
        _vmath.layer_norm_backward_rows(np.ascontiguousarray(gy), np.ascontiguousarray(a), wa,
                                        np.ascontiguousarray(to_numpy(mean)), np.ascontiguousarray(to_numpy(rstd)),
                                        gxa, gwa, gba)
        return (None if gxa is None else wrap(gxa.reshape(x._shape), x.dtype),
                None if gwa is None else wrap(gwa.astype(np.float32), x.dtype),
                None if gba is None else wrap(gba.astype(np.float32), x.dtype))
    m, r = to_numpy(mean)[:, None], to_numpy(rstd)[:, None]
    xhat = (a - m) * r
    gx = gw = gb = None
    if needs[0]:
        gxh = gy * _rows_np(w).reshape(n) if w is not None else gy
        c1 = gxh.mean(axis=1, keepdims=True) if n else 0
        c2 = np.einsum("ij,ij->i", gxh, xhat)[:, None] / max(n, 1)
        gx = wrap(((gxh - c1 - xhat * c2) * r).reshape(x._shape), x.dtype)
    if needs[1]:
        gw = wrap(np.einsum("ij,ij->j", gy, xhat), x.dtype)
    if needs[2]:
        gb = wrap(gy.sum(axis=0), x.dtype)
    return gx, gw, gb


from .cpu_fused import (gru_cell_backward, gru_cell_forward, lstm_cell_backward, lstm_cell_forward,  # noqa: E402,F401
                        lstm_layer_backward, lstm_layer_forward,
                        nll_backward, nll_forward, optim_step, rnn_cell_backward, rnn_cell_forward)  # fused, one NumPy pass each
