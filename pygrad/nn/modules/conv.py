"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` (math in ``pygrad/ops/conv.py``)."""
import math

from ... import creation
from ...ops.conv import _same_padding, pair
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class _ConvNd(Module):
    """Shared arguments, parameters, initialisation and repr of the convolution layers."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        n = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], "
                             f"but got padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = pair(kernel_size, n), pair(stride, n), pair(dilation, n)
        self.padding = padding if isinstance(padding, str) else pair(padding, n)
        self.output_padding = pair(output_padding, n)
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if self._transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(creation.empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias, self.weight.shape[1] * math.prod(self.kernel_size))

    def _padded(self, input):
        """Apply a non-zero padding mode explicitly (then the conv itself pads nothing)."""
        if self.padding_mode == "zeros" or self.padding == "valid":
            return input, self.padding
        if self.padding == "same":
            sides = _same_padding(self.kernel_size, self.dilation)
        else:
            sides = [(p, p) for p in self.padding]
        pads = []
        for before, after in reversed(sides):
            pads += [before, after]
        return F.pad(input, pads, mode=self.padding_mode), (0,) * self._nd

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"  # strings print unquoted (padding=same), as in PyTorch
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) inputs; weight (out, in/groups, kh, kw)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, input):
        x, p = self._padded(input)
        conv = F.conv1d if self._nd == 1 else F.conv2d
        return conv(x, self.weight, self.bias, self.stride, p, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs; weight (out, in/groups, k)."""

    _nd = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    forward = Conv2d.forward  # the same padding + call; _nd = 1 selects F.conv1d


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (upsampling); weight (in, out/groups, kh, kw)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, input, output_size=None):
        output_padding = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (PyTorch's ``_output_padding``)."""
        size = tuple(output_size)[-2:]
        in_hw = tuple(input.shape[-2:])
        lo = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                   zip(in_hw, self.stride, self.padding, self.dilation, self.kernel_size))
        hi = tuple(m + s - 1 for m, s in zip(lo, self.stride))
        if any(not a <= o <= b for o, a, b in zip(size, lo, hi)):
            raise ValueError(f"requested an output size of {list(size)}, but valid sizes range from {list(lo)} "
                             f"to {list(hi)} (for an input of {list(in_hw)})")
        return tuple(o - a for o, a in zip(size, lo))
