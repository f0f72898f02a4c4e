"""Factories: zeros/ones/full/arange/linspace/eye/random/..._like/new_*, NumPy interop, seeds."""
import numpy as np
import pytest

import pygrad as torch
from helpers import DTYPES, NP, assert_close, assert_equal, to_np


# -- sizes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [torch.zeros, torch.ones, torch.empty, torch.rand, torch.randn])
def test_sizes_as_ints_list_tuple_keyword(factory, device):
    for t in (factory(2, 3, device=device), factory([2, 3], device=device), factory((2, 3), device=device),
              factory(size=(2, 3), device=device), factory(size=[2, 3], device=device),
              factory(torch.Size([2, 3]), device=device)):
        assert t.shape == (2, 3) and t.dtype is torch.float32 and t.device.type == device


@pytest.mark.parametrize("factory", [torch.zeros, torch.ones, torch.empty])
def test_zero_size_and_zero_dim(factory):
    assert factory(0).shape == (0,)
    assert factory(2, 0, 3).shape == (2, 0, 3) and factory(2, 0, 3).numel() == 0
    assert factory(()).shape == () and factory(()).numel() == 1
    assert factory([]).shape == ()


def test_negative_size_raises():
    with pytest.raises(RuntimeError, match="negative"):
        torch.zeros(2, -1)


def test_bad_size_type_raises():
    with pytest.raises(TypeError):
        torch.zeros(2.5)
    with pytest.raises(TypeError):
        torch.ones("a", 3)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_zeros_ones_every_dtype(dtype, device):
    assert_equal(torch.zeros(2, 3, dtype=dtype, device=device), np.zeros((2, 3), NP[dtype]))
    assert_equal(torch.ones(4, dtype=dtype, device=device), np.ones(4, NP[dtype]))
    assert torch.empty(3, dtype=dtype, device=device).dtype is dtype


def test_full_infers_dtype_from_fill_value(device):
    assert_equal(torch.full((2, 2), 3, device=device), np.full((2, 2), 3))
    assert_equal(torch.full((2,), 3.5, device=device), np.full(2, 3.5, np.float32))
    assert_equal(torch.full((2,), True, device=device), np.array([True, True]))
    assert_equal(torch.full((2,), 7, dtype=torch.float16, device=device), np.full(2, 7, np.float16))
    assert_equal(torch.full(size=(2, 3, 4), fill_value=10, device=device), np.full((2, 3, 4), 10))
    assert_equal(torch.full((2,), torch.tensor(3)), np.array([3, 3]))


# -- ranges -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    ((12,), np.arange(12)),
    ((1, 4), np.arange(1, 4)),
    ((0, 10, 2), np.arange(0, 10, 2)),
    ((5, 0, -2), np.arange(5, 0, -2)),
    ((10, 0, -3), np.arange(10, 0, -3)),
    ((2, 2), np.arange(2, 2)),
    ((5.0,), np.arange(5, dtype=np.float32)),
    ((0, 1, 0.25), np.arange(0, 1, 0.25, dtype=np.float32)),
    ((-1.0, 1.0, 0.5), np.arange(-1, 1, 0.5, dtype=np.float32)),
    ((0.5, 3), np.arange(0.5, 3, dtype=np.float32)),
    ((0, 5, 1.5), np.arange(0, 5, 1.5, dtype=np.float32)),
])
def test_arange(args, expected, device):
    assert_close(torch.arange(*args, device=device), expected)


def test_arange_keywords_dtype_and_length():
    assert_equal(torch.arange(start=0, end=10, step=2), np.arange(0, 10, 2))
    assert_equal(torch.arange(3, dtype=torch.uint8), np.arange(3, dtype=np.uint8))
    assert_close(torch.arange(10, dtype=torch.float64), np.arange(10.0))
    assert torch.arange(0, 1, 0.1).shape == (10,)
    assert torch.arange(torch.tensor(3)).shape == (3,)


@pytest.mark.parametrize("args", [(0, 10, 0), (0, -10, 1), (1, 10, -1)])
def test_arange_errors(args):
    with pytest.raises(RuntimeError):
        torch.arange(*args)


def test_linspace(device):
    assert_close(torch.linspace(0, 9, 9, device=device), np.linspace(0, 9, 9, dtype=np.float32))
    assert_close(torch.linspace(start=0, end=1, steps=5), np.array([0, .25, .5, .75, 1], np.float32))
    assert_close(torch.linspace(-1, 1, 1), np.array([-1.], np.float32))
    assert torch.linspace(0, 1, 0).shape == (0,)
    assert_equal(torch.linspace(0, 10, 5, dtype=torch.int64), np.array([0, 2, 5, 7, 10]))
    with pytest.raises(RuntimeError):
        torch.linspace(0, 1, -1)


def test_eye(device):
    assert_equal(torch.eye(3, device=device), np.eye(3, dtype=np.float32))
    assert_equal(torch.eye(2, 3), np.eye(2, 3, dtype=np.float32))
    assert_equal(torch.eye(2, dtype=torch.int32), np.eye(2, dtype=np.int32))
    assert torch.eye(0).shape == (0, 0)
    with pytest.raises(RuntimeError):
        torch.eye(-1)


# -- random -------------------------------------------------------------------------------------------
def test_rand_randn_distribution(device):
    torch.manual_seed(0)
    u = to_np(torch.rand(20000, device=device))
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.02
    n = to_np(torch.randn(20000, device=device))
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    assert torch.rand(2, dtype=torch.float64).dtype is torch.float64


def test_rand_integer_dtype_raises():
    with pytest.raises(NotImplementedError, match="Long"):
        torch.rand(2, dtype=torch.int64)


def test_randint_forms(device):
    torch.manual_seed(1)
    a = torch.randint(3, 10, (2000,), device=device)
    assert a.dtype is torch.int64 and a.shape == (2000,)
    assert set(to_np(a).tolist()) == set(range(3, 10))
    b = torch.randint(5, (2, 3), device=device)  # randint(high, size)
    assert b.shape == (2, 3) and to_np(b).min() >= 0 and to_np(b).max() < 5
    c = torch.randint(low=0, high=10, size=[3, 4])
    assert c.shape == (3, 4) and to_np(c).max() < 10
    assert torch.randint(0, 5, (2,), dtype=torch.int32).dtype is torch.int32
    assert torch.randint(-6, 8, [3, 4]).min().item() >= -6


def test_randint_errors():
    with pytest.raises(RuntimeError):
        torch.randint(5, 5, (2,))
    with pytest.raises(TypeError):
        torch.randint(5)


def test_normal_and_randperm():
    torch.manual_seed(2)
    assert torch.normal(0., 1., size=(2, 3)).shape == (2, 3)
    assert torch.normal(torch.zeros(3), 1.).shape == (3,)
    assert torch.normal(torch.zeros(3), torch.ones(2, 1)).shape == (2, 3)
    big = to_np(torch.normal(5.0, 2.0, size=(20000,)))
    assert abs(big.mean() - 5) < 0.1 and abs(big.std() - 2) < 0.1
    p = torch.randperm(50)
    assert p.dtype is torch.int64
    assert sorted(to_np(p).tolist()) == list(range(50))
    assert torch.randperm(0).shape == (0,)


def test_manual_seed_reproducibility():
    torch.manual_seed(66)
    first = [to_np(torch.rand(3)), to_np(torch.randn(3)), to_np(torch.randint(0, 100, (5,))), to_np(torch.randperm(6))]
    torch.manual_seed(66)
    second = [to_np(torch.rand(3)), to_np(torch.randn(3)), to_np(torch.randint(0, 100, (5,))), to_np(torch.randperm(6))]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    torch.manual_seed(67)
    assert not np.array_equal(to_np(torch.rand(3)), first[0])


def test_initial_seed():
    g = torch.manual_seed(66)
    assert torch.initial_seed() == 66
    assert g.initial_seed() == 66
    torch.manual_seed(3)
    assert torch.initial_seed() == 3


def test_generator_object_is_independent():
    g = torch.Generator().manual_seed(5)
    a = torch.rand(4, generator=g)
    g.manual_seed(5)
    torch.rand(10)  # the default generator does not disturb g
    np.testing.assert_array_equal(to_np(a), to_np(torch.rand(4, generator=g)))


# -- *_like and new_* ---------------------------------------------------------------------------------
def test_like_factories(device):
    x = torch.tensor([[1, 2], [3, 4]], device=device)
    assert_equal(torch.zeros_like(x), np.zeros((2, 2), np.int64))
    assert_equal(torch.ones_like(x), np.ones((2, 2), np.int64))
    assert_equal(torch.ones_like(x, dtype=torch.float), np.ones((2, 2), np.float32))
    assert_equal(torch.full_like(x, 100), np.full((2, 2), 100))
    assert_equal(torch.full_like(x, 2.7), np.full((2, 2), 2))  # keeps x's int dtype
    e = torch.empty_like(x)
    assert e.shape == (2, 2) and e.dtype is torch.int64 and e.device == x.device
    assert torch.rand_like(x, dtype=torch.float).dtype is torch.float32
    assert torch.randn_like(torch.zeros(2, 3, dtype=torch.float64)).dtype is torch.float64
    r = torch.randint_like(torch.zeros(2, 3), 5)
    assert r.dtype is torch.float32 and r.shape == (2, 3) and to_np(r).max() < 5
    with pytest.raises(NotImplementedError):
        torch.rand_like(x)  # x is int64


def test_like_on_non_contiguous():
    x = torch.arange(6).reshape(2, 3).t()
    assert_equal(torch.zeros_like(x), np.zeros((3, 2), np.int64))
    assert torch.ones_like(x).shape == (3, 2)


def test_new_factories(device):
    x = torch.tensor([1, 2], dtype=torch.int8, device=device)
    assert_equal(x.new_ones(2, 3), np.ones((2, 3), np.int8))
    assert_equal(x.new_ones((2, 3)), np.ones((2, 3), np.int8))
    assert_equal(x.new_zeros([2]), np.zeros(2, np.int8))
    assert_equal(x.new_ones(5, 3, dtype=torch.float), np.ones((5, 3), np.float32))
    assert_equal(x.new_full((2,), 3.7), np.array([3, 3], np.int8))
    assert_equal(x.new_tensor([1.5, 2]), np.array([1, 2], np.int8))
    assert_equal(torch.tensor([1.]).new_tensor([1, 2]), np.array([1., 2.], np.float32))
    assert x.new_empty(3).dtype is torch.int8 and x.new_empty((3,)).shape == (3,)
    assert x.new_zeros(2).device == x.device


# -- NumPy interop --------------------------------------------------------------------------------------
def test_from_numpy_shares_memory_both_ways():
    n1 = np.array([[1, 2, 3], [4, 5, 6]])
    t1 = torch.from_numpy(n1)
    assert t1.dtype is torch.int64
    t1[0][0] = 8888
    assert n1[0, 0] == 8888
    n1[1, 2] = -1
    assert t1[1, 2].item() == -1
    t1.add_(1)
    assert n1.tolist() == [[8889, 3, 4], [5, 6, 0]]


def test_from_numpy_keeps_dtype_and_strides():
    assert_equal(torch.from_numpy(np.array([1, 2], np.int32)), np.array([1, 2], np.int32))
    a = np.arange(6.0).reshape(2, 3)
    t = torch.from_numpy(a.T)
    assert t.stride() == (1, 3)
    assert_equal(t, a.T)
    s = torch.from_numpy(a[:, ::2])
    assert s.stride() == (3, 2)
    assert_equal(s, a[:, ::2])
    assert torch.from_numpy(np.zeros((0, 3))).shape == (0, 3)
    assert torch.from_numpy(np.array(5.0)).shape == ()


def test_from_numpy_errors():
    with pytest.raises(TypeError):
        torch.from_numpy([1, 2])
    with pytest.raises(TypeError):
        torch.from_numpy(np.array([1, "a"], dtype=object))


def test_tensor_copies_numpy():
    n = np.array([1., 2.])
    t = torch.tensor(n)
    n[0] = 5
    assert t[0].item() == 1.0


def test_numpy_shares_memory():
    t = torch.tensor([[1, 2, 3], [4, 5, 6]])
    n = t.numpy()
    assert n.dtype == np.int64
    n[0][0] = 100
    assert t[0, 0].item() == 100
    t[1, 1] = -5
    assert n[1, 1] == -5
    c = t.numpy().copy()
    c[0, 1] = 7
    assert t[0, 1].item() == 2


def test_numpy_of_view_and_array_protocol():
    t = torch.arange(6).reshape(2, 3)
    v = t.t().numpy()
    assert v.shape == (3, 2)
    v[0, 1] = 42
    assert t[1, 0].item() == 42
    np.testing.assert_array_equal(np.asarray(t.t()), to_np(t).T)
    a = np.array(torch.tensor([1.5]), dtype=np.float64)
    assert a.dtype == np.float64 and a[0] == 1.5
    assert torch.tensor([1., 2]).numpy().dtype == np.float32


def test_numpy_requires_grad_error():
    t = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_tensor_from_nested_data():
    assert_equal(torch.tensor([torch.tensor(1), torch.tensor(2)]), np.array([1, 2]))
    assert_equal(torch.tensor((1, 2)), np.array([1, 2]))
    assert torch.tensor(data=10).shape == ()
    with pytest.raises(ValueError):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        torch.tensor("a")


def test_item_and_tolist():
    assert torch.tensor(np.arange(1)).item() == 0
    assert torch.tensor([[[[2]]]]).item() == 2
    assert isinstance(torch.tensor(2.5).item(), float)
    assert isinstance(torch.tensor(2).item(), int)
    assert torch.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert torch.tensor(True).tolist() is True
