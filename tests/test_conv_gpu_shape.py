"""conv2d on the GPU kernel shape: im2col per batch chunk feeding one full-size GEMM per chunk (groups 1:
the one-op ``Conv2d`` through the backend's ``conv2d``, node ConvolutionBackward0; other groups:
``pygrad.ops.conv._conv2d_gpu``), forward and input/weight/bias gradients against the CPU backend.

The kernel shape is fixed when the OpenCL runtime starts, so the GPU shape runs in one subprocess
with ``PYGRAD_KERNEL_SHAPE=gpu``; it lowers ``conv._GPU_CHUNK_BYTES`` and ``conv_ops.CHUNK_BYTES`` where a
case asks for several batch chunks with a ragged last one."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pyopencl")

# (name, N, C, H, W, K, k, stride, padding, dilation, groups, chunk samples or 0 = whole batch)
CASES = [
    ("plain", 4, 3, 8, 8, 5, 3, 1, 0, 1, 1, 0),
    ("pad_stride", 3, 4, 9, 7, 6, 3, 2, 1, 1, 1, 0),
    ("dilation_groups", 2, 4, 10, 10, 6, (3, 2), 1, 2, 2, 2, 0),
    ("chunks_ragged", 7, 3, 6, 6, 4, 3, 1, 1, 1, 1, 3),
    ("chunks_groups_stride", 5, 6, 9, 9, 9, 3, (2, 1), (1, 2), (2, 1), 3, 2),
    ("depthwise_chunks", 5, 4, 7, 7, 8, 3, 1, 1, 1, 4, 2),
    ("empty_batch", 0, 3, 8, 8, 6, 3, 1, 1, 1, 3, 0),
]

SCRIPT = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    import pygrad as torch
    import pygrad.nn.functional as F
    from pygrad.ops import conv
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import conv_ops

    assert get_backend(torch.device("opencl")).rt.kernel_shape == "gpu"
    calls = []
    real = conv._conv2d_gpu
    conv._conv2d_gpu = lambda *a: calls.append(1) or real(*a)
    res = {}
    for name, N, C, H, W, K, k, s, p, d, g, chunk in json.loads(sys.argv[1]):
        rng = np.random.default_rng(0)
        kk = k if isinstance(k, list) else [k, k]
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = rng.standard_normal((K, C // g, *kk)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32)
        per_sample = C * kk[0] * kk[1] * 4
        outs = {}
        for dev in ("cpu", "opencl"):
            conv._GPU_CHUNK_BYTES = conv_ops.CHUNK_BYTES = 64 << 20
            ts = [torch.tensor(a, device=dev, requires_grad=True) for a in (x, w, b)]
            if dev == "opencl" and chunk:  # exactly `chunk` samples per column matrix
                oh = (H + 2 * (p if isinstance(p, int) else p[0]) - (d if isinstance(d, int) else d[0]) * (kk[0] - 1) - 1) // (s if isinstance(s, int) else s[0]) + 1
                ow = (W + 2 * (p if isinstance(p, int) else p[1]) - (d if isinstance(d, int) else d[1]) * (kk[1] - 1) - 1) // (s if isinstance(s, int) else s[1]) + 1
                conv._GPU_CHUNK_BYTES = conv_ops.CHUNK_BYTES = chunk * per_sample * oh * ow
            n0 = len(calls)
            y = F.conv2d(ts[0], ts[1], ts[2], stride=s if isinstance(s, int) else tuple(s),
                         padding=p if isinstance(p, int) else tuple(p),
                         dilation=d if isinstance(d, int) else tuple(d), groups=g)
            gy = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)
            y.backward(torch.tensor(gy, device=dev))
            outs[dev] = [y.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts]
            if dev == "opencl" and g == 1:
                assert type(y.grad_fn).__name__ == "ConvolutionBackward0" and len(calls) == n0, "not the one-op conv"
            elif dev == "opencl":
                assert len(calls) == n0 + 1, "the GPU-shape path did not run"
        err = [float(np.abs(a - c).max(initial=0.0) / (np.abs(c).max(initial=0.0) + 1e-6)) for a, c in zip(outs["opencl"], outs["cpu"])]
        res[name] = {"err": err, "shape": list(outs["cpu"][0].shape)}
    # numerical gradient checks (float64, two ragged chunks), second order too: the batch-inner
    # unfold and fold are each other's backward
    conv._GPU_CHUNK_BYTES = 2 * 2 * 2 * 2 * 4 * 4 * 8
    rng = np.random.default_rng(2)
    ins = [torch.tensor(rng.standard_normal(sh), dtype=torch.float64, device="opencl", requires_grad=True)
           for sh in ((3, 2, 5, 4), (4, 1, 2, 2), (4,))]
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=(1, 0), dilation=(2, 1), groups=2)
    n0 = len(calls)
    res["gradcheck"] = bool(torch.autograd.gradcheck(fn, ins)) and len(calls) > n0
    res["gradgradcheck"] = bool(torch.autograd.gradgradcheck(fn, ins))
    # the one-op conv (groups 1), ragged chunks of 2 samples, second order through create_graph
    conv_ops.CHUNK_BYTES = 2 * 2 * 3 * 3 * 5 * 4 * 8
    ins = [torch.tensor(rng.standard_normal(sh), dtype=torch.float64, device="opencl", requires_grad=True)
           for sh in ((5, 2, 5, 6), (3, 2, 3, 3), (3,))]
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=(1, 1), dilation=1)
    assert type(fn(*ins).grad_fn).__name__ == "ConvolutionBackward0"
    res["gradcheck_op"] = bool(torch.autograd.gradcheck(fn, ins))
    res["gradgradcheck_op"] = bool(torch.autograd.gradgradcheck(fn, ins))
    print("RESULT" + json.dumps(res))
""")


@pytest.fixture(scope="module")
def gpu_shape_results():
    env = dict(os.environ, PYGRAD_KERNEL_SHAPE="gpu")
    r = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(CASES)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv2d_gpu_shape_matches_cpu(gpu_shape_results, case):
    res = gpu_shape_results[case[0]]
    assert res["shape"][:2] == [case[1], case[5]]
    for what, e in zip(("output", "grad_input", "grad_weight", "grad_bias"), res["err"]):
        assert e < 1e-4, (case[0], what, res["err"])


def test_conv2d_gpu_shape_gradcheck(gpu_shape_results):
    assert gpu_shape_results["gradcheck"] is True
    assert gpu_shape_results["gradgradcheck"] is True
    assert gpu_shape_results["gradcheck_op"] is True
    assert gpu_shape_results["gradgradcheck_op"] is True
