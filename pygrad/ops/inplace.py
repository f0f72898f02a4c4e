"""In-place ops (``add_``, ``copy_``, ``x[i] = v``, ...): compute, write into ``x``'s storage, bump its version.

Each in-place op is its out-of-place twin followed by a copy into ``x``.  When autograd is
recording, the twin runs on ``x.clone()`` (so the values it saves for backward are not the ones
being overwritten) and ``x`` takes over the twin's ``grad_fn``: its history is *rebased* on the new
node, which is how ``y = x * 1; y.add_(1)`` stays differentiable.  Every write bumps the storage's
version counter, which is how backward notices a saved tensor that was modified afterwards.

Writing into a *view* changes its base too (as PyTorch's CopySlices does): the base's history gets a
``CopySlices`` node, "the old base with the view's elements replaced by the result", and the view
becomes an ``as_strided`` view of that new history.  Another view of the same storage, written
through some other alias, gets the same fresh history the next time it is used (``refresh_view``).
"""
from ..autograd import grad_mode
from .dispatch import backend_of


def check_inplace(x):
    """PyTorch forbids in-place changes to a leaf that requires grad (or a view of one) while grad mode is on."""
    if not grad_mode.is_grad_enabled():
        return
    if x.requires_grad and x.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if x._base is not None and x._base.requires_grad and x._base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


def _recording(x, *others):
    return grad_mode.is_grad_enabled() and (
        x.requires_grad or any(getattr(o, "requires_grad", False) for o in others))


def _assign(x, result):
    """Write ``result`` into ``x``: check the dtype cast is allowed, copy, bump version, rebase history."""
    if result.dtype is not x.dtype and not _can_cast(result.dtype, x.dtype):
        raise RuntimeError(f"result type {_word(result.dtype)} can't be cast to the desired output type "
                           f"{_word(x.dtype)}")
    if result._shape != x._shape:
        from .. import _core

        try:
            _core.expand_strides(result._shape, result._strides, x._shape)
        except RuntimeError:
            raise RuntimeError(f"output with shape {list(x._shape)} doesn't match the broadcast shape "
                               f"{list(result._shape)}") from None
    if any(stride == 0 and size > 1 for size, stride in zip(x._shape, x._strides)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    backend_of(x).copy_(x, result)
    x._storage.version += 1
    if result.grad_fn is not None:
        if x._base is not None:
            _rebase_view(x, result)
        else:
            x.grad_fn, x._output_nr, x.requires_grad = result.grad_fn, result._output_nr, True
    return x


def _rebase_view(x, result):
    """``x``, a view of ``base``, now holds ``result``: that is a change of ``base``, so ``base``'s history
    gets a CopySlices node (base with the view's elements replaced by ``result``) and ``x`` becomes a
    view of that new history."""
    from .movement import storage_positions

    base = x._base
    layout = (x._shape, x._strides, x._offset)
    positions = storage_positions((base._shape, base._strides, base._offset), base._storage.size, layout)
    new_base = CopySlices.apply(base, result, positions)
    base.grad_fn, base._output_nr, base.requires_grad = new_base.grad_fn, new_base._output_nr, True
    refresh_view(x)


def refresh_view(x):
    """Give view ``x`` a fresh history: an ``as_strided`` view of its base's current history.

    The engine calls this for a view whose storage was written since its history was recorded (through
    another view, or the base), so gradients see the values the view holds now, as in PyTorch.
    """
    from .movement import AsStrided

    base = x._base
    layout = (x._shape, x._strides, x._offset)
    with grad_mode.enable_grad():  # also when reached from a backward() called under no_grad
        view = AsStrided.apply(base, layout, ((base._shape, base._strides, base._offset), base._storage.size, layout))
    x.grad_fn, x._output_nr, x.requires_grad = view.grad_fn, view._output_nr, view.requires_grad
    x.__dict__["_view_version"] = x._storage.version


def _can_cast(src, dst):
    return src.category <= dst.category


def _word(d):
    from .reduce import _torch_type_word

    return _torch_type_word(d)


def _inplace(fn):
    """Turn ``fn(x, *args)`` (out of place) into its in-place version."""

    def method(x, *args, **kwargs):
        check_inplace(x)
        if _recording(x, *args):
            return _assign(x, fn(x.clone(), *args, **kwargs))
        return _assign(x, fn(x, *args, **kwargs))

    method.__name__ = getattr(fn, "__name__", "op") + "_"
    return method


add_ = _inplace(lambda x, other, alpha=1: x.add(other, alpha=alpha))
sub_ = _inplace(lambda x, other, alpha=1: x.sub(other, alpha=alpha))
mul_ = _inplace(lambda x, other: x * other)
div_ = _inplace(lambda x, other, rounding_mode=None: x.div(other, rounding_mode=rounding_mode))
floor_divide_ = _inplace(lambda x, other: x.floor_divide(other))
pow_ = _inplace(lambda x, e: x ** e)
neg_ = _inplace(lambda x: -x)
abs_ = _inplace(lambda x: x.abs())
exp_ = _inplace(lambda x: x.exp())
sqrt_ = _inplace(lambda x: x.sqrt())
relu_ = _inplace(lambda x: x.relu())
sigmoid_ = _inplace(lambda x: x.sigmoid())
tanh_ = _inplace(lambda x: x.tanh())
floor_ = _inplace(lambda x: x.floor())
round_ = _inplace(lambda x: x.round())
fmod_ = _inplace(lambda x, o: x.fmod(o))
remainder_ = _inplace(lambda x, o: x.remainder(o))
clamp_ = _inplace(lambda x, min=None, max=None: x.clamp(min, max))
clamp_min_ = _inplace(lambda x, min: x.clamp_min(min))
clamp_max_ = _inplace(lambda x, max: x.clamp_max(max))
masked_fill_ = _inplace(lambda x, mask, value: x.masked_fill(mask, value))
addcmul_ = _inplace(lambda x, t1, t2, value=1: x.addcmul(t1, t2, value=value))
addcdiv_ = _inplace(lambda x, t1, t2, value=1: x.addcdiv(t1, t2, value=value))
lerp_ = _inplace(lambda x, end, weight: x.lerp(end, weight))


def copy_(x, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast to ``x``'s dtype, from any device) into ``x``."""
    check_inplace(x)
    if not hasattr(src, "_storage"):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.device != x.device:
        src = src.to(x.device)
    if _recording(x, src):
        r = (src.to(x.dtype) + x.detach() * 0) if src._shape != x._shape else src.to(x.dtype).clone()
        return _assign(x, r)
    if src.dtype is not x.dtype:
        src = src.to(x.dtype)
    backend_of(x).copy_(x, src)
    x._storage.version += 1
    return x


def zero_(x):
    return fill_(x, 0)


def fill_(x, value):
    check_inplace(x)
    v = value if hasattr(value, "_storage") else x.new_full((), value)
    if record_setitem(x, Ellipsis, v):  # x is in a graph: its old values no longer matter
        return x
    backend_of(x).copy_(x, v.to(x.dtype))
    x._storage.version += 1
    return x


def t_(x):
    check_inplace(x)
    t = x.t()
    x._shape, x._strides, x._np = t._shape, t._strides, None
    if t.grad_fn is not None:  # x is now the transpose of what it was
        x.grad_fn, x._output_nr = t.grad_fn, t._output_nr
    return x


def _random_fill(name):
    def method(x, *args, generator=None, **kwargs):
        from .. import random as Rnd

        check_inplace(x)
        on_cpu = x.device.type == "cpu"
        if name in ("uniform", "normal", "random"):
            kwargs["device"] = x.device  # sample where the tensor lives
        dense = x.is_contiguous()
        if name == "normal" and on_cpu:
            kwargs["contiguous"] = dense  # PyTorch's block kernel runs only on contiguous tensors
        r = getattr(Rnd, name)(x._shape, x.dtype, *args, generator=generator, **kwargs)
        if on_cpu and not dense and x.numel() > 1:
            r = _memory_order_fill(x, r)
        return fill_(x, r.to(x.device))

    method.__name__ = name + "_"
    return method


def _memory_order(x, dense_only=False):
    """Row-major indices of ``x``'s elements sorted by storage offset (PyTorch's CPU fill order); None when
    ``dense_only`` and the layout is not a permutation of a dense block (``empty_like`` is contiguous then)."""
    import numpy as np

    offs = np.zeros(x._shape, dtype=np.int64)
    for d, (size, stride) in enumerate(zip(x._shape, x._strides)):
        shape = [1] * len(x._shape)
        shape[d] = size
        offs = offs + (np.arange(size, dtype=np.int64) * stride).reshape(shape)
    flat = offs.reshape(-1)
    order = np.argsort(flat, kind="stable")
    if dense_only and not (np.diff(flat[order]) == 1).all():
        return None
    return order


def _memory_order_fill(x, r, dense_only=False):
    """PyTorch's CPU kernels write the draws of a strided tensor in memory order: reorder ``r`` (draw order).
    With ``dense_only``, a layout that is not a permutation of a dense block keeps the draw order (what
    ``empty_like`` gives such a tensor: a contiguous buffer)."""
    import numpy as np

    from ..runtime import cpu

    order = _memory_order(x, dense_only)
    if order is None:
        return r
    flat = np.asarray(r._host()).reshape(-1)
    out = np.empty_like(flat)
    out[order] = flat
    return cpu.wrap(out.reshape(x._shape), r.dtype)


uniform_ = _random_fill("uniform")
normal_ = _random_fill("normal")
random_ = _random_fill("random")
bernoulli_ = _random_fill("bernoulli")
exponential_ = _random_fill("exponential")


def record_setitem(x, index, value, accumulate=False):
    """``x[index] = value`` (or ``+=``) under autograd: runs an out-of-place IndexPut and rebases ``x``.

    Returns False when nothing needs recording, so the caller does the plain data write.
    """
    if not _recording(x, value):
        return False
    check_inplace(x)
    _assign(x, IndexPut.apply(x, index, value, accumulate))
    return True


from ..autograd.function import Function  # noqa: E402
from .indexing import IndexPut  # noqa: E402


class CopySlices(Function):
    """The new history of a base tensor after an in-place change of one of its views.

    ``forward(base, result, positions)``: base with its elements at ``positions`` (row-major indices, shaped
    like the view) replaced by ``result``; the data was already written through the view.  Gradients:
    ``g`` with zeros at ``positions`` for the old base, ``g`` at ``positions`` for ``result``.
    """

    node_name = "CopySlices"

    @staticmethod
    def forward(ctx, base, result, positions):
        ctx.positions, ctx.shape = positions, base._shape
        return base.detach()

    @staticmethod
    def backward(ctx, g):
        flat = g.reshape(-1)
        g_base = flat.index_put((ctx.positions,), g.new_zeros(())).reshape(ctx.shape)
        return g_base, flat[ctx.positions], None
