"""``save`` and ``load``: checkpoints in PyTorch's layout, a zip file holding a pickle plus raw storages.

``save(obj, f)`` pickles ``obj`` into ``archive/data.pkl``, except that every tensor is written as a
*persistent id*, a small tuple ``("tensor", number, key, dtype, location, shape, strides, offset, ...)``;
the bytes of its storage go into their own record ``archive/data/<key>``.  Views of one storage point
at the same record, so they share memory again after ``load``, and a tensor that appears twice
(tied weights) comes back as one object.

Unpickling runs code named by the file (that is how pickle rebuilds objects), so a checkpoint from
someone else could run anything.  ``load`` therefore defaults to ``weights_only=True``: a restricted
unpickler that rebuilds only tensors, containers, numbers and strings, and refuses any other global.
"""
import _compat_pickle
import codecs
import io
import os
import pickle
import secrets
import sys
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import _core
from . import dtypes as D
from .device import CPU, as_device, device
from .tensor import Size, Tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals"]

DEFAULT_PROTOCOL = 2  # the pickle protocol PyTorch writes
_PREFIX = "archive/"


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


# -- save ----------------------------------------------------------------------------------------------
def _pickler_class(base):
    """A Pickler (subclass of ``base``) that writes each tensor as a reference to a storage record."""

    class _Pickler(base):
        def __init__(self, file, protocol):
            super().__init__(file, protocol)
            self.storages = {}  # id(storage) -> (record key, storage), in first-seen order
            self.tensors = {}  # id(tensor) -> (number, tensor): the same tensor twice loads as one object

        def persistent_id(self, obj):
            if not isinstance(obj, Tensor):
                return None  # pickle it the normal way
            storage = obj._storage
            key = self.storages.setdefault(id(storage), (str(len(self.storages)), storage))[0]
            number = self.tensors.setdefault(id(obj), (len(self.tensors), obj))[0]
            cls = type(obj)
            return ("tensor", number, key, obj.dtype.name, str(storage.device), tuple(obj._shape),
                    tuple(obj._strides), obj._offset, obj.requires_grad, cls.__module__, cls.__qualname__)

    return _Pickler


def _storage_bytes(storage):
    """The whole storage as bytes (a host copy for device storages)."""
    flat = Tensor._make(storage, (storage.size,), (1,), 0, storage.dtype)
    return np.ascontiguousarray(flat._host()).tobytes()


def _write_archive(obj, f, pickle_module, protocol):
    buf = io.BytesIO()
    pickler = _pickler_class(pickle_module.Pickler)(buf, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_PREFIX + "data.pkl", buf.getvalue())
        zf.writestr(_PREFIX + "byteorder", sys.byteorder)
        for key, storage in pickler.storages.values():
            zf.writestr(_PREFIX + "data/" + key, _storage_bytes(storage))
        zf.writestr(_PREFIX + "version", "1\n")


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL):
    """Save ``obj`` (tensors, state dicts, any picklable object) to a path or a binary file object.

    Saving to a path writes a temporary file next to it and renames it into place, so a crash
    mid-save leaves the previous checkpoint intact, never a half-written one.
    """
    if not isinstance(f, (str, os.PathLike)):
        _write_archive(obj, f, pickle_module, pickle_protocol)
        return
    path = os.fspath(f)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
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


# -- load ----------------------------------------------------------------------------------------------
def _safe_global_table():
    """The globals a weights-only file may name: containers and pygrad's dtype, device and Size."""
    return {
        ("collections", "OrderedDict"): OrderedDict,
        ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "complex"): complex,
        ("builtins", "slice"): slice, ("builtins", "bytearray"): bytearray,
        ("_codecs", "encode"): codecs.encode,  # protocol 2 writes bytes through it
        ("pygrad.dtypes", "_dtype_by_name"): D._dtype_by_name,
        ("pygrad.device", "device"): device,
        ("pygrad.tensor", "Size"): Size,
    }


_user_safe_globals = []


def add_safe_globals(safe_globals):
    """Allow more classes/functions in ``load(weights_only=True)`` (only for code you trust)."""
    _user_safe_globals.extend(safe_globals)


def get_safe_globals():
    """The globals added with ``add_safe_globals``."""
    return list(_user_safe_globals)


def clear_safe_globals():
    """Forget every global added with ``add_safe_globals``."""
    _user_safe_globals.clear()


class _RefusedGlobal(pickle.UnpicklingError):
    """The restricted unpickler met a global that is not on the allowlist."""


def _weights_only_message(module, name):
    return (f"Weights only load failed. In pygrad.load, `weights_only=True` is the default: the file may only "
            f"hold tensors, containers and numbers, but it refers to the global {module}.{name}, which is not "
            f"allowed (loading it could run arbitrary code). If you trust the source of this file, re-run "
            f"pygrad.load(..., weights_only=False), or allow the global with "
            f"pygrad.serialization.add_safe_globals([{name}]).")


def _tensor_class(module, qualname, weights_only, find_class):
    if (module, qualname) == ("pygrad.tensor", "Tensor"):
        return Tensor
    if (module, qualname) == ("pygrad.nn.parameter", "Parameter"):
        from .nn.parameter import Parameter

        return Parameter
    cls = find_class(module, qualname)  # restricted when weights_only
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise pickle.UnpicklingError(f"{module}.{qualname} is not a Tensor subclass")
    return cls


class _Loader:
    """Reads one archive: storages on demand (each once, so views share it), then the pickle."""

    def __init__(self, zf, prefix, map_location, weights_only, byteorder):
        self.zf, self.prefix, self.map_location = zf, prefix, map_location
        self.weights_only, self.byteorder = weights_only, byteorder
        self.storages, self.tensors = {}, {}

    def storage(self, key, dtype, location):
        if key not in self.storages:
            raw = self.zf.read(self.prefix + "data/" + key)
            if len(raw) % dtype.itemsize:
                raise RuntimeError(f"storage record data/{key} has {len(raw)} bytes, not a whole number of "
                                   f"{dtype.name} elements")
            arr = np.frombuffer(raw, dtype=dtype.np).copy()
            if self.byteorder != sys.byteorder:
                arr = arr.byteswap()
            flat = Tensor._make(_core.Storage(arr, CPU, dtype, arr.size), (arr.size,), (1,), 0, dtype)
            self.storages[key] = _restore_location(flat, location, self.map_location)
        return self.storages[key]

    def rebuild(self, pid, find_class):
        kind, number, key, dtype_name, location, shape, strides, offset, requires_grad, module, qualname = pid
        if kind != "tensor" or not (isinstance(key, str) and key.isdigit()):
            raise pickle.UnpicklingError(f"malformed tensor record {pid!r}")
        if number in self.tensors:
            return self.tensors[number]
        dtype = D._dtype_by_name(dtype_name)
        flat = self.storage(key, dtype, location)
        shape, strides = tuple(shape), tuple(strides)
        _core.check_layout(shape, strides, offset + flat._offset, flat._storage.size)
        t = Tensor._make(flat._storage, shape, strides, offset + flat._offset, flat.dtype)
        cls = _tensor_class(module, qualname, self.weights_only, find_class)
        self.tensors[number] = _as_class(t, cls, requires_grad)
        return self.tensors[number]


def _restore_location(flat, location, map_location):
    """Move one loaded storage (a flat CPU tensor) where ``map_location`` says (default: where it was saved)."""
    if callable(map_location):
        moved = map_location(flat, location)
        if moved is not None:
            return moved if moved.is_contiguous() else moved.contiguous()
        map_location = None
    if isinstance(map_location, dict):
        map_location = map_location.get(location, location)
    target = as_device(location if map_location is None else map_location)
    return flat if target == flat.device else flat.to(target)


def _make_unpickler(base, file, loader, weights_only, pickle_load_args):
    """An Unpickler over ``file`` that rebuilds tensors via ``loader`` (and checks globals if ``weights_only``)."""
    table = _safe_global_table()

    class _Unpickler(base):
        def find_class(self, module, name):
            if not weights_only:
                return super().find_class(module, name)
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)  # protocol 2 says __builtin__
            if (module, name) in table:
                return table[(module, name)]
            for g in _user_safe_globals:
                if getattr(g, "__module__", None) == module and getattr(g, "__qualname__", None) == name:
                    return g
            raise _RefusedGlobal(_weights_only_message(module, name))

        def persistent_load(self, pid):
            return loader.rebuild(pid, self.find_class)

    return _Unpickler(file, **pickle_load_args)


def _describe(f):
    return repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file object"


def load(f, map_location=None, pickle_module=None, *, weights_only=True, **pickle_load_args):
    """Load an object saved by ``save`` from a path or a binary file object.

    ``map_location`` moves tensors: a device (``"cpu"``), a dict from saved to new locations, or
    ``fn(storage, location)`` returning the storage (a flat tensor) to use.  With the default
    ``weights_only=True`` only tensors, containers, numbers and strings can be loaded; pass
    ``weights_only=False`` for whole objects (such as a Module), but only for files you trust.
    """
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    pickle_module = pickle_module or pickle
    if isinstance(map_location, (str, device)):
        map_location = as_device(map_location)
    where = _describe(f)
    if isinstance(f, (str, os.PathLike)):
        source = os.fspath(f)
    elif hasattr(f, "seekable") and f.seekable():
        source = f
    else:
        source = io.BytesIO(f.read())
    try:
        with zipfile.ZipFile(source) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("data.pkl")]
            if not pkl:
                raise KeyError("data.pkl")
            prefix = pkl[0][:-len("data.pkl")]
            names = set(zf.namelist())
            byteorder = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
            loader = _Loader(zf, prefix, map_location, weights_only, byteorder)
            unpickler = _make_unpickler(pickle_module.Unpickler, io.BytesIO(zf.read(pkl[0])), loader, weights_only,
                                         pickle_load_args)
            return unpickler.load()
    except _RefusedGlobal:
        raise
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"pygrad.load: failed reading zip archive {where}: {e} (the file is truncated, corrupt, "
                           "or was not written by pygrad.save)") from None
    except (EOFError, KeyError, ValueError, pickle.UnpicklingError, zipfile.LargeZipFile, zlib.error) as e:
        raise RuntimeError(f"pygrad.load: {where} is not a valid checkpoint (truncated or corrupt): "
                           f"{type(e).__name__}: {e}") from None
