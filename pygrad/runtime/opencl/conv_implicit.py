"""Implicit-GEMM convolution launches (``cl_kernels/conv.cl``, GPU kernel shape): forward, and the
gradients for input (a transposed convolution, no col2im) and weight, with no im2col matrix.

All three take contiguous (N, C, H, W) images, (Cout, C/G, kh, kw) weights and (N, Cout, OH, OW) output
gradients and return new tensors; ``geo`` is (kh, kw, sh, sw, ph, pw, dh, dw, groups).  An empty reduction (no
output pixels, or no output channels) stores zeros: the kernels' K loop then never runs."""
import numpy as np

from . import kernels


def _launch(be, name, out, M, Ncols, z, x, w, g, shape, geo, oh, ow):
    n, c, h, wd = shape
    kh, kw, sh, sw, ph, pw, dh, dw, groups = geo
    cout = w._shape[0] if w is not None else g._shape[1]
    dt = out.dtype
    prg = kernels.program(be.rt, "conv.cl", (f"T {dt.cl}", f"ACC {'double' if dt.itemsize == 8 else 'float'}"))
    dummy = out._storage.data
    bufs = [t._storage.data if t is not None else dummy for t in (x, w, g)]
    offs = [t._offset if t is not None else 0 for t in (x, w, g)]
    getattr(prg, name)(be.rt.queue, (-(-Ncols // 64) * 16, -(-M // 64) * 16, z), (16, 16, 1), *bufs,
                       out._storage.data, *map(np.int32, (n, c, h, wd, cout, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
                                                          groups)), *map(np.int64, offs))
    return out


def forward(be, x, w, geo, oh, ow):
    n, c, h, wd = x._shape
    cout, groups = w._shape[0], geo[-1]
    out = be.empty((n, cout, oh, ow), x.dtype)
    if out.numel():
        _launch(be, "conv_fwd", out, cout // groups, n * oh * ow, groups, x, w, None, x._shape, geo, oh, ow)
    return out


def grad_weight(be, x, g, wshape, geo):
    n, c, h, wd = x._shape
    oh, ow = g._shape[2:]
    out = be.empty(wshape, x.dtype)
    if out.numel():
        groups = geo[-1]
        _launch(be, "conv_dw", out, wshape[0] // groups, wshape[1] * wshape[2] * wshape[3], groups, x, None, g,
                x._shape, geo, oh, ow)
    return out


def grad_input(be, w, g, xshape, geo):
    n, c, h, wd = xshape
    oh, ow = g._shape[2:]
    out = be.empty(xshape, g.dtype)
    if out.numel():
        groups = geo[-1]
        _launch(be, "conv_dx", out, c // groups, n * h * wd, groups, None, w, g, xshape, geo, oh, ow)
    return out

