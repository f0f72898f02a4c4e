"""nll_loss / cross_entropy / mse_loss as single graph nodes (PyTorch's), fused kernels, PyTorch's values."""
import warnings

import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck

X = [[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5], [-0.7, 2.2, 0.4, 0.0]]
W = [0.5, 2.0, 1.0, 3.0]
# PyTorch 2.13: F.cross_entropy(X, [2, -100, 1], weight=W, reduction=r) and d(loss.sum())/dX
LOSS = {"mean": 0.3540841712487112, "sum": 1.0622525137461336, "none": [0.4902032144153275, 0.0, 0.5720492993308062]}
GRAD_SUM = [[0.22532686122020298, 0.050277218629806913, -0.38749808768140914, 0.11189400783139924],
            [0.0, 0.0, 0.0, 0.0],
            [0.08267173861898391, -0.4975118043939859, 0.2483596282997317, 0.16648043747527044]]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_pytorch(device, reduction):
    x = torch.tensor(X, dtype=torch.float64, device=device, requires_grad=True)
    t = torch.tensor([2, -100, 1], device=device)
    loss = F.cross_entropy(x, t, weight=torch.tensor(W, dtype=torch.float64, device=device), reduction=reduction)
    np.testing.assert_allclose(loss.detach().cpu().numpy(), LOSS[reduction], rtol=1e-12)
    loss.sum().backward()
    scale = 1 / 3.0 if reduction == "mean" else 1.0  # total weight of the counted rows: 1.0 + 2.0
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.array(GRAD_SUM) * scale, rtol=1e-10, atol=1e-14)


def test_graph_nodes_are_pytorchs(device):
    x = torch.randn(3, 4, device=device, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor([0, 1, 2], device=device))
    assert loss.grad_fn.name() == "NllLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"
    loss = F.mse_loss(x, torch.zeros(3, 4, device=device))
    assert loss.grad_fn.name() == "MseLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "AccumulateGrad"


def test_target_dtypes(device):
    x = torch.randn(3, 4, device=device)
    expected = F.nll_loss(x, torch.tensor([0, 3, 1], device=device)).item()
    assert F.nll_loss(x, torch.tensor([0, 3, 1], dtype=torch.uint8, device=device)).item() == pytest.approx(expected)
    for t, name in [(torch.tensor([0.0, 1.0, 2.0]), "Float"), (torch.tensor([0, 1, 2], dtype=torch.int32), "Int")]:
        for fn in (F.nll_loss, F.cross_entropy):
            with pytest.raises(RuntimeError, match=f"^expected target dtype to be Long or Byte, but got {name}$"):
                fn(x, t.to(device))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.nll_loss(x, torch.zeros(3, 4, dtype=torch.int64, device=device))


def test_spatial_and_unbatched_inputs(device):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 5))
    t = rng.integers(0, 3, (2, 4, 5))
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    picked = -np.take_along_axis(logp, t[:, None], 1)[:, 0]
    xt = torch.tensor(x, device=device)
    out = F.cross_entropy(xt, torch.tensor(t, device=device), reduction="none")
    np.testing.assert_allclose(out.cpu().numpy(), picked, rtol=1e-12)
    assert F.cross_entropy(xt, torch.tensor(t, device=device)).item() == pytest.approx(picked.mean())
    assert F.cross_entropy(torch.tensor([1.0, 2.0, 0.5], device=device), torch.tensor(1, device=device)).shape == ()


def test_all_ignored_mean_is_nan(device):
    loss = F.nll_loss(torch.zeros(2, 3, device=device), torch.tensor([-100, -100], device=device))
    assert np.isnan(loss.item())
    # PyTorch 2.13: the gradient is 0 everywhere (an ignored row's gradient is never divided by the 0 total)
    x = torch.zeros(2, 3, device=device, requires_grad=True)
    F.nll_loss(x, torch.tensor([-100, -100], device=device), weight=torch.ones(3, device=device)).backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.zeros((2, 3), np.float32))


def test_gradchecks(device):
    x = torch.randn(4, 5, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.rand(5, dtype=torch.float64, device=device) + 0.5
    t = torch.tensor([0, 1, 4, -100], device=device)
    for red in ("mean", "sum", "none"):
        assert gradcheck(lambda x: F.cross_entropy(x, t, weight=w, reduction=red), (x,))
        assert gradcheck(lambda x: F.nll_loss(x, t, reduction=red), (x,))
    y = torch.randn(5, dtype=torch.float64, device=device, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broadcasting target: PyTorch's warning
        for red in ("mean", "sum", "none"):
            assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=red), (x, y))
    if device == "cpu":  # second derivatives (gradgradcheck builds its grad_outputs on the CPU)
        assert gradgradcheck(lambda x: F.nll_loss(x, t, weight=w), (x,))
        assert gradgradcheck(lambda x, y: F.mse_loss(x, y.expand(4, 5)), (x, y))
