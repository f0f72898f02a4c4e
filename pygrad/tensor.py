"""The ``Tensor`` class: a storage plus a layout, with PyTorch's methods.

A tensor is four things: ``_storage`` (a flat buffer, see ``_core.Storage``), ``_shape``,
``_strides`` (in elements) and ``_offset``.  Views (``t()``, ``x[:, 1]``, ``view``) make new Tensor
objects over the *same* storage with another layout; ops make new storage.

This file holds the class and its small methods; each op lives in ``pygrad/ops/`` and the methods
here are one-line calls into it, so ``a + b`` can be followed from ``__add__`` (compiled: ``_hotpath.pyx``) to
``ops.elementwise`` (the kernel) and to its backward in the same table row.
"""
from . import _core
from . import dtypes as D
from . import runtime as _runtime
from ._printing import tensor_repr
from .ops import movement as M
from .ops.dispatch import backend_of


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``torch.Size([2, 3])``."""

    def __repr__(self):
        return f"{D.REPR_NAMESPACE}.Size({list(self)})"

    __str__ = __repr__

    def numel(self):
        return _core.numel(tuple(self))

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __reduce__(self):
        return (Size, (tuple(self),))


def _check_storage(storage):
    """RuntimeError unless ``storage.size`` elements fit the buffer behind it (a file could claim more)."""
    n, item = storage.size, storage.dtype.itemsize
    if n < 0:
        raise RuntimeError(f"invalid storage size {n}")
    data = storage.data
    if storage.device.type == "cpu":
        import numpy as np

        if not isinstance(data, np.ndarray) or data.ndim != 1 or data.dtype != storage.dtype.np \
                or data.shape[0] < n:
            raise RuntimeError(f"storage of {n} {storage.dtype} elements does not match its buffer")
    elif getattr(data, "size", -1) < n * item:
        raise RuntimeError(f"storage of {n} {storage.dtype} elements does not fit its {getattr(data, 'size', '?')}"
                           f"-byte device buffer")


def _is_tensor(x):
    return isinstance(x, Tensor)


_api = None


def _autograd_api():
    """``pygrad.autograd.api`` (imported on first use: an import statement in a method costs ~1 us a call)."""
    global _api
    if _api is None:
        from .autograd import api as _api
    return _api


class Tensor:
    """A multi-dimensional array with autograd support (``pygrad.Tensor``, like ``torch.Tensor``).

    ``Tensor(data)`` copies data as float32, ``Tensor(2, 3)`` makes an uninitialised 2x3 tensor,
    as PyTorch's legacy constructor does; prefer ``pygrad.tensor(data)`` which infers the dtype.
    """

    __slots__ = ("_storage", "_shape", "_strides", "_offset", "dtype", "requires_grad", "_grad",
                 "grad_fn", "_output_nr", "_base", "_hooks", "_retains_grad", "_np", "__dict__", "__weakref__")
    __array_priority__ = 1000  # numpy_scalar * tensor calls our __rmul__

    def __init__(self, *args, data=None, size=None, device=None, dtype=None):
        from .creation import legacy_new

        t = legacy_new(args if data is None else (data,), size, dtype or D.get_default_dtype(), device)
        self._init_from(t)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def _make(cls, storage, shape, strides, offset, dtype=None):
        """A tensor over ``storage`` with the given layout (no copy, no checks: internal use)."""
        t = object.__new__(cls)
        t._storage = storage
        t._shape = shape
        t._strides = strides
        t._offset = offset
        t.dtype = dtype or storage.dtype
        t.requires_grad = False
        t._grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._base = None
        t._hooks = None
        t._retains_grad = False
        t._np = None  # cached NumPy view of a CPU tensor (the layout never changes after creation)
        return t

    @classmethod
    def _from_storage(cls, storage, size, stride, storage_offset, dtype=None):
        """A tensor over ``storage`` with a layout from outside (a file, ``set_``), validated first.

        The one way an untrusted layout becomes a tensor: sizes/strides/offset must be ints, fit in int64
        (products and sums checked) and stay inside the storage, and the storage's declared size must fit
        its buffer.  TypeError / RuntimeError otherwise, before any memory is touched.
        """
        if not isinstance(storage, _core.Storage):
            raise TypeError(f"expected a Storage, got {type(storage).__name__}")
        dtype = dtype or storage.dtype
        if dtype is not storage.dtype:
            raise RuntimeError(f"a tensor of dtype {dtype} cannot view a storage of dtype {storage.dtype}")
        _check_storage(storage)
        shape, strides, offset = _core.validate_layout(size, stride, storage_offset, storage.size)
        return cls._make(storage, shape, strides, offset, dtype)

    def _init_from(self, t):
        for k in ("_storage", "_shape", "_strides", "_offset", "dtype", "requires_grad", "_grad",
                  "grad_fn", "_output_nr", "_base", "_hooks", "_retains_grad", "_np"):
            setattr(self, k, getattr(t, k))

    def _view(self, shape, strides, offset):
        """A new tensor sharing this storage with another layout (checked against the storage)."""
        _core.check_layout(shape, strides, offset, self._storage.size)
        v = Tensor._make(self._storage, shape, strides, offset, self.dtype)
        v._base = self if self._base is None else self._base
        return v

    def _alias_with_grad_fn(self, node, output_nr):
        """This tensor's data as output ``output_nr`` of ``node`` (to unpack saved outputs in backward)."""
        a = Tensor._make(self._storage, self._shape, self._strides, self._offset, self.dtype)
        a.grad_fn, a._output_nr, a.requires_grad = node, output_nr, True
        return a

    # -- attributes and queries -----------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._shape)
        return self._shape[M.wrap_dim(dim, len(self._shape))]

    def dim(self):
        return len(self._shape)

    ndim = property(dim)
    ndimension = dim

    def numel(self):
        return _core.numel(self._shape)

    nelement = numel

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    @property
    def device(self):
        return self._storage.device

    @property
    def is_cuda(self):
        return False

    # pygrad tensors are always dense, strided, real and unquantized
    is_sparse = is_sparse_csr = is_quantized = is_mkldnn = is_meta = is_nested = False

    def is_complex(self):
        return False

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        """How many in-place writes the storage has seen (shared with views), as PyTorch's ``_version``."""
        return self._storage.version

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None and not _is_tensor(value):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
        if value is not None and value._shape != self._shape:
            raise RuntimeError(
                f"assigned grad has data of a different size: {list(value._shape)} vs {list(self._shape)}")
        self._grad = value

    def is_contiguous(self, memory_format=None):
        return _core.is_contiguous(self._shape, self._strides)

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return False

    def element_size(self):
        return self.dtype.itemsize

    def stride(self, dim=None):
        if dim is None:
            return tuple(self._strides)
        return self._strides[M.wrap_dim(dim, len(self._shape))]

    def storage_offset(self):
        return self._offset

    def set_(self, source=None, storage_offset=0, size=None, stride=None):
        """Point this tensor at ``source``'s storage (a tensor, or a storage with a layout), validated.

        ``x.set_(y)`` shares ``y``'s storage and layout; ``x.set_(y, offset, size, stride)`` takes ``y``'s
        storage with that layout (row-major when ``stride`` is None); ``x.set_()`` makes ``x`` empty.
        """
        from .autograd.grad_mode import is_grad_enabled

        if self.requires_grad and self.grad_fn is None and is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if source is None:
            storage = backend_of(self)._storage(0, self.dtype) if self.device.type != "cpu" else None
            if storage is None:
                import numpy as np

                storage = _core.Storage(np.empty(0, self.dtype.np), self.device, self.dtype, 0)
            t = Tensor._make(storage, (0,), (1,), 0, self.dtype)
        else:
            if isinstance(source, Tensor):
                storage = source._storage
                if size is None and stride is None and storage_offset == 0:
                    size, stride, storage_offset = source._shape, source._strides, source._offset
            elif isinstance(source, _core.Storage):
                storage = source
            else:
                raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not {type(source).__name__}")
            if storage.dtype is not self.dtype:
                raise RuntimeError(f"Expected object of scalar type {self.dtype} but got scalar type "
                                   f"{storage.dtype} for argument 'source'")
            if storage.device != self.device:
                raise RuntimeError("Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {self.device} and {storage.device}!")
            if size is None:
                size = (storage.size - storage_offset,) if isinstance(source, _core.Storage) else source._shape
            size = M._sizes((size,))
            if stride is None:
                stride = _core.contiguous_strides(size)
            t = Tensor._from_storage(storage, size, M._sizes((stride,), "stride"), storage_offset, self.dtype)
        self._storage, self._shape, self._strides, self._offset = t._storage, t._shape, t._strides, t._offset
        self._np = None
        self._storage.version += 1
        return self

    def data_ptr(self):
        return self._storage.data.__array_interface__["data"][0] + self._offset * self.dtype.itemsize

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        self._storage, self._shape, self._strides = value._storage, value._shape, value._strides
        self._offset, self.dtype, self._np = value._offset, value.dtype, None

    @property
    def T(self):
        return self.permute(*range(self.dim() - 1, -1, -1))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    # -- conversion -----------------------------------------------------------------------------
    def numpy(self, force=False):
        """The elements as a NumPy array sharing memory with this CPU tensor."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.device.type != "cpu":
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy "
                    "the tensor to host memory first.")
            return self.cpu().numpy()
        return self._host()

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule sharing this CPU tensor's memory (see ``pygrad.utils.dlpack``)."""
        from .utils.dlpack import tensor_dlpack

        return tensor_dlpack(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        from .utils.dlpack import tensor_dlpack_device

        return tensor_dlpack_device(self)

    def _host(self):
        """A NumPy array of the values wherever they live (a view on the CPU, a copy from a device)."""
        return backend_of(self).to_numpy(self)

    def __array__(self, dtype=None, copy=None):
        a = self._host()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        return self._host().reshape(()).item()

    def tolist(self):
        return self._host().tolist()

    def _scalar(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __index__(self):
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"Boolean value of Tensor with {'no' if n == 0 else 'more than one'} "
                               "value" + ("s" if n == 0 else "") + " is ambiguous")
        return bool(self.item())

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element):
        return bool((self == element).any())

    def __repr__(self, *, tensor_contents=None):
        suffixes = []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        dev = None if self.device.type == "cpu" else str(self.device)
        return tensor_repr(self._host(), self.dtype.name, repr(self.dtype),
                           default_dtype_name=D.get_default_dtype().name, device=dev, suffixes=suffixes)

    __str__ = __repr__

    def __format__(self, spec):
        if self.dim() == 0:
            return self.item().__format__(spec)
        return str(self).__format__(spec)

    def __reduce_ex__(self, protocol):
        from .serialization import reduce_tensor

        return reduce_tensor(self)

    def __deepcopy__(self, memo):
        c = self.clone().detach()
        c.requires_grad = self.requires_grad
        memo[id(self)] = c
        return c

    # -- dtype / device conversion ----------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        from .creation import to_impl

        return to_impl(self, args, dtype, device, copy)

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return _TYPE_NAMES[self.dtype.name]
        if isinstance(dtype, str):
            dtype = {v: k for k, v in _TYPE_NAMES.items()}.get(dtype, dtype)
            dtype = D.as_dtype(dtype.split(".")[-1] if isinstance(dtype, str) else dtype)
        return self.to(D.as_dtype(dtype))

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self): return self.to(D.float32)
    def double(self): return self.to(D.float64)
    def half(self): return self.to(D.float16)
    def int(self): return self.to(D.int32)
    def long(self): return self.to(D.int64)
    def short(self): return self.to(D.int16)
    def char(self): return self.to(D.int8)
    def byte(self): return self.to(D.uint8)
    def bool(self): return self.to(D.bool_)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        raise AssertionError("Torch not compiled with CUDA enabled (pygrad runs on CPU and OpenCL devices: "
                             "use .to('opencl'))")

    # -- autograd-facing helpers ---------------------------------------------------------------
    def detach(self):
        t = Tensor._make(self._storage, self._shape, self._strides, self._offset, self.dtype)
        return t

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to "
                               "use a computed variable in a subgraph that doesn't require differentiation "
                               "use var_no_grad = var.detach().")
        if requires_grad and not (self.dtype.is_floating_point):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor with respect to every leaf into ``leaf.grad``."""
        _autograd_api().backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        from .autograd.api import register_hook

        return register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        from .autograd.api import register_post_accumulate_grad_hook

        return register_post_accumulate_grad_hook(self, hook)

    def retain_grad(self):
        from .autograd.api import retain_grad

        retain_grad(self)

    @property
    def retains_grad(self):
        return self._retains_grad

    # -- the rest of the API is attached from the op modules below --------------------------------


_TYPE_NAMES = {
    "float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
    "uint8": "torch.ByteTensor", "int8": "torch.CharTensor", "int16": "torch.ShortTensor",
    "int32": "torch.IntTensor", "int64": "torch.LongTensor", "bool": "torch.BoolTensor",
}

_runtime.set_tensor_class(Tensor)  # backends build results of this class (the runtime imports nothing above it)

from . import tensor_methods  # noqa: E402,F401  (adds operators and op methods to Tensor)
