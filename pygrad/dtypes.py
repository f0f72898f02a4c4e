"""Data types and PyTorch's type-promotion rules.

Each ``dtype`` knows its NumPy twin (CPU storage) and its OpenCL C type name (device kernels).
Promotion follows PyTorch, which differs from NumPy in two ways a student will meet early:

* categories come first: bool < integer < floating.  ``int64 + float16`` is ``float16`` (NumPy says
  float64), and an integer tensor plus the Python float ``0.5`` is the *default* float dtype
  (float32), not float64;
* a Python number or 0-d tensor only changes the result dtype when it is of a higher category than
  the dimensioned tensors: ``uint8_tensor + 1000`` stays uint8, ``int32_tensor + tensor(1)`` stays int32.
"""
import numpy as np

# The namespace PyTorch prints (``torch.float32``, ``torch.Size``): pygrad prints the same text so
# that the output of course code run with ``import pygrad as torch`` matches the notes exactly.
REPR_NAMESPACE = "torch"


class dtype:
    """A tensor element type such as ``pygrad.float32``."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "category", "cl")

    def __init__(self, name, np_dtype, category, cl):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.category = category  # 0 bool, 1 integer, 2 floating
        self.is_floating_point = category == 2
        self.is_signed = name not in ("bool", "uint8")
        self.cl = cl

    @property
    def is_complex(self):
        return False

    def to_real(self):
        return self

    def __repr__(self):
        return f"{REPR_NAMESPACE}.{self.name}"

    def __reduce__(self):
        # Pickle as a reference to the module attribute, so loading gives the same singleton.
        return (_dtype_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0, "uchar")
uint8 = dtype("uint8", np.uint8, 1, "uchar")
int8 = dtype("int8", np.int8, 1, "char")
int16 = dtype("int16", np.int16, 1, "short")
int32 = dtype("int32", np.int32, 1, "int")
int64 = dtype("int64", np.int64, 1, "long")
float16 = dtype("float16", np.float16, 2, "half")
float32 = dtype("float32", np.float32, 2, "float")
float64 = dtype("float64", np.float64, 2, "double")

class _BFloat16(dtype):
    """bfloat16: 16-bit storage, computed in float32 as PyTorch's CPU kernels do.  Its NumPy twin comes from
    ``ml_dtypes``, imported on first use (it takes a while to load, and most programs never need it)."""

    __slots__ = ()

    def __init__(self):
        for k, v in dict(name="bfloat16", itemsize=2, category=2, is_floating_point=True, is_signed=True,
                         cl="ushort").items():
            object.__setattr__(self, k, v)

    @property
    def np(self):
        try:
            import ml_dtypes
        except ImportError:
            raise RuntimeError("bfloat16 tensors need the 'ml_dtypes' package (pip install ml_dtypes)") from None
        return np.dtype(ml_dtypes.bfloat16)


bfloat16 = _BFloat16()

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64, bfloat16)
_BY_NAME = {d.name: d for d in ALL}
# each dtype as PyTorch's C++ messages spell it ("... but got mask with dtype unsigned char")
CPP_NAMES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int", "int32": "int",
             "int64": "long int", "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float",
             "float64": "double"}
_BY_NP = {d.np: d for d in ALL if d is not bfloat16}

# PyTorch's aliases.
ALIASES = {
    "bool": bool_, "uint8": uint8, "int8": int8, "int16": int16, "short": int16, "int32": int32,
    "int": int32, "int64": int64, "long": int64, "float16": float16, "half": float16,
    "float32": float32, "float": float32, "float64": float64, "double": float64,
}
ALIASES["bfloat16"] = bfloat16


def compute_dtype(d):
    """The dtype arithmetic on ``d`` runs in: float32 for bfloat16 (stored in 16 bits), ``d`` otherwise."""
    return float32 if d is bfloat16 else d


def np_cast(arr, d):
    """``arr.astype(d.np)``; to bfloat16 through float32 first, as PyTorch converts (double -> float -> bf16,
    each rounding to nearest even)."""
    if d is bfloat16 and arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return arr.astype(d.np)

_default = [float32]


def _dtype_by_name(name):
    return _BY_NAME[name]


def get_default_dtype():
    """The float dtype used for Python floats and for factories like ``rand`` (float32 at start)."""
    return _default[0]


def set_default_dtype(d):
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def from_numpy_dtype(npd):
    """The pygrad dtype of a NumPy dtype; TypeError for types pygrad has no twin for."""
    npd = np.dtype(npd)
    if npd.name == "bfloat16":
        return bfloat16
    try:
        return _BY_NP[npd]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{npd}. The only supported types are: float64, "
            "float32, float16, int64, int32, int16, int8, uint8, and bool."
        ) from None


def as_dtype(d):
    """Accept a pygrad dtype, a typed constructor (``FloatTensor``), a NumPy dtype/type, or a Python
    type (float, int, bool)."""
    if isinstance(d, dtype):
        return d
    if isinstance(getattr(d, "_dtype", None), dtype):  # a typed constructor such as FloatTensor
        return d._dtype
    if d is float:
        return float64  # PyTorch maps the Python type float to torch.float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in ALIASES:
        return ALIASES[d]
    try:
        return from_numpy_dtype(d)
    except TypeError:
        raise TypeError(f"expected a dtype such as pygrad.float32, got {d!r}") from None


def promote_types(a, b):
    """The smallest dtype both ``a`` and ``b`` convert to without leaving their category."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == 2:
        if a.itemsize == b.itemsize:  # float16 with bfloat16: neither holds the other, float32 holds both
            return float32
        return a if a.itemsize >= b.itemsize else b
    # integers (and bool): NumPy's lattice is PyTorch's here (uint8 + int8 -> int16)
    return _BY_NP[np.promote_types(a.np, b.np)]


def _scalar_dtype(x):
    if isinstance(x, (bool, np.bool_)):
        return bool_
    if isinstance(x, (int, np.integer)):
        return int64
    if isinstance(x, (float, np.floating)):
        return get_default_dtype()
    raise TypeError(f"unsupported operand type {type(x).__name__}")


def result_type(*operands):
    """PyTorch's result dtype for an op over tensors and Python numbers.

    Operands fall into three groups, each promoted on its own: tensors with dims, 0-d tensors, and
    Python numbers.  A lower-priority group only counts when it is of a higher category.
    """
    groups = [None, None, None]  # dimensioned tensors, 0-d tensors, Python numbers
    for x in operands:
        if hasattr(x, "_shape"):
            g, d = (0 if len(x._shape) else 1), x.dtype
        else:
            g, d = 2, _scalar_dtype(x)
        groups[g] = d if groups[g] is None else promote_types(groups[g], d)
    return _combine(groups[0], _combine(groups[1], groups[2]))


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def float_result(d):
    """The dtype of a floating op (``/``, ``sqrt``, ``mean``) on dtype ``d``: ints become the default float."""
    return d if d.is_floating_point else get_default_dtype()
