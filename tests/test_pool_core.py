"""CPU max_pool2d and avg_pool2d in one compiled pass each (``_core.max_pool2d_fwd``/``_bwd``, ``avg_pool2d_*``) against the composed path
(unfold + max/sum, the code they replace) and a NumPy loop that follows PyTorch's CPU rule."""
import itertools

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck
from pygrad.ops.pool import _avg_pool2d_composed, _max_pool2d_composed

rng = np.random.default_rng(12)


def ref_max_pool(a, k, s, p, d, ceil_mode):
    """PyTorch's CPU loop: padding never wins, a NaN always takes over, else the first maximum."""
    n, c, h, w = a.shape

    def osize(size, k, s, p, d):
        num = size + 2 * p - d * (k - 1) - 1
        o = (-(-num // s) if ceil_mode else num // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        return o

    oh, ow = osize(h, k[0], s[0], p[0], d[0]), osize(w, k[1], s[1], p[1], d[1])
    vals, idx = np.empty((n, c, oh, ow), a.dtype), np.empty((n, c, oh, ow), np.int64)
    for y, x in itertools.product(range(oh), range(ow)):
        hs, ws = y * s[0] - p[0], x * s[1] - p[1]
        h0, w0 = hs, ws
        while h0 < 0:
            h0 += d[0]
        while w0 < 0:
            w0 += d[1]
        for b, ch in itertools.product(range(n), range(c)):
            best, m = h0 * w + w0, -np.inf
            for i, j in itertools.product(range(k[0]), range(k[1])):
                hh, ww = hs + i * d[0], ws + j * d[1]
                if 0 <= hh < h and 0 <= ww < w:
                    v = a[b, ch, hh, ww]
                    if v > m or np.isnan(v):
                        m, best = v, hh * w + ww
            vals[b, ch, y, x], idx[b, ch, y, x] = m, best
    return vals, idx


# (shape, kernel, stride, padding, dilation, ceil_mode)
CASES = [
    ((2, 3, 7, 7), 2, None, 0, 1, False),
    ((1, 2, 5, 9), 3, 2, 1, 1, False),
    ((2, 1, 9, 6), (3, 2), (2, 3), (1, 1), 1, True),
    ((1, 2, 11, 8), 3, 1, 1, 2, False),
    ((1, 1, 10, 13), (2, 3), (3, 2), (1, 0), (2, 3), True),
    ((3, 2, 5, 5), 2, 4, 0, 1, False),  # stride > kernel
    ((1, 3, 6, 7), 3, 3, 1, 1, True),
    ((2, 2, 1, 9), (1, 3), (1, 2), (0, 1), 1, True),
    ((1, 1, 4, 4), 4, 1, 2, 1, False),
    ((1, 1, 13, 11), 5, 2, 2, (1, 2), True),
    ((0, 2, 5, 5), 2, None, 0, 1, False),  # empty batch
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_composed_path_and_reference(case, dtype):
    shape, k, s, p, d, ceil = case
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    a = rng.standard_normal(shape).astype(dtype)
    a = np.round(a * 2) / 2  # few distinct values: many ties, which must go to the first maximum
    x = torch.tensor(a, requires_grad=True)
    v, i = F.max_pool2d(x, return_indices=True, **kw)
    assert v.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    x2 = torch.tensor(a, requires_grad=True)
    v2, i2 = _max_pool2d_composed(x2, k, s, p, d, ceil, True)
    assert v.dtype == x.dtype and i.dtype == torch.int64
    np.testing.assert_array_equal(v.detach().numpy(), v2.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), i2.numpy())
    kk, ss = (k, k) if isinstance(k, int) else k, s if s is not None else k
    tup = lambda t: (t, t) if isinstance(t, int) else t  # noqa: E731
    rv, ri = ref_max_pool(a, tup(kk), tup(ss), tup(p), tup(d), ceil)
    np.testing.assert_array_equal(v.detach().numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    g = rng.standard_normal(v.shape).astype(dtype)
    v.backward(torch.tensor(g))
    v2.backward(torch.tensor(g))
    # the composed path sums shared argmaxes in kernel-offset order (col2im), PyTorch and the compiled
    # pass in output order: equal up to the rounding of that sum
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6, atol=1e-6 if dtype == np.float32 else 1e-14)
    expect = np.zeros((shape[0], shape[1], shape[2] * shape[3]), dtype)
    for b, c in itertools.product(range(shape[0]), range(shape[1])):
        np.add.at(expect[b, c], ri[b, c].reshape(-1), g[b, c].reshape(-1))
    np.testing.assert_array_equal(x.grad.numpy(), expect.reshape(shape))


def test_non_contiguous_and_unbatched():
    base = rng.standard_normal((2, 9, 8, 6))
    a = base.transpose(0, 3, 1, 2)[:, ::2, :, 1:]  # (2, 3, 9, 7) with permuted, stepped strides
    x = torch.tensor(base).permute(0, 3, 1, 2)[:, ::2, :, 1:]
    assert not x.is_contiguous()
    v, i = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    rv, ri = ref_max_pool(np.ascontiguousarray(a), (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(v.numpy(), rv)
    np.testing.assert_array_equal(i.numpy(), ri)
    vu, iu = F.max_pool2d(x[0], 3, 2, 1, return_indices=True)  # (C, H, W)
    np.testing.assert_array_equal(vu.numpy(), rv[0])
    np.testing.assert_array_equal(iu.numpy(), ri[0])


def test_nan_and_inf_follow_pytorch():
    a = np.array([[[[1, np.nan, 3, np.nan], [2, 2, np.nan, 0], [5, 5, 1, 1],
                    [-np.inf, -np.inf, -np.inf, -np.inf]]]], np.float32)
    nan = np.nan
    # torch.nn.functional.max_pool2d(torch.tensor(a), 3, 1, 1, return_indices=True), torch 2.13 CPU
    v, i = F.max_pool2d(torch.tensor(a), 3, 1, 1, return_indices=True)
    assert i.numpy().reshape(-1).tolist() == [1, 6, 6, 6, 1, 6, 6, 6, 8, 6, 6, 6, 8, 8, 9, 10]
    np.testing.assert_array_equal(v.numpy().reshape(-1), [nan, nan, nan, nan, nan, nan, nan, nan,
                                                          5, nan, nan, nan, 5, 5, 5, 1])
    v, i = F.max_pool2d(torch.tensor(a), 2, return_indices=True)
    assert i.numpy().reshape(-1).tolist() == [1, 6, 8, 10]
    # an all -inf window keeps its first in-bounds position (PyTorch), never a padded one
    b = np.full((1, 1, 3, 3), -np.inf, np.float64)
    v, i = F.max_pool2d(torch.tensor(b), 3, 2, 1, return_indices=True)
    assert i.numpy().reshape(-1).tolist() == [0, 1, 3, 4]
    assert np.all(v.numpy() == -np.inf)
    rv, ri = ref_max_pool(b, (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(i.numpy(), ri)


def test_matches_torch_when_available():
    tt = pytest.importorskip("torch")
    for shape, k, s, p, d, ceil in CASES:
        a = rng.standard_normal(shape).astype(np.float32)
        a.reshape(-1)[::3] = np.nan if a.size % 2 else 0.5
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True)
        v, i = F.max_pool2d(torch.tensor(a), **kw)
        tv, ti = tt.nn.functional.max_pool2d(tt.tensor(a), **kw)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_gradcheck_and_double_backward():
    a = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.1
    x = torch.tensor(a, requires_grad=True)
    for kw in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, dilation=2, ceil_mode=True)]:
        assert gradcheck(lambda t: F.max_pool2d(t, **kw), (x,))
        assert gradgradcheck(lambda t: F.max_pool2d(t, **kw), (x,))


def test_backward_rejects_bad_indices():
    from pygrad import _core

    g = np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(RuntimeError, match="outside"):
        _core.max_pool2d_bwd(g, np.full((1, 1, 2, 2), 9, np.int64), 3, 3)
    with pytest.raises(RuntimeError, match="do not match"):
        _core.max_pool2d_bwd(g, np.zeros((1, 1, 2, 3), np.int64), 3, 3)


def ref_avg_pool(a, k, s, p, ceil_mode, count_include_pad, divisor):
    """PyTorch's CPU avg-pool: sum of the in-bounds window in order, over the override or the clipped count."""
    n, c, h, w = a.shape
    vals, _ = ref_max_pool(a, k, s, p, (1, 1), ceil_mode)  # only for the output shape
    oh, ow = vals.shape[2:]
    out = np.empty_like(vals)
    for y, x in itertools.product(range(oh), range(ow)):
        hs, ws = y * s[0] - p[0], x * s[1] - p[1]
        he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
        size = (he - hs) * (we - ws)
        h0, w0, h1, w1 = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
        dv = divisor or (size if count_include_pad else (h1 - h0) * (w1 - w0))
        acc = np.zeros((n, c), a.dtype)
        for i, j in itertools.product(range(h0, h1), range(w0, w1)):
            acc = acc + a[:, :, i, j]
        out[:, :, y, x] = acc / a.dtype.type(dv)
    return out


AVG_CASES = [  # (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    ((2, 3, 7, 7), 2, None, 0, False, True, None),
    ((1, 2, 5, 9), 3, 2, 1, False, True, None),
    ((1, 2, 5, 9), 3, 2, 1, True, False, None),
    ((2, 1, 9, 6), (3, 2), (2, 3), (1, 1), True, True, None),
    ((3, 2, 5, 5), 2, 4, 0, False, True, None),
    ((1, 3, 6, 7), 3, 3, 1, True, True, 5),
    ((2, 2, 1, 9), (1, 3), (1, 2), (0, 1), True, False, None),
    ((1, 1, 13, 11), 5, 2, 2, True, False, None),
    ((0, 2, 5, 5), 2, None, 0, False, True, None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", AVG_CASES, ids=str)
def test_avg_matches_composed_path_and_reference(case, dtype):
    shape, k, s, p, ceil, cip, div = case
    tup = lambda t: (t, t) if isinstance(t, int) else t  # noqa: E731
    a = rng.standard_normal(shape).astype(dtype)
    a.reshape(-1)[::4] = np.nan if a.size > 20 else 0.0
    x = torch.tensor(a, requires_grad=True)
    v = F.avg_pool2d(x, k, s, p, ceil, cip, div)
    assert v.grad_fn.name() == "AvgPool2DBackward0"
    x2 = torch.tensor(a, requires_grad=True)
    v2 = _avg_pool2d_composed(x2, k, s, p, ceil, cip, div)
    np.testing.assert_array_equal(v.detach().numpy(), v2.detach().numpy())
    rv = ref_avg_pool(a, tup(k), tup(s if s is not None else k), tup(p), ceil, cip, div)
    np.testing.assert_array_equal(v.detach().numpy(), rv)
    g = rng.standard_normal(v.shape).astype(dtype)
    v.backward(torch.tensor(g))
    v2.backward(torch.tensor(g))
    # col2im sums overlapping windows in kernel-offset order, PyTorch and the compiled pass in output order
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6, atol=1e-6 if dtype == np.float32 else 1e-14)


def test_avg_matches_torch_when_available():
    tt = pytest.importorskip("torch")
    for shape, k, s, p, ceil, cip, div in AVG_CASES:
        a = rng.standard_normal(shape).astype(np.float32)
        x, tx = torch.tensor(a, requires_grad=True), tt.tensor(a, requires_grad=True)
        v, tv = F.avg_pool2d(x, k, s, p, ceil, cip, div), tt.nn.functional.avg_pool2d(tx, k, s, p, ceil, cip, div)
        np.testing.assert_allclose(v.detach().numpy(), tv.detach().numpy(), rtol=1e-6, atol=1e-6)
        g = rng.standard_normal(tuple(v.shape)).astype(np.float32)
        v.backward(torch.tensor(g))
        tv.backward(tt.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_avg_gradcheck_and_double_backward():
    x = torch.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    for kw in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                                count_include_pad=False), dict(kernel_size=2,
                                                                                               divisor_override=3)]:
        assert gradcheck(lambda t: F.avg_pool2d(t, **kw), (x,))
        assert gradgradcheck(lambda t: F.avg_pool2d(t, **kw), (x,))
