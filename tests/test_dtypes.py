"""dtypes: inference, aliases, typed constructors, conversions and PyTorch's promotion rules.

Expected dtypes were taken from PyTorch 2.13 (``torch.promote_types`` and the ops themselves).
"""
import pickle

import numpy as np
import pytest

import pygrad as torch
from helpers import DTYPES, assert_close, assert_equal

B, U8, I8, I16, I32, I64 = torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64
F16, F32, F64 = torch.float16, torch.float32, torch.float64


def name(d):
    """``"float32"`` for ``torch.float32``."""
    return str(d).replace("torch.", "")


# -- inference ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make, dtype", [
    (lambda d: torch.tensor([2, 3], device=d), I64),
    (lambda d: torch.tensor([2, 3.], device=d), F32),
    (lambda d: torch.tensor(2, device=d), I64),
    (lambda d: torch.tensor(2.5, device=d), F32),
    (lambda d: torch.tensor([True, False], device=d), B),
    (lambda d: torch.tensor([True, 1], device=d), I64),
    (lambda d: torch.tensor([[1, 2], [3, 4.5]], device=d), F32),
    (lambda d: torch.tensor([], device=d), F32),
    (lambda d: torch.Tensor([2, 3]), F32),
    (lambda d: torch.tensor(np.ones(3), device=d), F64),
    (lambda d: torch.tensor(np.arange(3, dtype=np.int32), device=d), I32),
    (lambda d: torch.from_numpy(np.ones(3)), F64),
    (lambda d: torch.from_numpy(np.ones(3, dtype=np.float16)), F16),
    (lambda d: torch.from_numpy(np.array([True])), B),
    (lambda d: torch.tensor(np.float32(2.5), device=d), F32),
], ids=["int-list", "float-in-list", "int-scalar", "float-scalar", "bools", "bool-and-int", "nested",
        "empty", "Tensor", "np-float64", "np-int32", "from_numpy-f64", "from_numpy-f16", "from_numpy-bool",
        "np-scalar"])
def test_dtype_inference(make, dtype, device):
    assert make(device).dtype is dtype


def test_tensor_values_and_explicit_dtype(device):
    assert_equal(torch.tensor([[1, 2], [3, 4]], device=device), np.array([[1, 2], [3, 4]]))
    assert_equal(torch.tensor([2, 3], dtype=torch.float64, device=device), np.array([2., 3.]))
    assert_equal(torch.tensor([1.7, -1.7], dtype=torch.int32, device=device), np.array([1, -1], np.int32))


def test_default_dtype_float64(default_float64):
    assert torch.get_default_dtype() is F64
    assert torch.tensor([1.5]).dtype is F64
    assert torch.ones(2).dtype is F64
    assert (torch.tensor([1]) / 2).dtype is F64
    assert (torch.tensor([1]) + 0.5).dtype is F64


def test_set_default_dtype_rejects_integers():
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int32)


# -- aliases and dtype objects -------------------------------------------------------------------
def test_aliases():
    assert torch.float is F32 and torch.double is F64 and torch.half is F16
    assert torch.long is I64 and torch.int is I32 and torch.short is I16
    assert torch.get_default_dtype() is F32


def test_python_types_as_dtype():
    assert torch.ones(2, dtype=float).dtype is F64
    assert torch.ones(2, dtype=int).dtype is I64
    assert torch.ones(2, dtype=bool).dtype is B


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dtype_object(dtype):
    assert repr(dtype) == str(dtype) == f"torch.{name(dtype)}"
    assert pickle.loads(pickle.dumps(dtype)) is dtype
    assert dtype.is_floating_point == (dtype in (F16, F32, F64))
    assert dtype.itemsize == np.dtype(name(dtype)).itemsize
    assert torch.empty(2, dtype=dtype).element_size() == dtype.itemsize


def test_signedness():
    assert I8.is_signed and F32.is_signed
    assert not U8.is_signed and not B.is_signed


# -- typed constructors ----------------------------------------------------------------------------
@pytest.mark.parametrize("ctor, dtype", [
    (torch.FloatTensor, F32), (torch.DoubleTensor, F64), (torch.HalfTensor, F16), (torch.ByteTensor, U8),
    (torch.CharTensor, I8), (torch.ShortTensor, I16), (torch.IntTensor, I32), (torch.LongTensor, I64),
    (torch.BoolTensor, B)], ids=lambda v: getattr(v, "__name__", str(v)))
def test_typed_constructors(ctor, dtype):
    t = ctor([2, 3])
    assert t.dtype is dtype
    assert isinstance(t, ctor)
    assert_equal(t, np.array([2, 3]).astype(name(dtype)))
    assert ctor(2, 3).shape == (2, 3)  # sizes, not data
    assert ctor(size=(4,)).shape == (4,)


def test_typed_constructors_truncate_floats():
    assert_equal(torch.IntTensor([[1.1, 2, 3.7], [4, 5, 6]]), np.array([[1, 2, 3], [4, 5, 6]], np.int32))
    assert_equal(torch.LongTensor([-1.7, 2.9]), np.array([-1, 2]))
    assert_equal(torch.BoolTensor([0, 2]), np.array([False, True]))
    assert_close(torch.FloatTensor([[1.1, 2, 3.7]]), np.array([[1.1, 2, 3.7]], np.float32))


def test_legacy_tensor_constructor():
    assert_close(torch.Tensor(data=[[1.1, 1.2], [2.2, 2.3]]), np.array([[1.1, 1.2], [2.2, 2.3]], np.float32))
    assert torch.Tensor(size=(2, 3)).shape == (2, 3)
    assert torch.Tensor(2, 3).dtype is F32
    assert torch.IntTensor(data=[1.5]).dtype is I32
    assert not isinstance(torch.tensor([1.]), torch.LongTensor)


# -- conversions -----------------------------------------------------------------------------------
CONVERSIONS = [("float", F32), ("double", F64), ("half", F16), ("int", I32), ("long", I64),
               ("short", I16), ("char", I8), ("byte", U8), ("bool", B)]


@pytest.mark.parametrize("method, dtype", CONVERSIONS)
def test_conversion_methods(method, dtype, device):
    src = np.array([0, 1, 2, 7])
    t = getattr(torch.tensor(src, device=device), method)()
    assert_equal(t, src.astype(name(dtype)))


def test_float_to_int_truncates_toward_zero():
    assert_equal(torch.tensor([1.7, -2.7, -0.5]).int(), np.array([1, -2, 0], np.int32))
    assert_equal(torch.tensor([1.7, -2.7, -0.5]).long(), np.array([1, -2, 0]))
    assert_equal(torch.tensor([1.5, 0.0, -3.0]).bool(), np.array([True, False, True]))
    assert_equal(torch.tensor([True, False]).float(), np.array([1., 0.], np.float32))


def test_conversion_to_same_dtype_returns_self():
    t = torch.tensor([1, 2])
    assert t.long() is t
    assert t.to(torch.int64) is t
    assert t.to(torch.int64, copy=True) is not t


def test_conversion_copies():
    t = torch.tensor([1, 2])
    f = t.float()
    f[0] = 10
    assert t[0].item() == 1


def test_to():
    t = torch.tensor([1, 2])
    assert_equal(t.to(torch.float64), np.array([1., 2.]))
    assert_equal(t.to("cpu", torch.double), np.array([1., 2.]))
    assert_equal(t.to(dtype=torch.float16), np.array([1., 2.], np.float16))
    assert_equal(torch.tensor([1.5]).to(torch.tensor([1], dtype=torch.int8)), np.array([1], np.int8))
    assert t.to("cpu") is t


def test_type():
    a = torch.tensor([1, 2], dtype=torch.int32)
    assert_equal(a.type(torch.float), np.array([1., 2.], np.float32))
    assert_equal(a.double(), np.array([1., 2.]))
    assert a.type(torch.FloatTensor).dtype is F32
    assert a.type("torch.DoubleTensor").dtype is F64
    assert torch.tensor([[1., 2.]], dtype=torch.float16).type(dtype=torch.int64).dtype is I64


@pytest.mark.parametrize("dtype, name", [
    (F32, "torch.FloatTensor"), (F64, "torch.DoubleTensor"), (F16, "torch.HalfTensor"),
    (U8, "torch.ByteTensor"), (I8, "torch.CharTensor"), (I16, "torch.ShortTensor"),
    (I32, "torch.IntTensor"), (I64, "torch.LongTensor"), (B, "torch.BoolTensor")])
def test_type_string(dtype, name):
    assert torch.zeros(2, dtype=dtype).type() == name


# -- promotion ---------------------------------------------------------------------------------------
# torch.promote_types(row, column) for the dtypes in DTYPES order, from PyTorch 2.13.
ORDER = [B, U8, I8, I16, I32, I64, F16, F32, F64]
PROMOTE = [
    [B, U8, I8, I16, I32, I64, F16, F32, F64],
    [U8, U8, I16, I16, I32, I64, F16, F32, F64],
    [I8, I16, I8, I16, I32, I64, F16, F32, F64],
    [I16, I16, I16, I16, I32, I64, F16, F32, F64],
    [I32, I32, I32, I32, I32, I64, F16, F32, F64],
    [I64, I64, I64, I64, I64, I64, F16, F32, F64],
    [F16, F16, F16, F16, F16, F16, F16, F32, F64],
    [F32, F32, F32, F32, F32, F32, F32, F32, F64],
    [F64, F64, F64, F64, F64, F64, F64, F64, F64],
]
PAIRS = [(a, b, PROMOTE[i][j]) for i, a in enumerate(ORDER) for j, b in enumerate(ORDER)]


@pytest.mark.parametrize("a, b, expected", PAIRS, ids=[f"{name(a)}+{name(b)}" for a, b, _ in PAIRS])
def test_promotion_table(a, b, expected, device):
    assert torch.promote_types(a, b) is expected
    x = torch.ones(2, dtype=a, device=device)
    y = torch.ones(2, dtype=b, device=device)
    assert (x + y).dtype is expected
    assert (x * y).dtype is expected
    assert torch.result_type(x, y) is expected


def test_promotion_values():
    assert_close(torch.tensor([1, 2]) + torch.tensor([0.5], dtype=torch.float16), np.array([1.5, 2.5], np.float16))
    assert_equal(torch.tensor([1, 2], dtype=torch.uint8) + torch.tensor([1], dtype=torch.int8),
                 np.array([2, 3], np.int16))
    assert_equal(torch.tensor([True, False]) + torch.tensor([True, True]), np.array([True, True]))


# (dtype of a 1-d tensor, [+True, +1, +0.5, /itself, +tensor(1), +tensor(1.5, f64), +tensor(True),
#  +tensor(1, int8)]) from PyTorch 2.13
SCALAR_RULES = [
    (B, [B, I64, F32, F32, I64, F64, B, I8]),
    (U8, [U8, U8, F32, F32, U8, F64, U8, U8]),
    (I8, [I8, I8, F32, F32, I8, F64, I8, I8]),
    (I16, [I16, I16, F32, F32, I16, F64, I16, I16]),
    (I32, [I32, I32, F32, F32, I32, F64, I32, I32]),
    (I64, [I64, I64, F32, F32, I64, F64, I64, I64]),
    (F16, [F16] * 8),
    (F32, [F32] * 8),
    (F64, [F64] * 8),
]


@pytest.mark.parametrize("dtype, expected", SCALAR_RULES, ids=lambda v: str(v) if not isinstance(v, list) else "")
def test_scalar_and_zero_dim_promotion(dtype, expected, device):
    t = torch.ones(2, dtype=dtype, device=device)
    got = [(t + True).dtype, (t + 1).dtype, (t + 0.5).dtype, (t / t).dtype,
           (t + torch.tensor(1, device=device)).dtype,
           (t + torch.tensor(1.5, dtype=torch.float64, device=device)).dtype,
           (t + torch.tensor(True, device=device)).dtype,
           (t + torch.tensor(1, dtype=torch.int8, device=device)).dtype]
    assert got == expected


def test_scalar_promotion_values():
    assert_equal(torch.ones(2, dtype=torch.uint8) + 1000, np.array([233, 233], np.uint8))  # wraps, stays uint8
    assert_equal(torch.tensor([True, False]) + 1, np.array([2, 1]))
    assert_close(torch.tensor([1, 2], dtype=torch.int32) + 0.5, np.array([1.5, 2.5], np.float32))
    assert_equal(torch.tensor([100], dtype=torch.int8) * 2, np.array([-56], np.int8))
    assert_equal(torch.tensor([3], dtype=torch.uint8) - 5, np.array([254], np.uint8))
    assert_close(1.5 * torch.tensor([2], dtype=torch.int16), np.array([3.], np.float32))


def test_zero_dim_tensors_promote_among_themselves():
    assert (torch.tensor(1, dtype=torch.int8) + torch.tensor(1, dtype=torch.int16)).dtype is I16
    assert (torch.tensor(1, dtype=torch.int8) + 1.5).dtype is F32
    assert (torch.tensor(1, dtype=torch.int8) + 1000).dtype is I8
    assert (torch.tensor(2.0) * torch.tensor(3, dtype=torch.float64)).dtype is F64


def test_integer_true_division_is_float():
    assert_close(torch.tensor([1, 2]) / 2, np.array([0.5, 1.0], np.float32))
    assert_close(torch.tensor(1) / torch.tensor(2), np.array(0.5, np.float32))
    assert_close(torch.tensor([3], dtype=torch.int32) / torch.tensor([2], dtype=torch.int32), np.array([1.5], np.float32))
    assert_close(torch.tensor([3], dtype=torch.float64) / torch.tensor([2]), np.array([1.5]))
    assert_close(torch.tensor([True, False]) / 2, np.array([0.5, 0.0], np.float32))
    assert (torch.tensor([1, 2]) // 2).dtype is I64


def test_result_type_and_can_cast():
    assert torch.result_type(torch.tensor([1]), 1.0) is F32
    assert torch.result_type(torch.tensor([1], dtype=torch.uint8), 1000) is U8
    assert torch.promote_types(torch.int64, torch.float16) is F16
    assert torch.can_cast(torch.int32, torch.float32)
    assert not torch.can_cast(torch.float32, torch.int32)
