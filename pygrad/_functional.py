"""The function forms of tensor methods: ``pygrad.add(x, y)`` is ``x.add(y)``, ``pygrad.sum(x)`` is ``x.sum()``."""
from .ops.movement import _into
from .tensor import Tensor

_NAMES = """
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow maximum minimum atan2
eq ne lt le gt ge greater less greater_equal less_equal not_equal bitwise_and bitwise_or bitwise_xor
bitwise_not logical_and logical_or logical_xor logical_not clamp clip clamp_min clamp_max masked_fill
neg negative abs absolute exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan tanh sigmoid relu
floor ceil round trunc sign reciprocal square erf isnan isinf isfinite
sum mean prod std var min max amin amax argmin argmax all any logsumexp cumsum cumprod norm softmax
log_softmax sort argsort topk median count_nonzero
reshape flatten unflatten squeeze unsqueeze transpose swapaxes swapdims t permute narrow select unbind
chunk split flip tile movedim moveaxis roll gather index_select masked_select nonzero scatter scatter_add
clone as_strided index_put tril triu
""".split()


def _make(name):
    method = getattr(Tensor, name)

    def fn(input, *args, out=None, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return _into(out, method(input, *args, **kwargs))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Function form of ``Tensor.{name}``: ``pygrad.{name}(x, ...)`` is ``x.{name}(...)``."
    return fn


for _n in _NAMES:
    globals()[_n] = _make(_n)

__all__ = list(_NAMES)


def pow(input, exponent, *, out=None):  # noqa: A001  (PyTorch's name)
    """``pygrad.pow(x, e)`` is ``x.pow(e)``; a number as ``input`` is PyTorch's ``pow(Number, Tensor)``."""
    if isinstance(input, Tensor):
        return _into(out, input.pow(exponent))
    if isinstance(exponent, Tensor) and isinstance(input, (bool, int, float)):
        return _into(out, exponent.__rpow__(input))
    raise TypeError(f"pow() received an invalid combination of arguments - got ({type(input).__name__}, "
                    f"{type(exponent).__name__})")

