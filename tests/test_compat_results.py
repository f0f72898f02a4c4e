"""Issue 14, wrong results: ops that must return new tensors, gelu's values/speed path, setitem broadcast.

Expected values are PyTorch 2.13's (CPU), stored as literals.
"""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck


# -- ops PyTorch documents as returning a new tensor never return their input (or a view of it) -------
@pytest.mark.parametrize("make", [
    lambda x: torch.roll(x, 4, 1),          # shift % size == 0
    lambda x: torch.roll(x, 0, 0),
    lambda x: torch.roll(x, 0),             # dims=None path (flatten / view)
    lambda x: torch.roll(x, 12),
    lambda x: torch.roll(x, (0, 3), (0, 0)),
    lambda x: F.pad(x, (0, 0)),
    lambda x: F.pad(x, (0, -1)),
    lambda x: torch.tile(x, (1, 1)),
    lambda x: x.repeat(1, 1),
    lambda x: x.flip(()),
    lambda x: torch.cat([x]),
    lambda x: x.clone(),
])
def test_new_tensor_not_input(device, make):
    x = torch.arange(12.0, device=device).reshape(3, 4)
    before = x.tolist()
    y = make(x)
    assert y is not x
    assert y._storage is not x._storage
    y.fill_(-1.0)  # makemore's MLP writes into the result of roll
    assert x.tolist() == before


def test_roll_values(device):
    x = torch.arange(6, device=device).reshape(2, 3)
    assert torch.roll(x, 1, 1).tolist() == [[2, 0, 1], [5, 3, 4]]
    assert torch.roll(x, 1).tolist() == [[5, 0, 1], [2, 3, 4]]
    assert torch.roll(x, 3, 1).tolist() == [[0, 1, 2], [3, 4, 5]]


# -- gelu: one op (GeluBackward0), fast vectorised loop on CPU, right on every device ------------------
GELU_X = [-4.0, -3.0, -1.5, -0.25, 0.0, 0.5, 1.0, 2.0, 5.0]
# PyTorch's float64 results (its float32 ones are within 1.2e-6 of these; pygrad's within 4e-7)
GELU = [-0.00012668496733247991, -0.00404969409489031, -0.10021080190328704, -0.10032341857926907, 0.0,
        0.34573123063700656, 0.841344746068543, 1.9544997361036416, 4.999998566742141]
GELU_TANH = [-7.024594819227126e-05, -0.0036373920817729943, -0.10042842301976707, -0.100324649298315, 0.0,
             0.34571400982514394, 0.8411919906082768, 1.954597694087775, 4.999999770820381]
GELU_GRAD = [-0.0005036496612264215, -0.01194564720418392, -0.1274691922299796, 0.304626645116364, 0.5,
             0.8674951246561629, 1.0833154705876864, 1.085231801078197, 1.000007146946002]
GELU_TANH_GRAD = [-0.00033512319712218684, -0.011584166630969648, -0.12771079315143308, 0.30464590484893955,
                  0.5, 0.8673699035346424, 1.0829640838457826, 1.0860992566236183, 1.000001546361988]
ERF = [-0.9999999845827421, -0.9999779095030014, -0.9661051464753108, -0.27632639016823696, 0.0,
       0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999999999984626]


@pytest.mark.parametrize("approximate,fwd,grad", [("none", GELU, GELU_GRAD), ("tanh", GELU_TANH, GELU_TANH_GRAD)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gelu_values(device, approximate, fwd, grad, dtype):
    x = torch.tensor(GELU_X, dtype=dtype, device=device, requires_grad=True)
    y = F.gelu(x, approximate=approximate)
    assert type(y.grad_fn).__name__ == "GeluBackward0"
    tol = 4e-7 if dtype is torch.float32 else 1e-12
    np.testing.assert_allclose(y.detach().cpu().numpy(), fwd, rtol=tol * 4, atol=tol)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().cpu().numpy(), grad, rtol=tol * 4, atol=tol * 4)
    assert torch.nn.GELU(approximate)(x).tolist() == y.tolist()


def test_gelu_special_values():
    inf, nan = float("inf"), float("nan")
    x = torch.tensor([inf, -inf, nan, -20.0, -14.0, 30.0, 0.0])
    got = F.gelu(x).tolist()  # PyTorch: [nan, nan, nan, -0.0, -0.0, 30.0, 0.0]
    assert all(np.isnan(got[:3])) and got[3:] == [0.0, 0.0, 30.0, 0.0] and np.signbit(got[3])
    got = F.gelu(x, approximate="tanh").tolist()  # PyTorch: [inf, nan, nan, -0.0, -0.0, 30.0, 0.0]
    assert got[0] == inf and np.isnan(got[1]) and got[3:] == [0.0, 0.0, 30.0, 0.0] and np.signbit(got[4])
    x.requires_grad_()
    (g,) = torch.autograd.grad(F.gelu(x).sum(), x)  # PyTorch: [nan, nan, nan, 0.0, 0.0, 1.0, 0.5]
    assert all(np.isnan(g.tolist()[:3])) and g.tolist()[3:] == [0.0, 0.0, 1.0, 0.5]


def test_gelu_float16_and_errors(device):
    y = F.gelu(torch.tensor([1.0, 2.0], dtype=torch.float16, device=device))
    assert y.dtype is torch.float16 and y.tolist() == [0.84130859375, 1.9541015625]  # PyTorch's float16
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(torch.ones(2, device=device), approximate="fast")
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.gelu(torch.ones(2, dtype=torch.long, device=device))
    assert not hasattr(torch.Tensor, "gelu_backward")


def test_erf_float32_fast_path(device):
    x = torch.tensor(GELU_X, device=device)
    np.testing.assert_allclose(torch.erf(x).cpu().numpy(), ERF, rtol=4e-7, atol=4e-7)
    small = torch.tensor([1e-6, -3e-4, 0.1, 0.49, 0.51], device=device)  # relative accuracy near 0
    exact = [1.1283791670951364e-06, -0.0003385137399732415, 0.1124629160182849, 0.511668261188523,
             0.5292436198411704]
    np.testing.assert_allclose(torch.erf(small).cpu().numpy(), exact, rtol=5e-7)


def test_gelu_strided_and_large():
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((300, 70)) * 4).astype(np.float32)
    x = torch.from_numpy(a).t()  # non-contiguous input
    ref = torch.from_numpy(a.astype(np.float64)).t()
    for approximate in ("none", "tanh"):
        got = F.gelu(x, approximate=approximate).numpy()
        np.testing.assert_allclose(got, F.gelu(ref, approximate=approximate).numpy(), rtol=2e-6, atol=5e-7)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck(device, approximate):
    x = torch.tensor([-3.0, -1.2, -0.3, 0.0, 0.4, 1.7, 3.5], dtype=torch.float64, device=device,
                     requires_grad=True)
    assert gradcheck(lambda t: F.gelu(t, approximate=approximate), (x,))
    assert torch.autograd.gradgradcheck(lambda t: F.gelu(t, approximate=approximate), (x,))


# -- x[i] = value drops the value's leading size-1 dims, as PyTorch does ------------------------------
def test_setitem_drops_leading_ones(device):
    x = torch.zeros(3, device=device)
    x[1] = torch.ones(1, 1, device=device)
    assert x.tolist() == [0.0, 1.0, 0.0]
    out = torch.zeros(4, 3, device=device)
    out[0] = torch.ones(1, 3, device=device)
    out[:, 2] = torch.full((1, 1, 4), 3.0, device=device)
    out[[2, 3]] = torch.full((1, 2, 3), 2.0, device=device)
    assert out.tolist() == [[1, 1, 3], [0, 0, 3], [2, 2, 2], [2, 2, 2]]
    with pytest.raises(RuntimeError):
        out[0] = torch.ones(2, 3, device=device)


def test_setitem_leading_ones_grad(device):
    w = torch.ones(1, 1, device=device, requires_grad=True)
    z = torch.zeros(3, device=device)
    z[1] = w * 2
    z.sum().backward()
    assert w.grad.tolist() == [[2.0]]


def test_silu_one_op(device):
    x = torch.tensor([-100.0, -3.0, -0.5, 0.0, 0.5, 3.0, 100.0], device=device, requires_grad=True)
    y = F.silu(x)
    assert type(y.grad_fn).__name__ == "SiluBackward0"
    # PyTorch 2.13's float32 values
    assert y.tolist() == [-0.0, -0.14227761328220367, -0.1887703388929367, 0.0, 0.3112296760082245,
                          2.857722520828247, 100.0]
    xx = torch.tensor([-2.5, -0.3, 0.0, 0.7, 2.0], dtype=torch.float64, device=device, requires_grad=True)
    assert gradcheck(F.silu, (xx,)) and torch.autograd.gradgradcheck(F.silu, (xx,))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.silu(torch.ones(2, dtype=torch.long, device=device))
