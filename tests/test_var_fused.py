"""var / std / var_mean / std_mean: the fused OpenCL kernels (var_k, var_cols_k, var_merge_k) against NumPy
golden values on every path (rows, columns, full, few long rows split into chunks merged by Chan's
formula, strided inputs), PyTorch's edge cases (nan with a warning where the correction reaches n, empty
and size-1 reductions), its node names and gradient checks.  ``PYGRAD_KERNEL_SHAPE=gpu`` runs the
work-group kernels."""
import warnings

import numpy as np
import pytest

import pygrad as torch
from pygrad.autograd import gradcheck, gradgradcheck

# (shape, dims) that reach each kernel path: rows, a column reduction (CPU shape: var_cols_k), all dims,
# a single long row and a few long rows (chunks + var_merge_k), narrow tall column reductions (chunks; GPU
# shape: var_cols_wg_k's chunks, the last one ragged, with an outer kept dim), and batch norm's layout (two
# reduced dims around a kept one, runs of 1000 and 1073: the GPU shape walks them run by run, in chunks)
CASES = [((37, 1000), (1,)), ((1027, 600), (0,)), ((65, 127), None), ((200003,), (0,)), ((3, 70001), (1,)),
         ((20000, 3), (0,)), ((5, 63, 7), (0, 2)), ((4097, 1), (0,)), ((1, 1), (1,)), ((3, 1031, 5), (1,)),
         ((5, 3, 1000), (0, 2)), ((2, 4, 37, 29), (0, 2, 3))]


def _golden(a, dims, correction, keepdim):
    a = a.astype(np.float64)
    axis = tuple(range(a.ndim)) if dims is None else dims
    n = int(np.prod([a.shape[d] for d in axis]))
    m = a.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = ((a - m) ** 2).sum(axis=axis, keepdims=keepdim) / max(n - correction, 0)
    return v, (m if keepdim else m.squeeze(axis))


def _check(got, want, dtype):
    tol = {"float16": 2e-3, "float32": 2e-5, "float64": 1e-11}[dtype]
    g = got.cpu().numpy().astype(np.float64)
    assert g.shape == want.shape
    np.testing.assert_allclose(g, want, rtol=tol, atol=tol * max(1.0, np.abs(want[np.isfinite(want)]).max(initial=0)))


@pytest.mark.parametrize("shape,dims", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_var_std_paths(shape, dims, dtype, device):
    rng = np.random.default_rng(len(shape) * 1000 + shape[-1])
    a = (rng.standard_normal(shape) * 3 + 50).astype(dtype)
    t = torch.tensor(a, device=device)
    for correction, keepdim in ((1, False), (0, True), (2, False)):
        if int(np.prod([shape[d] for d in (dims or range(len(shape)))])) <= correction:
            continue  # nan with a warning: test_edge_cases
        v, m = _golden(a, dims, correction, keepdim)
        _check(t.var(dims, correction=correction, keepdim=keepdim), v, dtype)
        _check(t.std(dims, correction=correction, keepdim=keepdim), np.sqrt(v), dtype)
        vm = torch.var_mean(t, dims, correction=correction, keepdim=keepdim)
        _check(vm[0], v, dtype)
        _check(vm[1], m, dtype)
        sm = torch.std_mean(t, dims, correction=correction, keepdim=keepdim)
        _check(sm[0], np.sqrt(v), dtype)
        _check(sm[1], m, dtype)


def test_var_strided_and_half(device):
    """Transposed, sliced and expanded inputs; float16 (computed wider, stored as half)."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((300, 520)).astype(np.float32)
    t = torch.tensor(np.ascontiguousarray(a.T), device=device).t()  # a, column-major
    for dims in ((0,), (1,), None):
        _check(t.var(dims), _golden(a, dims, 1, False)[0], "float32")
    s = torch.tensor(a, device=device)[::3, 1::2]
    for dims in ((0,), (1,)):
        _check(torch.std_mean(s, dims)[0], np.sqrt(_golden(a[::3, 1::2], dims, 1, False)[0]), "float32")
    e = torch.tensor(a[:1], device=device).expand(300, 520)
    assert float(e.var(0).abs().max()) == 0.0
    h = torch.tensor(a[:40], dtype=torch.float16, device=device)
    got = h.var(1)
    assert got.dtype == torch.float16
    _check(got, _golden(a[:40].astype(np.float16), (1,), 1, False)[0], "float16")


def test_var_is_stable(device):
    """A large mean and a small spread: sum(x^2) - n mean^2 would lose every digit in float32."""
    rng = np.random.default_rng(4)
    a = (1e4 + rng.standard_normal(300000)).astype(np.float32)
    want = a.astype(np.float64).var(ddof=1)
    t = torch.tensor(a, device=device)
    assert abs(t.var().item() / want - 1) < 1e-5
    b = a.reshape(600, 500)
    _check(torch.tensor(b, device=device).var(0), b.astype(np.float64).var(0, ddof=1), "float32")
    _check(torch.tensor(b, device=device).var(1), b.astype(np.float64).var(1, ddof=1), "float32")
    s = torch.tensor([1e30, -1e30], device=device)  # PyTorch: std 1.4142e30, var inf (past float32)
    assert abs(s.std().item() / 1.4142135e30 - 1) < 1e-6 and s.var().item() == float("inf")


def test_edge_cases(device):
    """PyTorch's answers: nan and a warning where n - correction <= 0; nan/inf propagate per output."""
    with pytest.warns(UserWarning, match=r"var\(\): degrees of freedom is <= 0"):
        assert np.isnan(torch.tensor([1.0], device=device).var().item())
    with pytest.warns(UserWarning, match=r"std_mean\(\): degrees of freedom is <= 0"):
        s, m = torch.std_mean(torch.tensor([2.0], device=device))
    assert np.isnan(s.item()) and m.item() == 2.0
    s, m = torch.std_mean(torch.tensor([2.0], device=device), correction=0)
    assert s.item() == 0.0 and m.item() == 2.0
    with pytest.warns(UserWarning, match=r"var_mean\(\)"):
        v, m = torch.var_mean(torch.zeros(0, device=device))
    assert np.isnan(v.item()) and np.isnan(m.item())
    with pytest.warns(UserWarning, match=r"var\(\)"):
        assert torch.zeros(3, 0, device=device).var(1).shape == (3,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # n = 2 > correction 1: no warning
        torch.zeros(3, 2, device=device).var(1)
    with pytest.warns(UserWarning):
        assert torch.zeros(2, 3, device=device).var(1, correction=5).tolist() == [pytest.approx(float("nan"), nan_ok=True)] * 2
    y = torch.tensor([[1.0, float("nan")], [float("inf"), 2.0]], device=device)
    assert np.isnan(y.var(0).cpu().numpy()).all() and np.isnan(y.std(1).cpu().numpy()).all()
    z = torch.tensor([[1.0, 2.0], [3.0, 5.0]], device=device)
    assert z.var(1, correction=1.5).tolist() == pytest.approx([1.0, 4.0])  # a float correction, as PyTorch
    with pytest.raises(RuntimeError, match="var_mean only support floating point"):
        torch.var_mean(torch.tensor([1, 2], device=device))
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        torch.tensor([1, 2], device=device).std()


def test_var_mean_values_and_nodes(device):
    """PyTorch 2.13's values, node names and gradients (literals)."""
    a = torch.arange(12.0, device=device).reshape(3, 4).requires_grad_()
    s, m = torch.std_mean(a, dim=1, keepdim=True, unbiased=False)
    assert type(s.grad_fn).__name__ == "StdMeanBackward0" and s.grad_fn is m.grad_fn
    assert s.shape == (3, 1) and s.detach().cpu().numpy().ravel().tolist() == pytest.approx([1.1180340] * 3)
    (s.sum() + m.sum()).backward()
    assert a.grad.cpu().numpy()[0].tolist() == pytest.approx([-0.0854102, 0.1381966, 0.3618034, 0.5854102], abs=1e-6)
    v, m = torch.var_mean(a, 1)
    assert type(v.grad_fn).__name__ == "VarMeanBackward0"
    assert v.tolist() == pytest.approx([5 / 3] * 3) and m.tolist() == [1.5, 5.5, 9.5]
    assert torch.var_mean(a, (0, 1))[0].item() == pytest.approx(13.0)
    assert type(a.var().grad_fn).__name__ == "VarBackward0" and type(a.std(0).grad_fn).__name__ == "StdBackward0"
    m.sum().backward()  # only the mean's gradient: 1/4 each (added to the std_mean gradient above)
    assert a.grad.cpu().numpy()[0].tolist() == pytest.approx([0.1645898, 0.3881966, 0.6118034, 0.8354102], abs=1e-6)


@pytest.mark.parametrize("fn", ["var", "std", "var_mean", "std_mean"])
def test_gradcheck(fn, device):
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.standard_normal((4, 6, 5)), dtype=torch.float64, device=device, requires_grad=True)
    f = getattr(torch, fn)
    for dims, keepdim, corr in (((1,), False, 1), ((0, 2), True, 0), (None, False, 1), ((2,), True, 2)):
        assert gradcheck(lambda t: f(t, dims, keepdim=keepdim, correction=corr), (x,))
    assert gradgradcheck(lambda t: f(t, 1), (x,))
    if fn.endswith("_mean"):  # one output used at a time: the other's gradient is None
        assert gradcheck(lambda t: f(t, 1)[0], (x,)) and gradcheck(lambda t: f(t, 1)[1], (x,))
