"""Operators and op methods of ``Tensor``: each one is a call into the op module that defines it.

Kept apart from ``tensor.py`` so that file stays about what a tensor *is*; this one is the list of
what you can *do* with it.  ``x.add(y)``, ``x + y`` and ``pygrad.add(x, y)`` all reach the same op.
"""
from . import dtypes as D
from .ops import elementwise as E
from .ops import indexing as I
from .ops import linalg as L
from .ops import matrix as X
from .ops import movement as M
from .ops import reduce as R
from .ops import inplace as P
from .tensor import Tensor


def _binary(name, reflected=False):
    if reflected:
        def method(self, other):
            return E.binary(name, other, self)
    else:
        def method(self, other):
            return E.binary(name, self, other)
    method.__name__ = name
    return method


def _unary(name):
    def method(self):
        return E.unary(name, self)
    method.__name__ = name
    return method


def _check_alpha(self, alpha):
    if isinstance(alpha, float) and not self.dtype.is_floating_point:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")


def add(self, other, *, alpha=1):
    _check_alpha(self, alpha)
    return E.binary("add", self, other if alpha == 1 else other * alpha)


def sub(self, other, *, alpha=1):
    _check_alpha(self, alpha)
    return E.binary("sub", self, other if alpha == 1 else other * alpha)


def div(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return E.binary("div", self, other)
    if rounding_mode == "floor":
        return E.binary("div_floor", self, other)
    if rounding_mode == "trunc":
        return E.binary("div_trunc", self, other)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


def pow_(self, exponent):
    return E.binary("pow", self, exponent)


def rpow(self, base):
    return E.binary("pow", base, self)


def clamp(self, min=None, max=None):
    return E.clamp(self, min, max)


def addcmul(self, tensor1, tensor2, *, value=1):
    """``self + value * tensor1 * tensor2`` (optimizers keep running averages of squares with it)."""
    return self + value * tensor1 * tensor2


def addcdiv(self, tensor1, tensor2, *, value=1):
    """``self + value * tensor1 / tensor2`` (Adam-style updates divide by a running RMS with it)."""
    return self + value * tensor1 / tensor2


def where(self, condition, other):
    return E.where(condition, self, other)


def matmul(self, other):
    return L.matmul(self, other)


def rmatmul(self, other):
    return L.matmul(other, self)


def invert(self):
    if self.dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return E.unary("bitwise_not", self)  # (of a bool tensor: logical not, see ops.elementwise.unary)


def _eq(self, other):
    if not (hasattr(other, "_storage") or isinstance(other, (int, float, bool))):
        return False
    return E.binary("eq", self, other)


def _ne(self, other):
    if not (hasattr(other, "_storage") or isinstance(other, (int, float, bool))):
        return True
    return E.binary("ne", self, other)


METHODS = {
    # arithmetic
    "add": add, "sub": sub, "subtract": sub, "mul": _binary("mul"), "multiply": _binary("mul"),
    "div": div, "divide": div, "true_divide": _binary("div"), "floor_divide": _binary("floor_divide"),
    "remainder": _binary("remainder"), "fmod": _binary("fmod"), "pow": pow_,
    "maximum": _binary("maximum"), "minimum": _binary("minimum"), "atan2": _binary("atan2"),
    "eq": _binary("eq"), "ne": _binary("ne"), "lt": _binary("lt"), "le": _binary("le"),
    "gt": _binary("gt"), "ge": _binary("ge"), "greater": _binary("gt"), "less": _binary("lt"),
    "greater_equal": _binary("ge"), "less_equal": _binary("le"), "not_equal": _binary("ne"),
    "bitwise_and": _binary("bitwise_and"), "bitwise_or": _binary("bitwise_or"),
    "bitwise_xor": _binary("bitwise_xor"), "logical_and": _binary("logical_and"),
    "logical_or": _binary("logical_or"), "logical_xor": _binary("logical_xor"),
    "clamp": clamp, "clip": clamp, "clamp_min": E.clamp_min, "clamp_max": E.clamp_max, "where": where,
    "matmul": matmul,
    "mm": L.mm, "bmm": L.bmm, "dot": L.dot, "mv": L.mv, "outer": L.outer, "inner": L.dot,
    "addmm": L.addmm,
    "lerp": E.lerp, "allclose": E.allclose, "isclose": E.isclose, "equal": E.equal,
    "masked_fill": E.masked_fill,
    "tril": X.tril, "triu": X.triu, "tril_": X.tril_, "triu_": X.triu_,
    # operators
    "__add__": add, "__radd__": _binary("add", True), "__sub__": sub, "__rsub__": _binary("sub", True),
    "__mul__": _binary("mul"), "__rmul__": _binary("mul", True), "__truediv__": _binary("div"),
    "__rtruediv__": _binary("div", True), "__floordiv__": _binary("floor_divide"),
    "__rfloordiv__": _binary("floor_divide", True), "__mod__": _binary("remainder"),
    "__rmod__": _binary("remainder", True), "__pow__": pow_, "__rpow__": rpow,
    "__matmul__": matmul, "__rmatmul__": rmatmul, "__neg__": _unary("neg"), "__pos__": lambda self: self,
    "__abs__": _unary("abs"), "__invert__": invert,
    "__and__": _binary("bitwise_and"), "__rand__": _binary("bitwise_and", True),
    "__or__": _binary("bitwise_or"), "__ror__": _binary("bitwise_or", True),
    "__xor__": _binary("bitwise_xor"), "__rxor__": _binary("bitwise_xor", True),
    "__eq__": _eq, "__ne__": _ne, "__lt__": _binary("lt"), "__le__": _binary("le"),
    "__gt__": _binary("gt"), "__ge__": _binary("ge"),
    "__getitem__": I.getitem, "__setitem__": I.setitem,
    # shape and views
    "view": M.view, "view_as": M.view_as, "reshape": M.reshape, "reshape_as": M.reshape_as,
    "flatten": M.flatten, "unflatten": M.unflatten, "squeeze": M.squeeze, "unsqueeze": M.unsqueeze,
    "transpose": M.transpose, "swapaxes": M.transpose, "swapdims": M.transpose, "t": M.t,
    "permute": M.permute, "expand": M.expand, "expand_as": M.expand_as, "contiguous": M.contiguous,
    "narrow": M.narrow, "select": M.select, "unbind": M.unbind, "chunk": M.chunk, "split": M.split,
    "flip": M.flip, "repeat": M.repeat, "tile": M.tile, "movedim": M.movedim, "moveaxis": M.movedim,
    "clone": M.clone, "as_strided": M.as_strided, "roll": M.roll,
    "gather": I.gather, "index_select": I.index_select, "masked_select": I.masked_select,
    "nonzero": I.nonzero, "scatter": I.scatter, "scatter_add": I.scatter_add,
    "scatter_": I.scatter_, "scatter_add_": I.scatter_add_, "put_": I.put_,
    "index_put_": I.index_put_, "index_put": I.index_put, "masked_fill_": P.masked_fill_,
    # reductions
    "sum": R.sum, "mean": R.mean, "prod": R.prod, "std": R.std, "var": R.var, "min": R.min,
    "max": R.max, "amin": R.amin, "amax": R.amax, "argmin": R.argmin, "argmax": R.argmax,
    "all": R.all, "any": R.any, "logsumexp": R.logsumexp, "cumsum": R.cumsum, "cumprod": R.cumprod,
    "norm": R.norm, "softmax": R.softmax, "log_softmax": R.log_softmax, "sort": R.sort,
    "argsort": R.argsort, "topk": R.topk, "count_nonzero": R.count_nonzero, "median": R.median,
    # in place
    "add_": P.add_, "sub_": P.sub_, "mul_": P.mul_, "div_": P.div_, "floor_divide_": P.floor_divide_, "pow_": P.pow_, "neg_": P.neg_,
    "copy_": P.copy_, "zero_": P.zero_, "fill_": P.fill_, "clamp_": P.clamp_, "clip_": P.clamp_,
    "clamp_min_": P.clamp_min_, "clamp_max_": P.clamp_max_,
    "t_": P.t_, "abs_": P.abs_, "exp_": P.exp_, "sqrt_": P.sqrt_, "relu_": P.relu_,
    "sigmoid_": P.sigmoid_, "tanh_": P.tanh_, "floor_": P.floor_, "round_": P.round_,
    "uniform_": P.uniform_, "normal_": P.normal_, "random_": P.random_, "bernoulli_": P.bernoulli_,
    "exponential_": P.exponential_, "fmod_": P.fmod_, "remainder_": P.remainder_,
    "addcmul": addcmul, "addcdiv": addcdiv, "addcmul_": P.addcmul_, "addcdiv_": P.addcdiv_, "lerp_": P.lerp_,
    "__iadd__": P.add_, "__isub__": P.sub_, "__imul__": P.mul_, "__itruediv__": P.div_,
    # new tensors like this one
    "new_ones": None, "new_zeros": None, "new_full": None, "new_tensor": None, "new_empty": None,
}

for _name in E.UNARY:
    if _name not in ("bitwise_not", "logical_not", "silu") and not _name.startswith("gelu"):  # F.* only
        METHODS.setdefault(_name, _unary(_name))
METHODS["logical_not"] = _unary("logical_not")
METHODS["bitwise_not"] = _unary("bitwise_not")
METHODS["absolute"] = METHODS["abs"]
METHODS["negative"] = METHODS["neg"]
METHODS["arctan2"] = METHODS["atan2"]


# NumPy spellings PyTorch also accepts on reductions: ``axis=`` for ``dim=``, ``keepdims=`` for ``keepdim=``.
_AXIS_ALIASED = ("sum", "mean", "prod", "std", "var", "max", "min", "amax", "amin", "argmax", "argmin", "all",
                 "any", "cumsum", "cumprod", "logsumexp", "median", "norm", "count_nonzero", "nansum", "nanmean",
                 "std_mean", "var_mean", "aminmax", "softmax", "log_softmax", "sort", "argsort", "topk", "flip",
                 "squeeze", "unsqueeze", "cummax", "cummin", "mode", "nanmedian", "logcumsumexp")


def _numpy_aliases(fn):
    def method(self, *args, **kwargs):
        if not kwargs:  # the common call: no keywords, no translation
            return fn(self, *args)
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}() received both 'dim' and its alias 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            if "keepdim" in kwargs:
                raise TypeError(f"{fn.__name__}() received both 'keepdim' and its alias 'keepdims'")
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = getattr(fn, "__name__", "method")
    method.__doc__ = getattr(fn, "__doc__", None)
    return method


def _install():
    from . import creation as C

    for k in ("new_ones", "new_zeros", "new_full", "new_tensor", "new_empty"):
        METHODS[k] = getattr(C, k)
    for name, fn in METHODS.items():
        setattr(Tensor, name, _numpy_aliases(fn) if name in _AXIS_ALIASED else fn)
    for name, fn in E.setup_hotpath().items():  # a + b, a * 2.0, ...: straight into the compiled path
        setattr(Tensor, name, fn)


_install()
