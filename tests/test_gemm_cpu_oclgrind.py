"""The CPU-shaped GEMM (``gemm_cpu``: packed or in-place operands, 6 x 64 blocks, the last block of an
in-place B shifted left, narrow products transposed, K blocks with C reloaded between them, split-K slices summed by gemm_sum_k;
the small-product kernels ``gemm_dot_k`` and ``gemm_row_k``) under Oclgrind: no out-of-bounds access on odd edge tiles.  Part of the
Oclgrind job (``PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind``); the simulator is slow, so shapes are small."""
import os
import textwrap

import pytest

from helpers import run_on_oclgrind

SCRIPT = textwrap.dedent(r"""
    import numpy as np
    import pygrad as torch
    from pygrad.runtime import get_backend

    be = get_backend(torch.device("opencl"))
    print("device:", be.rt.device.name, flush=True)
    cls = type(be)
    cls.gemm_kernel, cls.gemm_small = "cpu", False  # gemm_cpu itself first (small products would take gemm_dot_k / gemm_row_k)
    rng = np.random.default_rng(0)
    for kc in (0, 4, 3):
        for da in (False, True):
            for db in (False, True):
                cls.gemm_kc, cls.gemm_direct_a, cls.gemm_direct_b = kc, da, db
                for m, k, n in ((1, 1, 1), (7, 9, 33), (13, 5, 32), (6, 11, 17), (5, 3, 80), (70, 3, 5)):
                    a = rng.standard_normal((m, k)).astype(np.float32)
                    b = rng.standard_normal((k, n)).astype(np.float32)
                    got = (torch.tensor(a, device="opencl") @ torch.tensor(b, device="opencl")).cpu().numpy()
                    assert np.allclose(got, a @ b, rtol=1e-4, atol=1e-4), (kc, da, db, m, k, n)
                # a batch of two with B at an offset, and a transposed A
                a = rng.standard_normal((2, 7, 9)).astype(np.float32)
                b = rng.standard_normal((2, 9, 48)).astype(np.float32)
                ta, tb = torch.tensor(a, device="opencl"), torch.tensor(b, device="opencl")
                assert np.allclose((ta @ tb).cpu().numpy(), a @ b, rtol=1e-4, atol=1e-4)
                at = torch.tensor(np.ascontiguousarray(a[0].T), device="opencl").t()
                assert np.allclose((at @ tb[1]).cpu().numpy(), a[0] @ b[1], rtol=1e-4, atol=1e-4)
    # split-K: slices of K into partial products (uneven last slice), summed by gemm_sum_k into C (a view)
    cls.gemm_kc, cls.gemm_direct_a, cls.gemm_direct_b = 2, None, None
    for split in (2, 3):
        cls.gemm_split_k = split
        for da in (False, True):
            cls.gemm_direct_a = cls.gemm_direct_b = da
            for m, k, n in ((7, 9, 33), (13, 7, 64), (70, 5, 3)):
                a = rng.standard_normal((m, k)).astype(np.float32)
                b = rng.standard_normal((k, n)).astype(np.float32)
                got = (torch.tensor(a, device="opencl") @ torch.tensor(b, device="opencl")).t().cpu().numpy()
                assert np.allclose(got, (a @ b).T, rtol=1e-4, atol=1e-4), (split, da, m, k, n)
    cls.gemm_split_k = None
    # small and narrow products (gemm_dot_k, gemm_row_k), the operands ending where their buffer ends (a
    # buffer of exactly 4096 bytes, not from the memory pool, whose blocks are larger than asked for): a
    # narrow B's last rows must be read element by element, not 16 floats at once
    import pyopencl as cl
    from pygrad import _core
    from pygrad.runtime import cpu as _cpu

    cls.gemm_kc = cls.gemm_direct_a = cls.gemm_direct_b = None
    cls.gemm_small = True
    buf = cl.Buffer(be.rt.context, cl.mem_flags.READ_WRITE, size=4096)
    cl.enqueue_copy(be.rt.queue, buf, rng.standard_normal(1024).astype(np.float32), is_blocking=True)
    whole = _cpu._Tensor._make(_core.Storage(buf, be.device, torch.float32, 1024), (1024,), (1,), 0)
    for split in (None, 2):
        cls.gemm_split_k = split
        for m, k, n in ((1, 1, 1), (5, 19, 3), (7, 33, 17), (6, 40, 2), (13, 35, 20), (3, 17, 1)):
            a = rng.standard_normal((m, k)).astype(np.float32)
            tb = whole[1024 - k * n:].view(k, n)
            b = tb.cpu().numpy()
            ta = torch.tensor(a, device="opencl")
            assert np.allclose((ta @ tb).cpu().numpy(), a @ b, rtol=1e-4, atol=1e-4), (split, m, k, n)
            tbt = whole[1024 - k * n:].view(n, k).t()  # columns along k, ending at the buffer's end: dot form
            assert np.allclose((ta @ tbt).cpu().numpy(), a @ tbt.cpu().numpy(), rtol=1e-4, atol=1e-4), (split, m, k, n)
            tat = whole[1024 - k * m:].view(k, m).t()  # A's columns contiguous: the row form transposed
            assert np.allclose((tat @ tb).cpu().numpy(), tat.cpu().numpy() @ b, rtol=1e-4, atol=1e-4), (split, m, k, n)
    cls.gemm_split_k = cls.gemm_small = None
    print("ok")
""")


@pytest.mark.oclgrind
@pytest.mark.skipif(not os.environ.get("PYGRAD_TEST_OCLGRIND"),
                    reason="the Oclgrind job runs as its own CI command: PYGRAD_TEST_OCLGRIND=1 pytest -m oclgrind")
def test_gemm_cpu_under_oclgrind(tmp_path):
    r, report = run_on_oclgrind(SCRIPT, tmp_path, shape="cpu", races=False)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr + report
    assert "Oclgrind" in r.stdout, r.stdout  # it really ran on the simulator
    assert report.strip() == "", report[:4000]
