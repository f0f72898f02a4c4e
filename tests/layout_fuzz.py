"""Layout fuzzing (hypothesis): random sizes/strides/offsets through ``as_strided``, ``view``, ``expand``
and slicing, checked against a NumPy model: every layout either raises a clean error or reads and
writes exactly the elements the model says.

Run as a script (``python tests/layout_fuzz.py cpu|opencl [examples]``) by ``test_layout_fuzz.py``, in
a subprocess, so a crash fails that test instead of killing pytest.
"""
import sys

import numpy as np
from hypothesis import given, settings, strategies as st, HealthCheck

import pygrad

INT64_MAX = 2**63 - 1
DEV = sys.argv[1] if len(sys.argv) > 1 else "cpu"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 150
SETTINGS = settings(max_examples=N, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

small = st.integers(0, 6)
huge = st.sampled_from([2**31, 2**32 + 1, 2**61, 2**62, 2**62 + 1, 2**63 - 1, 2**63, 2**64])
sizes = st.one_of(small, small, small, huge)
strides = st.one_of(st.integers(0, 7), st.integers(0, 7), huge, st.integers(-3, -1))
offsets = st.one_of(st.integers(0, 30), st.integers(-2, -1), huge)


def model_as_strided(n, size, stride, off):
    """'ok' / 'error' / 'either' for as_strided over a storage of n elements (PyTorch's rules, big ints)."""
    if any(s < 0 for s in stride) or off < 0 or off > INT64_MAX:
        return "error"
    if any(s > INT64_MAX for s in list(size) + list(stride)):
        return "error"
    numel = 1
    prefix_overflow = False
    for s in size:
        numel *= s
        prefix_overflow |= abs(numel) > INT64_MAX
    if numel == 0:
        return "either" if prefix_overflow else "ok"
    if prefix_overflow:
        return "error"
    hi = off + sum((s - 1) * t for s, t in zip(size, stride))
    if hi > INT64_MAX or any((s - 1) * t > INT64_MAX for s, t in zip(size, stride)):
        return "error"
    return "ok" if hi < n else "error"


def model_gather(base, size, stride, off):
    """The elements of the layout, read from the 1-D NumPy array ``base`` with Python integers."""
    if 0 in size:
        return np.zeros(size, base.dtype)
    idx = np.zeros(size, dtype=object) + off
    for d, (s, t) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[d] = s
        idx = idx + (np.arange(s, dtype=object) * t).reshape(shape)
    if not size:
        return base[off]
    return base[idx.astype(np.int64)]


def readable(shape):
    """Whether NumPy can hold an array of this shape (it refuses e.g. (0, 2**61): 'array is too big')."""
    prod = 1
    for s in shape:
        prod *= max(s, 1)
    return prod * 8 < 2**62


def storage(n):
    return pygrad.arange(float(n), device=DEV), np.arange(float(n), dtype=np.float32)


@SETTINGS
@given(n=st.integers(0, 24), size=st.lists(sizes, max_size=4), stride_seed=st.lists(strides, min_size=4, max_size=4),
       off=offsets, write=st.booleans())
def fuzz_as_strided(n, size, stride_seed, off, write):
    stride = stride_seed[:len(size)]
    x, base = storage(n)
    want = model_as_strided(n, size, stride, off)
    try:
        v = x.as_strided(size, stride, off)
    except (RuntimeError, ValueError, TypeError) as e:
        assert want != "ok", f"as_strided({size}, {stride}, {off}) on {n} elements refused a valid layout: {e}"
        return
    assert want != "error", f"as_strided({size}, {stride}, {off}) on {n} elements was accepted"
    assert tuple(v.shape) == tuple(size) and v.stride() == tuple(stride) and v.storage_offset() == off
    if v.numel() > 10_000 or not readable(size):
        return  # valid (stride-0 dims) but too many elements to read back here
    expect = model_gather(base, size, stride, off)
    np.testing.assert_array_equal(v.cpu().numpy(), expect)
    if v.numel():
        np.testing.assert_allclose(float(v.sum()), float(np.sum(expect, dtype=np.float64)), rtol=1e-5)
        np.testing.assert_array_equal((v + 1).cpu().numpy(), expect + 1)
        np.testing.assert_array_equal(v.contiguous().cpu().numpy(), expect)
    if write and v.numel():
        try:
            v.fill_(-1.0)
        except RuntimeError as e:
            assert "more than one element" in str(e), e
            return
        touched = np.zeros(n, bool)
        touched[np.asarray(model_gather(np.arange(n), size, stride, off), dtype=np.int64)] = True
        np.testing.assert_array_equal(x.cpu().numpy(), np.where(touched, -1.0, base))


@SETTINGS
@given(shape=st.lists(st.integers(0, 5), max_size=4), perm_seed=st.randoms(use_true_random=False),
       new=st.lists(st.one_of(st.integers(0, 8), st.just(-1), huge), max_size=4))
def fuzz_view_reshape(shape, perm_seed, new):
    n = int(np.prod(shape)) if shape else 1
    x = pygrad.arange(float(n), device=DEV).reshape(shape)
    ref = np.arange(float(n), dtype=np.float32).reshape(shape)
    perm = list(range(len(shape)))
    perm_seed.shuffle(perm)
    x, ref = x.permute(*perm), ref.transpose(perm)
    for op in ("view", "reshape"):
        try:
            y = getattr(x, op)(new)
        except (RuntimeError, ValueError) as e:
            try:
                r = ref.reshape(new)
            except (ValueError, OverflowError):
                continue
            assert op == "view" and not x.is_contiguous(), f"{op}({new}) of {list(x.shape)} refused: {e}"
            continue
        if readable(y.shape):
            np.testing.assert_array_equal(y.cpu().numpy(), ref.reshape(new))
        if op == "view":
            assert y._storage is x._storage


@SETTINGS
@given(shape=st.lists(st.integers(1, 3), max_size=3),
       target=st.lists(st.one_of(st.integers(0, 4), st.just(-1), huge), max_size=5))
def fuzz_expand(shape, target):
    n = int(np.prod(shape)) if shape else 1
    x = pygrad.arange(float(n), device=DEV).reshape(shape)
    ref = np.arange(float(n), dtype=np.float32).reshape(shape)
    try:
        y = x.expand(target)
    except RuntimeError:
        return  # a mismatched size, a -1 in a new dim, or an element count beyond int64
    lead = len(target) - len(shape)
    resolved = [shape[i - lead] if t == -1 else t for i, t in enumerate(target)]
    assert int(np.prod(resolved, dtype=object)) <= 2**63 - 1
    if int(np.prod(resolved, dtype=object)) <= 10_000 and readable(resolved):
        np.testing.assert_array_equal(y.cpu().numpy(), np.broadcast_to(ref, resolved))
        np.testing.assert_array_equal((y + 0).cpu().numpy(), np.broadcast_to(ref, resolved))
    else:  # too many elements to read: its layout must still touch only the 1..n stored ones
        assert all(s == 0 for s, r in zip(y.stride(), resolved) if r > 1 and s == 0) and y._storage is x._storage


bound = st.one_of(st.none(), st.integers(-8, 8), st.sampled_from([-2**63, 2**62, 2**63, -2**70, 2**70]))


@SETTINGS
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
       sl=st.lists(st.tuples(bound, bound, st.one_of(st.none(), st.integers(-2, 4), st.sampled_from([2**62, 2**63 - 1]))),
                   min_size=1, max_size=3))
def fuzz_slicing(shape, sl):
    n = int(np.prod(shape))
    x = pygrad.arange(float(n), device=DEV).reshape(shape)
    ref = np.arange(float(n), dtype=np.float32).reshape(shape)
    index = tuple(slice(*s) for s in sl[:len(shape)])
    if any(s.step is not None and s.step <= 0 for s in index):
        try:
            x[index]
        except ValueError:
            return
        raise AssertionError(f"x[{index}] accepted a step <= 0")
    y = x[index]
    np.testing.assert_array_equal(y.cpu().numpy(), ref[index])
    np.testing.assert_array_equal((y * 2).cpu().numpy(), ref[index] * 2)
    y.fill_(-1.0)
    ref[index] = -1.0
    np.testing.assert_array_equal(x.cpu().numpy(), ref)


if __name__ == "__main__":
    import resource

    # a bug that materialises a huge layout must fail here, not exhaust a shared machine's memory
    cap = 8 * 2**30 if DEV == "cpu" else 32 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    for fn in (fuzz_as_strided, fuzz_view_reshape, fuzz_expand, fuzz_slicing):
        fn()
        print("ok", fn.__name__, DEV, flush=True)
    print("LAYOUT FUZZ OK")
