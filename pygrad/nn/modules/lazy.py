"""Lazy layers (``nn.LazyLinear``, ``nn.LazyConv1d/2d``): the input size is taken from the first call.

Until then the weights are ``UninitializedParameter`` placeholders (empty tensors that still follow
``.to(device)``); the first forward builds the real layer with the same initialisation as the eager
class and the module becomes that class (``LazyLinear`` -> ``Linear``), as in PyTorch.
"""
from ... import creation
from ..module import Module
from ..parameter import Parameter
from .conv import Conv1d, Conv2d
from .linear import Linear


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (no data): materialised by the lazy module's first call."""

    cls_to_become = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"

    __str__ = __repr__


class LazyModuleMixin:
    """Materialise the parameters from the first input, then turn into ``cls_to_become``."""

    cls_to_become = None

    def has_uninitialized_params(self):
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(*args, **kwargs)
        return Module.__call__(self, *args, **kwargs)

    def _become(self, fresh):
        """Take the parameters and attributes of ``fresh`` (an eager layer built with the inferred size)."""
        ref = self.weight
        for name, p in fresh._parameters.items():
            if p is not None:
                p = Parameter(p.detach().to(device=ref.device, dtype=ref.dtype), p.requires_grad)
            self._parameters[name] = p
        for k, v in fresh.__dict__.items():
            if not k.startswith("_") and k != "training":
                self.__dict__[k] = v
        self.__class__ = self.cls_to_become


def _placeholder(device, dtype):
    return UninitializedParameter(creation.empty(0, device=device, dtype=dtype))


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the last dim of the first input."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features, self.out_features = 0, out_features
        self.weight = _placeholder(device, dtype)
        if bias:
            self.bias = _placeholder(device, dtype)
        else:
            self.register_parameter("bias", None)

    def initialize_parameters(self, input, *args, **kwargs):
        ref = self.weight
        self._become(Linear(input.shape[-1], self.out_features, self.bias is not None, device=ref.device,
                            dtype=ref.dtype))


class _LazyConv(LazyModuleMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        Module.__init__(self)
        self.in_channels, self.out_channels = 0, out_channels
        self._lazy_args = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                               groups=groups, bias=bias, padding_mode=padding_mode)
        self.weight = _placeholder(device, dtype)
        if bias:
            self.bias = _placeholder(device, dtype)
        else:
            self.register_parameter("bias", None)

    def initialize_parameters(self, input, *args, **kwargs):
        batched = input.dim() == self.cls_to_become._nd + 2
        in_channels = input.shape[1 if batched else 0]
        ref = self.weight
        fresh = self.cls_to_become(in_channels, self.out_channels, device=ref.device, dtype=ref.dtype,
                                   **self._lazy_args)
        del self.__dict__["_lazy_args"]
        self._become(fresh)

    def extra_repr(self):
        n = self.cls_to_become._nd
        k, st = (tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
                 for v in (self._lazy_args["kernel_size"], self._lazy_args["stride"]))
        return f"0, {self.out_channels}, kernel_size={k}, stride={st}"


class LazyConv1d(_LazyConv, Conv1d):
    """``Conv1d`` whose ``in_channels`` comes from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """``Conv2d`` whose ``in_channels`` comes from the first input."""

    cls_to_become = Conv2d
