"""Making tensors: ``tensor``, ``zeros``, ``arange``, ``from_numpy``, the typed constructors, ``.to()``.

Data always enters through NumPy: Python lists become a NumPy array, the dtype is inferred the
PyTorch way (any float -> default float dtype, all bools -> bool, else int64), and the backend
wraps the array as storage.  ``from_numpy`` shares the array's memory; ``tensor`` copies it.
"""
import numpy as np

from . import dtypes as D
from .autograd.function import Function
from .runtime import cpu
from .device import as_device, device as _device_cls
from .ops.dispatch import backend_of
from .ops.movement import _sizes


def _infer_dtype(data):
    """The dtype PyTorch infers for nested Python data (NumPy arrays keep their own dtype)."""
    if isinstance(data, np.ndarray):
        return D.from_numpy_dtype(data.dtype)
    if hasattr(data, "_storage"):
        return data.dtype
    if isinstance(data, (np.generic,)):
        return D.from_numpy_dtype(np.asarray(data).dtype)
    kinds = _kinds(data, set())
    if "f" in kinds:
        return D.get_default_dtype()
    if "i" in kinds or not kinds:
        return D.int64 if kinds else D.get_default_dtype()
    return D.bool_


def _kinds(data, acc):
    if isinstance(data, (bool, np.bool_)):
        acc.add("b")
    elif isinstance(data, (int, np.integer)):
        acc.add("i")
    elif isinstance(data, (float, np.floating)):
        acc.add("f")
    elif hasattr(data, "_storage"):
        acc.add("f" if data.dtype.is_floating_point else "i" if data.dtype is not D.bool_ else "b")
    elif isinstance(data, np.ndarray):
        acc.add("f" if data.dtype.kind == "f" else "b" if data.dtype.kind == "b" else "i")
    elif isinstance(data, (list, tuple)):
        for v in data:
            _kinds(v, acc)
    else:
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    return acc


def _to_numpy(data, dtype):
    """Nested Python data (numbers, lists, tensors, arrays) as a NumPy array of ``dtype``."""
    if hasattr(data, "_storage"):
        return np.array(data._host(), dtype=dtype.np)
    if isinstance(data, (list, tuple)) and any(hasattr(v, "_storage") for v in data):
        data = [np.asarray(v._host()) if hasattr(v, "_storage") else v for v in data]
    try:
        arr = np.array(data)
    except ValueError as e:
        raise ValueError(f"expected a sequence of equal-length sequences (a rectangular array): {e}") from None
    if arr.dtype.kind in "Ouf" and not isinstance(data, np.ndarray) and \
            (arr.dtype.kind != "f" or not dtype.is_floating_point) and _has_big_int(data):
        # a Python int outside int64 (NumPy made uint64 or object of it): PyTorch refuses it for an integer
        # dtype rather than wrapping around, and rounds it for a floating one
        if not dtype.is_floating_point:
            raise ValueError("Overflow when unpacking long long")
        arr = np.array(_ints_as_floats(data), dtype=np.float64)
    if arr.dtype == object:
        raise ValueError("expected sequence of equal length at every dim (got a ragged nested list)")
    if arr.dtype.kind == "f" and dtype.category < 2:
        arr = np.trunc(arr)  # FloatTensor -> LongTensor truncates toward zero
    with np.errstate(all="ignore"):
        return D.np_cast(arr, dtype)


def _has_big_int(data):
    """Whether nested Python data holds an int that int64 cannot hold."""
    if isinstance(data, (list, tuple)):
        return any(_has_big_int(v) for v in data)
    return isinstance(data, int) and not isinstance(data, bool) and not -2**63 <= data < 2**63


def _ints_as_floats(data):
    if isinstance(data, (list, tuple)):
        return [_ints_as_floats(v) for v in data]
    return float(data) if isinstance(data, int) else data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data``, with its dtype inferred as PyTorch does."""
    dtype = D.as_dtype(dtype) if dtype is not None else _infer_dtype(data)
    t = cpu.from_numpy(np.array(_to_numpy(data, dtype), copy=True), dtype)
    return _finish(t, device, requires_grad)


def _finish(t, device, requires_grad):
    dev = as_device(device)
    if dev.type != "cpu":
        t = t.to(dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


as_tensor = tensor


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    if isinstance(obj, np.ndarray) and dtype is None and not copy:
        return _finish(from_numpy(obj), device, requires_grad)
    return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array ``arr`` (changes show through both ways)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    return cpu.from_numpy(arr, D.from_numpy_dtype(arr.dtype))


def _factory(size, dtype, device, requires_grad, fill):
    shape = _sizes(size)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    dev = as_device(device)
    if dev.type != "cpu":  # allocate and fill on the device itself: no host array, no upload
        from .runtime import get_backend

        b = get_backend(dev)
        t = b.empty(shape, dtype)
        if fill is not None and t._storage.size:
            if type(fill) is int and (fill == 0 or fill == 1 and dtype is not D.bfloat16) and hasattr(b, "fill_"):
                b.fill_(t, fill)  # zeros/ones without a kernel (0 as an int: -0.0 has its sign bit set)
            else:
                b.copy_(t, b._operand(fill, dtype))
        return _finish(t, dev, requires_grad)
    t = cpu.empty(shape, dtype)
    if fill is not None and t._storage.size:
        t._storage.data[...] = fill
    return _finish(t, dev, requires_grad)


def _dtype_or_default(dtype):
    return D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()


def empty(*args, size=None, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
          memory_format=None):
    return _factory(args if size is None else size, _dtype_or_default(dtype), device, requires_grad, None)


def zeros(*args, size=None, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    return _factory(args if size is None else size, _dtype_or_default(dtype), device, requires_grad, 0)


def ones(*args, size=None, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    return _factory(args if size is None else size, _dtype_or_default(dtype), device, requires_grad, 1)


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    if dtype is None:
        dtype = _infer_dtype(fill_value.item() if hasattr(fill_value, "_storage") else fill_value)
    v = fill_value.item() if hasattr(fill_value, "_storage") else fill_value
    if _has_big_int(v) and not D.as_dtype(dtype).is_floating_point:
        raise RuntimeError("value cannot be converted to type int64_t without overflow")
    return _factory(size, D.as_dtype(dtype), device, requires_grad, v)


def _like(x, dtype, device):
    return (D.as_dtype(dtype) if dtype is not None else x.dtype), (device if device is not None else x.device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _factory(input._shape, d, dev, requires_grad, 0)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _factory(input._shape, d, dev, requires_grad, 1)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _factory(input._shape, d, dev, requires_grad, None)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _factory(input._shape, d, dev, requires_grad, fill_value)


def new_ones(x, *size, dtype=None, device=None, requires_grad=False):
    d, dev = _like(x, dtype, device)
    return _factory(size, d, dev, requires_grad, 1)


def new_zeros(x, *size, dtype=None, device=None, requires_grad=False):
    d, dev = _like(x, dtype, device)
    return _factory(size, d, dev, requires_grad, 0)


def new_empty(x, *size, dtype=None, device=None, requires_grad=False):
    d, dev = _like(x, dtype, device)
    return _factory(size, d, dev, requires_grad, None)


def new_full(x, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    d, dev = _like(x, dtype, device)
    return _factory(size, d, dev, requires_grad, fill_value)


def new_tensor(x, data, *, dtype=None, device=None, requires_grad=False):
    d, dev = _like(x, dtype, device)
    return tensor(data, dtype=d, device=dev, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``; int64 unless any is a float."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if hasattr(v, "_storage") else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("step must be nonzero")
    if (vals[1] - vals[0]) / vals[2] < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = D.get_default_dtype() if any(isinstance(v, float) for v in vals) else D.int64
    dtype = D.as_dtype(dtype)
    n = int(np.ceil((vals[1] - vals[0]) / vals[2]))
    # computed in float64 / int64 like PyTorch, then cast
    arr = (np.arange(n, dtype=np.float64) * vals[2] + vals[0]) if dtype.is_floating_point else \
        np.arange(vals[0], vals[1], vals[2], dtype=np.int64)
    return _finish(cpu.wrap(arr.astype(dtype.np), dtype), device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    dtype = _dtype_or_default(dtype)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    arr = np.linspace(float(start), float(end), int(steps))
    if not dtype.is_floating_point:
        arr = np.trunc(arr)
    return _finish(cpu.wrap(arr.astype(dtype.np), dtype), device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    return linspace(start, end, steps, dtype=D.float64).mul(np.log(base)).exp().to(
        _dtype_or_default(dtype)).to(device if device is not None else "cpu").requires_grad_(requires_grad)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    dtype = _dtype_or_default(dtype)
    m = n if m is None else m
    for name, v in (("n", n), ("m", m)):
        if v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return _finish(cpu.wrap(np.eye(n, m, dtype=dtype.np), dtype), device, requires_grad)


def legacy_new(args, size, dtype, device):
    """``Tensor(...)`` and ``FloatTensor(...)``: from data (one sequence/array/tensor) or from sizes."""
    if size is not None:
        return _factory(size, dtype, device, False, None)
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        data = args[0]
        if isinstance(data, (_device_cls, str)):
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
        return tensor(data, dtype=dtype, device=device)
    if not args:
        return _factory((0,), dtype, device, False, None)
    return _factory(args, dtype, device, False, 0)


class _TypedMeta(type):
    """``isinstance(t, FloatTensor)`` is True for float32 tensors, as in PyTorch."""

    def __instancecheck__(cls, obj):
        return hasattr(obj, "_storage") and obj.dtype is cls._dtype


def _typed(name, dt):
    def __new__(cls, *args, data=None, size=None, device=None):
        return legacy_new(args if data is None else (data,), size, dt, device)

    return _TypedMeta(name, (), {"__new__": __new__, "_dtype": dt,
                                 "__doc__": f"Legacy constructor for {dt!r} tensors: data or sizes."})


FloatTensor = _typed("FloatTensor", D.float32)
DoubleTensor = _typed("DoubleTensor", D.float64)
HalfTensor = _typed("HalfTensor", D.float16)
ByteTensor = _typed("ByteTensor", D.uint8)
CharTensor = _typed("CharTensor", D.int8)
ShortTensor = _typed("ShortTensor", D.int16)
IntTensor = _typed("IntTensor", D.int32)
LongTensor = _typed("LongTensor", D.int64)
BoolTensor = _typed("BoolTensor", D.bool_)


class ToCopy(Function):
    """A dtype and/or device conversion; the gradient converts back."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, dtype, dev):
        ctx.src_dtype, ctx.src_device = x.dtype, x.device
        if dev == x.device:
            out = backend_of(x).empty(x._shape, dtype)
            if dtype is x.dtype:
                backend_of(x).copy_(out, x)
            else:
                out = backend_of(x).cast(x, dtype)
            return out
        from .runtime import get_backend

        src = x if dtype is x.dtype else ToCopy.forward(ctx, x, dtype, x.device)
        return get_backend(dev).transfer(src, dev)

    @staticmethod
    def backward(ctx, g):
        if not ctx.src_dtype.is_floating_point:
            return None, None, None
        return g.to(ctx.src_dtype).to(ctx.src_device), None, None


def to_impl(x, args, dtype, device, copy):
    """Parse ``.to(dtype)``, ``.to(device)``, ``.to(device, dtype)``, ``.to(tensor)`` and convert."""
    for a in args:
        if isinstance(a, D.dtype):
            dtype = a
        elif hasattr(a, "_storage"):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, _device_cls, int)):
            device = a
        elif isinstance(a, bool):
            pass
        else:
            dtype = D.as_dtype(a)
    dtype = x.dtype if dtype is None else D.as_dtype(dtype)
    dev = x.device if device is None else as_device(device)
    if dev.type == "cuda":
        raise AssertionError("Torch not compiled with CUDA enabled (pygrad runs on CPU and OpenCL devices)")
    if dev.type == "opencl" and dev.index is None and x.device.type == "opencl":
        dev = x.device
    if dtype is x.dtype and dev == x.device and not copy:
        return x
    return ToCopy.apply(x, dtype, dev)
