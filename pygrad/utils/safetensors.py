"""safetensors files: ``save_file(tensors, path, metadata=)`` / ``load_file(path, device=)``.

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N
bytes of JSON ``{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}``, then the raw little-endian tensor bytes (offsets relative to their start).
The ``safetensors`` package's NumPy API is used when installed; pygrad's own reader/writer otherwise.
Both validate the header of an untrusted file: offsets in range, ``end - begin == numel * itemsize``,
tensors neither overlapping nor leaving holes.
"""
import json
import os
import struct

import numpy as np

__all__ = ["save_file", "load_file", "save", "load"]

_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64",
           "F16": "float16", "F32": "float32", "F64": "float64", "BF16": "bfloat16"}
_CODES = {v: k for k, v in _DTYPES.items()}
_RANK = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]  # the package writes big first
_MAX_HEADER = 100_000_000  # the safetensors package's limit


def _package():
    try:
        import safetensors.numpy as st
    except ImportError:
        return None
    return st


def _check_tensors(tensors):
    from ..tensor import Tensor

    if not isinstance(tensors, dict):
        raise TypeError(f"save_file expects a dict of name -> Tensor, got {type(tensors).__name__}")
    out = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        if not isinstance(t, Tensor):
            raise TypeError(f"save_file: {name!r} is a {type(t).__name__}, not a Tensor")
        if t.dtype.name not in _CODES:
            raise ValueError(f"save_file: {name!r} has dtype {t.dtype.name}, which safetensors cannot store")
        a = t.detach()._host()
        out[name] = a if a.flags.c_contiguous else a.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
    return out


def _check_metadata(metadata):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata must be a dict of str -> str")
    return dict(metadata)


# -- own writer/reader ---------------------------------------------------------------------------------
def _serialize(arrays, metadata):
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(arrays, key=lambda k: (-_RANK.index(_CODES[_dtype_of(arrays[k]).name]), k)):
        a = arrays[name]
        header[name] = {"dtype": _CODES[_dtype_of(a).name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the package pads the header to 8 bytes
    order = sorted(arrays, key=lambda k: header[k]["data_offsets"][0])
    return [struct.pack("<Q", len(text)), text] + [_le(arrays[k]) for k in order]


def _dtype_of(a):
    from .. import dtypes as D

    return D.from_numpy_dtype(a.dtype)


def _le(a):
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and np.little_endian is False):
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return memoryview(a.reshape(-1).view(np.uint8))


def _parse_header(head, buffer_len):
    """The validated entries ``[(name, dtype, shape, begin, end)]`` and metadata of a header."""
    from .. import dtypes as D

    try:
        header = json.loads(bytes(head).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"safetensors: the header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors: the header must be a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise ValueError("safetensors: __metadata__ must map str to str")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"safetensors: malformed entry for {name!r}")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _DTYPES:
            raise ValueError(f"safetensors: {name!r} has unknown dtype {code!r}")
        dtype = D._BY_NAME.get(_DTYPES[code])
        if dtype is None:
            raise ValueError(f"safetensors: {name!r} has dtype {code} ({_DTYPES[code]}), which pygrad does not have")
        if not isinstance(shape, list) or len(shape) > 64 or not all(type(s) is int and s >= 0 for s in shape):
            raise ValueError(f"safetensors: {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(type(o) is int for o in offs)):
            raise ValueError(f"safetensors: {name!r} has invalid data_offsets {offs!r}")
        begin, end = offs
        if not 0 <= begin <= end <= buffer_len:
            raise ValueError(f"safetensors: {name!r} has data_offsets {offs} outside the {buffer_len}-byte buffer")
        numel = 1
        for s in shape:
            numel *= s
        if end - begin != numel * dtype.itemsize:
            raise ValueError(f"safetensors: {name!r} has shape {shape} of {code} ({numel * dtype.itemsize} bytes) "
                             f"but data_offsets {offs} span {end - begin} bytes")
        entries.append((name, dtype, tuple(shape), begin, end))
    pos = 0
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != pos:
            raise ValueError(f"safetensors: {name!r} starts at byte {begin}, where byte {pos} was expected "
                             f"({'an overlap' if begin < pos else 'a hole'} in the buffer)")
        pos = end
    if pos != buffer_len:
        raise ValueError(f"safetensors: the tensors cover {pos} bytes of a {buffer_len}-byte buffer")
    return entries, metadata


def _read_header(f, total):
    if total < 8:
        raise ValueError("safetensors: the file is shorter than its 8-byte header length")
    n = struct.unpack("<Q", f.read(8))[0]
    if n > _MAX_HEADER or n > total - 8:
        raise ValueError(f"safetensors: header length {n} is larger than the file or the 100 MB limit")
    head = f.read(n)
    if not head.startswith(b"{"):
        raise ValueError("safetensors: the header does not start with '{'")
    return _parse_header(head, total - 8 - n)


def _own_load(f, total):
    """Read every tensor straight into its own array."""
    entries, _ = _read_header(f, total)
    start = f.tell()
    out = {}
    for name, dtype, shape, begin, end in sorted(entries, key=lambda e: e[3]):
        arr = np.empty(shape, dtype=dtype.np.newbyteorder("<"))
        f.seek(start + begin)
        if f.readinto(memoryview(arr.reshape(-1).view(np.uint8))) != end - begin:
            raise ValueError(f"safetensors: {name!r} is truncated")
        out[name] = arr.astype(dtype.np, copy=False)
    return {name: out[name] for name, *_ in entries}


# -- the API ----------------------------------------------------------------------------------------
def _to_tensors(arrays, device):
    from ..creation import from_numpy

    out = {}
    for name, a in arrays.items():
        t = from_numpy(a if a.flags.writeable else a.copy())
        out[name] = t if device in (None, "cpu") else t.to(device)
    return out


def save_file(tensors, filename, metadata=None):
    """Write ``{name: Tensor}`` to a safetensors file (values are written contiguous; shared storages
    are written once per name)."""
    arrays, metadata = _check_tensors(tensors), _check_metadata(metadata)
    pkg = _package()
    if pkg is not None:
        pkg.save_file(arrays, os.fspath(filename), metadata=metadata)
        return
    with open(filename, "wb") as f:
        for part in _serialize(arrays, metadata):
            f.write(part)


def save(tensors, metadata=None):
    """The bytes of a safetensors file holding ``tensors``."""
    return b"".join(bytes(p) for p in _serialize(_check_tensors(tensors), _check_metadata(metadata)))


def load_file(filename, device="cpu"):
    """``{name: Tensor}`` from a safetensors file, on ``device``."""
    with open(filename, "rb") as f:
        total = os.fstat(f.fileno()).st_size
        entries, _ = _read_header(f, total)  # validate the header ourselves in every case
        pkg = _package()
        if pkg is not None and all(e[1].name != "bfloat16" for e in entries):
            f.close()
            arrays = pkg.load_file(os.fspath(filename))
            arrays = {name: arrays[name] for name, *_ in entries}
        else:
            f.seek(0)
            arrays = _own_load(f, total)
    return _to_tensors(arrays, device)


def load(data, device="cpu"):
    """``{name: Tensor}`` from the bytes of a safetensors file."""
    import io

    return _to_tensors(_own_load(io.BytesIO(bytes(data)), len(data)), device)


def metadata(filename):
    """The ``__metadata__`` of a safetensors file (or None)."""
    with open(filename, "rb") as f:
        return _read_header(f, os.fstat(f.fileno()).st_size)[1]
