"""Shape and view ops: ``view``, ``reshape``, ``permute``, ``expand``, ``cat``, ``stack``, ...

A *view* op moves no data: it computes a new layout (shape, strides, offset) over the same storage
with the functions of ``_core``, and its backward is the inverse layout change applied to the
gradient.  The few ops here that must copy (``cat``, ``flip``, ``repeat``, a ``reshape`` of a
non-viewable layout) go through the backend's ``copy_``.
"""
import numpy as np

from .. import _core
from ..autograd.function import Function
from .dispatch import backend_of, check_same_device


def wrap_dim(dim, ndim):
    """A dim in ``[-ndim, ndim)`` as a non-negative index, or IndexError naming the valid range."""
    n = max(ndim, 1)
    if not isinstance(dim, int):
        if not hasattr(dim, "__index__"):
            raise TypeError(f"dim must be an int, not {type(dim).__name__}")
        dim = dim.__index__()
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def _sizes(args, name="size"):
    """Accept sizes as ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)``; returns a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        return tuple(int(a.__index__()) if not isinstance(a, int) else a for a in args)
    except (AttributeError, TypeError):
        raise TypeError(f"{name} must be a tuple of ints, but got {args!r}") from None


# ----------------------------------------------------------------------------------------------
# View ops: a Function whose forward returns a view and whose backward reverses the layout change
# ----------------------------------------------------------------------------------------------
class _View(Function):
    """Base for view ops: ``forward(x, layout, info)``; subclasses define ``grad(g, in_shape, info)``."""

    @classmethod
    def forward(cls, ctx, x, layout, info):
        ctx.in_shape = x._shape
        ctx.info = info
        return x._view(*layout)

    @classmethod
    def backward(cls, ctx, g):
        return cls.grad(g, ctx.in_shape, ctx.info), None, None


def _view_op(name, grad):
    return type(name, (_View,), {"_builtin": True, "grad": staticmethod(grad)})


def _scatter_back(g, in_shape, index):
    """Gradient of a basic-indexing view: zeros of the input's shape with ``g`` written at ``index``."""
    z = g.new_zeros(in_shape)
    z[index] = g
    return z


View = _view_op("View", lambda g, s, info: g.reshape(s))
Unsqueeze = _view_op("Unsqueeze", lambda g, s, info: g.reshape(s))
Squeeze = _view_op("Squeeze", lambda g, s, info: g.reshape(s))
Permute = _view_op("Permute", lambda g, s, info: g.permute(*info))
Transpose = _view_op("Transpose", lambda g, s, info: g.transpose(*info))
T = _view_op("T", lambda g, s, info: g.t())
Expand = _view_op("Expand", lambda g, s, info: sum_to_shape(g, s))
Slice = _view_op("Slice", _scatter_back)
Select = _view_op("Select", _scatter_back)


def storage_positions(src_layout, storage_size, layout):
    """For each element of ``layout``, the row-major index of the element of ``src_layout`` stored at the
    same place (both lay out one storage of ``storage_size`` elements); an int64 array shaped like ``layout``."""
    src_offsets = _core.advanced_offsets(*src_layout, [])[1].reshape(-1)
    index_at = np.full(storage_size, -1, dtype=np.int64)
    index_at[src_offsets] = np.arange(src_offsets.size, dtype=np.int64)
    positions = index_at[_core.advanced_offsets(*layout, [])[1]]
    if (positions < 0).any():
        raise RuntimeError("as_strided: the result uses storage elements outside of its input, which cannot "
                           "receive their gradient")
    return positions


def _as_strided_back(g, in_shape, info):
    """Add each element of ``g`` into the input element it shares storage with (``info``: storage_positions' args)."""
    flat = g.new_zeros(_core.numel(in_shape)).index_put((storage_positions(*info),), g, accumulate=True)
    return flat.reshape(in_shape)


AsStrided = _view_op("AsStrided", _as_strided_back)


def sum_to_shape(g, shape):
    """Sum ``g`` over the dims that broadcasting stretched, so it gets ``shape`` (the engine uses this)."""
    if g._shape == shape:
        return g
    lead = len(g._shape) - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g._shape[lead + i] != 1)
    r = g.sum(dim=dims, keepdim=True) if dims else g
    return r.reshape(shape)


def view(x, *shape, dtype=None):
    if dtype is not None:
        raise NotImplementedError("view(dtype) reinterpretation is not supported by pygrad")
    shape = _core.infer_shape(_sizes(shape), x.numel())
    strides = _core.view_strides(x._shape, x._strides, shape)
    if strides is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension "
            "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return View.apply(x, (shape, strides, x._offset), None)


def view_as(x, other):
    return view(x, other._shape)


def reshape(x, *shape):
    shape = _core.infer_shape(_sizes(shape), x.numel())
    strides = _core.view_strides(x._shape, x._strides, shape)
    if strides is None:
        return view(contiguous(x), shape)
    return View.apply(x, (shape, strides, x._offset), None)


def reshape_as(x, other):
    return reshape(x, other._shape)


def flatten(x, start_dim=0, end_dim=-1):
    nd = x.dim()
    if nd == 0:
        return reshape(x, 1)
    s, e = wrap_dim(start_dim, nd), wrap_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return reshape(x, x._shape[:s] + (-1 if x.numel() else _core.numel(x._shape[s:e + 1]),) + x._shape[e + 1:])


def unflatten(x, dim, sizes):
    d = wrap_dim(dim, x.dim())
    sizes = _core.infer_shape(tuple(sizes), x._shape[d])
    return reshape(x, x._shape[:d] + sizes + x._shape[d + 1:])


def squeeze(x, dim=None):
    if dim is None:
        dims = tuple(i for i, s in enumerate(x._shape) if s == 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = tuple(wrap_dim(d, x.dim()) for d in dims)
        dims = tuple(d for d in dims if x.dim() and x._shape[d] == 1)
    keep = [i for i in range(x.dim()) if i not in dims]
    layout = (tuple(x._shape[i] for i in keep), tuple(x._strides[i] for i in keep), x._offset)
    return Squeeze.apply(x, layout, None)


def unsqueeze(x, dim):
    d = wrap_dim(dim, x.dim() + 1)
    inner = x._strides[d] * x._shape[d] if d < x.dim() else 1
    layout = (x._shape[:d] + (1,) + x._shape[d:], x._strides[:d] + (inner,) + x._strides[d:], x._offset)
    return Unsqueeze.apply(x, layout, None)


def permute(x, *dims):
    dims = _sizes(dims, "dims")
    nd = x.dim()
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {nd} is "
                           f"not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inverse = tuple(sorted(range(nd), key=lambda i: dims[i]))
    layout = (tuple(x._shape[d] for d in dims), tuple(x._strides[d] for d in dims), x._offset)
    return Permute.apply(x, layout, inverse)


def transpose(x, dim0, dim1):
    nd = x.dim()
    if nd == 0:
        return View.apply(x, (x._shape, x._strides, x._offset), None)
    a, b = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    shape, strides = list(x._shape), list(x._strides)
    shape[a], shape[b] = shape[b], shape[a]
    strides[a], strides[b] = strides[b], strides[a]
    return Transpose.apply(x, (tuple(shape), tuple(strides), x._offset), (a, b))


def t(x):
    if x.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.dim()}D")
    layout = (x._shape[::-1], x._strides[::-1], x._offset)
    return T.apply(x, layout, None)  # PyTorch records TBackward0


def movedim(x, source, destination):
    nd = x.dim()
    src = [wrap_dim(d, nd) for d in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [wrap_dim(d, nd) for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should "
                           f"contain the same number of dims as destination ({dst} dims)")
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(nd) if i not in src)
    order = [o if o is not None else next(rest) for o in order]
    return permute(x, order)


def expand(x, *sizes):
    sizes = _sizes(sizes)
    strides = _core.expand_strides(x._shape, x._strides, sizes)
    shape = tuple(x._shape[i - (len(sizes) - x.dim())] if s == -1 else s for i, s in enumerate(sizes))
    return Expand.apply(x, (shape, strides, x._offset), None)


def expand_as(x, other):
    return expand(x, other._shape)


def broadcast_to(x, shape):
    return expand(x, shape)


def broadcast_tensors(*tensors):
    shape = _core.broadcast_shapes(*(t._shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def as_strided(x, size, stride, storage_offset=None):
    """A view with any layout over ``x``'s storage, checked against it (overflow included) before use."""
    off = x._offset if storage_offset is None else storage_offset
    size, stride = _sizes((size,)), _sizes((stride,), "stride")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: {list(stride)}")
    size, stride, off = _core.validate_layout(size, stride, off, x._storage.size)
    layout = (size, stride, off)
    return AsStrided.apply(x, layout, ((x._shape, x._strides, x._offset), x._storage.size, layout))


def narrow(x, dim, start, length):
    d = wrap_dim(dim, x.dim())
    size = x._shape[d]
    start = int(start)
    if start < -size or start > size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    index = (slice(None),) * d + (slice(start, start + length),)
    shape = x._shape[:d] + (length,) + x._shape[d + 1:]
    off = x._offset + (start * x._strides[d] if length else 0)
    return Slice.apply(x, (shape, x._strides, off), index)


def select(x, dim, index):
    if x.dim() == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, x.dim())
    size = x._shape[d]
    if index < -size or index >= size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(x._shape)} at dimension {d}")
    index = index + size if index < 0 else index
    layout = (x._shape[:d] + x._shape[d + 1:], x._strides[:d] + x._strides[d + 1:], x._offset + index * x._strides[d])
    return Select.apply(x, layout, (slice(None),) * d + (index,))


def unbind(x, dim=0):
    d = wrap_dim(dim, x.dim())
    return tuple(select(x, d, i) for i in range(x._shape[d]))


def split(x, split_size_or_sections, dim=0):
    d = wrap_dim(dim, x.dim())
    size = x._shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        sections = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                               f"size at dimension {d}), but got split_sizes={sections}")
    out, start = [], 0
    for n in sections:
        out.append(narrow(x, d, start, n))
        start += n
    return tuple(out)


def chunk(x, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    size = x._shape[wrap_dim(dim, x.dim())]
    return split(x, max(-(-size // chunks), 1), dim)


# ----------------------------------------------------------------------------------------------
# Ops that copy
# ----------------------------------------------------------------------------------------------
class Clone(Function):
    """A contiguous copy; gradient passes straight through."""

    _builtin = True

    @staticmethod
    def forward(ctx, x):
        out = backend_of(x).empty(x._shape, x.dtype)
        backend_of(x).copy_(out, x)
        return out

    @staticmethod
    def backward(ctx, g):
        return g


def clone(x, memory_format=None):
    return Clone.apply(x)


def contiguous(x, memory_format=None):
    return x if x.is_contiguous() else Clone.apply(x)


class Cat(Function):
    """Concatenate along ``dim``; backward slices the gradient back into the pieces."""

    _builtin = True

    @staticmethod
    def forward(ctx, dim, *tensors):
        from .. import dtypes as D

        ref = tensors[0]
        check_same_device(*tensors)
        dtype = D.result_type(*[t for t in tensors])
        parts = [t for t in tensors if not (t.dim() == 1 and t._shape[0] == 0)] or [ref]
        nd = parts[0].dim()
        if nd == 0:
            raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
        d = wrap_dim(dim, nd)
        for i, t in enumerate(parts):
            if t.dim() != nd:
                raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {t.dim()}")
            for k in range(nd):
                if k != d and t._shape[k] != parts[0]._shape[k]:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {d}. Expected size "
                        f"{parts[0]._shape[k]} but got size {t._shape[k]} for tensor number {i} in the list.")
        shape = list(parts[0]._shape)
        shape[d] = sum(t._shape[d] for t in parts)
        out = backend_of(ref).empty(tuple(shape), dtype)
        start = 0
        for t in parts:
            n = t._shape[d]
            if n:
                dst = out._view(t._shape, out._strides, out._offset + start * out._strides[d])
                backend_of(ref).copy_(dst, t)
            start += n
        ctx.dim, ctx.sizes = d, [t._shape[d] if t.dim() == nd else 0 for t in tensors]
        return out

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for n in ctx.sizes:
            grads.append(g.narrow(ctx.dim, start, n))
            start += n
        return (None, *grads)


def cat(tensors, dim=0, *, out=None):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"cat(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not hasattr(t, "_storage"):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    r = Cat.apply(dim, *tensors)
    return _into(out, r)


class Stack(Function):
    """Join equal-shaped tensors along a new dim (PyTorch's ``StackBackward0``): the forward is ``cat`` of them
    unsqueezed; the backward hands each input its slice of the gradient along that dim."""

    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim, ctx.n = dim, len(tensors)
        return cat([unsqueeze(t, dim) for t in tensors], dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *(select(g, ctx.dim, i) for i in range(ctx.n)))


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t._shape != tensors[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0]._shape)} "
                               f"at entry 0 and {list(t._shape)} at entry {i}")
    d = wrap_dim(dim, tensors[0].dim() + 1)
    return _into(out, Stack.apply(d, *tensors))


def _into(out, r):
    if out is None:
        return r
    out.copy_(r) if out._shape == r._shape else out._init_from(r)
    return out


class Flip(Function):
    """Reverse the order of elements along dims (a copy, as in PyTorch)."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        shape, strides, off = x._shape, list(x._strides), x._offset
        for d in dims:
            if shape[d]:
                off += (shape[d] - 1) * strides[d]
            strides[d] = -strides[d]
        src = x._view(shape, tuple(strides), off)
        out = backend_of(x).empty(shape, x.dtype)
        backend_of(x).copy_(out, src)
        return out

    @staticmethod
    def backward(ctx, g):
        return g.flip(ctx.dims), None


def flip(x, *dims):
    dims = _sizes(dims, "dims")
    return Flip.apply(x, tuple(wrap_dim(d, x.dim()) for d in dims))


class Repeat(Function):
    """Tile ``x`` ``sizes`` times along each dim (PyTorch's ``RepeatBackward0``): a broadcast dim before each dim,
    expanded to the repeat count and copied; the gradient sums the tiles back."""

    @staticmethod
    def forward(ctx, x, sizes):
        shape = (1,) * (len(sizes) - x.dim()) + x._shape
        ctx.sizes, ctx.shape, ctx.in_shape = sizes, shape, x._shape
        xe = reshape(x, [v for s in shape for v in (1, s)])
        xe = expand(xe, [v for r, s in zip(sizes, shape) for v in (r, s)])
        return reshape(clone(xe), tuple(r * s for r, s in zip(sizes, shape)))  # always a copy, as in PyTorch

    @staticmethod
    def backward(ctx, g):
        tiles = reshape(g, [v for r, s in zip(ctx.sizes, ctx.shape) for v in (r, s)])
        return reshape(tiles.sum(tuple(range(0, 2 * len(ctx.sizes), 2))), ctx.in_shape), None


def repeat(x, *sizes):
    sizes = _sizes(sizes)
    if len(sizes) < x.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    return Repeat.apply(x, tuple(sizes))


def tile(x, *dims):
    dims = _sizes(dims)
    if len(dims) < x.dim():
        dims = (1,) * (x.dim() - len(dims)) + dims
    return repeat(x, dims)


class Roll(Function):
    """Shift elements along dims, wrapping around (PyTorch's ``RollBackward0``): two slices concatenated per
    shifted dim, always a new tensor; the gradient is ``g`` rolled back."""

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims, ctx.shape = shifts, dims, x._shape
        if dims is None:
            return _roll(flatten(x), shifts, (0,)).view(x._shape)
        return _roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        return roll(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def _roll(x, shifts, dims):
    copied = False
    for s, d in zip(shifts, dims):
        d = wrap_dim(d, x.dim())
        n = x._shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            x = cat([narrow(x, d, n - s, s), narrow(x, d, 0, n - s)], d)
            copied = True
    return x if copied else clone(x)


def roll(x, shifts, dims=None):
    """Shift elements along dims, wrapping around; always a new tensor (never ``x`` or a view of it)."""
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    if dims is not None:
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if len(shifts) != len(dims):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(x, shifts, dims)


# ---- pixel shuffle: depth to space and back (sub-pixel convolution, pytorch/examples' super_resolution) ----
def _check_pixel(name, x, factor, what):
    if factor <= 0:
        raise RuntimeError(f"{name} expects a positive {what}, but got {factor}")
    if x.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input with {x.dim()} "
                           f"dimension(s)")


class PixelShuffle(Function):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)``: channel ``c r^2 + i r + j`` becomes pixel ``(i, j)`` of each r x r
    block, a reshape, a permute and a copy; the backward is the inverse, ``pixel_unshuffle``."""

    @staticmethod
    def forward(ctx, x, r):
        ctx.r = r
        *lead, c, h, w = x._shape
        y = x.reshape(*lead, c // (r * r), r, r, h, w)
        n = len(lead)
        y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, r, W, r)
        return y.contiguous().reshape(*lead, c // (r * r), h * r, w * r)

    @staticmethod
    def backward(ctx, g):
        return pixel_unshuffle(g, ctx.r), None


class PixelUnshuffle(Function):
    """``(*, C, H r, W r) -> (*, C r^2, H, W)``, the inverse of ``pixel_shuffle`` (its backward)."""

    @staticmethod
    def forward(ctx, x, r):
        ctx.r = r
        *lead, c, hr, wr = x._shape
        h, w = hr // r, wr // r
        y = x.reshape(*lead, c, h, r, w, r)
        n = len(lead)
        y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
        return y.contiguous().reshape(*lead, c * r * r, h, w)

    @staticmethod
    def backward(ctx, g):
        return pixel_shuffle(g, ctx.r), None


def pixel_shuffle(input, upscale_factor):
    _check_pixel("pixel_shuffle", input, upscale_factor, "upscale_factor")
    r, c = upscale_factor, input._shape[-3]
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    return PixelShuffle.apply(input, r)


def pixel_unshuffle(input, downscale_factor):
    _check_pixel("pixel_unshuffle", input, downscale_factor, "downscale_factor")
    r = downscale_factor
    for what, d in (("height", -2), ("width", -1)):
        if input._shape[d] % r:
            raise RuntimeError(f"pixel_unshuffle expects {what} to be divisible by downscale_factor, but "
                               f"input.size({d})={input._shape[d]} is not divisible by {r}")
    return PixelUnshuffle.apply(input, r)
