"""Pooling and padding, composed from differentiable pieces (``Unfold``, ``max``, ``matmul``, indexing).

* max/avg pooling: unfold the windows (padding with -inf for max, 0 for average), reduce over them;
* adaptive average pooling: ``A_h @ x @ A_wᵀ`` with averaging matrices built from PyTorch's windows;
* adaptive max pooling: gather each (variable-size) window padded to the largest one, then max;
* ``pad``: constant, reflect, replicate and circular modes by slicing and index selection.
"""
import numpy as np

from ..autograd.function import Function
from ..dtypes import float32, float64
from .conv import Unfold, adaptive_windows, out_size, pair
from .dispatch import backend_of


def _pool_out(size, k, s, p, d, ceil_mode):
    if not ceil_mode:
        return out_size(size, k, s, p, d)
    o = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
    if (o - 1) * s >= size + p:  # the last window must start inside the input or left padding
        o -= 1
    return o


def _geometry(x, name, kernel_size, stride, padding, dilation, ceil_mode):
    """Checks a pooling call; returns (batched x, unbatched flag, (k, s, p, d, h, w, oh, ow))."""
    if x.dim() not in (3, 4):
        raise RuntimeError(f"{name}: Expected 3D or 4D (batch mode) tensor for input with possibly 0 batch "
                           f"size and non-zero dimensions, but got: {list(x._shape)}")
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    k = pair(kernel_size)
    s = pair(stride) if stride not in (None, (), []) else k
    p, d = pair(padding), pair(dilation)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p[0]}, "
                           f"kernel_size={k[0]} and dilation={d[0]}")
    h, w = x._shape[2:]
    oh, ow = _pool_out(h, k[0], s[0], p[0], d[0], ceil_mode), _pool_out(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Given input size: ({x._shape[1]}x{h}x{w}). Calculated output size: "
                           f"({x._shape[1]}x{oh}x{ow}). Output size is too small")
    return x, unbatched, (k, s, p, d, h, w, oh, ow)


def _windows(x, name, kernel_size, stride, padding, dilation, ceil_mode, pad_value):
    """Unfold pooling windows; returns (cols (N, C, kh*kw, oh, ow), unbatched flag, geometry)."""
    x, unbatched, (k, s, p, d, h, w, oh, ow) = _geometry(x, name, kernel_size, stride, padding, dilation,
                                                         ceil_mode)
    # extra bottom/right padding so ceil_mode's last partial window exists
    eh = max(0, (oh - 1) * s[0] + d[0] * (k[0] - 1) + 1 - (h + 2 * p[0]))
    ew = max(0, (ow - 1) * s[1] + d[1] * (k[1] - 1) + 1 - (w + 2 * p[1]))
    if eh or ew:
        x = pad(x, (0, ew, 0, eh), value=pad_value)
    cols = Unfold.apply(x, k, d, p, s, pad_value)
    n, c = x._shape[:2]
    return cols.reshape(n, c, k[0] * k[1], oh, ow), unbatched, (k, s, p, d, h, w, oh, ow)


class MaxPool2DWithIndices(Function):
    """float32/float64 max pooling in one pass (CPU: compiled loop; OpenCL: one kernel): (values, flat H*W
    indices) of each window."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, k, s, p, d, out_hw):
        values, idx = backend_of(x).max_pool2d(x, k, s, p, d, out_hw)
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        ctx.hw, ctx.window = x._shape[2:], (k, s, p, d)
        return values, idx

    @staticmethod
    def backward(ctx, g, g_idx):
        (idx,) = ctx.saved_tensors
        return MaxPool2DWithIndicesBackward.apply(g, idx, ctx.hw, ctx.window), None, None, None, None, None


class MaxPool2DWithIndicesBackward(Function):
    """Adds the output gradient at the argmax positions (CPU: a scatter; OpenCL: each input element gathers
    from the windows ``window`` = (kernel, stride, padding, dilation) that cover it); its own backward
    gathers them."""

    _builtin = True

    @staticmethod
    def forward(ctx, g, idx, in_hw, window):
        ctx.save_for_backward(idx)
        return backend_of(g).max_pool2d_backward(g, idx, in_hw, window)

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        n, c, oh, ow = idx._shape
        return gg.reshape(n, c, -1).gather(2, idx.reshape(n, c, oh * ow)).reshape(n, c, oh, ow), None, None, None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Largest value of each window; the gradient goes to that element."""
    if input.device.type in ("cpu", "opencl") and input.dtype in (float32, float64):
        x, unbatched, (k, s, p, d, h, w, oh, ow) = _geometry(input, "max_pool2d", kernel_size, stride, padding,
                                                             dilation, ceil_mode)
        values, idx = MaxPool2DWithIndices.apply(x, k, s, p, d, (oh, ow))
        if unbatched:
            values, idx = values.squeeze(0), idx.squeeze(0)
        return (values, idx) if return_indices else values
    return _max_pool2d_composed(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _max_pool2d_composed(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    """max_pool2d from differentiable pieces (unfold, max): the path of other dtypes and devices."""
    cols, unbatched, (k, s, p, d, h, w, oh, ow) = _windows(
        input, "max_pool2d", kernel_size, stride, padding, dilation, ceil_mode, float("-inf"))
    values, arg = cols.max(dim=2)
    if unbatched:
        values, arg = values.squeeze(0), arg.squeeze(0)
    if not return_indices:
        return values
    # flat index into H*W of each winner: window origin + offset inside the window
    from ..creation import arange

    dev = input.device
    row = arange(oh, device=dev).reshape(oh, 1) * s[0] - p[0] + (arg // k[1]) * d[0]
    col = arange(ow, device=dev).reshape(1, ow) * s[1] - p[1] + (arg % k[1]) * d[1]
    return values, row * w + col


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    st = None if stride in (None, (), []) else (1, pair(stride, 1)[0])
    r = max_pool2d(input.unsqueeze(-2), (1, pair(kernel_size, 1)[0]), st, (0, pair(padding, 1)[0]),
                   (1, pair(dilation, 1)[0]), ceil_mode, return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


class AvgPool2D(Function):
    """float32/float64 average pooling in one pass (CPU: compiled loop; OpenCL: one kernel); backward spreads
    the gradient back."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, k, s, p, out_hw, count_include_pad, divisor):
        ctx.args, ctx.hw = (k, s, p, out_hw, count_include_pad, divisor), x._shape[2:]
        return backend_of(x).avg_pool2d(x, k, s, p, out_hw, count_include_pad, divisor)

    @staticmethod
    def backward(ctx, g):
        return (AvgPool2DBackward.apply(g, ctx.hw, *ctx.args),) + (None,) * 6


class AvgPool2DBackward(Function):
    """The adjoint of ``AvgPool2D`` (linear), whose own backward is ``AvgPool2D`` again."""

    _builtin = True

    @staticmethod
    def forward(ctx, g, in_hw, k, s, p, out_hw, count_include_pad, divisor):
        ctx.args = (k, s, p, out_hw, count_include_pad, divisor)
        return backend_of(g).avg_pool2d_backward(g, in_hw, k, s, p, count_include_pad, divisor)

    @staticmethod
    def backward(ctx, gg):
        return (AvgPool2D.apply(gg, *ctx.args),) + (None,) * 7


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean of each window (padding counts as zeros unless ``count_include_pad=False``)."""
    if input.device.type in ("cpu", "opencl") and input.dtype in (float32, float64) and \
            (not divisor_override or isinstance(divisor_override, int)):
        x, unbatched, (k, s, p, d, h, w, oh, ow) = _geometry(input, "avg_pool2d", kernel_size, stride, padding, 1,
                                                             ceil_mode)
        out = AvgPool2D.apply(x, k, s, p, (oh, ow), bool(count_include_pad), int(divisor_override or 0))
        return out.squeeze(0) if unbatched else out
    return _avg_pool2d_composed(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _avg_pool2d_composed(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """avg_pool2d from differentiable pieces (unfold, sum, divide): the path of other dtypes and devices."""
    cols, unbatched, (k, s, p, d, h, w, oh, ow) = _windows(
        input, "avg_pool2d", kernel_size, stride, padding, 1, ceil_mode, 0.0)
    total = cols.sum(dim=2)
    if divisor_override:
        out = total / divisor_override
    elif count_include_pad and not ceil_mode:
        out = total / (k[0] * k[1])
    else:
        from ..creation import ones

        ones_img = ones((1, 1, h, w), dtype=input.dtype, device=input.device)
        if count_include_pad:  # padded zeros count, the ceil_mode overhang does not
            ones_img = pad(ones_img, (p[1], p[1], p[0], p[0]), value=1.0)
            pp = (0, 0)
        else:
            pp = p
        eh = max(0, (oh - 1) * s[0] + k[0] - (ones_img._shape[2] + 2 * pp[0]))
        ew = max(0, (ow - 1) * s[1] + k[1] - (ones_img._shape[3] + 2 * pp[1]))
        if eh or ew:
            ones_img = pad(ones_img, (0, ew, 0, eh))
        count = Unfold.apply(ones_img, k, (1, 1), pp, s).reshape(1, 1, k[0] * k[1], oh, ow).sum(dim=2)
        out = total / count
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    st = None if stride in (None, (), []) else (1, pair(stride, 1)[0])
    return avg_pool2d(input.unsqueeze(-2), (1, pair(kernel_size, 1)[0]), st, (0, pair(padding, 1)[0]),
                      ceil_mode, count_include_pad).squeeze(-2)


def _adaptive_sizes(x, output_size):
    o = pair(output_size) if not isinstance(output_size, (tuple, list)) else tuple(output_size)
    return tuple(x._shape[-2 + i] if o[i] is None else int(o[i]) for i in range(2))


def _avg_matrix(in_size, out_n, like):
    from ..creation import tensor

    start, end = adaptive_windows(in_size, out_n)
    j = np.arange(in_size)
    m = ((j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])) / (end - start)[:, None]
    return tensor(m, dtype=like.dtype, device=like.device)


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive windows, as two small matrix products: A_h @ x @ A_wᵀ."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(input._shape)}")
    oh, ow = _adaptive_sizes(input, output_size)
    h, w = input._shape[-2:]
    if (oh, ow) == (h, w):
        return input.clone()
    return _avg_matrix(h, oh, input) @ input @ _avg_matrix(w, ow, input).mT


def adaptive_avg_pool1d(input, output_size):
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, pair(output_size, 1)[0])).squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive windows: gather each window padded to the largest size (-inf fill), then max."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"adaptive_max_pool2d(): Expected 3D or 4D tensor, but got {list(input._shape)}")
    oh, ow = _adaptive_sizes(input, output_size)
    h, w = input._shape[-2:]
    from ..creation import tensor

    def index(in_size, out_n):
        start, end = adaptive_windows(in_size, out_n)
        kmax = int((end - start).max())
        idx = start[:, None] + np.arange(kmax)[None, :]
        valid = idx < end[:, None]
        return np.minimum(idx, in_size - 1), valid, kmax

    ri, rv, kh = index(h, oh)
    ci, cv, kw = index(w, ow)
    x = input[..., tensor(ri.reshape(-1), device=input.device), :]          # (..., oh*kh, W)
    x = x[..., tensor(ci.reshape(-1), device=input.device)]                   # (..., oh*kh, ow*kw)
    x = x.reshape(*input._shape[:-2], oh, kh, ow, kw)
    mask = tensor(~(rv[:, :, None, None] & cv[None, None, :, :]), device=input.device)
    x = x.masked_fill(mask, float("-inf"))
    nd = x.dim()
    x = x.movedim(nd - 3, nd - 2).reshape(*input._shape[:-2], oh, ow, kh * kw)
    values, arg = x.max(dim=-1)
    if not return_indices:
        return values
    rsel = tensor(ri, device=input.device)[:, None, :, None].expand(oh, ow, kh, kw).reshape(oh, ow, kh * kw)
    csel = tensor(ci, device=input.device)[None, :, None, :].expand(oh, ow, kh, kw).reshape(oh, ow, kh * kw)
    flat = rsel * w + csel
    return values, flat.expand(*arg._shape, kh * kw).gather(-1, arg.unsqueeze(-1)).squeeze(-1)


def pad(input, pad, mode="constant", value=None):
    """``F.pad``: ``pad=(left, right, top, bottom, ...)`` pads the last dims, first pair = last dim."""
    if len(pad) % 2 or len(pad) // 2 > input.dim():
        raise RuntimeError(f"Padding length must be divisible by 2 and at most twice the number of dims, got {len(pad)}")
    x = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        x = _pad_dim(x, dim, lo, hi, mode, 0.0 if value is None else value)
    # PyTorch returns a new tensor even when nothing is padded (or only narrowing happened).
    return x.clone() if x._storage is input._storage else x


def _pad_dim(x, dim, lo, hi, mode, value):
    from ..creation import tensor

    if lo < 0:
        x = x.narrow(dim, -lo, x._shape[dim] + lo)
        lo = 0
    if hi < 0:
        x = x.narrow(dim, 0, x._shape[dim] + hi)
        hi = 0
    if lo == 0 and hi == 0:
        return x
    n = x._shape[dim]
    if mode == "constant":
        shape = list(x._shape)
        shape[dim] = n + lo + hi
        out = x.new_full(tuple(shape), value)
        out[(slice(None),) * dim + (slice(lo, lo + n),)] = x
        return out
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        idx = np.clip(j, 0, n - 1)
    elif mode == "reflect":
        if lo >= n or hi >= n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(x._shape)}")
        period = 2 * (n - 1)
        m = np.mod(j, period) if period else np.zeros_like(j)
        idx = np.where(m < n, m, period - m)
    elif mode == "circular":
        idx = np.mod(j, n)
    else:
        raise NotImplementedError(f"padding mode '{mode}' is not supported")
    return x.index_select(dim, tensor(idx, device=x.device))
