"""The fused RNN/LSTM/GRU layers (one Function per layer and direction, one gate kernel + one matmul per step)
give the step-by-step layers' outputs and gradients on both devices, and record tens of nodes, not thousands."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
from pygrad.autograd import gradcheck
from pygrad.nn.modules import rnn as R
from pygrad.ops.rnn import GRULayer, LSTMLayer, RNNLayer

CASES = [dict(), dict(num_layers=2, bidirectional=True, batch_first=True), dict(bias=False),
         dict(num_layers=2, dropout=0.0)]


def _run(device, dtype, kw, fused, monkeypatch, kind="LSTM"):
    monkeypatch.setattr(R, "FUSED_LSTM", fused)
    torch.manual_seed(0)
    m = (nn.LSTM(3, 4, **kw) if kind == "LSTM" else nn.GRU(3, 4, **kw) if kind == "GRU" else
         nn.RNN(3, 4, nonlinearity=kind.lower(), **kw)).to(device=device, dtype=dtype)
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    batch, seq = 2, 5
    x = torch.randn((batch, seq, 3) if kw.get("batch_first") else (seq, batch, 3), device=device, dtype=dtype,
                    requires_grad=True)
    h0 = torch.randn(layers, batch, 4, device=device, dtype=dtype, requires_grad=True)
    c0 = torch.randn(layers, batch, 4, device=device, dtype=dtype, requires_grad=True)
    if kind == "LSTM":
        y, (h, c) = m(x, (h0, c0))
        (y.pow(2).sum() + h.sum() * 0.5 + c.pow(2).sum()).backward()
        return [t.detach().cpu().numpy() for t in [y, h, c, x.grad, h0.grad, c0.grad] + [p.grad for p in m.parameters()]]
    y, h = m(x, h0)
    (y.pow(2).sum() + h.sum() * 0.5).backward()
    return [t.detach().cpu().numpy() for t in [y, h, x.grad, h0.grad] + [p.grad for p in m.parameters()]]


@pytest.mark.parametrize("kw", CASES, ids=["plain", "2layer-bidir-batchfirst", "nobias", "2layer"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_fused_lstm_matches_step_by_step(device, dtype, kw, monkeypatch):
    if device == "opencl" and dtype is torch.float64 and not torch.opencl.get_device_properties(0)["fp64"]:
        pytest.skip("no float64 on this device")
    fused = _run(device, dtype, kw, True, monkeypatch)
    ref = _run(device, dtype, kw, False, monkeypatch)
    tol = 1e-5 if dtype is torch.float32 else 1e-12
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["GRU", "TANH", "RELU"])
@pytest.mark.parametrize("kw", CASES[:3], ids=["plain", "2layer-bidir-batchfirst", "nobias"])
def test_fused_gru_and_rnn_match_step_by_step(device, kind, kw, monkeypatch):
    fused = _run(device, torch.float64 if device == "cpu" else torch.float32, kw, True, monkeypatch, kind)
    ref = _run(device, torch.float64 if device == "cpu" else torch.float32, kw, False, monkeypatch, kind)
    tol = 1e-12 if device == "cpu" else 1e-5
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_fused_gru_and_rnn_gradcheck(device):
    f64 = dict(dtype=torch.float64, device=device, requires_grad=True)
    gi, h0, w, b = torch.randn(3, 2, 6, **f64), torch.randn(2, 2, **f64), torch.randn(6, 2, **f64), torch.randn(6, **f64)
    assert gradcheck(lambda *a: GRULayer.apply(*a), (gi, h0, w, b))
    gi, w, b = torch.randn(3, 2, 2, **f64), torch.randn(2, 2, **f64), torch.randn(2, **f64)
    assert gradcheck(lambda *a: RNNLayer.apply(*a, False), (gi, h0, w, b))
    assert gradcheck(lambda *a: RNNLayer.apply(*a, True), (gi + 3, h0, w, b))  # away from relu's kink


def test_fused_lstm_graph_is_small(device):
    m = nn.LSTM(8, 16).to(device)
    y, _ = m(torch.randn(32, 4, 8, device=device))
    assert y.grad_fn.name() == "MkldnnRnnLayerBackward0"  # PyTorch CPU's node for a whole layer
    seen, stack = set(), [y.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(f for f, _ in n.next_functions)
    assert len(seen) < 20  # the step-by-step LSTM records ~15 nodes per time step (~480 here)


def test_fused_lstm_gradcheck(device):
    gi = torch.randn(3, 2, 8, dtype=torch.float64, device=device, requires_grad=True)
    h0, c0 = (torch.randn(2, 2, dtype=torch.float64, device=device, requires_grad=True) for _ in range(2))
    w = torch.randn(8, 2, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(8, dtype=torch.float64, device=device, requires_grad=True)
    assert gradcheck(lambda *a: LSTMLayer.apply(*a), (gi, h0, c0, w, b))


def test_double_backward_is_refused():
    m = nn.LSTM(2, 3)
    x = torch.randn(4, 1, 2, requires_grad=True)
    y, _ = m(x)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(y.sum(), x, create_graph=True)
