"""Issue 11's smaller findings: OpenCL ``%``/``//`` edge cases, the bounded scalar cache, out-of-memory
checks before the driver, and the Low items (median of NaN, ints beyond int64, TypeErrors,
``floor_divide_``).  Expected values are PyTorch's (2.x), stored as literals.
"""
import math

import numpy as np
import pytest

import pygrad
from conftest import DEVICES

INF = float("inf")
needs_opencl = pytest.mark.skipif("opencl" not in DEVICES, reason="needs an OpenCL device")


def _same(got, want):
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or (g == w and math.copysign(1, g) == math.copysign(1, w)), (got, want)


# -- % and // ----------------------------------------------------------------------------------------
def test_int8_remainder_by_inf(device):
    y = pygrad.tensor([5, -3, 0], dtype=pygrad.int8, device=device)
    _same((y % INF).tolist(), [5.0, INF, 0.0])
    _same((y % -INF).tolist(), [-INF, -3.0, 0.0])
    _same((y // INF).tolist(), [0.0, -1.0, 0.0])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_float_remainder_and_floor_divide_edge_cases(device, dtype):
    dt = getattr(pygrad, dtype)
    if device == "opencl" and dt is pygrad.float64 and not pygrad.opencl.get_device_properties()["fp64"]:
        pytest.skip("no fp64 on this device")
    z = pygrad.tensor([5.0, -3.0, 0.0, -7.0, 7.0], dtype=dt, device=device)
    _same((z % INF).tolist(), [5.0, INF, 0.0, INF, 7.0])
    _same((z // INF).tolist(), [0.0, -1.0, 0.0, -1.0, 0.0])
    _same((z // -INF).tolist(), [-1.0, 0.0, -0.0, 0.0, -1.0])
    assert all(math.isnan(v) for v in (z % 0.0).tolist())
    _same((z // 2.0).tolist(), [2.0, -2.0, 0.0, -4.0, 3.0])
    _same((z % -2.0).tolist(), [-1.0, -1.0, 0.0, -1.0, -1.0])
    _same((z % 2.5).tolist(), [0.0, 2.0, 0.0, 0.5, 2.0])


def test_int64_min_division_by_minus_one(device):
    x = pygrad.tensor([-2**63, 7, -7], device=device)
    assert (x % -1).tolist() == [0, 0, 0]
    assert x.fmod(-1).tolist() == [0, 0, 0]
    assert x.fmod(pygrad.tensor([-1, -1, -1], device=device)).tolist() == [0, 0, 0]
    assert (x // -1).tolist() == [-2**63, -7, 7]
    assert x.div(-1, rounding_mode="trunc").tolist() == [-2**63, -7, 7]
    assert (x % 3).tolist() == [1, 1, 2] and (x // 3).tolist() == [-3074457345618258603, 2, -3]


# -- the OpenCL scalar cache and memory --------------------------------------------------------------
@needs_opencl
def test_scalar_cache_is_bounded_and_emptied():
    from pygrad.runtime import get_backend
    from pygrad.runtime.opencl.backend import SCALAR_CACHE_SIZE

    b = get_backend(pygrad.device("opencl"))
    x = pygrad.ones(4, device="opencl")
    for i in range(SCALAR_CACHE_SIZE):  # warm up: fill the cache
        x = x * 1.0 + float(i) * 1e-9
    pygrad.opencl.synchronize()
    base = pygrad.opencl.memory_allocated()
    for i in range(3 * SCALAR_CACHE_SIZE):  # ever-new values, as Adam's bias corrections
        x = x * 1.0 + (i + 0.5) * 1e-9
    pygrad.opencl.synchronize()
    assert len(b._scalars) <= SCALAR_CACHE_SIZE
    assert pygrad.opencl.memory_allocated() <= base
    pygrad.opencl.empty_cache()
    assert len(b._scalars) == 0
    assert pygrad.opencl.memory_allocated() < base
    assert x.tolist()[0] > 1.0  # still usable after the cache was emptied
    assert (x + 2.0).tolist()[0] > 3.0


@needs_opencl
def test_allocation_past_the_device_limits_raises_out_of_memory():
    with pytest.raises(RuntimeError, match="out of memory"):
        pygrad.empty(2**50, device="opencl")
    with pytest.raises(RuntimeError, match="out of memory"):
        pygrad.empty(2**38, dtype=pygrad.uint8, device="opencl")


@needs_opencl
def test_host_memory_is_checked_before_a_cpu_device_allocates(monkeypatch):
    from pygrad.runtime.opencl import runtime as R

    rt = R.runtime(0)
    if not rt.is_cpu:
        pytest.skip("the host-memory check is for CPU devices (PoCL)")
    monkeypatch.setattr(R, "_host_available", lambda: 32 * 2**20)  # pretend the host has 32 MiB left
    with pytest.raises(RuntimeError, match="more than the host has available"):
        pygrad.empty(200 * 2**20, dtype=pygrad.uint8, device="opencl")
    assert pygrad.ones(1000, device="opencl").sum().item() == 1000.0  # small allocations are not checked


# -- Low items ----------------------------------------------------------------------------------------
def test_median_of_nan_is_nan(device):
    assert math.isnan(pygrad.median(pygrad.tensor([1.0, float("nan"), 2.0], device=device)).item())
    r = pygrad.tensor([[1.0, float("nan"), 2.0, float("nan")], [3.0, 1.0, 2.0, 0.0]], device=device).median(dim=1)
    v = r.values.tolist()
    assert math.isnan(v[0]) and v[1] == 1.0
    assert r.indices.tolist() == [1, 1]  # PyTorch: the first NaN's index
    assert pygrad.tensor([3, 1, 2], device=device).median().item() == 2
    r0 = pygrad.tensor(5.0, device=device).median(dim=0)
    assert r0.values.item() == 5.0 and r0.indices.item() == 0
    x = pygrad.tensor([1.0, float("nan"), 2.0], device=device, requires_grad=True)
    x.median().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_python_ints_beyond_int64_raise():
    for data in (2**63, [1, 2**63], [[1], [-2**63 - 1]], [2**64]):
        with pytest.raises(ValueError, match="Overflow when unpacking long long"):
            pygrad.tensor(data)
    assert pygrad.tensor(-2**63).item() == -2**63
    assert pygrad.tensor(2**63, dtype=pygrad.float32).item() == float(2**63)
    assert pygrad.tensor([1.5, 2**63]).tolist() == [1.5, float(2**63)]
    with pytest.raises(RuntimeError, match="without overflow"):
        pygrad.full((2,), 2**63)
    assert pygrad.full((1,), 2**63, dtype=pygrad.float64).tolist() == [float(2**63)]


def test_non_tensor_inputs_raise_type_error():
    with pytest.raises(TypeError, match=r"relu\(\): argument 'input' \(position 1\) must be Tensor, not NoneType"):
        pygrad.relu(None)
    with pytest.raises(TypeError, match=r"relu\(\): argument 'input' \(position 1\) must be Tensor, not NoneType"):
        pygrad.nn.functional.relu(None)
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        pygrad.exp([1.0])
    with pytest.raises(TypeError):
        pygrad.nn.Linear([2], 3)


def test_floor_divide_inplace(device):
    x = pygrad.tensor([5, 7, -7], device=device)
    assert x.floor_divide_(pygrad.tensor([2, -2, 2], device=device)) is x
    assert x.tolist() == [2, -4, -4]
    y = pygrad.tensor([5.0, 7.0], device=device)
    y.floor_divide_(2)
    assert y.tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="can't be cast"):
        pygrad.tensor([5, 7], device=device).floor_divide_(2.5)
    np.testing.assert_array_equal(pygrad.tensor([9, -9], device=device).floor_divide_(4).cpu().numpy(), [2, -3])


def test_relu_keeps_nan_on_every_device(device):
    """PyTorch's relu passes NaN through (max(x, 0) with NaN propagating); the OpenCL kernel once gave 0."""
    x = pygrad.tensor([float("nan"), -1.0, 2.0], device=device)
    y = pygrad.relu(x).tolist()
    assert math.isnan(y[0]) and y[1:] == [0.0, 2.0]
    assert pygrad.relu(pygrad.tensor([-3, 0, 4], device=device)).tolist() == [0, 0, 4]
