"""Elementwise math against NumPy: operators, reflected scalars, in-place forms, unary functions.

Inputs come in every layout (contiguous, transposed, step-sliced, expanded) and several dtypes;
results are compared in the dtype PyTorch's promotion gives.
"""
import math

import numpy as np
import pytest

import pygrad as torch
from helpers import FLOAT_DTYPES, NP, assert_close, assert_equal, layouts

A = np.array([[1, -2, 3], [4, 5, -6]])
B = np.array([[2, 3, -1], [-4, 1, 7]])  # no zeros: divisor


def _pair(dtype, device):
    """(tensor a, tensor b, NumPy a, NumPy b) in ``dtype`` for every layout of A (b contiguous)."""
    for name, t, a in layouts(A.astype(NP[dtype]), device):
        yield t, torch.tensor(B.astype(NP[dtype]), device=device), a, B.astype(NP[dtype])


def _np_trunc_div(a, b):
    q = np.trunc(a / b)
    return q.astype(a.dtype) if a.dtype.kind in "iu" else q


def _np_remainder(a, b):
    # Python's sign-of-divisor remainder, with PyTorch's -0.0 where fmod gives -0.0
    m = np.fmod(a, b)
    return np.where((m != 0) & ((b < 0) != (m < 0)), m + b, m)


BINARY = [
    ("add", lambda x, y: x + y, np.add),
    ("sub", lambda x, y: x - y, np.subtract),
    ("mul", lambda x, y: x * y, np.multiply),
    ("floordiv", lambda x, y: x // y, np.floor_divide),
    ("mod", lambda x, y: x % y, _np_remainder),
    ("add-alpha", lambda x, y: x.add(y, alpha=2), lambda a, b: a + 2 * b),
    ("sub-alpha", lambda x, y: torch.sub(x, y, alpha=3), lambda a, b: a - 3 * b),
    ("div-floor", lambda x, y: x.div(y, rounding_mode="floor"), np.floor_divide),
    ("div-trunc", lambda x, y: torch.div(x, y, rounding_mode="trunc"), _np_trunc_div),
    ("remainder", lambda x, y: x.remainder(y), _np_remainder),
    ("fmod", lambda x, y: torch.fmod(x, y), np.fmod),
    ("maximum", torch.maximum, np.maximum),
    ("minimum", lambda x, y: x.minimum(y), np.minimum),
    ("max-binary", torch.max, np.maximum),
    ("min-binary", lambda x, y: torch.min(x, y), np.minimum),
]


@pytest.mark.parametrize("dtype", [torch.int8, torch.int32, torch.int64, torch.float16, torch.float32,
                                   torch.float64], ids=str)
@pytest.mark.parametrize("name, op, np_op", BINARY, ids=[b[0] for b in BINARY])
def test_binary_ops(name, op, np_op, dtype, device):
    for t, u, a, b in _pair(dtype, device):
        assert_close(op(t, u), np_op(a, b).astype(NP[dtype]), dtype)


@pytest.mark.parametrize("dtype", [torch.int64, torch.float32, torch.float64], ids=str)
def test_true_division_and_pow(dtype, device):
    for t, u, a, b in _pair(dtype, device):
        fl = NP[dtype] if dtype.is_floating_point else np.float32
        assert_close(t / u, a.astype(fl) / b.astype(fl))
        assert_close(torch.true_divide(t, u), a.astype(fl) / b.astype(fl))
        assert_close(t ** 2, (a ** 2).astype(NP[dtype]), dtype)
        assert_close(t.abs() ** u.abs(), np.abs(a) ** np.abs(b), dtype)


def test_integer_pow_with_negative_exponents():
    assert_equal(torch.tensor([2, -1, 1, 0, 3]) ** torch.tensor([-1, -3, -2, -1, 2]), np.array([0, -1, 1, 0, 9]))
    assert_equal(2 ** torch.tensor([-1, 2]), np.array([0, 4]))
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.tensor([2, 3]) ** -1
    assert_close(torch.tensor([2, 4]) ** -1.0, np.array([0.5, 0.25], np.float32))
    assert_close(torch.tensor([2.0, 4.0]).pow(torch.tensor([0.5, -1])), np.array([2 ** 0.5, 0.25], np.float32))
    assert_equal(torch.tensor([True, False]) ** 2, np.array([1, 0]))
    assert_equal(torch.tensor([True, False]) ** True, np.array([True, False]))


def test_reflected_scalar_operators(device):
    t = torch.tensor(A, device=device)
    f = t.float()
    fa = A.astype(np.float32)
    assert_equal(1 + t, 1 + A)
    assert_equal(1 - t, 1 - A)
    assert_equal(2 * t, 2 * A)
    assert_close(2 / t, 2 / fa)
    assert_equal(-7 // t, -7 // A)
    assert_equal(7 % t, 7 % A)
    assert_equal(2 ** t.abs(), 2 ** np.abs(A))
    assert_close(2. ** f, 2. ** fa)
    assert_close(-7 % f, _np_remainder(np.float32(-7), fa))
    assert_close(1.5 - f, 1.5 - fa)
    assert_equal(t * 2.5, (A * 2.5).astype(np.float32))
    assert_equal(np.int64(3) * t, 3 * A)
    assert_equal(-t, -A)
    assert_equal(abs(t), np.abs(A))
    assert_equal(+t, A)


def test_remainder_and_fmod_signs():
    assert_close(torch.tensor([7., -7, 7, -7, 0]) % torch.tensor([2., 2, -2, -2, 3]), np.array([1, 1, -1, -1, 0], np.float32))
    assert str(torch.tensor([-7.0]) % 1) == "tensor([-0.])"  # PyTorch keeps fmod's -0.
    assert_equal(torch.tensor([5, -5]).fmod(-3), np.array([2, -2]))
    assert_equal(torch.tensor([5, -5]).remainder(-3), np.array([-1, -2]))
    assert_close(torch.tensor([1.5, 2.5]) % 1, np.array([0.5, 0.5], np.float32))


def test_division_rounding_modes():
    a = torch.tensor([5, -5, 7, -7])
    assert_equal(a.div(2, rounding_mode="floor"), np.array([2, -3, 3, -4]))
    assert_equal(a.div(2, rounding_mode="trunc"), np.array([2, -2, 3, -3]))
    assert_equal(a.div(-2, rounding_mode="trunc"), np.array([-2, 2, -3, 3]))
    assert_close(a.div(2), np.array([2.5, -2.5, 3.5, -3.5], np.float32))
    f = a.float()
    assert_close(f.div(0), np.array([np.inf, -np.inf, np.inf, -np.inf], np.float32))
    assert_close(f.div(0, rounding_mode="trunc"), np.array([np.inf, -np.inf, np.inf, -np.inf], np.float32))
    with pytest.raises(RuntimeError, match="rounding_mode"):
        a.div(2, rounding_mode="bad")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a % torch.tensor([1, 0, 1, 1])


def test_alpha_rules():
    assert_close(torch.tensor([1., 2.]).add(1, alpha=0.5), np.array([1.5, 2.5], np.float32))
    assert_equal(torch.add(torch.tensor([1, 2]), 1, alpha=2), np.array([3, 4]))
    with pytest.raises(RuntimeError, match="alpha"):
        torch.tensor([1, 2]).add(1, alpha=0.5)


def test_comparisons(device):
    for name, t, a in layouts(A, device):
        b = torch.tensor(B, device=device)
        for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
            assert_equal(getattr(t, op)(b), getattr(a, op)(B))
            assert_equal(getattr(t, op)(2), getattr(a, op)(2))
        assert_equal(t.eq(b), a == B)
        assert_equal(torch.gt(t, 1), a > 1)
        assert_equal(t.ne(2.5), a != 2.5)
        assert_equal(2 < t, 2 < a)
        assert_equal(t > b.float() - 0.5, a > B - 0.5)
    assert (torch.tensor([1]) == None) is False  # noqa: E711  (Python semantics, no broadcasting)
    assert (torch.tensor([1]) != "x") is True


def test_bitwise_and_logical(device):
    a = np.array([1, 2, 12, -3])
    b = np.array([3, 2, 10, 5])
    t, u = torch.tensor(a, device=device), torch.tensor(b, device=device)
    assert_equal(t & u, a & b)
    assert_equal(t | u, a | b)
    assert_equal(t ^ u, a ^ b)
    assert_equal(~t, ~a)
    assert_equal(t & 1, a & 1)
    assert_equal(1 | t, 1 | a)
    assert_equal(torch.bitwise_xor(t, u), a ^ b)
    assert_equal(t.bitwise_not(), ~a)
    p, q = torch.tensor([True, False, True]), torch.tensor([True, True, False])
    assert_equal(p & q, np.array([True, False, False]))
    assert_equal(p | q, np.array([True, True, True]))
    assert_equal(p ^ q, np.array([False, True, True]))
    assert_equal(~p, np.array([False, True, False]))
    u8 = torch.tensor([1, 2], dtype=torch.uint8)
    assert_equal(~u8, np.array([254, 253], np.uint8))
    f = torch.tensor([-2., 0, 3])
    assert_equal(torch.logical_and(f, f), np.array([True, False, True]))
    assert_equal(torch.logical_or(f, torch.zeros(3)), np.array([True, False, True]))
    assert_equal(torch.logical_xor(f, torch.ones(3)), np.array([False, True, False]))
    assert_equal(torch.logical_not(f), np.array([False, True, False]))


def test_where(device):
    a = torch.tensor([1.0, 2.0, 3.0], device=device)
    assert_equal(torch.where(a > 1, a, torch.tensor(0., device=device)), np.array([0, 2, 3], np.float32))
    assert_equal(torch.where(a > 1, a, 0.), np.array([0, 2, 3], np.float32))
    assert_equal(torch.where(a > 1, 1, 0), np.array([0, 1, 1]))
    assert_equal(torch.where(a > 1, 1.5, 0), np.array([0, 1.5, 1.5], np.float32))
    assert_equal(a.where(a < 3, -a), np.array([1, 2, -3], np.float32))
    c = torch.tensor([[True], [False]])
    assert_equal(torch.where(c, torch.tensor([1, 2, 3]), torch.tensor(0.5, dtype=torch.float64)),
                 np.array([[1, 2, 3], [0.5, 0.5, 0.5]]))
    with pytest.raises(RuntimeError):
        torch.where(a, a, a)  # condition must be bool


def test_maximum_minimum_propagate_nan():
    nan = float("nan")
    a = torch.tensor([1., nan, 3])
    assert_close(torch.maximum(a, torch.tensor([2., 2, nan])), np.array([2, nan, nan], np.float32))
    assert_close(torch.minimum(a, torch.tensor(2.)), np.array([1, nan, 2], np.float32))
    assert_equal(torch.maximum(torch.tensor([1, 5]), torch.tensor([4., 2])), np.array([4, 5], np.float32))


def test_clamp(device):
    for name, t, a in layouts(np.array([[1, 5], [3, -4]]), device):
        assert_equal(t.clamp(0, 3), np.clip(a, 0, 3))
        assert_equal(t.clamp(min=2), np.maximum(a, 2))
        assert_equal(t.clamp(max=2), np.minimum(a, 2))
        assert_equal(t.clip(0, 2), np.clip(a, 0, 2))
        assert_equal(torch.clamp(t, -1, 1), np.clip(a, -1, 1))
        assert_close(t.clamp(0.5, 2.5), np.clip(a, 0.5, 2.5).astype(np.float32))
    f = torch.tensor([1., 5, 3, -4])
    assert_equal(f.clamp(3, 1), np.ones(4, np.float32))  # min > max: max wins
    assert_equal(f.clamp(torch.tensor([0., 6, 0, 0]), torch.tensor(4.)), np.array([1, 4, 3, 0], np.float32))
    assert_close(torch.tensor([1., float("nan")]).clamp(0, 0.5), np.array([0.5, np.nan], np.float32))
    with pytest.raises(RuntimeError):
        f.clamp()


def test_isnan_isinf_isfinite_allclose_equal():
    a = torch.tensor([1., float("nan"), float("inf"), -float("inf"), 0])
    assert_equal(a.isnan(), np.array([0, 1, 0, 0, 0], bool))
    assert_equal(torch.isinf(a), np.array([0, 0, 1, 1, 0], bool))
    assert_equal(a.isfinite(), np.array([1, 0, 0, 0, 1], bool))
    assert_equal(torch.isnan(torch.tensor([1, 2])), np.array([False, False]))
    b = torch.tensor([1., 2])
    assert torch.allclose(b, b + 1e-7) and not torch.allclose(b, b + 1e-3)
    assert torch.allclose(b, b + 1e-3, atol=1e-2)
    n = torch.tensor([1., float("nan")])
    assert not torch.allclose(n, n) and torch.allclose(n, n, equal_nan=True)
    assert_equal(torch.isclose(n, n), np.array([True, False]))
    assert torch.equal(b, b) and not torch.equal(b, b[:1]) and not torch.equal(b, b + 1)
    assert torch.equal(b.t(), b.clone())


# -- in place ---------------------------------------------------------------------------------------------
def test_inplace_operators_and_methods(device):
    t = torch.tensor([1., 2.], device=device)
    ident = id(t)
    t += 1
    t -= torch.tensor([0.5, 0.5], device=device)
    t *= 4
    t /= 2
    assert id(t) == ident
    assert_close(t, np.array([3., 5.], np.float32))
    assert t.mul_(2) is t and t.div_(4) is t and t.sub_(1) is t and t.pow_(2) is t
    assert_close(t, np.array([0.25, 2.25], np.float32))
    t.add_(1, alpha=2).neg_().abs_().sqrt_().exp_().clamp_(0, 10)
    assert_close(t, np.clip(np.exp(np.sqrt(np.array([2.25, 4.25]))), 0, 10).astype(np.float32))
    i = torch.tensor([5, -5])
    i //= 2
    assert_equal(i, np.array([2, -3]))
    i %= 2
    assert_equal(i, np.array([0, 1]))
    i **= 2
    i += torch.tensor([True, False])
    assert_equal(i, np.array([1, 1]))
    assert_close(torch.tensor([5., -5]).fmod_(3), np.array([2., -2.], np.float32))
    assert_close(torch.tensor([5., -5]).remainder_(3), np.array([2., 1.], np.float32))
    assert_equal(torch.tensor([5, -5]).div_(2, rounding_mode="floor"), np.array([2, -3]))


def test_inplace_casting_and_shape_rules():
    i = torch.tensor([1, 2])
    for op in (lambda: i.__itruediv__(2), lambda: i.__iadd__(1.5), lambda: i.__imul__(1.5),
               lambda: i.sub_(torch.tensor([1.5, 1]))):
        with pytest.raises(RuntimeError, match="can't be cast"):
            op()
    f = torch.tensor([1., 2.])
    f += torch.tensor([1, 2])  # int into float is fine
    assert_equal(f, np.array([2., 4.], np.float32))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        i.add_(torch.tensor([[1], [2]]))


def test_inplace_on_views_writes_base():
    a = torch.zeros(2, 3)
    a[:, 1].add_(5)
    a.t().mul_(2).add_(1)
    assert_equal(a, np.array([[1, 11, 1], [1, 11, 1]], np.float32))
    b = torch.zeros(2, 3)
    b.add_(torch.ones(3, 2).t())
    assert_equal(b, np.ones((2, 3), np.float32))


def test_copy_fill_zero():
    a = torch.zeros(2, 3)
    a.copy_(torch.tensor([1, 2, 3]))  # broadcast and cast
    assert_equal(a, np.array([[1, 2, 3]] * 2, np.float32))
    i = torch.tensor([3, 1])
    i.copy_(torch.tensor([1.5, -2.7]))
    assert_equal(i, np.array([1, -2]))
    assert_equal(a.fill_(7), np.full((2, 3), 7, np.float32))
    assert_equal(a.zero_(), np.zeros((2, 3), np.float32))
    with pytest.raises(RuntimeError):
        a.copy_(torch.tensor([1, 2]))


# -- broadcasting, shapes, dtypes ------------------------------------------------------------------------------
def test_broadcasting(device):
    x = torch.tensor([[3], [2], [3]], device=device)
    y = torch.tensor([[-1, 1, -1, 3]], device=device)
    assert_equal(x + y, np.array([[2, 4, 2, 6], [1, 3, 1, 5], [2, 4, 2, 6]]))
    assert (torch.zeros(2, 3) * torch.ones(3)).shape == (2, 3)
    assert (torch.zeros(4, 1, 1) + torch.zeros(2, 3)).shape == (4, 2, 3)
    assert (torch.tensor(5.) + torch.tensor([1, 2])).shape == (2,)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(2\)"):
        torch.zeros(2, 3) + torch.zeros(3, 2)


def test_output_follows_input_memory_order():
    x = torch.tensor([[1., 2], [3, 4]]).t()
    assert (x * 2).stride() == (1, 2) and (x.exp()).stride() == (1, 2)
    assert_close(x * 2, np.array([[2, 6], [4, 8]], np.float32))


def test_zero_dim_and_zero_size():
    s = torch.tensor(5.)
    assert (s * 2).shape == () and (s * 2).item() == 10 and (-s).item() == -5 and (s ** 2).item() == 25
    z = torch.zeros(0, 3)
    assert (z + 1).shape == (0, 3) and (z * torch.ones(3)).shape == (0, 3)
    assert z.exp().shape == (0, 3) and (z == 0).dtype is torch.bool
    assert torch.maximum(z, z).shape == (0, 3)


def test_bool_arithmetic_rules():
    t = torch.tensor([True, False])
    assert_equal(t * 3, np.array([3, 0]))
    with pytest.raises(RuntimeError, match="Subtraction"):
        t - t
    with pytest.raises(RuntimeError, match="Negation"):
        -t


# -- unary math ------------------------------------------------------------------------------------------------
UNARY = [
    ("exp", np.exp), ("exp2", np.exp2), ("log", np.log), ("log2", np.log2), ("log10", np.log10),
    ("log1p", np.log1p), ("expm1", np.expm1), ("sqrt", np.sqrt), ("rsqrt", lambda a: 1 / np.sqrt(a)),
    ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("tanh", np.tanh),
    ("sigmoid", lambda a: 1 / (1 + np.exp(-a))), ("reciprocal", lambda a: 1 / a),
    ("erf", np.vectorize(math.erf, otypes=[np.float64])),
]
SAME_DTYPE = [
    ("neg", np.negative), ("abs", np.abs), ("relu", lambda a: np.maximum(a, 0)), ("floor", np.floor),
    ("ceil", np.ceil), ("round", np.round), ("trunc", np.trunc), ("sign", np.sign), ("square", np.square),
]
POS = np.array([[0.25, 1.0, 4.0], [0.5, 2.5, 3.0]])  # in the domain of every UNARY function


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name, np_fn", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float_functions(name, np_fn, dtype, device):
    for layout, t, a in layouts(POS.astype(NP[dtype]), device):
        expected = np_fn(a.astype(np.float64))
        assert_close(getattr(t, name)(), expected, dtype, rtol=4e-3 if dtype is torch.float16 else None)
        assert_close(getattr(torch, name)(t), expected, dtype, rtol=4e-3 if dtype is torch.float16 else None)


@pytest.mark.parametrize("name, np_fn", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float_functions_on_integers_give_default_float(name, np_fn):
    a = np.array([1, 2, 4])
    assert_close(getattr(torch.tensor(a), name)(), np_fn(a.astype(np.float64)), torch.float32)


@pytest.mark.parametrize("dtype", [torch.int8, torch.int32, torch.int64, torch.float16, torch.float32, torch.float64],
                         ids=str)
@pytest.mark.parametrize("name, np_fn", SAME_DTYPE, ids=[u[0] for u in SAME_DTYPE])
def test_unary_same_dtype(name, np_fn, dtype, device):
    src = np.array([[-1.5, -0.5, 0.5], [1.5, 2.5, 0.0]]) if dtype.is_floating_point else np.array([[-3, 0, 2], [5, -1, 7]])
    for layout, t, a in layouts(src.astype(NP[dtype]), device):
        assert_close(getattr(t, name)(), np_fn(a), dtype)


def test_round_half_to_even_and_special_values():
    assert_equal(torch.tensor([2.5, 3.5, -2.5, 0.5]).round(), np.array([2., 4., -2., 0.], np.float32))
    neg = torch.tensor([-1., 0])
    assert_close(neg.log(), np.array([np.nan, -np.inf], np.float32))
    assert_close(neg.sqrt(), np.array([np.nan, 0], np.float32))
    assert_close(neg.reciprocal(), np.array([-1, np.inf], np.float32))
    assert_close(torch.sigmoid(torch.tensor([-1000., 0, 1000])), np.array([0, 0.5, 1], np.float32))
    assert_close(torch.tanh(torch.tensor([-1000., 1000])), np.array([-1, 1], np.float32))
    assert_close(torch.exp(torch.tensor([1000.])), np.array([np.inf], np.float32))


def test_erf_against_math_erf():
    grid = np.linspace(-6, 6, 241)
    expected = np.array([math.erf(v) for v in grid])
    assert_close(torch.tensor(grid).erf(), expected, torch.float64, rtol=1e-13, atol=1e-14)
    assert_close(torch.tensor(grid, dtype=torch.float32).erf(), expected.astype(np.float32))
    assert_close(torch.erf(torch.tensor([float("nan"), float("inf"), -float("inf")])), np.array([np.nan, 1, -1], np.float32))
    assert_close(torch.erf(torch.tensor([0, 1])), np.array([0, math.erf(1)], np.float32))


def test_unary_on_bool():
    b = torch.tensor([True, False])
    assert_equal(b.sign(), np.array([True, False]))
    assert_equal(b.square(), np.array([1, 0]))
    assert_close(b.exp(), np.array([math.e, 1], np.float32))
    assert_equal(b.logical_not(), np.array([False, True]))
    for name in ("abs", "floor", "ceil", "round", "trunc"):
        with pytest.raises(NotImplementedError, match="Bool"):
            getattr(b, name)()
    with pytest.raises(RuntimeError):
        b.relu()


def test_lerp_atan2_aliases():
    a, b = torch.tensor([1., 2]), torch.tensor([3., 6])
    assert_close(torch.lerp(a, b, 0.5), np.array([2., 4.], np.float32))
    assert_close(torch.atan2(a, b), np.arctan2([1., 2], [3., 6]).astype(np.float32))
    assert_equal(torch.negative(a), -np.array([1., 2], np.float32))
    assert_equal(torch.absolute(-a), np.array([1., 2], np.float32))
    assert_close(torch.square(a), np.array([1., 4], np.float32))


# torch.pow(x, e) of PyTorch 2.x for x = [-0., -inf, -2., 4., 0., nan]: its kernels compute these exponents as
# sqrt, rsqrt, 1 / x, 1 / (x * x), x * x, x * x * x, a copy and ones (so pow(-0., 0.5) is -0., not pow()'s +0.)
_POW_SPECIAL = {
    0.5: [-0.0, math.nan, math.nan, 2.0, 0.0, math.nan],
    -0.5: [-math.inf, math.nan, math.nan, 0.5, math.inf, math.nan],
    -1: [-math.inf, -0.0, -0.5, 0.25, math.inf, math.nan],
    -2: [math.inf, 0.0, 0.25, 0.0625, math.inf, math.nan],
    2: [0.0, math.inf, 4.0, 16.0, 0.0, math.nan],
    3: [-0.0, -math.inf, -8.0, 64.0, 0.0, math.nan],
    1: [-0.0, -math.inf, -2.0, 4.0, 0.0, math.nan],
    0: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
}


@pytest.mark.parametrize("exponent", list(_POW_SPECIAL), ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_pow_special_exponents_match_pytorch(exponent, dtype, device):
    """A float tensor to the powers PyTorch's kernels special-case gives PyTorch's values, signs of zero included,
    on every backend (and is fast on OpenCL, where pow() is a slow library call); the node stays PowBackward0."""
    x = torch.tensor([-0.0, -math.inf, -2.0, 4.0, 0.0, math.nan], dtype=dtype, device=device)
    got = (x ** exponent).cpu().double().numpy()
    want = np.array(_POW_SPECIAL[exponent])
    np.testing.assert_array_equal(got, want)
    num = ~np.isnan(want)  # (the sign of a NaN is not part of the result)
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))
    assert torch.pow(x, float(exponent)).dtype == dtype
    v = torch.tensor([0.3, 1.7, 2.5], dtype=torch.float64, device=device, requires_grad=True)
    y = v ** exponent
    assert type(y.grad_fn).__name__ == "PowBackward0"
    (g,) = torch.autograd.grad(y.sum(), v)
    vn = np.array([0.3, 1.7, 2.5])
    np.testing.assert_allclose(g.cpu().numpy(), exponent * vn ** (exponent - 1) if exponent else 0 * vn, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda t: t ** exponent, (v,))
