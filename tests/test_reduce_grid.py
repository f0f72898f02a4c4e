"""Every reduction x every dtype x every backend against NumPy (issue 11's grid), plus odd sizes.

The grid reduces a (7, 65) tensor over all dims, dim 0 and dim 1, laid out contiguous, transposed and
broadcast (expanded), with values that catch the bugs seen before: fractions and multiples of 256 for
any/all (a cast to uchar before ``!= 0``), each dtype's extreme values for min/max (wrong initial
values), 65504s for float16 mean (accumulate in float32).  ``PYGRAD_KERNEL_SHAPE=gpu`` runs the same
tests through the GPU-shaped (work-group) kernels, as CI does.
"""
import numpy as np
import pytest

import pygrad as torch

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
FLOATS = ("float16", "float32", "float64")
REDUCTIONS = ["sum", "prod", "mean", "amax", "amin", "max", "min", "max_dim", "min_dim", "argmax", "argmin",
              "all", "any", "var", "std", "norm", "logsumexp", "cumsum", "cumprod", "count_nonzero"]


def _data(dtype, shape, seed=0):
    """Values of ``dtype`` with zero rows, extremes and fractions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == "bool":
        a = rng.random(n) < 0.5
    elif dtype in FLOATS:
        a = (rng.random(n) + 0.5) * rng.choice([-1.0, 1.0], n)  # |x| in [0.5, 1.5): products stay finite
        a[::5] = 0.25 * rng.choice([-1, 1], a[::5].size)
        a = a.astype(dtype)
    else:
        info = np.iinfo(dtype)
        a = rng.integers(max(info.min, -5), 6, n).astype(dtype)
        a[::11] = info.max
        a[3::13] = info.min
        if info.bits >= 16:
            a[5::17] = 256 * (rng.integers(1, 4, a[5::17].size))
    a = a.reshape(shape)
    if a.ndim == 2 and shape[0] > 2 and shape[1] > 0:
        a[1] = 0  # a row of zeros: all() false, any() false
        a[2] = 0
        a[2, -1] = 0.5 if dtype in FLOATS else (256 if dtype in ("int16", "int32", "int64") else 1)
    return a


def _golden(name, a, axis, dtype):
    """NumPy's answer with PyTorch's dtype rules, or the exception type PyTorch raises."""
    ints = dtype not in FLOATS
    wide = np.float32 if dtype == "float16" else a.dtype  # half accumulates in float
    if name in ("mean", "var", "std", "norm") and ints:
        return RuntimeError
    if name in ("argmax", "argmin") and dtype == "bool":
        return RuntimeError
    if name == "sum":
        return np.sum(a, axis=axis, dtype=np.int64 if ints else wide).astype(np.int64 if ints else a.dtype)
    if name == "prod":
        return np.prod(a, axis=axis, dtype=np.int64 if ints else wide).astype(np.int64 if ints else a.dtype)
    if name == "count_nonzero":
        return np.count_nonzero(a, axis=axis).astype(np.int64)
    if name == "mean":
        return np.mean(a, axis=axis, dtype=np.float64).astype(a.dtype)
    if name in ("amax", "max", "max_dim"):
        return np.max(a, axis=axis)
    if name in ("amin", "min", "min_dim"):
        return np.min(a, axis=axis)
    if name in ("argmax", "argmin"):
        return getattr(np, name)(a if axis is not None else a.reshape(-1), axis=axis).astype(np.int64)
    if name in ("all", "any"):
        r = getattr(np, name)(a != 0, axis=axis)
        return r.astype(np.uint8) if dtype == "uint8" else r
    if name in ("var", "std"):
        r = getattr(np, name)(a.astype(np.float64), axis=axis, ddof=1)
        return r.astype(a.dtype)
    if name == "norm":
        return np.sqrt(np.sum(a.astype(np.float64) ** 2, axis=axis)).astype(a.dtype)
    if name == "logsumexp":
        out = a.dtype if not ints else np.float32
        a64 = a.astype(np.float64)
        m = np.max(a64, axis=axis, keepdims=True) if a.size else np.zeros((1,) * a.ndim)
        m = np.where(np.isfinite(m), m, 0)
        r = np.log(np.sum(np.exp(a64 - m), axis=axis, keepdims=True)) + m
        return (r.reshape(()) if axis is None else np.squeeze(r, axis)).astype(out)
    if name in ("cumsum", "cumprod"):
        fn = getattr(np, name)
        ax = 0 if axis is None else axis
        return fn(a.astype(np.int64 if ints else np.float64), axis=ax).astype(np.int64 if ints else a.dtype)
    raise AssertionError(name)


def _run(name, t, axis):
    """The pygrad call for reduction ``name`` over ``axis`` (None: all dims)."""
    if name in ("max", "min"):
        return getattr(t, name)() if axis is None else getattr(t, name)(axis).values
    if name in ("max_dim", "min_dim"):
        r = getattr(t, name[:3])(0 if axis is None else axis)
        return r
    if name in ("cumsum", "cumprod"):
        return getattr(t, name)(0 if axis is None else axis)
    if name == "logsumexp":
        return t.logsumexp(tuple(range(t.dim())) if axis is None else axis)
    if name == "count_nonzero":
        return torch.count_nonzero(t, axis)
    if name == "norm":
        return t.norm(dim=axis)
    return getattr(t, name)() if axis is None else getattr(t, name)(axis)


def _tol(dtype, name):
    if dtype == "float16":
        return 2e-3 if name not in ("var", "std", "prod", "cumprod") else 1e-2
    return {"float32": 2e-5, "float64": 1e-12}.get(dtype, 0)


def _check(name, dtype, t, a, axis):
    want = _golden(name, a, axis, dtype)
    if want is RuntimeError:
        with pytest.raises(RuntimeError):
            _run(name, t, axis)
        return
    got = _run(name, t, axis)
    if name in ("max_dim", "min_dim"):
        ax = 0 if axis is None else axis
        idx = (np.argmax if name == "max_dim" else np.argmin)(a, axis=ax)
        assert np.array_equal(got.indices.cpu().numpy(), idx), (name, dtype, axis)
        got, want = got.values, np.take_along_axis(a, np.expand_dims(idx, ax), ax).squeeze(ax)
    g = got.cpu().numpy()
    assert g.dtype == want.dtype, (name, dtype, axis, g.dtype, want.dtype)
    assert g.shape == want.shape, (name, dtype, axis, g.shape, want.shape)
    tol = _tol(g.dtype.name, name)
    if g.dtype.kind == "f":
        w = want.astype(np.float64)
        scale = max(1.0, float(np.abs(w[np.isfinite(w)]).max())) if np.isfinite(w).any() else 1.0
        np.testing.assert_allclose(g.astype(np.float64), w, rtol=tol, atol=tol * scale,  # sums cancel
                                   err_msg=f"{name} {dtype} axis={axis}")
    else:
        assert np.array_equal(g, want), (name, dtype, axis, g, want)


def _layouts(a, device, dtype):
    """(pygrad tensor, the NumPy array it holds): contiguous, transposed view, broadcast view."""
    t = torch.tensor(a, dtype=getattr(torch, dtype), device=device)
    yield t, a
    tt = torch.tensor(np.ascontiguousarray(a.T), dtype=getattr(torch, dtype), device=device).t()
    yield tt, a
    row = a[:1]
    yield torch.tensor(row, dtype=getattr(torch, dtype), device=device).expand(*a.shape), np.broadcast_to(row, a.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_grid(name, dtype, device):
    a = _data(dtype, (7, 65))
    for t, arr in _layouts(a, device, dtype):
        for axis in (None, 0, 1):
            _check(name, dtype, t, arr, axis)


SIZES = [0, 1, 7, 63, 65, 127, 1000, 4097]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_reduction_sizes(n, dtype, device):
    """Odd sizes along the reduced dim and the kept dim, both orders (row and column reductions)."""
    for shape in ((n,), (3, n), (n, 5)):
        a = _data(dtype, shape, seed=n)
        t = torch.tensor(a, dtype=getattr(torch, dtype), device=device)
        for axis in (None,) + tuple(range(len(shape))):
            for name in ("sum", "amax", "any", "all", "argmin", "cumsum", "logsumexp", "std"):
                if a.size == 0 and name in ("amax", "argmin") and (axis is None or a.shape[axis] == 0):
                    continue  # no value for no elements: errors, tested in test_reduce.py
                if name in ("logsumexp", "std") and dtype == "bool":
                    continue
                _check(name, dtype, t, a, axis)


@pytest.mark.parametrize("n", [8192 * 3 + 5, 200003])
def test_two_pass_full_reductions(n, device):
    """Few outputs, many elements each: the two-pass path (partials, then a second launch)."""
    a = _data("float32", (n,), seed=1)
    t = torch.tensor(a, device=device)
    for name in ("sum", "amax", "amin", "argmax", "any", "all", "norm", "mean"):
        _check(name, "float32", t, a, None)
    a2 = _data("float64", (2, n // 2), seed=2)
    t2 = torch.tensor(a2, device=device)
    for name in ("sum", "amax", "argmin", "std", "logsumexp"):
        _check(name, "float64", t2, a2, 1)
    _check("cumsum", "float32", t, a, None)  # a long scan: many tiles of the work-group scan
    b = _data("int64", (n,), seed=3)
    for name in ("sum", "prod", "amax", "amin", "cumsum"):
        _check(name, "int64", torch.tensor(b, device=device), b, None)


def test_reduction_bug_repros(device):
    """The repros of issue 11, each with PyTorch's answer."""
    assert torch.tensor([0.5, 0.25], device=device).any().item() is True
    assert torch.tensor([256, 512], device=device).any().item() is True
    assert torch.tensor([256, 512], device=device).all().item() is True
    assert torch.tensor([5, 3, 9], dtype=torch.int8, device=device).min().item() == 3
    assert torch.tensor([-8, -9], dtype=torch.int16, device=device).max().item() == -8
    assert torch.tensor([-8, -9], dtype=torch.int8, device=device).max().item() == -8
    assert torch.tensor([200, 100], dtype=torch.uint8, device=device).min().item() == 100
    h = torch.full((4,), 65504.0, dtype=torch.float16, device=device)
    assert h.mean().item() == 65504.0 and h.mean().dtype == torch.float16
    assert h.mean(0).item() == 65504.0
    assert h.sum().item() == float("inf")  # the sum itself overflows half, as in PyTorch
    s = torch.tensor([1e30, -1e30], device=device)
    assert abs(s.std().item() / 1.4142135e30 - 1) < 1e-6
    assert s.var().item() == float("inf")  # 2e60 is past float32, as in PyTorch
    u = torch.tensor([[1, 0], [0, 0]], dtype=torch.uint8, device=device)
    assert u.any().dtype == torch.uint8 and u.any().item() == 1
    assert u.all(1).dtype == torch.uint8 and u.all(1).tolist() == [0, 0]
    assert u.any(0).tolist() == [1, 0]
    assert torch.zeros(0, dtype=torch.uint8, device=device).any().dtype == torch.uint8
    b = torch.tensor([True, False], device=device)
    for fn in ("argmax", "argmin"):
        with pytest.raises(RuntimeError, match=fn + r"\(\): does not support bool input"):
            getattr(b, fn)()
    assert b.max(0).indices.item() == 0 and b.min(0).indices.item() == 1  # max(dim) of bool is allowed
    c = torch.tensor(2.0, device=device, requires_grad=True)
    p = c.cumprod(0)
    assert p.shape == () and p.item() == 2.0
    p.backward()
    assert c.grad.item() == 1.0
    assert torch.tensor(3, device=device).cumprod(0).shape == ()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_column_reductions(dtype, device):
    """Reduced dim slower than the kept one (x.sum(0)): blocks of 512 outputs with a ragged edge, rows in
    steps of 4 with a remainder, strided kept dims, an outer kept dim, few wide columns of many rows
    (the chunked two-pass path), NaN and inf in the columns."""
    a = _data(dtype, (1027, 1031), seed=5)
    if dtype in FLOATS:
        a[700, 3] = np.nan
        a[5, 600] = np.inf
        a[9, 601] = -np.inf
    names = ("sum", "amax", "amin", "any", "all") + (("mean", "prod") if dtype in FLOATS else ())
    t = torch.tensor(a, dtype=getattr(torch, dtype), device=device)
    cases = [(t, a, 0), (t[:, ::2], a[:, ::2], 0), (t[3:1000, 1:], a[3:1000, 1:], 0)]
    b = _data(dtype, (3, 517, 600), seed=6)
    cases.append((torch.tensor(b, dtype=getattr(torch, dtype), device=device), b, 1))
    c = _data(dtype, (20000, 3), seed=7)
    cases.append((torch.tensor(c, dtype=getattr(torch, dtype), device=device), c, 0))
    for tt, arr, axis in cases:
        for name in names:
            if name == "prod" and arr.shape[axis] > 600:
                continue  # |x| up to 1.5: the product overflows either way
            _check(name, dtype, tt, arr, axis)


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8"])
def test_column_arg_reductions(dtype, device):
    """argmax / argmin / max(dim) / min(dim) over a dim slower than the kept ones (x.argmax(0)): many ties
    (few distinct values: the first index must win, also across the GPU shape's row chunks), NaN in a
    column (the first NaN wins), an outer kept dim, a strided input, tall narrow and wide inputs."""
    rng = np.random.default_rng(9)
    a = rng.integers(0, 4, (20000, 3)).astype(dtype)  # each column's extreme appears many times
    b = rng.integers(0, 9, (3, 1031, 5)).astype(dtype)
    c = rng.integers(0, 50, (300, 700)).astype(dtype)
    if dtype == "float32":
        a[15000, 1] = a[17000, 1] = np.nan
        c[250, 3] = np.nan
    cases = [(a, 0), (b, 1), (c, 0), (c[::3, 1::2], 0)]
    for arr, axis in cases:
        t = torch.tensor(np.ascontiguousarray(arr), device=device)
        if arr is cases[3][0]:
            t = torch.tensor(c, device=device)[::3, 1::2]
        for name in ("argmax", "argmin", "max_dim", "min_dim"):
            _check(name, dtype, t, arr, axis)


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_reductions_around_a_kept_dim(dtype, device):
    """Reduced dims on both sides of a kept one (batch norm's (N, C, H, W) over (0, 2, 3)): long inner runs
    (the GPU shape walks them run by run, in chunks that start mid-run) and short ones."""
    for shape, dims in (((5, 3, 1000), (0, 2)), ((2, 4, 37, 29), (0, 2, 3)), ((6, 2, 3, 5), (0, 2, 3))):
        a = _data(dtype, shape, seed=len(shape))
        t = torch.tensor(a, dtype=getattr(torch, dtype), device=device)
        for name, fn in (("sum", np.sum), ("amax", np.max), ("amin", np.min)) + ((("mean", np.mean),)
                                                                                if dtype == "float32" else ()):
            got = getattr(t, name)(dims).cpu().numpy()
            want = fn(a.astype(np.float64), axis=dims)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3, err_msg=f"{name} {shape} {dims}")
