"""conv_dw_k (cl_kernels/conv.cl): the weight (and bias) gradient of the one-op OpenCL conv2d for narrow
outputs, against NumPy on odd sizes (Cout not a multiple of the 4-output block, C*kh*kw (+1) not a multiple
of the 6-column block, positions not a multiple of 16 and several slices with a tail), bias and no bias,
float32/float64; forced on whatever the kernel shape (the op uses it on the CPU shape, Cout <= 32)."""
import os

import numpy as np
import pytest

import pygrad as torch
from helpers import run_on_oclgrind
from test_conv_pool_op import np_conv_grads

# (N, C, H, W, Cout, kernel, stride, padding, dilation)
DW_CASES = [
    (4, 2, 15, 17, 5, (3, 3), (1, 1), (1, 1), (1, 1)),     # 1020 positions: several slices, a 12-wide tail
    (3, 1, 9, 7, 7, (2, 3), (2, 1), (0, 1), (1, 2)),       # K1 = 6 (+1), Cout 7, stride, dilation
    (2, 3, 6, 6, 1, (1, 1), (1, 1), (0, 0), (1, 1)),       # Cout 1, 1 x 1
    (64, 1, 12, 12, 6, (5, 5), (1, 1), (2, 2), (1, 1)),    # LeNet's first layer, smaller images
    (2, 6, 8, 8, 16, (5, 5), (1, 1), (0, 0), (1, 1)),      # LeNet's second layer: K1 151
    (1, 2, 3, 3, 33, (3, 3), (1, 1), (0, 0), (1, 1)),      # one position, Cout 33
]


@pytest.fixture
def direct(monkeypatch):
    """Force conv_dw_k on and count its launches."""
    from pygrad.runtime.opencl import conv_ops

    calls = []
    real = conv_ops._weight_grad_direct
    monkeypatch.setattr(conv_ops, "_dw_direct", lambda self, cout: True)
    monkeypatch.setattr(conv_ops, "_weight_grad_direct", lambda *a: calls.append(a[3:]) or real(*a))
    return calls


@pytest.mark.parametrize("case", DW_CASES, ids=[str(c[:5]) for c in DW_CASES])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv_dw_kernel_matches_numpy(device, direct, case, bias, dtype):
    if device != "opencl":
        pytest.skip("an OpenCL kernel")
    n, c, h, w, co, k, s, p, d = case
    rng = np.random.default_rng(sum(case[:5]))
    x, wt, b = (rng.standard_normal(sh) for sh in ((n, c, h, w), (co, c) + k, (co,)))
    xs = torch.tensor(x, dtype=dtype, device="opencl")
    ws = torch.tensor(wt, dtype=dtype, device="opencl", requires_grad=True)
    bs = torch.tensor(b, dtype=dtype, device="opencl", requires_grad=True) if bias else None
    y = torch.nn.functional.conv2d(xs, ws, bs, stride=s, padding=p, dilation=d)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.tensor(gy, dtype=dtype, device="opencl"))
    assert direct, "conv_dw_k was not used"
    _, gw = np_conv_grads(x, wt, s, p, d, gy)
    tol = 1e-4 if dtype is torch.float32 else 1e-10
    np.testing.assert_allclose(ws.grad.cpu().numpy(), gw, rtol=tol, atol=tol * 10)
    if bias:
        np.testing.assert_allclose(bs.grad.cpu().numpy(), gy.sum((0, 2, 3)), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("bias", [True, False])
def test_conv_dw_kernel_chunks_and_input_grad(device, direct, monkeypatch, bias):
    # three batch chunks (the slices' sums added across chunks), columns kept (with the row of ones) or
    # rebuilt (without it when there is no bias: K1 = C*kh*kw), with the input's gradient too (gc shared)
    if device != "opencl":
        pytest.skip("an OpenCL kernel")
    from pygrad.runtime.opencl import conv_ops

    rng = np.random.default_rng(1)
    n, c, h, w, co, k = 5, 2, 11, 13, 9, (3, 2)
    x, wt, b = (rng.standard_normal(sh) for sh in ((n, c, h, w), (co, c) + k, (co,)))
    for keep in (32 << 20, 0):
        monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 2 * (c * 6) * (9 * 14) * 4)  # 2 images a chunk
        monkeypatch.setattr(conv_ops, "KEEP_BYTES", keep)
        ts = [torch.tensor(a, dtype=torch.float32, device="opencl", requires_grad=True) for a in (x, wt, b)]
        y = torch.nn.functional.conv2d(*ts[:2], ts[2] if bias else None, padding=(0, 1))
        gy = rng.standard_normal(tuple(y.shape))
        y.backward(torch.tensor(gy, dtype=torch.float32, device="opencl"))
        gx, gw = np_conv_grads(x, wt, (1, 1), (0, 1), (1, 1), gy)
        pairs = ((ts[0].grad, gx), (ts[1].grad, gw)) + (((ts[2].grad, gy.sum((0, 2, 3))),) if bias else ())
        for got, want in pairs:
            np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-4, atol=1e-4)
    assert len(direct) == 6  # 3 chunks per backward
    assert {a[3] for a in direct} == ({c * 6 + 1} if bias else {c * 6 + 1, c * 6})  # K1: kept +1, rebuilt


def test_conv_dw_used_on_cpu_shape_for_narrow_outputs():
    # which route the op takes: conv_dw_k on the CPU kernel shape up to DW_DIRECT_MAX_COUT outputs
    from pygrad.runtime.opencl import conv_ops

    class RT:
        kernel_shape = "cpu"

    class Be:
        rt = RT()

    be = Be()
    assert conv_ops._dw_direct(be, 6) and conv_ops._dw_direct(be, conv_ops.DW_DIRECT_MAX_COUT)
    assert not conv_ops._dw_direct(be, conv_ops.DW_DIRECT_MAX_COUT + 1)
    RT.kernel_shape = "gpu"
    assert not conv_ops._dw_direct(be, 6)


OCLGRIND_SCRIPT = """
import numpy as np
import pygrad as torch
import pygrad.nn.functional as F
from pygrad.runtime.opencl import conv_ops
from pygrad.runtime import get_backend

print("device:", get_backend(torch.device("opencl")).rt.device.name, flush=True)
conv_ops._dw_direct = lambda self, cout: True
rng = np.random.default_rng(0)
for (n, c, h, w, co, k, bias) in [(4, 2, 11, 13, 5, (3, 3), True), (3, 1, 9, 7, 7, (2, 3), False),
                                  (1, 2, 3, 3, 2, (3, 3), True)]:
    ts = [torch.tensor(rng.standard_normal(sh), dtype=torch.float32, device="opencl", requires_grad=True)
          for sh in ((n, c, h, w), (co, c) + k, (co,))]
    if not bias:
        ts[2] = None
    y = F.conv2d(*ts, padding=1)
    y.backward(torch.ones_like(y))
    cpu = [t.detach().cpu().requires_grad_() if t is not None else None for t in ts]
    yc = F.conv2d(*cpu, padding=1)
    yc.backward(torch.ones_like(yc))
    for t, u in zip(ts[1:], cpu[1:]):
        if t is not None:
            assert np.allclose(t.grad.cpu().numpy(), u.grad.numpy(), rtol=1e-4, atol=1e-4)
print("ok")
"""


@pytest.mark.oclgrind
@pytest.mark.skipif(not os.environ.get("PYGRAD_TEST_OCLGRIND"),
                    reason="the Oclgrind job runs as its own CI command: PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind")
def test_conv_dw_kernel_under_oclgrind(tmp_path):
    r, report = run_on_oclgrind(OCLGRIND_SCRIPT, tmp_path, shape="cpu")
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr[-4000:] + report
    assert "Oclgrind" in r.stdout, r.stdout  # it really ran on the simulator
    assert report.strip() == "", report[:4000]
