# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The strided core of pygrad, in Cython.

A tensor is a flat *storage* (a 1-D buffer of elements) plus a *layout*: ``shape``, ``strides`` (in
elements, not bytes) and ``offset`` (the storage index of element ``[0, 0, ...]``).  Element
``[i0, i1, ...]`` lives at ``storage[offset + i0*strides[0] + i1*strides[1] + ...]``.

Everything here is layout arithmetic or a tight loop over storage indices:

* layout: contiguous strides, contiguity test, broadcasting, ``expand`` (stride 0), ``view`` stride
  inference, ``-1`` size inference;
* indexing: parse ``x[...]`` into a view (basic indexing) plus the storage offsets of the picked
  elements (advanced indexing with integer arrays and boolean masks);
* loops: strided copy, gather and scatter (with accumulation) over storage offsets.

Every function checks its arguments before touching memory: a bad index raises ``IndexError`` and a
bad shape ``RuntimeError``, never a crash.
"""
import numpy as np
cimport numpy as cnp
from libc.string cimport memcpy
from libc.stdint cimport int64_t, uint8_t, int8_t, int16_t, int32_t, uint16_t

cnp.import_array()

DEF MAX_DIMS = 64  # NumPy's limit on dimensions (the CPU backend views storage through NumPy)

# Checked int64 arithmetic (GCC/Clang builtins): layout sizes come from users and from files, so a
# product or sum that wraps around would let a bad layout pass the bounds check and reach memory.
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    static inline int pg_mul_ovf(int64_t a, int64_t b, int64_t *r) { return __builtin_mul_overflow(a, b, r); }
    static inline int pg_add_ovf(int64_t a, int64_t b, int64_t *r) { return __builtin_add_overflow(a, b, r); }
    #else  /* MSVC: the same checks spelled out */
    static inline int pg_mul_ovf(int64_t a, int64_t b, int64_t *r) {
        if (a == 0 || b == 0) { *r = 0; return 0; }
        if (a > 0 ? (b > 0 ? a > INT64_MAX / b : b < INT64_MIN / a)
                  : (b > 0 ? a < INT64_MIN / b : a < INT64_MAX / b)) return 1;
        *r = a * b; return 0;
    }
    static inline int pg_add_ovf(int64_t a, int64_t b, int64_t *r) {
        if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 1;
        *r = a + b; return 0;
    }
    #endif
    """
    bint pg_mul_ovf(int64_t a, int64_t b, int64_t* r) nogil
    bint pg_add_ovf(int64_t a, int64_t b, int64_t* r) nogil


def _overflow(shape, strides=None):
    """PyTorch's error for a layout whose size arithmetic does not fit in int64."""
    msg = f"Storage size calculation overflowed with sizes={list(shape)}"
    if strides is not None:
        msg += f" and strides={list(strides)}"
    return RuntimeError(msg)


# ----------------------------------------------------------------------------------------------
# Storage
# ----------------------------------------------------------------------------------------------
cdef class Storage:
    """A flat buffer of ``size`` elements of one dtype on one device.

    ``data`` is a 1-D NumPy array on the CPU and an OpenCL buffer on an OpenCL device.  Views of a
    tensor share one Storage, so ``version`` (bumped by every in-place write) is shared by them too:
    autograd uses it to notice that a tensor saved for backward was modified.
    """
    cdef public object data
    cdef public object device
    cdef public object dtype
    cdef public Py_ssize_t size
    cdef public long version

    def __init__(self, data, device, dtype, Py_ssize_t size):
        self.data = data
        self.device = device
        self.dtype = dtype
        self.size = size
        self.version = 0

    def __repr__(self):
        return f"Storage(size={self.size}, dtype={self.dtype}, device={self.device})"


# ----------------------------------------------------------------------------------------------
# Layout arithmetic
# ----------------------------------------------------------------------------------------------
cpdef tuple contiguous_strides(tuple shape):
    """Row-major strides: the last dimension moves fastest (``(2, 3, 4) -> (12, 4, 1)``)."""
    cdef Py_ssize_t n = len(shape), i
    cdef int64_t acc = 1, size
    if n > MAX_DIMS:
        raise RuntimeError(f"pygrad tensors can have at most {MAX_DIMS} dimensions (NumPy's limit), got {n}")
    cdef list out = [0] * n
    try:
        for i in range(n - 1, -1, -1):
            out[i] = acc
            size = shape[i]
            if size > 1 and pg_mul_ovf(acc, size, &acc):
                raise _overflow(shape)
    except OverflowError:
        raise _overflow(shape) from None
    return tuple(out)


cpdef bint is_contiguous(tuple shape, tuple strides):
    """True when the layout equals the row-major one (dimensions of size 1 may have any stride)."""
    cdef Py_ssize_t i, expected = 1, size
    for i in range(len(shape) - 1, -1, -1):
        size = shape[i]
        if size == 0:
            return True
        if size != 1:
            if strides[i] != expected:
                return False
            expected *= size
    return True


cpdef int64_t numel(tuple shape) except? -1:
    """Number of elements of a shape (1 for the 0-d shape ``()``); RuntimeError when it overflows int64."""
    cdef int64_t n = 1, s
    try:
        for s in shape:
            if pg_mul_ovf(n, s, &n):
                raise _overflow(shape)
    except OverflowError:  # a size that is not an int64 at all
        raise _overflow(shape) from None
    return n


def broadcast_shapes(*shapes):
    """The shape two or more shapes broadcast to (NumPy/PyTorch rules), or RuntimeError.

    Shapes are aligned on their last dimension; a dimension of size 1 stretches to match the other.
    """
    cdef Py_ssize_t ndim = 0, i, j, size, cur
    for s in shapes:
        ndim = max(ndim, len(s))
    out = [1] * ndim
    for j, s in enumerate(shapes):
        for i in range(len(s)):
            size = s[len(s) - 1 - i]
            cur = out[ndim - 1 - i]
            if cur == 1 or cur == size:
                out[ndim - 1 - i] = size
            elif size != 1:
                raise RuntimeError(
                    f"The size of tensor a ({cur}) must match the size of tensor b ({size}) at "
                    f"non-singleton dimension {ndim - 1 - i}"
                )
    return tuple(out)


cpdef tuple expand_strides(tuple shape, tuple strides, tuple target):
    """Strides that make ``shape`` look like ``target`` without copying: stretched dims get stride 0.

    ``-1`` in ``target`` keeps the existing size (as in ``Tensor.expand``).
    """
    cdef Py_ssize_t nd = len(target), lead = nd - len(shape), i, size, want
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({nd}) must be greater or equal to the number of "
            f"dimensions in the tensor ({len(shape)})"
        )
    out = [0] * nd
    for i in range(nd):
        try:
            want = target[i]
        except OverflowError:
            raise _overflow(target) from None
        if i < lead:
            if want < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                    f"dimension {i}"
                )
            out[i] = 0
            continue
        size = shape[i - lead]
        if want == -1:
            want = size
        if size == want:
            out[i] = strides[i - lead]
        elif size == 1:
            out[i] = 0
        else:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({size}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(target)}.  Tensor sizes: {list(shape)}"
            )
    return tuple(out)


cpdef tuple infer_shape(tuple spec, Py_ssize_t total):
    """Resolve a requested shape that may hold one ``-1`` against ``total`` elements."""
    cdef int64_t known = 1, s
    cdef Py_ssize_t infer_at = -1, i
    for i in range(len(spec)):
        try:
            s = spec[i]
        except OverflowError:
            raise _overflow(spec) from None
        if s == -1:
            if infer_at >= 0:
                raise RuntimeError("only one dimension can be inferred")
            infer_at = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        elif pg_mul_ovf(known, s, &known):
            raise _overflow(spec)
    if infer_at >= 0:
        if known == 0 or total % known != 0:
            raise RuntimeError(f"shape '{list(spec)}' is invalid for input of size {total}")
        out = list(spec)
        out[infer_at] = total // known
        return tuple(out)
    if known != total:
        raise RuntimeError(f"shape '{list(spec)}' is invalid for input of size {total}")
    return spec


cpdef object view_strides(tuple shape, tuple strides, tuple newshape):
    """Strides that show the same elements with ``newshape``, or None when no view can.

    Walks the old dimensions in chunks that are contiguous *with each other* (each chunk's elements
    are evenly spaced in storage); a view exists when every new dimension fits inside one chunk.
    This is why ``x.t().view(-1)`` fails: the transposed dims are not one evenly spaced chunk.
    """
    cdef Py_ssize_t total = numel(shape)
    cdef Py_ssize_t old_n = len(shape), new_n = len(newshape)
    cdef Py_ssize_t view_d = new_n - 1, tensor_d, chunk_base_stride, tensor_numel = 1, view_numel = 1
    if total == 0:
        if shape == newshape:
            return strides
        return contiguous_strides(newshape)
    out = [0] * new_n
    if old_n == 0:
        return tuple([1] * new_n)
    chunk_base_stride = strides[old_n - 1]
    for tensor_d in range(old_n - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        # A chunk ends where the next-outer old dim is not laid out right after this one.
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and
                             strides[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                out[view_d] = view_numel * chunk_base_stride
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(out)


cpdef tuple storage_extent(tuple shape, tuple strides, int64_t offset):
    """(lowest, highest) storage index a layout touches; (offset, offset-1) when it has no element.

    Every product and sum is checked: RuntimeError ("Storage size calculation overflowed") when the
    extent does not fit in int64, which is what lets a wrapped-around layout pass a bounds check.
    """
    cdef int64_t lo = offset, hi = offset, size, st, step
    cdef bint empty
    cdef Py_ssize_t i, n = len(shape)
    if len(strides) != n:
        raise RuntimeError("mismatch in length of strides and shape")
    try:
        empty = False
        for i in range(n):
            size = shape[i]
            st = strides[i]  # every stride must be an int64, also where no element is reached
            if size < 0:
                raise _overflow(shape, strides)
            empty = empty or size == 0
        if empty:
            return (offset, offset - 1)
        for i in range(n):
            size = shape[i]
            st = strides[i]
            if size == 1:
                continue  # a stride of a size-1 dimension is never followed
            if pg_mul_ovf(size - 1, st, &step):
                raise _overflow(shape, strides)
            if st > 0:
                if pg_add_ovf(hi, step, &hi):
                    raise _overflow(shape, strides)
            elif pg_add_ovf(lo, step, &lo):
                raise _overflow(shape, strides)
    except OverflowError:  # a size or stride that is not an int64 at all
        raise _overflow(shape, strides) from None
    return (lo, hi)


cpdef check_layout(tuple shape, tuple strides, int64_t offset, int64_t storage_size):
    """Raise RuntimeError unless the layout is sound and every element lies inside a storage of this size.

    Sound: as many strides as sizes, at most 64 dims, sizes and offset not negative, element count and
    extent within int64.  Cheap integer work (a loop over the dims), so every view is checked.
    """
    cdef Py_ssize_t n = len(shape)
    if n > MAX_DIMS:
        raise RuntimeError(f"pygrad tensors can have at most {MAX_DIMS} dimensions (NumPy's limit), got {n}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    lo, hi = storage_extent(shape, strides, offset)
    numel(shape)  # the element count must fit in int64 too (an expand can make it overflow)
    if hi >= lo and (lo < 0 or hi >= storage_size):
        raise RuntimeError(
            f"layout (shape={list(shape)}, strides={list(strides)}, offset={offset}) reaches storage "
            f"index {lo if lo < 0 else hi}, outside a storage of {storage_size} elements"
        )


def validate_layout(shape, strides, offset, int64_t storage_size):
    """Normalise a layout from outside (lists, ints, anything with ``__index__``) and check it.

    Returns ``(shape, strides, offset)`` as tuples of Python ints, or raises TypeError for a
    non-integer entry and RuntimeError for a layout that does not fit its storage.  This is the one
    check a layout read from a file goes through before it becomes a tensor.
    """
    def ints(seq, what):
        if not isinstance(seq, (tuple, list)):
            raise TypeError(f"{what} must be a tuple of ints, got {type(seq).__name__}")
        out = []
        for v in seq:
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                raise TypeError(f"{what} must be a tuple of ints, got an element of type {type(v).__name__}")
            out.append(int(v.__index__()))
        return tuple(out)
    shape = ints(shape, "size")
    strides = ints(strides, "stride")
    if isinstance(offset, bool) or not hasattr(offset, "__index__"):
        raise TypeError(f"storage_offset must be an int, got {type(offset).__name__}")
    offset = int(offset.__index__())
    if storage_size < 0:
        raise RuntimeError(f"invalid storage size {storage_size}")
    try:
        check_layout(shape, strides, offset, storage_size)
    except OverflowError:
        raise _overflow(shape, strides) from None
    return shape, strides, offset


def ndarray_view(cnp.ndarray data, tuple shape, tuple strides, Py_ssize_t offset):
    """A zero-copy NumPy view of the layout over a 1-D storage array (checked against its size)."""
    check_layout(shape, strides, offset, data.shape[0])
    if numel(shape) == 0:
        return data[:0].reshape(shape)  # no element to reach: the offset may lie past the end
    cdef Py_ssize_t item = data.itemsize
    # a size-1 dim's stride is never followed: 0 keeps NumPy's byte strides in range for any such stride
    return np.ndarray(shape, data.dtype, data, offset * item,
                      tuple([s * item if n != 1 else 0 for n, s in zip(shape, strides)]))


# ----------------------------------------------------------------------------------------------
# Indexing
# ----------------------------------------------------------------------------------------------
cdef inline Py_ssize_t _wrap_index(Py_ssize_t i, Py_ssize_t size, Py_ssize_t dim) except? -1:
    if i < -size or i >= size:
        raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
    return i + size if i < 0 else i


def parse_index(tuple shape, tuple strides, Py_ssize_t offset, tuple index):
    """Apply ``x[index]`` to a layout.

    ``index`` holds ints, slices, None, Ellipsis and NumPy arrays (integer or bool) only; the Python
    layer converts lists and tensors to arrays first.  Basic items (int, slice, None, ...) become a
    view: new ``shape, strides, offset``.  Array items (advanced indexing) are returned as
    ``[(dim, int64 array), ...]`` naming the dimension *of that view* each array indexes; a k-dim
    bool mask becomes k integer arrays (its ``nonzero()``), checked against the dims it covers.
    """
    cdef Py_ssize_t n_consume = 0, nd = len(shape), d = 0, i, size, start, stop, step, length
    cdef list out_shape = [], out_strides = [], adv = []
    for item in index:
        if item is None:
            continue
        if item is Ellipsis:
            continue
        if isinstance(item, np.ndarray) and item.dtype == np.bool_:
            n_consume += max(item.ndim, 0)
        else:
            n_consume += 1
    if sum(1 for it in index if it is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_consume > nd:
        raise IndexError(f"too many indices for tensor of dimension {nd}")
    for item in index:
        if item is None:
            # a new dim of size 1, with the stride ``unsqueeze`` gives it (that of the dim it precedes)
            out_shape.append(1)
            out_strides.append(strides[d] * shape[d] if d < nd else 1)
        elif item is Ellipsis:
            for i in range(nd - n_consume):
                out_shape.append(shape[d])
                out_strides.append(strides[d])
                d += 1
        elif isinstance(item, slice):
            size = shape[d]
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, step = item.indices(size)
            length = 1 + (stop - start - 1) // step if stop > start else 0  # no overflow for huge steps
            if length > 0:
                offset += start * strides[d]
            out_shape.append(length)
            st_obj = strides[d] * step  # Python ints: a huge step cannot wrap around here
            if length <= 1 and not -2**63 <= st_obj < 2**63:
                st_obj = strides[d]  # the stride of a dim of size 0 or 1 is never followed
            out_strides.append(st_obj)
            d += 1
        elif isinstance(item, np.ndarray):
            if item.dtype == np.bool_:
                for i in range(item.ndim):
                    if item.shape[i] != shape[d + i]:
                        raise IndexError(
                            f"The shape of the mask {list(item.shape)} at index {i} does not match "
                            f"the shape of the indexed tensor {list(shape[d:d + item.ndim])} at index {i}"
                        )
                if item.ndim == 0:
                    # x[True] adds a dim of size 1; x[False] a dim of size 0.
                    out_shape.append(1)
                    out_strides.append(0)
                    adv.append((len(out_shape) - 1, np.zeros(1 if item else 0, dtype=np.int64)))
                    continue
                for arr in np.nonzero(item):
                    out_shape.append(shape[d])
                    out_strides.append(strides[d])
                    adv.append((len(out_shape) - 1, arr.astype(np.int64, copy=False)))
                    d += 1
            else:
                if item.dtype.kind not in "iu":
                    raise IndexError(
                        "tensors used as indices must be long, int, byte or bool tensors"
                    )
                out_shape.append(shape[d])
                out_strides.append(strides[d])
                adv.append((len(out_shape) - 1, item.astype(np.int64, copy=False)))
                d += 1
        else:
            i = item  # an integer (Python int or anything with __index__)
            size = shape[d]
            i = _wrap_index(i, size, d)
            offset += i * strides[d]
            d += 1
    for i in range(d, nd):
        out_shape.append(shape[i])
        out_strides.append(strides[i])
    return tuple(out_shape), tuple(out_strides), offset, adv


def advanced_offsets(tuple shape, tuple strides, Py_ssize_t offset, list adv):
    """Storage offsets of the elements picked by advanced indexing, shaped like the result.

    The index arrays broadcast together to a shape B.  If they index adjacent dims, B replaces
    those dims in place; otherwise B goes first (NumPy's and PyTorch's rule).  Returns
    ``(result_shape, offsets)`` where ``offsets`` is an int64 array of ``result_shape``.
    """
    cdef list dims = [a[0] for a in adv]
    try:
        arrays = np.broadcast_arrays(*[a[1] for a in adv])
    except ValueError:
        raise IndexError(
            "shape mismatch: indexing tensors could not be broadcast together with shapes "
            + ", ".join(str(list(a[1].shape)) for a in adv)
        ) from None
    bshape = arrays[0].shape if arrays else ()
    # Offsets contributed by the advanced dims, checked and wrapped (negative indices) here.
    cdef cnp.ndarray[int64_t, ndim=1] acc = np.zeros(numel(tuple(bshape)), dtype=np.int64)
    cdef cnp.ndarray[int64_t, ndim=1] idx
    cdef Py_ssize_t k, j, n = acc.shape[0], size, st, v
    for k in range(len(dims)):
        idx = np.ascontiguousarray(arrays[k], dtype=np.int64).reshape(-1)
        size = shape[dims[k]]
        st = strides[dims[k]]
        for j in range(n):
            v = idx[j]
            if v < -size or v >= size:
                raise IndexError(
                    f"index {v} is out of bounds for dimension {dims[k]} with size {size}"
                )
            if v < 0:
                v += size
            acc[j] += v * st
    adv_part = acc.reshape(bshape)
    rest = [i for i in range(len(shape)) if i not in dims]
    rest_shape = tuple(shape[i] for i in rest)
    rest_off = np.zeros(rest_shape, dtype=np.int64) + offset
    for pos, i in enumerate(rest):
        ar = np.arange(shape[i], dtype=np.int64) * strides[i]
        rest_off = rest_off + ar.reshape((-1,) + (1,) * (len(rest) - pos - 1))
    adjacent = dims == list(range(dims[0], dims[0] + len(dims))) if dims else True
    if adjacent and dims:
        before = [i for i in rest if i < dims[0]]
        nb = len(before)
        # result dims: rest[:nb] + bshape + rest[nb:]
        ro = rest_off.reshape(rest_shape[:nb] + (1,) * len(bshape) + rest_shape[nb:])
        ap = adv_part.reshape((1,) * nb + tuple(bshape) + (1,) * (len(rest) - nb))
    else:
        ro = rest_off.reshape((1,) * len(bshape) + rest_shape)
        ap = adv_part.reshape(tuple(bshape) + (1,) * len(rest))
    offs = np.ascontiguousarray(ro + ap)
    return offs.shape, offs


# ----------------------------------------------------------------------------------------------
# Loops over storage: strided copy, gather, scatter
# ----------------------------------------------------------------------------------------------
ctypedef fused elem_t:
    uint8_t
    int8_t
    int16_t
    int32_t
    int64_t
    float
    double
    uint16_t


def strided_copy(cnp.ndarray dst, tuple dst_strides, Py_ssize_t dst_off,
                 cnp.ndarray src, tuple src_strides, Py_ssize_t src_off, tuple shape):
    """Copy elements ``dst[layout] = src[layout]`` between two 1-D storages of the same dtype.

    Both layouts share ``shape``; a source stride of 0 repeats (broadcasts) an element.  The loop
    walks the shape like an odometer, and copies the innermost dimension as one ``memcpy`` when
    it is contiguous in both storages.
    """
    if dst.dtype != src.dtype:
        raise RuntimeError(f"strided_copy: dtypes differ ({dst.dtype} vs {src.dtype})")
    if not (dst.flags.c_contiguous and src.flags.c_contiguous) or dst.ndim != 1 or src.ndim != 1:
        raise RuntimeError("strided_copy: storages must be contiguous 1-D arrays")
    check_layout(shape, dst_strides, dst_off, dst.shape[0])
    check_layout(shape, src_strides, src_off, src.shape[0])
    cdef Py_ssize_t nd = len(shape), total = numel(shape), item = dst.itemsize
    if total == 0:
        return
    if nd > MAX_DIMS:
        raise RuntimeError(f"tensors may have at most {MAX_DIMS} dimensions")
    cdef Py_ssize_t sh[MAX_DIMS]
    cdef Py_ssize_t ds[MAX_DIMS]
    cdef Py_ssize_t ss[MAX_DIMS]
    cdef Py_ssize_t ctr[MAX_DIMS]
    cdef Py_ssize_t i, k, inner, inner_ds, inner_ss, d_pos, s_pos, outer
    for i in range(nd):
        sh[i] = shape[i]
        ds[i] = dst_strides[i]
        ss[i] = src_strides[i]
        ctr[i] = 0
    if nd == 0:
        memcpy(<char*>dst.data + dst_off * item, <char*>src.data + src_off * item, item)
        return
    inner = sh[nd - 1]
    inner_ds = ds[nd - 1]
    inner_ss = ss[nd - 1]
    outer = total // inner
    cdef char* dp = <char*>dst.data
    cdef char* sp = <char*>src.data
    cdef bint run = inner_ds == 1 and inner_ss == 1
    with nogil:
        for k in range(outer):
            d_pos = dst_off
            s_pos = src_off
            for i in range(nd - 1):
                d_pos += ctr[i] * ds[i]
                s_pos += ctr[i] * ss[i]
            if run:
                memcpy(dp + d_pos * item, sp + s_pos * item, inner * item)
            else:
                for i in range(inner):
                    memcpy(dp + (d_pos + i * inner_ds) * item, sp + (s_pos + i * inner_ss) * item, item)
            # advance the odometer over the outer dims
            i = nd - 2
            while i >= 0:
                ctr[i] += 1
                if ctr[i] < sh[i]:
                    break
                ctr[i] = 0
                i -= 1


cdef void _gather(const elem_t[::1] src, const int64_t[::1] offs, elem_t[::1] out) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(offs.shape[0]):
        out[j] = src[offs[j]]


cdef void _scatter(elem_t[::1] dst, const int64_t[::1] offs, const elem_t[::1] vals, bint accumulate) noexcept nogil:
    cdef Py_ssize_t j
    if accumulate:
        for j in range(offs.shape[0]):
            dst[offs[j]] = dst[offs[j]] + vals[j]
    else:
        for j in range(offs.shape[0]):
            dst[offs[j]] = vals[j]


cdef _check_offsets(cnp.ndarray offs, Py_ssize_t size):
    if offs.size and (offs.min() < 0 or offs.max() >= size):
        raise IndexError(f"storage offset out of range for a storage of {size} elements")


def _as_elems(cnp.ndarray a):
    """Reinterpret bool storage as uint8 so one fused-type loop serves every dtype."""
    return a.view(np.uint8) if a.dtype == np.bool_ else a


def gather(cnp.ndarray src, cnp.ndarray offsets):
    """``out[j] = src[offsets[j]]`` for a 1-D storage ``src``; returns a new array shaped like offsets."""
    offs = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
    _check_offsets(offs, src.shape[0])
    out = np.empty(offs.shape[0], dtype=src.dtype)
    _dispatch_gather(_as_elems(src), offs, _as_elems(out))
    return out.reshape((<object>offsets).shape)


def scatter(cnp.ndarray dst, cnp.ndarray offsets, cnp.ndarray values, bint accumulate=False):
    """``dst[offsets[j]] = values[j]`` (or ``+=`` with accumulate, summing repeated offsets)."""
    offs = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
    vals = np.ascontiguousarray(values, dtype=dst.dtype).reshape(-1)
    if vals.shape[0] != offs.shape[0]:
        raise RuntimeError(f"scatter: {offs.shape[0]} offsets but {vals.shape[0]} values")
    _check_offsets(offs, dst.shape[0])
    if accumulate and dst.dtype == np.bool_:
        # bool "sum" is logical or
        cur = np.zeros(dst.shape[0], dtype=np.uint8)
        _dispatch_scatter(cur, offs, vals.view(np.uint8), True)
        np.logical_or(dst, cur.astype(np.bool_), out=dst)
        return
    _dispatch_scatter(_as_elems(dst), offs, _as_elems(vals), accumulate)


def _dispatch_gather(src, const int64_t[::1] offs, out):
    t = src.dtype
    if t == np.float32: _gather[float](src, offs, out)
    elif t == np.float64: _gather[double](src, offs, out)
    elif t == np.int64: _gather[int64_t](src, offs, out)
    elif t == np.int32: _gather[int32_t](src, offs, out)
    elif t == np.int16: _gather[int16_t](src, offs, out)
    elif t == np.int8: _gather[int8_t](src, offs, out)
    elif t == np.uint8: _gather[uint8_t](src, offs, out)
    elif t == np.float16: _gather[uint16_t](src.view(np.uint16), offs, out.view(np.uint16))
    else: raise TypeError(f"gather: unsupported dtype {t}")


def _dispatch_scatter(dst, const int64_t[::1] offs, vals, bint accumulate):
    t = dst.dtype
    if t == np.float32: _scatter[float](dst, offs, vals, accumulate)
    elif t == np.float64: _scatter[double](dst, offs, vals, accumulate)
    elif t == np.int64: _scatter[int64_t](dst, offs, vals, accumulate)
    elif t == np.int32: _scatter[int32_t](dst, offs, vals, accumulate)
    elif t == np.int16: _scatter[int16_t](dst, offs, vals, accumulate)
    elif t == np.int8: _scatter[int8_t](dst, offs, vals, accumulate)
    elif t == np.uint8: _scatter[uint8_t](dst, offs, vals, accumulate)
    elif t == np.float16:
        if accumulate:
            # half has no C arithmetic: accumulate in float32, then store back
            wide = dst.astype(np.float32)
            _scatter[float](wide, offs, vals.astype(np.float32), True)
            dst[:] = wide
        else:
            _scatter[uint16_t](dst.view(np.uint16), offs, vals.view(np.uint16), False)
    else: raise TypeError(f"scatter: unsupported dtype {t}")


def dense_strides_like(inputs, tuple shape):
    """Strides for an op's output that follow the memory order of its first full-shape input.

    A transposed input gives a transposed (but dense) output, so elementwise loops walk both in
    memory order, as PyTorch's TensorIterator does.  Returns None for plain row-major order.
    """
    cdef Py_ssize_t n = len(shape), i, acc
    for t in inputs:
        if getattr(t, "_shape", None) == shape and n > 1:
            strides = t._strides
            if is_contiguous(shape, strides):
                return None
            order = sorted(range(n), key=lambda d: (-abs(strides[d]), d))
            out = [0] * n
            acc = 1
            for i in range(n - 1, -1, -1):
                out[order[i]] = acc
                acc *= max(<Py_ssize_t>shape[order[i]], 1)
            return tuple(out)
    return None


# ----------------------------------------------------------------------------------------------
# Convolution and pooling loops of the CPU backend (im2col, col2im, max-pool with indices): one
# compiled pass each instead of NumPy's pad + strided copy, or one slab per window offset.
# ----------------------------------------------------------------------------------------------
ctypedef fused conv_t:
    float
    double


def _check_conv(Py_ssize_t n, Py_ssize_t c, Py_ssize_t h, Py_ssize_t w, tuple kernel, tuple dilation,
                tuple padding, tuple stride):
    """(oh, ow) of a window walk; raises RuntimeError for sizes that would make the loops misbehave."""
    kh, kw = kernel
    dh, dw = dilation
    ph, pw = padding
    sh, sw = stride
    if min(kh, kw, dh, dw, sh, sw) <= 0 or min(ph, pw) < 0:
        raise RuntimeError(f"bad window: kernel {kernel}, dilation {dilation}, padding {padding}, stride {stride}")
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"window larger than the padded input ({h}x{w}, kernel {kernel}, padding {padding})")
    return oh, ow


def im2col(const conv_t[:, :, :, ::1] x, tuple kernel, tuple dilation, tuple padding, tuple stride, pad_value=0.0):
    """Windows of a contiguous (N, C, H, W) float array as a new (N, C, kh, kw, oh, ow) array."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    oh_, ow_ = _check_conv(N, C, H, W, kernel, dilation, padding, stride)
    cdef Py_ssize_t kh = kernel[0], kw = kernel[1], dh = dilation[0], dw = dilation[1]
    cdef Py_ssize_t ph = padding[0], pw = padding[1], sh = stride[0], sw = stride[1], oh = oh_, ow = ow_
    dtype = np.float32 if conv_t is float else np.float64
    out_arr = np.empty((N, C, kh, kw, oh, ow), dtype=dtype)
    cdef conv_t[:, :, :, :, :, ::1] out = out_arr
    cdef conv_t pad = pad_value
    cdef Py_ssize_t n, c, i, j, y, xx, h, w0, x0, x1
    cdef conv_t* o
    cdef const conv_t* src
    if out_arr.size == 0:
        return out_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        # the output columns x0..x1-1 read inside the row (w = w0 + x*sw in [0, W))
                        w0 = j * dw - pw
                        x0 = 0 if w0 >= 0 else (-w0 + sw - 1) // sw
                        x1 = min(ow, (W - 1 - w0) // sw + 1) if W - 1 - w0 >= 0 else 0
                        if x1 < x0:
                            x1 = x0
                        if x0 > ow:
                            x0 = x1 = ow
                        for y in range(oh):
                            o = &out[n, c, i, j, y, 0]
                            h = y * sh - ph + i * dh
                            if h < 0 or h >= H:
                                for xx in range(ow):
                                    o[xx] = pad
                                continue
                            src = &x[n, c, h, 0]
                            for xx in range(x0):
                                o[xx] = pad
                            if sw == 1:
                                if x1 > x0:
                                    memcpy(o + x0, src + w0 + x0, (x1 - x0) * sizeof(conv_t))
                            else:
                                for xx in range(x0, x1):
                                    o[xx] = src[w0 + xx * sw]
                            for xx in range(x1, ow):
                                o[xx] = pad
    return out_arr


def col2im(const conv_t[:, :, :, :, :, ::1] cols, Py_ssize_t H, Py_ssize_t W, tuple dilation, tuple padding,
           tuple stride):
    """The adjoint of ``im2col``: sums each column entry back into a new (N, C, H, W) array."""
    cdef Py_ssize_t N = cols.shape[0], C = cols.shape[1], kh = cols.shape[2], kw = cols.shape[3]
    cdef Py_ssize_t oh = cols.shape[4], ow = cols.shape[5]
    oh_, ow_ = _check_conv(N, C, H, W, (kh, kw), dilation, padding, stride)
    if (oh_, ow_) != (oh, ow):
        raise RuntimeError(f"col2im: columns of {oh}x{ow} windows do not match an output of {H}x{W}")
    cdef Py_ssize_t dh = dilation[0], dw = dilation[1], ph = padding[0], pw = padding[1]
    cdef Py_ssize_t sh = stride[0], sw = stride[1]
    dtype = np.float32 if conv_t is float else np.float64
    out_arr = np.zeros((N, C, H, W), dtype=dtype)
    cdef conv_t[:, :, :, ::1] out = out_arr
    cdef Py_ssize_t n, c, i, j, y, xx, h, w0, x0, x1
    cdef conv_t* o
    cdef const conv_t* src
    if cols.size == 0 or out_arr.size == 0:
        return out_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        w0 = j * dw - pw
                        x0 = 0 if w0 >= 0 else (-w0 + sw - 1) // sw
                        x1 = min(ow, (W - 1 - w0) // sw + 1) if W - 1 - w0 >= 0 else 0
                        for y in range(oh):
                            h = y * sh - ph + i * dh
                            if h < 0 or h >= H:
                                continue
                            o = &out[n, c, h, 0]
                            src = &cols[n, c, i, j, y, 0]
                            for xx in range(x0, x1):
                                o[w0 + xx * sw] += src[xx]
    return out_arr

from libc.math cimport INFINITY


cdef inline void _taps(Py_ssize_t start, Py_ssize_t k, Py_ssize_t d, Py_ssize_t size, Py_ssize_t* lo,
                       Py_ssize_t* hi) noexcept nogil:
    """The window walk of every pooling loop, along one axis: a window starting at ``start`` reads position
    ``start + t * d`` at tap t in [0, k); its taps inside [0, size) are [lo, hi) (empty: lo == hi)."""
    cdef Py_ssize_t a = 0, b = k
    if start < 0:
        a = (-start + d - 1) // d
    if start + (k - 1) * d >= size:
        b = (size - 1 - start) // d + 1 if size - 1 - start >= 0 else 0
    if b < a:
        b = a
    lo[0] = a
    hi[0] = b


def max_pool2d_fwd(const conv_t[:, :, :, ::1] x, tuple kernel, tuple stride, tuple padding, tuple dilation,
                   Py_ssize_t oh, Py_ssize_t ow):
    """Max of each window of a contiguous (N, C, H, W) float array -> (values, flat H*W indices).

    PyTorch's CPU rule: padding never wins, a NaN always takes over (so the last NaN's index is kept),
    otherwise the first strict maximum wins ties; a window with no real maximum keeps its first
    in-bounds position.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1]
    cdef Py_ssize_t ph = padding[0], pw = padding[1], dh = dilation[0], dw = dilation[1]
    if min(kh, kw, sh, sw, dh, dw, oh, ow) <= 0 or min(ph, pw) < 0:
        raise RuntimeError(f"max_pool2d: bad window: kernel {kernel}, stride {stride}, padding {padding}, "
                           f"dilation {dilation}, output {oh}x{ow}")
    dtype = np.float32 if conv_t is float else np.float64
    out_arr = np.empty((N, C, oh, ow), dtype=dtype)
    idx_arr = np.empty((N, C, oh, ow), dtype=np.int64)
    cdef conv_t[:, :, :, ::1] out = out_arr
    cdef int64_t[:, :, :, ::1] idx = idx_arr
    cdef Py_ssize_t n, c, y, xo, i, j, h, w, hs, ws, best, i0, i1, j0, j1
    cdef conv_t val, m
    cdef const conv_t* plane
    if out_arr.size == 0:
        return out_arr, idx_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                plane = &x[n, c, 0, 0]
                for y in range(oh):
                    hs = y * sh - ph
                    _taps(hs, kh, dh, H, &i0, &i1)
                    for xo in range(ow):
                        ws = xo * sw - pw
                        _taps(ws, kw, dw, W, &j0, &j1)
                        best = (hs + i0 * dh) * W + ws + j0 * dw  # the first in-bounds position
                        m = -INFINITY
                        for i in range(i0, i1):
                            h = hs + i * dh
                            for j in range(j0, j1):
                                w = ws + j * dw
                                val = plane[h * W + w]
                                if val > m or val != val:
                                    m = val
                                    best = h * W + w
                        out[n, c, y, xo] = m
                        idx[n, c, y, xo] = best
    return out_arr, idx_arr


def max_pool2d_bwd(const conv_t[:, :, :, ::1] grad, const int64_t[:, :, :, ::1] indices, Py_ssize_t H,
                   Py_ssize_t W):
    """Backward of ``max_pool2d_fwd``: a new (N, C, H, W) array with each gradient added at its index."""
    cdef Py_ssize_t N = grad.shape[0], C = grad.shape[1], oh = grad.shape[2], ow = grad.shape[3]
    if (indices.shape[0], indices.shape[1], indices.shape[2], indices.shape[3]) != (N, C, oh, ow):
        ishape = (indices.shape[0], indices.shape[1], indices.shape[2], indices.shape[3])
        raise RuntimeError(f"max_pool2d backward: indices of shape {ishape} do not match the gradient's "
                           f"{(N, C, oh, ow)}")
    dtype = np.float32 if conv_t is float else np.float64
    out_arr = np.zeros((N, C, H, W), dtype=dtype)
    cdef conv_t[:, :, :, ::1] out = out_arr
    cdef Py_ssize_t n, c, y, xo, k, hw = H * W
    cdef int64_t bad = 0
    cdef conv_t* o
    if grad.size == 0 or out_arr.size == 0:
        return out_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                o = &out[n, c, 0, 0]
                for y in range(oh):
                    for xo in range(ow):
                        k = indices[n, c, y, xo]
                        if k < 0 or k >= hw:
                            bad = 1
                            continue
                        o[k] += grad[n, c, y, xo]
    if bad:
        raise RuntimeError(f"max_pool2d backward: an index is outside the {H}x{W} input plane")
    return out_arr


cdef inline Py_ssize_t _avg_divisor(Py_ssize_t hs, Py_ssize_t ws, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad,
                                    Py_ssize_t divisor) noexcept nogil:
    """PyTorch's avg-pool divisor: the override, else the window clipped to the padded (or plain) input."""
    cdef Py_ssize_t he = min(hs + kh, H + ph), we = min(ws + kw, W + pw)
    if divisor > 0:
        return divisor
    if count_include_pad:
        return (he - hs) * (we - ws)
    return (min(he, H) - max(hs, 0)) * (min(we, W) - max(ws, 0))


def avg_pool2d_fwd(const conv_t[:, :, :, ::1] x, tuple kernel, tuple stride, tuple padding, Py_ssize_t oh,
                   Py_ssize_t ow, bint count_include_pad, Py_ssize_t divisor):
    """Mean of each window of a contiguous (N, C, H, W) float array (sum in window order, then divide)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    if min(kh, kw, sh, sw, oh, ow) <= 0 or min(ph, pw) < 0:
        raise RuntimeError(f"avg_pool2d: bad window: kernel {kernel}, stride {stride}, padding {padding}, "
                           f"output {oh}x{ow}")
    dtype = np.float32 if conv_t is float else np.float64
    out_arr = np.empty((N, C, oh, ow), dtype=dtype)
    cdef conv_t[:, :, :, ::1] out = out_arr
    cdef Py_ssize_t n, c, y, xo, i, j, hs, ws, dv, i0, i1, j0, j1
    cdef conv_t acc
    cdef const conv_t* plane
    if out_arr.size == 0:
        return out_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                plane = &x[n, c, 0, 0]
                for y in range(oh):
                    hs = y * sh - ph
                    _taps(hs, kh, 1, H, &i0, &i1)
                    for xo in range(ow):
                        ws = xo * sw - pw
                        _taps(ws, kw, 1, W, &j0, &j1)
                        acc = 0
                        for i in range(i0, i1):
                            for j in range(j0, j1):
                                acc = acc + plane[(hs + i) * W + ws + j]
                        dv = _avg_divisor(hs, ws, kh, kw, H, W, ph, pw, count_include_pad, divisor)
                        out[n, c, y, xo] = acc / <conv_t>dv
    return out_arr


def avg_pool2d_bwd(const conv_t[:, :, :, ::1] grad, Py_ssize_t H, Py_ssize_t W, tuple kernel, tuple stride,
                   tuple padding, bint count_include_pad, Py_ssize_t divisor):
    """Backward of ``avg_pool2d_fwd``: each output gradient, divided once, added over its window."""
    cdef Py_ssize_t N = grad.shape[0], C = grad.shape[1], oh = grad.shape[2], ow = grad.shape[3]
    cdef Py_ssize_t kh = kernel[0], kw = kernel[1], sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    if min(kh, kw, sh, sw) <= 0 or min(ph, pw) < 0:
        raise RuntimeError(f"avg_pool2d backward: bad window: kernel {kernel}, stride {stride}, padding {padding}")
    dtype = np.float32 if conv_t is float else np.float64
    out_arr = np.zeros((N, C, H, W), dtype=dtype)
    cdef conv_t[:, :, :, ::1] out = out_arr
    cdef Py_ssize_t n, c, y, xo, i, j, hs, ws, dv, i0, i1, j0, j1
    cdef conv_t gd
    cdef conv_t* o
    if grad.size == 0 or out_arr.size == 0:
        return out_arr
    with nogil:
        for n in range(N):
            for c in range(C):
                o = &out[n, c, 0, 0]
                for y in range(oh):
                    hs = y * sh - ph
                    _taps(hs, kh, 1, H, &i0, &i1)
                    for xo in range(ow):
                        ws = xo * sw - pw
                        _taps(ws, kw, 1, W, &j0, &j1)
                        dv = _avg_divisor(hs, ws, kh, kw, H, W, ph, pw, count_include_pad, divisor)
                        gd = grad[n, c, y, xo] / <conv_t>dv
                        for i in range(i0, i1):
                            for j in range(j0, j1):
                                o[(hs + i) * W + ws + j] += gd
    return out_arr
