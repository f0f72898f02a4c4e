"""NumPy reference implementations of the nn layers, shared by the nn tests.

They are deliberately plain: windows come from ``sliding_window_view`` and are reduced with
``einsum`` / ``max`` / ``sum``, so they share no code with pygrad's im2col (``Unfold``) path.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import pygrad as torch


def T(a, **kw):
    """A pygrad tensor from array-like ``a``."""
    return torch.tensor(np.asarray(a), **kw)


def close(t, expected, atol=1e-10):
    """``t`` has ``expected``'s shape and values (float64 tolerances)."""
    got = t.detach().cpu().numpy()
    assert got.shape == np.shape(expected), f"{got.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=atol)


def pair(v):
    return v if isinstance(v, tuple) else (v, v)


def windows(x, k, s, d):
    """(N, C, H, W) -> (N, C, oh, ow, kh, kw) views of every (dilated) window."""
    ext = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    return sliding_window_view(x, ext, axis=(2, 3))[:, :, ::s[0], ::s[1], ::d[0], ::d[1]]


def conv2d_ref(x, w, b=None, s=(1, 1), p=(0, 0), d=(1, 1), groups=1):
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    win = windows(xp, w.shape[2:], s, d)
    win = win.reshape(n, groups, c // groups, *win.shape[2:])
    wg = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
    out = np.einsum("ngchwij,gocij->ngohw", win, wg).reshape(n, w.shape[0], *win.shape[3:5])
    return out if b is None else out + b[None, :, None, None]


def conv_transpose2d_ref(x, w, b=None, s=(1, 1), p=(0, 0), op=(0, 0), d=(1, 1), groups=1):
    """Scatter-add: input pixel (h, w) adds x * kernel at output (h*s + i*d, w*s + j*d), then crop."""
    n, cin, h, wd = x.shape
    cout_g, kh, kw = w.shape[1:]
    full = np.zeros((n, groups * cout_g, (h - 1) * s[0] + d[0] * (kh - 1) + 1 + op[0],
                     (wd - 1) * s[1] + d[1] * (kw - 1) + 1 + op[1]))
    xg = x.reshape(n, groups, cin // groups, h, wd)
    wg = w.reshape(groups, cin // groups, cout_g, kh, kw)
    for i in range(kh):  # a loop over kernel taps, not over elements
        for j in range(kw):
            contrib = np.einsum("ngchw,gco->ngohw", xg, wg[:, :, :, i, j]).reshape(n, -1, h, wd)
            full[:, :, i * d[0]:i * d[0] + (h - 1) * s[0] + 1:s[0], j * d[1]:j * d[1] + (wd - 1) * s[1] + 1:s[1]] += contrib
    out = full[:, :, p[0]:full.shape[2] - p[0], p[1]:full.shape[3] - p[1]]
    return out if b is None else out + b[None, :, None, None]


def pool_out(size, k, s, p, d, ceil):
    span = size + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= size + p:
        o -= 1
    return o


def pool_windows(x, k, s, p, d, ceil, fill):
    """Pad with ``fill`` (and extra right/bottom for ceil_mode), then window: (N, C, oh, ow, kh, kw)."""
    h, w = x.shape[2:]
    oh, ow = pool_out(h, k[0], s[0], p[0], d[0], ceil), pool_out(w, k[1], s[1], p[1], d[1], ceil)
    eh = max(0, (oh - 1) * s[0] + d[0] * (k[0] - 1) + 1 - h - 2 * p[0])
    ew = max(0, (ow - 1) * s[1] + d[1] * (k[1] - 1) + 1 - w - 2 * p[1])
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0] + eh), (p[1], p[1] + ew)), constant_values=fill)
    return windows(xp, k, s, d)[:, :, :oh, :ow]


def max_pool2d_ref(x, k, s, p=(0, 0), d=(1, 1), ceil=False):
    win = pool_windows(x, k, s, p, d, ceil, -np.inf)
    flat = win.reshape(*win.shape[:4], -1)
    arg = flat.argmax(-1)
    oh, ow = win.shape[2:4]
    row = np.arange(oh)[:, None] * s[0] - p[0] + (arg // k[1]) * d[0]
    col = np.arange(ow)[None, :] * s[1] - p[1] + (arg % k[1]) * d[1]
    return flat.max(-1), row * x.shape[3] + col


def avg_pool2d_ref(x, k, s, p=(0, 0), ceil=False, count_include_pad=True):
    total = pool_windows(x, k, s, p, (1, 1), ceil, 0.0).sum((-1, -2))
    ones = np.ones((1, 1) + x.shape[2:])
    if count_include_pad:  # padding counts, the ceil_mode overhang past it does not
        ones = np.pad(ones, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=1.0)
        count = pool_windows(ones, k, s, (0, 0), (1, 1), ceil, 0.0).sum((-1, -2))
        count = count[:, :, :total.shape[2], :total.shape[3]]
    else:
        count = pool_windows(ones, k, s, p, (1, 1), ceil, 0.0).sum((-1, -2))
    return total / count


def adaptive_ref(x, out, reduce):
    h, w = x.shape[-2:]
    res = np.empty(x.shape[:-2] + tuple(out))
    for i in range(out[0]):  # loops over the few output positions of a tiny test input
        for j in range(out[1]):
            h0, h1 = (i * h) // out[0], -(-((i + 1) * h) // out[0])
            w0, w1 = (j * w) // out[1], -(-((j + 1) * w) // out[1])
            res[..., i, j] = reduce(x[..., h0:h1, w0:w1], axis=(-2, -1))
    return res


def norm_ref(x, axes, eps=1e-5):
    mean = x.mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axes, keepdims=True) + eps)


ERF = np.vectorize(math.erf)


def interp_ref(x, size, mode, align_corners=False, scale=None):
    """Separable nearest / (bi)linear resize of the trailing dims, PyTorch's source-index rules."""
    for ax, out_n in zip(range(2, x.ndim), size):
        in_n = x.shape[ax]
        i = np.arange(out_n)
        ratio = in_n / out_n if scale is None else 1 / scale
        if mode == "nearest":
            x = np.take(x, np.minimum(np.floor(i * ratio).astype(int), in_n - 1), axis=ax)
            continue
        if align_corners:
            src = i * (in_n - 1) / (out_n - 1) if out_n > 1 else np.zeros(out_n)
        else:
            src = np.maximum((i + 0.5) * ratio - 0.5, 0)
        lo = np.minimum(np.floor(src).astype(int), in_n - 1)
        hi = np.minimum(lo + 1, in_n - 1)
        lam = (src - lo).reshape((-1,) + (1,) * (x.ndim - ax - 1))
        x = np.take(x, lo, axis=ax) * (1 - lam) + np.take(x, hi, axis=ax) * lam
    return x
