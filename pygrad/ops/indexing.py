"""Indexing: ``x[...]`` reads and writes, ``gather``/``scatter``, ``index_select``, ``nonzero``.

Two kinds of indexing, as in NumPy and PyTorch:

* *basic* (ints, slices, ``None``, ``...``): pure layout arithmetic in ``_core.parse_index``; the
  result is a view sharing storage, and writing to it writes to ``x``;
* *advanced* (integer lists/tensors, bool masks): ``_core.advanced_offsets`` turns the index arrays
  into the storage offset of every picked element; reading *gathers* those elements into a new
  tensor, writing *scatters* values to them (``index_put_(accumulate=True)`` sums repeats).
"""
import numpy as np

from .. import _core
from .. import dtypes as D
from ..autograd.function import Function
from .dispatch import backend_of, check_same_device
from .movement import wrap_dim


def _index_item(item):
    """Convert one index item to what ``_core.parse_index`` accepts (ints, slices, None, ..., arrays)."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        if isinstance(item, slice):
            return slice(*(_as_int(v) for v in (item.start, item.stop, item.step)))
        return item
    if isinstance(item, (bool, np.bool_)):
        return np.array(bool(item))
    if isinstance(item, (int, np.integer)):
        return int(item)
    if hasattr(item, "_storage"):
        if item.dtype is D.bool_ or item.dtype is D.uint8 and item.dim() > 0:
            return np.asarray(item._host(), dtype=np.bool_)
        if item.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if item.dim() == 0:
            return int(item.item())
        return np.asarray(item._host())
    if isinstance(item, range):  # a range is a sequence of ints: an integer-array index, as in PyTorch
        item = np.arange(item.start, item.stop, item.step, dtype=np.int64)
    if isinstance(item, (list, tuple, np.ndarray)):
        arr = np.asarray([_as_int(v) if hasattr(v, "_storage") else v for v in item]
                         if isinstance(item, (list, tuple)) else item)
        if arr.size == 0 and arr.dtype.kind != "b":
            arr = arr.astype(np.int64)  # [] is an empty integer index, not a float one
        if arr.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if arr.dtype.kind not in "iub" and arr.size:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             f"Variables are valid indices (got {type(item).__name__})")
        return arr.astype(np.int64) if arr.dtype.kind != "b" else arr
    try:
        return int(item.__index__())
    except AttributeError:
        raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                         f"valid indices (got {type(item).__name__})") from None


def _as_int(v):
    if v is None or isinstance(v, int):
        return v
    if hasattr(v, "_storage"):
        return int(v.item())
    if not hasattr(v, "__index__"):
        raise TypeError("slice indices must be integers or None or have an __index__ method")
    return int(v.__index__())


def _normalize(index):
    if not isinstance(index, tuple):
        index = (index,)
    return tuple(_index_item(i) for i in index)


def _check_index_devices(x, index):
    """Index tensors may live on the CPU or on ``x``'s device (PyTorch's rule for ``x[idx]``)."""
    for it in (index if isinstance(index, tuple) else (index,)):
        if hasattr(it, "_storage"):
            d = it._storage.device
            if d.type != "cpu" and d != x._storage.device:
                raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed "
                                   f"tensor ({x._storage.device})")


def _resolve(x, index):
    """Parse ``index`` against ``x``: returns (view layout, advanced list, normalized index)."""
    _check_index_devices(x, index)
    items = _normalize(index)
    shape, strides, offset, adv = _core.parse_index(x._shape, x._strides, x._offset, items)
    return (shape, strides, offset), adv, items


class IndexView(Function):
    """Basic indexing: the result is a view; backward writes the gradient into zeros at the index."""

    node_name = "SliceBackward0"

    @staticmethod
    def forward(ctx, x, layout, items):
        ctx.in_shape, ctx.items = x._shape, items
        return x._view(*layout)

    @staticmethod
    def backward(ctx, g):
        z = g.new_zeros(ctx.in_shape)
        z[ctx.items] = g
        return z, None, None


# PyTorch names a basic index's node after its last item that does something (a full ``:`` does not)
class IndexSelect(IndexView):
    node_name = "SelectBackward0"


class IndexUnsqueeze(IndexView):
    node_name = "UnsqueezeBackward0"


class IndexAlias(IndexView):
    node_name = "AliasBackward0"


def _view_op(items):
    for item in reversed(items):
        if isinstance(item, int):
            return IndexSelect
        if item is None:
            return IndexUnsqueeze
        if isinstance(item, slice) and item != slice(None):
            return IndexView
    return IndexView if any(isinstance(item, slice) for item in items) else IndexAlias


class Index(Function):
    """Advanced indexing: gather the picked elements; backward scatter-adds (repeats accumulate)."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, layout, adv, items):
        if layout is None:  # one device index tensor (_device_take): adv is (dim, index)
            offsets = backend_of(x).offsets_take(x, *adv)
        else:
            rshape, offsets = _core.advanced_offsets(*layout, adv)
        ctx.in_shape, ctx.items = x._shape, items
        return backend_of(x).gather(x, offsets)

    @staticmethod
    def backward(ctx, g):
        return IndexPut.apply(g.new_zeros(ctx.in_shape), ctx.items, g, True), None, None, None


class IndexPut(Function):
    """A copy of ``x`` with ``out[index] = value`` (``+= value`` with accumulate: repeated places sum).

    Gradients: ``g`` for ``x``, with zeros where it was overwritten (unless accumulating), and
    ``g[index]`` for ``value`` (summed back to its shape when it was broadcast).
    """

    _builtin = True

    @staticmethod
    def forward(ctx, x, index, value, accumulate):
        ctx.index, ctx.accumulate, ctx.vshape = index, accumulate, value._shape
        out = x.clone()
        _write(out, index, value.to(x.dtype), accumulate)
        return out

    @staticmethod
    def backward(ctx, g):
        from .movement import sum_to_shape

        gx = g if ctx.accumulate else IndexPut.apply(g, ctx.index, g.new_zeros(()), False)
        gv = sum_to_shape(g[ctx.index], ctx.vshape) if ctx.needs_input_grad[2] else None
        return gx, None, gv, None


def _device_take(x, index):
    """``(k, idx)`` when ``index`` is one integer tensor on x's device (not the CPU) at dim k, alone or
    among full slices (``x[idx]``, ``x[:, idx]``): its offsets are then computed on the device."""
    if x.device.type == "cpu":
        return None
    items = index if isinstance(index, tuple) else (index,)
    pos = [i for i, it in enumerate(items) if hasattr(it, "_storage")]
    if len(pos) != 1 or len(items) > x.dim():
        return None
    k, idx = pos[0], items[pos[0]]
    if idx.dtype not in (D.int64, D.int32) or idx.dim() == 0 or idx.device != x.device:
        return None
    if any(not (isinstance(it, slice) and it == slice(None)) for i, it in enumerate(items) if i != k):
        return None
    return k, idx


def getitem(x, index):
    take = _device_take(x, index)
    if take is not None:
        return Index.apply(x, None, take, index)
    layout, adv, items = _resolve(x, index)
    if not adv:
        return _view_op(items).apply(x, layout, items)
    return Index.apply(x, layout, adv, items)


def _bump(x):
    x._storage.version += 1


def _value_tensor(x, value):
    if hasattr(value, "_storage"):
        return value
    if isinstance(value, (int, float, bool, np.number, np.bool_)):
        return x.new_full((), value)
    from ..creation import tensor

    return tensor(value, dtype=x.dtype, device=x.device)


def setitem(x, index, value):
    from .inplace import record_setitem

    value = _value_tensor(x, value)
    lead = 0
    while lead < value.dim() and value._shape[lead] == 1:
        lead += 1
    if lead:  # PyTorch drops the value's leading size-1 dims first: x[1] = ones(1, 1) for x of shape (3,)
        value = value.reshape(value._shape[lead:])
    if record_setitem(x, index, value, accumulate=False):
        return
    _write(x, index, value, accumulate=False)


def _write(x, index, value, accumulate):
    """The data side of ``x[index] = value`` / ``index_put_``: copy into a view, or scatter."""
    if value.device != x.device:
        raise RuntimeError(f"expected value on device {x.device} but got {value.device}")
    take = _device_take(x, index)
    if take is not None:
        offsets = backend_of(x).offsets_take(x, *take)
        _check_value_shape(value, offsets._shape)
        backend_of(x).scatter(x, offsets, value, accumulate)
        _bump(x)
        return
    layout, adv, items = _resolve(x, index)
    if not adv and not accumulate:
        target = x._view(*layout)
        _check_value_shape(value, target._shape)
        backend_of(x).copy_(target, value)
    else:
        rshape, offsets = _core.advanced_offsets(*layout, adv) if adv else (layout[0], _dense_offsets(layout))
        _check_value_shape(value, rshape)
        backend_of(x).scatter(x, offsets, value, accumulate)
    _bump(x)


def _check_value_shape(value, rshape):
    try:
        _core.expand_strides(value._shape, value._strides, rshape)
    except RuntimeError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value._shape)} cannot be broadcast "
                           f"to indexing result of shape {list(rshape)}") from None


def _dense_offsets(layout):
    shape, strides, offset = layout
    return _core.advanced_offsets(shape, strides, offset, [])[1]


def index_put_(x, indices, values, accumulate=False, _raw=False):
    from .inplace import check_inplace, record_setitem

    values = _value_tensor(x, values)
    if not _raw:
        check_inplace(x)
        if record_setitem(x, tuple(indices), values, accumulate):
            return x
    _write(x, tuple(indices), values, accumulate)
    return x


def index_put(x, indices, values, accumulate=False):
    return IndexPut.apply(x, tuple(indices), _value_tensor(x, values), accumulate)


def _gather_offsets(x, dim, index, name):
    """Storage offsets for ``x.gather(dim, index)``: index picks along ``dim``, aranges elsewhere.

    The shapes are checked here; the offsets are computed by x's backend (NumPy on the CPU, a kernel
    on a device, so the index never travels to the host)."""
    if index.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.dim() != x.dim():
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    check_same_device(x, index)
    d = wrap_dim(dim, max(x.dim(), 1))
    for k in range(x.dim()):
        if k != d and index._shape[k] > x._shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(index._shape)} to be "
                               f"smaller than self {list(x._shape)} apart from dimension {d}")
    if x.device.type != "cpu":  # checked on the device, raised at the next sync: as a RuntimeError here
        return backend_of(x).offsets_along_dim(x, d, index, exc=RuntimeError)
    try:
        return backend_of(x).offsets_along_dim(x, d, index)
    except IndexError as e:  # an index value out of range is a RuntimeError here, as in PyTorch
        raise RuntimeError(str(e)) from None


class Gather(Function):
    """``out[i][j] = x[index[i][j]][j]`` (dim=0); backward scatter-adds the gradient back."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.shape = dim, x._shape
        ctx.save_for_backward(index)
        return backend_of(x).gather(x, _gather_offsets(x, dim, index, "gather"))

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        return g.new_zeros(ctx.shape).scatter_add(ctx.dim, index, g), None, None


def gather(x, dim, index, *, sparse_grad=False):
    return Gather.apply(x, dim, index)


class Scatter(Function):
    """Out-of-place ``scatter``/``scatter_add``: a copy of ``x`` with ``src`` written at ``index``."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dim, index, src, accumulate):
        out = x.clone()
        offs = _gather_offsets(out, dim, index, "scatter")
        ctx.src_shape = src._shape if hasattr(src, "_storage") else None
        if hasattr(src, "_storage"):
            src = src[tuple(slice(0, n) for n in index._shape)] if src._shape != index._shape else src
        backend_of(x).scatter(out, offs, src, accumulate)
        ctx.dim, ctx.accumulate = dim, accumulate
        ctx.save_for_backward(index)
        return out

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        gx = g if ctx.accumulate else g.scatter(ctx.dim, index, 0)
        gsrc = g.gather(ctx.dim, index)
        if ctx.src_shape is not None and ctx.src_shape != gsrc._shape:  # src larger than index: only its corner was used
            gsrc = index_put(gsrc.new_zeros(ctx.src_shape), tuple(slice(0, n) for n in index._shape), gsrc)
        return gx, None, None, gsrc, None


def _scatter_args(x, index, src):
    """PyTorch accepts a 0-d index (and src) for a 0-d or 1-d input: it is the 1-element index [i]."""
    if hasattr(index, "_storage") and index.dim() == 0 and x.dim() <= 1:
        index = index.reshape(1)
        if hasattr(src, "_storage") and src.dim() == 0:
            src = src.reshape(1)
    return index, src


def scatter(x, dim, index, src=None, value=None, *, reduce=None):
    """Copy of ``x`` with ``src`` (a tensor, or the number ``value``) written at ``index`` along ``dim``;
    ``reduce="add"`` / ``"multiply"`` combines with what is there instead of overwriting."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' (or keyword 'value')")
    index, src = _scatter_args(x, index, src)
    if reduce is not None:
        if reduce == "add":
            return Scatter.apply(x, dim, index, src, True)
        if reduce == "multiply":  # x * (ones with src multiplied in at index); no gradient, as in PyTorch
            return x * _scatter_mul_loop(x.new_ones(x._shape), dim, index, src)
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    return Scatter.apply(x, dim, index, src, False)


def _scatter_mul_loop(factor, dim, index, src):
    """Multiply ``src`` into ``factor`` at ``index`` one element at a time (repeated indices multiply)."""
    idx = np.asarray(index._host())
    f = factor.cpu().numpy().copy()
    sv = np.asarray(src._host()) if hasattr(src, "_storage") else None
    for pos in np.ndindex(*idx.shape):
        target = list(pos)
        target[dim] = int(idx[pos])
        f[tuple(target)] *= sv[pos] if sv is not None else src
    from ..creation import tensor

    return tensor(f, dtype=factor.dtype, device=factor.device)


def scatter_(x, dim, index, src=None, value=None, *, reduce=None):
    """In-place ``scatter``."""
    from .inplace import _inplace

    return _inplace(lambda t, *a: scatter(t, dim, index, src, value, reduce=reduce))(x)


def scatter_add(x, dim, index, src):
    index, src = _scatter_args(x, index, src)
    return Scatter.apply(x, dim, index, src, True)


def scatter_add_(x, dim, index, src):
    from .inplace import _inplace

    return _inplace(lambda t: scatter_add(t, dim, index, src))(x)


def index_select(x, dim, index):
    if index.dim() > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    check_same_device(x, index)
    d = wrap_dim(dim, x.dim())
    items = (slice(None),) * d + (index.reshape(-1),)
    take = _device_take(x, items)
    if take is not None:  # checked on the device: a bad value raises at the next sync, as the CPU's error
        return Index.apply(x, None, take + (RuntimeError, "index_select(): "), items)
    try:
        return getitem(x, items)
    except IndexError as e:  # PyTorch reports a bad index value as a RuntimeError here
        raise RuntimeError(f"index_select(): {e}") from None


def masked_select(x, mask):
    from .movement import broadcast_tensors

    if mask.dtype is not D.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    xb, mb = broadcast_tensors(x, mask)
    return getitem(xb, mb)


def nonzero(x, *, as_tuple=False):
    idx = np.nonzero(x._host()) if x.dim() else np.nonzero(x._host().reshape(1))
    from ..runtime import cpu

    cols = [cpu.wrap(np.asarray(i, dtype=np.int64), D.int64).to(x.device) for i in idx]
    if as_tuple:
        return tuple(cols)
    if x.dim() == 0:  # one row per nonzero element (0 or 1), no columns
        return cpu.wrap(np.zeros((int(bool(x.item())), 0), dtype=np.int64)).to(x.device)
    from .movement import stack

    return stack(cols, 1)


def put_(x, index, source, accumulate=False):
    flat = index.reshape(-1)
    n = x.numel()
    i = np.asarray(flat._host())
    if i.size and (i.min() < -n or i.max() >= n):
        raise IndexError(f"out of range: tried to access index {int(i.max()) if i.max() >= n else int(i.min())} "
                         f"on a tensor of {n} elements.")
    i = np.where(i < 0, i + n, i)
    coords = np.unravel_index(i, x._shape) if x.dim() else (i * 0,)
    index_put_(x, tuple(np.asarray(c) for c in coords) if x.dim() else (), source.reshape(-1), accumulate)
    return x
