"""``save`` and ``load`` in PyTorch's checkpoint format, read and written without importing PyTorch.

``save(obj, f)`` writes what ``torch.save`` writes: a zip whose ``archive/data.pkl`` pickles ``obj``
with every tensor as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and every
storage as a *persistent id* ``("storage", torch.FloatStorage, key, location, numel)`` whose bytes are
the record ``archive/data/<key>`` (64-byte aligned), plus ``version``, ``byteorder`` and
``.data/serialization_id``.  So ``torch.load(path, weights_only=True)`` reads pygrad checkpoints, and
``load`` reads PyTorch's (zip and the legacy pre-1.6 format) and files of earlier pygrad versions.

Everything in a file is untrusted.  ``load`` defaults to ``weights_only=True``: one small pickle
interpreter (``_WeightsOnlyUnpickler``) that knows a fixed list of globals and opcodes, builds tensors
only through ``_validated_tensor`` (every size, stride and offset checked with Python ints against the
storage), never BUILDs private state, and refuses everything else with an error naming the global or
opcode.  Storage records must hold exactly the bytes the checkpoint declares and are read straight into
their final buffer.
"""
import codecs
import contextlib
import io
import os
import pickle
import re
import secrets
import struct
import sys
import warnings
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import _core
from . import dtypes as D
from .device import CPU, as_device, device
from .tensor import Size, Tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"]

DEFAULT_PROTOCOL = 2  # the pickle protocol PyTorch writes
_PREFIX = "archive/"
_ALIGN = 64  # PyTorch aligns every record's data to 64 bytes in the zip (so it can be mmap'd)
_MAX_DIMS = 64
_INT64_MAX = 2 ** 63 - 1
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_INFLATE_RATIO = 1100  # deflate cannot inflate more than ~1032:1; a larger declared ratio is a lie


# -- plain pickle / copy.deepcopy of one tensor -----------------------------------------------------------
def reduce_tensor(t):
    """``Tensor.__reduce_ex__``: rebuild from a NumPy copy of the values, keeping the class, requires_grad
    and the device (so a device tensor sent from a spawned DataLoader worker arrives on that device)."""
    return _rebuild_tensor, (type(t), np.array(t.detach()._host()), t.requires_grad, str(t.device))


def _rebuild_tensor(cls, array, requires_grad, device="cpu"):
    from .runtime import cpu

    t = cpu.wrap(array)
    if device != "cpu":
        t = t.to(device)
    return _as_class(t, cls, requires_grad)


def _as_class(t, cls, requires_grad):
    """``t`` (sharing its storage) as an instance of the Tensor subclass ``cls`` (e.g. ``nn.Parameter``)."""
    if cls is not Tensor:
        obj = cls.__new__(cls)
        obj._init_from(t)
        t = obj
    if requires_grad:
        t.requires_grad_(True)
    return t


# -- the names PyTorch's files use ------------------------------------------------------------------------
_STORAGE_DTYPES = {  # torch.<Name>Storage -> pygrad dtype name
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
_STORAGE_NAMES = {v: k for k, v in _STORAGE_DTYPES.items()}


class _TorchGlobal:
    """A name in PyTorch's namespace (``torch.FloatStorage``, ``torch._utils._rebuild_tensor_v2``) that
    ``save`` writes as a pickle GLOBAL without PyTorch being importable."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __repr__(self):
        return f"{self.module}.{self.name}"

    def __call__(self, *args):  # pickle wants a callable; this one is only ever written, never called
        raise TypeError(f"{self!r} is a name written into checkpoints, not callable in pygrad")


_REBUILD_TENSOR_V2 = _TorchGlobal("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _TorchGlobal("torch._utils", "_rebuild_parameter")
_TORCH_DEVICE = _TorchGlobal("torch", "device")
_TORCH_SIZE = _TorchGlobal("torch", "Size")
_STORAGE_GLOBALS = {name: _TorchGlobal("torch", name) for name in _STORAGE_DTYPES}


class _StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to: they only name the dtype of a storage record."""

    __slots__ = ("name", "dtype_name")

    def __init__(self, name):
        self.name, self.dtype_name = name, _STORAGE_DTYPES[name]

    def dtype(self):
        d = D._BY_NAME.get(self.dtype_name)
        if d is None:
            raise RuntimeError(f"pygrad.load: the checkpoint holds a torch.{self.name} ({self.dtype_name}), a dtype "
                               "pygrad does not have")
        return d


_STORAGE_TYPES = {name: _StorageType(name) for name in _STORAGE_DTYPES}


def _torch_dtype(name):
    return D.ALIASES.get(name) or D._BY_NAME.get(name)


# -- the one validated constructor ------------------------------------------------------------------------
def _check_int(v, what):
    if type(v) is not int:  # noqa: E721 (bool and int subclasses are refused too)
        raise RuntimeError(f"pygrad.load: {what} must be an int, got {type(v).__name__}")
    if not -_INT64_MAX - 1 <= v <= _INT64_MAX:
        raise RuntimeError(f"pygrad.load: {what} {v} does not fit in int64 (Storage size calculation overflowed)")
    return v


def _validated_tensor(flat, shape, strides, offset):
    """THE constructor of every tensor read from a file: a view of the flat storage tensor ``flat`` with
    this layout, after checking (in Python ints, so nothing can overflow) that every element it can reach
    lies inside the storage.  Raises RuntimeError naming the layout otherwise."""
    if not isinstance(shape, (tuple, list)) or not isinstance(strides, (tuple, list)):
        raise RuntimeError(f"pygrad.load: size and stride must be tuples, got {type(shape).__name__} and "
                           f"{type(strides).__name__}")
    shape = tuple(_check_int(s, "size") for s in shape)
    strides = tuple(_check_int(s, "stride") for s in strides)
    offset = _check_int(offset, "storage offset")
    if len(shape) != len(strides):
        raise RuntimeError(f"pygrad.load: size {list(shape)} and stride {list(strides)} have different lengths")
    if len(shape) > _MAX_DIMS:
        raise RuntimeError(f"pygrad.load: {len(shape)} dimensions; at most {_MAX_DIMS} are supported")
    if any(s < 0 for s in shape) or offset < 0:
        raise RuntimeError(f"pygrad.load: negative size or storage offset in size={list(shape)}, offset={offset}")
    numel = 1
    for s in shape:
        numel *= s
    if numel > _INT64_MAX:
        raise RuntimeError(f"pygrad.load: size {list(shape)} has {numel} elements: Storage size calculation "
                           "overflowed")
    storage_numel = flat._shape[0]
    start = flat._offset + offset
    if numel:
        lo = hi = offset
        for s, st in zip(shape, strides):
            if st > 0:
                hi += (s - 1) * st
            else:
                lo += (s - 1) * st
        if lo < 0 or hi >= storage_numel:
            raise RuntimeError(
                f"pygrad.load: layout (size={list(shape)}, stride={list(strides)}, storage_offset={offset}) "
                f"reaches element {lo if lo < 0 else hi} of a storage of {storage_numel} elements")
    elif offset > storage_numel:
        raise RuntimeError(f"pygrad.load: storage offset {offset} is past the end of a storage of "
                           f"{storage_numel} elements")
    if numel:
        _core.check_layout(shape, strides, start, flat._storage.size)
    return Tensor._make(flat._storage, shape, strides, start, flat.dtype)


class _LoadedStorage:
    """A storage record as loaded: a flat tensor (on its final device) and the location it was saved at."""

    __slots__ = ("flat", "location", "key")

    def __init__(self, flat, location, key):
        self.flat, self.location, self.key = flat, location, key


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """``torch._utils._rebuild_tensor_v2`` for pygrad: a validated view of a loaded storage."""
    if not isinstance(storage, _LoadedStorage):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v2 expects a storage, got {type(storage).__name__}")
    if backward_hooks:
        raise pickle.UnpicklingError("pygrad.load: tensors with backward hooks cannot be loaded")
    t = _validated_tensor(storage.flat, size, stride, storage_offset)
    if requires_grad is True:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    """``torch._utils._rebuild_parameter[_with_state]``: an ``nn.Parameter`` over ``data``."""
    from .nn.parameter import Parameter

    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError(f"_rebuild_parameter expects a tensor, got {type(data).__name__}")
    if backward_hooks or state:
        raise pickle.UnpicklingError("pygrad.load: a Parameter with hooks or extra state cannot be loaded")
    return _as_class(data.detach(), Parameter, requires_grad is True)


def _torch_device(spec, index=None):
    """``torch.device(...)`` as found in a file (a pygrad device; unknown types stay a string)."""
    try:
        return device(spec, index) if index is not None else device(spec)
    except (TypeError, ValueError, RuntimeError):
        return str(spec) if index is None else f"{spec}:{index}"


def _torch_size(dims=()):
    return Size(tuple(_check_int(d, "size") for d in dims))


# -- save ----------------------------------------------------------------------------------------------
class _StorageRef:
    __slots__ = ("key", "storage", "dtype_name", "location", "numel")

    def __init__(self, key, storage, dtype_name, location, numel):
        self.key, self.storage, self.dtype_name, self.location, self.numel = key, storage, dtype_name, location, numel


def _pickler_class(base):
    """A Pickler (subclass of ``base``) writing tensors the way ``torch.save`` does."""

    class _Pickler(base):
        def __init__(self, file, protocol):
            super().__init__(file, protocol)
            self.storages = {}  # id(storage) -> _StorageRef, in first-seen order
            self._keep = []  # keeps copies alive so their ids stay unique

        def _ref(self, t):
            storage = t._storage
            if t.dtype is not storage.dtype and t.dtype != storage.dtype:  # a reinterpreting view: own copy
                t = t.contiguous().clone()
                self._keep.append(t)
                storage = t._storage
            ref = self.storages.get(id(storage))
            if ref is None:
                if t.dtype.name not in _STORAGE_NAMES:
                    raise pickle.PicklingError(f"pygrad.save: no PyTorch storage type for dtype {t.dtype.name}")
                ref = _StorageRef(str(len(self.storages)), storage, t.dtype.name, str(storage.device), storage.size)
                self.storages[id(storage)] = ref
            return ref, t

        def persistent_id(self, obj):
            if isinstance(obj, _StorageRef):
                return ("storage", _STORAGE_GLOBALS[_STORAGE_NAMES[obj.dtype_name]], obj.key, obj.location, obj.numel)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, Tensor):
                from .nn.parameter import Parameter

                if isinstance(obj, Parameter):
                    plain = Tensor._make(obj._storage, obj._shape, obj._strides, obj._offset, obj.dtype)
                    self._keep.append(plain)
                    return _REBUILD_PARAMETER, (plain, obj.requires_grad, OrderedDict())
                ref, t = self._ref(obj)
                return _REBUILD_TENSOR_V2, (ref, t._offset, tuple(t._shape), tuple(t._strides), obj.requires_grad,
                                            OrderedDict())
            if isinstance(obj, D.dtype):
                return obj.name  # -> save_global below: GLOBAL torch <name>
            if isinstance(obj, _TorchGlobal):
                return obj.name
            if isinstance(obj, device):
                return _TORCH_DEVICE, (str(obj),)
            if isinstance(obj, Size):
                return _TORCH_SIZE, (tuple(obj),)
            return NotImplemented

        def save_global(self, obj, name=None):
            if isinstance(obj, D.dtype):
                module, name = "torch", obj.name
            elif isinstance(obj, _TorchGlobal):
                module, name = obj.module, obj.name
            else:
                return super().save_global(obj, name)
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8"))
            self.memoize(obj)

    return _Pickler


def _storage_view(ref):
    """The bytes of one storage as a buffer (no copy for a CPU storage; a host copy from a device)."""
    storage = ref.storage
    if storage.device.type == "cpu" and isinstance(storage.data, np.ndarray):
        arr = np.ascontiguousarray(storage.data[:storage.size])
    else:
        flat = Tensor._make(storage, (storage.size,), (1,), 0, storage.dtype)
        arr = np.ascontiguousarray(flat._host())
    if sys.byteorder != "little" and arr.dtype.itemsize > 1:
        arr = arr.byteswap()  # records are little-endian; byteorder says so
    return memoryview(arr.reshape(-1).view(np.uint8))


def _write_record(zf, name, data):
    """One stored (uncompressed) zip entry whose data starts on a 64-byte boundary, as PyTorch writes."""
    data = memoryview(data) if not isinstance(data, memoryview) else data
    size = data.nbytes
    zinfo = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zinfo.compress_type = zipfile.ZIP_STORED
    zinfo.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT
    start = zf.fp.tell() + 30 + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = (-start) % _ALIGN
    zinfo.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # the padding field PyTorch uses ("FB")
    with zf.open(zinfo, "w", force_zip64=zip64) as w:
        w.write(data)


def _write_archive(obj, f, pickle_module, protocol):
    buf = io.BytesIO()
    base = getattr(pickle_module, "_Pickler", None) or pickle_module.Pickler
    pickler = _pickler_class(base)(buf, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_record(zf, _PREFIX + "data.pkl", buf.getbuffer())
        _write_record(zf, _PREFIX + ".format_version", b"1")
        _write_record(zf, _PREFIX + ".storage_alignment", str(_ALIGN).encode())
        _write_record(zf, _PREFIX + "byteorder", b"little")
        for ref in pickler.storages.values():
            _write_record(zf, _PREFIX + "data/" + ref.key, _storage_view(ref))
        _write_record(zf, _PREFIX + "version", b"3\n")
        _write_record(zf, _PREFIX + ".data/serialization_id", str(secrets.randbits(128)).zfill(40)[:40].encode())


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or unknown: keep its file
    return True


def _remove_stale_temporaries(folder, name):
    """Remove ``.{name}.{pid}.{token}.tmp`` files left by writers that no longer run (e.g. SIGKILLed)."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.(\d+)\.[0-9a-f]+\.tmp\Z")
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True):
    """Save ``obj`` (tensors, state dicts, any picklable object) to a path or a binary file object,
    in PyTorch's checkpoint format.

    Saving to a path writes a temporary file ``.name.<pid>.<random>.tmp`` next to it and renames it into
    place, so a crash mid-save leaves the previous checkpoint intact; a later save of the same path
    removes temporaries whose writer process is gone.
    """
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("pygrad.save writes only the zip format (PyTorch >= 1.6); pygrad.load reads both")
    if not isinstance(f, (str, os.PathLike)):
        _write_archive(obj, f, pickle_module, pickle_protocol)
        return
    path = os.fspath(f)
    folder, name = os.path.split(os.path.abspath(path))
    _remove_stale_temporaries(folder, name)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            _write_archive(obj, fh, pickle_module, pickle_protocol)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# -- the allow-list -----------------------------------------------------------------------------------
def _safe_global_table():
    """The globals a weights-only file may name: containers, tensors/storages/dtypes/devices/Size under
    PyTorch's names and under the names older pygrad files used."""
    table = {
        ("collections", "OrderedDict"): OrderedDict,
        ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "complex"): complex,
        ("builtins", "slice"): slice, ("builtins", "bytearray"): bytearray,
        ("__builtin__", "set"): set, ("__builtin__", "frozenset"): frozenset,
        ("__builtin__", "complex"): complex, ("__builtin__", "slice"): slice,
        ("_codecs", "encode"): codecs.encode,  # protocol 2 writes bytes through it
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch", "device"): _torch_device,
        ("torch", "Size"): _torch_size,
        ("pygrad.dtypes", "_dtype_by_name"): D._dtype_by_name,  # files of earlier pygrad versions
        ("pygrad.device", "device"): device,
        ("pygrad.tensor", "Size"): Size,
    }
    for name, st in _STORAGE_TYPES.items():
        table[("torch", name)] = st
    for name in list(D._BY_NAME) + list(D.ALIASES):
        table[("torch", name)] = _torch_dtype(name)
    return table


_SAFE = _safe_global_table()
_SAFE_CALLABLES = {id(v) for v in _SAFE.values() if callable(v) and not isinstance(v, (D.dtype, _StorageType))}
_user_safe_globals = []


def add_safe_globals(safe_globals):
    """Allow more classes/functions in ``load(weights_only=True)`` (only for code you trust).  Entries are
    objects, or ``(object, "module.name")`` pairs naming where the file refers to them."""
    _user_safe_globals.extend(safe_globals)


def get_safe_globals():
    """The globals added with ``add_safe_globals``."""
    return list(_user_safe_globals)


def clear_safe_globals():
    """Forget every global added with ``add_safe_globals``."""
    _user_safe_globals.clear()


class safe_globals:
    """``with serialization.safe_globals([MyClass]): load(...)``: allow globals within the block only."""

    def __init__(self, safe_globals):
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self._saved = list(_user_safe_globals)
        _user_safe_globals.extend(self.safe_globals)

    def __exit__(self, *exc):
        _user_safe_globals[:] = self._saved
        return False


def _user_global(module, name):
    for g in _user_safe_globals:
        if isinstance(g, tuple) and len(g) == 2 and isinstance(g[1], str):
            if g[1] == f"{module}.{name}":
                return g[0]
        elif getattr(g, "__module__", None) == module and getattr(g, "__qualname__", None) == name:
            return g
    return None


_USER_BUILDABLE = object()


def _weights_only_error(detail):
    return pickle.UnpicklingError(
        "Weights only load failed. pygrad.load defaults to weights_only=True (as torch.load does since 2.6): "
        "the file may only hold tensors, containers, numbers and strings. Re-running pygrad.load with "
        "weights_only=False will likely succeed, but it can run arbitrary code: do it only if you got the file "
        f"from a trusted source.\nWeightsUnpickler error: {detail}")


def _unsupported_global(module, name):
    return _weights_only_error(
        f"Unsupported global: GLOBAL {module}.{name} was not an allowed global by default. Please use "
        f"pygrad.serialization.add_safe_globals([{name}]) or the pygrad.serialization.safe_globals([{name}]) "
        "context manager to allowlist this global if you trust this class/function.")


# -- the weights-only unpickler -------------------------------------------------------------------------
class _WeightsOnlyUnpickler:
    """A pickle interpreter that runs only the opcodes and globals a weights file needs.

    It never imports anything; GLOBAL resolves through the allow-list, REDUCE calls only allow-listed
    callables, BUILD only sets attributes of an OrderedDict (a state_dict's ``_metadata``) or of a class
    the user allow-listed, and every read is bounded by the bytes the record really holds.
    """

    def __init__(self, file, nbytes, persistent_load):
        self.file, self.left, self.persistent_load = file, nbytes, persistent_load

    def _read(self, n):
        if n < 0 or n > self.left:
            raise pickle.UnpicklingError(f"pickle data was truncated (an opcode wants {n} bytes, {self.left} are left)")
        data = self.file.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.left -= n
        return data

    def _readline(self):
        out = bytearray()
        while True:
            c = self._read(1)
            if c == b"\n":
                return bytes(out)
            out += c
            if len(out) > 4096:
                raise pickle.UnpicklingError("pickle line longer than 4096 bytes")

    def _find_class(self, module, name):
        key = (module, name)
        if key in _SAFE:
            return _SAFE[key]
        g = _user_global(module, name)
        if g is not None:
            return g
        raise _unsupported_global(module, name)

    def _pop_mark(self):
        items = self.stack
        if not self.metastack:
            raise pickle.UnpicklingError("unbalanced MARK")
        self.stack = self.metastack.pop()
        return items

    def _call(self, func, args):
        if id(func) not in _SAFE_CALLABLES and not any(func is g or (isinstance(g, tuple) and g[0] is func)
                                                      for g in _user_safe_globals):
            raise _weights_only_error(f"Unsupported operand REDUCE: a {type(func).__name__} is not an allowed callable")
        if not isinstance(args, tuple):
            raise _weights_only_error("REDUCE arguments must be a tuple")
        if func is bytearray and args and not isinstance(args[0], (bytes, bytearray)):
            raise _weights_only_error("bytearray may only be built from bytes")
        if func is codecs.encode and not (len(args) == 2 and isinstance(args[0], str) and args[1] == "latin1"):
            raise _weights_only_error("_codecs.encode may only turn a str into latin1 bytes")
        return func(*args)

    def load(self):
        self.stack, self.metastack, self.memo = [], [], {}
        read, stack = self._read, None
        while True:
            stack = self.stack
            op = read(1)
            c = op[0]
            if c == 0x80:  # PROTO
                if read(1)[0] > 5:
                    raise pickle.UnpicklingError("unsupported pickle protocol")
            elif c == 0x95:  # FRAME
                read(8)
            elif c == 0x2E:  # STOP
                if len(stack) != 1 or self.metastack:
                    raise pickle.UnpicklingError("pickle STOP with an unbalanced stack")
                return stack.pop()
            elif c == 0x28:  # MARK
                self.metastack.append(stack)
                self.stack = []
            elif c == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    self._pop_mark()
            elif c == 0x31:  # POP_MARK
                self._pop_mark()
            elif c == 0x32:  # DUP
                stack.append(stack[-1])
            elif c == 0x4E:
                stack.append(None)
            elif c == 0x88:
                stack.append(True)
            elif c == 0x89:
                stack.append(False)
            elif c == 0x4B:  # BININT1
                stack.append(read(1)[0])
            elif c == 0x4D:  # BININT2
                stack.append(struct.unpack("<H", read(2))[0])
            elif c == 0x4A:  # BININT
                stack.append(struct.unpack("<i", read(4))[0])
            elif c == 0x8A:  # LONG1
                stack.append(int.from_bytes(read(read(1)[0]), "little", signed=True))
            elif c == 0x8B:  # LONG4
                n = struct.unpack("<i", read(4))[0]
                if n > 1024:
                    raise pickle.UnpicklingError(f"LONG4 of {n} bytes is larger than any int a weights file needs")
                stack.append(int.from_bytes(read(n), "little", signed=True))
            elif c == 0x49:  # INT
                line = self._readline()
                stack.append(False if line == b"00" else True if line == b"01" else int(line))
            elif c == 0x4C:  # LONG
                stack.append(int(self._readline().rstrip(b"L")))
            elif c == 0x46:  # FLOAT
                stack.append(float(self._readline()))
            elif c == 0x47:  # BINFLOAT
                stack.append(struct.unpack(">d", read(8))[0])
            elif c == 0x58:  # BINUNICODE
                stack.append(str(read(struct.unpack("<I", read(4))[0]), "utf-8", "surrogatepass"))
            elif c == 0x8C:  # SHORT_BINUNICODE
                stack.append(str(read(read(1)[0]), "utf-8", "surrogatepass"))
            elif c == 0x8D:  # BINUNICODE8
                stack.append(str(read(struct.unpack("<Q", read(8))[0]), "utf-8", "surrogatepass"))
            elif c == 0x55:  # SHORT_BINSTRING (Python 2 str)
                stack.append(read(read(1)[0]).decode("ascii"))
            elif c == 0x54:  # BINSTRING
                stack.append(read(struct.unpack("<i", read(4))[0]).decode("ascii"))
            elif c == 0x43:  # SHORT_BINBYTES
                stack.append(read(read(1)[0]))
            elif c == 0x42:  # BINBYTES
                stack.append(read(struct.unpack("<I", read(4))[0]))
            elif c == 0x8E:  # BINBYTES8
                stack.append(read(struct.unpack("<Q", read(8))[0]))
            elif c == 0x96:  # BYTEARRAY8
                stack.append(bytearray(read(struct.unpack("<Q", read(8))[0])))
            elif c == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif c == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif c == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif c == 0x8F:  # EMPTY_SET
                stack.append(set())
            elif c == 0x6C:  # LIST
                items = self._pop_mark()
                self.stack.append(items)
            elif c == 0x74:  # TUPLE
                items = self._pop_mark()
                self.stack.append(tuple(items))
            elif c in (0x85, 0x86, 0x87):  # TUPLE1/2/3
                n = c - 0x84
                if len(stack) < n:
                    raise pickle.UnpicklingError("stack underflow")
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif c == 0x64:  # DICT
                items = self._pop_mark()
                self.stack.append(dict(zip(items[::2], items[1::2])))
            elif c == 0x91:  # FROZENSET
                items = self._pop_mark()
                self.stack.append(frozenset(items))
            elif c == 0x61:  # APPEND
                v = stack.pop()
                self._target(stack, list).append(v)
            elif c == 0x65:  # APPENDS
                items = self._pop_mark()
                self._target(self.stack, list).extend(items)
            elif c == 0x73:  # SETITEM
                v = stack.pop()
                k = stack.pop()
                self._target(stack, dict)[k] = v
            elif c == 0x75:  # SETITEMS
                items = self._pop_mark()
                d = self._target(self.stack, dict)
                if len(items) % 2:
                    raise pickle.UnpicklingError("odd number of items for SETITEMS")
                for i in range(0, len(items), 2):
                    d[items[i]] = items[i + 1]
            elif c == 0x90:  # ADDITEMS
                items = self._pop_mark()
                self._target(self.stack, set).update(items)
            elif c == 0x63:  # GLOBAL
                module = self._readline().decode("utf-8")
                name = self._readline().decode("utf-8")
                stack.append(self._find_class(module, name))
            elif c == 0x93:  # STACK_GLOBAL
                name = stack.pop()
                module = stack.pop()
                if not (isinstance(module, str) and isinstance(name, str)):
                    raise pickle.UnpicklingError("STACK_GLOBAL requires str")
                stack.append(self._find_class(module, name))
            elif c == 0x52:  # REDUCE
                args = stack.pop()
                func = stack.pop()
                stack.append(self._call(func, args))
            elif c == 0x81:  # NEWOBJ
                args = stack.pop()
                cls = stack.pop()
                if not (isinstance(cls, type) and (cls is OrderedDict or _is_user_global(cls))):
                    raise _weights_only_error(f"Unsupported operand NEWOBJ of {cls!r}")
                stack.append(cls.__new__(cls, *args))
            elif c == 0x62:  # BUILD
                state = stack.pop()
                self._build(stack[-1], state)
            elif c == 0x51:  # BINPERSID
                stack.append(self.persistent_load(stack.pop()))
            elif c == 0x50:  # PERSID
                stack.append(self.persistent_load(self._readline().decode("ascii")))
            elif c in (0x71, 0x72, 0x70, 0x94):  # BINPUT, LONG_BINPUT, PUT, MEMOIZE
                if c == 0x71:
                    idx = read(1)[0]
                elif c == 0x72:
                    idx = struct.unpack("<I", read(4))[0]
                elif c == 0x70:
                    idx = int(self._readline())
                else:
                    idx = len(self.memo)
                if not stack:
                    raise pickle.UnpicklingError("memo write from an empty stack")
                self.memo[idx] = stack[-1]
            elif c in (0x68, 0x6A, 0x67):  # BINGET, LONG_BINGET, GET
                idx = read(1)[0] if c == 0x68 else struct.unpack("<I", read(4))[0] if c == 0x6A \
                    else int(self._readline())
                if idx not in self.memo:
                    raise pickle.UnpicklingError(f"memo key {idx} not found")
                stack.append(self.memo[idx])
            else:
                name = _OPCODE_NAMES.get(op, "unknown")
                raise _weights_only_error(f"Unsupported operand {name} (opcode {op!r})")

    @staticmethod
    def _target(stack, kind):
        if not stack or not isinstance(stack[-1], kind):
            raise _weights_only_error(f"Unsupported operand: items added to a {type(stack[-1]).__name__ if stack else 'nothing'}"
                                      f" (only a {kind.__name__} takes them)")
        return stack[-1]

    @staticmethod
    def _build(inst, state):
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        if type(inst) is OrderedDict:
            if slotstate or not isinstance(state, dict) or any(
                    not isinstance(k, str) or k.startswith("__") for k in state):
                raise _weights_only_error("Unsupported operand BUILD: an OrderedDict may only get plain attributes")
            inst.__dict__.update(state)
            return
        if _is_user_global(type(inst)):
            setstate = getattr(inst, "__setstate__", None)
            if setstate is not None:
                setstate(state if slotstate is None else (state, slotstate))
            else:
                if state:
                    inst.__dict__.update(state)
                for k, v in (slotstate or {}).items():
                    setattr(inst, k, v)
            return
        raise _weights_only_error(
            f"Unsupported operand BUILD on {type(inst).__module__}.{type(inst).__qualname__}: only an OrderedDict "
            "or a class allowed with add_safe_globals may be built (setting private state such as a tensor's "
            "_shape/_strides/_offset is refused)")


def _is_user_global(cls):
    return any(cls is g or (isinstance(g, tuple) and g[0] is cls) for g in _user_safe_globals)


_OPCODE_NAMES = {bytes([op.code.encode("latin1")[0]]): op.name for op in __import__("pickletools").opcodes}


# -- the full (trusted) unpickler ---------------------------------------------------------------------------
def _module_shim(cls, created):
    """What ``torch.nn.modules.conv.Conv2d`` unpickles to with ``weights_only=False``: a class whose
    creation (NEWOBJ) makes an instance of the pygrad class and remembers it, so that its PyTorch state
    can be translated to pygrad's after loading."""

    def __new__(shim, *args, **kwargs):
        obj = cls.__new__(cls)
        created.append(obj)
        return obj

    return type(cls.__name__, (), {"__new__": __new__, "__module__": __name__})


def _pygrad_module_class(module, name):
    from . import nn

    cls = getattr(nn, name, None)
    if cls is None:
        with contextlib.suppress(ImportError):
            import importlib

            cls = getattr(importlib.import_module("pygrad" + module[len("torch"):]), name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise pickle.UnpicklingError(f"pygrad.load: the file holds a {module}.{name}, which pygrad does not have")
    return cls


def _fix_module_state(m):
    """Turn the attributes of a PyTorch Module (as unpickled into a pygrad class) into pygrad's."""
    d = m.__dict__
    d["_non_persistent"] = set(d.pop("_non_persistent_buffers_set", ()) or ())
    for k in ("_parameters", "_buffers", "_modules", "_forward_hooks", "_forward_pre_hooks"):
        if not isinstance(d.get(k), dict):
            d[k] = OrderedDict()
    for k in [k for k in d if k.endswith("_hooks") or k.endswith("_hooks_with_kwargs") or k in (
            "_is_full_backward_hook", "_forward_hooks_always_called", "_state_dict_pre_hooks")]:
        if k not in ("_forward_hooks", "_forward_pre_hooks"):
            if d[k]:
                warnings.warn(f"pygrad.load: dropping the PyTorch hooks in {type(m).__name__}.{k}")
            del d[k]
    d.setdefault("training", True)


def _full_unpickler(base, file, loader, pickle_load_args, created):
    class _Unpickler(base):
        def find_class(self, module, name):
            if (module, name) in _SAFE:
                return _SAFE[(module, name)]
            if module == "torch.nn.parameter" and name == "Parameter":
                from .nn.parameter import Parameter

                return Parameter
            if module.startswith("torch.nn.modules."):
                return _module_shim(_pygrad_module_class(module, name), created)
            if module == "torch" or module.startswith("torch."):
                raise pickle.UnpicklingError(f"pygrad.load: the file needs {module}.{name}, which pygrad does not "
                                             "provide (nothing from torch is imported)")
            return super().find_class(module, name)

        def persistent_load(self, pid):
            return loader.persistent(pid)

    return _Unpickler(file, **pickle_load_args)


# -- storages ---------------------------------------------------------------------------------------------
def _restore_location(flat, location, map_location):
    """Move one loaded storage (a flat CPU tensor) where ``map_location`` says (default: where it was saved)."""
    if callable(map_location):
        moved = map_location(flat, location)
        if moved is not None:
            if not isinstance(moved, Tensor):
                raise TypeError(f"map_location returned {type(moved).__name__}, expected a tensor (storage)")
            return moved if moved.is_contiguous() and moved.dim() == 1 else moved.contiguous().reshape(-1)
        map_location = None
    if isinstance(map_location, dict):
        map_location = map_location.get(location, location)
    target = location if map_location is None else map_location
    if isinstance(target, str) and target.split(":")[0] not in ("cpu", "opencl"):
        if map_location is None:
            warnings.warn(f"pygrad.load: a storage saved on {target!r} is loaded on the CPU (pygrad has no {target} "
                          "device); pass map_location to choose", stacklevel=4)
        target = "cpu"
    target = as_device(target)
    if target.type not in ("cpu", "opencl"):
        target = CPU
    return flat if target == flat.device else flat.to(target)


def _cpu_flat(arr, dtype):
    return Tensor._make(_core.Storage(arr, CPU, dtype, arr.size), (arr.size,), (1,), 0, dtype)


class _Loader:
    """Resolves persistent ids: PyTorch's ``('storage', type, key, location, numel)`` and earlier pygrad
    files' ``('tensor', ...)``; each storage record is read once, so views share it."""

    def __init__(self, read_record, map_location, weights_only, byteorder):
        self.read_record, self.map_location = read_record, map_location
        self.weights_only, self.byteorder = weights_only, byteorder
        self.storages, self.tensors, self.legacy_views = {}, {}, {}

    def storage(self, key, dtype, location, numel):
        if not isinstance(key, str) or not isinstance(location, str):
            raise pickle.UnpicklingError(f"malformed storage record key={key!r} location={location!r}")
        if key in self.storages:
            st = self.storages[key]
            if self.map_location is None and st.flat.dtype is not dtype:
                raise RuntimeError(f"pygrad.load: storage {key} is declared with two dtypes")
            return st
        arr = self.read_record(key, dtype, numel)
        if self.byteorder != "little" and dtype.itemsize > 1:
            arr.byteswap(inplace=True)
        flat = _restore_location(_cpu_flat(arr, dtype), location, self.map_location)
        self.storages[key] = _LoadedStorage(flat, location, key)
        return self.storages[key]

    def persistent(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f"malformed persistent id {pid!r}")
        if pid[0] == "storage" and len(pid) in (5, 6):
            storage_type, key, location, numel = pid[1:5]
            if not isinstance(storage_type, _StorageType):
                raise pickle.UnpicklingError(f"persistent id names {storage_type!r}, not a storage type")
            numel = _check_int(numel, "storage size")
            if numel < 0:
                raise RuntimeError(f"pygrad.load: negative storage size {numel}")
            st = self.storage(key, storage_type.dtype(), location, numel)
            view = pid[5] if len(pid) == 6 else None
            if view is not None:  # legacy: (view_key, offset, size) into the root storage
                view_key, off, size = view
                off, size = _check_int(off, "view offset"), _check_int(size, "view size")
                flat = _validated_tensor(st.flat, (size,), (1,), off)
                st = self.legacy_views.setdefault(view_key, _LoadedStorage(flat, st.location, st.key))
            return st
        if pid[0] == "tensor" and len(pid) == 11:
            return self._pygrad_v1_tensor(pid)
        raise pickle.UnpicklingError(f"Only persistent_load of storage is allowed, but got {pid[0]!r}")

    def _pygrad_v1_tensor(self, pid):
        """A tensor of a file written by pygrad before it wrote PyTorch's format."""
        _, number, key, dtype_name, location, shape, strides, offset, requires_grad, module, qualname = pid
        if not (isinstance(key, str) and key.isdigit()) or not isinstance(dtype_name, str):
            raise pickle.UnpicklingError(f"malformed tensor record {pid!r}")
        if number in self.tensors:
            return self.tensors[number]
        dtype = D._BY_NAME.get(dtype_name)
        if dtype is None:
            raise pickle.UnpicklingError(f"unknown dtype {dtype_name!r}")
        st = self.storage(key, dtype, location, None)
        t = _validated_tensor(st.flat, shape, strides, offset)
        if (module, qualname) == ("pygrad.tensor", "Tensor"):
            cls = Tensor
        elif (module, qualname) == ("pygrad.nn.parameter", "Parameter"):
            from .nn.parameter import Parameter as cls
        elif self.weights_only:
            cls = _user_global(module, qualname)
            if cls is None:
                raise _unsupported_global(module, qualname)
        else:
            import importlib

            cls = getattr(importlib.import_module(module), qualname, None)
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise pickle.UnpicklingError(f"{module}.{qualname} is not a Tensor subclass")
        self.tensors[number] = _as_class(t, cls, requires_grad is True)
        return self.tensors[number]


def _read_zip_record(zf, name, dtype, numel):
    """A storage record read straight into its final array; ``numel`` (from the pickle) must match the
    record's size exactly; decompression stops at the size the zip header declares."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise KeyError(f"no storage record {name}") from None
    nbytes = info.file_size
    if numel is not None and nbytes != numel * dtype.itemsize:
        raise RuntimeError(f"pygrad.load: storage record {name} holds {nbytes} bytes, but the checkpoint declares "
                           f"{numel} {dtype.name} elements ({numel * dtype.itemsize} bytes)")
    if nbytes % dtype.itemsize:
        raise RuntimeError(f"pygrad.load: storage record {name} has {nbytes} bytes, not a whole number of "
                           f"{dtype.name} elements")
    if info.compress_type != zipfile.ZIP_STORED and nbytes > _MAX_INFLATE_RATIO * info.compress_size + 4096:
        raise RuntimeError(f"pygrad.load: record {name} claims to inflate {info.compress_size} bytes to {nbytes} "
                           "(a decompression bomb or a corrupt header)")
    arr = np.empty(nbytes // dtype.itemsize, dtype=dtype.np)
    buf = memoryview(arr.view(np.uint8))
    if info.compress_type == zipfile.ZIP_STORED and _read_stored(zf, info, buf):
        return arr
    pos = 0
    with zf.open(info) as fh:
        while pos < nbytes:
            chunk = fh.read(min(1 << 22, nbytes - pos))
            if not chunk:
                raise RuntimeError(f"pygrad.load: storage record {name} is truncated")
            buf[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if fh.read(1):
            raise RuntimeError(f"pygrad.load: storage record {name} is longer than declared")
    return arr


def _read_stored(zf, info, buf):
    """An uncompressed record read with one ``readinto`` straight into ``buf``, then its CRC checked; False
    when the archive's file cannot be read that way (the caller then streams it through zipfile)."""
    fp = zf.fp
    if not (hasattr(fp, "readinto") and hasattr(fp, "seek")) or getattr(zf, "_writing", False):
        return False
    with getattr(zf, "_lock", None) or contextlib.nullcontext():
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        if fp.read(name_len).decode("utf-8", "replace") != info.filename:
            raise zipfile.BadZipFile(f"local header name of {info.filename} does not match the directory")
        fp.seek(info.header_offset + 30 + name_len + extra_len)
        if fp.readinto(buf) != len(buf):
            raise RuntimeError(f"pygrad.load: storage record {info.filename} is truncated")
    if zlib.crc32(buf) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return True


def _read_pickle_record(zf, info):
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_INFLATE_RATIO * info.compress_size + 4096:
        raise RuntimeError(f"pygrad.load: record {info.filename} claims to inflate {info.compress_size} bytes to "
                           f"{info.file_size} (a decompression bomb or a corrupt header)")
    return zf.read(info)


# -- load ----------------------------------------------------------------------------------------------
def _env_flag(*names):
    return any(os.environ.get(n, "").strip().lower() in ("1", "true", "yes", "on") for n in names)


def _describe(f):
    return repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file object"


def _unpickle(data_file, nbytes, loader, weights_only, pickle_module, pickle_load_args, created):
    if weights_only:
        return _WeightsOnlyUnpickler(data_file, nbytes, loader.persistent).load()
    unpickler = _full_unpickler(pickle_module.Unpickler, data_file, loader, pickle_load_args, created)
    return unpickler.load()


def _load_zip(zf, map_location, weights_only, pickle_module, pickle_load_args, created):
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1] or \
          [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if not pkl:
        raise KeyError("data.pkl")
    prefix = pkl[0][:-len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = zf.read(prefix + "byteorder")[:16].decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise RuntimeError(f"pygrad.load: unknown byteorder {byteorder!r}")
    loader = _Loader(lambda key, dtype, numel: _read_zip_record(zf, prefix + "data/" + key, dtype, numel),
                     map_location, weights_only, byteorder)
    info = zf.getinfo(pkl[0])
    data = _read_pickle_record(zf, info)
    return _unpickle(io.BytesIO(data), len(data), loader, weights_only, pickle_module, pickle_load_args, created)


def _load_legacy(fh, map_location, weights_only, pickle_module, pickle_load_args, created):
    """PyTorch < 1.6's format: pickles of magic, protocol, sys_info, the object, the storage keys, then
    each storage as an int64 element count followed by its raw bytes."""
    start = fh.tell()
    end = fh.seek(0, os.SEEK_END)
    fh.seek(start)

    def plain():
        return _WeightsOnlyUnpickler(fh, end - fh.tell(), _no_pid).load()

    if plain() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("invalid magic number; corrupt file?")
    if plain() != _LEGACY_PROTOCOL:
        raise RuntimeError("pygrad.load: unsupported legacy protocol version")
    sys_info = plain()
    if not isinstance(sys_info, dict):
        raise pickle.UnpicklingError("malformed sys_info")
    byteorder = "little" if sys_info.get("little_endian", True) else "big"
    pending = {}  # key -> (array, declared numel); filled after the object pickle, where the bytes are

    def read_record(key, dtype, numel):
        if numel * dtype.itemsize > end - fh.tell():
            raise RuntimeError(f"pygrad.load: storage {key} declares {numel} {dtype.name} elements, more than the "
                               "file holds")
        arr = np.zeros(numel, dtype=dtype.np)
        pending[key] = arr
        return arr

    # Storages are filled only after the object is built, so they are moved to map_location afterwards.
    loader = _Loader(read_record, None if map_location is None else "cpu", weights_only, "little")
    obj = _unpickle(fh, end - fh.tell(), loader, weights_only, pickle_module, pickle_load_args, created)
    keys = plain()
    if not isinstance(keys, list) or set(keys) != set(pending):
        raise RuntimeError("pygrad.load: the storage keys of the legacy file do not match its object")
    for key in keys:
        arr = pending[key]
        header = fh.read(8)
        if len(header) != 8:
            raise RuntimeError("pygrad.load: the legacy file is truncated")
        n = struct.unpack("<q" if byteorder == "little" else ">q", header)[0]
        if n != arr.size:
            raise RuntimeError(f"pygrad.load: storage {key} holds {n} elements, but the checkpoint declares "
                               f"{arr.size}")
        if fh.readinto(memoryview(arr.view(np.uint8))) != arr.nbytes:
            raise RuntimeError("pygrad.load: the legacy file is truncated")
        if byteorder != "little" and arr.dtype.itemsize > 1:
            arr.byteswap(inplace=True)
    moves = {}
    for st in loader.storages.values():
        moved = _restore_location(st.flat, st.location, map_location)
        if moved is not st.flat:
            moves[id(st.flat._storage)] = moved
    if moves:
        _relocate(obj, moves, set())
    return obj


def _no_pid(pid):
    raise pickle.UnpicklingError("persistent id in a legacy header")


def _relocate(obj, moves, seen):
    """Point tensors built over a CPU storage at its moved copy (legacy files, whose bytes come last)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Tensor):
        moved = moves.get(id(obj._storage))
        if moved is not None:
            obj._storage, obj._offset, obj.dtype, obj._np = moved._storage, obj._offset + moved._offset, moved.dtype, None
        return
    if isinstance(obj, dict):
        for v in obj.values():
            _relocate(v, moves, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _relocate(v, moves, seen)
    elif hasattr(obj, "__dict__"):
        for v in vars(obj).values():
            _relocate(v, moves, seen)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``save`` or ``torch.save`` (zip or legacy format) from a path or file object.

    ``map_location`` moves tensors: a device (``"cpu"``, ``"opencl"``), a dict from saved to new locations,
    or ``fn(storage, location)`` returning the storage (a flat tensor) to use; storages saved on CUDA load
    on the CPU.  ``weights_only`` (default True, or False when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` /
    ``PYGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set) allows only tensors, containers, numbers and strings;
    pass ``weights_only=False`` for whole objects (such as a Module), but only for files you trust.
    ``mmap`` is accepted for compatibility; storages are always read into memory (one copy each).
    """
    if _env_flag("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "PYGRAD_FORCE_WEIGHTS_ONLY_LOAD"):
        weights_only = True
    elif weights_only is None:
        weights_only = not _env_flag("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "PYGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD")
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    pickle_module = pickle_module or pickle
    if isinstance(map_location, (str, device)):
        map_location = str(map_location)
    where = _describe(f)
    created = []
    own = None
    if isinstance(f, (str, os.PathLike)):
        own = fh = open(os.fspath(f), "rb")
    elif hasattr(f, "seekable") and f.seekable():
        fh = f
    else:
        fh = io.BytesIO(f.read())
    try:
        start = fh.tell()
        if zipfile.is_zipfile(fh):
            fh.seek(start)
            with zipfile.ZipFile(fh) as zf:
                obj = _load_zip(zf, map_location, weights_only, pickle_module, pickle_load_args, created)
        else:
            fh.seek(start)
            head = fh.read(16)
            fh.seek(start)
            if not head.startswith(b"\x80\x02\x8a\x0a"):
                raise zipfile.BadZipFile("not a zip archive, nor PyTorch's legacy format")
            obj = _load_legacy(fh, map_location, weights_only, pickle_module, pickle_load_args, created)
        for m in created:
            _fix_module_state(m)
        return obj
    except pickle.UnpicklingError as e:
        if str(e).startswith(("Weights only", "pygrad.load")):
            raise
        raise RuntimeError(f"pygrad.load: {where} is not a valid checkpoint (truncated or corrupt): "
                           f"UnpicklingError: {e}") from None
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"pygrad.load: failed reading zip archive {where}: {e} (the file is truncated, corrupt, "
                           "or was not written by pygrad.save / torch.save)") from None
    except (EOFError, KeyError, ValueError, IndexError, TypeError, struct.error, UnicodeDecodeError, zipfile.LargeZipFile,
            zlib.error, MemoryError, OverflowError) as e:
        raise RuntimeError(f"pygrad.load: {where} is not a valid checkpoint (truncated or corrupt): "
                           f"{type(e).__name__}: {e}") from None
    finally:
        if own is not None:
            own.close()
