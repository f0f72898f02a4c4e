"""Padding layers: ``ZeroPad2d``, ``ConstantPad2d``, ``ReflectionPad2d``, ... (all call ``F.pad``)."""
from .. import functional as F
from ..module import Module


class _PadNd(Module):
    """Pads the last ``_nd`` dims by ``padding`` = (left, right[, top, bottom]); an int pads every side."""

    _nd = 2
    mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = (padding,) * (2 * self._nd) if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2 * self._nd:
            raise ValueError(f"expected {2 * self._nd} padding values, got {len(self.padding)}")
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, self.mode, self.value if self.mode == "constant" else None)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    pass


class ZeroPad1d(_PadNd):
    _nd = 1


class ZeroPad2d(_PadNd):
    pass


class ReflectionPad1d(_PadNd):
    _nd, mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    mode = "reflect"


class ReplicationPad1d(_PadNd):
    _nd, mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    mode = "replicate"


class CircularPad1d(_PadNd):
    _nd, mode = 1, "circular"


class CircularPad2d(_PadNd):
    mode = "circular"
