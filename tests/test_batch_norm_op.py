"""batch_norm as one op (``NativeBatchNormBackward0``, as PyTorch): forward, running statistics and the three
gradients against NumPy golden values on both backends, train and eval, with and without affine parameters,
strided input; gradcheck and gradgradcheck (the double backward recomputes the statistics as ops)."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck


def _golden(a, g, w, b, eps, training, rm, rv):
    dims = (0,) + tuple(range(2, a.ndim))
    cs = (1, a.shape[1]) + (1,) * (a.ndim - 2)
    n = a.size // a.shape[1]
    if training:
        mean, var = a.mean(dims, keepdims=True), a.var(dims, keepdims=True)
    else:
        mean, var = rm.reshape(cs), rv.reshape(cs)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (a - mean) * invstd
    wc = np.ones(cs) if w is None else w.reshape(cs)
    y = xhat * wc + (0 if b is None else b.reshape(cs))
    dbias, dw = g.sum(dims), (g * xhat).sum(dims)
    if training:
        dx = wc * invstd * (g - dbias.reshape(cs) / n - xhat * dw.reshape(cs) / n)
    else:
        dx = g * wc * invstd
    return y, dx, dw, dbias, mean.reshape(-1), var.reshape(-1) * (n / (n - 1) if training else 1)


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 7), (3, 6, 5, 4), (2, 3, 1, 1, 9)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_op_golden(shape, dtype, training, affine, device):
    rng = np.random.default_rng(len(shape))
    a = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    w = (rng.random(c) + 0.5).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    rm0, rv0 = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.5).astype(dtype)
    y, dx, dw, db, mean, var_unbiased = _golden(a.astype(np.float64), g.astype(np.float64), w, b, 1e-5, training,
                                               rm0.astype(np.float64), rv0.astype(np.float64))
    x = torch.tensor(a, device=device, requires_grad=True)
    wt = torch.tensor(w, device=device, requires_grad=True) if affine else None
    bt = torch.tensor(b, device=device, requires_grad=True) if affine else None
    rm, rv = torch.tensor(rm0, device=device), torch.tensor(rv0, device=device)
    out = F.batch_norm(x, rm, rv, wt, bt, training=training, momentum=0.25)
    assert out.grad_fn.name() == "NativeBatchNormBackward0"
    out.backward(torch.tensor(g, device=device))
    tol = 2e-4 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(out.detach().cpu().numpy(), y, rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.cpu().numpy(), dx, rtol=tol, atol=tol)
    if affine:
        np.testing.assert_allclose(wt.grad.cpu().numpy(), dw, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(bt.grad.cpu().numpy(), db, rtol=tol, atol=tol * 10)
    if training:
        np.testing.assert_allclose(rm.cpu().numpy(), 0.75 * rm0 + 0.25 * mean, rtol=tol, atol=tol)
        np.testing.assert_allclose(rv.cpu().numpy(), 0.75 * rv0 + 0.25 * var_unbiased, rtol=tol, atol=tol)
    else:
        assert (rm.cpu().numpy() == rm0).all() and (rv.cpu().numpy() == rv0).all()


def test_batch_norm_op_strided_input_and_module(device):
    """A channels-last view (permuted storage) gives the contiguous input's results; BatchNorm2d's module
    path (momentum None: cumulative average) runs through the same op."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)
    g = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)
    x1 = torch.tensor(a, device=device, requires_grad=True)
    x2 = torch.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1)), device=device).permute(0, 3, 1, 2)
    x2.requires_grad_()
    bn1, bn2 = nn.BatchNorm2d(6, momentum=None).to(device), nn.BatchNorm2d(6, momentum=None).to(device)
    for x, bn in ((x1, bn1), (x2, bn2)):
        bn(x).backward(torch.tensor(g, device=device))
        bn(x)  # second batch: the cumulative average of the two
    np.testing.assert_allclose(x1.grad.cpu().numpy(), x2.grad.cpu().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn1.running_var.cpu().numpy(), bn2.running_var.cpu().numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn1.running_mean.cpu().numpy(), a.mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
    assert bn1.num_batches_tracked.item() == 2


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_op_gradgradcheck(training):
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((5, 3, 2)), requires_grad=True)
    w = torch.tensor(rng.random(3) + 0.5, requires_grad=True)
    b = torch.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64) * 1.5

    def fn(x, w, b):
        return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training)

    assert gradcheck(fn, (x, w, b), eps=1e-6, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(fn, (x, w, b), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5, 4), 3), ((3, 4, 7), 4), ((2, 4), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_op_golden(shape, groups, affine, device):
    """group_norm as one op (NativeGroupNormBackward0): values and the three gradients against NumPy."""
    rng = np.random.default_rng(len(shape) + groups)
    a = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    w = (rng.random(c) + 0.5).astype(np.float32) if affine else None
    b = rng.standard_normal(c).astype(np.float32) if affine else None
    n = shape[0]
    ar = a.astype(np.float64).reshape(n, groups, -1)
    mean, var = ar.mean(2, keepdims=True), ar.var(2, keepdims=True)
    rstd = 1 / np.sqrt(var + 1e-5)
    xhat = ((ar - mean) * rstd).reshape(shape)
    cs = (1, c) + (1,) * (len(shape) - 2)
    wc = np.ones(cs) if w is None else w.reshape(cs)
    y = xhat * wc + (0 if b is None else b.reshape(cs))
    gx = (g * wc).reshape(n, groups, -1)
    hr = xhat.reshape(n, groups, -1)
    dx = (rstd * (gx - gx.mean(2, keepdims=True) - hr * (gx * hr).mean(2, keepdims=True))).reshape(shape)
    dims = (0,) + tuple(range(2, len(shape)))
    x = torch.tensor(a, device=device, requires_grad=True)
    wt = torch.tensor(w, device=device, requires_grad=True) if affine else None
    bt = torch.tensor(b, device=device, requires_grad=True) if affine else None
    out = F.group_norm(x, groups, wt, bt)
    assert out.grad_fn.name() == "NativeGroupNormBackward0"
    out.backward(torch.tensor(g, device=device))
    np.testing.assert_allclose(out.detach().cpu().numpy(), y, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(x.grad.cpu().numpy(), dx, rtol=2e-4, atol=2e-4)
    if affine:
        np.testing.assert_allclose(wt.grad.cpu().numpy(), (g * xhat).sum(dims), rtol=2e-4, atol=2e-3)
        np.testing.assert_allclose(bt.grad.cpu().numpy(), g.sum(dims), rtol=2e-4, atol=2e-3)


def test_group_norm_op_gradgradcheck():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = torch.tensor(rng.random(4) + 0.5, requires_grad=True)
    b = torch.tensor(rng.standard_normal(4), requires_grad=True)
    fn = lambda x, w, b: F.group_norm(x, 2, w, b)  # noqa: E731
    assert gradcheck(fn, (x, w, b), eps=1e-6, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(fn, (x, w, b), eps=1e-6, atol=1e-5, rtol=1e-3)
