"""conv2d, max_pool2d and avg_pool2d as single ops on OpenCL (the backend methods ``conv2d`` /
``conv2d_backward`` / ``max_pool2d`` / ``max_pool2d_backward`` / ``avg_pool2d`` / ``avg_pool2d_backward``,
the CPU backend's signatures), float32 and float64.

conv2d: per batch chunk one im2col with the batch folded into the GEMM's N (``conv_cols_k``: a
(C*kh*kw, ld) matrix), ONE full-size GEMM by the (Cout, C*kh*kw) weights, and one epilogue kernel
(``conv_out_k``) writing (N, Cout, OH, OW) with the bias added.  Backward: the output gradient laid out
as (Cout, ld) (``conv_gcols_k``), one GEMM for the weight's gradient, one for the columns' gradient,
folded back by ``conv_fold_k`` (a gather per image row, no atomics).  On the CPU kernel shape with at most
``DW_DIRECT_MAX_COUT`` outputs the weight's gradient is ``conv_dw_k`` (``conv.cl``) from the (Cout, ld)
gradient columns instead of the GEMM (whose 6 x 64 blocks would mostly compute padding).  The kernels live in ``index.cl``
and are built with the convolution's GEMM programs as one program (``_index_program(conv=True)``).

max_pool2d: ``maxpool_fwd_k`` writes values and indices; ``maxpool_bwd_k`` gathers, for each input
element, the gradients of the windows that picked it (no zero-fill + scatter pair, no atomics);
avg_pool2d likewise (``avgpool_fwd_k``, ``avgpool_bwd_k``).

On the GPU kernel shape each of these launches its ``*_g`` variant instead (``_launch``; the section at the
end of ``index.cl``): one work-item per output element, coalesced, the same results bit for bit.
"""
import numpy as np

from ... import dtypes as D
from . import kernels

LOCAL = _index_program = reduce = None  # from backend / backend_ops at install() (they import this module)

# cap on the (C*kh*kw, ld) column matrix of one batch chunk; None: the kernel shape's default (tests set it
# to exercise chunking).  CPU devices: measured on the idle 2-core Xeon (PoCL 3.1, conv2d fwd+bwd, ms, medians
# of 9 interleaved rounds, caps 4 / 8 / 16 / 32 / 64 MB): N=32 C=32 16x16 K=64 10.0 / 9.6 / 9.4 / 8.2 / 7.7;
# N=8 C=64 28x28 K=64 14.1 / 12.2 / 11.4 / 10.7 / 10.2; LeNet's convs 5.5 / 5.1 / 4.1 / 4.0 / 3.8 and
# 3.2 / 2.8 / 2.6 / 2.4 / 2.4; N=16 C=64 56x56 K=64 ~95-100 whatever the cap.  Larger GEMMs win: fewer
# launches and a longer N per packed panel of the weights (an earlier 4 MB default was measured under heavy
# load, where smaller chunks looked better).  32 MB, the size up to which the forward's columns are kept.
# GPUs want the GEMM as large as possible.
CHUNK_BYTES = None
_CHUNK_DEFAULT = {"cpu": 32 << 20, "gpu": 64 << 20}
# the forward keeps its columns for the backward (no second im2col) while all chunks' together are under this
KEEP_BYTES = 32 << 20


def _program(self, dtype):
    if dtype is D.float32:
        return _index_program(self, "uint", conv=True)
    return _index_program(self, "ulong", fold="double")


def _chunks(self, n, per_sample):
    """(start, end) of the batch chunks whose column matrices (per_sample bytes a sample) fit the cap."""
    cap = CHUNK_BYTES if CHUNK_BYTES is not None else _CHUNK_DEFAULT[self.rt.kernel_shape]
    step = max(1, cap // max(per_sample, 1))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _dims(self, n):
    """(global, local) sizes of a PG_FOR launch over n rows.  CPU shape: a few work-groups of one work-item
    each (as the elementwise kernels): PoCL then runs each as a plain loop, and compiles these loop-heavy
    kernels much faster than for work-groups of 64 (first launch), at the same speed."""
    if self.rt.kernel_shape == "cpu":
        return (max(1, min(n, 4 * self.rt.device.max_compute_units)),), (1,)
    return self.grid(n), (LOCAL,)


def _dims2(n0, n1):
    """(global, local) sizes of a 2-D launch of a GPU-shaped kernel: n0 along dimension 0 (consecutive
    addresses), n1 rows; LOCAL work-items a work-group, at most the power of two >= n0 of them along
    dimension 0 (a narrow image leaves no work-group mostly idle)."""
    l0 = min(LOCAL, 1 << max(0, int(n0) - 1).bit_length())
    return (_round(int(n0), l0), _round(int(n1), LOCAL // l0)), (l0, LOCAL // l0)


def _launch(self, prg, name, rows, n0, n1, *args):
    """``name``_k over ``rows`` (PG_FOR) on the CPU kernel shape; on the GPU shape ``name``_g (the section at
    the end of index.cl), one work-item per element of an (n1, n0) output, n0 the contiguous dimension."""
    if self.rt.kernel_shape == "gpu":
        return getattr(prg, name + "_g")(self.rt.queue, *_dims2(n0, n1), *args)
    return getattr(prg, name + "_k")(self.rt.queue, *_dims(self, rows), *args)


def _round(v, m):
    return -(-v // m) * m


def _geo_args(kernel, dilation, padding, stride):
    return tuple(map(np.int32, (*kernel, *dilation, *padding, *stride)))


_ONE = {4: np.float32(1).view(np.uint32), 8: np.float64(1).view(np.uint64)}


def _columns(self, prg, x, n0, nc, kernel, dilation, padding, stride, oh, ow, ld, ones=False):
    """The (C*kh*kw [+ 1 row of ones], ld) columns of images n0 .. n0+nc-1 of contiguous x."""
    _, c, h, w = x._shape
    K = c * kernel[0] * kernel[1] + int(ones)
    cols = self.empty((K, ld), x.dtype)
    _launch(self, prg, "conv_cols", K * nc, ld, K, cols._storage.data, x._storage.data,
                    np.int64(x._offset + n0 * c * h * w), np.int64(nc), *map(np.int32, (c, h, w)),
                    *_geo_args(kernel, dilation, padding, stride), np.int32(oh), np.int32(ow), np.int64(ld),
                    np.int32(ones), _ONE[x.dtype.itemsize])
    return cols


def conv2d(self, x, w, b, kernel, stride, padding, dilation, workspace=None):
    """(N, C, H, W) by (Cout, C, kh, kw) (groups 1) plus an optional (Cout,) bias, float32/float64.

    ``workspace``: a dict where the forward leaves its columns per chunk (with the row of ones and the
    padding the weight gradient's GEMM wants) for ``conv2d_backward``, which then does not rebuild them
    (unless all chunks' columns together are over ``KEEP_BYTES``)."""
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
    chunks = _chunks(self, n, K * L * x.dtype.itemsize)
    keep = workspace is not None and (K + 1) * n * L * x.dtype.itemsize <= KEEP_BYTES
    if keep:
        workspace["cols"] = []
    for i, j in chunks:
        ld = _ld_backward(self, (j - i) * L) if keep else _round((j - i) * L, 16)
        cols = _columns(self, prg, x, i, j - i, kernel, dilation, padding, stride, oh, ow, ld, keep)
        if keep:
            workspace["cols"].append(cols)
        y = self.matmul(w2, cols[:K] if keep else cols)                        # (Cout, ld)
        _launch(self, prg, "conv_out", (j - i) * cout, L, (j - i) * cout, out._storage.data, y._storage.data,
                       (bias if bias is not None else y)._storage.data, np.int64(i * cout * L),
                       np.int64(bias._offset if bias is not None else 0), np.int32(bias is not None),
                       *map(np.int64, (j - i, cout, L, ld)))
    return out


# the weight gradient by conv_dw_k (conv.cl) instead of the batched GEMM: CPU kernel shape, outputs at most
# this many (the GEMM's 6 x 64 blocks then mostly compute padding; see conv_dw_k).  Measured (PoCL, 2 Xeon
# cores, loaded; weight+bias gradient with its im2col, ms, conv_dw_k vs GEMM: benchmarks/bench_conv_dw.py):
# LeNet conv1 1.6 vs 5.4, conv2 1.7 vs 3.0, N32 C32 16x16 Cout 32 4.6 vs 8.4, Cout 64 10.2 vs 7.5.
DW_DIRECT_MAX_COUT = 32
DW_BLOCK = (4, 6)  # outputs x columns per work-item: DW_OB x DW_KB of conv.cl


def _dw_direct(self, cout):
    return self.rt.kernel_shape == "cpu" and cout <= DW_DIRECT_MAX_COUT


def dw_defines(dtype):
    """The #defines of conv.cl that conv_dw_k is built with (float32: in the conv step's program group;
    CONV_DW_ONLY leaves out the GPU shape's implicit-GEMM kernels, which the CPU-shaped step never runs)."""
    return (f"T {dtype.cl}", "CONV_DW_ONLY 1")


def _weight_grad_direct(self, gc, cols, S, ks, cout, K1, positions, ld):
    """(S, cout, K1) partial weight gradients (one per slice of the positions) by conv_dw_k."""
    dt = gc.dtype
    nob, nkb = -(-cout // DW_BLOCK[0]), -(-K1 // DW_BLOCK[1])
    part = self.empty((S, cout, K1), dt)
    prg = kernels.program(self.rt, "conv.cl", dw_defines(dt))
    prg.conv_dw_k(self.rt.queue, (S * nob * nkb,), (1,), part._storage.data, gc._storage.data, cols._storage.data,
                  np.int64(gc._offset), np.int32(cout), np.int32(K1), np.int64(ld), np.int64(positions), np.int64(ks),
                  np.int32(nob), np.int32(nkb))
    return part


def _slices(self, positions):
    """Slices of the positions for the weight gradient's GEMM (a batch of products summed after): enough
    for every core (CPU shape: each slice is one GEMM work-item's column of blocks), each >= 128 long."""
    return int(max(1, min(4 * self.rt.device.max_compute_units, 64, positions // 128)))


def _ld_backward(self, positions):
    """The row length of the columns in the backward: a multiple of 16 per position slice."""
    return _round(positions, 16 * _slices(self, positions))


def conv2d_backward(self, g, x, w, kernel, stride, padding, dilation, needs, workspace=None):
    """Gradients (input, weight, bias) of ``conv2d``, each None where ``needs`` says it is not wanted.

    Per batch chunk: the input's is col2im of ``w^T @ gcols``; the weight's (and the bias's, through a
    row of ones under the columns) is ``cols @ gt`` over S slices of the positions as one batched GEMM,
    then summed over the slices by one reduction each."""
    x, g = x.contiguous(), g.contiguous()
    n, c, h, wd = x._shape
    cout, oh, ow = g._shape[1], g._shape[2], g._shape[3]
    kh, kw = kernel
    L, K = oh * ow, c * kh * kw
    dt = x.dtype
    gx = gw = gb = None
    if needs[0]:
        gx = self.empty(x._shape, dt)
    if g.numel() == 0 or K == 0:  # no output pixels: zero gradients
        for t in (gx,):
            if t is not None:
                self.fill_(t, 0)
        if needs[1]:
            gw = self.empty(w._shape, dt)
            self.fill_(gw, 0)
        if needs[2]:
            gb = self.empty((cout,), dt)
            self.fill_(gb, 0)
        return gx, gw, gb
    if needs[2] and not needs[1]:  # the bias alone: a reduction of g
        gb = reduce(self, np.sum, g, (0, 2, 3), False, dt, dt)
    if not (needs[0] or needs[1]):
        return gx, gw, gb
    prg = _program(self, dt)
    w2 = w.contiguous().reshape(cout, K)
    q = self.rt.queue
    chunks = _chunks(self, n, K * L * dt.itemsize)
    kept_all = (workspace or {}).get("cols")  # the forward's columns per chunk, with the row of ones
    if kept_all is not None and len(kept_all) != len(chunks):
        kept_all = None
    ones = bool(needs[1] and (needs[2] or kept_all is not None))
    K1, ct = K + int(ones), _round(cout, 16)
    direct = needs[1] and _dw_direct(self, cout)  # the weight gradient by conv_dw_k from gc (no gt)
    for c_, (i, j) in enumerate(chunks):
        nc = j - i
        S = _slices(self, nc * L) if needs[1] else 1
        ld = _round(nc * L, 16 * S)
        kept = kept_all[c_] if kept_all is not None else None
        if kept is not None and kept._shape != (K1, ld):
            kept = None
        gc = self.empty((cout, ld), dt) if needs[0] or direct else None
        gt = self.empty((ld, ct), dt) if needs[1] and not direct else None
        dummy = (gc if gc is not None else gt)._storage.data
        goff = np.int64(g._offset + i * cout * L)
        if self.rt.kernel_shape == "gpu":  # one launch per layout, an element per work-item
            if gc is not None:
                prg.conv_gc_g(q, *_dims2(ld, cout), gc._storage.data, g._storage.data, goff, np.int64(nc),
                              *map(np.int32, (cout, L)), np.int64(ld))
            if gt is not None:
                prg.conv_gt_g(q, (ct, ld // 4), (16, 4), gt._storage.data, g._storage.data, goff, np.int64(nc),
                              *map(np.int32, (cout, L)), np.int64(ld), np.int32(ct))
        else:
            prg.conv_gcols_k(q, *_dims(self, nc * L), gc._storage.data if gc is not None else dummy,
                             gt._storage.data if gt is not None else dummy, g._storage.data,
                             goff, np.int64(nc), *map(np.int32, (cout, L)), np.int64(ld),
                             *map(np.int32, (gc is not None, gt is not None, ct)))
        if needs[1]:
            cols = kept if kept is not None else _columns(self, prg, x, i, nc, kernel, dilation, padding, stride,
                                                          oh, ow, ld, ones)
            ks = ld // S
            if direct:  # part (S, cout, K1)
                part = _weight_grad_direct(self, gc, cols, S, ks, cout, K1, nc * L, ld)
                so, sk = K1, 1
            else:       # part (S, K1, ct)
                part = self.matmul(cols._view((S, K1, ks), (ks, ld, 1), 0),
                                   gt._view((S, ks, ct), (ks * ct, ct, 1), 0))
                so, sk = 1, ct
            pw_ = reduce(self, np.sum, part._view((S, cout, K), (part._strides[0], so, sk), 0), (0,), False, dt, dt)
            gw = pw_ if gw is None else self.elementwise(np.add, (gw, pw_), (cout, K), dt, dt)
            if ones and needs[2]:
                pb = reduce(self, np.sum, part._view((S, cout), (part._strides[0], so), K * sk), (0,), False, dt,
                            dt)
                gb = pb if gb is None else self.elementwise(np.add, (gb, pb), (cout,), dt, dt)
        if needs[0]:
            dcols = self.matmul(w2.t(), gc)                                      # (K, ld)
            _launch(self, prg, "conv_fold", nc * c * h, wd, nc * c * h, gx._storage.data, dcols._storage.data,
                            np.int64(i * c * h * wd), np.int64(nc), *map(np.int32, (c, h, wd)),
                            *_geo_args(kernel, dilation, padding, stride), np.int32(oh), np.int32(ow), np.int64(ld))
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
        interior = padding == (0, 0) and all((o - 1) * s + (k - 1) * d < size for o, s, k, d, size in zip(
            out_hw, stride, kernel, dilation, (h, w)))
        if self.rt.kernel_shape == "gpu":  # one work-item per output element (the section at the end of index.cl)
            _launch(self, prg, "maxpool_fwd", n * c * oh, ow, n * c * oh, vals._storage.data, idx._storage.data,
                    x._storage.data, np.int64(x._offset), np.int64(n * c),
                    *map(np.int32, (h, w, oh, ow, *kernel, *stride, *padding, *dilation, interior)))
        else:
            args = (vals._storage.data, idx._storage.data, x._storage.data, np.int64(x._offset), np.int64(n * c),
                    *map(np.int32, (h, w, oh, ow, *kernel, *stride)))
            if interior:  # its own short kernel (compiles faster at the first launch than a branch)
                prg.maxpool_fwd_in_k(self.rt.queue, *_dims(self, n * c * oh), *args, *map(np.int32, dilation))
            else:
                prg.maxpool_fwd_k(self.rt.queue, *_dims(self, n * c * oh), *args,
                                  *map(np.int32, (*padding, *dilation)))
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
        if self.rt.kernel_shape == "gpu":
            _launch(self, prg, "maxpool_bwd", n * c * h, w, n * c * h, gx._storage.data, g._storage.data,
                    indices._storage.data, *map(np.int64, (g._offset, indices._offset, n * c)),
                    *map(np.int32, (h, w, oh, ow, *kernel, *stride, *padding, *dilation)),
                    np.int32(_tiling(kernel, stride, padding, dilation, (oh, ow), in_hw)))
        else:
            args = (gx._storage.data, g._storage.data, indices._storage.data,
                    *map(np.int64, (g._offset, indices._offset, n * c)), *map(np.int32, (h, w, oh, ow, *kernel)))
            if _tiling(kernel, stride, padding, dilation, (oh, ow), in_hw):  # its own short kernel
                prg.maxpool_bwd_tile_k(self.rt.queue, *_dims(self, n * c * h), *args)
            else:
                prg.maxpool_bwd_k(self.rt.queue, *_dims(self, n * c * h), *args,
                                  *map(np.int32, (*stride, *padding, *dilation)))
    return gx


def _tiling(kernel, stride, padding, dilation, out_hw, in_hw):
    """Whether the pooling windows lie side by side inside the image: each element in at most one window."""
    return (tuple(stride) == tuple(kernel) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)
            and all(o * k <= i for o, k, i in zip(out_hw, kernel, in_hw)))


def avg_pool2d(self, x, kernel, stride, padding, out_hw, count_include_pad, divisor):
    """Window means of a float32/float64 (N, C, H, W) tensor (``divisor`` 0: PyTorch's own count)."""
    if x.dtype not in (D.float32, D.float64):
        return None
    x = x.contiguous()
    n, c, h, w = x._shape
    oh, ow = out_hw
    out = self.empty((n, c, oh, ow), x.dtype)
    if out.numel():
        prg = _program(self, x.dtype)
        _launch(self, prg, "avgpool_fwd", n * c * oh, ow, n * c * oh, out._storage.data, x._storage.data,
                          np.int64(x._offset), np.int64(n * c), *map(np.int32, (h, w, oh, ow, *kernel, *stride,
                                                                                 *padding, count_include_pad, divisor)))
    return out


def avg_pool2d_backward(self, g, in_hw, kernel, stride, padding, count_include_pad, divisor):
    """Gradient of ``avg_pool2d``: each input element gathers the divided gradients of the windows over it."""
    g = g.contiguous()
    n, c, oh, ow = g._shape
    h, w = in_hw
    gx = self.empty((n, c, h, w), g.dtype)
    if gx.numel():
        prg = _program(self, g.dtype)
        _launch(self, prg, "avgpool_bwd", n * c * h, w, n * c * h, gx._storage.data, g._storage.data,
                          np.int64(g._offset), np.int64(n * c), *map(np.int32, (h, w, oh, ow, *kernel, *stride,
                                                                                 *padding, count_include_pad, divisor)))
    return gx


def install(cls):
    global LOCAL, _index_program, reduce
    from .backend import LOCAL
    from .backend_ops import _index_program, reduce

    for fn in (conv2d, conv2d_backward, max_pool2d, max_pool2d_backward, avg_pool2d, avg_pool2d_backward):
        setattr(cls, fn.__name__, fn)
