# cython: language_level=3
"""The per-op host path, compiled: what every small op on the CPU backend pays for besides its arithmetic.

For a 16-element ``a + b`` the arithmetic takes well under a microsecond; the rest of the general path
(``Function.apply`` -> ``_Binary.forward`` -> ``runtime.cpu.elementwise``: device check, type promotion,
broadcasting, output layout, allocation, NumPy's error state, the graph node) is Python glue, run for every
op.  This module holds three things:

* ``binary`` (and the ``Tensor`` operators ``tensor_add`` ...): the steps of a binary elementwise op in C
  for the case that dominates small-op code, floating CPU tensors of one dtype (float32 or float64), or such
  a tensor and a Python number.  For anything else it answers ``None`` and the caller takes the general path,
  which stays the one full definition of every op (its checks and error messages are never duplicated here).
  It keeps exactly what the general path gives: dtype, layout (row-major when the first full-shape input is
  row-major; otherwise the general path decides), broadcasting, NumPy's floating-point warnings off (PyTorch
  returns inf/nan silently), and the same graph node (op class, saved operands, edges).  While anything wraps
  ``Function.apply`` to watch ops (``pygrad.profiler``, the ONNX exporter), it steps aside so every op is seen.
* ``add_into``: the engine's ``leaf.grad += g``, in place, in one call.
* ``function_apply`` and ``attach``: compiled twins of ``Function.apply`` and ``engine.attach``, which every
  op passes through (see the section at the end).
"""
cimport cython
cimport numpy as cnp
from cpython.object cimport PyTypeObject
from cpython.ref cimport PyObject
import numpy as np

cdef extern from "Python.h":
    PyObject* _PyType_Lookup(PyTypeObject* type, object name)  # a class attribute through the MRO (borrowed)

cnp.import_array()

cdef object _np_add = np.add

# Bound once by ``setup`` (the Python modules import this one, not the other way round).
cdef object _Tensor = None       # pygrad.Tensor
cdef object _Storage = None      # pygrad._core.Storage
cdef object _CPU = None          # the CPU device object every CPU tensor's storage carries
cdef object _grad_state = None   # grad_mode._state: thread-local ``enabled``
cdef object _apply = None        # Function.__dict__["apply"] as pygrad defines it
cdef str _APPLY = "apply"
cdef object _edge = None         # engine._edge(t): the graph edge of an input that requires grad
cdef object _fp_var = None       # NumPy's error-state context variable (NumPy >= 2), or None
cdef object _fp_ignore = None    # the error state "ignore all"
cdef object _f32 = None          # pygrad.float32
cdef object _f64 = None          # pygrad.float64
cdef dict _ops = {}              # op name -> (Function class, NumPy ufunc, da reads, db reads): see register
cdef bint _ready = False


def setup(Tensor, Storage, CPU, grad_state, apply, edge, fp_var, fp_ignore, float32, float64):
    """Bind the Python objects the fast path uses (called once by ``pygrad.ops.elementwise``)."""
    global _Tensor, _Storage, _CPU, _grad_state, _apply, _edge, _fp_var, _fp_ignore, _f32, _f64, _ready
    _Tensor, _Storage, _CPU, _grad_state, _apply, _edge = Tensor, Storage, CPU, grad_state, apply, edge
    _fp_var, _fp_ignore, _f32, _f64 = fp_var, fp_ignore, float32, float64
    _ready = fp_var is not None


def register(str name, cls, ufunc, str da_reads, str db_reads):
    """Allow op ``name`` on the fast path: its Function class ``cls``, the NumPy ufunc computing it, and which
    operands (``"a"``, ``"b"``) the gradient of each input reads (``elementwise._BINARY_READS``)."""
    _ops[name] = (cls, ufunc, da_reads, db_reads)


cdef inline bint _apply_patched(cls):
    """Whether ``cls.apply`` is not pygrad's own: ``pygrad.profiler`` and the ONNX exporter (or a test counting
    ops) wrap ``Function.apply`` to see every op, so while they do the fast path steps aside."""
    return _PyType_Lookup(<PyTypeObject*>cls, _APPLY) != <PyObject*>_apply


cdef inline bint _row_major(tuple shape, tuple strides):
    """The same test as ``_core.is_contiguous``: row-major, size-1 dims may have any stride."""
    cdef Py_ssize_t i, expected = 1, size
    for i in range(len(shape) - 1, -1, -1):
        size = <Py_ssize_t>shape[i]
        if size == 0:
            return True
        if size != 1:
            if <Py_ssize_t>strides[i] != expected:
                return False
            expected *= size
    return True


cdef tuple _broadcast(tuple s1, tuple s2):
    """The broadcast shape of two shapes, or None when they do not broadcast (the generic path raises)."""
    cdef Py_ssize_t n1 = len(s1), n2 = len(s2), n = n1 if n1 > n2 else n2, i, d1, d2
    cdef list out = [0] * n
    for i in range(n):
        d1 = <Py_ssize_t>s1[n1 - n + i] if n1 - n + i >= 0 else 1
        d2 = <Py_ssize_t>s2[n2 - n + i] if n2 - n + i >= 0 else 1
        if d1 == d2 or d2 == 1:
            out[i] = d1
        elif d1 == 1:
            out[i] = d2
        else:
            return None
    return tuple(out)


cdef object _array(t):
    """The cached NumPy view of CPU tensor ``t`` (``runtime.cpu.to_numpy``), built on first use."""
    a = t._np
    if a is None:
        from pygrad._core import ndarray_view
        a = t._np = ndarray_view(t._storage.data, t._shape, t._strides, t._offset)
    return a


cdef object _new_tensor(object storage, tuple shape, tuple strides, object dtype, object view):
    """``Tensor._make(storage, shape, strides, 0, dtype)`` (the one constructor) with its NumPy view cached."""
    t = _Tensor._make(storage, shape, strides, 0, dtype)
    t._np = view
    return t


def binary(str name, a, b):
    """``name(a, b)`` for the common case, or None when the general path must run (see the module doc)."""
    return _binary(name, a, b)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object _binary(str name, a, b):
    if not _ready:
        return None
    entry = _ops.get(name)
    if entry is None or _apply_patched(entry[0]):
        return None
    cdef bint ta = isinstance(a, _Tensor), tb = isinstance(b, _Tensor)
    cdef object dtype, shape, first, ka, kb, tp, scalar
    if ta and tb:
        if a._storage.device is not _CPU:
            return _cl_binary(<tuple>entry, a, b)
        if b._storage.device is not _CPU:
            return None
        dtype = a.dtype
        if b.dtype is not dtype:
            return None
        shape = a._shape
        if b._shape != shape:
            shape = _broadcast(a._shape, b._shape)
            if shape is None:
                return None
        # output layout: row-major when the first input of the full shape is (dense_strides_like)
        first = a if a._shape == shape else b if b._shape == shape else None
        if first is not None and not _row_major(shape, first._strides):
            return None
        ka, kb = _array(a), _array(b)
    elif ta or tb:
        first = a if ta else b
        if first._storage.device is not _CPU:
            return _cl_binary_scalar(<tuple>entry, a, b, ta)
        scalar = b if ta else a
        tp = type(scalar)
        # (bool promotes differently, NumPy scalars carry a dtype, ints past 2**53 round differently when
        # NumPy converts them itself: all left to the generic path)
        if tp is not float and (tp is not int or not -9007199254740992 < scalar < 9007199254740992):
            return None
        dtype = first.dtype
        shape = first._shape
        if not _row_major(shape, first._strides):
            return None
        ka, kb = (_array(a), b) if ta else (a, _array(b))
    else:
        return None
    if dtype is not _f32 and dtype is not _f64:
        return None
    cdef Py_ssize_t n = 1, s, i, nd = len(shape)
    for s in shape:
        n *= s
    if n == 0:
        return None
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    cdef cnp.ndarray like = ka if ta else kb
    data = cnp.PyArray_EMPTY(1, dims, cnp.PyArray_TYPE(like), 0)
    view = data if nd == 1 else data.reshape(shape)
    token = _fp_var.set(_fp_ignore)
    try:
        entry[1](ka, kb, view)
    finally:
        _fp_var.reset(token)
    # the strides of a row-major layout (what runtime.cpu.empty gives)
    cdef list st = [1] * nd
    cdef Py_ssize_t acc = 1
    for i in range(nd - 1, -1, -1):
        st[i] = acc
        acc *= <Py_ssize_t>shape[i]
    y = _new_tensor(_Storage(data, _CPU, dtype, n), shape, tuple(st), dtype, view)
    cdef bint ra = ta and a.requires_grad is True, rb = tb and b.requires_grad is True
    if (ra or rb) and _grad_state.enabled:
        _record(<tuple>entry, a, b, ta, tb, ra, rb, y, _CPU)
    return y


cdef tuple _NO_EDGE = (None, 0)


cdef object _edge_of(t):
    """The graph edge of input ``t``: ``(t.grad_fn, t._output_nr)`` for a result, else ``engine._edge``
    (a leaf's AccumulateGrad node, or a view's refreshed history)."""
    if t._base is None:
        node = t.grad_fn
        if node is not None:
            return (node, t._output_nr)
    return _edge(t)


cdef object _record(tuple entry, a, b, bint ta, bint tb, bint ra, bint rb, y, device):
    """Make ``y`` the output of a new graph node: the node ``Function.apply`` + ``_Binary.forward`` +
    ``engine.attach`` would record for this op (saved operands as ``elementwise._save_operands`` picks
    them, edges, input/output metadata), built without their Python frames."""
    node = (<object>entry[0])._backward_cls()
    node.needs_input_grad = (ra, rb)
    cdef str reads = (<str>entry[2] if ra else "") + (<str>entry[3] if rb else "")
    sa = a if ta and "a" in reads else None
    sb = b if tb and "b" in reads else None
    node._saved = [(sa, None if sa is None else sa._storage.version, None),
                   (sb, None if sb is None else sb._storage.version, None)]
    node.scalars = (None if ta else a, None if tb else b)
    node.next_functions = (_edge_of(a) if ra else _NO_EDGE, _edge_of(b) if rb else _NO_EDGE)
    node._input_meta = ((a._shape, a.dtype) if ta else None, (b._shape, b.dtype) if tb else None)
    node._output_meta = ((y._shape, y.dtype, device),)
    y.grad_fn = node
    y.requires_grad = True


cdef dict _unary_ops = {}        # op name -> (Function class, CPU kernel fn(x, out=), what backward reads)


def register_unary(str name, cls, fn, str reads):
    """Allow unary op ``name`` on the fast path: its Function class, CPU kernel (``fn(x, out=out)``) and which
    of ``"x"`` / ``"y"`` its derivative reads (``elementwise._UNARY_READS``)."""
    _unary_ops[name] = (cls, fn, reads)


def unary(str name, x):
    """``name(x)`` for a row-major float32/float64 CPU tensor, or None when the general path must run."""
    if not _ready:
        return None
    entry = _unary_ops.get(name)
    if entry is None or _apply_patched((<tuple>entry)[0]) or not isinstance(x, _Tensor):
        return None
    storage = x._storage
    dtype = x.dtype
    if storage.device is not _CPU:
        return _cl_unary(<tuple>entry, x)
    if dtype is not _f32 and dtype is not _f64:
        return None
    shape = x._shape
    if not _row_major(shape, x._strides):
        return None
    cdef Py_ssize_t n = 1, s, i, nd = len(shape)
    for s in shape:
        n *= s
    if n == 0:
        return None
    kx = _array(x)
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    data = cnp.PyArray_EMPTY(1, dims, cnp.PyArray_TYPE(<cnp.ndarray>kx), 0)
    view = data if nd == 1 else data.reshape(shape)
    token = _fp_var.set(_fp_ignore)
    try:
        (<tuple>entry)[1](kx, out=view)
    finally:
        _fp_var.reset(token)
    cdef list st = [1] * nd
    cdef Py_ssize_t acc = 1
    for i in range(nd - 1, -1, -1):
        st[i] = acc
        acc *= <Py_ssize_t>shape[i]
    y = _new_tensor(_Storage(data, _CPU, dtype, n), shape, tuple(st), dtype, view)
    if x.requires_grad is True and _grad_state.enabled:
        _record_unary(<tuple>entry, x, y, view, _CPU)
    return y


cdef _record_unary(tuple entry, x, y, view, device):
    """Make ``y`` the output of the node Function.apply + _Unary.forward + attach record: a saved output is
    kept as a detached alias with its output number (no reference cycle output -> node -> output)."""
    node = (<object>entry[0])._backward_cls()
    node.needs_input_grad = (True,)
    reads = entry[2]
    shape, dtype = x._shape, x.dtype
    node._saved = [(x if "x" in reads else None, x._storage.version if "x" in reads else None, None),
                   (_new_tensor(y._storage, shape, y._strides, dtype, view) if "y" in reads else None,
                    0 if "y" in reads else None, 0 if "y" in reads else None)]
    node.next_functions = (_edge_of(x),)
    node._input_meta = ((shape, dtype),)
    node._output_meta = ((shape, dtype, device),)
    y.grad_fn = node
    y.requires_grad = True


# ----------------------------------------------------------------------------------------------------------
# The OpenCL twin: ``binary`` / ``unary`` on one OpenCL device, for same-shape row-major float operands.
#
# The general path of ``a + b`` on OpenCL (Function.apply -> _Binary.forward -> OpenCLBackend.elementwise ->
# _launch_ew -> _TypedKernel.__call__ -> pyopencl's generated invoker) costs ~13 us of Python per op, more
# than the launch itself.  Here the same launch (``ew_contig``, the kernel and grid ``_launch_ew`` picks for
# these operands) is queued from C: the output buffer comes from the device's memory pool, the twelve
# arguments are set with clSetKernelArg and the kernel queued with clEnqueueNDRangeKernel (no event), on a
# ``Kernel`` object of the plan's own (see ``OpenCLBackend.ew_fast_plan``), under the plan's lock.  Anything
# else (a first launch, broadcasting, a scalar operand, other dtypes, a forked child, the profiler watching
# ``Function.apply`` or kernel launches, the GPU shape's vectorised kernel) answers None: the general path.
# ----------------------------------------------------------------------------------------------------------
from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_acquire_lock, PyThread_release_lock, WAIT_LOCK,
                               NOWAIT_LOCK)
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, intptr_t, uint8_t, uint16_t,
                          uint32_t, uint64_t)

ctypedef int (*SetArgFn)(void* kernel, unsigned int index, size_t size, const void* value) noexcept nogil
ctypedef int (*EnqueueFn)(void* queue, void* kernel, unsigned int dim, const size_t* offset, const size_t* gsize,
                          const size_t* lsize, unsigned int nwait, const void* wait, void** event) noexcept nogil
ctypedef int (*WaitFn)(unsigned int n, void** events) noexcept nogil
ctypedef int (*ReleaseFn)(void* event) noexcept nogil

cdef object _cl_get_backend = None   # pygrad.runtime.get_backend
cdef object _cl_kernels = None       # pygrad.runtime.opencl.kernels (its ``launches`` counter)
cdef object _cl_typed = None         # kernels._TypedKernel
cdef object _cl_typed_call = None    # _TypedKernel.__dict__["__call__"] as pygrad defines it
cdef dict _cl_rt_state = None        # runtime._state ("forked")
cdef Py_ssize_t _cl_host_check = 0   # runtime._HOST_CHECK_BYTES: larger allocations go through Runtime.alloc
cdef dict _cl_plans = {}             # Function class -> list of plans (one per device and dtype, usually one)
cdef object _cl_binder = None        # binds the above once OpenCL is in use (pygrad.ops.elementwise)
cdef str _CALL = "__call__"


def set_opencl_binder(binder):
    """``binder()`` calls ``setup_opencl``: run when the first op on an OpenCL tensor arrives here (importing the
    OpenCL runtime earlier would cost every ``import pygrad``)."""
    global _cl_binder
    _cl_binder = binder


def setup_opencl(get_backend, kernels_module, rt_state, host_check_bytes):
    """Bind what the OpenCL twin uses; False (nothing bound, asked again at the next op) while something
    wraps ``_TypedKernel.__call__`` (the profiler, a benchmark counting launches): the original is bound."""
    global _cl_get_backend, _cl_kernels, _cl_typed, _cl_typed_call, _cl_rt_state, _cl_host_check
    call = kernels_module._TypedKernel.__dict__["__call__"]
    if getattr(call, "__qualname__", None) != "_TypedKernel.__call__" or \
            getattr(call, "__module__", None) != kernels_module.__name__:
        return False
    _cl_kernels, _cl_typed = kernels_module, kernels_module._TypedKernel
    _cl_typed_call = call
    _cl_rt_state, _cl_host_check = rt_state, host_check_bytes
    _cl_get_backend = get_backend
    return True


cdef class _CLPlan:
    """One prepared launch of ``ew_contig``: a kernel object of its own, its queue, the pool to allocate from."""
    cdef object kernel, queue, rt, pool, pool_lock, dummy, device, dtype, backend
    cdef void* kptr
    cdef void* qptr
    cdef void* dummy_ptr
    cdef SetArgFn set_arg
    cdef EnqueueFn enqueue
    cdef WaitFn wait
    cdef ReleaseFn release
    cdef size_t local
    cdef bint gpu_grid
    cdef int linked  # bit 1: launched once with a grid narrower than 65535, bit 2: with a wider one
    cdef Py_ssize_t chunk, items, vec4_from, itemsize, max_alloc, global_mem
    cdef PyThread_type_lock lock

    def __cinit__(self):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)


cdef _CLPlan _cl_plan(tuple entry, object fn, dev, dtype, int nin):
    """The plan of op ``fn`` on ``dev`` for ``dtype``, made on first use; None while the backend has none."""
    cls = entry[0]
    cdef list plans = _cl_plans.get(cls)
    cdef _CLPlan p
    if plans is not None:
        for p in plans:
            if p.device is dev and p.dtype is dtype:
                return p
    if _cl_get_backend is None:
        return None
    backend = _cl_get_backend(dev)
    maker = getattr(backend, "ew_fast_plan", None)
    d = maker(fn, dtype, nin) if maker is not None else None
    if d is None:
        return None
    entry_points = d["entry"]
    p = _CLPlan()
    p.kernel, p.queue, p.rt, p.dummy, p.device, p.dtype = d["kernel"], d["queue"], d["rt"], d["dummy"], dev, dtype
    p.pool, p.pool_lock, p.backend = p.rt.pool, p.rt.lock, backend
    p.kptr = <void*><intptr_t>p.kernel.int_ptr
    p.qptr = <void*><intptr_t>p.queue.int_ptr
    p.dummy_ptr = <void*><intptr_t>p.dummy._storage.data.int_ptr
    p.set_arg = <SetArgFn><intptr_t>entry_points["clSetKernelArg"]
    p.enqueue = <EnqueueFn><intptr_t>entry_points["clEnqueueNDRangeKernel"]
    p.wait = <WaitFn><intptr_t>entry_points["clWaitForEvents"]
    p.release = <ReleaseFn><intptr_t>entry_points["clReleaseEvent"]
    p.local = d["local"]
    kind, p.chunk, p.items = d["grid"]
    p.gpu_grid = kind == "gpu"
    p.vec4_from = d["vec4_from"]
    p.itemsize = dtype.itemsize
    p.max_alloc, p.global_mem = p.rt.max_alloc, p.rt.global_mem
    p.linked = 0
    _cl_plans.setdefault(cls, []).append(p)
    return p


cdef inline bint _cl_watched(cls):
    """Whether something watches ops or launches (the profiler wraps ``Function.apply`` and
    ``_TypedKernel.__call__``; a test may wrap either): then every op takes the general path."""
    if _cl_typed is None:
        if _cl_binder is None:
            return True
        _cl_binder()
        if _cl_typed is None:
            return True
    return (_PyType_Lookup(<PyTypeObject*>cls, _APPLY) != <PyObject*>_apply
            or _PyType_Lookup(<PyTypeObject*>_cl_typed, _CALL) != <PyObject*>_cl_typed_call)


cdef object _cl_alloc(_CLPlan p, Py_ssize_t nbytes):
    """A pool buffer of ``nbytes`` (``Runtime.alloc`` for what needs its checks: large or past a limit)."""
    pool = p.pool
    if nbytes >= _cl_host_check or nbytes > p.max_alloc or pool.active_bytes + nbytes > p.global_mem:
        return p.rt.alloc(nbytes)
    lock = p.pool_lock
    with lock:
        try:
            return pool.allocate(nbytes)
        except Exception:
            pass
    return p.rt.alloc(nbytes)  # (raises the runtime's out-of-memory error)


cdef object _cl_run(_CLPlan p, tuple shape, Py_ssize_t n, x1, x2, into=None, int64_t step2=1, int64_t step1=1):
    """Queue ``ew_contig`` over ``n`` elements of ``x1`` and ``x2`` (walked with steps ``step1``, ``step2``: 1,
    or 0 for one value; ``x2`` None: the dummy operand) into a new tensor laid out row-major, or into
    row-major tensor ``into`` (returned then); None (nothing queued) where the general path must do it."""
    if p.vec4_from and n >= p.vec4_from:
        return None  # (the GPU shape's ew_contig4)
    if _cl_rt_state["forked"] or p.rt.queue is not p.queue:
        return None  # a forked child (the general path raises), or another queue in place (profiling)
    cdef Py_ssize_t nbytes = (n * p.itemsize + 7) // 8 * 8
    buf = _cl_alloc(p, nbytes) if into is None else into._storage.data
    cdef void* mem[4]
    cdef int64_t vals[8]
    mem[0] = <void*><intptr_t>buf.int_ptr
    mem[1] = <void*><intptr_t>x1._storage.data.int_ptr
    mem[2] = <void*><intptr_t>x2._storage.data.int_ptr if x2 is not None else p.dummy_ptr
    mem[3] = p.dummy_ptr
    vals[0] = 0 if into is None else into._offset
    vals[1] = x1._offset
    vals[2] = x2._offset if x2 is not None else 0
    vals[3] = 0
    vals[4] = step1
    vals[5] = step2 if x2 is not None else 0
    vals[6] = 0
    vals[7] = n
    cdef size_t gs, ls = p.local
    if p.gpu_grid:
        gs = (n + p.chunk - 1) // p.chunk * p.chunk
        if gs > <size_t>p.items:
            gs = p.items
    else:
        gs = (n + p.chunk - 1) // p.chunk
        if gs > <size_t>p.items:
            gs = p.items
    cdef int err = 0, i
    cdef void* event = NULL
    # PoCL compiles a kernel once per local size for grids narrower than 65535 work-items in every
    # dimension and once for wider ones (warm.SMALL_GRID): the first launch of each is waited for
    cdef int grid_bit = 1 if gs < 65535 else 2
    cdef bint first = not (p.linked & grid_bit)
    if not PyThread_acquire_lock(p.lock, NOWAIT_LOCK):  # (another thread is launching: wait without the GIL)
        with nogil:
            PyThread_acquire_lock(p.lock, WAIT_LOCK)
    for i in range(4):
        err |= p.set_arg(p.kptr, i, sizeof(void*), &mem[i])
    for i in range(8):
        err |= p.set_arg(p.kptr, 4 + i, sizeof(int64_t), &vals[i])
    if err == 0:
        err = p.enqueue(p.qptr, p.kptr, 1, NULL, &gs, &ls, 0, NULL, &event if first else NULL)
    PyThread_release_lock(p.lock)
    if err != 0:
        return None  # (nothing was queued: the general path launches, and raises pyopencl's error if any)
    if first:  # this kernel object's first launch: wait for it, as _TypedKernel does (PoCL's link step)
        with nogil:
            p.wait(1, &event)
            p.release(event)
        p.linked |= grid_bit
    _cl_kernels.launches += 1
    if into is not None:
        return into
    cdef Py_ssize_t nd = len(shape), acc = 1
    cdef list st = [1] * nd
    for i in range(nd - 1, -1, -1):
        st[i] = acc
        acc *= <Py_ssize_t>shape[i]
    dtype = p.dtype
    return _Tensor._make(_Storage(buf, p.device, dtype, n), shape, tuple(st), 0, dtype)


cdef inline Py_ssize_t _numel(tuple shape):
    cdef Py_ssize_t n = 1, s
    for s in shape:
        n *= s
    return n


cdef object _cl_binary(tuple entry, a, b):
    """``binary`` for two tensors on one OpenCL device (a's device is not the CPU); None: the general path."""
    cls = entry[0]
    if _cl_watched(cls):
        return None
    dev = a._storage.device
    if b._storage.device is not dev:
        return None
    dtype = a.dtype
    if b.dtype is not dtype or (dtype is not _f32 and dtype is not _f64):
        return None
    cdef tuple shape = a._shape
    if b._shape != shape or not _row_major(shape, a._strides) or not _row_major(shape, b._strides):
        return None
    cdef Py_ssize_t n = _numel(shape)
    if n == 0:
        return None
    p = _cl_plan(entry, entry[1], dev, dtype, 2)
    if p is None:
        return None
    y = _cl_run(p, shape, n, a, b)
    if y is None:
        return None
    cdef bint ra = a.requires_grad is True, rb = b.requires_grad is True
    if (ra or rb) and _grad_state.enabled:
        _record(entry, a, b, True, True, ra, rb, y, dev)
    return y


cdef object _cl_binary_scalar(tuple entry, a, b, bint ta):
    """``binary`` for an OpenCL tensor and a Python float (or an int below 2**53), either side: the number is
    the backend's cached one-element device operand (``OpenCLBackend._operand``, as the general path uses),
    read with step 0; None: the general path."""
    if _cl_watched(entry[0]):
        return None
    t, scalar = (a, b) if ta else (b, a)
    tp = type(scalar)
    if tp is not float and (tp is not int or not -9007199254740992 < scalar < 9007199254740992):
        return None
    dtype = t.dtype
    if dtype is not _f32 and dtype is not _f64:
        return None
    cdef tuple shape = t._shape
    if not _row_major(shape, t._strides):
        return None
    cdef Py_ssize_t n = _numel(shape)
    if n == 0:
        return None
    dev = t._storage.device
    p = _cl_plan(entry, entry[1], dev, dtype, 2)
    if p is None:
        return None
    s = p.backend._operand(scalar, dtype)
    y = _cl_run(p, shape, n, t, s, None, 0, 1) if ta else _cl_run(p, shape, n, s, t, None, 1, 0)
    if y is None:
        return None
    if t.requires_grad is True and _grad_state.enabled:
        _record(entry, a, b, ta, not ta, ta, not ta, y, dev)
    return y


cdef bint _cl_add_into(dst, src):
    """``add_into`` on an OpenCL device: ``ew_contig`` of add with the output and first operand ``dst``."""
    entry = _ops["add"]
    if _cl_watched(entry[0]):
        return False
    storage = dst._storage
    dev = storage.device
    if src._storage.device is not dev or src._storage is storage:
        return False
    dtype = dst.dtype
    if src.dtype is not dtype or (dtype is not _f32 and dtype is not _f64):
        return False
    cdef tuple shape = dst._shape
    if src._shape != shape or not _row_major(shape, dst._strides):
        return False
    cdef int64_t step2 = 1
    if not _row_major(shape, src._strides):
        if any(src._strides):
            return False
        step2 = 0  # one value broadcast (the gradient of a sum): ew_contig reads it with step 0
    cdef Py_ssize_t n = _numel(shape)
    if n == 0:
        return False
    p = _cl_plan(entry, entry[1], dev, dtype, 2)
    if p is None or _cl_run(p, shape, n, dst, src, dst, step2) is None:
        return False
    storage.version += 1
    return True


cdef object _cl_unary(tuple entry, x):
    """``unary`` for a tensor on an OpenCL device; None: the general path."""
    if _cl_watched(entry[0]):
        return None
    dtype = x.dtype
    if dtype is not _f32 and dtype is not _f64:
        return None
    cdef tuple shape = x._shape
    if not _row_major(shape, x._strides):
        return None
    cdef Py_ssize_t n = _numel(shape)
    if n == 0:
        return None
    dev = x._storage.device
    p = _cl_plan(entry, entry[1], dev, dtype, 1)
    if p is None:
        return None
    y = _cl_run(p, shape, n, x, None)
    if y is None:
        return None
    if x.requires_grad is True and _grad_state.enabled:
        _record_unary(entry, x, y, None, dev)
    return y


# ----------------------------------------------------------------------------------------------------------
# Every other OpenCL launch: ``kernels._TypedKernel.__call__`` hands warm launches (not a kernel's first per
# local size) to ``launch`` below, which sets the arguments with clSetKernelArg and queues the kernel without
# an event.  pyopencl's generated invoker costs 2-3 us per launch for buffers and Python ints and ~6 us per
# by-value struct (the Layout of the strided kernels); here each argument costs tens of nanoseconds.  The
# argument types are those ``_TypedKernel`` typed the kernel with (its first call: NumPy scalars their own
# dtype, Python ints int64, everything else by reference); an argument that does not fit them, a queue with
# profiling on (the profiler needs events), or an error from OpenCL answers False, and the caller launches
# through pyopencl as before (which then raises its usual error).  Nothing here knows tensors.
# ----------------------------------------------------------------------------------------------------------
cdef SetArgFn _g_set_arg = NULL
cdef EnqueueFn _g_enqueue = NULL
cdef object _g_mem_type = None     # pyopencl.MemoryObjectHolder
cdef object _g_profiling = None    # pyopencl.command_queue_properties.PROFILING_ENABLE
cdef dict _g_queues = {}           # id(queue) -> (queue, its cl_command_queue, or 0 for a profiling queue)
cdef object _np_integer = np.integer
cdef object _np_floating = np.floating

# argument kinds (arg_kinds): by reference (buffer, None, a contiguous NumPy array's bytes), or by value
cdef enum:
    K_REF = 0
    K_I8, K_I4, K_I2, K_I1, K_U8, K_U4, K_U2, K_U1, K_F4, K_F8


def setup_launch(entry_points, mem_type, profiling_flag):
    """Bind the raw entry points (``backend._cl_entry_points``) and pyopencl's types (by ``kernels``)."""
    global _g_set_arg, _g_enqueue, _g_mem_type, _g_profiling
    if entry_points is None:
        _g_set_arg, _g_enqueue = NULL, NULL
        return
    _g_mem_type, _g_profiling = mem_type, profiling_flag
    _g_set_arg = <SetArgFn><intptr_t>entry_points["clSetKernelArg"]
    _g_enqueue = <EnqueueFn><intptr_t>entry_points["clEnqueueNDRangeKernel"]


def arg_kinds(args):
    """The argument kinds of a kernel typed on ``args`` (as ``_TypedKernel`` types it), as bytes; None when
    some argument type is not handled here (that kernel always launches through pyopencl)."""
    out = bytearray()
    for a in args:
        if isinstance(a, np.generic):
            d = a.dtype
            code = {("i", 8): K_I8, ("i", 4): K_I4, ("i", 2): K_I2, ("i", 1): K_I1, ("u", 8): K_U8, ("u", 4): K_U4,
                    ("u", 2): K_U2, ("u", 1): K_U1, ("b", 1): K_U1, ("f", 4): K_F4, ("f", 8): K_F8}.get((d.kind, d.itemsize))
            if code is None:
                return None
            out.append(code)
        elif isinstance(a, int):
            out.append(K_I8)
        else:
            out.append(K_REF)
    return bytes(out)


cdef void* _queue_ptr(queue) except? NULL:
    e = _g_queues.get(id(queue))
    if e is None:
        if len(_g_queues) > 64:  # (profiling sessions each make a queue: keep the table small)
            _g_queues.clear()
        ptr = 0 if queue.properties & _g_profiling else queue.int_ptr
        e = _g_queues[id(queue)] = (queue, ptr)
    return <void*><intptr_t>(<tuple>e)[1]


@cython.boundscheck(False)
@cython.wraparound(False)
def launch(kernel, bytes kinds, queue, tuple gsize, lsize, tuple args):
    """Queue ``kernel`` (a pyopencl Kernel) with ``args`` of ``kinds``; True when queued, False when the caller
    must launch it through pyopencl (see above).  The caller holds the kernel's lock."""
    if _g_enqueue == NULL:
        return False
    cdef void* q = _queue_ptr(queue)
    if q == NULL:
        return False
    cdef Py_ssize_t n = len(args), i, dim = len(gsize)
    if n != len(kinds) or dim < 1 or dim > 3:
        return False
    cdef size_t gs[3]
    cdef size_t ls[3]
    cdef bint has_local = lsize is not None
    if has_local and len(<tuple>lsize) != dim:
        return False
    for i in range(dim):
        gs[i] = <size_t>gsize[i]
        if has_local:
            ls[i] = <size_t>(<tuple>lsize)[i]
    cdef void* k = <void*><intptr_t>kernel.int_ptr
    cdef const unsigned char* kd = kinds
    cdef int err = 0, kind
    cdef void* ptr
    cdef int64_t i8
    cdef uint64_t u8
    cdef int32_t i4
    cdef uint32_t u4
    cdef int16_t i2
    cdef uint16_t u2
    cdef int8_t i1
    cdef uint8_t u1
    cdef float f4
    cdef double f8
    cdef cnp.ndarray arr
    try:
        for i in range(n):
            a = args[i]
            kind = kd[i]
            if kind == K_REF:
                if a is None:
                    ptr = NULL
                    err = _g_set_arg(k, i, sizeof(void*), &ptr)
                elif isinstance(a, _g_mem_type):
                    ptr = <void*><intptr_t>a.int_ptr
                    err = _g_set_arg(k, i, sizeof(void*), &ptr)
                elif type(a) is np.ndarray and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
                    arr = <cnp.ndarray>a
                    err = _g_set_arg(k, i, <size_t>cnp.PyArray_NBYTES(arr), cnp.PyArray_DATA(arr))
                else:
                    return False
            elif kind <= K_U1:
                if not (isinstance(a, int) or isinstance(a, _np_integer)):
                    return False
                if kind == K_I8:
                    i8 = a
                    err = _g_set_arg(k, i, 8, &i8)
                elif kind == K_I4:
                    i4 = a
                    err = _g_set_arg(k, i, 4, &i4)
                elif kind == K_U4:
                    u4 = a
                    err = _g_set_arg(k, i, 4, &u4)
                elif kind == K_U8:
                    u8 = a
                    err = _g_set_arg(k, i, 8, &u8)
                elif kind == K_I2:
                    i2 = a
                    err = _g_set_arg(k, i, 2, &i2)
                elif kind == K_U2:
                    u2 = a
                    err = _g_set_arg(k, i, 2, &u2)
                elif kind == K_I1:
                    i1 = a
                    err = _g_set_arg(k, i, 1, &i1)
                else:
                    u1 = a
                    err = _g_set_arg(k, i, 1, &u1)
            else:
                if not (isinstance(a, float) or isinstance(a, int) or isinstance(a, _np_floating)
                        or isinstance(a, _np_integer)):
                    return False
                if kind == K_F4:
                    f4 = a
                    err = _g_set_arg(k, i, 4, &f4)
                else:
                    f8 = a
                    err = _g_set_arg(k, i, 8, &f8)
            if err != 0:
                return False
    except (OverflowError, TypeError, ValueError):  # (pyopencl's packing raises its own error for these)
        return False
    err = _g_enqueue(q, k, <unsigned int>dim, NULL, gs, ls if has_local else NULL, 0, NULL, NULL)
    return err == 0


# ----------------------------------------------------------------------------------------------------------
# Tensor's arithmetic operators: ``a + b`` lands here directly (one C call instead of three Python frames),
# tries the compiled path and otherwise calls ``pygrad.ops.elementwise.binary``, the general one.
# ----------------------------------------------------------------------------------------------------------
cdef object _general = None  # pygrad.ops.elementwise.binary


def set_general(binary_fn):
    """Bind the general path the operators fall back to."""
    global _general
    _general = binary_fn


cdef inline object _op(str name, a, b):
    y = _binary(name, a, b)
    return y if y is not None else _general(name, a, b)


def tensor_add(a, b):
    """``a + b``"""
    return _op("add", a, b)


def tensor_radd(a, b):
    """``b + a`` (a Python number on the left)"""
    return _op("add", b, a)


def tensor_sub(a, b):
    """``a - b``"""
    return _op("sub", a, b)


def tensor_rsub(a, b):
    """``b - a``"""
    return _op("sub", b, a)


def tensor_mul(a, b):
    """``a * b``"""
    return _op("mul", a, b)


def tensor_rmul(a, b):
    """``b * a``"""
    return _op("mul", b, a)


def tensor_truediv(a, b):
    """``a / b``"""
    return _op("div", a, b)


def tensor_rtruediv(a, b):
    """``b / a``"""
    return _op("div", b, a)


# ----------------------------------------------------------------------------------------------------------
# Gradient accumulation: ``leaf.grad += g`` for every leaf in every backward pass
# ----------------------------------------------------------------------------------------------------------
def add_into(dst, src):
    """``dst += src`` in place (the engine's ``leaf.grad.add_(g)`` under no_grad) for two float tensors of
    one dtype, shape and device with ``dst`` row-major (on OpenCL: ``src`` row-major or one broadcast value,
    one ``ew_contig`` launch instead of ``add_``'s launch and copy); bumps ``dst``'s version as ``add_`` does.
    Returns False, having done nothing, in any other case (or while ``Function.apply`` is wrapped), and the
    engine calls ``add_`` itself."""
    if not _ready or _apply_patched(_ops["add"][0]):
        return False
    if not isinstance(dst, _Tensor) or not isinstance(src, _Tensor):
        return False
    storage = dst._storage
    if storage.device is not _CPU:
        return _cl_add_into(dst, src)
    if storage.device is not _CPU or src._storage.device is not _CPU:
        return False
    dtype = dst.dtype
    if src.dtype is not dtype or (dtype is not _f32 and dtype is not _f64):
        return False
    if dst._shape != src._shape or not _row_major(dst._shape, dst._strides):
        return False
    d = _array(dst)
    token = _fp_var.set(_fp_ignore)
    try:
        _np_add(d, _array(src), d)
    finally:
        _fp_var.reset(token)
    storage.version += 1
    return True


# ----------------------------------------------------------------------------------------------------------
# Function.apply and engine.attach, compiled.  Every op passes through them (about a hundred times in a
# LeNet step), so their Python frames and attribute lookups are a fixed cost on every op.  These are
# step-for-step translations of the Python definitions in ``pygrad/autograd/function.py`` (``Function.apply``)
# and ``pygrad/autograd/engine.py`` (``attach``), which stay as the readable reference and are used when
# this module is not built; ``tests/test_host_path.py`` runs both.
# ----------------------------------------------------------------------------------------------------------
cdef object _check_devices = None  # ops.dispatch.check_devices
cdef object _other_device = None   # ops.dispatch._other_device: the mixed-device rule and its error


def bind_autograd(grad_state, check_devices, other_device, edge):
    """Bind what ``function_apply`` and ``attach`` use (called by ``pygrad/autograd/function.py``)."""
    global _grad_state, _check_devices, _other_device, _edge
    _grad_state, _check_devices, _other_device, _edge = grad_state, check_devices, other_device, edge


cdef _devices(tuple args):
    """``ops.dispatch.check_devices(args)`` compiled (the same walk; a second device goes to the same
    ``_other_device``, which allows CPU scalars and raises PyTorch's error for any other mix)."""
    if _Tensor is None:  # (while pygrad is still importing)
        _check_devices(args)
        return
    dev = first = None
    for a in args:
        if isinstance(a, _Tensor):
            d = a._storage.device
            if dev is None:
                dev, first = d, a
            elif d is not dev:
                dev, first = _other_device(dev, first, d, a)
        elif (type(a) is list or type(a) is tuple) and a and isinstance(a[0], _Tensor):
            for t in a:
                if isinstance(t, _Tensor):
                    d = t._storage.device
                    if dev is None:
                        dev, first = d, t
                    elif d is not dev:
                        dev, first = _other_device(dev, first, d, t)


cdef inline bint _requires_grad(a):
    """``getattr(a, "requires_grad", False) is True``, without a failed attribute lookup for plain values."""
    tp = type(a)
    if tp is int or tp is float or tp is bool or tp is tuple or tp is list or a is None or tp is str:
        return False
    if _Tensor is not None and isinstance(a, _Tensor):
        return a.requires_grad is True
    return getattr(a, "requires_grad", False) is True


def function_apply(cls, *args, **kwargs):
    """Run forward; record a graph node when grad mode is on and an input requires grad."""
    if cls._builtin:
        _devices(args)  # every built-in op passes here: one place, before any backend runs
    cdef Py_ssize_t i, n = len(args)
    cdef bint record = False
    cdef list needs = [False] * n
    for i in range(n):
        if _requires_grad(args[i]):
            needs[i] = True
            record = True
    ctx = cls._backward_cls()
    ctx.needs_input_grad = tuple(needs)
    state = _grad_state
    if not (record and state.enabled):
        return cls.forward(ctx, *args, **kwargs)  # nothing is recorded: ctx is dropped afterwards
    state.enabled = False
    try:
        out = cls.forward(ctx, *args, **kwargs)
    finally:
        state.enabled = True
    return attach(ctx, args, out)


def attach(node, args, out):
    """Link a freshly run op into the graph: its inputs' edges, and itself as its outputs' grad_fn."""
    cdef tuple needs = node.needs_input_grad
    cdef Py_ssize_t i, n = min(len(args), len(needs))
    cdef list edges = [None] * n, metas = [None] * len(args)
    for i in range(len(args)):
        a = args[i]
        if isinstance(a, _Tensor) if _Tensor is not None else hasattr(a, "_storage"):
            metas[i] = (a._shape, a.dtype)
        if i < n:
            edges[i] = _edge_of(a) if needs[i] else _NO_EDGE
    node.next_functions = tuple(edges)
    node._input_meta = tuple(metas)
    cdef bint single = not isinstance(out, tuple)
    outs = (out,) if single else out
    if not single:
        node._n_outputs = len(outs)
    node._output_meta = tuple([(o._shape, o.dtype, o._storage.device) if o is not None else None for o in outs])
    positions = {}
    non_diff = node._non_differentiable
    for i in range(len(outs)):
        o = outs[i]
        if o is None or not o.dtype.is_floating_point or (non_diff and id(o) in non_diff):
            continue
        if o.grad_fn is not None or o.requires_grad:
            # forward returned an input (or a view of one) unchanged: record a fresh alias instead
            o = o.detach()
            outs = outs[:i] + (o,) + outs[i + 1:]
        o.grad_fn = node
        o._output_nr = i
        o.requires_grad = True
        if o._base is not None:  # a view: remember which version of the storage its history describes
            o.__dict__["_view_version"] = o._storage.version
        positions[id(o)] = i
    if node._saved:
        # A saved output would point back at this node (output -> node -> output): keep a detached
        # alias and its output number instead, so no reference cycle is left behind.
        node._saved = [(t.detach(), v, positions[id(t)]) if t is not None and id(t) in positions else (t, v, None)
                       for t, v, _ in node._saved]
    return outs[0] if single else outs
