"""Normalization layers' math: batch, layer and group norm, and interpolation.

Each normalizes ``(x - mean) / sqrt(var + eps)`` over some dims, then applies an optional affine
``weight * x̂ + bias``.  Batch and group norm are one op each with their own backward (``NativeBatchNorm``,
``NativeGroupNorm``: PyTorch's nodes), layer norm a fused row op (``rows.py``); instance norm is batch norm
over a reshaped input, as in PyTorch.
"""
import numpy as np

from .. import dtypes as D
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from .elementwise import affine


def _normalize(x, dims, eps):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, correction=0)
    return (x - mean) / (var + eps).sqrt(), mean, var


def _channel_shape(x):
    return (1, x._shape[1]) + (1,) * (x.dim() - 2)


class NativeBatchNorm(Function):
    """Batch norm as one op, PyTorch's ``NativeBatchNormBackward0``: the channel statistics (training: ``var_mean``
    of the batch, one fused reduction on OpenCL, also folded into the running statistics; eval: the running
    statistics), then ``y = x * scale + shift`` per channel with ``scale = weight * invstd``,
    ``shift = bias - mean * scale`` and ``invstd = 1 / sqrt(var + eps)`` (one kernel).  Backward, with
    ``xhat = (x - mean) * invstd`` and N values per channel: ``dbias = sum(g)``, ``dweight = sum(g * xhat)``,
    and in training ``dx = weight * invstd * (g - dbias / N - xhat * dweight / N)`` (the statistics depend on
    x), in eval ``dx = g * weight * invstd``: two reductions and two ``affine`` kernels instead of the ~20 ops
    of the composition.  Under ``create_graph`` the same formulas run as tensor ops on statistics computed
    again from x, so a double backward sees how they depend on x."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        from .reduce import _var_and_mean

        dims, cs = (0,) + tuple(range(2, x.dim())), _channel_shape(x)
        n = x.numel() // x._shape[1]
        if training:
            var, mean = _var_and_mean(x, dims, n, True)
            if running_mean is not None:
                m = momentum if momentum is not None else 0.1
                running_mean.mul_(1 - m).add_(mean.reshape(-1) * m)
                running_var.mul_(1 - m).add_(var.reshape(-1) * (m * n / (n - 1)))
        else:
            mean, var = running_mean.reshape(cs).to(x.dtype), running_var.reshape(cs).to(x.dtype)
        invstd = (var + eps).rsqrt()
        scale = invstd if weight is None else invstd * weight.reshape(cs)
        shift = -mean * scale if bias is None else bias.reshape(cs) - mean * scale
        ctx.dims, ctx.n, ctx.training, ctx.eps = dims, n, training, eps
        ctx.save_for_backward(x, weight, mean, invstd)
        return affine(x, scale, shift)

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, invstd = ctx.saved_tensors
        dims, n, cs = ctx.dims, ctx.n, _channel_shape(x)
        if grad_mode.is_grad_enabled() and ctx.training:  # create_graph: the statistics as functions of x
            mean = x.mean(dims, keepdim=True)
            invstd = (x.var(dims, keepdim=True, correction=0) + ctx.eps).rsqrt()
        wi = invstd if weight is None else invstd * weight.reshape(cs)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        sum_g = g.sum(dims, keepdim=True) if (need_b or need_w or (need_x and ctx.training)) else None
        dweight = None
        if need_w or (need_x and ctx.training):  # sum(g * xhat) = (sum(g * x) - mean * sum(g)) * invstd
            dweight = ((g * x).sum(dims, keepdim=True) - mean * sum_g) * invstd
        dx = None
        if need_x:
            if not ctx.training:
                dx = g * wi
            elif grad_mode.is_grad_enabled():
                dx = wi * (g - sum_g / n - (x - mean) * invstd * (dweight / n))
            else:  # g * wi + x * b + c, two kernels
                b = -wi * invstd * dweight / n
                dx = affine(g, wi, affine(x, b, -wi * sum_g / n - b * mean))
        return (dx, dweight.reshape(-1) if need_w else None, sum_g.reshape(-1) if need_b else None,
                None, None, None, None, None)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize each channel over the batch (and spatial dims); track running stats in training."""
    if input.dim() < 2:
        raise ValueError(f"expected 2D or more input (got {input.dim()}D input)")
    dims = (0,) + tuple(range(2, input.dim()))
    n = input.numel() // input._shape[1]
    if training and n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    if input.dtype in (D.float32, D.float64) and (training or running_mean is not None):
        return NativeBatchNorm.apply(input, weight, bias, running_mean, running_var, training, momentum, eps)
    if training:
        xhat, mean, var = _normalize(input, dims, eps)
        if running_mean is not None:
            with no_grad():
                m = momentum if momentum is not None else 0.1
                running_mean.mul_(1 - m).add_(mean.reshape(-1).detach() * m)
                running_var.mul_(1 - m).add_(var.reshape(-1).detach() * (m * n / (n - 1)))
    else:
        shape = _channel_shape(input)
        xhat = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
    if weight is not None:
        xhat = xhat * weight.reshape(_channel_shape(input))
    if bias is not None:
        xhat = xhat + bias.reshape(_channel_shape(input))
    return xhat


from .rows import layer_norm  # noqa: E402,F401  (a fused row op)


class NativeGroupNorm(Function):
    """Group norm as one op, PyTorch's ``NativeGroupNormBackward0``: per sample and group of channels, the mean
    and ``rstd = 1 / sqrt(var + eps)`` over the group's M values (the fused ``var_mean``), then
    ``y = xhat * weight + bias`` per channel (one ``affine`` kernel).  Backward, with ``gx = g * weight``:
    ``dx = rstd * (gx - mean(gx) - xhat * mean(gx * xhat))`` over each group, ``dweight = sum(g * xhat)``,
    ``dbias = sum(g)`` over the samples and spatial dims.  Under ``create_graph`` the statistics are computed
    again from x as ops (as batch norm's)."""

    @staticmethod
    def forward(ctx, x, groups, weight, bias, eps):
        from .reduce import _var_and_mean

        n = x._shape[0]
        xr = x.reshape(n, groups, -1)
        var, mean = _var_and_mean(xr, (2,), xr._shape[2], True)
        rstd = (var + eps).rsqrt()
        xhat = affine(xr, rstd, -mean * rstd).reshape(x._shape)
        ctx.groups, ctx.eps = groups, eps
        ctx.save_for_backward(x, weight, mean, rstd)
        if weight is None and bias is None:
            return xhat
        cs = _channel_shape(x)
        w = weight.reshape(cs) if weight is not None else xhat.new_ones(())
        return affine(xhat, w, bias.reshape(cs) if bias is not None else xhat.new_zeros(()))

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        n, groups = x._shape[0], ctx.groups
        xr = x.reshape(n, groups, -1)
        if grad_mode.is_grad_enabled():  # create_graph: the statistics as functions of x
            mean = xr.mean(2, keepdim=True)
            rstd = (xr.var(2, keepdim=True, correction=0) + ctx.eps).rsqrt()
        xhat = ((xr - mean) * rstd).reshape(x._shape)
        need_x, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[2], ctx.needs_input_grad[3]
        dims = (0,) + tuple(range(2, x.dim()))
        dx = dw = db = None
        if need_x:
            gx = g if weight is None else g * weight.reshape(_channel_shape(x))
            gr, hr = gx.reshape(n, groups, -1), xhat.reshape(n, groups, -1)
            dx = (rstd * (gr - gr.mean(2, keepdim=True) - hr * (gr * hr).mean(2, keepdim=True))).reshape(x._shape)
        if need_w:
            dw = (g * xhat).sum(dims)
        if need_b:
            db = g.sum(dims)
        return dx, None, dw, db, None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each group of channels of each sample over the group's channels and spatial dims."""
    n, c = input._shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input._shape)} and num_groups={num_groups}")
    if input.dtype in (D.float32, D.float64) and input.numel():
        return NativeGroupNorm.apply(input, num_groups, weight, bias, eps)
    x = input.reshape(n, num_groups, -1)
    xhat = _normalize(x, (2,), eps)[0].reshape(input._shape)
    if weight is not None:
        xhat = xhat * weight.reshape(_channel_shape(input))
    if bias is not None:
        xhat = xhat + bias.reshape(_channel_shape(input))
    return xhat


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each channel of each sample over its spatial dims (a batch norm of N*C channels).

    Running statistics, when given, are updated with the average of the per-instance statistics
    (``use_input_stats=True``) or used instead of them (``use_input_stats=False``).
    """
    n, c = input._shape[:2]
    x = input.reshape((1, n * c) + tuple(input._shape[2:]))
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    out = batch_norm(x, rm, rv, None, None, use_input_stats, momentum, eps).reshape(input._shape)
    if use_input_stats and running_mean is not None:
        with no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0))
            running_var.copy_(rv.reshape(n, c).mean(0))
    if weight is not None:
        out = out * weight.reshape(_channel_shape(input))
    if bias is not None:
        out = out + bias.reshape(_channel_shape(input))
    return out


def _source_index(out_n, in_n, scale, align_corners, mode):
    """Source coordinates of each output position along one dim (PyTorch's conventions)."""
    i = np.arange(out_n, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        s = (in_n / out_n) if scale is None else 1.0 / scale
        offset = 0.5 if mode == "nearest-exact" else 0.0
        return np.minimum(np.floor((i + offset) * s).astype(np.int64), in_n - 1)
    if align_corners:
        return i * ((in_n - 1) / (out_n - 1)) if out_n > 1 else np.zeros(out_n)
    s = (in_n / out_n) if scale is None else 1.0 / scale
    src = (i + 0.5) * s - 0.5
    return src if mode == "bicubic" else np.maximum(src, 0.0)  # bicubic does not clamp at 0


def _cubic_weights(t, A=-0.75):
    """Keys' cubic convolution weights of the 4 taps at floor(src) - 1 .. floor(src) + 2 (PyTorch's A)."""
    def near(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize the spatial dims: ``nearest`` picks, ``linear``/``bilinear`` blend the two nearest and
    ``bicubic`` the four nearest, one dim at a time; ``area`` is adaptive average pooling."""
    from ..creation import tensor

    nsp = input.dim() - 2
    if nsp < 1:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D)")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if mode not in ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area"):
        raise NotImplementedError(f"interpolate mode '{mode}' is not supported by pygrad")
    in_sizes = input._shape[2:]
    if size is not None:
        sizes = (size,) * nsp if isinstance(size, int) else tuple(size)
        scales = (None,) * nsp
    else:
        scales = (scale_factor,) * nsp if not isinstance(scale_factor, (tuple, list)) else tuple(scale_factor)
        sizes = tuple(int(np.floor(n * s)) for n, s in zip(in_sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * nsp
    if mode == "area":  # adaptive average pooling to the target size
        from .pool import adaptive_avg_pool1d, adaptive_avg_pool2d

        if nsp > 2:
            raise NotImplementedError("interpolate mode 'area' supports 3D and 4D inputs in pygrad")
        return adaptive_avg_pool1d(input, sizes[0]) if nsp == 1 else adaptive_avg_pool2d(input, sizes)
    x = input
    for k in range(nsp):
        d = 2 + k
        src = _source_index(sizes[k], in_sizes[k], scales[k], align_corners, mode)
        if mode in ("nearest", "nearest-exact"):
            x = x.index_select(d, tensor(src, device=x.device))
            continue
        bshape = (-1,) + (1,) * (nsp - 1 - k)
        if mode == "bicubic":  # weighted sum of 4 taps, indices clamped to the border
            base = np.floor(src).astype(np.int64)
            taps = [np.clip(base + j, 0, in_sizes[k] - 1) for j in (-1, 0, 1, 2)]
            weights = _cubic_weights(src - base)
            x = sum(x.index_select(d, tensor(idx, device=x.device)) *
                    tensor(wt, dtype=x.dtype, device=x.device).reshape(bshape) for idx, wt in zip(taps, weights))
            continue
        lo = np.minimum(np.floor(src).astype(np.int64), in_sizes[k] - 1)
        hi = np.minimum(lo + 1, in_sizes[k] - 1)
        lam = tensor(src - lo, dtype=x.dtype, device=x.device).reshape(bshape)
        a = x.index_select(d, tensor(lo, device=x.device))
        b = x.index_select(d, tensor(hi, device=x.device))
        x = a + (b - a) * lam
    return x
