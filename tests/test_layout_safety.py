"""Issue 11, layouts: size/extent arithmetic is overflow-checked and every layout is validated.

The repros that used to crash the interpreter run in a subprocess, so a regression fails the test
instead of killing pytest.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pygrad
from pygrad import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_isolated(code, timeout=120):
    """Run ``code`` in a fresh interpreter; returns (returncode, stdout+stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    return p.returncode, p.stdout + p.stderr


OVERFLOW = "Storage size calculation overflowed"


# -- the repros of the issue, each in its own interpreter ----------------------------------------
REPROS = [
    ("read", "x = pygrad.zeros(1, dtype=pygrad.uint8, device=DEV); x.as_strided((5,), (2**62,)).sum()"),
    ("write", "pygrad.zeros(2, dtype=pygrad.uint8, device=DEV).as_strided((2, 5), (1, 2**62)).fill_(7)"),
    ("tolist", "pygrad.zeros(4, device=DEV).as_strided((5,), (2**62,)).tolist()"),
    ("view", "pygrad.zeros(2**31, 2**31, 4, device=DEV).view(-1).shape"),
]


@pytest.mark.parametrize("name,stmt", REPROS, ids=[r[0] for r in REPROS])
def test_overflowing_layout_repro_raises(device, name, stmt):
    code = f"""
    import pygrad
    DEV = {device!r}
    try:
        {stmt}
    except RuntimeError as e:
        print("RuntimeError:", e)
    else:
        print("NO ERROR")
    """
    rc, out = run_isolated(code)
    assert rc == 0, f"interpreter died (rc={rc}):\n{out}"
    assert "RuntimeError: " + OVERFLOW in out, out


# -- the core arithmetic ----------------------------------------------------------------------------
def test_numel_overflow_raises():
    assert _core.numel((2**31, 2**31 - 1)) == 2**31 * (2**31 - 1)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        _core.numel((2**31, 2**31, 4))
    with pytest.raises(RuntimeError, match=OVERFLOW):
        _core.numel((2**70,))
    assert _core.numel((0, 2**40)) == 0


def test_contiguous_strides_overflow_raises():
    assert _core.contiguous_strides((2, 3, 4)) == (12, 4, 1)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        _core.contiguous_strides((4, 2**31, 2**31))


def test_storage_extent_checks_products_and_sums():
    assert _core.storage_extent((3, 4), (4, 1), 2) == (2, 13)
    assert _core.storage_extent((3, 4), (-4, 1), 8) == (0, 11)
    assert _core.storage_extent((0, 5), (2**62, 2**62), 0) == (0, -1)  # no element: nothing to reach
    assert _core.storage_extent((1,), (2**62,), 0) == (0, 0)  # a size-1 dim's stride is never followed
    for shape, strides, off in [((5,), (2**62,), 0), ((3,), (2**62,), 2**62), ((2, 2), (2**62, 2**62), 0),
                                ((3,), (-2**62 - 1,), 0), ((2,), (2**64,), 0), ((-5,), (1,), 0)]:
        with pytest.raises(RuntimeError, match=OVERFLOW):
            _core.storage_extent(shape, strides, off)
    with pytest.raises(RuntimeError, match="mismatch in length of strides and shape"):
        _core.storage_extent((2, 2), (1,), 0)


def test_check_layout_rejects_every_unsound_layout():
    _core.check_layout((2, 3), (3, 1), 0, 6)
    _core.check_layout((0,), (1,), 10, 6)  # empty: any offset is fine, as in PyTorch
    for args, msg in [(((2, 3), (3, 1), 1, 6), "outside a storage"),
                      (((2,), (1,), -1, 6), "invalid storage offset"),
                      (((2, 2), (1,), 0, 6), "mismatch in length"),
                      (((1,) * 65, (1,) * 65, 0, 6), "at most 64 dimensions"),
                      (((2**62, 2**62, 3), (0, 0, 1), 0, 6), OVERFLOW)]:  # expand-made numel overflow
        with pytest.raises(RuntimeError, match=msg):
            _core.check_layout(*args)


def test_infer_shape_overflow_raises():
    with pytest.raises(RuntimeError, match=OVERFLOW):
        _core.infer_shape((2**32, 2**32, 0), 0)


# -- the public ops that make layouts ---------------------------------------------------------------
def test_as_strided_validates_like_pytorch(device):
    x = pygrad.arange(4.0, device=device)
    assert x.as_strided((2, 2), (1, 2), 0).tolist() == [[0.0, 2.0], [1.0, 3.0]]
    assert x.as_strided((1,), (2**62,), 3).tolist() == [3.0]  # valid in PyTorch too
    with pytest.raises(RuntimeError, match="Negative strides are not supported"):
        x.as_strided((2,), (-1,))
    with pytest.raises(RuntimeError, match="invalid storage offset -1"):
        x.as_strided((2,), (1,), -1)
    with pytest.raises(RuntimeError, match="outside a storage of 4 elements"):
        x.as_strided((2,), (1,), 3)
    with pytest.raises(RuntimeError, match="mismatch in length of strides and shape"):
        x.as_strided((2,), (1, 2))
    with pytest.raises(RuntimeError, match=OVERFLOW):
        x.as_strided((2,), (2**64,))
    with pytest.raises(RuntimeError, match=OVERFLOW):
        x.as_strided((5,), (2**62,))
    with pytest.raises(TypeError):
        x.as_strided((2.5,), (1,))


def test_expand_and_view_overflow(device):
    x = pygrad.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        x.expand(2**62, 2**62, 3)
    with pytest.raises(RuntimeError, match="invalid for input of size 3"):
        x.view(2**62, -1)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        pygrad.zeros(0, device=device).reshape(2**32, 2**32, 0)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        pygrad.zeros(2**62, 4, device=device)


def test_huge_slice_step_is_a_valid_one_element_view(device):
    x = pygrad.arange(4.0, device=device)
    y = x[::2**62]
    assert y.tolist() == [0.0] and y.stride() == (2**62,)
    assert (y + 1).tolist() == [1.0]


def test_set_validates_the_layout(device):
    a = pygrad.arange(6.0, device=device)
    x = pygrad.zeros(2, device=device).set_(a, 1, (2, 2), (2, 1))
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert x._storage is a._storage
    x[0, 0] = 10.0
    assert a.tolist()[1] == 10.0  # shares the storage
    y = pygrad.zeros(2, device=device).set_(a)
    assert y.shape == (6,) and y._storage is a._storage
    assert pygrad.zeros(2, device=device).set_().shape == (0,)
    with pytest.raises(RuntimeError, match="outside a storage"):
        pygrad.zeros(2, device=device).set_(a, 1, (2, 5), (1, 1))
    with pytest.raises(RuntimeError, match=OVERFLOW):
        pygrad.zeros(2, device=device).set_(a, 0, (5,), (2**62,))
    with pytest.raises(RuntimeError, match="scalar type"):
        pygrad.zeros(2, dtype=pygrad.int64, device=device).set_(a)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        pygrad.zeros(2, device=device, requires_grad=True).set_(a)


def test_set_across_devices_raises():
    if "opencl" not in _devices():
        pytest.skip("no OpenCL device")
    with pytest.raises(RuntimeError, match="same device"):
        pygrad.zeros(2, device="opencl").set_(pygrad.zeros(3))


def _devices():
    from conftest import DEVICES

    return DEVICES


def test_from_storage_is_the_validated_constructor(device):
    a = pygrad.arange(6.0, device=device)
    s = a._storage
    t = pygrad.Tensor._from_storage(s, [2, 3], [3, 1], 0)
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(RuntimeError, match="outside a storage"):
        pygrad.Tensor._from_storage(s, [2, 3], [3, 1], 1)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        pygrad.Tensor._from_storage(s, [5], [2**62], 0)
    with pytest.raises(TypeError):
        pygrad.Tensor._from_storage(s, [2, 3.0], [3, 1], 0)
    with pytest.raises(TypeError):
        pygrad.Tensor._from_storage(s, [2, True], [3, 1], 0)
    with pytest.raises(TypeError):
        pygrad.Tensor._from_storage(object(), [2], [1], 0)


def test_from_storage_rejects_a_storage_larger_than_its_buffer():
    lying = _core.Storage(np.zeros(4, np.float32), pygrad.device("cpu"), pygrad.float32, 1_000_000)
    with pytest.raises(RuntimeError, match="does not match its buffer"):
        pygrad.Tensor._from_storage(lying, [1_000_000], [1], 0)


def test_65_dimensions_error_cleanly_64_work(device):
    x = pygrad.zeros([1] * 64, device=device)
    assert float((x + 1).sum()) == 1.0
    with pytest.raises(RuntimeError, match="at most 64 dimensions"):
        pygrad.zeros([1] * 65, device=device)
    with pytest.raises(RuntimeError, match="at most 64 dimensions"):
        x.unsqueeze(0)
