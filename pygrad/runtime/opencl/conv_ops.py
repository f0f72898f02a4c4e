"""conv2d and max_pool2d as single ops on OpenCL (the backend methods ``conv2d`` / ``conv2d_backward`` /
``max_pool2d`` / ``max_pool2d_backward``, same signatures as the CPU backend's), float32 and float64.

conv2d: per batch chunk one im2col with the batch folded into the GEMM's N (``conv_cols_k``: a
(C*kh*kw, ld) matrix), ONE full-size GEMM by the (Cout, C*kh*kw) weights, and one epilogue kernel
(``conv_out_k``) writing (N, Cout, OH, OW) with the bias added.  Backward: the output gradient laid out
as (Cout, ld) (``conv_gcols_k``), one GEMM for the weight's gradient, one for the columns' gradient,
folded back by ``conv_fold_k`` (a gather per image row, no atomics).  The kernels live in ``index.cl``
and are built with the convolution's GEMM programs as one program (``_index_program(conv=True)``).

max_pool2d: ``maxpool_fwd_k`` writes values and indices; ``maxpool_bwd_k`` gathers, for each input
element, the gradients of the windows that picked it (no zero-fill + scatter pair, no atomics).
"""
import numpy as np

from ... import dtypes as D

LOCAL = _index_program = reduce = None  # from backend / backend_ops at install() (they import this module)

# cap on the (C*kh*kw, ld) column matrix of one batch chunk (tests lower it to exercise chunking)
CHUNK_BYTES = 32 << 20


def _program(self, dtype):
    if dtype is D.float32:
        return _index_program(self, "uint", conv=True)
    return _index_program(self, "ulong", fold="double")


def _chunks(n, per_sample):
    step = max(1, CHUNK_BYTES // max(per_sample, 1))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _ld(cols):
    return -(-cols // 16) * 16


def _geo_args(kernel, dilation, padding, stride):
    return tuple(map(np.int32, (*kernel, *dilation, *padding, *stride)))


def _columns(self, prg, x, n0, nc, kernel, dilation, padding, stride, oh, ow):
    """The (C*kh*kw, ld) columns of images n0 .. n0+nc-1 of contiguous x, and ld."""
    _, c, h, w = x._shape
    K, ld = c * kernel[0] * kernel[1], _ld(nc * oh * ow)
    cols = self.empty((K, ld), x.dtype)
    prg.conv_cols_k(self.rt.queue, self.grid(K * nc * oh), (LOCAL,), cols._storage.data, x._storage.data,
                    *map(np.int64, (x._offset + n0 * c * h * w, nc, c, h, w)),
                    *_geo_args(kernel, dilation, padding, stride), np.int64(oh), np.int64(ow), np.int64(ld))
    return cols, ld


def conv2d(self, x, w, b, kernel, stride, padding, dilation):
    """(N, C, H, W) by (Cout, C, kh, kw) (groups 1) plus an optional (Cout,) bias, float32/float64."""
    x = x.contiguous()
    n, c, h, wd = x._shape
    cout = w._shape[0]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    L, K = oh * ow, c * kh * kw
    out = self.empty((n, cout, oh, ow), x.dtype)
    if out.numel() == 0:
        return out
    w2 = w.contiguous().reshape(cout, K)
    prg = _program(self, x.dtype)
    bias = b.contiguous() if b is not None else None
    for i, j in _chunks(n, K * L * x.dtype.itemsize):
        cols, ld = _columns(self, prg, x, i, j - i, kernel, dilation, padding, stride, oh, ow)
        y = self.matmul(w2, cols)                                              # (Cout, ld)
        prg.conv_out_k(self.rt.queue, self.grid((j - i) * cout), (LOCAL,), out._storage.data, y._storage.data,
                       (bias if bias is not None else y)._storage.data, np.int64(i * cout * L),
                       np.int64(bias._offset if bias is not None else 0), np.int32(bias is not None),
                       *map(np.int64, (j - i, cout, L, ld)))
    return out


def conv2d_backward(self, g, x, w, kernel, stride, padding, dilation, needs):
    """Gradients (input, weight, bias) of ``conv2d``, each None where ``needs`` says it is not wanted."""
    x, g = x.contiguous(), g.contiguous()
    n, c, h, wd = x._shape
    cout, oh, ow = g._shape[1], g._shape[2], g._shape[3]
    kh, kw = kernel
    L, K = oh * ow, c * kh * kw
    dt = x.dtype
    gx = gw = gb = None
    if needs[2]:
        gb = reduce(self, np.sum, g, (0, 2, 3), False, dt, dt)
    if not (needs[0] or needs[1]):
        return gx, gw, gb
    if needs[0]:
        gx = self.empty(x._shape, dt)
    if g.numel() == 0 or K == 0:  # no output pixels: zero gradients
        if needs[0]:
            self.fill_(gx, 0)
        if needs[1]:
            gw = self.empty(w._shape, dt)
            self.fill_(gw, 0)
        return gx, gw, gb
    prg = _program(self, dt)
    w2 = w.contiguous().reshape(cout, K)
    q = self.rt.queue
    for i, j in _chunks(n, K * L * dt.itemsize):
        nc = j - i
        ld = _ld(nc * L)
        gcols = self.empty((cout, ld), dt)
        prg.conv_gcols_k(q, self.grid(cout * nc), (LOCAL,), gcols._storage.data, g._storage.data,
                         *map(np.int64, (g._offset + i * cout * L, nc, cout, L, ld)))
        if needs[1]:
            cols, _ = _columns(self, prg, x, i, nc, kernel, dilation, padding, stride, oh, ow)
            part = self.matmul(gcols, cols._view((ld, K), (1, ld), 0))        # (Cout, K)
            gw = part if gw is None else self.elementwise(np.add, (gw, part), (cout, K), dt, dt)
        if needs[0]:
            dcols = self.matmul(w2.t(), gcols)                                   # (K, ld)
            prg.conv_fold_k(q, self.grid(nc * c * h), (LOCAL,), gx._storage.data, dcols._storage.data,
                            *map(np.int64, (i * c * h * wd, nc, c, h, wd)), *_geo_args(kernel, dilation, padding, stride),
                            np.int64(oh), np.int64(ow), np.int64(ld))
    if gw is not None:
        gw = gw.reshape(w._shape)
    return gx, gw, gb


def max_pool2d(self, x, kernel, stride, padding, dilation, out_hw):
    """(values, int64 flat H*W indices) of each max-pool window of a float32/float64 (N, C, H, W) tensor."""
    if x.dtype not in (D.float32, D.float64):
        return None
    x = x.contiguous()
    n, c, h, w = x._shape
    oh, ow = out_hw
    vals, idx = self.empty((n, c, oh, ow), x.dtype), self.empty((n, c, oh, ow), D.int64)
    if vals.numel():
        prg = _program(self, x.dtype)
        prg.maxpool_fwd_k(self.rt.queue, self.grid(n * c * oh), (LOCAL,), vals._storage.data, idx._storage.data,
                          x._storage.data, *map(np.int64, (x._offset, n * c, h, w, oh, ow)),
                          *map(np.int32, (*kernel, *stride, *padding, *dilation)))
    return vals, idx


def max_pool2d_backward(self, g, indices, in_hw, window=None):
    """Gradient of ``max_pool2d``: each input element gathers the output gradients of the windows
    ``window`` = (kernel, stride, padding, dilation) that cover it and picked it."""
    kernel, stride, padding, dilation = window
    g = g.contiguous()
    indices = indices.contiguous()
    n, c, oh, ow = g._shape
    h, w = in_hw
    gx = self.empty((n, c, h, w), g.dtype)
    if gx.numel():
        prg = _program(self, g.dtype)
        prg.maxpool_bwd_k(self.rt.queue, self.grid(n * c * h), (LOCAL,), gx._storage.data, g._storage.data,
                          indices._storage.data, *map(np.int64, (g._offset, indices._offset, n * c, h, w, oh, ow)),
                          *map(np.int32, (*kernel, *stride, *padding, *dilation)))
    return gx


def install(cls):
    global LOCAL, _index_program, reduce
    from .backend import LOCAL
    from .backend_ops import _index_program, reduce

    for fn in (conv2d, conv2d_backward, max_pool2d, max_pool2d_backward):
        setattr(cls, fn.__name__, fn)
