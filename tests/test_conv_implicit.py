"""Implicit-GEMM conv2d for the GPU kernel shape (``cl_kernels/conv.cl``; ``pygrad.ops.conv.IMPLICIT_GEMM``):
forward against a NumPy convolution, input/weight gradients against the CPU backend, gradcheck and
gradgradcheck in float64 (each product's gradient is another of the three kernels), odd sizes, stride,
padding, dilation, groups, empty batches; and the kernels under Oclgrind (out-of-bounds, local races).

The kernel shape is fixed when the OpenCL runtime starts, so the GPU shape runs in a subprocess with
``PYGRAD_KERNEL_SHAPE=gpu``."""
import os
import subprocess
import sys
import textwrap

import pytest

from helpers import run_on_oclgrind

pytest.importorskip("pyopencl")

SCRIPT = textwrap.dedent(r"""
    import sys
    import numpy as np
    import pygrad as torch
    import pygrad.nn.functional as F
    from pygrad.ops import conv
    from pygrad.runtime import get_backend

    print("device:", get_backend(torch.device("opencl")).rt.device.name, flush=True)
    assert get_backend(torch.device("opencl")).rt.kernel_shape == "gpu"
    conv.IMPLICIT_GEMM = True
    small = len(sys.argv) > 1  # the Oclgrind run: a few small shapes

    def np_conv(x, w, s, p, d, g):
        n, c, h, wd = x.shape
        co, cg, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
        oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
        ow = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
        out = np.zeros((n, co, oh, ow), np.float64)
        kg = co // g
        for i in range(kh):
            for j in range(kw):
                win = xp[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]
                for gi in range(g):
                    out[:, gi * kg:(gi + 1) * kg] += np.einsum("nchw,kc->nkhw", win[:, gi * cg:(gi + 1) * cg],
                                                               w[gi * kg:(gi + 1) * kg, :, i, j])
        return out

    pairs = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    # (N, C, H, W, Cout, kernel, stride, padding, dilation, groups)
    cases = [(2, 3, 7, 9, 4, 3, 1, 1, 1, 1), (1, 4, 8, 5, 6, (2, 3), (2, 1), (1, 2), (1, 2), 2),
             (1, 1, 1, 1, 1, 1, 1, 0, 1, 1), (2, 4, 5, 6, 4, 3, 1, 1, 1, 4)]
    if not small:
        cases += [(3, 6, 11, 10, 9, 3, 2, 0, 2, 3), (2, 5, 65, 7, 70, (3, 1), 3, 1, 1, 1),
                  (1, 3, 63, 1, 5, (5, 1), 1, (2, 0), 1, 1), (2, 130, 4, 4, 3, 1, 1, 0, 1, 1)]
    rng = np.random.default_rng(0)
    for n, c, h, w, co, k, s, p, d, g in cases:
        k, s, p, d = map(pairs, (k, s, p, d))
        xn = rng.standard_normal((n, c, h, w)).astype(np.float32)
        wn = rng.standard_normal((co, c // g, *k)).astype(np.float32)
        res = []
        for dev in ("cpu", "opencl"):
            x = torch.tensor(xn, device=dev, requires_grad=True)
            wt = torch.tensor(wn, device=dev, requires_grad=True)
            y = F.conv2d(x, wt, stride=s, padding=p, dilation=d, groups=g)
            gy = np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)).astype(np.float32)
            y.backward(torch.tensor(gy, device=dev))
            res.append((y.detach().cpu().numpy(), x.grad.cpu().numpy(), wt.grad.cpu().numpy()))
            if dev == "opencl":
                assert type(y.grad_fn).__name__ == "ConvolutionBackward0", type(y.grad_fn).__name__
        want = np_conv(xn.astype(np.float64), wn.astype(np.float64), s, p, d, g)
        assert np.allclose(res[1][0], want, rtol=1e-4, atol=1e-4), ("forward", n, c, h, w, k, s, p, d, g)
        for name, a, b in zip(("input grad", "weight grad"), res[0][1:], res[1][1:]):
            assert a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-4), (name, n, c, h, w, k, s, p, d, g)
    # float64: numerical gradients, first and second order (the backward products are convolutions too)
    # (not under Oclgrind: hundreds of launches, minutes on the simulator)
    if not small:
        n, c, h, w, co, k, s, p, d, g = (2, 4, 5, 4, 2, (2, 3), (2, 1), 1, (1, 2), 2)
        x = torch.tensor(rng.standard_normal((n, c, h, w)), device="opencl", requires_grad=True)
        wt = torch.tensor(rng.standard_normal((co, c // g, *k)), device="opencl", requires_grad=True)
        f = lambda a, b: F.conv2d(a, b, stride=s, padding=p, dilation=d, groups=g)
        assert torch.autograd.gradcheck(f, (x, wt))
        assert torch.autograd.gradgradcheck(f, (x, wt))
    print("ok")
""")


def _run(extra_env, *args):
    env = dict(os.environ, PYGRAD_KERNEL_SHAPE="gpu", **extra_env)
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True,
                          timeout=1500)


def test_implicit_gemm_conv_gpu_shape():
    from conftest import DEVICES

    if "opencl" not in DEVICES:
        pytest.skip("no OpenCL device")
    r = _run({})
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr[-4000:]


@pytest.mark.oclgrind
@pytest.mark.skipif(not os.environ.get("PYGRAD_TEST_OCLGRIND"),
                    reason="the Oclgrind job runs as its own CI command: PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind")
def test_implicit_gemm_conv_under_oclgrind(tmp_path):
    r, report = run_on_oclgrind(SCRIPT, tmp_path, shape="gpu", args=("small",))
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr[-4000:] + report
    assert "Oclgrind" in r.stdout, r.stdout  # it really ran on the simulator
    assert report.strip() == "", report[:4000]
