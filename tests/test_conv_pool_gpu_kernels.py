"""The GPU-shaped conv / pool kernels (``*_g`` at the end of ``cl_kernels/index.cl``: one work-item per
output element) against the CPU-shaped ones (``*_k``) on the same PoCL device: the kernel shape is fixed
when the runtime starts, so each shape runs in its own subprocess and writes its results.

Pooling (values, indices, gradients) and the im2col columns move or sum the same elements in the same
order on both shapes, so they must agree bit for bit (NaN, -inf, ties, padding, dilation, ceil_mode, a row
wider than a work-group); conv2d's products go through each shape's own GEMM, so its output and gradients
are checked against float64 NumPy values."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("pyopencl")

SCRIPT = textwrap.dedent(r"""
    import sys
    import numpy as np
    import pygrad as torch
    import pygrad.nn.functional as F
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import conv_ops

    be = get_backend(torch.device("opencl"))
    assert be.rt.kernel_shape == sys.argv[2], be.rt.kernel_shape
    rng = np.random.default_rng(0)
    res = {}
    # max_pool2d: NaN, -inf, ties (values on a coarse grid), a window of -inf only, wide rows
    for t, (shape, args) in enumerate([((2, 3, 7, 9), (3, 2, 1, 1, True)), ((1, 2, 9, 65), ((3, 2), (1, 2), (1, 1), (2, 1), False)),
                                      ((2, 2, 8, 8), (2, 2, 0, 1, False)), ((1, 1, 1, 1), (1, 1, 0, 1, False)),
                                      ((3, 2, 5, 63), (2, 2, 0, 1, True)), ((1, 3, 6, 7), (3, 3, 1, 2, True))]):
        for dt in (torch.float32, torch.float64):
            x = np.round(rng.standard_normal(shape) * 2) / 2
            x.flat[rng.integers(0, x.size, max(1, x.size // 17))] = np.nan
            x.flat[rng.integers(0, x.size, max(1, x.size // 13))] = -np.inf
            if shape[2] >= 4:
                x[0, 0, :4, :4] = -np.inf
            xt = torch.tensor(x, dtype=dt, device="opencl", requires_grad=True)
            v, i = F.max_pool2d(xt, *args, return_indices=True)
            gy = np.round(rng.standard_normal(tuple(v.shape)) * 4) / 4 + 0.1
            v.backward(torch.tensor(gy, dtype=dt, device="opencl"))
            res[f"max{t}_{dt}_v"], res[f"max{t}_{dt}_i"] = v.detach().cpu().numpy(), i.cpu().numpy()
            res[f"max{t}_{dt}_g"] = xt.grad.cpu().numpy()
    # avg_pool2d: padding, ceil_mode, count_include_pad, divisor_override, a wide row
    for t, (shape, args) in enumerate([((2, 3, 7, 9), (3, 2, 1, True, False, None)), ((1, 2, 5, 65), ((3, 2), (1, 2), (1, 0), True, True, None)),
                                      ((2, 2, 8, 8), (2, 2, 0, False, True, 3)), ((1, 1, 1, 1), (1, 1, 0, False, True, None)),
                                      ((2, 1, 6, 7), (2, 1, 1, True, False, None))]):
        for dt in (torch.float32, torch.float64):
            xt = torch.tensor(rng.standard_normal(shape), dtype=dt, device="opencl", requires_grad=True)
            v = F.avg_pool2d(xt, *args)
            v.backward(torch.tensor(rng.standard_normal(tuple(v.shape)), dtype=dt, device="opencl"))
            res[f"avg{t}_{dt}_v"], res[f"avg{t}_{dt}_g"] = v.detach().cpu().numpy(), xt.grad.cpu().numpy()
    # the im2col columns (with the ones row and the padding columns) straight from the launch
    for t, (shape, k, d, p, s) in enumerate([((3, 2, 7, 9), (3, 2), (1, 2), (1, 2), (2, 1)), ((3, 1, 5, 65), (2, 3), (2, 1), (0, 1), (1, 2))]):
        for dt in (torch.float32, torch.float64):
            x = torch.tensor(rng.standard_normal(shape), dtype=dt, device="opencl")
            oh = (shape[2] + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
            ow = (shape[3] + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
            ld = -(-(2 * oh * ow + 5) // 16) * 16
            # images 1 and 2 of 3
            cols = conv_ops._columns(be, conv_ops._program(be, dt), x, 1, 2, k, d, p, s, oh, ow, ld, True)
            res[f"cols{t}_{dt}"] = cols.cpu().numpy()
    # conv2d forward and all gradients, one chunk and ragged chunks (the backward rebuilding its columns)
    for t, (chunk, keep) in enumerate([(None, 32 << 20), (2 * 3 * 6 * 9 * 4 * 4, 0)]):
        conv_ops.CHUNK_BYTES, conv_ops.KEEP_BYTES = chunk, keep
        for cs, (shape, co, k, s, p, d) in enumerate([((5, 3, 9, 65), 17, (3, 2), (2, 1), (1, 2), (1, 2)),
                                                     ((3, 2, 7, 7), 5, (3, 3), (1, 1), (2, 2), (2, 2))]):
            ts = [torch.tensor(rng.standard_normal(sh), dtype=torch.float32, device="opencl", requires_grad=True)
                  for sh in (shape, (co, shape[1]) + k, (co,))]
            y = F.conv2d(*ts, stride=s, padding=p, dilation=d)
            assert type(y.grad_fn).__name__ == "ConvolutionBackward0"
            gy = rng.standard_normal(tuple(y.shape))
            y.backward(torch.tensor(gy, dtype=torch.float32, device="opencl"))
            for name, a in zip("ywb", ts):
                res[f"conv{t}{cs}_in_{name}"] = a.detach().cpu().numpy()
            res[f"conv{t}{cs}_gy"] = gy
            res[f"conv{t}{cs}_y"] = y.detach().cpu().numpy()
            for name, a in zip("xwb", ts):
                res[f"conv{t}{cs}_g{name}"] = a.grad.cpu().numpy()
    np.savez(sys.argv[1], **res)
    print("ok")
""")


@pytest.fixture(scope="module")
def both_shapes(tmp_path_factory):
    out = {}
    for shape in ("cpu", "gpu"):
        path = tmp_path_factory.mktemp(shape) / "res.npz"
        env = dict(os.environ, PYGRAD_KERNEL_SHAPE=shape)
        r = subprocess.run([sys.executable, "-c", SCRIPT, str(path), shape], env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0 and "ok" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
        out[shape] = dict(np.load(path))
    return out


def test_pool_and_columns_bit_identical_across_shapes(both_shapes):
    cpu, gpu = both_shapes["cpu"], both_shapes["gpu"]
    keys = [k for k in cpu if k.startswith(("max", "avg", "cols"))]
    assert len(keys) == 6 * 2 * 3 + 5 * 2 * 2 + 2 * 2 and set(keys) <= set(gpu)
    for k in keys:
        a, b = cpu[k], gpu[k]
        assert a.shape == b.shape and a.dtype == b.dtype, k
        assert a.tobytes() == b.tobytes(), (k, np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))))[:5])
    # the columns hold the ones row and zero padding columns
    c = [cpu[k] for k in keys if k.startswith("cols0")][0]
    assert c.shape[0] == 2 * 3 * 2 + 1  # C*kh*kw + the ones row; 2 images of 4 x 11 positions
    assert (c[-1, :2 * 4 * 11] == 1).all() and (c[:, 2 * 4 * 11:] == 0).all() and c.shape[1] > 2 * 4 * 11
    # a NaN in a max-pool window wins
    v = [cpu[k] for k in keys if k.startswith("max0") and k.endswith("_v")][0]
    assert np.isnan(v).any()


def _np_conv(x, w, b, s, p, d, gy):
    """float64 conv output and input / weight / bias gradients of sum(conv * gy) (the adjoint, tap by tap)."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    oh, ow = gy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    y, gxp, gw = np.zeros(gy.shape), np.zeros(xp.shape), np.zeros(w.shape)
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(None), slice(i * d[0], i * d[0] + s[0] * (oh - 1) + 1, s[0]),
                  slice(j * d[1], j * d[1] + s[1] * (ow - 1) + 1, s[1]))
            y += np.einsum("nchw,kc->nkhw", xp[sl], w[:, :, i, j])
            gxp[sl] += np.einsum("nkhw,kc->nchw", gy, w[:, :, i, j])
            gw[:, :, i, j] = np.einsum("nkhw,nchw->kc", gy, xp[sl])
    return y + b.reshape(1, -1, 1, 1), gxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd], gw, gy.sum((0, 2, 3))


@pytest.mark.parametrize("shape", ["cpu", "gpu"])
def test_conv2d_both_shapes_match_numpy(both_shapes, shape):
    res = both_shapes[shape]
    geo = [((2, 1), (1, 2), (1, 2)), ((1, 1), (2, 2), (2, 2))]
    for t in range(2):
        for cs, (s, p, d) in enumerate(geo):
            pre = f"conv{t}{cs}_"
            ref = _np_conv(*(res[pre + "in_" + k].astype(np.float64) for k in "ywb"), s, p, d, res[pre + "gy"])
            for name, r in zip(("y", "gx", "gw", "gb"), ref):
                got = res[pre + name]
                assert got.shape == r.shape, (pre + name, got.shape, r.shape)
                np.testing.assert_allclose(got, r, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(r).max()), err_msg=pre + name)
