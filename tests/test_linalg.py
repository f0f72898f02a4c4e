"""Matrix products against NumPy: matmul in all its forms, mm, bmm, dot, mv, outer, errors."""
import numpy as np
import pytest

import pygrad as torch
from helpers import NP, assert_close, assert_equal, layouts

RNG = np.random.default_rng(0)


def _rand(*shape, dtype=np.float32):
    return RNG.integers(-4, 5, size=shape).astype(dtype)


@pytest.mark.parametrize("sa, sb", [
    ((3,), (3,)),  # 1-D . 1-D -> 0-d
    ((3,), (3, 2)),  # 1-D . 2-D: a row vector, dim removed
    ((2, 3), (3,)),  # 2-D . 1-D: a column vector, dim removed
    ((2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)),  # batched
    ((5, 2, 3), (3, 4)),  # batch broadcast from the left
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((5, 1, 2, 3), (4, 3, 2)),  # batch dims broadcast against each other
    ((5, 7, 2, 3), (5, 7, 3, 4)),
    ((0, 3), (3, 2)), ((2, 0), (0, 3)),  # empty operands
])
def test_matmul_shapes_and_values(sa, sb, device):
    a, b = _rand(*sa), _rand(*sb)
    ta, tb = torch.tensor(a, device=device), torch.tensor(b, device=device)
    expected = np.matmul(a, b)
    assert_close(ta @ tb, expected, torch.float32)
    assert_close(torch.matmul(ta, tb), expected, torch.float32)
    assert_close(ta.matmul(tb), expected, torch.float32)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.float16, torch.float32, torch.float64], ids=str)
def test_matmul_dtypes(dtype, device):
    a, b = _rand(4, 3, dtype=NP[dtype]), _rand(3, 2, dtype=NP[dtype])
    r = torch.tensor(a, device=device) @ torch.tensor(b, device=device)
    assert_close(r, np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(NP[dtype]), dtype)


def test_matmul_non_contiguous(device):
    a = _rand(3, 4)
    b = _rand(4, 5)
    for (na, ta, va), (nb, tb, vb) in zip(layouts(a, device), layouts(b, device)):
        assert_close(ta @ tb, va @ vb, torch.float32)
        assert_close(ta.t().t() @ tb, va @ vb, torch.float32)
        assert_close(torch.mm(tb.t(), ta.t()), vb.T @ va.T, torch.float32)
    c = torch.ones(2, 3)
    assert_close(torch.matmul(c.t(), c[:, :2]), np.full((3, 2), 2, np.float32))


def test_mm_bmm_from_course_notes():
    x = torch.tensor([[2, 1, 2], [1, 1, 0]])
    y = torch.tensor([[0, -2, 0, 2], [2, -2, 2, 1], [-1, 2, 1, -1]])
    expected = np.array([[0, -2, 4, 3], [2, -4, 2, 3]])
    assert_equal(torch.mm(x, y), expected)
    assert_equal(x.mm(y), expected)
    assert_equal(x @ y, expected)
    assert_equal(torch.matmul(input=x, other=y), expected)
    bx, by = torch.randint(0, 5, [4, 3, 5]), torch.randint(-2, 3, [4, 5, 6])
    assert torch.bmm(bx, by).shape == (4, 3, 6)
    assert_equal(torch.bmm(bx, by), np.matmul(bx.numpy(), by.numpy()))
    assert torch.equal(torch.bmm(bx, by), torch.matmul(bx, by))
    assert torch.matmul(torch.zeros(5, 7, 2, 3), torch.zeros(5, 7, 3, 4)).shape == (5, 7, 2, 4)


def test_dot_mv_outer(device):
    x = torch.tensor([5, 3, 2, 0], device=device)
    y = torch.tensor([4, -1, 0, 2], device=device)
    assert_equal(torch.dot(x, y), np.array(17))
    assert_equal(x.dot(y), np.array(17))
    assert_equal(x @ y, np.array(17))
    assert_close(torch.dot(x.float(), y.float()), np.array(17., np.float32))
    m = torch.tensor([[1, 2], [3, 4]], device=device)
    assert_equal(torch.mv(m, torch.tensor([1, -1], device=device)), np.array([-1, -1]))
    assert_equal(m.mv(torch.tensor([2, 0], device=device)), np.array([2, 6]))
    assert_equal(torch.outer(torch.tensor([1, 2]), torch.tensor([1, 2, 3])), np.outer([1, 2], [1, 2, 3]))
    assert_equal(torch.tensor([1, 2]).outer(torch.tensor([3, 4])), np.outer([1, 2], [3, 4]))


@pytest.mark.parametrize("a, b, pattern", [
    ((2, 3), (2, 3), r"\(2x3 and 2x3\)"),
    ((2, 3), (4, 2), r"\(2x3 and 4x2\)"),
    ((3,), (4,), r"\[3\].*\[4\]"),
    ((3,), (4, 2), "3.*4"),
    ((2, 3), (4,), "3.*4"),
    ((2, 2, 3), (3, 3, 2), r"size of tensor a \(2\) must match the size of tensor b \(3\)"),
])
def test_matmul_shape_errors_name_the_shapes(a, b, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        torch.ones(*a) @ torch.ones(*b)


def test_product_errors():
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.mm(torch.ones(2, 3), torch.ones(3, 2, dtype=torch.float64))
    with pytest.raises(RuntimeError):
        torch.dot(torch.ones(3), torch.ones(3, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="mat2 must be a matrix"):
        torch.ones(2, 3).mm(torch.ones(3))
    with pytest.raises(RuntimeError, match=r"\(2x3 and 4x2\)"):
        torch.ones(2, 3).mm(torch.ones(4, 2))
    with pytest.raises(RuntimeError, match="3D"):
        torch.bmm(torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"\[2, 4\] but got: \[2, 5\]"):
        torch.bmm(torch.ones(2, 3, 4), torch.ones(2, 5, 6))
    with pytest.raises(RuntimeError, match=r"\[2, 4\] but got: \[3, 4\]"):
        torch.bmm(torch.ones(2, 3, 4), torch.ones(3, 4, 6))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        torch.dot(torch.ones(3), torch.ones(3, 1))
    with pytest.raises(RuntimeError, match=r"\[3\] and src \[4\]"):
        torch.dot(torch.ones(3), torch.ones(4))
    with pytest.raises(RuntimeError):
        torch.mv(torch.ones(2, 3), torch.ones(2))
    with pytest.raises(RuntimeError):
        torch.outer(torch.ones(2), torch.ones(2, 1))
    with pytest.raises(RuntimeError, match="at least 1D"):
        torch.tensor(2.) @ torch.ones(2)
    with pytest.raises(TypeError):
        torch.ones(2) @ 3
    with pytest.raises(NotImplementedError):
        torch.tensor([True]) @ torch.tensor([True])
