"""Fused optimizer updates (one kernel per parameter on OpenCL, one NumPy pass on CPU) give the results
of the step-by-step tensor code (``foreach=False``), on both devices, for every option."""
import numpy as np
import pytest

import pygrad as torch
from pygrad.ops.dispatch import backend_of

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
]


def _run(device, dtype, name, kw, foreach, steps=4):
    rng = np.random.default_rng(0)
    params = [torch.tensor(rng.standard_normal(s), dtype=dtype, device=device, requires_grad=True)
              for s in [(5, 3), (3,), (2, 2, 2)]]
    opt = getattr(torch.optim, name)(params, foreach=foreach, **kw)
    for _ in range(steps):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(p.shape), dtype=dtype, device=device)
        opt.step()
    states = [{k: v.detach().cpu().numpy().copy() for k, v in opt.state[p].items()} for p in params]
    return [p.detach().cpu().numpy().copy() for p in params], states


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_fused_update_matches_step_by_step(device, dtype, name, kw, monkeypatch):
    if device == "opencl" and dtype is torch.float64 and not torch.opencl.get_device_properties(0)["fp64"]:
        pytest.skip("no float64 on this device")
    calls = []
    backend = backend_of(torch.zeros(1, device=device))
    original = backend.optim_step
    monkeypatch.setattr(backend, "optim_step", lambda *a: (calls.append(a[0]), original(*a)))
    fused, fused_state = _run(device, dtype, name, kw, foreach=None)
    assert len(calls) == 4 * 3  # one fused update per parameter and step
    calls.clear()
    ref, ref_state = _run(device, dtype, name, kw, foreach=False)
    assert not calls
    tol = 1e-5 if dtype is torch.float32 else 1e-12
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for sa, sb in zip(fused_state, ref_state):
        assert sa.keys() == sb.keys()
        for k in sa:
            np.testing.assert_allclose(sa[k], sb[k], rtol=tol, atol=tol, err_msg=k)


def test_fused_and_unfused_agree_across_devices():
    if not torch.opencl.is_available():
        pytest.skip("no OpenCL device")
    for name, kw in CONFIGS:
        a, _ = _run("cpu", torch.float32, name, kw, foreach=None)
        b, _ = _run("opencl", torch.float32, name, kw, foreach=None)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5, err_msg=name)


def test_non_contiguous_parameter_takes_the_step_by_step_path(device):
    base = torch.randn(4, 6, device=device)
    p = base.t().detach().requires_grad_()  # a transposed view: not contiguous
    q = p.detach().clone().contiguous().requires_grad_()
    g = torch.randn(6, 4, device=device)
    for x in (p, q):
        x.grad = g.clone()
        torch.optim.Adam([x], lr=0.1).step()
    np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().cpu().numpy(), rtol=1e-6, atol=1e-6)


def test_fused_update_bumps_versions(device):
    p = torch.randn(3, device=device, requires_grad=True)
    y = p * 1.0
    saved = p.detach()
    v = saved._version
    p.grad = torch.ones(3, device=device)
    torch.optim.SGD([p], lr=0.1).step()
    assert saved._version == v + 1
