"""pygrad: a small, readable, PyTorch-compatible autograd library (``import pygrad as torch``).

The namespace mirrors ``torch``: dtypes, factories, math functions, ``no_grad``, ``manual_seed``.
Every function here is the same op as the ``Tensor`` method of that name (see ``tensor_methods``).
"""
from . import _core
from . import dtypes as _dtypes
from .dtypes import (bool_ as bool, uint8, int8, int16, int32, int64, float16, float32, float64, bfloat16,
                     dtype, get_default_dtype, set_default_dtype, promote_types)
from .device import device, set_default_device, get_default_device
from .tensor import Tensor, Size
from .creation import (tensor, as_tensor, asarray, from_numpy, empty, zeros, ones, full, zeros_like,
                       ones_like, empty_like, full_like, arange, linspace, logspace, eye, FloatTensor,
                       DoubleTensor, HalfTensor, ByteTensor, CharTensor, ShortTensor, IntTensor, LongTensor,
                       BoolTensor)
from .random import (Generator, manual_seed, seed, initial_seed, get_rng_state, set_rng_state, rand, randn,
                     randint, rand_like, randn_like, randint_like, randperm, multinomial, default_generator,
                     normal_factory as normal, bernoulli_factory as bernoulli)
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .autograd.grad_mode import is_inference_mode_enabled
from ._printing import set_printoptions, get_printoptions
from .ops.movement import cat, stack, broadcast_tensors, broadcast_to
from .ops.movement import cat as concat, cat as concatenate
from .ops.elementwise import where, isclose, allclose, equal, lerp
from .ops.reduce import return_types
from .ops.reduce import var_mean, std_mean
from .ops.linalg import matmul, mm, bmm, dot, mv, outer, addmm
from .ops.einsum import einsum
from ._functional import *  # noqa: F401,F403  (add, sum, exp, ... as functions)
from . import autograd, cuda, opencl
from . import accelerator, amp, backends
from .amp import autocast, is_autocast_enabled
from ._compat import (compile, is_complex, is_nonzero, memory_format, contiguous_format, preserve_format,
                      channels_last, channels_last_3d)
from .serialization import save, load
from .utils.dlpack import from_dlpack
from . import onnx
from . import optim, utils
from . import profiler
from . import nn
from . import vision
from . import distributed  # noqa: E402  (imports mpi4py only when a process group starts)
from .ops.pool import max_pool2d, avg_pool2d, max_pool1d, adaptive_avg_pool2d
from .ops.conv import conv2d, conv1d, conv_transpose2d

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat = None  # complex dtypes are not supported

__version__ = "0.1.0"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    """Number of elements of a tensor (``torch.numel``)."""
    return t.numel()


def is_floating_point(t):
    return t.dtype.is_floating_point


def result_type(a, b):
    return _dtypes.result_type(a, b)


def can_cast(from_, to):
    return from_.category <= to.category
