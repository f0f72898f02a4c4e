"""The OpenCL backend: the same primitives as ``runtime/cpu.py``, run as kernels from ``cl_kernels/``.

One ``OpenCLBackend`` object per device.  Storage is a buffer from the device's memory pool.
Kernels are launched with a fixed local size of 64 (PoCL compiles one work-group function per
local size) on a global size rounded up to it; CPU-shaped elementwise kernels with work-groups of one
work-item (see ``EW_CPU_CHUNK``).  The queue is in-order and asynchronous: only
``to_numpy`` (``item``, ``numpy``, ``tolist``, printing) waits for the device, and there reports a bad
index that a kernel met earlier (``runtime.DeviceErrors``).
"""
import collections
import threading

import numpy as np

from ... import _core
from ... import dtypes as D
from ...device import device as _device
from . import kernels
from .runtime import runtime
from .. import cpu as _cpu
from .. import expressions as _expressions

LOCAL = 64
_LOCAL = (LOCAL,)
EW_CPU_CHUNK = 4096  # CPU shape: the fewest elements an elementwise work-item takes (small ops: one work-item)
SCALAR_CACHE_SIZE = 256  # Python-number operands kept on the device (least recently used dropped first)
# OpenCL C has no generic abs/floor/pow for integers: integer versions of those table rows.
INT_EXPR = {
    "abs": "((x) < 0 ? -(x) : (x))", "floor": "(x)", "ceil": "(x)", "round": "(x)", "trunc": "(x)",
    "sign": "(((x) > 0) - ((x) < 0))", "isnan": "0", "isinf": "0", "isfinite": "1",
    "div_floor": "pg_floordiv(a, b)", "div_trunc": "pg_divtrunc(a, b)", "remainder": "pg_mod(a, b)",
    "fmod": "pg_fmod(a, b)", "pow": "pg_ipow(a, b)",
}
# Integer division helpers: x / -1 and x % -1 are spelled out, since LONG_MIN / -1 overflows in C (the
# result is undefined: PoCL gave -1 for LONG_MIN % -1; PyTorch gives 0, and LONG_MIN for the quotient).
# Float helpers compute Python's floor division / remainder as PyTorch does (from fmod), so a divisor of
# +-inf gives PyTorch's answer (5 % inf = 5, -3 % inf = inf, -7 // inf = -1) rather than 0 * inf = nan.
INT_HELPERS = """
inline long pg_neg(long a) { return (long)(0UL - (ulong)a); }
inline long pg_divtrunc(long a, long b) { return b == -1 ? pg_neg(a) : a / b; }
inline long pg_fmod(long a, long b) { return b == -1 ? 0 : a % b; }
inline long pg_floordiv(long a, long b) { if (b == -1) return pg_neg(a);
    long q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
inline long pg_mod(long a, long b) { if (b == -1) return 0;
    long r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
inline long pg_ipow(long a, long b) { long r = 1; if (b < 0) return a == 1 ? 1 : (a == -1 ? (b % 2 ? -1 : 1) : 0);
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r; }
#define PG_FLOAT_DIVMOD(T) \\
inline __attribute__((overloadable)) T pg_fremainder(T a, T b) { \\
    T m = fmod(a, b); return (m != 0 && ((b < 0) != (m < 0))) ? m + b : m; } \\
inline __attribute__((overloadable)) T pg_ffloordiv(T a, T b) { \\
    if (b == 0) return a / b; \\
    T m = fmod(a, b); T d = (a - m) / b; \\
    if (m != 0 && ((b < 0) != (m < 0))) d -= 1; \\
    if (d != 0) { T f = floor(d); if (d - f > (T)0.5) f += 1; return f; } \\
    return copysign((T)0, a / b); }
PG_FLOAT_DIVMOD(float)
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
PG_FLOAT_DIVMOD(double)
#endif
"""
_LAYOUT = np.dtype([("shape", np.int64, 6), ("strides", np.int64, (4, 6)), ("offset", np.int64, 4),
                    ("nd", np.int32), ("pad", np.int32)])


def _ctype(d):
    """The OpenCL C type used to *compute* with dtype d (half computes in float)."""
    return "float" if d is D.float16 or d is D.bfloat16 else d.cl


def _io_defines(prefix, d, compute=None):
    """Storage type, load and store macros for one operand of dtype ``d``."""
    c = compute or _ctype(d)
    if d is D.float16:
        return [f"T{prefix}=half", f"LD_{prefix}(p,i)=(({c})vload_half((i),(p)))",
                f"ST_{prefix}(p,i,v)=vstore_half((float)(v),(i),(p))"]
    if d is D.bfloat16:  # the upper half of a float32; stores round to nearest even (nan stays a quiet nan)
        f = "((float)(v))"
        return [f"T{prefix}=ushort", f"LD_{prefix}(p,i)=(({c})as_float(((uint)(p)[i])<<16))",
                f"ST_{prefix}(p,i,v)=((p)[i]=(ushort)(isnan({f})?0x7FC0u:((as_uint({f})+0x7FFFu"
                f"+((as_uint({f})>>16)&1u))>>16)))"]
    if d is D.bool_:
        return [f"T{prefix}=uchar", f"LD_{prefix}(p,i)=(({c})(p)[i])", f"ST_{prefix}(p,i,v)=((p)[i]=(uchar)((v)!=0))"]
    if not d.is_floating_point and d.itemsize < 8:
        # through long: a float out of the narrow type's range (-5.0f -> uchar) is undefined in OpenCL C
        # (NVIDIA gives 0), while float -> long -> uchar wraps like the CPU backend (251)
        return [f"T{prefix}={d.cl}", f"LD_{prefix}(p,i)=(({c})(p)[i])", f"ST_{prefix}(p,i,v)=((p)[i]=({d.cl})(long)(v))"]
    return [f"T{prefix}={d.cl}", f"LD_{prefix}(p,i)=(({c})(p)[i])", f"ST_{prefix}(p,i,v)=((p)[i]=({d.cl})(v))"]


def _vec4_defines(k, d, c):
    """VCk / LD4_k of ew_contig4: operand k's 4-vector compute type and its 4-element load."""
    load, loads = ("vload_half4(0,(p)+(i))", "float") if d is D.float16 else ("vload4(0,(p)+(i))", d.cl)
    if loads != c:
        load = f"convert_{c}4({load})"
    return [f"VC{k}={c}4", f"LD4_{k}(p,i)=({load})"]


def _tile_defines(d):
    """TOT / TOV of ew_tiled_wg: the type of the output's local tile, and a value's conversion into it."""
    t = _ctype(d)
    return [f"TOT={t}", "TOV(v)=((uchar)((v) != 0))" if d is D.bool_ else f"TOV(v)=(({t})(v))"]


def _step(x, shape, contiguous_strides):
    """ew_contig's step of operand ``x`` for a contiguous output of ``shape``: 1 (walks it in order),
    0 (one value, broadcast), or None (needs the strided kernel)."""
    if x._shape == shape and (x._strides == contiguous_strides or _core.is_contiguous(shape, x._strides)):
        return 1
    if _core.numel(x._shape) == 1 or not any(x._strides):
        return 0
    return None


def _round_up(n):
    return max(LOCAL, -(-n // LOCAL) * LOCAL)


def collapse(shape, strides_list):
    """Merge neighbouring dims that every operand walks contiguously, to keep kernels' loops short."""
    dims = [i for i, s in enumerate(shape) if s != 1]
    if not dims:
        return (), [() for _ in strides_list]
    out_shape = [shape[dims[0]]]
    out_strides = [[st[dims[0]]] for st in strides_list]
    for d in dims[1:]:
        if all(st[-1] == s[d] * shape[d] for st, s in zip(out_strides, strides_list)):
            out_shape[-1] *= shape[d]
            for st, s in zip(out_strides, strides_list):
                st[-1] = s[d]
        else:
            out_shape.append(shape[d])
            for st, s in zip(out_strides, strides_list):
                st.append(s[d])
    return tuple(out_shape), [tuple(st) for st in out_strides]


def _transposed(shape, strides_list):
    """Whether some operand walks the last two dims in the other order than another (see ew_tiled)."""
    if len(shape) < 2 or shape[-1] < 8 or shape[-2] < 8:
        return False
    order = {abs(st[-1]) <= abs(st[-2]) for st in strides_list if st[-1] or st[-2]}
    return len(order) > 1


def make_layout(shape, strides_list, offsets):
    """Pack a shape and up to four operands' strides/offsets into the kernels' ``Layout`` struct.

    A training step asks for the same few layouts again and again: they are kept (read-only; a kernel
    argument is copied when it is set), which saves ~2 us of NumPy struct filling per layout."""
    key = (tuple(shape), tuple(map(tuple, strides_list)), tuple(offsets))
    L = _layouts.get(key)
    if L is not None:
        return L
    L = np.zeros((), _LAYOUT)
    if len(shape) > 6:
        raise RuntimeError(f"OpenCL kernels support at most 6 non-mergeable dims, got shape {list(shape)}")
    L["nd"] = len(shape)
    L["shape"][:len(shape)] = shape
    for k, (st, off) in enumerate(zip(strides_list, offsets)):
        L["strides"][k][:len(st)] = st
        L["offset"][k] = off
    L.flags.writeable = False
    if len(_layouts) >= 1024:  # (offsets of views vary without bound: keep the table small)
        _layouts.clear()
    _layouts[key] = L
    return L


_layouts = {}  # make_layout's (shape, strides, offsets) -> Layout


class OpenCLBackend:
    """Backend primitives for device ``opencl:index`` (see ``runtime/cpu.py`` for the contract)."""

    name = "opencl"
    gemm_kernel = None  # None picks per device kind; "cpu", "tiled", "big" or "naive" forces one (tests, docs)
    gemm_split_k = None  # both shapes: None picks split-K for skinny products; an int forces that many K slices
    gemm_direct_a = None  # gemm_cpu: None decides by size; True/False forces reading A in place or packed
    gemm_direct_b = None  # gemm_cpu: the same for B (in place only where its rows are contiguous and aligned)
    gemm_kc = None  # gemm_cpu: K block length (0 = all of K at once); None: gemm_tune.config (tuned or default)
    gemm_row_blocks = None  # gemm_cpu: 6-row blocks of C per work-item sharing one B slice; None: config
    gemm_small = None  # CPU shape: None uses gemm_dot_k / gemm_row_k for small and narrow products; True: wherever they fit; False: never
    ew_cpu_local_one = True  # CPU shape: elementwise work-groups of one work-item (False before the device is first used: 64)

    def __init__(self, index):
        self.rt = runtime(index)
        self.device = _device("opencl", index)
        # Python numbers used as operands, uploaded once: an LRU of the most recent SCALAR_CACHE_SIZE
        # values (a loop over ever-new values, such as Adam's bias corrections, stays bounded)
        self._scalars = collections.OrderedDict()
        self._scalar_lock = threading.Lock()
        self._ew_programs = {}  # (expression, dtypes) -> built elementwise program
        self._reduce_programs = {}  # (reduction, input, compute and output dtypes) -> built reduce.cl program
        self._reduce_groups = {}  # the same kind of key -> the reduce.cl variants built with it (_reduce_group)
        self._ew_fns = {}  # (function, compute dtype(s), number of inputs) -> (expression, arity, compute dtypes)
        # Work-items per 1-D launch (kernels loop with PG_FOR): a few chunks per core on CPUs.
        self._max_items = LOCAL * 4 * self.rt.device.max_compute_units if self.rt.kernel_shape == "cpu" else LOCAL * 16384
        self._dummy = None
        self._expr = None
        # Elementwise launches of the CPU shape use work-groups of ONE work-item, a few per core, each
        # streaming a contiguous chunk: PoCL then compiles the kernel body once (no loop over 64
        # work-items around it), which LLVM vectorises along the chunk.  Measured on PoCL 3.1 (Xeon):
        # a + b over 4M floats 8 -> 2.5 ms, and the first launch (machine code) ~35% cheaper.
        cpu = self.rt.kernel_shape == "cpu" and self.ew_cpu_local_one
        self._ew_local = (1,) if cpu else _LOCAL
        self._ew_cpu_items = 4 * self.rt.device.max_compute_units
        # float64 about as fast as float32 (CPU devices): var/std of float32 accumulate in it (ops/reduce.py)
        self.fast_fp64 = self.rt.is_cpu and self.rt.has_fp64
        # work-group size of the GPU-shaped kernels: 256, or the largest power of two the device allows
        mwg = self.rt.device.max_work_group_size
        self.wg = 256 if mwg >= 256 else 1 << (int(mwg).bit_length() - 1)
        _bind_raw_launch()

    def grid(self, n):
        """Global size of a 1-D launch over n elements (a multiple of the local size 64)."""
        return (min(_round_up(n), self._max_items),)

    # -- storage ----------------------------------------------------------------------------------
    def _storage(self, n, dtype):
        self._check_dtype(dtype)
        # whole 8-byte words: scatter_add_k swaps the aligned word around a 1- or 2-byte element
        return _core.Storage(self.rt.alloc(-(-n * dtype.itemsize // 8) * 8), self.device, dtype, n)

    def _check_dtype(self, dtype):
        if dtype is D.float64 and not self.rt.has_fp64:
            raise RuntimeError(f"the OpenCL device {self.rt.device.name} does not support float64 (no cl_khr_fp64); "
                               "use float32")

    def empty(self, shape, dtype, strides=None):
        n = _core.numel(shape)
        if dtype is D.float64 and not self.rt.has_fp64:
            self._check_dtype(dtype)
        # whole 8-byte words (as in _storage), written out here: this runs once per op
        storage = _core.Storage(self.rt.alloc(-(-n * dtype.itemsize // 8) * 8), self.device, dtype, n)
        return _cpu._Tensor._make(storage, shape, strides or _core.contiguous_strides(shape), 0)

    def fill_(self, t, value):
        """Fill a new tensor's whole storage with ``value`` (0 or 1) by ``clEnqueueFillBuffer``: no kernel, so
        no program to build (a first step's ``ones_like`` root gradient and int64 ``zeros`` each built one)."""
        import pyopencl as cl

        pattern = np.zeros((), np.uint8) if value == 0 else np.asarray(value, t.dtype.np)
        cl.enqueue_fill_buffer(self.rt.queue, t._storage.data, pattern, 0, t._storage.size * t.dtype.itemsize)
        return t

    def wrap(self, arr, dtype=None):
        """Upload a NumPy array as a new contiguous device tensor."""
        import pyopencl as cl

        dtype = dtype or D.from_numpy_dtype(arr.dtype)
        arr = np.asarray(arr, dtype=dtype.np, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        t = self.empty(tuple(arr.shape), dtype)
        if arr.size:
            self.rt.write(t._storage.data, arr)
        return t

    def to_numpy(self, t):
        """Download the tensor's elements (waits for the queue): a new host array."""
        import pyopencl as cl

        if not t.is_contiguous():
            c = self.empty(t._shape, t.dtype)
            self.copy_(c, t)
            t = c
        out = np.empty(t._shape, dtype=t.dtype.np)
        if out.size:
            self.rt.read(out, t._storage.data, t._offset * t.dtype.itemsize)
        self.rt.errors.check()  # a bad index met by an earlier kernel raises here (see DeviceErrors)
        return out

    def transfer(self, x, dev):
        return self.wrap(np.asarray(x._host()), x.dtype)

    def synchronize(self):
        self.rt.finish()

    # -- operands -----------------------------------------------------------------------------------
    def _operand(self, x, dtype):
        """A device tensor for an input: tensors as they are, Python numbers as cached 1-element buffers."""
        if hasattr(x, "_storage"):
            if x._storage.device is not self.device and x._storage.device != self.device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                                   f"{self.device} and {x._storage.device}!")
            return x
        key = (repr(x), type(x), dtype.name)
        cache = self._scalars
        with self._scalar_lock:
            t = cache.get(key)
            if t is not None:
                cache.move_to_end(key)
                return t
        t = self.wrap(np.asarray(x).astype(dtype.np).reshape(()), dtype)
        with self._scalar_lock:
            cache[key] = t
            if len(cache) > SCALAR_CACHE_SIZE:
                cache.popitem(last=False)  # the least recently used value: the cache stays bounded
        return t

    def empty_cache(self):
        """Drop the cached scalar buffers (``pygrad.opencl.empty_cache`` then frees the pool's blocks)."""
        with self._scalar_lock:
            self._scalars.clear()
            self._dummy = None

    def _dummy_operand(self):
        if self._dummy is None:
            self._dummy = self.wrap(np.zeros((), np.uint8), D.uint8)
        return self._dummy

    def _expressions(self):
        """numpy function -> (op name, OpenCL expression), from the op tables (one op, one place; see runtime/expressions.py)."""
        if self._expr is None:
            self._expr = _expressions.opencl_table()
        return self._expr

    # -- elementwise ---------------------------------------------------------------------------------
    def elementwise(self, fn, inputs, shape, out_dtype, compute_dtype):
        """``out = fn(*inputs)`` with fn's OpenCL expression from the op tables."""
        plan = self._ew_fns.get((fn, compute_dtype, len(inputs)))
        if plan is None:
            plan = self._ew_fn_plan(fn, compute_dtype, len(inputs))
        opdef, arity, computes = plan
        out = self.empty(shape, out_dtype, _core.dense_strides_like(inputs, shape))
        ops = [x if hasattr(x, "_storage") and x._storage.device is self.device else self._operand(x, c)
               for x, c in zip(inputs, computes)]
        self._launch_ew(out, ops, computes, opdef, arity)
        return out

    def _ew_fn_plan(self, fn, compute_dtype, nin):
        """(expression macro, arity, compute dtypes) of ``fn`` for these compute dtypes, worked out once."""
        try:
            name, opdef, arity = self._expressions()[fn]
        except KeyError:
            raise NotImplementedError(f"no OpenCL kernel for elementwise function {fn!r}") from None
        computes = compute_dtype if isinstance(compute_dtype, tuple) else (compute_dtype,) * nin
        if not computes[-1].is_floating_point and not computes[0].is_floating_point and name in INT_EXPR:
            args = "x" if arity == 1 else "a,b"
            opdef = f"OP{arity}({args})=({INT_EXPR[name]})"
        computes = tuple(computes) + (D.uint8,) * (3 - len(computes))  # unused operand slots
        plan = self._ew_fns[(fn, compute_dtype, nin)] = (opdef, arity, computes)
        return plan

    def _ew_program(self, key, out_dtype, ops, computes, opdef, arity):
        """The elementwise program of one (expression, dtypes) key, built once (``key`` as in _launch_ew).

        A float key of the common forms of a training step (see ``_ew_group``) is built together with
        the others of its dtype, as one program of several variants (``kernels.program``'s group)."""
        self._check_dtype(out_dtype)
        dtypes = tuple(x.dtype for x in ops)
        group = self._ew_group(out_dtype, dtypes, computes, opdef)
        prg = kernels.program(self.rt, "elementwise.cl", self._ew_defines(out_dtype, dtypes, computes, opdef, arity),
                              INT_HELPERS, group=group)
        self._ew_programs[key] = prg
        return prg

    def _ew_defines(self, out_dtype, dtypes, computes, opdef, arity):
        """The #define lines of elementwise.cl for one expression and operand dtypes."""
        call = {1: "OP1(a)", 2: "OP2(a,b)", 3: "OP3(a,b,c)"}[arity]
        defines = _io_defines("O", out_dtype) + [f"EXPR={call}", opdef] + _tile_defines(out_dtype)
        for k, (d, c) in enumerate(zip(dtypes, computes), 1):
            defines += _io_defines(str(k), d, _ctype(c)) + [f"C{k}={_ctype(c)}"]
            if self.rt.kernel_shape == "gpu":
                defines += _vec4_defines(str(k), d, _ctype(c))
        return tuple(_fix(d) for d in defines)

    def _ew_group(self, out_dtype, dtypes, computes, opdef):
        """The define tuples built with this key: where it is one of a training step's common forms in one
        float dtype T (copy, add, mul, sub, relu and its backward, all operands T), all of those forms;
        else none (the key is built alone)."""
        t = out_dtype
        if not t.is_floating_point:
            return ()
        forms = self._ew_common_forms()
        mine = (opdef, tuple(d if d is not t else None for d in dtypes), tuple(c if c is not t else None for c in computes))
        if mine not in forms:
            return ()
        sub = lambda ds: tuple(t if d is None else d for d in ds)  # noqa: E731
        return [self._ew_defines(t, sub(ds), sub(cs), od, ar) for (od, ds, cs), ar in forms.items()]

    def _ew_common_forms(self):
        """(opdef, operand dtypes, compute dtypes) -> arity of the grouped forms; None stands for the float dtype."""
        forms = getattr(self, "_ew_forms", None)
        if forms is None:
            u8 = D.uint8
            forms = {("OP1(x)=(x)", (None, u8, u8), (None, u8, u8)): 1}
            by_name = {name: (opdef, arity) for name, opdef, arity in self._expressions().values()}
            for name in _EW_GROUP:
                if name in by_name:
                    opdef, arity = by_name[name]
                    forms[(opdef, (None,) * arity + (u8,) * (3 - arity), (None,) * arity + (u8,) * (3 - arity))] = arity
            if all(name in by_name for name in _EW_GROUP):  # else an op table is not imported yet: ask again
                self._ew_forms = forms
        return forms

    def _launch_ew(self, out, ops, computes, opdef, arity):
        """Queue ``out = OP(ops...)``: ``ew_contig`` when every operand is contiguous like ``out`` or a single
        broadcast value (the per-op fast path: no layout struct), else the strided/tiled kernels.
        ``computes``: the compute dtype of each of the three operand slots (unused slots: uint8)."""
        shape = out._shape
        n = _core.numel(shape)
        if n == 0:
            return
        if len(ops) == 3:
            a, b, c = ops
        else:  # unused operand slots read a 1-byte dummy buffer
            c = self._dummy if self._dummy is not None else self._dummy_operand()
            a, b = (ops[0], ops[1]) if len(ops) == 2 else (ops[0], c)
            ops = (a, b, c)
        key = (opdef, out.dtype, a.dtype, b.dtype, c.dtype, computes)
        prg = self._ew_programs.get(key)
        if prg is None:
            prg = self._ew_program(key, out.dtype, ops, computes, opdef, arity)
        if self._ew_local is _LOCAL:
            gs = (min(max(LOCAL, -(-n // LOCAL) * LOCAL), self._max_items),)
        else:  # CPU shape: work-groups of one work-item, each a contiguous chunk of at least EW_CPU_CHUNK
            gs = (min(-(-n // EW_CPU_CHUNK), self._ew_cpu_items),)
        ls = self._ew_local
        st = out._strides
        if _core.is_contiguous(shape, st):
            # (the common cases first: an operand laid out like the output, and the unused-slot dummy)
            s1 = 1 if a._shape == shape and a._strides == st else _step(a, shape, st)
            s2 = (1 if b._shape == shape and b._strides == st else _step(b, shape, st)) if s1 is not None else None
            s3 = (0 if c is self._dummy else _step(c, shape, st)) if s2 is not None else None
            if s3 is not None:
                if self.rt.kernel_shape == "gpu" and n >= 1024 and all(
                        x._offset % 4 == 0 for x, s in ((out, 1), (a, s1), (b, s2), (c, s3)) if s):
                    prg.ew_contig4(self.rt.queue, (min(_round_up(n // 4), self._max_items),), _LOCAL,
                                   out._storage.data, a._storage.data, b._storage.data, c._storage.data,
                                   out._offset, a._offset, b._offset, c._offset, s1, s2, s3, n)
                    return
                prg.ew_contig(self.rt.queue, gs, ls, out._storage.data, a._storage.data, b._storage.data,
                              c._storage.data, out._offset, a._offset, b._offset, c._offset, s1, s2, s3, n)
                return
        in_strides = [_core.expand_strides(x._shape, x._strides, shape) for x in ops]
        q = self.rt.queue
        cshape, cstrides = collapse(shape, [out._strides] + in_strides)
        L = make_layout(cshape, cstrides, [out._offset] + [x._offset for x in ops])
        if not _transposed(cshape, cstrides):
            prg.ew_strided(q, gs, ls, out._storage.data, *(x._storage.data for x in ops), L, np.int64(n))
        elif self.rt.kernel_shape == "gpu" and self._tiles_fit(out.dtype, computes):
            # operands walked across their contiguous dim go through local-memory tiles (ew_tiled_wg)
            tmask = sum(1 << k for k, st in enumerate(cstrides) if abs(st[-1]) > abs(st[-2]))
            ntiles = n // (cshape[-1] * cshape[-2]) * -(-cshape[-1] // 32) * -(-cshape[-2] // 32)
            prg.ew_tiled_wg(q, (min(ntiles, 65536) * 256,), (256,), out._storage.data,
                            *(x._storage.data for x in ops), L, np.int64(n), tmask)
        else:
            prg.ew_tiled(q, gs, ls, out._storage.data, *(x._storage.data for x in ops), L, np.int64(n))

    def ew_fast_plan(self, fn, dtype, nin):
        """What the compiled fast path (``pygrad/_hotpath.pyx``) needs to queue ``ew_contig`` of elementwise
        ``fn`` on ``nin`` contiguous operands of one float ``dtype`` by itself, or None while it cannot.

        Only a key the general path has already launched here gets a plan: its program is built there and
        its first launch (PoCL's machine-code link, see ``kernels._TypedKernel``) has run there.  The plan
        has a ``Kernel`` object of its own, so the arguments the fast path sets are never those of a launch
        by the general path (OpenCL keeps arguments per kernel object), and the raw OpenCL entry points
        of the loader pyopencl uses (``_cl_entry_points``)."""
        entry = _cl_entry_points()
        plan = self._ew_fns.get((fn, dtype, nin))
        if entry is None or plan is None or self.rt.kernel_shape not in ("cpu", "gpu"):
            return None
        opdef, arity, computes = plan
        if arity != nin or computes != (dtype,) * nin + (D.uint8,) * (3 - nin):
            return None
        key = (opdef, dtype, dtype, dtype if nin > 1 else D.uint8, D.uint8, computes)
        prg = self._ew_programs.get(key)
        if prg is None or self._dummy is None:
            return None
        typed = prg.ew_contig
        if not any(local == self._ew_local for local, _ in typed.linked):  # (launched once by the general path)
            return None
        import pyopencl as cl

        kernel = cl.Kernel(typed.kernel.program, typed.kernel.function_name)
        # (local size, and how the global size follows from n: as _launch_ew computes them)
        grid = ("gpu", LOCAL, self._max_items) if self._ew_local is _LOCAL else ("cpu", EW_CPU_CHUNK, self._ew_cpu_items)
        return {"kernel": kernel, "queue": self.rt.queue, "rt": self.rt, "dummy": self._dummy, "device": self.device,
                "local": self._ew_local[0], "grid": grid, "vec4_from": 1024 if self.rt.kernel_shape == "gpu" else 0,
                "entry": entry}

    def _tiles_fit(self, out_dtype, computes):
        """Whether ew_tiled_wg's four 32x33 local tiles (output and three inputs) fit in local memory."""
        size = {"uchar": 1, "char": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4, "float": 4}
        nbytes = sum(size.get(_ctype(d), 8) for d in [out_dtype] + list(computes)) * 32 * 33
        return nbytes + 1024 <= self.rt.device.local_mem_size

    def copy_(self, dst, src):
        """Strided, broadcasting, casting copy: the elementwise identity with a strided output.

        Between two contiguous tensors of one dtype and shape (``clone``, a gradient's first
        accumulation) it is a buffer copy: no kernel, so no program to build in a first step."""
        if src._storage is not dst._storage and src.dtype is dst.dtype and src._shape == dst._shape \
                and src.is_contiguous() and dst.is_contiguous():
            import pyopencl as cl

            n, size = dst.numel() * dst.dtype.itemsize, dst.dtype.itemsize
            if n:
                cl.enqueue_copy(self.rt.queue, dst._storage.data, src._storage.data, byte_count=n,
                                src_offset=src._offset * size, dst_offset=dst._offset * size)
            return
        if src._storage is dst._storage:
            tmp = self.empty(src._shape, src.dtype)
            self._launch_ew(tmp, [src], (src.dtype, D.uint8, D.uint8), "OP1(x)=(x)", 1)
            src = tmp
        self._launch_ew(dst, [src], (dst.dtype if dst.dtype is not D.bool_ else src.dtype, D.uint8, D.uint8),
                        "OP1(x)=(x)", 1)

    def cast(self, x, dtype):
        out = self.empty(x._shape, dtype)
        self.copy_(out, x)
        return out

    # -- reductions, indexing, matmul and convolution are added by backend_ops.install() ------------


def _bind_raw_launch():
    """Let ``kernels._TypedKernel`` queue warm launches from C (``_hotpath.launch``), where the compiled module
    is built and the OpenCL loader's entry points are found; else every launch goes through pyopencl."""
    if kernels._raw_launch is not None:
        return
    try:
        from ... import _hotpath
    except ImportError:
        return
    entry = _cl_entry_points()
    if entry is None or not hasattr(_hotpath, "launch"):
        return
    import pyopencl as cl

    _hotpath.setup_launch(entry, cl.MemoryObjectHolder, cl.command_queue_properties.PROFILING_ENABLE)
    kernels._raw_launch = _hotpath.launch


_ENTRY = []


def _cl_entry_points():
    """Addresses of clSetKernelArg, clEnqueueNDRangeKernel, clWaitForEvents and clReleaseEvent in the OpenCL
    loader that pyopencl itself uses (its wheel bundles one under a mangled name; a second loader on the
    machine might dispatch differently), or None where it cannot be found: the fast path is then off."""
    if not _ENTRY:
        found = None
        try:
            import ctypes
            import ctypes.util
            import os

            import pyopencl

            paths = []
            if os.path.exists("/proc/self/maps"):
                with open("/proc/self/maps") as f:
                    paths = sorted({ln.split()[-1] for ln in f if "libOpenCL" in ln.split("/")[-1]})
            here = os.path.dirname(pyopencl.__file__)
            paths = [p for p in paths if p.startswith(here)] or paths or [ctypes.util.find_library("OpenCL")]
            if len(paths) == 1 and paths[0]:
                lib = ctypes.CDLL(paths[0])
                found = {name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in
                         ("clSetKernelArg", "clEnqueueNDRangeKernel", "clWaitForEvents", "clReleaseEvent")}
        except Exception:  # no loader found: the general path launches everything
            found = None
        _ENTRY.append(found)
    return _ENTRY[0]


# the elementwise expressions built together per float dtype (with the copy), as a training step uses them
_EW_GROUP = ("add", "mul", "sub", "relu", "threshold_backward")


def _fix(d):
    """``NAME=VALUE`` -> ``NAME VALUE`` text for a #define line; function-like macros keep their params."""
    name, _, value = d.partition("=")
    return f"{name} {value}"


from .backend_ops import install  # noqa: E402

install(OpenCLBackend)

from .rows import install as _install_rows  # noqa: E402  (softmax, layer norm: cl_kernels/rows.cl)

_install_rows(OpenCLBackend)

from .fused import install as _install_fused  # noqa: E402

_install_fused(OpenCLBackend)
