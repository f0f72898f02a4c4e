"""Convolution as im2col + matrix product, built from two primitives: ``unfold`` and ``fold``.

``unfold`` (im2col) copies every kh x kw window of the (padded) input into a column; a convolution
is then one matrix product of the weights (Cout, C*kh*kw) with those columns (C*kh*kw, positions).
``fold`` (col2im) is unfold's adjoint: it sums columns back into an image.  Because unfold and fold
are each other's backward, and matmul already has one, ``conv2d`` needs no backward of its own:
autograd differentiates the composition.  ``conv_transpose2d`` is the same pieces in reverse order.
"""
import numpy as np

from ..autograd import grad_mode
from ..autograd.function import Function
from .dispatch import backend_of

_CHUNK_BYTES = 256 << 20  # cap on the im2col buffer of one batch chunk
# GPU kernel shape: cap on the (C*kh*kw) x (chunk*OH*OW) column matrix of one chunk (tests lower it)
_GPU_CHUNK_BYTES = 64 << 20


def pair(v, n=2):
    """``3 -> (3, 3)``; tuples pass through (PyTorch's ``_pair``)."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return tuple(v) * n
        return tuple(int(x) for x in v)
    return (int(v),) * n


def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class Unfold(Function):
    """(N, C, H, W) -> (N, C, kh, kw, oh, ow) windows; backward folds the gradient back."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride, pad_value=0.0):
        ctx.args, ctx.hw = (kernel, dilation, padding, stride), x._shape[2:]
        return backend_of(x).unfold(x, kernel, dilation, padding, stride, pad_value)

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, ctx.hw, *ctx.args), None, None, None, None, None


class Fold(Function):
    """(N, C, kh, kw, oh, ow) columns -> (N, C, H, W), summing overlaps; backward unfolds."""

    _builtin = True

    @staticmethod
    def forward(ctx, cols, out_hw, kernel, dilation, padding, stride):
        ctx.args = (kernel, dilation, padding, stride)
        return backend_of(cols).fold(cols, out_hw, kernel, dilation, padding, stride)

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, *ctx.args), None, None, None, None, None


class UnfoldBatchInner(Function):
    """(N, C, H, W) -> (C, kh, kw, N, oh, ow) windows (OpenCL, GPU-shaped conv): the batch inside each
    column row, so the whole chunk is one GEMM operand without a transposing copy."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride):
        ctx.args, ctx.hw = (kernel, dilation, padding, stride), x._shape[2:]
        return backend_of(x).unfold(x, kernel, dilation, padding, stride, batch_inner=True)

    @staticmethod
    def backward(ctx, g):
        return FoldBatchInner.apply(g, ctx.hw, *ctx.args), None, None, None, None


class FoldBatchInner(Function):
    """(C, kh, kw, N, oh, ow) columns -> (N, C, H, W), summing overlaps; backward unfolds."""

    _builtin = True

    @staticmethod
    def forward(ctx, cols, out_hw, kernel, dilation, padding, stride):
        ctx.args = (kernel, dilation, padding, stride)
        return backend_of(cols).fold(cols, out_hw, kernel, dilation, padding, stride, batch_inner=True)

    @staticmethod
    def backward(ctx, g):
        return UnfoldBatchInner.apply(g, *ctx.args), None, None, None, None, None


class Conv2d(Function):
    """float32/float64 convolution with groups 1 as one op (PyTorch's node: ``ConvolutionBackward0``) on the
    CPU and OpenCL backends: the backend runs im2col and the product per batch chunk, bias added in place;
    the backward builds the columns again per chunk.  Under ``create_graph`` the backward is written with differentiable ops instead."""

    _builtin = True
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, kernel, stride, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.args, ctx.has_bias = (kernel, stride, padding, dilation), bias is not None
        # workspace: what the backend's forward keeps for its backward (OpenCL: the im2col columns, which
        # the weight's gradient needs again); None when the weight needs no gradient
        ctx.workspace = {} if ctx.needs_input_grad[1] else None
        return backend_of(x).conv2d(x, weight, bias, kernel, stride, padding, dilation, workspace=ctx.workspace)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2])
        if grad_mode.is_grad_enabled():  # create_graph: a backward that is itself differentiable
            gx, gw, gb = _conv2d_backward_ops(g, x, weight, needs, *ctx.args)
        else:
            gx, gw, gb = backend_of(x).conv2d_backward(g, x, weight, *ctx.args, needs, workspace=ctx.workspace)
        return gx, gw, gb, None, None, None, None


def _conv2d_backward_ops(g, x, weight, needs, kernel, stride, padding, dilation):
    """``Conv2d``'s gradients written with differentiable ops (unfold, matmul, fold, sum)."""
    n, c, h, w = x._shape
    cout = weight._shape[0]
    oh, ow = g._shape[2:]
    g2 = g.reshape(n, cout, oh * ow)
    w2 = weight.reshape(cout, -1)
    gx = gw = gb = None
    if needs[0]:
        cols = w2.t() @ g2
        gx = Fold.apply(cols.reshape(n, c, kernel[0], kernel[1], oh, ow), (h, w), kernel, dilation, padding, stride)
    if needs[1]:
        cols = Unfold.apply(x, kernel, dilation, padding, stride).reshape(n, -1, oh * ow)
        gw = (g2 @ cols.mT).sum(0).reshape(weight._shape)
    if needs[2]:
        gb = g.sum((0, 2, 3))
    return gx, gw, gb


def _direct(x, weight, bias, groups):
    """Whether ``Conv2d`` (the backend's one-op convolution: CPU, or OpenCL's batch-folded im2col + GEMM)
    runs this convolution: groups 1, float32/float64, one dtype throughout; the GPU shape's opt-in
    implicit GEMM keeps its own op."""
    if not (groups == 1 and x.dtype.name in ("float32", "float64") and weight.dtype is x.dtype
            and (bias is None or bias.dtype is x.dtype)):
        return False
    name = getattr(backend_of(x), "name", None)
    return name == "cpu" or (name == "opencl" and not (IMPLICIT_GEMM and _gpu_shape(x)))


def _check_conv_input(x, weight, groups, name, nd=2):
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
                           f"input of size: {list(x._shape)}")
    c = x._shape[-nd - 1]
    if c != weight._shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight._shape)}, expected "
                           f"input{list(x._shape)} to have {weight._shape[1] * groups} channels, but got {c} "
                           "channels instead")


def _same_padding(k, d):
    """PyTorch's 'same' padding per dim as (before, after); an odd total puts the extra one after."""
    total = [di * (ki - 1) for ki, di in zip(k, d)]
    return [(t // 2, t - t // 2) for t in total]


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, like PyTorch) of (N, C, H, W) by (Cout, C/groups, kh, kw)."""
    _check_conv_input(input, weight, groups, "conv2d")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    k, s, d = pair(weight._shape[2:]), pair(stride), pair(dilation)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string '{padding}', should be one of ['valid', 'same']")
        if padding == "same" and s != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        p = (0, 0)
        if padding == "same":
            (top, bottom), (left, right) = _same_padding(k, d)
            if (top, left) != (bottom, right):  # uneven: pad explicitly, then convolve unpadded
                from .pool import pad

                x = pad(x, (left, right, top, bottom))
            else:
                p = (top, left)
    else:
        p = pair(padding)
    n, c, h, w = x._shape
    oh, ow = out_size(h, k[0], s[0], p[0], d[0]), out_size(w, k[1], s[1], p[1], d[1])
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Calculated padded input size per channel: ({h + 2 * p[0]} x {w + 2 * p[1]}). Kernel "
                           f"size: ({d[0] * (k[0] - 1) + 1} x {d[1] * (k[1] - 1) + 1}). Kernel size can't be greater "
                           "than actual input size")
    cout = weight._shape[0]
    if _direct(x, weight, bias, groups):
        out = Conv2d.apply(x, weight, bias, k, s, p, d)
        return out.squeeze(0) if unbatched else out
    wmat = weight.reshape(groups, cout // groups, -1)
    per_sample = c * k[0] * k[1] * oh * ow * x.dtype.itemsize
    if _gpu_shape(x):
        out = _conv2d_gpu(x, wmat, n, cout, k, s, p, d, groups, oh, ow, per_sample)
        if bias is not None:
            out = out + bias.reshape(1, cout, 1, 1)
        return out.squeeze(0) if unbatched else out
    step = max(1, _CHUNK_BYTES // max(per_sample, 1))
    outs = []
    for start in range(0, max(n, 1), step):  # batch chunks bound the im2col buffer (an empty batch: one empty chunk)
        xc = x[start:start + step] if step < n else x
        cols = Unfold.apply(xc, k, d, p, s).reshape(xc._shape[0], groups, c // groups * k[0] * k[1], oh * ow)
        outs.append((wmat @ cols).reshape(xc._shape[0], cout, oh, ow))
    out = outs[0] if len(outs) == 1 else _cat(outs)
    if bias is not None:
        out = out + bias.reshape(1, cout, 1, 1)
    return out.squeeze(0) if unbatched else out


def _gpu_shape(x):
    """True on an OpenCL device running the GPU-shaped kernels (``Runtime.kernel_shape``)."""
    rt = getattr(backend_of(x), "rt", None)
    return rt is not None and rt.kernel_shape == "gpu"


# GPU kernel shape: True runs conv2d as implicit GEMM (cl_kernels/conv.cl: no im2col matrix, backward
# without col2im).  Off by default: it is tested on PoCL and Oclgrind but its speed against im2col per
# chunk + the tuned gemm_big can only be judged on a GPU, and none was at hand (docs/opencl.md).
IMPLICIT_GEMM = False


class _ConvImplicit(Function):
    """conv2d by implicit GEMM; each of the three products' gradients is another of them."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, geo, oh, ow):
        ctx.x, ctx.w, ctx.geo = x, w, geo
        return _implicit().forward(backend_of(x), x.contiguous(), w.contiguous(), geo, oh, ow)

    @staticmethod
    def backward(ctx, g):
        x, w, geo = ctx.x, ctx.w, ctx.geo
        gx = _ConvImplicitDx.apply(w, g, x._shape, geo) if ctx.needs_input_grad[0] else None
        gw = _ConvImplicitDw.apply(x, g, w._shape, geo) if ctx.needs_input_grad[1] else None
        return gx, gw, None, None, None


class _ConvImplicitDx(Function):
    """The input gradient of conv2d (a transposed convolution of g by w), linear in both."""

    @staticmethod
    def forward(ctx, w, g, xshape, geo):
        ctx.w, ctx.g, ctx.geo = w, g, geo
        return _implicit().grad_input(backend_of(g), w.contiguous(), g.contiguous(), xshape, geo)

    @staticmethod
    def backward(ctx, h):  # <h, dx(w, g)>: d/dw = dw(h, g), d/dg = conv(h, w)
        w, g, geo = ctx.w, ctx.g, ctx.geo
        gw = _ConvImplicitDw.apply(h, g, w._shape, geo) if ctx.needs_input_grad[0] else None
        gg = _ConvImplicit.apply(h, w, geo, *g._shape[2:]) if ctx.needs_input_grad[1] else None
        return gw, gg, None, None


class _ConvImplicitDw(Function):
    """The weight gradient of conv2d (x's windows against g), linear in both."""

    @staticmethod
    def forward(ctx, x, g, wshape, geo):
        ctx.x, ctx.g, ctx.geo = x, g, geo
        return _implicit().grad_weight(backend_of(x), x.contiguous(), g.contiguous(), wshape, geo)

    @staticmethod
    def backward(ctx, h):  # <h, dw(x, g)>: d/dx = dx(h, g), d/dg = conv(x, h)
        x, g, geo = ctx.x, ctx.g, ctx.geo
        gx = _ConvImplicitDx.apply(h, g, x._shape, geo) if ctx.needs_input_grad[0] else None
        gg = _ConvImplicit.apply(x, h, geo, *g._shape[2:]) if ctx.needs_input_grad[1] else None
        return gx, gg, None, None


def _implicit():
    from ..runtime.opencl import conv_implicit

    return conv_implicit


def _conv2d_gpu(x, wmat, n, cout, k, s, p, d, groups, oh, ow, per_sample):
    """GPU shape: per batch chunk (column matrix under ``_GPU_CHUNK_BYTES``) one im2col laid out as
    (G, C/G*kh*kw, chunk*OH*OW) and ONE full-size GEMM by the (G, Cout/G, C/G*kh*kw) weights, instead
    of chunk*G small per-sample products.  Autograd's matmul backward then gives one GEMM per chunk
    for the columns' gradient (folded by col2im) and one per chunk for the weight's, summed over chunks."""
    if IMPLICIT_GEMM and x.dtype.is_floating_point and x.dtype.itemsize >= 4:
        w = wmat.reshape(cout, -1, *k)
        return _ConvImplicit.apply(x, w, (*k, *s, *p, *d, groups), oh, ow)
    step = max(1, _GPU_CHUNK_BYTES // max(per_sample, 1))
    L, outs = oh * ow, []
    w2 = wmat.reshape(cout, -1) if groups == 1 else wmat  # groups == 1: a plain 2-D GEMM
    for start in range(0, max(n, 1), step):  # (an empty batch: one empty chunk, as PyTorch returns (0, Cout, OH, OW))
        xc = x[start:start + step] if step < n else x
        nc = xc._shape[0]
        cols = UnfoldBatchInner.apply(xc, k, d, p, s)                 # (C, kh, kw, chunk, oh, ow)
        ckk = x._shape[1] // groups * k[0] * k[1]                     # (sizes spelled out: nc may be 0)
        cols = cols.reshape(ckk, nc * L) if groups == 1 else cols.reshape(groups, ckk, nc * L)
        y = (w2 @ cols).reshape(cout, nc, L)                          # (Cout, chunk, L)
        outs.append(y.permute(1, 0, 2).reshape(nc, cout, oh, ow))
    return outs[0] if len(outs) == 1 else _cat(outs)


def _cat(parts):
    from .movement import cat

    return cat(parts, 0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: a conv2d over a height-1 image."""
    _check_conv_input(input, weight, groups, "conv1d", nd=1)
    x = input.unsqueeze(-2)
    pad = padding if isinstance(padding, str) else (0, pair(padding, 1)[0])
    out = conv2d(x, weight.unsqueeze(-2), bias, (1, pair(stride, 1)[0]), pad, (1, pair(dilation, 1)[0]), groups)
    return out.squeeze(-2)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution (the gradient of conv2d w.r.t. its input): matmul, then fold."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input "
                           f"of size: {list(input._shape)}")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    n, cin, h, w = x._shape
    if cin != weight._shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight._shape)}, expected input"
                           f"{list(x._shape)} to have {weight._shape[0]} channels, but got {cin} channels instead")
    k, s, p, d, op = pair(weight._shape[2:]), pair(stride), pair(padding), pair(dilation), pair(output_padding)
    cout = weight._shape[1] * groups
    oh = (h - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
    ow = (w - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1
    wmat = weight.reshape(groups, cin // groups, -1).mT           # (G, Cout/G*kh*kw, Cin/G)
    cols = wmat @ x.reshape(n, groups, cin // groups, h * w)      # (N, G, Cout/G*kh*kw, H*W)
    cols = cols.reshape(n, cout, k[0], k[1], h, w)
    out = Fold.apply(cols, (oh, ow), k, d, p, s)
    if bias is not None:
        out = out + bias.reshape(1, cout, 1, 1)
    return out.squeeze(0) if unbatched else out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """``F.unfold``: (N, C, H, W) -> (N, C*kh*kw, L) sliding-window columns."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)")
    if input.dim() == 3:  # unbatched (C, H, W)
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0)
    k, d, p, s = pair(kernel_size), pair(dilation), pair(padding), pair(stride)
    cols = Unfold.apply(input, k, d, p, s)
    n, c = input._shape[:2]
    return cols.reshape(n, c * k[0] * k[1], -1)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """``F.fold``: (N, C*kh*kw, L) columns -> (N, C, H, W), summing overlapping values."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                           f"(got {input.dim()}D)")
    if input.dim() == 2:  # unbatched (C*kh*kw, L)
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0)
    k, d, p, s = pair(kernel_size), pair(dilation), pair(padding), pair(stride)
    oh_, ow_ = pair(output_size)
    oh, ow = out_size(oh_, k[0], s[0], p[0], d[0]), out_size(ow_, k[1], s[1], p[1], d[1])
    n, ckk, L = input._shape
    if L != oh * ow or ckk % (k[0] * k[1]):
        raise RuntimeError(f"Given output_size={(oh_, ow_)}, kernel_size={k}, dilation={d}, padding={p}, "
                           f"stride={s}, expected size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {oh} * {ow} = {oh * ow}, but got input.size(2)={L}.")
    cols = input.reshape(n, ckk // (k[0] * k[1]), k[0], k[1], oh, ow)
    return Fold.apply(cols, (oh_, ow_), k, d, p, s)


def adaptive_windows(in_size, out_size):
    """PyTorch's adaptive pooling windows: output i covers [floor(i*in/out), ceil((i+1)*in/out))."""
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    return start, end
