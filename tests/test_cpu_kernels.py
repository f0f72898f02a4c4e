"""The CPU backend's compiled kernels (``_vmath``, ``_core``) and fused CPU paths give the same results as the
NumPy / step-by-step code they replace, forward and backward."""
import numpy as np
import pytest

import pygrad
from pygrad import _vmath


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threshold_backward_matches_numpy_where(dtype):
    rng = np.random.default_rng(0)
    g = rng.standard_normal(1037).astype(dtype)
    y = rng.standard_normal(1037).astype(dtype)
    y[:6] = [np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-30]
    g[6:9] = [np.nan, np.inf, -np.inf]
    out = np.empty_like(g)
    assert _vmath.threshold_backward(g, y, out)
    np.testing.assert_array_equal(out, np.where(y <= 0, 0, g))
    assert not _vmath.threshold_backward(g[::2], y[::2], np.empty(519, dtype))  # strided: the caller's NumPy path
    assert not _vmath.threshold_backward(g.astype(np.float16), y.astype(np.float16), np.empty(1037, np.float16))


def test_relu_backward_on_strided_and_broadcast_operands():
    """The compiled pass only takes dense same-shape operands; the rest still go through NumPy."""
    x = pygrad.randn(6, 5).t().requires_grad_()
    w = pygrad.randn(5, 6)
    (x.relu() * w).sum().backward()
    xa = x.detach().numpy()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(xa > 0, w.numpy(), 0))


@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_folds_batch_dims_into_one_product(device, transposed):
    """(..., n, k) @ (k, m) is one mm viewed back (PyTorch's UnsafeViewBackward0 over MmBackward0): same values
    and gradients as NumPy's batched product, for a contiguous and a transposed left operand."""
    rng = np.random.default_rng(1)
    a_np, w_np, g_np = rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 2)), rng.standard_normal((4, 3, 2))
    a = pygrad.tensor(a_np, device=device, requires_grad=True)
    w = pygrad.tensor(w_np, device=device, requires_grad=True)
    x = a.transpose(0, 1) if transposed else a
    y = x @ w
    assert type(y.grad_fn).__name__ == "UnsafeViewBackward0"
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "MmBackward0"
    xn = a_np.transpose(1, 0, 2) if transposed else a_np
    g = g_np if transposed else g_np.transpose(1, 0, 2)
    np.testing.assert_allclose(y.detach().cpu().numpy(), xn @ w_np, rtol=1e-12)
    y.backward(pygrad.tensor(g, device=device))
    ga = g @ w_np.T
    np.testing.assert_allclose(a.grad.cpu().numpy(), ga.transpose(1, 0, 2) if transposed else ga, rtol=1e-12)
    np.testing.assert_allclose(w.grad.cpu().numpy(), np.einsum("bnk,bnm->km", xn, g), rtol=1e-12)
    assert pygrad.autograd.gradcheck(lambda a, w: (a.transpose(0, 1) if transposed else a) @ w,
                                     (a.detach().requires_grad_(), w.detach().requires_grad_()))
    assert (pygrad.zeros(2, 0, 4, device=device) @ pygrad.zeros(4, 3, device=device)).shape == (2, 0, 3)


def test_tanh_f32_is_within_two_ulp_and_keeps_specials():
    x = np.concatenate([np.linspace(-12, 12, 20001), np.logspace(-30, 1, 300), -np.logspace(-30, 1, 300)])
    x = x.astype(np.float32)
    got = _vmath.tanh(x, np.empty_like(x))
    ref = np.tanh(x.astype(np.float64))
    assert (np.abs(got - ref) / np.spacing(np.abs(ref).astype(np.float32))).max() <= 2
    sp = _vmath.tanh(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32), np.empty(5, np.float32))
    assert np.isnan(sp[0]) and list(sp[1:]) == [1, -1, 0, 0] and np.signbit(sp[4]) and not np.signbit(sp[3])


def test_compiled_lstm_cell_matches_numpy_cell():
    from pygrad.runtime import cpu_fused as CF

    rng = np.random.default_rng(2)
    N, H = 5, 7
    gi, gh = (rng.standard_normal((N, 4 * H)).astype(np.float32) * 4 for _ in range(2))
    gi[0, :4] = [60, -60, 0, 1e-6]  # saturated gates and tiny ones
    c_prev = rng.standard_normal((N, H)).astype(np.float32)
    outs = [[np.empty((N, H), np.float32), np.empty((N, H), np.float32), np.empty((N, 4 * H), np.float32)]
            for _ in range(2)]
    _vmath.lstm_cell_forward(gi, gh, c_prev, *outs[0])
    CF._lstm_fwd_np(gi, gh, c_prev, *outs[1])
    for got, ref in zip(*outs):
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-7)
    h, c, acts = outs[1]
    dout, dh, dc = (rng.standard_normal((N, H)).astype(np.float32) for _ in range(3))
    grads = [[np.empty((N, 4 * H), np.float32), np.empty((N, H), np.float32)] for _ in range(2)]
    _vmath.lstm_cell_backward(grads[0][0], grads[0][1], dout, dh, dc, acts, c, c_prev)
    CF._lstm_bwd_np(grads[1][0], grads[1][1], dout, dh, dc, acts, c, c_prev)
    for got, ref in zip(*grads):
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-6)


def _grads_f32_vs_f64(fn, *shapes, seed=3, scale=3.0, special=None):
    """fn's output and input gradients in float32 (the compiled CPU row loops) and in float64 (NumPy's path)."""
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s) * scale for s in shapes]
    if special is not None:
        special(arrs)
    res = []
    for dt in (pygrad.float32, pygrad.float64):
        ts = [pygrad.tensor(a, dtype=dt, requires_grad=True) for a in arrs]
        y = fn(*ts)
        g = pygrad.tensor(np.cos(np.arange(y.numel())).reshape(y.shape), dtype=dt)
        y.backward(g)
        res.append([y.detach().numpy().astype(np.float64)] + [t.grad.numpy().astype(np.float64) for t in ts])
    return res


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("n", [1, 7, 64, 131])
def test_compiled_softmax_rows_match_float64(log, n):
    def masked(arrs):
        arrs[0][0, :] = -np.inf if n == 1 else arrs[0][0, :]
        arrs[0][1, : n // 2] = -np.inf  # masked attention positions: exactly 0 probability
    f = (lambda x: x.log_softmax(-1)) if log else (lambda x: x.softmax(-1))
    (y32, g32), (y64, g64) = _grads_f32_vs_f64(f, (5, n), special=masked if n > 1 else None)
    np.testing.assert_allclose(y32, y64, rtol=2e-6, atol=2e-7)
    if not log:
        assert (y32[1, : n // 2] == 0).all()
    np.testing.assert_allclose(g32, g64, rtol=2e-5, atol=2e-6)


def test_compiled_softmax_nan_and_inf_rows():
    x = pygrad.tensor([[1.0, float("nan"), 2.0], [float("inf"), 0.0, 1.0], [-float("inf")] * 3, [1e30, -1e30, 0]])
    for fn in ("softmax", "log_softmax"):
        got = getattr(x, fn)(-1).numpy()
        ref = getattr(x.double(), fn)(-1).numpy()
        np.testing.assert_allclose(got, ref.astype(np.float32), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("n", [1, 5, 128, 131])
def test_compiled_layer_norm_matches_float64(affine, n):
    def fn(x, w=None, b=None):
        return pygrad.nn.functional.layer_norm(x, (n,), w, b)
    shapes = [(3, 4, n)] + [(n,)] * sum(affine)
    res = _grads_f32_vs_f64(lambda x, *wb: fn(x, *(wb + (None,) * (2 - len(wb)))) if affine[0] else fn(x),
                            *(shapes if affine[0] else shapes[:1]), special=lambda a: a[0].__iadd__(5.0))
    for a32, a64 in zip(*res):
        np.testing.assert_allclose(a32, a64, rtol=5e-5, atol=5e-5 * max(1.0, np.abs(a64).max()))


@pytest.mark.parametrize("op", ["mm", "addmm"])
def test_mm_gradients_keep_the_operands_layout(device, op):
    """A column-major operand (``w.t()``) gets its gradient computed transposed (PyTorch's mm_mat1/mat2_backward):
    same values, and the leaf under the ``.t()`` receives a contiguous gradient (kept without a copy)."""
    rng = np.random.default_rng(4)
    x_np, w_np, b_np = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    xt_np = rng.standard_normal((5, 4))
    x, w, b = (pygrad.tensor(a, device=device, requires_grad=True) for a in (x_np, w_np, b_np))
    xt = pygrad.tensor(xt_np, device=device, requires_grad=True)
    g_np = rng.standard_normal((4, 3))

    def f(x, xt, w, b):
        a = x + xt.t()  # a row-major and (through xt.t()) nothing column-major: a plain left operand
        return (pygrad.addmm(b, xt.t(), w.t()) if op == "addmm" else xt.t().mm(w.t())) + a.mm(w.t())

    f(x, xt, w, b).backward(pygrad.tensor(g_np, device=device))
    np.testing.assert_allclose(w.grad.cpu().numpy(), g_np.T @ (xt_np.T + x_np + xt_np.T), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.cpu().numpy(), (g_np @ w_np).T * 2, rtol=1e-12)
    assert w.grad.is_contiguous() and xt.grad.is_contiguous()
    assert pygrad.autograd.gradcheck(f, (x, xt, w, b))


CONV_CASES = [  # (N, C, H, W, Cout, kernel, stride, padding, dilation, bias)
    (5, 3, 9, 8, 4, (3, 3), (1, 1), (1, 1), (1, 1), True),
    (4, 2, 11, 10, 3, (3, 2), (2, 1), (0, 2), (1, 2), False),
    (3, 1, 7, 7, 2, (5, 5), (1, 1), (2, 2), (1, 1), True),
    (2, 3, 6, 9, 5, (1, 1), (3, 2), (1, 0), (1, 1), True),
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [pygrad.float32, pygrad.float64])
def test_cpu_conv2d_op_matches_the_unfold_matmul_path(case, dtype, monkeypatch):
    """The CPU backend's one-op convolution (batch chunks of im2col + product, ConvolutionBackward0) gives the
    unfold/matmul/fold composition's output and gradients; chunks of one sample exercise the chunk loop."""
    from pygrad.ops import conv as C
    from pygrad.runtime import cpu

    N, Ci, H, W, Co, k, s, p, d, has_bias = case
    rng = np.random.default_rng(5)
    arrs = [rng.standard_normal((N, Ci, H, W)), rng.standard_normal((Co, Ci) + k), rng.standard_normal(Co)]
    res = []
    for direct, chunk in ((True, 1), (True, 1 << 20), (False, None)):
        monkeypatch.setattr(C, "_direct", (lambda *a: True) if direct else (lambda *a: False))
        if chunk:
            monkeypatch.setattr(cpu, "_CONV_CHUNK_BYTES", chunk)
        x, w, b = (pygrad.tensor(a, dtype=dtype, requires_grad=True) for a in arrs)
        y = pygrad.nn.functional.conv2d(x, w, b if has_bias else None, s, p, d)
        assert (type(y.grad_fn).__name__ == "ConvolutionBackward0") == direct
        y.backward(pygrad.tensor(np.sin(np.arange(y.numel())).reshape(y.shape), dtype=dtype))
        res.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy()] + ([b.grad.numpy()] if has_bias else []))
    tol = 1e-5 if dtype is pygrad.float32 else 1e-12
    for got in res[:2]:
        for a, ref in zip(got, res[2]):
            np.testing.assert_allclose(a, ref, rtol=tol, atol=tol * max(1.0, np.abs(ref).max()))


def test_cpu_conv2d_op_gradcheck_and_double_backward():
    from pygrad.autograd import gradcheck, gradgradcheck

    rng = np.random.default_rng(6)
    x, w, b = (pygrad.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 2, 5, 6), (3, 2, 3, 2), (3,)))
    f = lambda x, w, b: pygrad.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2))  # noqa: E731
    assert type(f(x, w, b).grad_fn).__name__ == "ConvolutionBackward0"
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))  # create_graph: the backward written with differentiable ops
    y = f(x.detach(), w, None)  # an input without grad: only the weight's gradient is built
    y.sum().backward()
    assert w.grad is not None and x.grad is None


OPTIM_CASES = [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01, nesterov=False, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2)), ("Adam", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.9), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.05)), ("AdamW", dict(lr=1e-2, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name,kw", OPTIM_CASES)
def test_compiled_float32_optimizer_updates_are_bitwise_the_numpy_passes(name, kw, monkeypatch):
    from pygrad.runtime import cpu_fused

    rng = np.random.default_rng(7)
    p0 = rng.standard_normal((37, 5)).astype(np.float32)
    grads = [rng.standard_normal((37, 5)).astype(np.float32) for _ in range(4)]
    grads[1][0, :3] = [0.0, 1e-30, 3e4]
    results = []
    for compiled in (True, False):
        monkeypatch.setattr(cpu_fused, "COMPILED_OPTIM", compiled)
        p = pygrad.tensor(p0, requires_grad=True)
        opt = getattr(pygrad.optim, name)([p], **kw)
        for g in grads:
            p.grad = pygrad.tensor(g)
            opt.step()
        results.append([p.detach().numpy().copy()] + [v.numpy().copy() for v in opt.state[p].values()
                                                       if hasattr(v, "numpy") and v.numel() > 1])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
