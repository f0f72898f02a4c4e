"""binary_cross_entropy, binary_cross_entropy_with_logits and masked_fill as one op each, with PyTorch's nodes
(``BinaryCrossEntropyBackward0``, ``BinaryCrossEntropyWithLogitsBackward0``, ``MaskedFillBackward0/1``): values
and gradients (input and target) against NumPy formulas on both backends, weight and pos_weight broadcast,
every reduction; gradcheck and gradgradcheck through both arguments."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck


def _softplus_neg(x):  # -log(sigmoid(x)), stable
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_golden(reduction, device):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((6, 4)) * 3, rng.random((6, 4))
    w, pw = rng.random(4) + 0.5, rng.random(4) * 3
    g = rng.standard_normal((6, 4)) if reduction == "none" else np.array(1.7)
    for weight, pos_weight in ((None, None), (w, None), (None, pw), (w, pw)):
        c = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        ww = 1 if weight is None else weight
        loss = ww * ((1 - t) * x + c * _softplus_neg(x))
        gs = g / loss.size if reduction == "mean" else g
        dx = gs * ww * ((1 - t) + c * (1 / (1 + np.exp(-x)) - 1))
        dt = gs * ww * ((0 if pos_weight is None else (pos_weight - 1)) * _softplus_neg(x) - x)
        xt = torch.tensor(x.astype(np.float32), device=device, requires_grad=True)
        tt = torch.tensor(t.astype(np.float32), device=device, requires_grad=True)
        kw = {k: torch.tensor(v.astype(np.float32), device=device) for k, v in (("weight", weight),
                                                                                  ("pos_weight", pos_weight)) if v is not None}
        out = F.binary_cross_entropy_with_logits(xt, tt, reduction=reduction, **kw)
        assert out.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
        out.backward(torch.tensor(g.astype(np.float32), device=device))
        want = {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
        np.testing.assert_allclose(out.detach().cpu().numpy(), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(xt.grad.cpu().numpy(), dx, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tt.grad.cpu().numpy(), dt, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_golden(reduction, device):
    rng = np.random.default_rng(3)
    x, t, w = rng.random((5, 3)) * 0.98 + 0.01, rng.random((5, 3)), rng.random(3) + 0.5
    g = rng.standard_normal((5, 3)) if reduction == "none" else np.array(0.6)
    for weight in (None, w):
        ww = 1 if weight is None else weight
        loss = -ww * (t * np.log(x) + (1 - t) * np.log(1 - x))
        gs = g / loss.size if reduction == "mean" else g
        xt = torch.tensor(x.astype(np.float32), device=device, requires_grad=True)
        tt = torch.tensor(t.astype(np.float32), device=device, requires_grad=True)
        wt = None if weight is None else torch.tensor(weight.astype(np.float32), device=device)
        out = F.binary_cross_entropy(xt, tt, wt, reduction=reduction)
        assert out.grad_fn.name() == "BinaryCrossEntropyBackward0"
        out.backward(torch.tensor(g.astype(np.float32), device=device))
        want = {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
        np.testing.assert_allclose(out.detach().cpu().numpy(), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(xt.grad.cpu().numpy(), gs * ww * (x - t) / (x * (1 - x)), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(tt.grad.cpu().numpy(), gs * ww * (np.log(1 - x) - np.log(x)), rtol=1e-4, atol=1e-5)
    # PyTorch's clamps: log at -100, the input gradient's denominator at 1e-12
    edge = F.binary_cross_entropy(torch.tensor([0.0, 1.0], requires_grad=True), torch.tensor([1.0, 0.0]),
                                  reduction="none")
    assert edge.tolist() == [100.0, 100.0]


def test_bce_gradcheck_both_arguments():
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    t = torch.tensor(rng.random((3, 2)), requires_grad=True)
    p = torch.tensor(rng.random((3, 2)) * 0.8 + 0.1, requires_grad=True)
    w, pw = torch.tensor(rng.random(2) + 0.5), torch.tensor(rng.random(2) * 3)
    for red in ("mean", "sum", "none"):
        for f, args in ((lambda x, t: F.binary_cross_entropy_with_logits(x, t, w, reduction=red, pos_weight=pw), (x, t)),
                        (lambda p, t: F.binary_cross_entropy(p, t, w, reduction=red), (p, t))):
            assert gradcheck(f, args, eps=1e-6, atol=1e-6, rtol=1e-4)
            assert gradgradcheck(f, args, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_masked_fill_node_names_and_gradients(device):
    """masked_fill as PyTorch's one op: MaskedFillBackward0 with a number, MaskedFillBackward1 with a 0-d tensor
    (which gets the masked sum of the gradient), x's dtype kept, the mask broadcast, PyTorch's errors."""
    m = torch.tensor([True, False, True], device=device)
    y = torch.ones(3, device=device, requires_grad=True)
    z = y.masked_fill(m, float("-inf"))
    assert z.grad_fn.name() == "MaskedFillBackward0" and z.tolist() == [float("-inf"), 1.0, float("-inf")]
    v = torch.tensor(2.0, device=device, requires_grad=True)
    z = y.masked_fill(m, v)
    assert z.grad_fn.name() == "MaskedFillBackward1"
    (z * torch.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert v.grad.item() == 4.0 and y.grad.tolist() == [0.0, 2.0, 0.0]
    xi = torch.zeros(3, dtype=torch.int64, device=device)
    assert xi.masked_fill(m, 2.7).tolist() == [2, 0, 2] and xi.masked_fill(m, torch.tensor(2.7)).dtype == torch.int64
    assert torch.zeros(3, device=device).masked_fill(torch.tensor([[True], [False]], device=device), 1.0).shape == (2, 3)
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks, but got mask with dtype float"):
        y.masked_fill(torch.ones(3, device=device), 1.0)
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor, but got tensor with 1 dim"):
        y.masked_fill(m, torch.ones(2, device=device))
