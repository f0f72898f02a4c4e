"""Reductions, scans, softmax and sorting against NumPy; named tuples; dtype and empty-input rules."""
import numpy as np
import pytest

import pygrad as torch
from helpers import assert_close, assert_equal, layouts, to_np

A = np.array([[[1., -2, 3, 0.5], [4, 5, -6, 2]], [[0, 7, 1, -1], [2, 2, -3, 9]]], np.float32)  # (2, 2, 4)
DIMS = [None, 0, 1, 2, -1, (0, 2), (1, 0), (0, 1, 2)]


def _np_dims(dim):
    return dim if dim is None else (dim if isinstance(dim, tuple) else (dim,))


REDUCTIONS = [
    ("sum", np.sum), ("mean", np.mean), ("prod", np.prod), ("amax", np.max), ("amin", np.min),
    ("std", lambda a, axis, keepdims: np.std(a, axis=axis, keepdims=keepdims, ddof=1)),
    ("var", lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1)),
    ("logsumexp", lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))),
    ("norm", lambda a, axis, keepdims: np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims))),
]


def _supported(name, dim, keepdim):
    """The (dim, keepdim) combinations PyTorch accepts for each reduction."""
    if dim is None:
        return not keepdim and name != "logsumexp"  # sum(keepdim=True) without dim is a TypeError
    if name == "prod":
        return not isinstance(dim, tuple)  # prod takes one int dim
    if name == "norm":
        return not (isinstance(dim, tuple) and len(dim) > 2)  # 3 dims would be a matrix-norm error
    return True


CASES = [(n, f, d, k) for n, f in REDUCTIONS for d in DIMS for k in (False, True) if _supported(n, d, k)]


@pytest.mark.parametrize("name, np_fn, dim, keepdim", CASES, ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CASES])
def test_float_reductions(name, np_fn, dim, keepdim, device):
    for layout, t, a in layouts(A, device):
        kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
        expected = np_fn(a.astype(np.float64), axis=_np_dims(dim), keepdims=keepdim)
        assert_close(getattr(t, name)(**kw), expected, torch.float32, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dim", DIMS, ids=str)
def test_all_any(dim, device):
    for layout, t, a in layouts(A > 1, device):
        kw = {} if dim is None else {"dim": dim}
        assert_equal(t.all(**kw), np.all(a, axis=_np_dims(dim)))
        assert_equal(t.any(**kw, keepdim=True), np.any(a, axis=_np_dims(dim), keepdims=True))
    assert_equal(torch.tensor([1, 0]).all(), np.array(False))
    assert_equal(torch.tensor([1., 2.]).any(), np.array(True))
    assert_equal(torch.tensor([]).all(), np.array(True))
    assert_equal(torch.tensor([]).any(), np.array(False))


def test_sum_of_empty_dim_list_reduces_everything():
    x = torch.tensor([[4, 1, 0], [0, 4, 2]])
    assert_equal(x.sum(dim=()), np.array(11))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.sum((0, 0))
    with pytest.raises(IndexError):
        x.sum(2)
    with pytest.raises(TypeError):
        x.sum("a")


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int8, torch.int32, torch.int64], ids=str)
def test_integer_sum_and_prod_give_int64(dtype):
    a = np.array([[1, 2, 3], [4, 5, 6]]) if dtype is not torch.bool else np.array([[1, 1, 0], [1, 0, 1]])
    t = torch.tensor(a, dtype=dtype)
    assert_equal(t.sum(), np.array(a.sum()), torch.int64)
    assert_equal(t.sum(0), a.sum(0), torch.int64)
    assert_equal(t.prod(1), a.prod(1), torch.int64)
    assert_equal(t.cumsum(1), a.cumsum(1), torch.int64)
    assert_equal(t.sum(dtype=torch.float32), np.array(a.sum(), np.float32))


def test_reduction_dtype_rules():
    assert_equal(torch.tensor([250, 10], dtype=torch.uint8).sum(), np.array(260))  # no uint8 overflow
    assert torch.tensor([1., 2.]).half().sum().dtype is torch.float16
    assert torch.tensor([1., 2.]).half().mean().dtype is torch.float16
    assert torch.tensor([1., 2.]).sum(dtype=torch.float64).dtype is torch.float64
    assert_close(torch.tensor([4, -5, 0]).mean(dtype=torch.float64), np.array(-1 / 3))
    with pytest.raises(RuntimeError, match="mean"):
        torch.tensor([4, -5, 0]).mean()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).std()
    with pytest.raises(RuntimeError):
        torch.tensor([[3, 4]]).norm()


def test_var_std_correction():
    x = torch.tensor([[1., 2, 3, 4], [5, 6, 7, 8]])
    a = to_np(x).astype(np.float64)
    assert_close(x.var(), np.var(a, ddof=1), torch.float32)
    assert_close(x.var(1, correction=0), np.var(a, 1), torch.float32)
    assert_close(x.var(correction=2), np.var(a, ddof=2), torch.float32)
    assert_close(x.std(dim=1, unbiased=False), np.std(a, 1), torch.float32)
    assert_close(x.var(unbiased=False), np.var(a), torch.float32)
    assert_close(x.std(0, correction=0), np.std(a, 0), torch.float32)
    assert_close(torch.var(x, 1, keepdim=True), np.var(a, 1, ddof=1, keepdims=True), torch.float32)
    assert np.isnan(x[:1, :1].var().item())  # one element, correction 1: nan


def test_norm_orders():
    x = torch.tensor([[3., 4], [6, 8]])
    a = to_np(x)
    assert_close(x.norm(), np.array(np.sqrt((a * a).sum()), np.float32))
    assert_close(x.norm(dim=1), np.array([5., 10.], np.float32))
    assert_close(x.norm(p=1), np.array(21., np.float32))
    assert_close(x.norm(1, 0), np.array([9., 12.], np.float32))
    assert_close(x.norm(float("inf")), np.array(8., np.float32))
    assert_close(x.norm(p=3), np.array(np.cbrt((a ** 3).sum()), np.float32))
    assert torch.norm(x, dim=0, keepdim=True).shape == (1, 2)


# -- min / max / argmin / argmax ---------------------------------------------------------------------------
def test_min_max_named_tuples():
    x = torch.tensor([[4, -5, 0], [0, -2, -4]])
    assert_equal(x.min(), np.array(-5))
    assert_equal(x.max(), np.array(4))
    r = x.min(dim=0)
    assert type(r).__name__ == "min"
    assert_equal(r.values, np.array([0, -5, -4]))
    assert_equal(r.indices, np.array([1, 0, 1]))
    assert_equal(r[0], np.array([0, -5, -4]))
    assert_equal(r[1], np.array([1, 0, 1]))
    values, indices = x.min(1)
    assert_equal(values, np.array([-5, -4]))
    assert_equal(indices, np.array([1, 2]))
    assert repr(r) == "torch.return_types.min(\nvalues=tensor([ 0, -5, -4]),\nindices=tensor([1, 0, 1]))"
    assert str(x.min(dim=1)) == "torch.return_types.min(\nvalues=tensor([-5, -4]),\nindices=tensor([1, 2]))"
    k = x.max(1, keepdim=True)
    assert repr(k) == ("torch.return_types.max(\nvalues=tensor([[4],\n        [0]]),\n"
                       "indices=tensor([[0],\n        [0]]))")
    assert_equal(torch.max(x, 1).values, np.array([4, 0]))
    assert_equal(x.max(dim=-1).indices, np.array([0, 0]))
    assert x.max(0).indices.dtype is torch.int64


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_min_max_arg_against_numpy(dim, keepdim, device):
    for layout, t, a in layouts(A, device):
        if layout == "expanded":
            continue  # repeated values: tie order is tested separately
        for name, np_val, np_arg in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
            r = getattr(t, name)(dim, keepdim)
            assert_close(r.values, np_val(a, axis=dim, keepdims=keepdim).astype(np.float32), torch.float32)
            expected_idx = np.expand_dims(np_arg(a, axis=dim), dim) if keepdim else np_arg(a, axis=dim)
            assert_equal(r.indices, expected_idx)
            assert_equal(getattr(t, "arg" + name)(dim, keepdim), expected_idx)
        assert_equal(t.argmax(), np.array(np.argmax(a)))
        assert_equal(t.argmin(keepdim=True), np.argmin(a).reshape(1, 1, 1))


def test_ties_pick_the_first_index():
    x = torch.tensor([[1, 1, 0], [2, 2, 2]])
    assert_equal(x.max(1).indices, np.array([0, 0]))
    assert_equal(x.argmax(1), np.array([0, 0]))
    assert_equal(x.argmin(1), np.array([2, 0]))


def test_elementwise_max_min_of_two_tensors():
    a, b = torch.tensor([1, 5, 3]), torch.tensor([4, 2, 3])
    assert_equal(torch.max(a, b), np.array([4, 5, 3]))
    assert_equal(torch.min(a, b), np.array([1, 2, 3]))
    assert_equal(a.max(b), np.array([4, 5, 3]))


def test_nan_propagates():
    x = torch.tensor([1., float("nan"), 2])
    assert np.isnan(x.sum().item()) and np.isnan(x.max().item()) and np.isnan(x.mean().item())
    assert x.argmax().item() == 1
    assert_equal(x.sort().indices, np.array([0, 2, 1]))  # nan sorts last


# -- empty inputs and 0-d -------------------------------------------------------------------------------------
def test_reductions_of_empty_tensors():
    z = torch.zeros(0, 3)
    assert_equal(z.sum(), np.array(0., np.float32))
    assert_equal(z.sum(0), np.zeros(3, np.float32))
    assert z.sum(1).shape == (0,) and z.prod().item() == 1
    assert np.isnan(z.mean().item()) and np.isnan(to_np(z.mean(0))).all()
    assert z.amax(1).shape == (0,) and not z.any().item() and z.all().item()
    r = z.max(1)
    assert r.values.shape == (0,) and r.indices.dtype is torch.int64
    assert z.argmax(1).shape == (0,)
    assert_close(torch.zeros(0).logsumexp(0), np.array(-np.inf, np.float32))
    assert torch.zeros(0).softmax(0).shape == (0,) and torch.zeros(0).cumsum(0).shape == (0,)
    assert torch.zeros(0).sort().values.shape == (0,) and torch.zeros(0).topk(0).indices.shape == (0,)


@pytest.mark.parametrize("call, error", [
    (lambda z: z.max(), RuntimeError), (lambda z: z.min(), RuntimeError), (lambda z: z.amax(), RuntimeError),
    (lambda z: z.amax(0), IndexError), (lambda z: z.max(0), IndexError), (lambda z: z.argmax(), IndexError),
    (lambda z: z.argmin(0), IndexError),
], ids=["max", "min", "amax", "amax-dim", "max-dim", "argmax", "argmin-dim"])
def test_empty_input_errors(call, error):
    with pytest.raises(error):
        call(torch.zeros(0, 3))


def test_zero_dim_reductions():
    x = torch.tensor(5.)
    for r in (x.sum(), x.sum(0), x.max(), x.mean(0), x.cumsum(0), x.median(), x.amax(-1)):
        assert r.shape == () and r.item() == 5
    assert x.max(0).indices.item() == 0 and x.min(dim=0).values.item() == 5
    assert x.argmax().item() == 0 and x.argmax(0).item() == 0
    assert np.isnan(x.std().item()) and x.softmax(0).item() == 1
    with pytest.raises(IndexError):
        x.sum(1)


# -- scans, softmax ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_cumsum_softmax_log_softmax(dim, device):
    for layout, t, a in layouts(A, device):
        a64 = a.astype(np.float64)
        assert_close(t.cumsum(dim), np.cumsum(a64, dim).astype(np.float32), torch.float32)
        e = np.exp(a64 - a64.max(dim, keepdims=True))
        soft = e / e.sum(dim, keepdims=True)
        assert_close(t.softmax(dim), soft, torch.float32)
        assert_close(torch.softmax(t, dim=dim), soft, torch.float32)
        assert_close(t.log_softmax(dim), np.log(soft), torch.float32, atol=1e-5)
    assert_close(torch.tensor([[1, 2, 3]]).softmax(1, dtype=torch.float64),
                 np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum().reshape(1, 1))


def test_softmax_is_stable_and_int_raises():
    assert_close(torch.tensor([1000., 1000.]).softmax(0), np.array([0.5, 0.5], np.float32))
    assert_close(torch.tensor([-1000., 0.]).log_softmax(0), np.array([-1000., 0.], np.float32))
    with pytest.raises(NotImplementedError):
        torch.tensor([[1, 2, 3]]).softmax(1)
    with pytest.raises(IndexError):
        torch.tensor([1., 2.]).cumsum(1)


# -- sort, argsort, topk, median -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_argsort(dim, descending, device):
    for layout, t, a in layouts(A, device):
        if layout == "expanded":
            continue
        idx = np.argsort(-a if descending else a, axis=dim, kind="stable")
        s = t.sort(dim, descending=descending)
        assert_close(s.values, np.take_along_axis(a, idx, dim).astype(np.float32), torch.float32)
        assert_equal(s.indices, idx)
        assert_equal(t.argsort(dim=dim, descending=descending), idx)


def test_sort_topk_median_examples():
    x = torch.tensor([[3, 1, 2], [1, 3, 3]])
    assert repr(x.sort()) == ("torch.return_types.sort(\nvalues=tensor([[1, 2, 3],\n        [1, 3, 3]]),\n"
                              "indices=tensor([[1, 2, 0],\n        [0, 1, 2]]))")
    assert repr(x.topk(2)) == ("torch.return_types.topk(\nvalues=tensor([[3, 2],\n        [3, 3]]),\n"
                               "indices=tensor([[0, 2],\n        [1, 2]]))")
    assert_equal(x.topk(1, dim=0).values, np.array([[3, 3, 3]]))
    assert_equal(x.topk(2, largest=False).values, np.array([[1, 2], [1, 3]]))
    with pytest.raises(RuntimeError):
        x.topk(4)
    m = torch.tensor([[3, 1, 2, 4], [1, 3, 3, 0]])
    assert_equal(m.median(), np.array(2))  # the lower of the two middle values
    assert repr(m.median(1)) == "torch.return_types.median(\nvalues=tensor([2, 1]),\nindices=tensor([2, 0]))"
    assert m.median(dim=1, keepdim=True).values.shape == (2, 1)
    assert_equal(m.median(0).values, np.array([1, 1, 2, 0]))


def test_count_nonzero_and_function_forms():
    assert_equal(torch.tensor([0, 1, 2]).count_nonzero(), np.array(2))
    assert_equal(torch.tensor([[0, 1], [2, 3]]).count_nonzero(0), np.array([1, 2]))
    assert_equal(torch.sum(torch.tensor([1, 2]), dim=0), np.array(3))
    assert_close(torch.mean(torch.tensor([1., 2]), dim=0), np.array(1.5, np.float32))
    assert_equal(torch.argmax(torch.tensor([1, 3, 2])), np.array(1))
    assert_equal(torch.amax(torch.tensor([[1, 5, 3], [4, 2, 6]]), dim=0), np.array([4, 5, 6]))
    assert_close(torch.logsumexp(torch.tensor([[1., 2, 3], [4, 5, 6]]), 1), np.array([3.4076059, 6.4076059], np.float32))
