"""No host sync inside a training step on OpenCL: deferred device-side index/target errors, counted syncs.

A kernel that meets a bad index or class target skips it and records it on the device; the error is
raised at the next natural sync (``.item()``, ``.cpu()``, ``.tolist()``, printing, ``synchronize()``),
with the CPU backend's type and message.  ``PYGRAD_DEBUG=1`` raises at the op itself.
"""
import os
import subprocess
import sys

import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad.bench import lenet5

opencl = pytest.mark.skipif(not torch.opencl.is_available(), reason="no OpenCL device")
DEV = "opencl"


def _rt():
    from pygrad.runtime.opencl.runtime import runtime

    return runtime(0)


@opencl
def test_bad_index_is_raised_at_the_next_sync_not_at_the_op():
    x = torch.arange(3.0, device=DEV)
    reads = _rt().blocking_reads
    y = x[torch.tensor([0, 5, 1], device=DEV)]  # queued: no wait, no error yet
    assert _rt().blocking_reads == reads
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        y.tolist()
    assert x[torch.tensor([2, -3], device=DEV)].tolist() == [2.0, 0.0]  # reported once, then clear


@opencl
@pytest.mark.parametrize("sync", ["item", "cpu", "print", "synchronize", "numpy"])
def test_every_natural_sync_reports(sync, capsys):
    x = torch.arange(6.0, device=DEV).reshape(2, 3)
    g = x.gather(1, torch.tensor([[0], [7]], device=DEV))  # gather: PyTorch's RuntimeError
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 1 with size 3"):
        {"item": lambda: g.sum().item(), "cpu": g.cpu, "print": lambda: print(g),
         "synchronize": torch.opencl.synchronize, "numpy": lambda: g.detach().numpy(force=True)}[sync]()


@opencl
def test_skipped_elements_touch_nothing_outside_the_tensor():
    dst = torch.zeros(2, 4, device=DEV)
    idx = torch.tensor([[1], [9]], device=DEV)
    out = dst.scatter(1, idx, torch.ones(2, 1, device=DEV))
    with pytest.raises(RuntimeError, match="index 9 is out of bounds"):
        torch.opencl.synchronize()
    assert out.tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]  # the bad element was skipped
    x = torch.arange(4.0, device=DEV)
    g = x.gather(0, torch.tensor([3, -1, 0], device=DEV))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
        torch.opencl.synchronize()
    assert g.tolist() == [3.0, 0.0, 0.0]


@opencl
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_bad_target_is_raised_at_the_next_sync(fn):
    logits = torch.randn(4, 3, device=DEV, requires_grad=True)
    x = logits.log_softmax(1) if fn == "nll_loss" else logits
    reads = _rt().blocking_reads
    loss = getattr(F, fn)(x, torch.tensor([0, 1, 3, 2], device=DEV))
    assert _rt().blocking_reads == reads  # no .item() in the op
    with pytest.raises(IndexError, match="^Target 3 is out of bounds.$"):
        loss.item()
    loss = getattr(F, fn)(x, torch.tensor([0, -1, 2, 2], device=DEV), reduction="none")
    with pytest.raises(IndexError, match="^Target -1 is out of bounds.$"):
        print(loss)


def test_cpu_raises_at_the_op():
    with pytest.raises(IndexError, match="^Target 3 is out of bounds.$"):
        F.nll_loss(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 0 with size 3"):
        torch.arange(3.0).gather(0, torch.tensor([3]))


def _run(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=300)


@opencl
def test_debug_mode_raises_at_the_op_and_exit_warns():
    code = ("import pygrad as t\n"
            "x = t.arange(3.0, device='opencl')\n"
            "try:\n    y = x[t.tensor([4], device='opencl')]\n    print('deferred')\n"
            "except IndexError as e:\n    print('at op:', e)\n")
    r = _run(code, PYGRAD_DEBUG="1")
    assert "at op: index 4 is out of bounds for dimension 0 with size 3" in r.stdout, r.stdout + r.stderr
    r = _run(code, PYGRAD_DEBUG="")
    assert "deferred" in r.stdout, r.stdout + r.stderr
    assert "warning" in r.stderr and "IndexError: index 4 is out of bounds for dimension 0 with size 3" in r.stderr


def _lenet():
    m = lenet5(nn, F).to(DEV)
    x, y = torch.randn(4, 1, 28, 28, device=DEV), torch.randint(0, 10, (4,), device=DEV)
    return m, lambda: F.cross_entropy(m(x), y)


def _lstm():
    m, head = nn.LSTM(8, 16, batch_first=True).to(DEV), nn.Linear(16, 5).to(DEV)
    x, y = torch.randn(3, 5, 8, device=DEV), torch.randint(0, 5, (3,), device=DEV)
    return nn.ModuleList([m, head]), lambda: F.cross_entropy(head(m(x)[0][:, -1]), y)


def _transformer():
    m = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True).to(DEV)
    x = torch.randn(2, 5, 16, device=DEV)
    return m, lambda: F.mse_loss(m(x), x)


@opencl
@pytest.mark.parametrize("model", [_lenet, _lstm, _transformer], ids=["lenet", "lstm", "transformer"])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_a_training_step_never_waits_for_the_device(model, opt):
    """Forward, zero_grad, backward and step of three models: no blocking read or write (host sync)."""
    torch.manual_seed(0)
    m, loss_fn = model()
    o = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) if opt == "SGD" else torch.optim.Adam(m.parameters())
    for _ in range(2):  # first steps build kernels and create optimizer state
        loss = loss_fn()
        o.zero_grad()
        loss.backward()
        o.step()
    torch.opencl.synchronize()
    rt = _rt()
    reads, writes = rt.blocking_reads, rt.blocking_writes
    loss = loss_fn()
    o.zero_grad()
    loss.backward()
    o.step()
    assert rt.blocking_reads - reads == 0
    assert rt.blocking_writes - writes == 0  # a waiting upload (new scalar constant) would sync as well
    value = loss.item()  # the loop's own sync (printing the loss) comes after the step
    assert rt.blocking_reads - reads >= 1 and value == value


@opencl
def test_lenet_step_launches_at_most_110_kernels():
    """The issue's target (211 before fused optimizers, fused nll_loss and gradient buffers kept)."""
    from pygrad.runtime.opencl import kernels

    torch.manual_seed(0)
    m, loss_fn = _lenet()
    o = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    for _ in range(2):
        loss = loss_fn()
        o.zero_grad()
        loss.backward()
        o.step()
    n = kernels.launches
    loss = loss_fn()
    o.zero_grad()
    loss.backward()
    o.step()
    assert kernels.launches - n <= 110


@opencl
def test_index_select_reports_like_the_cpu():
    x = torch.arange(12.0, device=DEV).reshape(3, 4)
    y = x.index_select(1, torch.tensor([3, 0, 4], device=DEV))
    with pytest.raises(RuntimeError, match="^index_select\\(\\): index 4 is out of bounds for dimension 1 with size 4$"):
        y.tolist()
    with pytest.raises(RuntimeError, match="^index_select\\(\\): index 4 is out of bounds for dimension 1 with size 4$"):
        torch.arange(12.0).reshape(3, 4).index_select(1, torch.tensor([4]))
