"""Few long rows split into chunks over two launches (issue 13): argmax/argmin/max(dim), logsumexp and norm,
softmax/log_softmax forward and backward.  Odd sizes, ties and NaN/inf placed in different chunks (the
first index of equals must win, NaN must spread), strided rows; NumPy golden values.  The CPU shape splits
rows of >= 64K elements when there are fewer rows than cores; the GPU shape (``PYGRAD_KERNEL_SHAPE=gpu``)
rows of >= 8 work-groups' worth."""
import numpy as np
import pytest

import pygrad as torch

SIZES = [1, 7, 63, 65, 127, 1000, 4097, 70001, 300001]


def _np_softmax(a, log):
    a = a.astype(np.float64)
    m = a.max()
    with np.errstate(all="ignore"):
        z = np.exp(a - m)
        s = z.sum()
        return (a - m - np.log(s)) if log else z / s


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "float16"])
def test_arg_reductions_long_rows(n, dtype, device):
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 100).astype(dtype)
    if n > 100:  # the extreme twice, in different chunks: the first index wins
        a[n // 3] = a[2 * n // 3] = a.max()
        a[n // 4] = a[3 * n // 4] = a.min()
    x = torch.tensor(a, device=device)
    assert x.argmax().item() == a.argmax() and x.argmin().item() == a.argmin()
    v, i = x.max(0)
    assert i.item() == a.argmax() and float(v.item()) == float(a.max())
    v, i = x.min(0, keepdim=True)
    assert i.shape == (1,) and i.item() == a.argmin() and float(v.item()) == float(a.min())
    b = np.stack([a, -a], 0)  # two strided rows (column-major storage)
    xb = torch.tensor(np.ascontiguousarray(b.T), device=device).t()
    assert xb.argmax(1).tolist() == b.argmax(1).tolist()
    assert xb.argmin(1).tolist() == b.argmin(1).tolist()


def test_arg_reductions_nan_inf(device):
    n = 300001
    for first, second in ((5, 299999), (200000, 250000)):
        c = np.zeros(n, np.float32)
        c[first] = c[second] = np.nan
        assert torch.tensor(c, device=device).argmax().item() == first  # the first NaN (NumPy, PyTorch)
        assert torch.tensor(c, device=device).argmin().item() == first
    d = np.full(n, -np.inf, np.float32)
    assert torch.tensor(d, device=device).argmax().item() == 0
    d[250000] = np.inf
    x = torch.tensor(d, device=device)
    assert x.argmax().item() == 250000 and x.max(0)[0].item() == float("inf")


@pytest.mark.parametrize("n", SIZES)
def test_logsumexp_norm_long_rows(n, device):
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 10).astype(np.float32)
    x = torch.tensor(a, device=device)
    m = a.max()
    want = np.log(np.exp((a - m).astype(np.float64)).sum()) + m
    assert x.logsumexp(0).item() == pytest.approx(want, rel=2e-6, abs=1e-6)
    assert x.norm().item() == pytest.approx(np.linalg.norm(a.astype(np.float64)), rel=2e-6)
    assert x.norm(1).item() == pytest.approx(np.abs(a.astype(np.float64)).sum(), rel=2e-6)
    assert x.norm(float("inf")).item() == np.abs(a).max()
    s = torch.tensor(np.stack([a, a], 1), device=device)[:, 1]  # strided
    assert s.logsumexp(0).item() == pytest.approx(want, rel=2e-6, abs=1e-6)


def test_logsumexp_long_rows_non_finite(device):
    """PyTorch's answers: -inf for all -inf, inf for any inf, NaN for any NaN, wherever they sit."""
    n = 300001
    a = np.full(n, -np.inf, np.float32)
    assert torch.tensor(a, device=device).logsumexp(0).item() == float("-inf")
    a[:150000] = -1000.0  # a finite chunk next to chunks of -inf only
    assert torch.tensor(a, device=device).logsumexp(0).item() == pytest.approx(-1000 + np.log(150000), rel=1e-6)
    a[299000] = np.inf
    assert torch.tensor(a, device=device).logsumexp(0).item() == float("inf")
    a[5] = np.nan
    assert np.isnan(torch.tensor(a, device=device).logsumexp(0).item())


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_long_rows(n, log, device):
    rng = np.random.default_rng(n + log)
    a = (rng.standard_normal(n) * 5).astype(np.float32)
    x = torch.tensor(a, device=device, requires_grad=True)
    y = x.log_softmax(0) if log else x.softmax(0)
    e = _np_softmax(a, log)
    np.testing.assert_allclose(y.detach().cpu().numpy(), e, rtol=5e-5, atol=1e-6 if log else 1e-9)
    g = rng.standard_normal(n).astype(np.float32)
    y.backward(torch.tensor(g, device=device))
    p = np.exp(e) if log else e
    ge = (g - p * g.sum()) if log else p * (g - (g * p).sum())
    np.testing.assert_allclose(x.grad.cpu().numpy(), ge, rtol=1e-4, atol=1e-5 * max(1, np.abs(ge).max()))
    s = torch.tensor(np.stack([a, a * 0], 1), device=device)[:, 0]  # a strided row
    ys = s.log_softmax(0) if log else s.softmax(0)
    np.testing.assert_allclose(ys.cpu().numpy(), e, rtol=5e-5, atol=1e-6 if log else 1e-9)
    two = torch.tensor(np.stack([a, -a]), device=device)  # two rows (fewer than the cores of a 4-core CPU)
    np.testing.assert_allclose(two.softmax(1).cpu().numpy()[1], _np_softmax(-a, False), rtol=5e-5, atol=1e-9)


@pytest.mark.parametrize("special", [[1.0, float("inf"), 2.0], [float("-inf")] * 3, [1.0, float("nan"), 3.0],
                                     [float("-inf"), 0.0, -1000.0]])
def test_softmax_long_rows_non_finite(special, device):
    a = np.array(special * 40000, np.float32)
    for log in (False, True):
        x = torch.tensor(a, device=device)
        y = (x.log_softmax(0) if log else x.softmax(0)).cpu().numpy()
        np.testing.assert_allclose(y, _np_softmax(a, log).astype(np.float32), rtol=1e-4, atol=1e-12, equal_nan=True)
