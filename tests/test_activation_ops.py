"""The activations PyTorch records as a node of their own (leaky_relu, elu, selu, softplus, logsigmoid,
hardtanh, relu6, hardsigmoid, hardswish, mish) and clamp's node names (ClampBackward1 for number bounds,
ClampMin/MaxBackward0): NumPy golden values and derivatives on both backends, including the points where the
formula switches, gradcheck and gradgradcheck."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck, gradgradcheck


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _sp(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805
# name: (call, NumPy value, NumPy derivative, PyTorch's node)
CASES = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                   lambda x: np.where(x > 0, 1, 0.2), "LeakyReluBackward0"),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(np.minimum(x, 0))),
            lambda x: np.where(x > 0, 1, 1.5 * np.exp(np.minimum(x, 0))), "EluBackward0"),
    "selu": (F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0))),
             lambda x: SELU_S * np.where(x > 0, 1, SELU_A * np.exp(np.minimum(x, 0))), "EluBackward0"),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                 lambda x: np.where(2 * x > 3, x, _sp(2 * x) / 2),
                 lambda x: np.where(2 * x > 3, 1, _sig(2 * x)), "SoftplusBackward0"),
    "logsigmoid": (F.logsigmoid, lambda x: -_sp(-x), lambda x: _sig(-x), "LogSigmoidBackward0"),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.0), lambda x: np.clip(x, -0.5, 1.0),
                 lambda x: ((x > -0.5) & (x < 1.0)).astype(float), "HardtanhBackward0"),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(float),
              "HardtanhBackward0"),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6,
                    lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0), "HardsigmoidBackward0"),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6,
                  lambda x: np.where(x < -3, 0, np.where(x > 3, 1, (2 * x + 3) / 6)), "HardswishBackward0"),
    "mish": (F.mish, lambda x: x * np.tanh(_sp(x)),
             lambda x: np.tanh(_sp(x)) + x * _sig(x) * (1 - np.tanh(_sp(x)) ** 2), "MishBackward0"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_activation_op_golden(name, device):
    call, value, deriv, node = CASES[name]
    a = np.concatenate([np.linspace(-8, 8, 61), [-3.0, 0.0, 3.0, 1.5, 6.0, -0.5, 1.0, 40.0, -40.0]])
    x = torch.tensor(a.astype(np.float32), device=device, requires_grad=True)
    y = call(x)
    assert y.grad_fn.name() == node
    g = np.random.default_rng(0).standard_normal(a.shape).astype(np.float32)
    y.backward(torch.tensor(g, device=device))
    np.testing.assert_allclose(y.detach().cpu().numpy(), value(a), rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(x.grad.cpu().numpy(), g * deriv(a), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", list(CASES))
def test_activation_op_gradcheck(name):
    call = CASES[name][0]
    rng = np.random.default_rng(1)
    a = rng.uniform(-5, 5, 12)
    a = a[np.all(np.abs(a[:, None] - np.array([-3.0, -0.5, 0.0, 1.0, 1.5, 3.0, 6.0])) > 1e-2, axis=1)]  # off the kinks
    x = torch.tensor(a, requires_grad=True)
    assert gradcheck(call, (x,), eps=1e-6, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(call, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_clamp_node_names(device):
    x = torch.randn(4, device=device, requires_grad=True)
    assert x.clamp(-1, 1).grad_fn.name() == "ClampBackward1"
    assert x.clamp(min=torch.zeros(4, device=device)).grad_fn.name() == "ClampBackward0"
    assert x.clamp_min(0).grad_fn.name() == "ClampMinBackward0"
    assert torch.clamp_max(x, 0.5).grad_fn.name() == "ClampMaxBackward0"
    y = x.clone()
    y.clamp_min_(0.0)
    assert (y.detach().cpu().numpy() >= 0).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), (x.detach().cpu().numpy() >= 0).astype(np.float32))


def test_stack_tril_dropout_embedding_nodes(device):
    """stack, tril/triu, dropout and embedding as PyTorch's one nodes, with their gradients."""
    x = torch.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3), device=device, requires_grad=True)
    y = torch.stack([x, 2 * x], 1)
    assert y.grad_fn.name() == "StackBackward0" and y.shape == (4, 2, 3)
    y.backward(torch.ones(4, 2, 3, device=device))
    assert x.grad.tolist() == [[3.0] * 3] * 4
    for fn, node, keep in ((lambda t: t.tril(), "TrilBackward0", np.tril), (lambda t: t.triu(1), "TriuBackward0",
                                                                             lambda a: np.triu(a, 1))):
        x.grad = None
        t = fn(x)
        assert t.grad_fn.name() == node
        t.sum().backward()
        np.testing.assert_array_equal(x.grad.cpu().numpy(), keep(np.ones((4, 3), np.float32)))
    x1 = torch.tensor(np.arange(1.0, 13.0, dtype=np.float32), device=device, requires_grad=True)  # no zeros
    torch.manual_seed(0)
    d = F.dropout(x1, 0.5)
    assert d.grad_fn.name() == "NativeDropoutBackward0"
    d.sum().backward()
    kept = d.detach().cpu().numpy() != 0
    assert 0 < kept.sum() < 12
    np.testing.assert_array_equal(x1.grad.cpu().numpy(), np.where(kept, 2.0, 0.0))
    np.testing.assert_array_equal(d.detach().cpu().numpy(), np.where(kept, 2 * np.arange(1.0, 13.0), 0.0))


def test_embedding_gradient_padding_and_frequency(device):
    """EmbeddingBackward0: the padding row gets nothing; scale_grad_by_freq divides each row's gradient by how
    often its index occurs in the batch (PyTorch's values; pygrad ignored the flag before)."""
    w = torch.tensor(np.arange(10.0, dtype=np.float32).reshape(5, 2), device=device, requires_grad=True)
    idx = torch.tensor([[1, 1, 3], [0, 1, 4]], device=device)
    y = F.embedding(idx, w, padding_idx=4, scale_grad_by_freq=True)
    assert y.grad_fn.name() == "EmbeddingBackward0"
    y.backward(torch.ones(2, 3, 2, device=device))
    assert w.grad.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]  # PyTorch's
    w.grad = None
    F.embedding(idx, w, padding_idx=-1).sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0], [3.0, 3.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    np.testing.assert_array_equal(F.embedding(idx, w).detach().cpu().numpy(), np.arange(10.0).reshape(5, 2)[
        np.array([[1, 1, 3], [0, 1, 4]])])


def test_new_nodes_gradgradcheck():
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = torch.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    idx = torch.tensor([[0, 2, 2], [4, 0, 1]])
    for f, args in ((lambda x: torch.stack([x, x * x], 2), (x,)), (lambda x: x.tril(-1) * x, (x,)),
                    (lambda w: F.embedding(idx, w) ** 2, (w,))):  # (padding_idx, scale_grad_by_freq: not
        # derivatives, by design; checked by value above)
        assert gradcheck(f, args, eps=1e-6, atol=1e-6, rtol=1e-4)
        assert gradgradcheck(f, args, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_roll_repeat_smooth_l1_huber_nodes(device):
    """roll, repeat/tile, smooth_l1_loss and huber_loss as PyTorch's one nodes, values and gradients."""
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    x = torch.tensor(a, device=device, requires_grad=True)
    r = x.roll((1, -1), (0, 1))
    assert r.grad_fn.name() == "RollBackward0"
    np.testing.assert_array_equal(r.detach().cpu().numpy(), np.roll(a, (1, -1), (0, 1)))
    w = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    (r * torch.tensor(w, device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.roll(w, (-1, 1), (0, 1)))
    x.grad = None
    np.testing.assert_array_equal(x.roll(5).detach().cpu().numpy(), np.roll(a, 5))
    t = x.repeat(2, 1, 3)
    assert t.grad_fn.name() == "RepeatBackward0" and x.tile(2).grad_fn.name() == "RepeatBackward0"
    np.testing.assert_array_equal(t.detach().cpu().numpy(), np.tile(a, (2, 1, 3)))
    t.sum().backward()
    assert (x.grad.cpu().numpy() == 6).all()
    rng = np.random.default_rng(1)
    xi, ti = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    d = xi - ti
    for fn, node, value, slope in (
            (lambda p, q: F.smooth_l1_loss(p, q, beta=0.7), "SmoothL1LossBackward0",
             np.where(np.abs(d) < 0.7, 0.5 * d * d / 0.7, np.abs(d) - 0.35).mean(), np.clip(d / 0.7, -1, 1) / d.size),
            (lambda p, q: F.huber_loss(p, q, delta=0.6, reduction="sum"), "HuberLossBackward0",
             np.where(np.abs(d) < 0.6, 0.5 * d * d, 0.6 * (np.abs(d) - 0.3)).sum(), np.clip(d, -0.6, 0.6))):
        p = torch.tensor(xi, device=device, requires_grad=True)
        q = torch.tensor(ti, device=device, requires_grad=True)
        loss = fn(p, q)
        assert loss.grad_fn.name() == node
        loss.backward()
        np.testing.assert_allclose(loss.item(), value, rtol=1e-5)
        np.testing.assert_allclose(p.grad.cpu().numpy(), slope, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(q.grad.cpu().numpy(), -slope, rtol=1e-5, atol=1e-7)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(p, q, delta=0.0)
    assert F.smooth_l1_loss(p, q, beta=0.0).grad_fn.name() == "MeanBackward0"  # PyTorch takes l1_loss then


def test_roll_repeat_losses_gradgradcheck():
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    for f, args in ((lambda x: x.roll((1, 2), (0, 1)) * x, (x,)), (lambda x: x.repeat(2, 1, 2) ** 2, (x,)),
                    (lambda x, t: F.smooth_l1_loss(x, t, beta=0.8, reduction="none") * x, (x, t)),
                    (lambda x, t: F.huber_loss(x, t, delta=0.5) * x.sum(), (x, t))):
        assert gradcheck(f, args, eps=1e-6, atol=1e-6, rtol=1e-4)
        assert gradgradcheck(f, args, eps=1e-6, atol=1e-5, rtol=1e-3)
