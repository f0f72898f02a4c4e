"""gradcheck (autograd's Jacobian vs central finite differences, float64) for every differentiable op.

Each op gets its own test id.  Inputs are small, come from a fixed NumPy seed, and are drawn from the
op's valid domain, away from kinks (0 for abs/relu/sign, integers for floor/round/remainder, ties for
max/min), where finite differences and derivatives legitimately disagree.
"""
import numpy as np
import pytest

import pygrad as torch
from pygrad.autograd import gradcheck, gradgradcheck
from pygrad.ops.elementwise import BINARY, UNARY

F64 = torch.float64


def rng(seed=0):
    return np.random.default_rng(seed)


def t(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=requires_grad)


def uniform(*shape, lo=-1.0, hi=1.0, seed=0):
    return t(rng(seed).uniform(lo, hi, size=shape))


def nonzero(*shape, lo=0.4, hi=1.5, seed=0):
    """Values of either sign with |x| in [lo, hi]."""
    r = rng(seed)
    return t(r.uniform(lo, hi, size=shape) * r.choice([-1.0, 1.0], size=shape))


def off_integers(*shape, seed=0):
    """k + u with k in [-3, 3) and u in [0.15, 0.35]: away from integers and from halves."""
    r = rng(seed)
    return t(r.integers(-3, 3, size=shape) + r.uniform(0.15, 0.35, size=shape))


def check(fn, *inputs, **kw):
    assert gradcheck(fn, inputs, **kw)


# ---------------------------------------------------------------------------------------------
# unary math ops: every row of ops/elementwise.UNARY that has a derivative
# ---------------------------------------------------------------------------------------------
UNARY_DOMAIN = {  # op -> input; ops not listed get values in [0.3, 0.9] (inside every domain)
    "neg": lambda: uniform(3, 4), "exp": lambda: uniform(3, 4), "exp2": lambda: uniform(3, 4),
    "expm1": lambda: uniform(3, 4), "sin": lambda: uniform(3, 4, lo=-3, hi=3),
    "cos": lambda: uniform(3, 4, lo=-3, hi=3), "tan": lambda: uniform(3, 4, lo=-1.2, hi=1.2),
    "tanh": lambda: uniform(3, 4, lo=-2, hi=2), "sigmoid": lambda: uniform(3, 4, lo=-3, hi=3),
    "erf": lambda: uniform(3, 4, lo=-2, hi=2), "square": lambda: uniform(3, 4, lo=-2, hi=2),
    "log": lambda: uniform(3, 4, lo=0.2, hi=3), "log2": lambda: uniform(3, 4, lo=0.2, hi=3),
    "log10": lambda: uniform(3, 4, lo=0.2, hi=3), "log1p": lambda: uniform(3, 4, lo=-0.7, hi=3),
    "sqrt": lambda: uniform(3, 4, lo=0.2, hi=3), "rsqrt": lambda: uniform(3, 4, lo=0.2, hi=3),
    "reciprocal": lambda: nonzero(3, 4), "abs": lambda: nonzero(3, 4), "relu": lambda: nonzero(3, 4),
    "sign": lambda: nonzero(3, 4), "floor": lambda: off_integers(3, 4), "ceil": lambda: off_integers(3, 4),
    "round": lambda: off_integers(3, 4), "trunc": lambda: off_integers(3, 4),
}
DIFFERENTIABLE_UNARY = sorted(name for name, row in UNARY.items() if row[2] is not None)


def _unary_fn(op):
    """``torch.<op>``, or the table's op class for rows with no public function (gelu, silu: F.* only)."""
    from pygrad.ops.elementwise import UNARY_OPS

    return getattr(torch, op, None) or UNARY_OPS[op].apply


@pytest.mark.parametrize("op", DIFFERENTIABLE_UNARY)
def test_unary(op):
    x = UNARY_DOMAIN.get(op, lambda: uniform(3, 4, lo=0.3, hi=0.9))()
    check(lambda a: _unary_fn(op)(a), x)


@pytest.mark.parametrize("op", DIFFERENTIABLE_UNARY)
def test_unary_non_contiguous_input(op):
    x = UNARY_DOMAIN.get(op, lambda: uniform(3, 4, lo=0.3, hi=0.9))()
    check(lambda a: _unary_fn(op)(a.t()), x)


# ---------------------------------------------------------------------------------------------
# binary ops: same shape, broadcasting, scalar and reflected scalar operands
# ---------------------------------------------------------------------------------------------
def binary_inputs(op, shape_a, shape_b, seed=0):
    """Operands in the op's domain: positive base for pow, a/b off integers for remainder/fmod, b != 0."""
    a, b = uniform(*shape_a, seed=seed), nonzero(*shape_b, seed=seed + 1)
    if op == "pow":
        a = uniform(*shape_a, lo=0.5, hi=1.5, seed=seed)
    if op in ("remainder", "fmod"):  # a = b * (k + u): the quotient stays away from integers
        q = off_integers(*np.broadcast_shapes(shape_a, shape_b), seed=seed).detach().cpu().numpy()
        a = t(np.broadcast_to(b.detach().cpu().numpy(), q.shape) * q)
    return a, b


BINARY_FORMS = {"same": ((2, 3), (2, 3)), "broadcast": ((2, 1, 3), (2, 3)), "broadcast_both": ((3, 1), (1, 4))}
DIFFERENTIABLE_BINARY = ["add", "sub", "mul", "div", "pow", "remainder", "fmod", "maximum", "minimum", "atan2"]


def test_binary_list_is_complete():
    with_derivative = {name for name, row in BINARY.items() if row[2] is not None}
    assert with_derivative - {"div_floor", "div_trunc"} == set(DIFFERENTIABLE_BINARY)


@pytest.mark.parametrize("form", list(BINARY_FORMS))
@pytest.mark.parametrize("op", DIFFERENTIABLE_BINARY)
def test_binary(op, form):
    shape_a, shape_b = BINARY_FORMS[form]
    if op in ("remainder", "fmod"):
        shape_a = np.broadcast_shapes(shape_a, shape_b)  # a is built from b, at the broadcast shape
    a, b = binary_inputs(op, shape_a, shape_b)
    check(lambda x, y: getattr(torch, op)(x, y), a, b)


SCALAR_FORMS = {
    "add": lambda a: a + 2.5, "radd": lambda a: 2.5 + a, "sub": lambda a: a - 2.5, "rsub": lambda a: 2.5 - a,
    "mul": lambda a: a * -1.5, "rmul": lambda a: -1.5 * a, "div": lambda a: a / 1.7, "rdiv": lambda a: 1.7 / a,
    "pow_int": lambda a: a ** 3, "pow_float": lambda a: a.abs() ** 2.5, "pow_negative": lambda a: a.abs() ** -1.5,
    "pow_zero": lambda a: a ** 0, "rpow": lambda a: 2.0 ** a, "remainder": lambda a: a % 0.45,
    "fmod": lambda a: torch.fmod(a, 0.45), "sub_alpha": lambda a: a.sub(a * a, alpha=2),
}


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
def test_binary_with_scalar(form):
    # (``1.0 % a`` has no derivative in PyTorch: tests/test_binary_overloads.py checks that it fails alike)
    if form in ("remainder", "fmod"):  # a / 0.45 off integers
        x = t(0.45 * off_integers(3, 4).detach().cpu().numpy())
    else:
        x = nonzero(3, 4)
    check(SCALAR_FORMS[form], x)


def test_pow_tensor_exponent_with_positive_base():
    check(lambda a, b: a ** b, uniform(2, 3, lo=0.5, hi=2), uniform(2, 3, lo=-2, hi=2, seed=1))


# ---------------------------------------------------------------------------------------------
# where, clamp and friends
# ---------------------------------------------------------------------------------------------
def test_where():
    cond = torch.tensor([[True, False, True], [False, False, True]])
    check(lambda a, b: torch.where(cond, a, b), uniform(2, 3), uniform(1, 3, seed=1))


def test_where_scalar_other():
    check(lambda a: torch.where(a > 0, a, 0.0), nonzero(2, 3))


CLAMP_FORMS = {
    "both": lambda a: a.clamp(-0.5, 0.5), "min": lambda a: a.clamp(min=-0.2), "max": lambda a: a.clamp(max=0.3),
    "clip": lambda a: a.clip(-0.5, 0.5), "function": lambda a: torch.clamp(a, -0.5, 0.5),
}


@pytest.mark.parametrize("form", list(CLAMP_FORMS))
def test_clamp_scalar_bounds(form):
    x = t([[-1.3, -0.45, 0.1], [0.44, 0.9, -0.05]])  # no value within 1e-2 of a bound
    check(CLAMP_FORMS[form], x)


def test_clamp_tensor_bounds():
    x = t([[-1.3, -0.45, 0.1], [0.44, 0.9, -0.05]])
    lo, hi = t([-0.5, -0.1, 0.2]), t([[0.6], [0.3]])
    check(lambda a, l, h: a.clamp(l, h), x, lo, hi)


@pytest.mark.parametrize("name", ["masked_fill", "lerp", "addcmul", "addcdiv"])
def test_composite_elementwise(name):
    a, b, c = uniform(2, 3), uniform(2, 3, seed=1), nonzero(2, 3, seed=2)
    fns = {
        "masked_fill": lambda a, b, c: a.masked_fill(b > 0, 2.0),
        "lerp": lambda a, b, c: torch.lerp(a, b, c),
        "addcmul": lambda a, b, c: a.addcmul(b, c, value=0.5),
        "addcdiv": lambda a, b, c: a.addcdiv(b, c, value=0.5),
    }
    check(fns[name], a, b, c)


# ---------------------------------------------------------------------------------------------
# reductions, scans, softmax
# ---------------------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": lambda a: a.sum(), "sum_dim": lambda a: a.sum(1), "sum_dims_keepdim": lambda a: a.sum((0, 2), keepdim=True),
    "mean": lambda a: a.mean(), "mean_dim": lambda a: a.mean(-1), "mean_keepdim": lambda a: a.mean(0, keepdim=True),
    "prod": lambda a: a.prod(), "prod_dim": lambda a: a.prod(1),
    "amax": lambda a: a.amax(), "amax_dims": lambda a: a.amax((0, 1)), "amin_dim": lambda a: a.amin(2),
    "max": lambda a: a.max(), "min": lambda a: a.min(), "max_dim": lambda a: a.max(1).values,
    "min_dim_keepdim": lambda a: a.min(2, keepdim=True).values,
    "var": lambda a: a.var(), "var_dim": lambda a: a.var(1), "var_correction0": lambda a: a.var(2, correction=0),
    "std": lambda a: a.std(), "std_dim_keepdim": lambda a: a.std(0, keepdim=True),
    "std_unbiased_false": lambda a: a.std(1, unbiased=False), "std_correction2": lambda a: a.std(2, correction=2),
    "logsumexp": lambda a: a.logsumexp(1), "logsumexp_dims": lambda a: a.logsumexp((0, 2)),
    "cumsum": lambda a: a.cumsum(1), "cumsum_last": lambda a: a.cumsum(-1), "cumprod": lambda a: a.cumprod(2),
    "norm": lambda a: a.norm(), "norm_dim": lambda a: a.norm(dim=1), "norm_1": lambda a: a.norm(p=1),
    "norm_3": lambda a: a.norm(p=3, dim=2), "norm_inf": lambda a: a.norm(p=float("inf")),
    "softmax": lambda a: a.softmax(1), "softmax_last": lambda a: a.softmax(-1),
    "log_softmax": lambda a: a.log_softmax(0), "log_softmax_last": lambda a: a.log_softmax(-1),
    "sort": lambda a: a.sort(1).values, "topk": lambda a: a.topk(2).values, "median": lambda a: a.median(1).values,
    "median_all": lambda a: a.median(),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction(name):
    check(REDUCTIONS[name], nonzero(2, 3, 4))


def test_reduction_non_contiguous_input():
    check(lambda a: a.t().softmax(1) * a.t().cumsum(0) + a.t().var(0), uniform(3, 4))


def test_prod_and_cumprod_with_zeros():
    x = t([[2.0, 0.0, 3.0, 0.5], [1.5, 0.0, 0.0, 2.0], [1.0, 2.0, 0.5, -1.0]])
    check(lambda a: a.prod(1), x)
    check(lambda a: a.cumprod(1), x)
    x.prod(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-1.0, -0.5, -2.0, 1.0]]


def test_max_without_dim_splits_ties_evenly():
    x = t([1.0, 3.0, 3.0, -2.0])
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]
    x.grad = None
    x.amin().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]
    m = t([3.0, 1.0, 3.0, 4.0])
    m.median().backward()
    assert m.grad.tolist() == [0.5, 0.0, 0.5, 0.0]
    y = t([[5.0, 5.0, 5.0], [1.0, 2.0, 2.0]])
    y.amax(1).sum().backward()
    assert np.allclose(y.grad.tolist(), [[1 / 3, 1 / 3, 1 / 3], [0.0, 0.5, 0.5]])


def test_maximum_minimum_and_clamp_at_ties():
    a, b = t([1.0, 2.0, 3.0]), t([1.0, 0.0, 3.0])
    torch.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0, 0.5] and b.grad.tolist() == [0.5, 0.0, 0.5]
    x, lo, hi = t([0.0, 1.5, 3.0]), t([2.0, 2.0, 0.5]), t([1.0, 1.0, 2.5])
    x.clamp(lo, hi).sum().backward()  # where min > max the result is max
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and lo.grad.tolist() == [0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [1.0, 1.0, 1.0]


def test_max_with_dim_picks_one_of_the_ties():
    x = t([1.0, 3.0, 3.0])
    x.max(0).values.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_gradients_at_zero_are_zero_not_nan():
    """PyTorch's conventions where the formula would give 0/0: norm at 0, std of a constant, 0 ** b."""
    x = t([0.0, 0.0, 0.0])
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    c = t([2.0, 2.0, 2.0])
    c.std().backward()
    assert c.grad.tolist() == [0.0, 0.0, 0.0]
    b = t([2.0, 0.0])
    (torch.zeros(2, dtype=F64) ** b).sum().backward()
    assert b.grad.tolist() == [0.0, 0.0]
    z = t([0.0, 1.0])
    (z ** torch.tensor(0.0, dtype=F64)).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------------------------------
# views, indexing, joining and copying shape ops
# ---------------------------------------------------------------------------------------------
IDX = torch.tensor([[0, 2, 1], [1, 1, 0]])
MASK = torch.tensor([[True, False, True, True], [False, True, False, True], [True, True, False, False]])
SHAPE_OPS = {
    "view": lambda a: a.view(4, 3), "view_infer": lambda a: a.view(-1), "reshape": lambda a: a.reshape(2, 6),
    "reshape_copy": lambda a: a.t().reshape(12), "view_as": lambda a: a.view_as(torch.zeros(6, 2)),
    "permute": lambda a: a.reshape(3, 2, 2).permute(2, 0, 1), "transpose": lambda a: a.transpose(0, 1),
    "t": lambda a: a.t(), "T": lambda a: a.T, "expand": lambda a: a[:, :1].expand(3, 5),
    "expand_new_dims": lambda a: a.expand(2, 3, 4), "expand_as": lambda a: a[0].expand_as(a),
    "squeeze": lambda a: a[:, :1].squeeze(), "squeeze_dim": lambda a: a[:1].squeeze(0),
    "unsqueeze": lambda a: a.unsqueeze(1), "flatten": lambda a: a.reshape(3, 2, 2).flatten(1),
    "unflatten": lambda a: a.unflatten(1, (2, 2)), "narrow": lambda a: a.narrow(1, 1, 2),
    "select": lambda a: a.select(1, 2), "select_negative": lambda a: a.select(0, -1),
    "slice": lambda a: a[1:, 1:3], "slice_step": lambda a: a[::2, ::3], "slice_negative": lambda a: a[-2:, :-1],
    "int_index": lambda a: a[1], "int_and_slice": lambda a: a[1, 1:], "none_ellipsis": lambda a: a[None, ..., 2],
    "int_list": lambda a: a[[0, 2]], "int_list_repeats": lambda a: a[[0, 0, 2, 0]],
    "int_tensor_2d": lambda a: a[:, torch.tensor([[3, 0], [3, 3]])], "two_index_lists": lambda a: a[[0, 2, 2], [1, 1, 3]],
    "bool_mask": lambda a: a[MASK], "bool_row_mask": lambda a: a[torch.tensor([True, False, True])],
    "gather": lambda a: a.gather(1, IDX.to(a.device)), "gather_dim0": lambda a: a.gather(0, IDX[:, :2].to(a.device)),
    "index_select": lambda a: a.index_select(1, torch.tensor([3, 0, 3])), "masked_select": lambda a: a.masked_select(MASK),
    "masked_select_broadcast": lambda a: a.masked_select(MASK[0]),
    "split": lambda a: a.split(2, 1)[1], "split_sizes": lambda a: a.split([1, 3], 1)[1] * 2 + a.split([1, 3], 1)[0],
    "chunk": lambda a: a.chunk(2, 0)[0], "unbind": lambda a: a.unbind(1)[2] - a.unbind(1)[0],
    "flip": lambda a: a.flip(0), "flip_dims": lambda a: a.flip(0, 1), "repeat": lambda a: a.repeat(2, 1),
    "repeat_new_dims": lambda a: a[:2, :2].repeat(2, 1, 3), "tile": lambda a: a[:, :2].tile(2), "roll": lambda a: a.roll(1, 1),
    "roll_flat": lambda a: a.roll(5), "roll_dims": lambda a: a.roll((1, -1), (0, 1)), "movedim": lambda a: a.reshape(3, 2, 2).movedim(0, 2),
    "contiguous": lambda a: a.t().contiguous(), "clone": lambda a: a.clone(), "as_strided": lambda a: a.as_strided((2, 2), (1, 4), 1),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_op(name):
    check(SHAPE_OPS[name], uniform(3, 4))


@pytest.mark.parametrize("name", ["reshape", "permute", "slice_step", "int_list_repeats", "bool_mask", "gather",
                                  "flip", "repeat", "roll", "narrow", "split", "expand", "as_strided"])
def test_shape_op_non_contiguous_input(name):
    check(lambda a: SHAPE_OPS[name](a.t()), uniform(4, 3))  # a.t() is a (3, 4) view with strides (1, 3)


UNIQUE_IDX = torch.tensor([[0, 2], [3, 1]])
SCATTER_FORMS = {
    # scatter without accumulation: no repeated index (which value wins a repeated place is unspecified)
    "scatter": lambda a, s: a.scatter(1, UNIQUE_IDX.to(a.device), s[:, :2]), "scatter_value": lambda a, s: a.scatter(1, UNIQUE_IDX.to(a.device), 2.0),
    "scatter_larger_src": lambda a, s: a.scatter(1, torch.tensor([[3], [0]], device=a.device), s),
    "scatter_add": lambda a, s: a.scatter_add(1, IDX.to(a.device), s), "scatter_add_dim0": lambda a, s: a.scatter_add(0, torch.tensor([[1, 0, 1]], device=a.device), s[:1]),
    "index_put": lambda a, s: a.index_put((torch.tensor([0, 1]),), s[:, :4]),
    "index_put_accumulate": lambda a, s: a.index_put((torch.tensor([1, 1]),), s[:, :4], accumulate=True),
}


@pytest.mark.parametrize("name", list(SCATTER_FORMS))
def test_scatter(name):
    check(SCATTER_FORMS[name], uniform(2, 4), uniform(2, 3, seed=1) if "index_put" not in name else uniform(2, 4, seed=1))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    a, b, c = uniform(2, 3), uniform(2, 3, seed=1), uniform(2, 3, seed=2)
    check(lambda x, y, z: torch.cat([x, y.t().t(), z], dim), a, b, c)
    check(lambda x, y, z: torch.stack([x, y, z], dim), a, b, c)


def test_cat_with_empty_and_different_sizes():
    check(lambda x, y: torch.cat([x, torch.zeros(0, dtype=F64), y]), uniform(3), uniform(5, seed=1))
    check(lambda x, y: torch.cat([x, y], 1), uniform(2, 1), uniform(2, 3, seed=1))


def test_setitem_in_function():
    def f(a, v):
        y = a * 1
        y[0, 1:3] = v
        y[[2, 2], [0, 3]] = v[0] * 3
        return y

    check(f, uniform(3, 4), uniform(2, seed=1))


def test_inplace_ops_in_function():
    def f(a, w):
        y = a * 1
        y[1:].mul_(w)  # in-place on views: CopySlices
        y.t()[0].add_(w[0])
        y[0].copy_(w * 2)
        y.masked_fill_(a > 0.5, 0.25)
        y.clamp_(-0.8, 0.8)
        y.index_put_((torch.tensor([2, 2]), torch.tensor([1, 1])), w[:2] * 3, accumulate=True)
        return y

    check(f, uniform(3, 4), uniform(4, seed=1))


# ---------------------------------------------------------------------------------------------
# matrix products and dtype casts
# ---------------------------------------------------------------------------------------------
MATMUL_FORMS = {
    "1d_1d": ((3,), (3,)), "1d_2d": ((3,), (3, 2)), "2d_1d": ((2, 3), (3,)), "2d_2d": ((2, 3), (3, 4)),
    "batched": ((2, 2, 3), (2, 3, 2)), "broadcast_batch": ((2, 1, 2, 3), (3, 3, 2)), "batched_1d": ((2, 2, 3), (3,)),
    "1d_batched": ((3,), (2, 3, 2)),
}


@pytest.mark.parametrize("form", list(MATMUL_FORMS))
def test_matmul(form):
    sa, sb = MATMUL_FORMS[form]
    check(lambda a, b: a @ b, uniform(*sa), uniform(*sb, seed=1))


@pytest.mark.parametrize("name", ["mm", "bmm", "dot", "mv", "outer", "inner", "matmul_t"])
def test_matrix_product_functions(name):
    cases = {
        "mm": (lambda a, b: torch.mm(a, b), (2, 3), (3, 4)), "bmm": (lambda a, b: torch.bmm(a, b), (2, 2, 3), (2, 3, 2)),
        "dot": (lambda a, b: torch.dot(a, b), (4,), (4,)), "mv": (lambda a, b: torch.mv(a, b), (2, 3), (3,)),
        "outer": (lambda a, b: torch.outer(a, b), (3,), (2,)), "inner": (lambda a, b: a.inner(b), (3,), (3,)),
        "matmul_t": (lambda a, b: a.t() @ b.t(), (3, 2), (4, 3)),
    }
    fn, sa, sb = cases[name]
    check(fn, uniform(*sa), uniform(*sb, seed=1))


def test_dtype_casts():
    x = uniform(3, 4)
    # through float32 the function is only accurate to ~1e-7, so use a larger step
    check(lambda a: a.to(torch.float32).to(F64) * 2, x, eps=1e-3, atol=1e-4)
    check(lambda a: a.float().double().exp(), x, eps=1e-3, atol=1e-3)
    out = x.to(torch.float32)
    assert out.grad_fn.name() == "ToCopyBackward0"
    out.sum().backward()
    assert x.grad.dtype is F64 and x.grad.tolist() == [[1.0] * 4] * 3


# ---------------------------------------------------------------------------------------------
# second derivatives
# ---------------------------------------------------------------------------------------------
GRADGRAD = {
    "mul": (lambda a, b: a * b, 2), "div": (lambda a, b: a / b, 2), "pow": (lambda a, b: a.abs() ** b, 2),
    "pow_scalar": (lambda a: a ** 3, 1), "exp": (lambda a: a.exp(), 1), "tanh": (lambda a: a.tanh(), 1),
    "sigmoid": (lambda a: a.sigmoid(), 1), "matmul": (lambda a, b: a @ b.t(), 2), "sum": (lambda a: (a * a).sum(1), 1),
    "softmax": (lambda a: a.softmax(1), 1), "log_softmax": (lambda a: a.log_softmax(1), 1),
    "prod": (lambda a: a.prod(1), 1), "norm": (lambda a: a.norm(dim=1), 1), "std": (lambda a: a.std(1), 1),
    "index_repeats": (lambda a: a[[0, 0, 1]] ** 2, 1), "cumprod": (lambda a: a.cumprod(1), 1),
    "max": (lambda a: a.amax(1) ** 2, 1), "where_abs": (lambda a: torch.where(a > 0, a * a, -a), 1),
}


@pytest.mark.parametrize("name", list(GRADGRAD))
def test_gradgradcheck(name):
    fn, n = GRADGRAD[name]
    inputs = [nonzero(2, 3, seed=s) for s in range(n)]
    assert gradgradcheck(fn, inputs)
