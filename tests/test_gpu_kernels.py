"""The GPU-shaped (work-group) kernels: conversions that are undefined in OpenCL C, and an Oclgrind job.

CI runs the whole opencl suite a second time with ``PYGRAD_KERNEL_SHAPE=gpu`` (the work-group kernels
on PoCL).  The ``oclgrind`` job below runs the work-group kernels on small shapes under Oclgrind, which
reports out-of-bounds accesses and local-memory data races; CI runs it as a separate
command (``PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind``), since the simulator is thousands of times slower
than a device.
"""
import os
import textwrap

import numpy as np
import pytest

from helpers import run_on_oclgrind

import pygrad as torch


def test_float_to_narrow_int_wraps(device):
    """(a * 3).to(uint8) of negative floats wraps (251) on every device: OpenCL C leaves float -> uchar of
    out-of-range values undefined (NVIDIA gives 0), so stores convert through long."""
    a = torch.tensor([-1.7, -2.0, 3.3, 100.0, -100.0], device=device)
    want = {torch.uint8: [251, 250, 9, 44, 212], torch.int8: [-5, -6, 9, 44, -44],
            torch.int16: [-5, -6, 9, 300, -300], torch.int32: [-5, -6, 9, 300, -300]}
    for dt, values in want.items():
        assert (a * 3).to(dt).tolist() == values
        assert (a.double() * 3).to(dt).tolist() == values
    if device == "opencl":
        from pygrad.runtime.opencl.backend import _io_defines
        from pygrad import dtypes as D

        for d in (D.uint8, D.int8, D.int16, D.int32):
            assert "(long)(v)" in _io_defines("O", d)[2]  # the device-independent conversion


OCLGRIND_SCRIPT = textwrap.dedent(r"""
    import numpy as np
    import pygrad as torch
    from pygrad.runtime import get_backend

    be = get_backend(torch.device("opencl"))
    assert be.rt.kernel_shape == "gpu", be.rt.kernel_shape
    print("device:", be.rt.device.name, flush=True)
    rng = np.random.default_rng(0)

    def check(got, want, what):
        got = got.cpu().numpy() if hasattr(got, "cpu") else got
        assert got.shape == np.shape(want), (what, got.shape, np.shape(want))
        assert np.allclose(got, want, rtol=1e-4, atol=1e-4), (what, got, want)

    for shape in [(1,), (7,), (65,), (300,), (3, 33), (40, 5), (0, 3)]:
        a = rng.standard_normal(shape).astype(np.float32)
        t = torch.tensor(a, device="opencl")
        for ax in [None] + list(range(len(shape))):
            check(t.sum() if ax is None else t.sum(ax), a.sum(axis=ax), ("sum", shape, ax))
            if a.size and (ax is None or shape[ax]):
                check(t.amax() if ax is None else t.amax(ax), a.max(axis=ax), ("amax", shape, ax))
                i = t.argmax() if ax is None else t.argmax(ax)
                check(i, np.argmax(a if ax is not None else a.reshape(-1), axis=ax), ("argmax", shape, ax))
            check(t.any() if ax is None else t.any(ax), (a != 0).any(axis=ax), ("any", shape, ax))
        if len(shape) == 2:
            check(t.cumsum(1), np.cumsum(a, 1), ("cumsum", shape))
            check(t.cumsum(0), np.cumsum(a, 0), ("cumsum0", shape))
            check(t.t().sum(1), a.T.sum(1), ("transposed sum", shape))
            if shape[1] > 1:
                check(t.std(1), a.std(1, ddof=1), ("std", shape))
    big = rng.standard_normal(5000).astype(np.float32)
    check(torch.tensor(big, device="opencl").sum(), big.sum(dtype=np.float64), "two-pass sum")
    ints = rng.integers(-9, 9, (2, 70)).astype(np.int64)
    check(torch.tensor(ints, device="opencl").cumsum(1), np.cumsum(ints, 1), "int cumsum")
    check(torch.tensor(ints, device="opencl").amin(1), ints.min(1), "int amin")
    m, k, n = 5, 7, 9
    x, y = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    check(torch.tensor(x, device="opencl") @ torch.tensor(y, device="opencl"), x @ y, "matmul")
    m, k, n = 130, 37, 129  # the 128 x 128 double-buffered kernel across two tiles each way, ragged edges
    x, y = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    for kind in ("big", "tiled"):
        type(be).gemm_kernel = kind
        check(torch.tensor(x, device="opencl") @ torch.tensor(y, device="opencl"), x @ y, kind)
        check(torch.tensor(x.T.copy(), device="opencl").t() @ torch.tensor(y, device="opencl"), x @ y, kind + " A^T")
    type(be).gemm_kernel, type(be).gemm_split_k = None, 4
    x, y = rng.standard_normal((3, 64)).astype(np.float32), rng.standard_normal((64, 5)).astype(np.float32)
    check(torch.tensor(x, device="opencl") @ torch.tensor(y, device="opencl"), x @ y, "split-K")
    type(be).gemm_split_k = None
    print("ok", flush=True)
""")


@pytest.mark.oclgrind
@pytest.mark.skipif(not os.environ.get("PYGRAD_TEST_OCLGRIND"),
                    reason="the Oclgrind job runs as its own CI command: PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind")
def test_workgroup_kernels_under_oclgrind(tmp_path):
    """Work-group kernels on odd small shapes under Oclgrind: no out-of-bounds access and no local-memory
    data race (Oclgrind's log must stay empty), and NumPy's results.  (Oclgrind 19.10's uninitialised-read
    plugin stops at LLVM's ``freeze`` instruction, so it stays off.)"""
    r, report = run_on_oclgrind(OCLGRIND_SCRIPT, tmp_path, shape="gpu")
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr + report
    assert "Oclgrind" in r.stdout, r.stdout  # it really ran on the simulator
    assert report.strip() == "", report[:4000]


GEMM_SHAPES = [(1, 1, 1), (128, 128, 128), (129, 257, 127), (256, 16, 260), (7, 1000, 5), (300, 33, 1)]


@pytest.mark.parametrize("kind", ["big", "tiled", "naive"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_kernels(kind, dtype):
    """Each GEMM kernel (forced) on tile multiples and ragged edges, row- and column-major operands,
    batched and broadcast, against NumPy in float64."""
    if "opencl" not in _devices():
        pytest.skip("no OpenCL device")
    from pygrad.runtime import get_backend

    be = get_backend(torch.device("opencl"))
    old = type(be).gemm_kernel
    type(be).gemm_kernel = kind
    rng = np.random.default_rng(0)
    tol = 1e-4 if dtype == "float32" else 1e-12
    try:
        for m, k, n in GEMM_SHAPES:
            a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
            want = a.astype(np.float64) @ b.astype(np.float64)
            scale = max(1.0, np.abs(want).max())
            ta, tb = torch.tensor(a, device="opencl"), torch.tensor(b, device="opencl")
            ta_t = torch.tensor(np.ascontiguousarray(a.T), device="opencl").t()
            tb_t = torch.tensor(np.ascontiguousarray(b.T), device="opencl").t()
            for p, q in ((ta, tb), (ta_t, tb), (ta, tb_t), (ta_t, tb_t)):
                got = (p @ q).cpu().numpy()
                assert got.dtype == np.dtype(dtype)
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=f"{kind} {m}x{k}x{n}")
        a, b = rng.standard_normal((3, 2, 70, 9)).astype(dtype), rng.standard_normal((2, 9, 130)).astype(dtype)
        got = (torch.tensor(a, device="opencl") @ torch.tensor(b, device="opencl")).cpu().numpy()
        np.testing.assert_allclose(got, a @ b, rtol=tol, atol=tol * 10)
    finally:
        type(be).gemm_kernel = old


@pytest.mark.parametrize("split", [None, 1, 2, 5])
def test_gemm_split_k(split):
    """Skinny products with long K: K split into slices (a batch of products, then a column sum)."""
    if "opencl" not in _devices():
        pytest.skip("no OpenCL device")
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import backend_ops, gemm_tune

    be = get_backend(torch.device("opencl"))
    old_kind, old_split = type(be).gemm_kernel, type(be).gemm_split_k
    type(be).gemm_split_k = split
    rng = np.random.default_rng(1)
    try:
        for m, k, n in ((64, 8000, 64), (3, 4100, 7), (20, 2000, 1)):
            a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
            want = a.astype(np.float64) @ b.astype(np.float64)
            got = (torch.tensor(a, device="opencl") @ torch.tensor(b, device="opencl")).cpu().numpy()
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
        if split is None:  # the automatic choice divides K and keeps slices >= 512 long
            s = backend_ops._split_k(be, 64, 64, 8000, gemm_tune.DEFAULT)
            assert s == 1 or (8000 % s == 0 and 8000 // s >= 512)
    finally:
        type(be).gemm_kernel, type(be).gemm_split_k = old_kind, old_split


def test_gemm_tuning_cache(tmp_path, monkeypatch):
    """The tuner's result is stored per device name + driver version and read back by config()."""
    if "opencl" not in _devices():
        pytest.skip("no OpenCL device")
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import gemm_tune

    monkeypatch.setenv("PYGRAD_CACHE_DIR", str(tmp_path))
    rt = get_backend(torch.device("opencl")).rt
    gemm_tune._memo.pop(id(rt), None)
    assert gemm_tune.config(rt) == gemm_tune.DEFAULT  # no tuning run yet: the fixed default
    cfg = gemm_tune.tune(0, n=128, repeat=1, verbose=False)
    assert gemm_tune.cache_path(rt).exists() and cfg["large"] in ("big", "tiled")
    assert gemm_tune.config(rt)["large"] == cfg["large"]
    gemm_tune._memo.pop(id(rt), None)
    monkeypatch.delenv("PYGRAD_CACHE_DIR")


def _devices():
    from conftest import DEVICES

    return DEVICES


def test_integer_powers_are_exact(device):
    """x ** 2 and x ** 3 multiply (exact, as on the CPU): OpenCL's pow() may be 16 ulp off on a GPU driver,
    which broke test_backward_with_create_graph_builds_graph_of_grad's exact 27.0 / 18.0 there."""
    from pygrad.ops.elementwise import BINARY

    assert "(a) * (a)" in BINARY["pow"][1]
    x = torch.tensor([3.0, -2.0, 0.1, 1e-3], dtype=torch.float64, device=device, requires_grad=True)
    assert (x ** 2).tolist() == [9.0, 4.0, 0.1 * 0.1, 1e-3 * 1e-3]
    assert (x ** 3).tolist() == [27.0, -8.0, 0.1 * 0.1 * 0.1, 1e-3 * 1e-3 * 1e-3]
    (g,) = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)
    assert g.tolist() == [27.0, 12.0, 3 * (0.1 * 0.1), 3 * (1e-3 * 1e-3)]
