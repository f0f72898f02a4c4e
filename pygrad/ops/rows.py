"""Row ops: ``softmax``, ``log_softmax`` and ``layer_norm``, each one fused pass per row on every backend.

A *row* is the set of elements one output element depends on: the elements along ``dim`` for softmax,
the trailing ``normalized_shape`` dims for layer norm.  Each op is one autograd Function whose forward
and backward are each a single backend primitive (``softmax`` / ``softmax_backward``, ``layer_norm`` /
``layer_norm_backward``: NumPy passes on the CPU, ``cl_kernels/rows.cl`` on OpenCL), instead of a
chain of max, subtract, exp, sum and divide ops each reading and writing the whole tensor.

Numerical stability: every row is shifted by its maximum first, and ``log_softmax`` is
``(x - max) - log(sum(exp(x - max)))``: computing ``x - logsumexp(x)`` instead loses everything when
``|x|`` is large (``log_softmax([1e8, 1e8])`` would be ``[0, 0]``, not ``-log 2``).

The backward passes are Functions too (PyTorch's ``SoftmaxBackwardData``), so a graph built with
``create_graph=True`` can be differentiated again.
"""
from ..autograd import grad_mode
from ..autograd.function import Function
from .dispatch import backend_of
from .movement import wrap_dim


def _type_word(d):
    from .reduce import _torch_type_word

    return _torch_type_word(d)


def _row_op_args(x, dim, dtype, name):
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise NotImplementedError(f'"{name}" not implemented for \'{_type_word(x.dtype)}\'')
    return x, wrap_dim(-1 if dim is None else dim, x.dim())


def softmax(x, dim=None, dtype=None, _stacklevel=3):
    """``exp(x - max) / sum(exp(x - max))`` along ``dim`` (default: the last dim)."""
    x, d = _row_op_args(x, dim, dtype, "softmax")
    return Softmax.apply(x, d)


def log_softmax(x, dim=None, dtype=None, _stacklevel=3):
    """``(x - max) - log(sum(exp(x - max)))`` along ``dim`` (default: the last dim)."""
    x, d = _row_op_args(x, dim, dtype, "log_softmax")
    return LogSoftmax.apply(x, d)


def _rows_call(fn, x, *rest, dim):
    """Run a row primitive; a 0-d tensor is a single row of one element."""
    if x.dim() == 0:
        return fn(x.reshape(1), *(t.reshape(1) for t in rest), 0).reshape(())
    return fn(x, *rest, dim)


class Softmax(Function):
    """Forward: one fused pass per row; backward ``y * (g - sum(g * y))`` (``SoftmaxBackwardData``)."""

    _builtin = True
    log = False

    @classmethod
    def forward(cls, ctx, x, dim):
        b = backend_of(x)
        y = _rows_call(lambda t, d: b.softmax(t, d, cls.log), x, dim=dim)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        (y,) = ctx.saved_tensors
        data = LogSoftmaxBackwardData if cls.log else SoftmaxBackwardData
        return data.apply(g, y, ctx.dim), None


class LogSoftmax(Softmax):
    """Forward: one fused pass per row; backward ``g - exp(y) * sum(g)`` (``LogSoftmaxBackwardData``)."""

    _builtin = True
    log = True


class SoftmaxBackwardData(Function):
    """The gradient of softmax as one fused row pass; its own backward is written with tensor ops."""

    _builtin = True
    log = False

    @classmethod
    def forward(cls, ctx, g, y, dim):
        ctx.dim = dim
        ctx.save_for_backward(g, y)
        if g.dtype is not y.dtype:
            g = g.to(y.dtype)
        b = backend_of(y)
        return _rows_call(lambda gg, yy, d: b.softmax_backward(gg, yy, d, cls.log), g, y, dim=dim)

    @staticmethod
    def backward(ctx, h):
        # gx = y * (g - sum(g y)):  d/dg = y (h - sum(h y));  d/dy = h (g - sum(g y)) - g sum(h y)
        g, y = ctx.saved_tensors
        d = ctx.dim
        hy = (h * y).sum(d, keepdim=True)
        gg = y * (h - hy)
        gy = h * (g - (g * y).sum(d, keepdim=True)) - g * hy
        return gg, gy, None


class LogSoftmaxBackwardData(SoftmaxBackwardData):
    """The gradient of log_softmax ``g - exp(y) * sum(g)`` as one fused row pass."""

    _builtin = True
    log = True

    @staticmethod
    def backward(ctx, h):
        # gx = g - exp(y) sum(g):  d/dg = h - sum(h exp(y));  d/dy = -h exp(y) sum(g)
        g, y = ctx.saved_tensors
        d = ctx.dim
        e = y.exp()
        gg = h - (h * e).sum(d, keepdim=True)
        gy = -h * e * g.sum(d, keepdim=True)
        return gg, gy, None


# -- layer norm ------------------------------------------------------------------------------------------------
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` dims of each sample, then ``* weight + bias``."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if input.dim() < k or tuple(input._shape[input.dim() - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of size{list(input._shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p._shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(p._shape)} and normalized_shape = {list(shape)}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f'"LayerNormKernelImpl" not implemented for \'{_type_word(input.dtype)}\'')
    return LayerNorm.apply(input, weight, bias, shape, float(eps))


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


class LayerNorm(Function):
    """``(x - mean) * rstd * weight + bias`` per row, one fused pass; the backward is one pass for the
    input's gradient and one column pass for weight's and bias's."""

    node_name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, shape, eps):
        n = _numel(shape)
        xc = x.contiguous()
        w = weight.to(x.dtype).contiguous() if weight is not None else None
        b = bias.to(x.dtype).contiguous() if bias is not None else None
        y, mean, rstd = backend_of(x).layer_norm(xc, w, b, n, eps)
        ctx.shape, ctx.eps, ctx.n = shape, eps, n
        ctx.wdtype = weight.dtype if weight is not None else None
        ctx.bdtype = bias.dtype if bias is not None else None
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if grad_mode.is_grad_enabled():  # create_graph: a backward that is itself differentiable
            gx, gw, gb = _layer_norm_backward_ops(g, x, weight, ctx.shape, ctx.eps)
        else:
            w = weight.to(x.dtype).contiguous() if weight is not None else None
            gx, gw, gb = backend_of(x).layer_norm_backward(g.to(x.dtype).contiguous(), x.contiguous(), w, mean, rstd,
                                                           ctx.n,
                                                           (need_x, need_w and w is not None, need_b))
            gw = gw.reshape(ctx.shape) if gw is not None else None
            gb = gb.reshape(ctx.shape) if gb is not None else None
        if gw is not None and ctx.wdtype is not None and gw.dtype is not ctx.wdtype:
            gw = gw.to(ctx.wdtype)
        if gb is not None and ctx.bdtype is not None and gb.dtype is not ctx.bdtype:
            gb = gb.to(ctx.bdtype)
        return (gx if need_x else None, gw if need_w else None, gb if need_b else None, None, None)


def _layer_norm_backward_ops(g, x, weight, shape, eps):
    """The layer-norm gradient written with differentiable tensor ops (used under ``create_graph``)."""
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    batch = tuple(range(x.dim() - len(shape)))
    mu = x.mean(dims, keepdim=True)
    xc = x - mu
    rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    xhat = xc * rstd
    gxh = g * weight if weight is not None else g
    gx = rstd * (gxh - gxh.mean(dims, keepdim=True) - xhat * (gxh * xhat).mean(dims, keepdim=True))
    gw = (g * xhat).sum(batch) if batch else g * xhat
    gb = g.sum(batch) if batch else g
    return gx, gw, gb

