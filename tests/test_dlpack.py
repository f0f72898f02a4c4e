"""DLPack: zero-copy with NumPy both ways (shared memory, strides, 0-d, bool, every dtype), capsules,
OpenCL tensors (a clear error, or a host copy where the consumer allows one), and PyTorch where installed."""
import numpy as np
import pytest

import pygrad
from pygrad.utils import dlpack

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("name", DTYPES)
def test_numpy_from_pygrad_shares_memory(name):
    t = pygrad.arange(12).reshape(3, 4).to(getattr(pygrad, "bool" if name == "bool" else name))
    a = np.from_dlpack(t)
    assert a.dtype == t.dtype.np and a.shape == (3, 4) and a.tolist() == t.tolist()
    assert np.shares_memory(a, t.numpy())
    if name != "bool":
        a[1, 2] = 9
        assert t[1, 2].item() == 9  # the write is seen by pygrad: one storage


def test_pygrad_from_numpy_shares_memory_strides_and_0d():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    view = base[1:, ::2]
    t = pygrad.from_dlpack(view)
    assert t.shape == (3, 3) and t.stride() == (6, 2) and t.tolist() == view.tolist()
    t[0, 1] = -1.0
    assert base[1, 2] == -1.0  # pygrad's write is seen by NumPy
    base[3, 4] = 100.0
    assert t[2, 2].item() == 100.0
    z = pygrad.from_dlpack(np.array(2.5))
    assert z.dim() == 0 and z.item() == 2.5
    b = pygrad.from_dlpack(np.array([True, False, True]))
    assert b.dtype == pygrad.bool and b.tolist() == [True, False, True]
    e = pygrad.from_dlpack(np.zeros((0, 3), dtype=np.int64))
    assert e.shape == (0, 3) and e.dtype == pygrad.int64


def test_pygrad_strided_and_0d_export():
    x = pygrad.arange(20.0).reshape(4, 5)
    a = np.from_dlpack(x.t()[1:, ::2])
    assert a.strides == (4, 40) and a.tolist() == x.t()[1:, ::2].tolist()
    a[0, 0] = -3.0
    assert x[0, 1].item() == -3.0
    s = np.from_dlpack(x[2, 3])
    assert s.shape == () and s.item() == 13.0
    assert x.__dlpack_device__() == (1, 0)


def test_capsules_and_utils_functions():
    x = pygrad.tensor([1, 2, 3], dtype=pygrad.int32)
    capsule = dlpack.to_dlpack(x)
    assert type(capsule).__name__ == "PyCapsule"
    y = dlpack.from_dlpack(capsule)
    y[0] = 10
    assert x.tolist() == [10, 2, 3]
    z = pygrad.from_dlpack(x)  # pygrad to pygrad through the protocol
    z[1] = 20
    assert x.tolist() == [10, 20, 3] and z.dtype == pygrad.int32


def test_requires_grad_and_bad_inputs():
    w = pygrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="require gradient, use tensor.detach"):
        np.from_dlpack(w)
    assert np.from_dlpack(w.detach()).tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="__dlpack__"):
        pygrad.from_dlpack([1, 2])


def test_opencl_tensor(device):
    if device != "opencl":
        pytest.skip("needs an OpenCL device")
    x = pygrad.arange(6.0, device="opencl").reshape(2, 3)
    assert x.__dlpack_device__()[0] == 4  # kDLOpenCL
    with pytest.raises(BufferError, match="call .cpu\\(\\) first"):
        x.__dlpack__()
    with pytest.raises(BufferError):
        x.__dlpack__(copy=False)
    a = np.from_dlpack(x, copy=True)
    assert a.tolist() == x.tolist()  # a host copy, which numpy was allowed to make
    assert np.from_dlpack(x, device="cpu").tolist() == x.tolist()


def test_with_torch_where_installed():
    torch = pytest.importorskip("torch")
    x = pygrad.arange(12.0).reshape(3, 4)[:, 1:]
    t = torch.from_dlpack(x)
    assert t.stride() == (4, 1) and t.tolist() == x.tolist()
    t[0, 0] = 50.0
    assert x[0, 0].item() == 50.0
    src = torch.arange(10, dtype=torch.int16)[::3]
    p = pygrad.from_dlpack(src)
    p[1] = -7
    assert src.tolist() == [0, -7, 6, 9] and p.stride() == (3,)
    q = pygrad.from_dlpack(torch.utils.dlpack.to_dlpack(torch.tensor([True, False])))
    assert q.dtype == pygrad.bool and q.tolist() == [True, False]
