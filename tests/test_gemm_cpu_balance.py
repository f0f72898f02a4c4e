"""GEMM on the OpenCL device at the default launch configuration: odd sizes (1, 7, 63, 65, 127, 1000),
transposed and strided operands, batches, against NumPy float64 products; and the CPU shape's split of C
into work-groups (row groups along the launch's first dimension, ~128 work-groups per compute unit, none
below a minimum of work), which decides how PoCL's threads share a product."""
import numpy as np
import pytest

import pygrad as torch

pytestmark = pytest.mark.skipif(not torch.opencl.is_available(), reason="no OpenCL device")
DEV = "opencl"


def check(a, b, got):
    """``got`` (a device tensor) equals the float64 product of the float32 operands ``a`` @ ``b`` to float32
    rounding: each element's error bounded by K ulps of the sum of |a||b| terms."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    want, scale = a64 @ b64, np.abs(a64) @ np.abs(b64)
    k = a.shape[-1]
    g = got.cpu().numpy()
    assert g.shape == want.shape and g.dtype == np.float32
    assert np.all(np.abs(g - want) <= 4 * max(k, 1) * np.finfo(np.float32).eps * scale + 1e-30)


SIZES = [(1, 1, 1), (7, 7, 7), (63, 65, 127), (65, 127, 63), (127, 63, 65), (1000, 7, 65), (7, 1000, 127),
         (1000, 65, 1000), (1000, 1000, 63), (127, 1000, 1000)]


@pytest.mark.parametrize("m,k,n", SIZES)
def test_matmul_odd_sizes_layouts(m, k, n):
    rng = np.random.default_rng(m * 7 + k * 3 + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    da, db = torch.tensor(a, device=DEV), torch.tensor(b, device=DEV)
    check(a, b, da @ db)
    at = torch.tensor(np.ascontiguousarray(a.T), device=DEV).t()  # A transposed (packed when large)
    bt = torch.tensor(np.ascontiguousarray(b.T), device=DEV).t()  # B transposed (columns along k)
    check(a, b, at @ db)
    check(a, b, da @ bt)
    check(a, b, at @ bt)


def test_matmul_strided_views_and_offsets():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((1003, 1130)).astype(np.float32)
    d = torch.tensor(big, device=DEV)
    check(big[1:1000, 5:70], big[3:68, 2:1002], d[1:1000, 5:70] @ d[3:68, 2:1002])  # offsets, rows strided
    check(big[:127, ::2], big[:565, 1::2], d[:127, ::2] @ d[:565, 1::2])            # strided along k and n
    c = torch.zeros(130, 1000, device=DEV)
    c[1:128].copy_(d[:127, :63] @ d[:63, :1000])                                  # into a view of C
    check(big[:127, :63], big[:63, :1000], c[1:128])


@pytest.mark.parametrize("batch", [(3,), (2, 3)])
def test_matmul_batches_odd_sizes(batch):
    rng = np.random.default_rng(len(batch))
    a = rng.standard_normal(batch + (127, 65)).astype(np.float32)
    b = rng.standard_normal(batch + (65, 1000)).astype(np.float32)
    check(a, b, torch.tensor(a, device=DEV) @ torch.tensor(b, device=DEV))
    b1 = b[(0,) * len(batch)]  # B broadcast over the batch
    check(a, b1, torch.tensor(a, device=DEV) @ torch.tensor(b1, device=DEV))


def test_cpu_row_blocks_split():
    """gemm_cpu's row blocks per work-item: ~128 work-groups per compute unit where there are enough blocks
    (PoCL's threads then take runs of them and end together), never more than the cap (the tuned
    ``cpu_mb``) unless work-groups would get too small, none below the minimum of work unless that left
    fewer than 4 per compute unit, groups evened out."""
    from pygrad.runtime.opencl.backend_ops import _NR, _WG_MIN_FLOP, _cpu_row_blocks

    for mt, panels, k, cus, cap in [(171, 16, 1024, 2, 64), (342, 32, 2048, 2, 64), (43, 4, 256, 2, 64),
                                    (1, 1, 1, 2, 64), (167, 3, 300, 2, 64), (171, 16, 1024, 16, 64),
                                    (1000, 100, 64, 4, 32), (171, 16, 1024, 2, 1), (5, 2, 10 ** 6, 2, 64),
                                    (8067, 1, 75, 2, 8), (342, 32, 2048, 2, 8)]:
        mb = _cpu_row_blocks(cap, mt, panels, k, cus)
        groups = -(-mt // mb)
        floor = -(-_WG_MIN_FLOP // (2 * 6 * _NR * k))
        assert 1 <= mb <= mt and mb <= max(cap, floor)  # the cap holds unless work-groups would get too small
        assert mb == -(-mt // groups)  # evened out: no group more than one row block short of the others' size
        want = max(1, mt * panels // (128 * cus))
        assert mb <= max(want, floor)  # no larger than the work-group count or the minimum of work asks
        assert mb == 1 or groups * panels >= 4 * cus or groups == mt  # >= 4 work-groups per unit if possible
    # with a cap of 64: N = 1024 on 2 cores, 171 x 16 blocks, as 288 work-groups of 10 row blocks (was 48 of
    # <= 64); N = 2048, 342 x 32 blocks, as 288 of 38; a small product: groups of >= ~3 MFLOP
    assert _cpu_row_blocks(64, 171, 16, 1024, 2) == 10
    assert _cpu_row_blocks(64, 342, 32, 2048, 2) == 38
    assert _cpu_row_blocks(64, 43, 4, 256, 2) == 15
    assert _cpu_row_blocks(8, 171, 16, 1024, 2) == 8   # the default cap: 22 x 16 work-groups
    assert _cpu_row_blocks(1, 171, 16, 1024, 2) == 6   # a cap below the minimum of work per work-group
    assert _cpu_row_blocks(8, 8067, 1, 75, 2) == 70    # a conv as C^T (48400 x 75 x 20): ~4 MFLOP each
    assert _cpu_row_blocks(64, 43, 4, 256, 16) == 2  # 16 units: 88 work-groups rather than 12


def test_cpu_tuning_candidates_go_through_the_launch(tmp_path, monkeypatch):
    """CPU shape: the tuner times each (K block, row-block cap) candidate as the live configuration (so the
    launch's own row-block rule applies), stores the fastest and leaves no candidate behind."""
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl import backend_ops, gemm_tune

    be = get_backend(torch.device(DEV))
    if be.rt.kernel_shape != "cpu":
        pytest.skip("gemm_cpu is the CPU-shaped GEMM")
    monkeypatch.setenv("PYGRAD_CACHE_DIR", str(tmp_path))
    gemm_tune._memo.pop(id(be.rt), None)
    seen = []
    orig = backend_ops._cpu_row_blocks

    def spy(mb, *args):
        seen.append((gemm_tune.config(be.rt)["cpu_kc"], mb))
        return orig(mb, *args)

    monkeypatch.setattr(backend_ops, "_cpu_row_blocks", spy)
    try:
        cfg = gemm_tune.tune(0, n=64, repeat=1, verbose=False)
        assert set(gemm_tune.CPU_CANDIDATES) <= set(seen)
        assert (cfg["cpu_kc"], cfg["cpu_mb"]) in gemm_tune.CPU_CANDIDATES
        live = gemm_tune.config(be.rt)  # the stored best, read back from the cache file, not the last candidate
        assert (live["cpu_kc"], live["cpu_mb"]) == (cfg["cpu_kc"], cfg["cpu_mb"])
    finally:
        gemm_tune._memo.pop(id(be.rt), None)
