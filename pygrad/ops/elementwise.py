"""Elementwise ops: one table row per op, holding its CPU kernel, OpenCL expression and derivative.

Reading a row tells the whole story of an op::

    "mul": (np.multiply, "a * b", lambda a, b, y, g: (g * b, g * a)),

forward on the CPU is ``np.multiply`` on strided views of the broadcast inputs, on an OpenCL device
it is the C expression ``a * b`` pasted into ``cl_kernels/elementwise.cl``, and backward turns the
output gradient ``g`` into one gradient per input, written with tensor ops so it runs on any device
(and can itself be differentiated).  Broadcasting is undone centrally by the autograd engine, which
sums each gradient back to its input's shape.
"""
import numpy as np

from .. import _core
from .. import dtypes as D
from ..runtime import expressions as _expressions
from ..autograd.function import Function
from .dispatch import backend_of, check_same_device


def _where_pos(x, y, g):
    """relu's derivative, ``y <= 0 ? 0 : g`` in one kernel (``ThresholdBackward``)."""
    return ThresholdBackward.apply(g, y)


# name: (NumPy function, OpenCL C expression of x, derivative (x, y, g) -> dx, result kind)
# result kind: "float" ops turn integer inputs into the default float dtype; "same" keeps the dtype.
UNARY = {
    "neg": (np.negative, "-x", lambda x, y, g: -g, "same"),
    "abs": (np.abs, "fabs(x)", lambda x, y, g: g * x.sign(), "same"),
    "exp": (np.exp, "exp(x)", lambda x, y, g: g * y, "float"),
    "exp2": (np.exp2, "exp2(x)", lambda x, y, g: g * y * 0.6931471805599453, "float"),
    "expm1": (np.expm1, "expm1(x)", lambda x, y, g: g * (y + 1), "float"),
    "log": (np.log, "pg_log(x)", lambda x, y, g: g / x, "float"),
    "log2": (np.log2, "pg_log2(x)", lambda x, y, g: g / (x * 0.6931471805599453), "float"),
    "log10": (np.log10, "pg_log10(x)", lambda x, y, g: g / (x * 2.302585092994046), "float"),
    "log1p": (np.log1p, "pg_log1p(x)", lambda x, y, g: g / (x + 1), "float"),
    "sqrt": (np.sqrt, "sqrt(x)", lambda x, y, g: g / (y * 2), "float"),
    "rsqrt": (lambda x, out: np.divide(1, np.sqrt(x), out=out), "rsqrt(x)",
              lambda x, y, g: g * y * y * y * -0.5, "float"),
    "sin": (np.sin, "sin(x)", lambda x, y, g: g * x.cos(), "float"),
    "cos": (np.cos, "cos(x)", lambda x, y, g: -g * x.sin(), "float"),
    "tan": (np.tan, "tan(x)", lambda x, y, g: g * (y * y + 1), "float"),
    "tanh": (np.tanh, "tanh(x)", lambda x, y, g: g * (1 - y * y), "float"),
    "sigmoid": (lambda x, out: np.divide(1, 1 + np.exp(-x), out=out), "1 / (1 + exp(-x))",
                lambda x, y, g: g * y * (1 - y), "float"),
    "relu": (lambda x, out: np.maximum(x, 0, out=out), "(x > 0 || x != x) ? x : 0", _where_pos, "same"),
    "floor": (np.floor, "floor(x)", lambda x, y, g: g * 0, "same"),
    "ceil": (np.ceil, "ceil(x)", lambda x, y, g: g * 0, "same"),
    "round": (np.round, "rint(x)", lambda x, y, g: g * 0, "same"),
    "trunc": (np.trunc, "trunc(x)", lambda x, y, g: g * 0, "same"),
    "sign": (np.sign, "sign(x)", lambda x, y, g: g * 0, "same"),
    "reciprocal": (lambda x, out: np.divide(1, x, out=out), "1 / x", lambda x, y, g: -g * y * y, "float"),
    "square": (np.square, "x * x", lambda x, y, g: g * x * 2, "same"),
    "erf": (None, "pg_erf(x)", lambda x, y, g: g * 1.1283791670955126 * (-(x * x)).exp(), "float"),
    "bitwise_not": (lambda x, out: np.invert(x, out=out), "~x", None, "same"),
    "logical_not": (np.logical_not, "!x", None, "bool"),
    "isnan": (np.isnan, "isnan(x)", None, "bool"),
    "isinf": (np.isinf, "isinf(x)", None, "bool"),
    "isfinite": (np.isfinite, "isfinite(x)", None, "bool"),
}


def _erf(x, out):
    """NumPy has no erf: evaluate it with array operations (see ``_erf_series``)."""
    out[...] = _erf_series(x)
    return out


def _erf_series(x):
    """erf by its Taylor series for |x| < 2.5 and erfc's continued fraction beyond (~1e-14 accurate)."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax < 2.5
    xs = x[small]
    # Taylor series erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    term = xs.copy()
    acc = xs.copy()
    x2 = xs * xs
    for n in range(1, 60):
        term = term * -x2 / n
        acc = acc + term / (2 * n + 1)
    out[small] = acc * 1.1283791670955126
    # Continued fraction for erfc at larger |x|
    xl = ax[~small]
    frac = np.zeros_like(xl)
    for k in range(60, 0, -1):
        frac = (k / 2) / (xl + frac)
    erfc = np.exp(-xl * xl) / (xl + frac) / np.sqrt(np.pi)
    out[~small] = np.sign(x[~small]) * (1 - erfc)
    return out


def _vectorised(fast, slow):
    """A CPU kernel that runs ``fast`` (a compiled float32 loop of ``_vmath``) for float32 and float16
    and ``slow`` (float64 array ops, accurate to ~1e-14) for float64."""
    def fn(x, out):
        if x.dtype == np.float64:
            out[...] = slow(x)
        elif x.dtype == np.float32:
            fast(x, out)
        else:
            out[...] = fast(x.astype(np.float32), np.empty(x.shape, np.float32))
        return out
    return fn


_SQRT1_2, _SQRT_2_PI, _INV_SQRT_2PI = 0.7071067811865476, 0.7978845608028654, 0.3989422804014327


def _gelu64(x):
    return x * 0.5 * (1 + _erf_series(x * _SQRT1_2))


def _gelu_grad64(x):
    return 0.5 * (1 + _erf_series(x * _SQRT1_2)) + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _gelu_tanh64(x):
    return 0.5 * x * (1 + np.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3)))


def _gelu_tanh_grad64(x):
    t = np.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_PI * (1 + 0.134145 * x * x)


def _gelu_grad_grad(x, y, g):
    """d/dx (Phi(x) + x phi(x)) = phi(x) (2 - x^2)."""
    return g * (-0.5 * x * x).exp() * _INV_SQRT_2PI * (2 - x * x)


def _gelu_tanh_grad_grad(x, y, g):
    t = ((x + x * x * x * 0.044715) * _SQRT_2_PI).tanh()
    du = (x * x * 0.134145 + 1) * _SQRT_2_PI
    return g * (1 - t * t) * (du - x * t * du * du + x * x * (3 * 0.044715 * _SQRT_2_PI))


from .. import _vmath  # noqa: E402  (compiled float32 loops)

# gelu and its derivative are rows of their own: one pass over memory, no erf/exp/mul chain (the CPU
# kernel is a vectorised loop), and the graph shows PyTorch's GeluBackward0.
_CL_GELU = "x * (C1)0.5 * ((C1)1 + pg_erf(x * (C1)0.7071067811865476))"
_CL_GELU_GRAD = ("(C1)0.5 * ((C1)1 + pg_erf(x * (C1)0.7071067811865476)) + "
                 "x * (C1)0.3989422804014327 * exp((C1)-0.5 * x * x)")
_CL_S = "((C1)1 / ((C1)1 + exp((C1)-1.5957691216057308 * (x + (C1)0.044715 * x * x * x))))"  # 0.5(1 + tanh u)
_CL_GELU_TANH = f"x * {_CL_S}"
_CL_GELU_TANH_GRAD = (f"{_CL_S} + x * (C1)2 * {_CL_S} * ((C1)1 - {_CL_S}) "
                      "* (C1)0.7978845608028654 * ((C1)1 + (C1)0.134145 * x * x)")
UNARY["erf"] = (_vectorised(_vmath.erf, _erf_series), UNARY["erf"][1], UNARY["erf"][2], UNARY["erf"][3])
UNARY["gelu_backward"] = (_vectorised(_vmath.gelu_grad, _gelu_grad64), _CL_GELU_GRAD, _gelu_grad_grad, "float")
UNARY["gelu_tanh_backward"] = (_vectorised(_vmath.gelu_tanh_grad, _gelu_tanh_grad64), _CL_GELU_TANH_GRAD,
                               _gelu_tanh_grad_grad, "float")
UNARY["gelu"] = (_vectorised(_vmath.gelu, _gelu64), _CL_GELU,
                 lambda x, y, g: g * UNARY_OPS["gelu_backward"].apply(x), "float")
UNARY["gelu_tanh"] = (_vectorised(_vmath.gelu_tanh, _gelu_tanh64), _CL_GELU_TANH,
                      lambda x, y, g: g * UNARY_OPS["gelu_tanh_backward"].apply(x), "float")
_NODE_NAMES = {"gelu_tanh": "GeluBackward0", "gelu_tanh_backward": "GeluBackwardBackward0",
               "div_floor": "DivBackward2", "div_trunc": "DivBackward2",  # div(..., rounding_mode=...)
               "log1p": "Log1PBackward0", "square": "PowBackward0"}  # (PyTorch's spelling; square is x ** 2)


def _silu(x, out):
    with np.errstate(over="ignore"):
        return np.divide(x, 1 + np.exp(-x), out=out)


def _silu_grad(x, y, g):
    s = x.sigmoid()
    return g * s * (1 + x * (1 - s))


# silu(x) = x * sigmoid(x) as one op (PyTorch's SiluBackward0)
UNARY["silu"] = (_silu, "x / ((C1)1 + exp(-x))", _silu_grad, "float")


def _pow_grads(a, b, y, g):
    ga = None
    if getattr(a, "requires_grad", False):
        if not _is_tensor(b):
            ga = g * b * a ** (b - 1) if b != 0 else g * 0
        else:  # an exponent of 0 has derivative 0, also at a = 0 where a ** -1 is inf (PyTorch's convention)
            ga = where(b == 0, 0.0, g * b * a ** (b - 1))
    gb = None
    if getattr(b, "requires_grad", False):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a = a.log() if _is_tensor(a) else float(np.log(a))
        # d(0 ** b)/db is taken as 0 for b >= 0 (PyTorch's convention), not 0 * -inf = nan
        gb = where((b >= 0) & (a == 0), 0.0, g * a ** b * log_a)
    return ga, gb


def _div_trunc(a, b, out):
    np.trunc(np.true_divide(a, b), out=out) if out.dtype.kind == "f" else np.copyto(
        out, np.where((a % b != 0) & ((a < 0) != (b < 0)), a // b + 1, a // b), casting="unsafe")
    return out


def _power(a, b, out):
    """``a ** b``; for integers a negative exponent gives 1 / a**|b| truncated (0 unless a is 1 or -1)."""
    if out.dtype == np.bool_:  # x ** False is True, x ** True is x
        return np.logical_or(a, np.logical_not(b), out=out)
    if out.dtype.kind in "iu" and np.any(b < 0):
        inverse = np.where(a == 1, 1, np.where(a == -1, 1 - 2 * (b % 2), 0))
        np.copyto(out, np.where(b < 0, inverse, np.power(a, np.abs(b))), casting="unsafe")
        return out
    return np.power(a, b, out=out)


def _remainder(a, b, out):
    """Python's ``a % b`` (the sign of b) computed as PyTorch does, so ``-7. % 1.`` is ``-0.``."""
    if out.dtype.kind != "f":
        return np.remainder(a, b, out=out)
    m = np.fmod(a, b)
    np.copyto(out, np.where((m != 0) & ((b < 0) != (m < 0)), m + b, m))
    return out


def _zero2(a, b, y, g):
    return g * 0, g * 0


# name: (NumPy function, OpenCL C expression of a and b, derivative (a, b, y, g) -> (da, db), kind)
# kind: "arith" result_type of the inputs; "float" at least the default float; "bool" comparisons;
#       "int" integer/bool only (bitwise ops).
BINARY = {
    "add": (np.add, "a + b", lambda a, b, y, g: (g, g), "arith"),
    "sub": (np.subtract, "a - b", lambda a, b, y, g: (g, -g), "arith"),
    "mul": (np.multiply, "a * b", lambda a, b, y, g: (g * b, g * a), "arith"),
    "div": (np.true_divide, "a / b", lambda a, b, y, g: (g / b, -g * a / (b * b)), "float"),
    "div_floor": (np.floor_divide, "pg_ffloordiv(a, b)", _zero2, "arith"),
    "div_trunc": (_div_trunc, "trunc(a / b)", _zero2, "arith"),
    "remainder": (_remainder, "pg_fremainder(a, b)", lambda a, b, y, g: (g, -g * (a / b).floor()), "arith"),
    "fmod": (np.fmod, "fmod(a, b)", lambda a, b, y, g: (g, -g * (a / b).trunc()), "arith"),
    # squares and cubes by multiplication, exact as on the CPU (and as PyTorch's kernels): OpenCL allows
    # pow() 16 ulp of error, so x ** 2 of 3.0 may be 9.000000000000002 on a GPU driver
    "pow": (_power, "((b) == 2 ? (a) * (a) : (b) == 3 ? (a) * (a) * (a) : pg_pow(a, b))", _pow_grads, "arith"),
    "maximum": (np.maximum, "(a != a || b != b) ? a + b : max(a, b)",
                lambda a, b, y, g: (g * ((a > b) + (a == b) * 0.5), g * ((b > a) + (a == b) * 0.5)), "arith"),
    "minimum": (np.minimum, "(a != a || b != b) ? a + b : min(a, b)",
                lambda a, b, y, g: (g * ((a < b) + (a == b) * 0.5), g * ((b < a) + (a == b) * 0.5)), "arith"),
    "atan2": (np.arctan2, "atan2(a, b)",
              lambda a, b, y, g: (g * b / (a * a + b * b), -g * a / (a * a + b * b)), "float"),
    "eq": (np.equal, "a == b", None, "bool"),
    "ne": (np.not_equal, "a != b", None, "bool"),
    "lt": (np.less, "a < b", None, "bool"),
    "le": (np.less_equal, "a <= b", None, "bool"),
    "gt": (np.greater, "a > b", None, "bool"),
    "ge": (np.greater_equal, "a >= b", None, "bool"),
    "bitwise_and": (np.bitwise_and, "a & b", None, "int"),
    "bitwise_or": (np.bitwise_or, "a | b", None, "int"),
    "bitwise_xor": (np.bitwise_xor, "a ^ b", None, "int"),
    "logical_and": (np.logical_and, "a && b", None, "bool"),
    "logical_or": (np.logical_or, "a || b", None, "bool"),
    "logical_xor": (np.logical_xor, "!a != !b", None, "bool"),
}


def _is_tensor(x):
    return hasattr(x, "_storage")


def _check_number(x, opname):
    if not _is_tensor(x) and not isinstance(x, (int, float, bool, np.number, np.bool_)):
        raise TypeError(
            f"{opname}(): argument 'other' must be Tensor or Number, not {type(x).__name__}"
        )


# What each derivative reads besides ``g``.  Only that is saved for backward, as in PyTorch, so changing
# anything else in place afterwards is allowed.  UNARY ops not listed read ``x``.
_UNARY_READS = {
    "neg": "", "floor": "", "ceil": "", "round": "", "trunc": "", "sign": "",
    "exp": "y", "exp2": "y", "expm1": "y", "sqrt": "y", "rsqrt": "y", "tan": "y", "tanh": "y",
    "sigmoid": "y", "relu": "y", "reciprocal": "y",
}
# BINARY ops: (what da reads, what db reads); ops not listed read both a and b for both.
_BINARY_READS = {
    "add": ("", ""), "sub": ("", ""), "div_floor": ("", ""), "div_trunc": ("", ""),
    "mul": ("b", "a"), "div": ("b", "ab"), "remainder": ("", "ab"), "fmod": ("", "ab"),
}


class _Unary(Function):
    """Shared machinery of the generated unary op classes (one per UNARY row)."""

    op = None

    @classmethod
    def forward(cls, ctx, x):
        fn, _, _, kind = UNARY[cls.op]
        if kind == "float":
            out_dtype = compute = D.float_result(x.dtype)
        elif kind == "bool":
            out_dtype, compute = D.bool_, x.dtype
        else:
            out_dtype = compute = x.dtype
        if cls.op in ("bitwise_not",) and x.dtype.is_floating_point:
            raise NotImplementedError(f'"bitwise_not_cpu" not implemented for \'{_type_word(x.dtype)}\'')
        if x.dtype is D.bool_:
            fn, out_dtype, compute = _bool_unary(cls.op, fn, out_dtype, compute)
        y = backend_of(x).elementwise(fn, (x,), x._shape, out_dtype, compute)
        if ctx.needs_input_grad and ctx.needs_input_grad[0]:
            reads = _UNARY_READS.get(cls.op, "x")
            ctx.save_for_backward(x if "x" in reads else None, y if "y" in reads else None)
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        return UNARY[cls.op][2](x, y, g)


def _type_word(d):
    from .reduce import _torch_type_word

    return _torch_type_word(d)


def _bool_unary(op, fn, out_dtype, compute):
    """PyTorch's rules for ops on a bool tensor: some refuse it, ``square`` gives int64."""
    if op == "neg":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if op == "relu":
        raise RuntimeError("Boolean inputs not supported for relu")
    if op in ("abs", "floor", "ceil", "round", "trunc"):
        raise NotImplementedError(f'"{op}_cpu" not implemented for \'Bool\'')
    if op == "square":
        return fn, D.int64, D.int64
    return fn, out_dtype, compute


class _Binary(Function):
    """Shared machinery of the generated binary op classes (one per BINARY row)."""

    op = None

    @classmethod
    def forward(cls, ctx, a, b):
        fn, _, grad, kind = BINARY[cls.op]
        ta, tb = _is_tensor(a), _is_tensor(b)
        if not tb:
            _check_number(b, cls.op)
        if not ta:
            _check_number(a, cls.op)
        t = a if ta else b
        if ta and tb:
            if a._storage.device is not b._storage.device:
                check_same_device(a, b)
            shape = a._shape if a._shape == b._shape else _core.broadcast_shapes(a._shape, b._shape)
            compute = a.dtype if a.dtype is b.dtype else D.result_type(a, b)  # (the common case first)
        else:
            shape = t._shape
            compute = D.result_type(a, b)
        if kind == "float":
            out_dtype = compute = D.float_result(compute)
        elif kind == "bool":
            out_dtype = D.bool_
        elif kind == "int":
            if compute.is_floating_point:
                raise NotImplementedError(f'"{cls.op}_cpu" not implemented for \'{_type_word(compute)}\'')
            out_dtype = compute
        else:
            if compute is D.bool_ and (cls.op in ("div_floor", "fmod", "remainder") or cls.op == "pow" and tb):
                raise NotImplementedError(f'"{cls.op if cls.op == "pow" else cls.op + "_cpu"}" not implemented for \'Bool\'')
            if compute is D.bool_ and cls.op in ("sub",):
                raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                                   "Use the `^` or `logical_xor()` operator instead.")
            if cls.op == "sub" and any(isinstance(v, bool) or getattr(v, "dtype", None) is D.bool_ for v in (a, b)):
                raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                                   "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
            out_dtype = compute
        if cls.op in ("div_floor", "div_trunc", "remainder", "fmod") and not compute.is_floating_point and \
                _core.numel(shape):  # (an empty result divides nothing)
            _check_int_division(b)
        if cls.op == "pow" and not compute.is_floating_point and not _is_tensor(b) and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        special = _POW_SCALAR.get(b) if cls.op == "pow" and ta and not tb and compute.is_floating_point \
            and not isinstance(b, bool) else None
        if special is not None:  # x ** 2, x ** 0.5, ...: PyTorch's kernels for these exponents, not pow()
            y = backend_of(t).elementwise(special, (a,), shape, out_dtype, compute)
        else:
            y = backend_of(t).elementwise(fn, (a, b), shape, out_dtype, compute)
        if grad is not None and any(ctx.needs_input_grad):
            _save_operands(cls.op, ctx, a, b)
        return y

    @classmethod
    def backward(cls, ctx, g):
        # An operand that was not saved is not read by the gradients we need, but the row computes both:
        # it gets a harmless stand-in (1), and the gradient of an input that needs none is dropped.
        if _BINARY_READS.get(cls.op) == ("", ""):  # (add, sub, ...: the derivative reads neither operand)
            a = b = None
        else:
            a, b = (saved if saved is not None else scalar if scalar is not None else g.new_ones(())
                    for saved, scalar in zip(ctx.saved_tensors, ctx.scalars))
        ga, gb = BINARY[cls.op][2](a, b, None, g)  # no BINARY derivative reads the result y
        return ga if ctx.needs_input_grad[0] else None, gb if ctx.needs_input_grad[1] else None


def _save_operands(op, ctx, a, b):
    """Save what the derivative of ``op`` reads (``_BINARY_READS``) for the inputs that need a gradient."""
    da_reads, db_reads = _BINARY_READS.get(op, ("ab", "ab"))
    needs = ctx.needs_input_grad
    reads = (da_reads if needs[0] else "") + (db_reads if needs[1] else "")
    ctx.save_for_backward(a if "a" in reads and _is_tensor(a) else None, b if "b" in reads and _is_tensor(b) else None)
    ctx.scalars = (None if _is_tensor(a) else a, None if _is_tensor(b) else b)


def _check_int_division(b):
    zero = (b == 0).any().item() if _is_tensor(b) else b == 0
    if zero:
        raise RuntimeError("ZeroDivisionError")


def _make(base, table):
    classes = {}
    for opname in table:
        cname = "".join(p.capitalize() for p in opname.split("_"))
        attrs = {"op": opname, "_builtin": True, "__doc__": f"The elementwise op ``{opname}``."}
        if opname in _NODE_NAMES:
            attrs["node_name"] = _NODE_NAMES[opname]
        classes[opname] = type(cname, (base,), attrs)
    return classes


UNARY_OPS = _make(_Unary, UNARY)
BINARY_OPS = _make(_Binary, BINARY)


def _overload(opname, node_name, doc):
    """The same op recorded under the node name PyTorch gives one of its overloads."""
    return type(BINARY_OPS[opname].__name__ + node_name[-1], (BINARY_OPS[opname],),
                {"node_name": node_name, "__doc__": doc})


def _no_derivative(opname, aten):
    """An overload PyTorch records as ``NotImplemented``: the forward runs, backward through it fails."""
    def backward(cls, ctx, g):
        raise RuntimeError(f"derivative for aten::{aten} is not implemented")

    return type(BINARY_OPS[opname].__name__ + "NoGrad", (BINARY_OPS[opname],),
                {"node_name": "NotImplemented", "backward": classmethod(backward), "__doc__": f"``{aten}``"})


FloorDivide = _no_derivative("div_floor", "floor_divide")  # ``floor_divide`` and ``//``

# (op, first is a tensor, second is a tensor) -> the class of that overload
_OVERLOADS = {
    ("pow", True, True): _overload("pow", "PowBackward1", "``pow(Tensor, Tensor)``"),
    ("pow", False, True): _overload("pow", "PowBackward2", "``pow(Number, Tensor)``"),
    ("fmod", True, True): _overload("fmod", "FmodBackward1", "``fmod(Tensor, Tensor)``"),
    ("remainder", True, True): _overload("remainder", "RemainderBackward1", "``remainder(Tensor, Tensor)``"),
    ("remainder", False, True): _no_derivative("remainder", "remainder"),  # ``3 % x``
}
_OVERLOAD_OPS = {"pow", "fmod", "remainder", "floor_divide"}


def unary(opname, x):
    """Apply the UNARY op ``opname`` to tensor ``x``."""
    if _hot_unary is not None:  # the compiled path for float CPU tensors; None: take the general one
        y = _hot_unary(opname, x)
        if y is not None:
            return y
    if opname == "sign" and x.dtype is D.bool_:
        return x.clone()  # the sign of True is True, of False is False
    if opname == "bitwise_not" and x.dtype is D.bool_:  # (~ of the byte 1 is 254, which reads as True)
        return UNARY_OPS["logical_not"].apply(x)
    return UNARY_OPS[opname].apply(x)


def binary(opname, a, b):
    """Apply the BINARY op ``opname`` to two operands, at least one of them a tensor."""
    if opname in _OVERLOAD_OPS:  # (an overload with a node name of its own: the general path records it)
        return _overloaded(opname, a, b)
    if _hot_binary is not None:  # the compiled path for float CPU tensors; None: take the general one
        y = _hot_binary(opname, a, b)
        if y is not None:
            return y
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = _from_ndarray(a, b), _from_ndarray(b, a)
    if _is_tensor(a) and _is_tensor(b) and a._storage.device is not b._storage.device:
        a, b = cpu_scalars_to_device(a, b)
    return BINARY_OPS[opname].apply(a, b)


def _overloaded(opname, a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = _from_ndarray(a, b), _from_ndarray(b, a)
    if _is_tensor(a) and _is_tensor(b) and a._storage.device is not b._storage.device:
        a, b = cpu_scalars_to_device(a, b)
    if opname == "floor_divide":
        return FloorDivide.apply(a, b)
    return _OVERLOADS.get((opname, _is_tensor(a), _is_tensor(b)), BINARY_OPS[opname]).apply(a, b)


def setup_hotpath():
    """Hand the compiled fast path (``pygrad/_hotpath.pyx``) what it needs, once ``Tensor`` exists (called by
    ``tensor_methods``).  Without the built module, or on a NumPy with no error-state context variable, every
    op takes the general path (same results, slower).  Returns the compiled operators (``__add__`` ...) for
    ``Tensor``, or an empty dict."""
    global _hot_binary, _hot_unary
    try:
        from .. import _hotpath
        from numpy._core.umath import _extobj_contextvar, _make_extobj
    except ImportError:
        return {}
    from ..autograd import grad_mode
    from ..autograd.engine import _edge
    from ..device import CPU
    from ..tensor import Tensor

    _hotpath.setup(Tensor, _core.Storage, CPU, grad_mode._state, Function.__dict__["apply"], _edge, _extobj_contextvar,
                   _make_extobj(all="ignore"), D.float32, D.float64)
    for name in ("add", "sub", "mul", "div", "div_floor", "fmod", "atan2"):  # (NumPy ufuncs taking out positionally)
        fn, _, grad, kind = BINARY[name]
        assert isinstance(fn, np.ufunc) and grad is not None and kind in ("arith", "float")
        _hotpath.register(name, BINARY_OPS[name], fn, *_BINARY_READS.get(name, ("ab", "ab")))
    for name, (fn, _, grad, kind) in UNARY.items():
        if fn is not None and grad is not None and kind in ("float", "same"):
            _hotpath.register_unary(name, UNARY_OPS[name], fn, _UNARY_READS.get(name, "x"))
    _hotpath.set_general(binary)
    _hotpath.set_opencl_binder(_bind_opencl_hotpath)
    _hot_binary, _hot_unary = _hotpath.binary, _hotpath.unary
    return {"__add__": _hotpath.tensor_add, "__radd__": _hotpath.tensor_radd, "__sub__": _hotpath.tensor_sub,
            "__rsub__": _hotpath.tensor_rsub, "__mul__": _hotpath.tensor_mul, "__rmul__": _hotpath.tensor_rmul,
            "__truediv__": _hotpath.tensor_truediv, "__rtruediv__": _hotpath.tensor_rtruediv}


_hot_binary = _hot_unary = None  # the compiled path's entries, bound by setup_hotpath()


def _bind_opencl_hotpath():
    """Hand the compiled path's OpenCL twin the runtime pieces it uses (on the first op of an OpenCL tensor)."""
    from .. import _hotpath
    from ..runtime import get_backend
    from ..runtime.opencl import kernels, runtime

    _hotpath.setup_opencl(get_backend, kernels, runtime._state, runtime._HOST_CHECK_BYTES)


def cpu_scalars_to_device(*tensors):
    """PyTorch lets a 0-d CPU tensor join an op on another device (it acts as a scalar there): move such
    operands to the device of the first tensor that is not one, keeping their dtype (for type promotion)
    and their graph (``to`` is differentiable).  Anything else is left to the same-device check."""
    dev = next((t.device for t in tensors if _is_tensor(t) and not (t.dim() == 0 and t.device.type == "cpu")),
               None)
    if dev is None or dev.type == "cpu":
        return tensors
    return tuple(t.to(dev) if _is_tensor(t) and t.dim() == 0 and t.device.type == "cpu" else t for t in tensors)


def _from_ndarray(v, like):
    """A NumPy array operand becomes a tensor on the other operand's device (as in PyTorch)."""
    if not isinstance(v, np.ndarray):
        return v
    from ..creation import tensor

    return tensor(v, device=like.device)


# ----------------------------------------------------------------------------------------------
# Elementwise ops with more than two operands or special arguments
# ----------------------------------------------------------------------------------------------
def _np_where(c, x, y, out):
    return np.copyto(out, np.where(c, x, y))


def _np_clamp(x, lo, hi, out):
    return np.minimum(np.maximum(x, lo, out=out), hi, out=out)


def _np_threshold_backward(g, y, out):
    if not _vmath.threshold_backward(g, y, out):  # one compiled pass for dense float32/float64 operands
        np.copyto(out, np.where(y <= 0, 0, g))


def _np_affine(a, b, c, out):
    np.multiply(a, b, out=out)
    return np.add(out, c, out=out)


def _np_cube(x, out):
    np.multiply(x, x, out=out)
    return np.multiply(out, x, out=out)


def _np_inv_square(x, out):
    np.multiply(x, x, out=out)
    return np.divide(1, out, out=out)


def _np_pow_one(x, out):
    return np.copyto(out, x)


def _np_pow_zero(x, out):
    return np.copyto(out, 1)


# A floating tensor to these Python-number powers is computed as PyTorch computes it (its pow kernels special-case
# them), not by pow(): the same values (sqrt(-0.) is -0., where pow(-0., 0.5) is +0.; squares exact, NaN ** 0 is
# 1) and far faster on OpenCL devices, where pow() is a slow scalar library call (PoCL: ~100 ns per element, so
# the x ** 1 inside the gradient of x ** 2 took 13 ms for 131072 floats).  Ints keep pow (pg_ipow on OpenCL).
_POW_SCALAR = {2: UNARY["square"][0], 3: _np_cube, 0.5: UNARY["sqrt"][0], -0.5: UNARY["rsqrt"][0],
               -1: UNARY["reciprocal"][0], -2: _np_inv_square, 1: _np_pow_one, 0: _np_pow_zero}


def affine(a, b, c):
    """``a * b + c`` (broadcast) as one kernel, with no autograd node: batch norm's per-channel scale and shift."""
    shape = _core.broadcast_shapes(_core.broadcast_shapes(a._shape, b._shape), c._shape)
    return backend_of(a).elementwise(_np_affine, (a, b, c), shape, a.dtype, a.dtype)


# Kernels of the ops above for the OpenCL backend: function -> (name, C expression, arity).
EXTRA_CL = {
    _np_affine: ("affine", "a * b + c", 3),
    _np_where: ("where", "a ? b : c", 3),
    _np_threshold_backward: ("threshold_backward", "b <= 0 ? 0 : a", 2),
    _np_clamp: ("clamp", "(b != b || c != c || a != a) ? a + b + c : min(max(a, b), c)", 3),
    _np_cube: ("pow_cube", "a * a * a", 1),
    _np_inv_square: ("pow_inv_square", "1 / (a * a)", 1),
    _np_pow_one: ("pow_one", "a", 1),
    _np_pow_zero: ("pow_zero", "1", 1),
}
_expressions.register(UNARY, BINARY, EXTRA_CL)  # the OpenCL backend reads the expressions from there


class ThresholdBackward(Function):
    """relu's backward, PyTorch's ``threshold_backward``: 0 where ``y <= 0``, else ``g`` (so a NaN output passes
    ``g``, as in PyTorch), as one kernel
    (``g * (y > 0)`` took two, and two more OpenCL programs to build in a first training step).
    Linear in ``g``, so its own backward is itself (double backward through relu)."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(y)
        shape = _core.broadcast_shapes(g._shape, y._shape)
        return backend_of(g).elementwise(_np_threshold_backward, (g, y), shape, g.dtype, (g.dtype, y.dtype))

    @staticmethod
    def backward(ctx, gg):
        (y,) = ctx.saved_tensors
        return ThresholdBackward.apply(gg, y), None


class Where(Function):
    """``condition ? a : b`` with broadcasting; the gradient flows to the side that was picked."""

    _builtin = True

    @staticmethod
    def forward(ctx, cond, a, b):
        t = next(v for v in (a, b, cond) if _is_tensor(v))
        if not _is_tensor(cond) or cond.dtype is not D.bool_:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{getattr(getattr(cond, 'dtype', None), 'name', type(cond).__name__).capitalize()}")
        tensors = [v for v in (cond, a, b) if _is_tensor(v)]
        check_same_device(*tensors)
        shape = _core.broadcast_shapes(*(v._shape for v in tensors))
        dtype = D.result_type(a, b)
        ctx.save_for_backward(cond)
        return backend_of(t).elementwise(_np_where, (cond, a, b), shape, dtype, (D.bool_, dtype, dtype))

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        zero = g.new_zeros(())
        return None, where(cond, g, zero), where(cond, zero, g)


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    condition, input, other = cpu_scalars_to_device(condition, input, other)
    r = Where.apply(condition, input, other)
    if out is None:
        return r
    from .movement import _into

    return _into(out, r)


class Clamp(Function):
    """Limit values to ``[min, max]``; gradient is 1 where the value was inside the range, else 0."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        if lo is None and hi is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        dtype = D.result_type(*(v for v in (x, lo, hi) if v is not None))
        ctx.save_for_backward(x, *(v if _is_tensor(v) else None for v in (lo, hi)))
        ctx.bounds = (lo, hi)
        ins = [x] + [v for v in (lo, hi) if v is not None]
        shape = _core.broadcast_shapes(*(v._shape for v in ins if _is_tensor(v)))
        fn = np.minimum if lo is None else np.maximum if hi is None else _np_clamp
        return backend_of(x).elementwise(fn, ins, shape, dtype, dtype)

    @staticmethod
    def backward(ctx, g):
        x, tlo, thi = ctx.saved_tensors
        lo, hi = ctx.bounds
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else keep & (x <= hi)
        gx = g * keep
        # where min > max every element is max, so the gradient goes to max there (as in PyTorch)
        glo = ghi = None
        if tlo is not None:
            glo = g * ((x < lo) if hi is None else (x < lo) & (lo < hi))
        if thi is not None:
            ghi = g * ((x > hi) if lo is None else (x > hi) | (hi < lo))
        return gx, glo, ghi


class ClampScalar(Clamp):
    """``clamp`` with number bounds: PyTorch records this as ``ClampBackward1`` (tensor bounds: ``ClampBackward0``)."""

    node_name = "ClampBackward1"


class ClampMin(Clamp):
    node_name = "ClampMinBackward0"


class ClampMax(Clamp):
    node_name = "ClampMaxBackward0"


def clamp(x, min=None, max=None):
    return (Clamp if _is_tensor(min) or _is_tensor(max) else ClampScalar).apply(x, min, max)


def clamp_min(x, min):
    """``max(x, min)`` (``ClampMinBackward0``; a tensor ``min``: the tensor ``clamp``)."""
    return (Clamp if _is_tensor(min) else ClampMin).apply(x, min, None)


def clamp_max(x, max):
    """``min(x, max)`` (``ClampMaxBackward0``; a tensor ``max``: the tensor ``clamp``)."""
    return (Clamp if _is_tensor(max) else ClampMax).apply(x, None, max)


def lerp(x, end, weight):
    return x + (end - x) * weight


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    if a.dtype is not getattr(b, "dtype", a.dtype):
        raise RuntimeError(f"{a.dtype} did not match {b.dtype}")
    diff = (a - b).abs() if a.dtype is not D.bool_ else (a != b)
    close = (a == b) | (diff <= atol + rtol * (b.abs() if hasattr(b, "abs") else abs(b)))
    if equal_nan and a.dtype.is_floating_point:
        close = close | (a.isnan() & (b.isnan() if _is_tensor(b) else False))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(a, b, rtol, atol, equal_nan).all())


def equal(a, b):
    return a._shape == b._shape and bool((a == b).all())


class MaskedFill(Function):
    """``x`` with ``value`` (a number) where ``mask`` is True, in ``x``'s dtype: one ``where`` kernel, PyTorch's
    node ``MaskedFillBackward0``; the gradient is ``g`` where the mask is False, else 0 (GPT's causal mask)."""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        shape = _core.broadcast_shapes(x._shape, mask._shape)
        return backend_of(x).elementwise(_np_where, (mask, value, x), shape, x.dtype, (D.bool_, x.dtype, x.dtype))

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return where(mask, g.new_zeros(()), g), None, None


class MaskedFillTensor(MaskedFill):
    """``masked_fill`` with a 0-d tensor ``value`` (``MaskedFillBackward1``): the value's gradient is the sum of
    ``g`` over the masked places."""

    node_name = "MaskedFillBackward1"

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        zero = g.new_zeros(())
        return where(mask, zero, g), None, where(mask, g, zero).sum() if ctx.needs_input_grad[2] else None


def masked_fill(x, mask, value):
    if not _is_tensor(mask) or mask.dtype is not D.bool_:
        what = D.CPP_NAMES[mask.dtype.name] if _is_tensor(mask) else type(mask).__name__
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {what}")
    if _is_tensor(value):
        if value.dim() != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s).")
        x, mask, value = cpu_scalars_to_device(x, mask, value)
        check_same_device(x, mask, value)
        return MaskedFillTensor.apply(x, mask, value)
    check_same_device(x, mask)
    return MaskedFill.apply(x, mask, x.new_full((), value))
