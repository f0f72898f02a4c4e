"""conv2d, max_pool2d and avg_pool2d as single ops on every backend (CPU: compiled loops; OpenCL: ``runtime/opencl/conv_ops.py``,
batch-folded im2col + one GEMM per chunk, max-pool with indices and a gathering backward): PyTorch's nodes
(``ConvolutionBackward0``, ``MaxPool2DWithIndicesBackward0``, ``AvgPool2DBackward0``), the same values and gradients as NumPy golden
values, gradchecks (second order too), the cases the one-op path leaves to the composed ops (groups, float16),
batch 0, non-contiguous inputs, batch chunks, and an Oclgrind run of the new kernels."""
import os
import textwrap

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from helpers import run_on_oclgrind


def np_conv(x, w, b, s, p, d):
    """Reference cross-correlation (float64) of (N, C, H, W) by (Cout, C, kh, kw)."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.zeros((n, co, oh, ow))
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]
            out += np.einsum("nchw,kc->nkhw", win, w[:, :, i, j])
    return out + (0 if b is None else b.reshape(1, -1, 1, 1))


def np_conv_grads(x, w, s, p, d, gy):
    """Gradients of sum(conv * gy) for x and w, by the adjoint of np_conv (float64)."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    oh, ow = gy.shape[2:]
    gxp = np.zeros((n, c, h + 2 * p[0], wd + 2 * p[1]))
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    gw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(None), slice(i * d[0], i * d[0] + s[0] * (oh - 1) + 1, s[0]),
                  slice(j * d[1], j * d[1] + s[1] * (ow - 1) + 1, s[1]))
            gxp[sl] += np.einsum("nkhw,kc->nchw", gy, w[:, :, i, j])
            gw[:, :, i, j] = np.einsum("nkhw,nchw->kc", gy, xp[sl])
    return gxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd], gw


# (N, C, H, W, Cout, kernel, stride, padding, dilation, bias)
CONV_CASES = [
    (4, 1, 12, 12, 6, (5, 5), (1, 1), (0, 0), (1, 1), True),        # LeNet's first layer, smaller
    (3, 2, 7, 9, 5, (3, 2), (2, 1), (1, 2), (1, 2), False),         # odd sizes, stride, padding, dilation
    (1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1), True),          # 1 x 1
    (2, 20, 5, 6, 17, (3, 3), (1, 1), (1, 1), (1, 1), True),        # Cout > 16
    (5, 3, 4, 4, 2, (4, 4), (1, 1), (0, 0), (1, 1), True),          # one output pixel per image
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c[:5]) for c in CONV_CASES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv2d_op_matches_numpy(device, case, dtype):
    n, c, h, w, co, k, s, p, d, has_bias = case
    rng = np.random.default_rng(1)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((co, c) + k), rng.standard_normal(co)
    ref = np_conv(x, wt, b if has_bias else None, s, p, d)
    gy = np.sin(np.arange(ref.size)).reshape(ref.shape)
    gx_ref, gw_ref = np_conv_grads(x, wt, s, p, d, gy)
    ts = [torch.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in (x, wt, b)]
    y = F.conv2d(ts[0], ts[1], ts[2] if has_bias else None, s, p, d)
    assert type(y.grad_fn).__name__ == "ConvolutionBackward0"
    y.backward(torch.tensor(gy, dtype=dtype, device=device))
    tol = 2e-5 if dtype is torch.float32 else 1e-10
    for got, want in ((y, ref), (ts[0].grad, gx_ref), (ts[1].grad, gw_ref)) + (((ts[2].grad, gy.sum((0, 2, 3))),)
                                                                             if has_bias else ()):
        assert got.dtype is dtype and tuple(got.shape) == want.shape
        np.testing.assert_allclose(got.detach().cpu().numpy(), want, rtol=tol, atol=tol * max(1, np.abs(want).max()))
    if not has_bias:
        assert ts[2].grad is None


def test_conv2d_op_gradcheck_and_double_backward(device):
    from pygrad.autograd import gradcheck, gradgradcheck

    rng = np.random.default_rng(2)
    ins = [torch.tensor(rng.standard_normal(sh), dtype=torch.float64, device=device, requires_grad=True)
           for sh in ((2, 2, 5, 6), (3, 2, 3, 2), (3,))]
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 1), dilation=(1, 2))  # noqa: E731
    assert type(fn(*ins).grad_fn).__name__ == "ConvolutionBackward0"
    assert gradcheck(fn, ins)
    assert gradgradcheck(fn, ins)  # create_graph: the backward written with differentiable ops


def test_conv2d_op_chunks_and_workspace(device, monkeypatch):
    """Several batch chunks (a ragged last one) give the one-chunk result, whether the backward reuses the
    forward's columns or rebuilds them (over KEEP_BYTES); only the weight, only the input, only the bias wanted."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((5, 3, 6, 7)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    gy = rng.standard_normal((5, 4, 6, 6))
    ref = np_conv(x, w, b, (1, 1), (1, 0), (1, 1))
    gx_ref, gw_ref = np_conv_grads(x, w, (1, 1), (1, 0), (1, 1), gy)
    if device == "opencl":
        from pygrad.runtime.opencl import conv_ops
    for chunk, keep in ((1 << 20, 1 << 20), (2 * 3 * 3 * 2 * 36 * 4, 1 << 20), (2 * 3 * 3 * 2 * 36 * 4, 0)):
        if device == "opencl":  # whole batch, then 2 samples per chunk (columns kept, then rebuilt)
            monkeypatch.setattr(conv_ops, "CHUNK_BYTES", chunk)
            monkeypatch.setattr(conv_ops, "KEEP_BYTES", keep)
        for wanted in ((True, True, True), (False, True, False), (True, False, False), (False, False, True)):
            ts = [torch.tensor(a, dtype=torch.float32, device=device, requires_grad=r) for a, r in zip((x, w, b), wanted)]
            y = F.conv2d(ts[0], ts[1], ts[2], padding=(1, 0))
            np.testing.assert_allclose(y.detach().cpu().numpy(), ref, rtol=1e-5, atol=1e-4)
            y.backward(torch.tensor(gy, dtype=torch.float32, device=device))
            for t, want, r in zip(ts, (gx_ref, gw_ref, gy.sum((0, 2, 3))), wanted):
                if r:
                    np.testing.assert_allclose(t.grad.cpu().numpy(), want, rtol=1e-5, atol=1e-4)
                else:
                    assert t.grad is None


def test_conv2d_op_retain_graph_backward_twice(device):
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((2, 2, 5, 5)), dtype=torch.float32, device=device, requires_grad=True)
    conv = torch.nn.Conv2d(2, 3, 3).to(device)
    y = conv(x).sum()
    y.backward(retain_graph=True)
    g1 = conv.weight.grad.cpu().numpy().copy()
    y.backward()
    np.testing.assert_allclose(conv.weight.grad.cpu().numpy(), 2 * g1, rtol=1e-5)


def test_conv2d_empty_batch_and_noncontiguous(device):
    w = torch.randn(4, 3, 3, 3, device=device, requires_grad=True)
    x0 = torch.zeros((0, 3, 8, 8), device=device, requires_grad=True)
    y0 = F.conv2d(x0, w, padding=1)
    assert tuple(y0.shape) == (0, 4, 8, 8)
    y0.sum().backward()
    assert tuple(x0.grad.shape) == (0, 3, 8, 8) and not w.grad.cpu().numpy().any()
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 6, 9, 2)).astype(np.float32)
    xt = torch.tensor(base, device=device).permute(0, 1, 3, 2)[:, ::2]   # (3, 3, 2, 9), not contiguous
    assert not xt.is_contiguous()
    y = F.conv2d(xt, w, padding=1)
    np.testing.assert_allclose(y.detach().cpu().numpy(), np_conv(base.transpose(0, 1, 3, 2)[:, ::2],
                                                                  w.detach().cpu().numpy(), None, (1, 1), (1, 1),
                                                                  (1, 1)), rtol=1e-4, atol=1e-4)


def test_conv2d_other_cases_stay_composed(device):
    """groups != 1 and float16 are not the one-op path (the composed ops run them), still right."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 6, 6))
    w = rng.standard_normal((6, 2, 3, 3))
    y = F.conv2d(torch.tensor(x, device=device, dtype=torch.float32), torch.tensor(w, device=device,
                                                                                    dtype=torch.float32), groups=2)
    assert getattr(y.grad_fn, "__class__", type(None)).__name__ != "ConvolutionBackward0" or y.grad_fn is None
    ref = np.concatenate([np_conv(x[:, :2], w[:3], None, (1, 1), (0, 0), (1, 1)),
                          np_conv(x[:, 2:], w[3:], None, (1, 1), (0, 0), (1, 1))], 1)
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-4, atol=1e-4)
    xh = torch.tensor(x[:, :2], device=device, dtype=torch.float16, requires_grad=True)
    wh = torch.tensor(w[:3], device=device, dtype=torch.float16, requires_grad=True)
    yh = F.conv2d(xh, wh)
    assert yh.dtype is torch.float16 and type(yh.grad_fn).__name__ != "ConvolutionBackward0"
    np.testing.assert_allclose(yh.detach().cpu().numpy().astype(np.float64),
                               np_conv(x[:, :2], w[:3], None, (1, 1), (0, 0), (1, 1)), rtol=2e-2, atol=5e-2)


def np_max_pool(x, k, s, p, d, oh, ow):
    """(values, flat indices) by PyTorch's rule: padding never wins, NaN takes over, first strict max."""
    n, c, h, w = x.shape
    vals, idx = np.full((n, c, oh, ow), -np.inf), np.zeros((n, c, oh, ow), np.int64)
    for y in range(oh):
        for xo in range(ow):
            taps = [(y * s[0] - p[0] + i * d[0], xo * s[1] - p[1] + j * d[1]) for i in range(k[0]) for j in range(k[1])]
            taps = [(a, b) for a, b in taps if 0 <= a < h and 0 <= b < w]
            idx[:, :, y, xo] = taps[0][0] * w + taps[0][1]
            for a, b in taps:
                v = x[:, :, a, b]
                take = (v > vals[:, :, y, xo]) | np.isnan(v)
                vals[:, :, y, xo] = np.where(take, v, vals[:, :, y, xo])
                idx[:, :, y, xo] = np.where(take, a * w + b, idx[:, :, y, xo])
    return vals, idx


# (N, C, H, W, kernel, stride, padding, dilation, ceil_mode, output size)
POOL_CASES = [
    (2, 3, 8, 8, 2, 2, 0, 1, False, (4, 4)),                    # LeNet's: windows side by side
    (2, 2, 7, 9, 3, 2, 1, 1, True, (4, 5)),                     # padding, ceil_mode
    (1, 2, 9, 7, (3, 2), (1, 2), (1, 1), (2, 1), False, (7, 4)),  # dilation, overlapping windows
    (2, 3, 7, 7, 2, 2, 0, 1, True, (4, 4)),                     # ceil_mode overhang, stride = kernel
    (1, 2, 9, 7, 3, 3, 0, 1, False, (3, 2)),                    # side by side, a leftover column
    (3, 1, 1, 1, 1, 1, 0, 1, False, (1, 1)),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c[4:9]) for c in POOL_CASES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_max_pool2d_op_matches_numpy(device, case, dtype):
    n, c, h, w, k, s, p, d, ceil, out_hw = case
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, c, h, w))
    x[0, 0, 0, 0] = np.nan
    x[-1, -1, h // 2, :] = 0.5  # ties: the first wins
    vals, idx = np_max_pool(x, pair(k), pair(s), pair(p), pair(d), *out_hw)
    t = torch.tensor(x, dtype=dtype, device=device, requires_grad=True)
    v, i = F.max_pool2d(t, k, s, p, d, ceil_mode=ceil, return_indices=True)
    assert type(v.grad_fn).__name__ == "MaxPool2DWithIndicesBackward0"
    assert v.dtype is dtype and i.dtype is torch.int64 and tuple(v.shape) == vals.shape
    np.testing.assert_array_equal(i.cpu().numpy(), idx)
    np.testing.assert_allclose(v.detach().cpu().numpy(), vals, equal_nan=True)
    gy = np.cos(np.arange(vals.size)).reshape(vals.shape)
    v.backward(torch.tensor(gy, dtype=dtype, device=device))
    gx = np.zeros(n * c * h * w)
    np.add.at(gx, (idx + (np.arange(n * c) * h * w).reshape(n, c, 1, 1)).ravel(), gy.ravel())
    np.testing.assert_allclose(t.grad.cpu().numpy(), gx.reshape(x.shape), rtol=1e-6, atol=1e-6)


def test_max_pool2d_op_gradcheck_batch0_noncontiguous(device):
    from pygrad.autograd import gradcheck, gradgradcheck

    rng = np.random.default_rng(8)
    x = torch.tensor(rng.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 10.0, dtype=torch.float64, device=device,
                     requires_grad=True)  # distinct values: the argmax does not move under the perturbation
    fn = lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True)  # noqa: E731
    assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])
    e = torch.zeros((0, 3, 6, 6), device=device, requires_grad=True)
    ve = F.max_pool2d(e, 2)
    assert tuple(ve.shape) == (0, 3, 3, 3)
    ve.sum().backward()
    assert tuple(e.grad.shape) == (0, 3, 6, 6)
    base = rng.standard_normal((2, 6, 3, 8))
    xt = torch.tensor(base, dtype=torch.float32, device=device).permute(0, 1, 3, 2)[:, 1::2]
    assert not xt.is_contiguous()
    vals, _ = np_max_pool(base.transpose(0, 1, 3, 2)[:, 1::2], (2, 2), (2, 2), (0, 0), (1, 1), 4, 1)
    np.testing.assert_allclose(F.max_pool2d(xt, 2).cpu().numpy(), vals, rtol=1e-6)
    xu = torch.tensor(base[0], dtype=torch.float32, device=device)  # unbatched (C, H, W)
    v, i = F.max_pool2d(xu, 2, return_indices=True)
    assert tuple(v.shape) == (6, 1, 4) and tuple(i.shape) == (6, 1, 4)


def test_max_pool2d_other_dtypes_stay_composed(device):
    x = torch.tensor(np.arange(32, dtype=np.int64).reshape(1, 2, 4, 4), device=device)
    np.testing.assert_array_equal(F.max_pool2d(x, 2).cpu().numpy(), [[[[5, 7], [13, 15]], [[21, 23], [29, 31]]]])


def np_avg_pool(x, k, s, p, oh, ow, count_include_pad, divisor, gy):
    """(window means, input gradient of sum(means * gy)) by PyTorch's divisor rule (float64)."""
    n, c, h, w = x.shape
    out, gx = np.zeros((n, c, oh, ow)), np.zeros_like(x)
    for y in range(oh):
        for xo in range(ow):
            hs, ws = y * s[0] - p[0], xo * s[1] - p[1]
            he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
            dv = divisor or ((he - hs) * (we - ws) if count_include_pad else
                             (min(he, h) - max(hs, 0)) * (min(we, w) - max(ws, 0)))
            win = (slice(None), slice(None), slice(max(hs, 0), min(he, h)), slice(max(ws, 0), min(we, w)))
            out[:, :, y, xo] = x[win].sum((2, 3)) / dv
            gx[win] += (gy[:, :, y, xo] / dv)[:, :, None, None]
    return out, gx


# (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, output size) on 2x3x7x9 inputs
AVG_CASES = [(2, 2, 0, False, True, None, (3, 4)), (3, 2, 1, False, True, None, (4, 5)),
             (3, 2, 1, True, False, None, (4, 5)), ((3, 2), (1, 2), (1, 0), True, True, None, (7, 5)),
             (2, 2, 0, False, True, 3, (3, 4)), (2, 1, 1, True, False, None, (8, 10))]


@pytest.mark.parametrize("case", AVG_CASES, ids=[str(c[:6]) for c in AVG_CASES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_avg_pool2d_op_matches_numpy(device, case, dtype):
    k, s, p, ceil, cip, div, out_hw = case
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 7, 9))
    gy = np.cos(np.arange(2 * 3 * out_hw[0] * out_hw[1])).reshape(2, 3, *out_hw)
    ref, gx_ref = np_avg_pool(x, pair(k), pair(s), pair(p), *out_hw, cip, div, gy)
    t = torch.tensor(x, dtype=dtype, device=device, requires_grad=True)
    y = F.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
    assert type(y.grad_fn).__name__ == "AvgPool2DBackward0" and y.dtype is dtype
    tol = 1e-6 if dtype is torch.float32 else 1e-12
    np.testing.assert_allclose(y.detach().cpu().numpy(), ref, rtol=tol, atol=tol)
    y.backward(torch.tensor(gy, dtype=dtype, device=device))
    np.testing.assert_allclose(t.grad.cpu().numpy(), gx_ref, rtol=tol, atol=tol)


def test_avg_pool2d_op_gradcheck(device):
    from pygrad.autograd import gradcheck, gradgradcheck

    x = torch.tensor(np.random.default_rng(10).standard_normal((2, 2, 5, 6)), dtype=torch.float64, device=device,
                     requires_grad=True)
    fn = lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False)  # noqa: E731
    assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])


OCLGRIND_SCRIPT = textwrap.dedent(r"""
    import numpy as np
    import pygrad as torch
    import pygrad.nn.functional as F
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import conv_ops

    print("device:", get_backend(torch.device("opencl")).rt.device.name, flush=True)
    rng = np.random.default_rng(0)
    # one chunk (columns kept), chunks of 2 samples (kept), chunks of 2 samples rebuilt in the backward
    for chunk, keep in ((32 << 20, 32 << 20), (2 * 2 * 9 * 20 * 4, 32 << 20), (2 * 2 * 9 * 20 * 4, 0)):
        conv_ops.CHUNK_BYTES, conv_ops.KEEP_BYTES = chunk, keep
        for (n, c, h, w, co, k, s, p, d) in [(3, 2, 6, 7, 3, (3, 3), (1, 2), (1, 0), (1, 1)),
                                             (2, 1, 5, 5, 17, (2, 2), (1, 1), (0, 0), (2, 1))]:
            ts = [torch.tensor(rng.standard_normal(sh), dtype=torch.float32, device="opencl", requires_grad=True)
                  for sh in ((n, c, h, w), (co, c) + k, (co,))]
            y = F.conv2d(*ts, stride=s, padding=p, dilation=d)
            y.backward(torch.ones_like(y))
            cpu = [t.detach().cpu().requires_grad_() for t in ts]
            yc = F.conv2d(*cpu, stride=s, padding=p, dilation=d)
            yc.backward(torch.ones_like(yc))
            for a, b in [(y, yc)] + [(t.grad, u.grad) for t, u in zip(ts, cpu)]:
                assert np.allclose(a.detach().cpu().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-4)
    for args in [(2, 2, 0, 1, False), (3, 2, 1, 1, True), ((3, 2), (1, 2), (1, 1), (2, 1), False), (2, 2, 0, 1, True)]:
        x = torch.tensor(rng.standard_normal((2, 2, 7, 9)), dtype=torch.float32, device="opencl", requires_grad=True)
        v, i = F.max_pool2d(x, *args, return_indices=True)
        v.backward(torch.ones_like(v))
        xc = x.detach().cpu().requires_grad_()
        vc, ic = F.max_pool2d(xc, *args, return_indices=True)
        vc.backward(torch.ones_like(vc))
        assert (i.cpu().numpy() == ic.numpy()).all() and np.allclose(x.grad.cpu().numpy(), xc.grad.numpy())
    # a row wider than a work-group (the GPU shape's 2-D launches), NaN and ties in the windows
    xn = np.round(rng.standard_normal((1, 2, 5, 65)) * 2) / 2
    xn[0, 1, 2, 7] = xn[0, 0, 0, 64] = np.nan
    x = torch.tensor(xn, dtype=torch.float32, device="opencl", requires_grad=True)
    v, i = F.max_pool2d(x, 3, (1, 2), 1, 1, True, return_indices=True)
    v.backward(torch.ones_like(v))
    xc = x.detach().cpu().requires_grad_()
    vc, ic = F.max_pool2d(xc, 3, (1, 2), 1, 1, True, return_indices=True)
    vc.backward(torch.ones_like(vc))
    assert (i.cpu().numpy() == ic.numpy()).all() and np.allclose(x.grad.cpu().numpy(), xc.grad.numpy())
    assert np.allclose(v.detach().cpu().numpy(), vc.detach().numpy(), equal_nan=True)
    for args in [(2, 2, 0, False, True), (3, 2, 1, True, False), ((3, 2), (1, 2), (1, 0), True, True)]:
        x = torch.tensor(rng.standard_normal((2, 2, 7, 9)), dtype=torch.float32, device="opencl", requires_grad=True)
        v = F.avg_pool2d(x, *args)
        v.backward(torch.ones_like(v))
        xc = x.detach().cpu().requires_grad_()
        vc = F.avg_pool2d(xc, *args)
        vc.backward(torch.ones_like(vc))
        assert np.allclose(v.detach().cpu().numpy(), vc.detach().numpy(), atol=1e-5)
        assert np.allclose(x.grad.cpu().numpy(), xc.grad.numpy(), atol=1e-5)
    print("ok")
""")


@pytest.mark.oclgrind
@pytest.mark.skipif(not os.environ.get("PYGRAD_TEST_OCLGRIND"),
                    reason="the Oclgrind job runs as its own CI command: PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind")
@pytest.mark.parametrize("shape", ["cpu", "gpu"])
def test_conv_pool_kernels_under_oclgrind(tmp_path, shape):
    r, report = run_on_oclgrind(OCLGRIND_SCRIPT, tmp_path, shape=shape)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr[-4000:] + report
    assert "Oclgrind" in r.stdout, r.stdout  # it really ran on the simulator
    assert report.strip() == "", report[:4000]
