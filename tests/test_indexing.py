"""Indexing: every form of ``x[...]`` and ``x[...] = v`` against NumPy, gather/scatter, errors.

PyTorch applies integer indices *before* advanced (array) indices, so ``x[0, :, [1, 2]]`` is
``x[0][:, [1, 2]]``; NumPy would treat the 0 as one more array.  And a ``...`` that stands for no
dimension does not separate two index arrays in PyTorch (it does in NumPy).  ``np_index`` below
encodes PyTorch's rules (checked against PyTorch 2.13 on thousands of random cases), and the
property tests compare pygrad against it.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import pygrad as torch
from helpers import assert_equal, layouts, to_np

X = np.arange(40).reshape(4, 10)
A3 = np.arange(24).reshape(2, 3, 4)


def np_index(a, idx):
    """NumPy view/copy of ``a[idx]`` with PyTorch's semantics: ints first, then everything else."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    first = tuple(it if isinstance(it, int) or it is Ellipsis else slice(None) for it in idx if it is not None)
    if Ellipsis not in first:
        first += (Ellipsis,)  # keeps a 0-d *view* when every dim is taken by an int
    rest = tuple((np.asarray(it) if it else np.zeros(0, np.int64)) if isinstance(it, list) else it
                 for it in idx if not isinstance(it, int))
    view = a[first]
    if sum(it is not None and it is not Ellipsis for it in rest) == view.ndim:
        rest = tuple(it for it in rest if it is not Ellipsis)  # an empty ... does not separate arrays
    return view, rest


def reference_get(a, idx):
    view, rest = np_index(a, idx)
    return view[rest]


def reference_set(a, idx, value):
    view, rest = np_index(a, idx)
    view[rest] = value


# -- reading -------------------------------------------------------------------------------------------
BASIC = [
    (3,), (-1,), (slice(None), 2), (-1, -2), (slice(3, 8, 2),), (slice(None), slice(3, 8, 2)),
    (slice(None), slice(-4, -1)), (slice(1, 20, 2), slice(3, 8)), (slice(1, None, 2),), (slice(10, None),),
    (slice(3, 1),), (slice(-100, 2),), (slice(2, 100),), (None,), (slice(None), None, 2), (Ellipsis, None),
    (Ellipsis, 1), (1, Ellipsis), (None, Ellipsis, None), (), (Ellipsis,), (slice(None, None, 3), -3),
]


@pytest.mark.parametrize("idx", BASIC, ids=repr)
def test_basic_indexing_is_a_view(idx, device):
    for name, t, a in layouts(X, device):
        r = t[idx]
        assert_equal(r, reference_get(a, idx))
        assert r._storage is t._storage


ADVANCED = [
    (slice(None), [3, 1, 0, 0]), ([0, 2], [1, 3]), ([[0], [2]], [1, 3]), ([0, 0, 3],), ([],),
    ([1, -1],), ([[0, 1], [2, 2]],), (slice(1, None), [0, 2]), ([0, 2], slice(None, None, 3)),
    (Ellipsis, [1, 1]), ([-4],), ([True, False, True, False],), (None, [0, 1]),
]


@pytest.mark.parametrize("idx", ADVANCED, ids=repr)
def test_advanced_indexing_copies(idx, device):
    for name, t, a in layouts(X, device):
        r = t[idx]
        assert_equal(r, reference_get(a, idx))
        assert r._storage is not t._storage


@pytest.mark.parametrize("idx, shape", [
    ((slice(None), [0, 2], [1, 3]), (2, 2)),  # adjacent arrays: result dims replace them in place
    (([0, 1], slice(None), [1, 3]), (2, 3)),  # separated by a slice: broadcast dims go first
    (([0, 1], slice(1, None), [1, 3]), (2, 2)),
    ((0, slice(None), [1, 3]), (3, 2)),  # int applied first (PyTorch, unlike NumPy's (2, 3))
    ((slice(None), 0, [1, 3]), (2, 2)),
    (([1], Ellipsis, [2]), (1, 3)),
    ((None, [1], 0), (1, 1, 4)),
    ((0, None, [1, 2]), (1, 2, 4)),
    ((0, [0, 1], slice(None), None), (2, 4, 1)),
    (([0, 1], [0, 1], [0, 1]), (2,)),
    ((slice(None), None, [0, 1], [1, 2]), (2, 1, 2)),
    (([[0], [1]], slice(None), [0, 3]), (2, 2, 3)),
])
def test_advanced_index_placement(idx, shape):
    t = torch.tensor(A3)
    assert t[idx].shape == shape
    assert_equal(t[idx], reference_get(A3, idx))


def test_index_with_tensors_and_numpy():
    t = torch.tensor(X)
    assert_equal(t[torch.tensor([0, 0, 3])], X[[0, 0, 3]])
    assert_equal(t[torch.tensor([1, 2], dtype=torch.int32)], X[[1, 2]])
    assert_equal(t[torch.tensor([[0, 1], [2, 2]]), 1:3], X[[[0, 1], [2, 2]], 1:3])
    assert_equal(t[torch.tensor(1)], X[1])  # 0-d integer tensor acts like an int (a view)
    assert t[torch.tensor(1)]._storage is t._storage
    assert_equal(t[torch.tensor(1), torch.tensor(2)], X[1, 2])
    assert_equal(t[np.array([0, 2])], X[[0, 2]])
    assert_equal(t[np.int64(1)], X[1])
    assert_equal(t[torch.tensor([], dtype=torch.int64)], X[np.zeros(0, np.int64)])


def test_bool_mask_indexing():
    x = torch.tensor([[-1, -4, 5, 0], [1, 2, 7, -5], [-4, 2, 1, 7]])
    a = to_np(x).copy()
    assert_equal(x[x <= 0], np.array([-1, -4, 0, -5, -4]))
    assert_equal(x[x[:, 0] > 0], a[a[:, 0] > 0])
    assert_equal(x[torch.tensor([True, False, True])], a[[True, False, True]])
    assert_equal(x[:, torch.tensor([True, False, True, False])], a[:, [True, False, True, False]])
    assert_equal(x[x > 100], np.array([], np.int64))
    assert_equal(x.t()[x.t() % 2 == 0], a.T[a.T % 2 == 0])
    assert_equal(x[True], a[None])
    assert x[False].shape == (0, 3, 4)
    assert_equal(x.masked_select(x > 5), a[a > 5])
    assert_equal(x.masked_select(torch.tensor([True, False, False, True])), a[:, [True, False, False, True]].ravel())


def test_zero_dim_and_zero_size_indexing():
    s = torch.tensor(7)
    assert s[None].shape == (1,) and s[...].shape == () and s[()].item() == 7 and s[True].shape == (1,)
    z = torch.zeros(0, 3)
    assert z[:, 1].shape == (0,)
    assert z[z > 0].shape == (0,)
    assert z[[]].shape == (0, 3)
    assert z[:, [0, 2]].shape == (0, 2)
    assert torch.zeros(2, 3)[[], []].shape == (0,)
    assert torch.arange(5)[[]].dtype is torch.int64


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("idx", [5, -6, (0, 10), [1, 5], (slice(None), [-11])], ids=repr)
def test_out_of_range_index_raises_index_error(idx):
    with pytest.raises(IndexError, match="out of bounds"):
        torch.arange(50).reshape(5, 10)[idx] if not isinstance(idx, int) else torch.arange(5)[idx]


def test_index_errors():
    x = torch.arange(12).reshape(3, 4)
    with pytest.raises(IndexError):
        x[torch.tensor([True, False])]  # mask shape does not match
    with pytest.raises(IndexError):
        x[torch.tensor([[True, False, True]] * 3)]
    with pytest.raises(IndexError):
        x[1.0]
    with pytest.raises(IndexError):
        x[torch.tensor([1.0])]
    with pytest.raises(TypeError):
        x[1:2.5]
    with pytest.raises(IndexError, match="too many indices"):
        x[1, 2, 3]
    with pytest.raises(IndexError):
        x[[0, 1], [0, 1, 2]]  # index arrays do not broadcast
    with pytest.raises(IndexError):
        torch.tensor(7)[0]
    with pytest.raises(ValueError):
        x[::-1]  # negative steps are not supported (as in PyTorch)
    with pytest.raises(ValueError):
        x[::0]


# -- assignment -------------------------------------------------------------------------------------------
def test_setitem_examples_from_course_notes():
    x = torch.randint(0, 10, [4, 5])
    expected = to_np(x).copy()
    x[:, 2::2] = torch.zeros(4, 2)
    expected[:, 2::2] = 0
    assert_equal(x, expected)

    x = torch.tensor([[-1, -4, 5, 0], [1, 2, 7, -5], [-4, 2, 1, 7]])
    x[x <= 0] = 0
    assert_equal(x, np.array([[0, 0, 5, 0], [1, 2, 7, 0], [0, 2, 1, 7]]))

    t = torch.ones(4, 4)
    t[:, 1] = 0
    assert_equal(t, np.array([[1, 0, 1, 1]] * 4, np.float32))

    x = torch.arange(12).reshape(3, 4)
    x[1, 3] = 100
    assert x[1, 3].item() == 100 and x.sum().item() == 66 - 7 + 100


@pytest.mark.parametrize("idx, value", [
    ((slice(None), slice(2, None, 2)), np.zeros((3, 1))),
    ((1,), np.array([1, 2, 3, 4])),
    ((1,), 2.7),  # cast to the tensor's int dtype: 2
    ((Ellipsis,), 5),
    ((None, 1), 5),
    (([0, 2],), np.array([-1, -2, -3, -4])),
    (([0, 2], [1, 1]), np.array([50, 60])),
    ((slice(None), [0, 3]), np.array([[1, 2]])),
    (([[0], [2]], [1, 3]), np.array([[7, 8], [9, 10]])),
    ((slice(1, 2), [1, 2]), np.array([[-1, -2]])),
    ((np.array([[True, False, True, False]] * 3),), np.array([1, 2, 3, 4, 5, 6])),
    ((np.array([[True, False, True, False]] * 3),), np.array([9])),
    ((np.array([True, False, True]), slice(None, 2)), np.array([3, 4])),
])
def test_setitem_forms(idx, value):
    for name, t, a in layouts(np.arange(12).reshape(3, 4)):
        if name == "expanded":  # overlapping elements: not writable
            continue
        a = a.copy()
        tidx = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in idx)
        t[tidx] = torch.tensor(value) if isinstance(value, np.ndarray) else value
        reference_set(a, idx, np.trunc(value).astype(np.int64) if np.ndim(value) else int(value))
        assert_equal(t, a)


def test_setitem_value_dtype_and_broadcast_errors():
    x = torch.zeros(3, 4)
    x[1] = torch.tensor([1, 2, 3, 4])  # int values into a float tensor
    assert_equal(x[1], np.array([1, 2, 3, 4], np.float32))
    x[1] = torch.tensor(2, dtype=torch.float64)
    assert_equal(x[1], np.full(4, 2, np.float32))
    x[x == 0] = torch.arange(8.)
    assert_equal(x[0], np.arange(4, dtype=np.float32))
    with pytest.raises(RuntimeError):
        x[1] = torch.tensor([1, 2, 3])
    with pytest.raises(RuntimeError):
        x[x > 100] = torch.arange(3.)  # 0 elements selected, 3 values
    y = torch.arange(6).reshape(2, 3)
    y[y > 100] = 5  # nothing selected: no change
    assert_equal(y, np.arange(6).reshape(2, 3))


def test_index_put_accumulate():
    x = torch.zeros(5)
    x.index_put_((torch.tensor([0, 0, 2]),), torch.tensor([1., 2., 3.]), accumulate=True)
    assert_equal(x, np.array([3, 0, 3, 0, 0], np.float32))
    x.index_put_((torch.tensor([0, 0, 2]),), torch.tensor(1.), accumulate=True)
    assert_equal(x, np.array([5, 0, 4, 0, 0], np.float32))
    i = torch.zeros(5, dtype=torch.int32)
    i.index_put_((torch.tensor([4, 4, 4]),), torch.tensor(2, dtype=torch.int32), accumulate=True)
    assert_equal(i, np.array([0, 0, 0, 0, 6], np.int32))
    m = torch.zeros(2, 3)
    m.index_put_((torch.tensor([0, 0, 1]), torch.tensor([1, 1, 2])), torch.tensor([1., 2., 3.]), accumulate=True)
    assert_equal(m, np.array([[0, 3, 0], [0, 0, 3]], np.float32))
    h = torch.zeros(3, dtype=torch.float16)
    h.index_put_((torch.tensor([1, 1]),), torch.tensor([0.5, 0.25], dtype=torch.float16), accumulate=True)
    assert_equal(h, np.array([0, 0.75, 0], np.float16))
    y = torch.zeros(2, 3)
    r = y.index_put((torch.tensor([0, 0]),), torch.tensor(1.), accumulate=True)
    assert_equal(r, np.array([[2, 2, 2], [0, 0, 0]], np.float32))
    assert_equal(y, np.zeros((2, 3), np.float32))  # out of place


# -- gather / scatter / index_select / nonzero ----------------------------------------------------------------
def test_gather():
    x = torch.arange(12).reshape(3, 4)
    a = to_np(x)
    idx = np.array([[0, 0], [1, 0], [3, 3]])
    assert_equal(x.gather(1, torch.tensor(idx)), np.take_along_axis(a, idx, 1))
    idx0 = np.array([[0, 1, 2, 0]])
    assert_equal(torch.gather(x, 0, torch.tensor(idx0)), np.take_along_axis(a, idx0, 0))
    assert_equal(x.t().gather(0, torch.tensor(idx.T)), np.take_along_axis(a.T, idx.T, 0))
    with pytest.raises(RuntimeError):
        x.gather(1, torch.tensor([[4]]))
    with pytest.raises(RuntimeError):
        x.gather(1, torch.tensor([0, 1]))  # index must have as many dims as x


def test_scatter_and_scatter_add():
    idx = torch.tensor([[0, 1], [2, 3], [4, 0]])
    assert_equal(torch.zeros(3, 5).scatter(1, idx, torch.ones(3, 2)),
                 np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [1, 0, 0, 0, 1]], np.float32))
    assert_equal(torch.zeros(3, 5).scatter(0, torch.tensor([[0, 1, 2]]), 7.0),
                 np.array([[7, 0, 0, 0, 0], [0, 7, 0, 0, 0], [0, 0, 7, 0, 0]], np.float32))
    assert_equal(torch.zeros(3, 5).scatter_add(1, torch.tensor([[0, 0], [2, 2], [4, 0]]), torch.ones(3, 2)),
                 np.array([[2, 0, 0, 0, 0], [0, 0, 2, 0, 0], [1, 0, 0, 0, 1]], np.float32))
    assert_equal(torch.zeros(3, 5).scatter_add(0, torch.tensor([[0, 0, 0]]), torch.arange(6.).reshape(2, 3)),
                 np.array([[0, 1, 2, 0, 0], [0] * 5, [0] * 5], np.float32))
    base = torch.zeros(2, 2)
    base.scatter(0, torch.tensor([[1, 1]]), 1.0)
    assert_equal(base, np.zeros((2, 2), np.float32))  # scatter is out of place


def test_index_select():
    x = torch.arange(12).reshape(3, 4)
    a = to_np(x)
    assert_equal(x.index_select(1, torch.tensor([3, 0, 0])), a[:, [3, 0, 0]])
    assert_equal(torch.index_select(x, 0, torch.tensor([2])), a[[2]])
    assert_equal(x.t().index_select(0, torch.tensor([1, 3])), a.T[[1, 3]])
    with pytest.raises(RuntimeError):
        x.index_select(1, torch.tensor([4]))
    with pytest.raises(IndexError):
        x.index_select(0, torch.tensor([[0]]))


def test_nonzero():
    x = torch.tensor([[0, 1], [2, 0]])
    assert_equal(x.nonzero(), np.array([[0, 1], [1, 0]]))
    rows, cols = torch.nonzero(x, as_tuple=True)
    assert_equal(rows, np.array([0, 1]))
    assert_equal(cols, np.array([1, 0]))
    assert_equal(torch.where(x > 0)[1], np.array([1, 0]))
    assert torch.tensor(0).nonzero().shape == (0, 0)
    assert torch.tensor(3).nonzero().shape == (1, 0)
    assert torch.zeros(0).nonzero().shape == (0, 1)
    assert_equal(torch.tensor([1., 0, 2]).nonzero(), np.array([[0], [2]]))


# -- property tests against NumPy ------------------------------------------------------------------------------
@st.composite
def index_cases(draw, unique=False):
    """A random shape and an index tuple of ints, slices, None, one Ellipsis and integer arrays.

    With ``unique`` no element is picked twice (so assignment has one defined result).
    """
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))
    nd = len(shape)
    n_taken = draw(st.integers(0, nd))
    ell = draw(st.one_of(st.none(), st.integers(0, n_taken)))
    sizes = list(shape[:n_taken]) if ell is None else list(shape[:ell]) + list(shape[nd - (n_taken - ell):])
    length = draw(st.integers(1, 3))
    items = []
    for size in sizes:
        kinds = ["slice"] + (["int", "array"] if size else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            items.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-7, 7))
            items.append(slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(1, 3)))))
        else:
            n = length if (not unique or length <= size) else 1
            if unique:
                vals = draw(st.permutations(range(size)))[:n]
            else:
                vals = draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n))
            items.append([v - size if draw(st.booleans()) else v for v in vals])  # some negative
    if ell is not None:
        items.insert(ell, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return shape, tuple(items)


def _as_pygrad_index(idx, as_tensors):
    """Index arrays as int64 tensors, or left as Python lists."""
    return tuple(torch.tensor(i, dtype=torch.int64) if as_tensors and isinstance(i, list) else i for i in idx)


# the device fixture only picks a backend: nothing in it needs resetting between examples
_fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@_fixture_ok
@given(index_cases(), st.booleans(), st.integers(0, 3))
def test_getitem_matches_numpy(device, case, as_tensors, layout):
    shape, idx = case
    a = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    options = layouts(a, device)
    name, t, values = options[min(layout, len(options) - 1)]
    expected = reference_get(values, idx)
    assert_equal(t[_as_pygrad_index(idx, as_tensors)], expected)


@_fixture_ok
@given(index_cases(unique=True), st.booleans(), st.integers(0, 2), st.sampled_from(["full", "scalar", "row"]))
def test_setitem_matches_numpy(device, case, as_tensors, layout, value_kind):
    shape, idx = case
    a = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    options = [o for o in layouts(a, device) if o[0] != "expanded"]  # expanded elements overlap: not writable
    name, t, values = options[min(layout, len(options) - 1)]
    values = values.copy()
    target_shape = reference_get(values, idx).shape
    if value_kind == "scalar":
        v = -7
    elif value_kind == "row" and target_shape:
        v = -np.arange(1, target_shape[-1] + 1)  # broadcast along the leading dims
    else:
        v = -np.arange(1, int(np.prod(target_shape)) + 1).reshape(target_shape)
    t[_as_pygrad_index(idx, as_tensors)] = torch.tensor(v, device=device) if isinstance(v, np.ndarray) else v
    reference_set(values, idx, v)
    assert_equal(t, values)


@pytest.mark.parametrize("bad", [-1, 4])
def test_gather_and_scatter_reject_indices_outside_0_to_size(device, bad):
    """Unlike x[i], gather/scatter take no negative index (PyTorch's rule); the message names the value."""
    x = torch.arange(8.0, device=device).reshape(2, 4)
    idx = torch.tensor([[bad], [0]], device=device)
    msg = f"index {bad} is out of bounds for dimension 1 with size 4"
    # on a device the kernel records the bad value and the next sync (.tolist()) raises it
    with pytest.raises(RuntimeError, match=msg):
        x.gather(1, idx).tolist()
    with pytest.raises(RuntimeError, match=msg):
        torch.zeros(2, 4, device=device).scatter_add(1, idx, torch.ones(2, 1, device=device)).tolist()


def test_gather_index_on_another_device_is_an_error(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    with pytest.raises(RuntimeError, match="same device"):
        torch.ones(2, 2, device=device).gather(1, torch.tensor([[0], [1]]))


@pytest.mark.parametrize("idx_dtype", [torch.int64, torch.int32])
def test_one_index_tensor_among_full_slices(device, idx_dtype):
    """x[idx], x[:, idx] and their writes: on a device these take the on-device offsets path."""
    a = np.arange(60.0).reshape(3, 4, 5)
    i = np.array([[3, -1], [0, 0]])
    x = torch.tensor(a, device=device)
    idx = torch.tensor(i, dtype=idx_dtype, device=device)
    assert_equal(x[idx[1] - 1], a[i[1] - 1])                           # negatives count from the end
    assert_equal(x[:, idx], a[:, i])
    assert_equal(x.transpose(0, 2)[:, idx], a.transpose(2, 1, 0)[:, i])   # strided x
    assert_equal(x[:, idx.t()], a[:, i.T])                              # strided index
    assert_equal(x[:, idx[:0]], a[:, i[:0]])                            # no elements
    w = x.clone()
    w[:, idx] = -1.0                                                    # broadcast value
    b = a.copy()
    b[:, i] = -1.0
    assert_equal(w, b)
    acc = torch.zeros(4, device=device).index_put_((idx.reshape(-1),), torch.ones(4, device=device), accumulate=True)
    assert_equal(acc, np.bincount(i.reshape(-1) % 4, minlength=4).astype(np.float32))
    g = torch.tensor(a, device=device, requires_grad=True)
    (g[:, idx] * 2).sum().backward()
    expect = np.zeros_like(a)
    np.add.at(expect, (slice(None), i), 2.0)
    assert_equal(g.grad, expect)
