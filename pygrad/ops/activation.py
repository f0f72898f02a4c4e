"""Activations and other pointwise layers of ``nn.functional``.

Most are short compositions of tensor ops, which need no backward of their own.  The ones PyTorch records
as a node of their own (``LeakyReluBackward0``, ``EluBackward0``, ``SoftplusBackward0``, ...) are a
``Function`` here too, so a printed ``grad_fn`` reads as in PyTorch: the forward is the same formula run
without a graph, the backward its derivative written with tensor ops (so it can be differentiated again).
"""
import math

import numpy as np

from .. import _core
from .. import dtypes as D
from ..autograd.function import Function


def _numel(shape):
    """Elements of a shape (a tuple or a list)."""
    return _core.numel(tuple(shape))


def _tensor_input(fn):
    """PyTorch's TypeError for a non-tensor ``input`` (not an AttributeError from deep inside)."""
    import functools

    @functools.wraps(fn)
    def wrapper(input, *args, **kwargs):
        if not hasattr(input, "_storage"):
            raise TypeError(f"{fn.__name__}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        return fn(input, *args, **kwargs)

    return wrapper


@_tensor_input
def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


@_tensor_input
def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


class LeakyRelu(Function):
    """``x`` where ``x > 0``, else ``negative_slope * x``; gradient ``g`` or ``negative_slope * g``."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.slope = slope
        ctx.save_for_backward(x)
        return x.where(x > 0, x * slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g.where(x > 0, g * ctx.slope), None


class Elu(Function):
    """``scale * x`` where ``x > 0``, else ``scale * alpha * (exp(x) - 1)`` (elu: scale 1; selu: PyTorch's
    constants, the same node); gradient ``scale * g`` or ``scale * alpha * exp(x) * g``."""

    @staticmethod
    def forward(ctx, x, alpha, scale):
        ctx.alpha, ctx.scale = alpha, scale
        ctx.save_for_backward(x)
        return x.where(x > 0, (x.clamp(max=0).exp() - 1) * alpha) * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        gs = g * ctx.scale
        return gs.where(x > 0, gs * ctx.alpha * x.clamp(max=0).exp()), None, None


@_tensor_input
def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = LeakyRelu.apply(input, negative_slope)
    return input.copy_(out) if inplace else out


def elu(input, alpha=1.0, inplace=False):
    out = Elu.apply(input, alpha, 1.0)
    return input.copy_(out) if inplace else out


def selu(input, inplace=False):
    out = Elu.apply(input, 1.6732632423543772, 1.0507009873554805)
    return input.copy_(out) if inplace else out


def gelu(input, approximate="none"):
    """x * Φ(x); ``approximate='tanh'`` uses 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    from .elementwise import UNARY_OPS

    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f'"GeluKernelImpl" not implemented for \'{_type_word(input.dtype)}\'')
    return UNARY_OPS["gelu_tanh" if approximate == "tanh" else "gelu"].apply(input)


def _type_word(d):
    from .reduce import _torch_type_word

    return _torch_type_word(d)


def silu(input, inplace=False):
    """x * sigmoid(x), one op (``SiluBackward0``)."""
    from .elementwise import UNARY_OPS

    if not input.dtype.is_floating_point:
        raise RuntimeError(f'"silu" not implemented for \'{_type_word(input.dtype)}\'')
    out = UNARY_OPS["silu"].apply(input)
    return input.copy_(out) if inplace else out


class Mish(Function):
    """``x * tanh(softplus(x))``; gradient ``g (t + x sigmoid(x) (1 - t^2))`` with ``t = tanh(softplus(x))``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * softplus(x).tanh()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = softplus(x).tanh()
        return g * (t + x * x.sigmoid() * (1 - t * t))


def mish(input, inplace=False):
    out = Mish.apply(input)
    return input.copy_(out) if inplace else out


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


class Hardtanh(Function):
    """``x`` clamped to ``[min_val, max_val]``; gradient ``g`` strictly inside, 0 at and past the bounds."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g.where((x > ctx.lo) & (x < ctx.hi), g.new_zeros(())), None, None


class Hardsigmoid(Function):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between; gradient ``g / 6`` strictly between."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x + 3).clamp(0.0, 6.0) / 6

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g / 6).where((x > -3) & (x < 3), g.new_zeros(()))


class Hardswish(Function):
    """``x * relu6(x + 3) / 6``; gradient 0 below -3, ``g`` above 3, ``g (2x + 3) / 6`` between."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * (x + 3).clamp(0.0, 6.0) / 6

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mid = g * (x * 2 + 3) / 6
        return g.new_zeros(()).where(x < -3, g.where(x > 3, mid))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    out = Hardtanh.apply(input, min_val, max_val)
    return input.copy_(out) if inplace else out


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    out = Hardsigmoid.apply(input)
    return input.copy_(out) if inplace else out


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    out = Hardswish.apply(input)
    return input.copy_(out) if inplace else out


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), with one slope per channel (dim 1) or a single shared one."""
    w = weight.reshape((-1,) + (1,) * (input.dim() - 2)) if input.dim() >= 2 and weight.numel() > 1 else weight
    return input.where(input > 0, input * w)


class Softplus(Function):
    """``log(1 + exp(βx)) / β``, ``x`` itself where ``βx > threshold``; gradient ``g sigmoid(βx)`` (``g`` past
    the threshold)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(x)
        scaled = x * beta
        return x.where(scaled > threshold, (scaled.clamp(max=threshold).exp()).log1p() / beta)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        scaled = x * ctx.beta
        return g.where(scaled > ctx.threshold, g * scaled.sigmoid()), None, None


class LogSigmoid(Function):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``; gradient ``g sigmoid(-x)``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return -((-x.abs()).exp().log1p() + (-x).clamp(min=0))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (-x).sigmoid()


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(βx)) / β, linear above ``threshold`` for numerical stability."""
    return Softplus.apply(input, beta, threshold)


def logsigmoid(input):
    return LogSigmoid.apply(input)


def softsign(input):
    return input / (input.abs() + 1)


def _softmax_dim(name, ndim, stacklevel):
    """PyTorch's (deprecated) implicit dim of ``F.softmax(x)``: 0 for 0-, 1- and 3-d inputs, else 1, with its
    warning: a 3-d (C, H, W) image normalises over channels, a 4-d batch over dim 1."""
    import warnings

    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                  "an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return (-input).softmax(dim, dtype=dtype)


def _dropout_noise(input, shape, p):
    """PyTorch's CPU dropout noise: ``empty(shape).bernoulli_(1 - p).div_(1 - p)`` from the CPU generator
    (the same draws as PyTorch); on an OpenCL device, the device's Philox stream."""
    from ..random import _bernoulli_values, bernoulli, rand

    if input.device.type != "cpu":
        if input.dtype is D.float32:  # the same mask in one kernel (uniform, >= p and / (1 - p) fused)
            from ..random import _on_device

            return _on_device("dropout", shape, input.dtype, p, 1 - p, None, input.device)
        keep = rand(shape, dtype=input.dtype, device=input.device) >= p
        return keep.to(input.dtype) / (1 - p)
    dense = tuple(shape) != tuple(input._shape) or input.is_contiguous() or input.numel() <= 1
    if dense and input.dtype in (D.float32, D.float64):
        # the same draws and values as bernoulli(...) / (1 - p), in one pass (no float mask, no Div op)
        from ..runtime import cpu

        keep = _bernoulli_values(_numel(shape), 1 - p, None).reshape(shape)
        return cpu.wrap(np.divide(keep, input.dtype.np.type(1 - p), dtype=input.dtype.np), input.dtype)
    noise = bernoulli(shape, input.dtype, 1 - p)
    if tuple(shape) == tuple(input._shape) and not input.is_contiguous() and input.numel() > 1:
        from .inplace import _memory_order_fill

        noise = _memory_order_fill(input, noise, dense_only=True)  # empty_like keeps a dense input's strides
    return noise / (1 - p)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (only in training)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0) if inplace else input * 0
    out = NativeDropout.apply(input, _dropout_noise(input, input._shape, p))
    return input.copy_(out) if inplace else out


class NativeDropout(Function):
    """``x * mask`` with the mask already scaled by ``1 / (1 - p)`` (PyTorch's ``NativeDropoutBackward0``);
    the gradient is ``g * mask``."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Drop whole channels: one mask value per (N, C) feature map."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    shape = input._shape[:-2] + (1, 1)
    out = input * _dropout_noise(input, shape, p)
    return input.copy_(out) if inplace else out


def linear(input, weight, bias=None):
    """y = x Wᵀ + b, with W of shape (out_features, in_features)."""
    if input._shape[-1] != weight._shape[-1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_rows(input)}x{input._shape[-1]} and "
                           f"{weight._shape[-1]}x{weight._shape[0]})")
    if bias is not None and weight.dim() == 2 and (input.dim() <= 2 or input.is_contiguous()) and input.dim():
        # One addmm (PyTorch's AddmmBackward0): other shapes are flattened to 2-D and viewed back.
        from .linalg import addmm

        if input.dim() == 2:
            return addmm(bias, input, weight.t())
        out = addmm(bias, input.view(-1, input._shape[-1]), weight.t())
        return out.view(*input._shape[:-1], weight._shape[0])
    out = input @ weight.t()
    return out + bias if bias is not None else out


def _rows(x):
    n = 1
    for s in x._shape[:-1]:
        n *= s
    return n


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1ᵀ W_k x2 + b_k, with W of shape (out, in1, in2)."""
    out = ((input1.unsqueeze(-2).unsqueeze(-2) @ weight) @ input2.unsqueeze(-2).unsqueeze(-1))
    out = out.squeeze(-1).squeeze(-1)
    return out + bias if bias is not None else out


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (max + 1 when -1)."""
    from ..creation import arange

    if tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    if tensor.numel() and (int(tensor.min().item()) < 0 or int(tensor.max().item()) >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes." if tensor.numel() and
                           int(tensor.min().item()) >= 0 else "Class values must be non-negative.")
    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).long()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by integer ``input``; the ``padding_idx`` row gets no gradient."""
    if input.dtype.is_floating_point:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding)")
    from .dispatch import check_same_device

    check_same_device(weight, input)  # PyTorch: "... (when checking argument for argument index ...)"
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight._shape[0]
    return Embedding.apply(weight, input, padding_idx, scale_grad_by_freq)


class Embedding(Function):
    """Rows of ``weight`` picked by integer ``indices`` (PyTorch's ``EmbeddingBackward0``).  The weight's gradient
    adds each output row's gradient into the row it was picked from (``scatter_add``): nothing into
    ``padding_idx``, and with ``scale_grad_by_freq`` each divided by how often its index occurs in the batch."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.rows, ctx.pad, ctx.by_freq = weight._shape[0], padding_idx, scale_grad_by_freq
        ctx.save_for_backward(indices)
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        flat = indices.reshape(-1)
        gd = g.reshape(flat.numel(), -1)
        if ctx.pad is not None:
            gd = gd.masked_fill((flat == ctx.pad).unsqueeze(1), 0)
        if ctx.by_freq:
            counts = gd.new_zeros((ctx.rows,)).scatter_add(0, flat, gd.new_ones(flat._shape))
            gd = gd / counts[flat].unsqueeze(1)
        rows = flat.unsqueeze(1).expand(flat.numel(), gd._shape[1])
        return gd.new_zeros((ctx.rows, gd._shape[1])).scatter_add(0, rows, gd), None, None, None


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """In place, without gradient: rescale the looked-up rows whose norm exceeds ``max_norm`` to it."""
    from ..autograd.grad_mode import no_grad

    with no_grad():
        norms = weight.norm(norm_type, 1, keepdim=True)
        used = weight.new_zeros((weight._shape[0], 1), dtype=D.bool_)
        used[input.reshape(-1)] = True
        weight.mul_((max_norm / (norms + 1e-7)).where(used & (norms > max_norm), weight.new_ones(())))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    n1 = (x1 * x1).sum(dim).sqrt().clamp(min=eps)
    n2 = (x2 * x2).sum(dim).sqrt().clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(Q Kᵀ / √d + mask) V, with a boolean mask (True = attend) or an additive float mask."""
    from ..creation import ones

    d = query._shape[-1]
    scores = (query @ key.mT) * (scale if scale is not None else 1.0 / math.sqrt(d))
    if is_causal:
        L, S = query._shape[-2], key._shape[-2]
        causal = ones((L, S), dtype=D.bool_, device=query.device)
        causal = _tril(causal)
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype is D.bool_ else scores + attn_mask
    attn = scores.softmax(-1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p)
    return attn @ value


def _tril(mask):
    from ..creation import arange

    L, S = mask._shape
    return mask & (arange(S, device=mask.device).unsqueeze(0) <= arange(L, device=mask.device).unsqueeze(1))
