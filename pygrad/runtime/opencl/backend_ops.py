"""OpenCL primitives beyond elementwise: reductions, scans, indexing, matmul, im2col/col2im.

``install`` adds these functions as methods of ``OpenCLBackend`` (kept in a second module so each
file stays short enough to read in one sitting).
"""
import numpy as np

from ... import _core
from ... import dtypes as D
from . import kernels
from .backend import LOCAL, _ctype, _fix, _io_defines, _round_up, collapse, make_layout

# numpy reduction -> (identity, combine expression, accumulate as bool?)
REDUCE = {
    np.sum: ("0", "((acc) + (v))"), np.prod: ("1", "((acc) * (v))"),
    # NaN wins: once acc is NaN no comparison replaces it (a select, which vectorises; fmax would drop NaN)
    np.max: ("-INFINITY", "(((v) > (acc) || (v) != (v)) ? (v) : (acc))"),
    np.min: ("INFINITY", "(((v) < (acc) || (v) != (v)) ? (v) : (acc))"),
    np.all: ("1", "((acc) && ((v) != 0))"), np.any: ("0", "((acc) || ((v) != 0))"),
}
# identity of max / min per integer OpenCL type (an int8 max starting from (char)INT_MIN = 0 was wrong)
INT_LIMITS = {np.max: {"char": "CHAR_MIN", "short": "SHRT_MIN", "int": "INT_MIN", "long": "LONG_MIN", "uchar": "0"},
              np.min: {"char": "CHAR_MAX", "short": "SHRT_MAX", "int": "INT_MAX", "long": "LONG_MAX",
                       "uchar": "UCHAR_MAX"}}
# Operations the device does not run yet: computed on the host (download, NumPy, upload).
HOST_FALLBACK = ("scatter-accumulate for 64-bit dtypes on a device without 64-bit atomics",)


def _split_layout(x, dims, reorder=False):
    """(kept layout, reduced layout) of ``x`` for a reduction over ``dims``.  ``reorder`` (reductions whose
    result does not depend on the order, up to rounding): walk the reduced dims by falling stride, broadcast
    (stride 0) dims outermost, so that x.t().sum() merges into one contiguous run."""
    keep = [d for d in range(x.dim()) if d not in dims]
    if reorder and len(dims) > 1:
        dims = sorted(dims, key=lambda d: (x._strides[d] != 0, -abs(x._strides[d])))
    kshape = tuple(x._shape[d] for d in keep)
    rshape = tuple(x._shape[d] for d in dims)
    kout = _core.contiguous_strides(kshape)
    kc, (ko, ki) = collapse(kshape, [kout, tuple(x._strides[d] for d in keep)]) if kshape else ((), [(), ()])
    rc, (ri,) = collapse(rshape, [tuple(x._strides[d] for d in dims)]) if rshape else ((), [()])
    Lk = make_layout(kc, [ko, ki], [0, x._offset])
    Lr = make_layout(rc, [ri, ri], [0, 0])
    return Lk, Lr, _core.numel(kshape), _core.numel(rshape), kshape


def reduce(self, fn, x, dims, keepdim, out_dtype, compute_dtype):
    """sum / prod / max / min / all / any over ``dims``, in one or two passes."""
    if fn not in REDUCE:
        raise NotImplementedError(f"no OpenCL reduction for {fn!r}")
    init, combine = REDUCE[fn]
    acc = _ctype(compute_dtype) if fn not in (np.all, np.any) else "uchar"
    if not compute_dtype.is_floating_point and fn in INT_LIMITS:
        init = INT_LIMITS[fn][acc]
        combine = "max(acc, v)" if fn is np.max else "min(acc, v)"
    dims = tuple(dims)
    Lk, Lr, nout, nred, kshape = _split_layout(x, dims, reorder=True)
    out_shape = tuple(1 if d in dims else s for d, s in enumerate(x._shape)) if keepdim else kshape
    out = self.empty(out_shape, out_dtype)
    if nout == 0:
        return out
    fold = [f"ACC={acc}", f"INIT=(({acc}){init})", f"COMBINE(acc,v)={combine}"] + _load_defines(x.dtype, acc, fn)
    fold += _wg_defines(self)
    gpu = self.rt.kernel_shape == "gpu"
    if _cols_layout(Lk, Lr):
        prg = kernels.program(self.rt, "reduce.cl", tuple(_fix(d) for d in fold + _io_defines("O", out.dtype)),
                              group=_reduce_group(self, fn, x.dtype, compute_dtype, out.dtype))
        if gpu:
            return _reduce_cols_wg(self, fn, x, out, Lk, Lr, nout, nred, fold, acc, out_dtype, compute_dtype)
        return _reduce_colblk(self, fn, x, out, Lk, Lr, nout, nred, fold, acc, out_dtype, compute_dtype)
    wg = gpu and nred >= _WG_MIN_ROW
    if wg:  # enough (output, chunk) work-groups to fill the device, each chunk >= 4 * WG elements
        want = -(-_groups_target(self) // nout)
        nchunks = int(max(1, min(want, nred // (4 * self.wg), 1024)))
    else:
        nchunks = _cpu_chunks(self, Lr, nout, nred)
    target = out if nchunks == 1 else self.empty((nout * nchunks,), compute_dtype if acc != "uchar" else D.bool_)
    key = (fn, x.dtype, compute_dtype, target.dtype)  # (the define strings cost ~5 us per reduction)
    prg = self._reduce_programs.get(key)
    if prg is None:
        prg = self._reduce_programs[key] = kernels.program(self.rt, "reduce.cl",
                                          tuple(_fix(d) for d in fold + _io_defines("O", target.dtype)),
                                          group=_reduce_group(self, fn, x.dtype, compute_dtype, target.dtype))
    args = (target._storage.data, x._storage.data, Lk, Lr, np.int64(nout), np.int64(nred), np.int64(nchunks))
    if wg:
        prg.reduce_wg_k(self.rt.queue, (min(nout * nchunks, _MAX_GROUPS) * self.wg,), (self.wg,), *args)
    else:
        prg.reduce_k(self.rt.queue, *_row_grid(self, nout * nchunks), *args)
    if nchunks > 1:
        partial = target._view((nout, nchunks), (nchunks, 1), 0)
        return reduce(self, fn, partial, (1,), False, out_dtype, compute_dtype).reshape(out_shape)
    return out


_CB = 512  # PG_CB in reduce.cl: outputs per task of reduce_colblk_k


def _reduce_colblk(self, fn, x, out, Lk, Lr, nout, nred, fold, acc, out_dtype, compute_dtype):
    """CPU shape, a column reduction (``x.sum(0)``): reduce_colblk_k, blocks of 512 outputs per task.  Where
    there are too few blocks for the cores (a narrow matrix of many rows), the reduced dim is also split
    into chunks whose partials a second launch folds (itself a column reduction of ``nchunks`` rows)."""
    kn, ks, os_ = int(Lk["nd"]), Lk["strides"][1], Lk["strides"][0]
    no, ni = (1, nout) if kn == 1 else (int(Lk["shape"][0]), int(Lk["shape"][1]))
    kso, oso = (0, 0) if kn == 1 else (ks[0], os_[0])
    tasks = no * -(-ni // _CB)
    cores = self.rt.device.max_compute_units
    want = -(-4 * cores // tasks)  # a few tasks per core (their sizes differ at the edges)
    nchunks = int(max(1, min(want, nred // 64, 256)))
    target = out if nchunks == 1 else self.empty((nchunks * nout,), compute_dtype if acc != "uchar" else D.bool_)
    prg = kernels.program(self.rt, "reduce.cl", tuple(_fix(d) for d in fold + _io_defines("O", target.dtype)),
                          group=_reduce_group(self, fn, x.dtype, compute_dtype, target.dtype))
    prg.reduce_colblk_k(self.rt.queue, *_row_grid(self, tasks * nchunks), target._storage.data, x._storage.data,
                        *map(np.int64, (Lk["offset"][1], no, ni, kso, ks[kn - 1], oso, os_[kn - 1], nred,
                                        Lr["strides"][1][0], nchunks)))
    if nchunks > 1:
        partial = target._view((nchunks, nout), (nout, 1), 0)
        return reduce(self, fn, partial, (0,), False, out_dtype, compute_dtype).reshape(out._shape)
    return out


def _cpu_row_chunks(self, nrows, n, min_chunk=32768):
    """Chunks per row on a CPU-shaped device: fewer rows than cores leave cores idle, so each long row is
    split into chunks (4 tasks per core, PoCL's threads take them as they come free; >= min_chunk elements
    each) whose results a second launch folds."""
    cores = self.rt.device.max_compute_units
    if nrows >= cores:
        return 1
    return int(max(1, min(-(-4 * cores // max(nrows, 1)), n // min_chunk, 256)))


def _row_grid(self, n):
    """(global, local) size of a launch of n long tasks (rows, chunks of a row): PoCL runs a work-group on
    one core, so fewer tasks than 64 per core go one per work-group (x.sum(1) of 2 long rows on 2 cores)."""
    if self.rt.kernel_shape == "cpu" and n < LOCAL * self.rt.device.max_compute_units:
        return (n,), (1,)
    return self.grid(n), (LOCAL,)


def _cpu_chunks(self, Lr, nout, nred):
    """Chunks per output of reduce_k on a CPU-shaped device.  One core streams a contiguous run at memory
    speed (~25-30 GB/s on a Xeon, as NumPy), while a second pass over the partials costs a launch, a buffer
    and a hand-over between PoCL's threads (on a loaded 2-core machine, most of a 4M-float sum's time).
    So split only rows of more than 4M elements (or 32K strided ones), and only as far as the cores need."""
    if nout >= self.rt.device.max_compute_units:
        return 1
    nd = int(Lr["nd"])
    run = nd and Lr["strides"][1][nd - 1] == 1 and Lr["shape"][nd - 1] >= 32  # the 8-accumulator path
    big = 1 << 22 if run else 1 << 15
    want = -(-self.rt.device.max_compute_units // nout)
    return int(max(1, min(want, nred // big, 256)))


# GPU shape: rows shorter than this reduce one per work-item (a work-group would mostly idle)
_WG_MIN_ROW = 32
_MAX_GROUPS = 65536  # work-groups per launch; kernels loop over the rest (grid-stride)


def _wg_defines(self):
    """The work-group size of the GPU-shaped kernels (WG in reduce.cl); nothing for CPU-shaped ones."""
    return [f"WG={self.wg}"] if self.rt.kernel_shape == "gpu" else []


def _groups_target(self):
    """Work-groups that fill the device: 8 per compute unit (resident groups hide memory latency)."""
    return max(64, 8 * self.rt.device.max_compute_units)


def _col_chunks(self, no, ni, nred):
    """Row chunks of a GPU-shaped column reduction (``*_cols_wg_k``: a work-group per 32 output columns of each
    of ``no`` outer rows): enough for the device, each of >= 256 of the ``nred`` reduced rows."""
    return int(max(1, min(-(-_groups_target(self) // (no * -(-ni // 32))), nred // 256, 1024)))


def _reduce_cols_wg(self, fn, x, out, Lk, Lr, nout, nred, fold, acc, out_dtype, compute_dtype):
    """GPU shape, a column reduction (``x.sum(0)``): reduce_cols_wg_k, 32 output columns x (WG / 32) slices of
    the reduced dim per work-group.  A narrow input of many rows gives few groups (sum(0) of 1M x 4: one, on
    one compute unit), so the reduced dim is then also split into chunks of >= 256 rows, enough groups to
    fill the device, whose partials a second launch folds (a column reduction of ``nchunks`` rows)."""
    kn, ks, os_ = int(Lk["nd"]), Lk["strides"][1], Lk["strides"][0]
    no, ni = (1, nout) if kn == 1 else (int(Lk["shape"][0]), int(Lk["shape"][1]))
    kso, oso, osi = (0, 0, os_[kn - 1]) if kn == 1 else (ks[0], os_[0], os_[kn - 1])
    nchunks = _col_chunks(self, no, ni, nred)
    if nchunks > 1:  # the partials: (nchunks, no, ni) contiguous, in the accumulator's type
        target = self.empty((nchunks * nout,), compute_dtype if acc != "uchar" else D.bool_)
        oso, osi = (0, 1) if kn == 1 else (ni, 1)
    else:
        target = out
    prg = kernels.program(self.rt, "reduce.cl", tuple(_fix(d) for d in fold + _io_defines("O", target.dtype)),
                          group=_reduce_group(self, fn, x.dtype, compute_dtype, target.dtype))
    ch = self.wg // 32
    prg.reduce_cols_wg_k(self.rt.queue, (-(-ni // 32) * 32, ch * min(no * nchunks, 65535)), (32, ch),
                         target._storage.data, x._storage.data,
                         *map(np.int64, (Lk["offset"][1], no, ni, kso, ks[kn - 1], oso, osi, nred,
                                         Lr["strides"][1][0], nchunks, nout)))
    if nchunks > 1:
        partial = target._view((nchunks, nout), (nout, 1), 0)
        return reduce(self, fn, partial, (0,), False, out_dtype, compute_dtype).reshape(out._shape)
    return out


def _load_defines(dtype, acc, fn):
    """How reduce.cl loads an input element: converted to ACC; for all/any tested ``!= 0`` in its own
    type first (converting 0.5 or 256 to uchar first gave 0)."""
    if fn not in (np.all, np.any):
        return _io_defines("I", dtype, acc)
    tin, load, _ = _io_defines("I", dtype)
    value = load.partition("=")[2]
    return [tin, f"LD_I(p,i)=((uchar)({value} != 0))"]


def var_reduce(self, x, dims, n_eff, keepdim, root, want_mean=False):
    """var (root: std) of a float tensor over ``dims``, and with want_mean ``(var, mean)``: ``var_k`` (CPU shape:
    ``var_cols_k`` for a column reduction), two passes over each chunk of the reduced elements, and where a
    row was split into chunks (few long rows) ``var_merge_k`` folds the chunks' (count, mean, M2).  None where
    the device lacks float64 and the shape needs chunks (ops/reduce.py then composes reductions)."""
    dims = tuple(dims)
    Lk, Lr, nout, nred, kshape = _split_layout(x, dims)
    fp64 = self.rt.has_fp64
    gpu = self.rt.kernel_shape == "gpu"
    cols = (gpu or fp64) and _cols_layout(Lk, Lr)
    cores = self.rt.device.max_compute_units
    if cols and gpu:  # var_cols_wg_k: chunks of >= 256 rows where the columns give too few work-groups
        kn = int(Lk["nd"])
        no, ni = (1, nout) if kn == 1 else (int(Lk["shape"][0]), int(Lk["shape"][1]))
        nchunks = _col_chunks(self, no, ni, nred)
    elif cols:
        kn = int(Lk["nd"])
        no, ni = (1, nout) if kn == 1 else (int(Lk["shape"][0]), int(Lk["shape"][1]))
        tasks = no * -(-ni // _VCB)
        nchunks = int(max(1, min(-(-4 * cores // tasks), nred // 64, 256)))
    elif gpu:
        nchunks = int(max(1, min(-(-_groups_target(self) // max(nout, 1)), nred // (4 * self.wg), 1024)))
    else:  # chunks of <= 64K elements (the second pass reads them from cache), and a few per core
        nchunks = int(max(min(-(-nred // 65536), 1024), _cpu_row_chunks(self, nout, nred, 4096)))
    if not fp64 and nchunks > 1:
        if nout < 64 and nred >= 8192:
            return None
        nchunks = 1
    out_shape = tuple(1 if d in dims else s for d, s in enumerate(x._shape)) if keepdim else kshape
    out = self.empty(out_shape, x.dtype)
    mean = self.empty(out_shape, x.dtype) if want_mean else out
    if nout == 0:
        return (out, mean) if want_mean else out
    acc = "double" if fp64 else "float"
    fp = np.float64 if fp64 else np.float32
    defines = ["VAR=1", f"ACC={acc}"] + (["VAR_SCALED=1"] if acc == "float" else []) + _wg_defines(self)
    defines += _io_defines("I", x.dtype, acc) + _io_defines("O", x.dtype)
    prg = kernels.program(self.rt, "reduce.cl", tuple(_fix(d) for d in defines))
    part = self.rt.alloc(nout * nchunks * 3 * np.dtype(fp).itemsize) if nchunks > 1 else out._storage.data
    flags = (fp(n_eff), np.int32(bool(root)), np.int32(bool(want_mean)))
    bufs = (out._storage.data, mean._storage.data, part, x._storage.data)
    if cols and gpu:
        ks, ch = Lk["strides"][1], self.wg // 32
        kso = 0 if kn == 1 else ks[0]
        prg.var_cols_wg_k(self.rt.queue, (-(-ni // 32) * 32, ch * min(no * nchunks, 65535)), (32, ch), *bufs,
                          *map(np.int64, (Lk["offset"][1], no, ni, kso, ks[kn - 1], nred, Lr["strides"][1][0],
                                          nchunks)), *flags)
    elif cols:
        ks = Lk["strides"][1]
        kso = 0 if kn == 1 else ks[0]
        prg.var_cols_k(self.rt.queue, *_row_grid(self, tasks * nchunks), *bufs,
                       *map(np.int64, (Lk["offset"][1], no, ni, kso, ks[kn - 1], nred, Lr["strides"][1][0], nchunks)),
                       *flags)
    else:
        args = bufs + (Lk, Lr, np.int64(nout), np.int64(nred), np.int64(nchunks)) + flags
        if gpu:
            prg.var_k(self.rt.queue, (min(nout * nchunks, _MAX_GROUPS) * self.wg,), (self.wg,), *args)
        else:
            prg.var_k(self.rt.queue, *_row_grid(self, nout * nchunks), *args)
    if nchunks > 1:
        prg.var_merge_k(self.rt.queue, self.grid(nout), (LOCAL,), out._storage.data, mean._storage.data, part,
                        np.int64(nout), np.int64(nchunks), *flags)
    return (out, mean) if want_mean else out


_VCB = 256  # PG_VCB in reduce.cl: outputs per task of var_cols_k


def _cols_layout(Lk, Lr):
    """Whether one reduced dim is slower than the innermost of at most two kept dims (the *_cols_k kernels)."""
    kn = int(Lk["nd"])
    return kn in (1, 2) and Lr["nd"] == 1 and abs(int(Lk["strides"][1][kn - 1])) < abs(int(Lr["strides"][1][0]))


def _launch_cols(self, kernel, out, x, Lk, Lr, nout, nred):
    """Launch argreduce_cols_k (CPU shape; ``out``: (indices, values buffer)): tasks of 16 outputs."""
    kn, ks, os_ = int(Lk["nd"]), Lk["strides"][1], Lk["strides"][0]
    no, ni = (1, nout) if kn == 1 else (int(Lk["shape"][0]), int(Lk["shape"][1]))
    kso, oso = (0, 0) if kn == 1 else (ks[0], os_[0])
    outs = (out[0]._storage.data, out[1]) if isinstance(out, tuple) else (out._storage.data,)
    per = 16  # PG_COLS in reduce.cl
    kernel(self.rt.queue, self.grid(no * -(-ni // per)), (LOCAL,), *outs, x._storage.data,
           *map(np.int64, (Lk["offset"][1], no, ni, kso, ks[kn - 1], oso, os_[kn - 1], nred, Lr["strides"][1][0])))


def _arg_reduce(self, x, axis, keepdims, better, with_values=False):
    """Index of the best element along ``axis`` (and, with_values, that element): argreduce_k.  Few long
    rows go in chunks (argreduce_k / argreduce_wg_k write each chunk's best, argmerge_k picks the first
    best of each row), so that every core (compute unit) works."""
    d = axis
    Lk, Lr, nout, nred, kshape = _split_layout(x, (d,))
    out = self.empty(kshape, D.int64)
    vals = self.empty(kshape, x.dtype) if with_values else None
    if nout:
        gpu = self.rt.kernel_shape == "gpu"
        if _cols_layout(Lk, Lr) and gpu:
            _arg_reduce_cols_wg(self, x, Lk, Lr, nout, nred, better, out, vals)
            return _arg_result(out, vals, d, keepdims, with_values)
        if _cols_layout(Lk, Lr):
            prg = kernels.program(self.rt, "reduce.cl", _arg_defines(self, x.dtype, better, with_values),
                                  group=_reduce_group(self, better, x.dtype, x.dtype, x.dtype))
            vbuf = (vals if with_values else out)._storage.data
            _launch_cols(self, prg.argreduce_cols_k, (out, vbuf), x, Lk, Lr, nout, nred)
            return _arg_result(out, vals, d, keepdims, with_values)
        wg = gpu and nred >= _WG_MIN_ROW
        if wg:
            nchunks = int(max(1, min(-(-_groups_target(self) // nout), nred // (4 * self.wg), 1024)))
        else:
            nchunks = _cpu_row_chunks(self, nout, nred)
        chunked = nchunks > 1
        prg = kernels.program(self.rt, "reduce.cl", _arg_defines(self, x.dtype, better, with_values or chunked),
                              group=_reduce_group(self, better, x.dtype, x.dtype, x.dtype))
        if chunked:
            t_out, t_vals = self.empty((nout * nchunks,), D.int64), self.empty((nout * nchunks,), x.dtype)
        else:
            t_out, t_vals = out, (vals if with_values else out)
        args = (t_out._storage.data, t_vals._storage.data, x._storage.data, Lk, np.int64(nout), np.int64(nred),
                np.int64(x._strides[d]), np.int64(nchunks))
        if wg:
            prg.argreduce_wg_k(self.rt.queue, (min(nout * nchunks, _MAX_GROUPS) * self.wg,), (self.wg,), *args)
        else:
            prg.argreduce_k(self.rt.queue, *_row_grid(self, nout * nchunks), *args)
        if chunked:
            prg.argmerge_k(self.rt.queue, self.grid(nout), (LOCAL,), out._storage.data,
                           (vals if with_values else out)._storage.data, t_out._storage.data, t_vals._storage.data,
                           Lk, np.int64(nout), np.int64(nchunks), np.int32(bool(with_values)))
    return _arg_result(out, vals, d, keepdims, with_values)


def _arg_reduce_cols_wg(self, x, Lk, Lr, nout, nred, better, out, vals):
    """GPU shape, arg-reduction over a dim slower than the kept ones (``x.argmax(0)``): argreduce_cols_wg_k,
    32 output columns x (WG / 32) row slices per work-group; where that gives too few groups for the device
    (a tall narrow input) the rows are cut into chunks of >= 256 whose best (index, value) argmerge_k folds."""
    kn, ks, os_ = int(Lk["nd"]), Lk["strides"][1], Lk["strides"][0]
    no, ni = (1, nout) if kn == 1 else (int(Lk["shape"][0]), int(Lk["shape"][1]))
    kso, oso = (0, 0) if kn == 1 else (ks[0], os_[0])
    nchunks = _col_chunks(self, no, ni, nred)
    chunked = nchunks > 1
    prg = kernels.program(self.rt, "reduce.cl", _arg_defines(self, x.dtype, better, vals is not None or chunked),
                          group=_reduce_group(self, better, x.dtype, x.dtype, x.dtype))
    if chunked:
        t_out, t_vals = self.empty((nout * nchunks,), D.int64), self.empty((nout * nchunks,), x.dtype)
    else:
        t_out, t_vals = out, (vals if vals is not None else out)
    ch = self.wg // 32
    prg.argreduce_cols_wg_k(self.rt.queue, (-(-ni // 32) * 32, ch * min(no * nchunks, 65535)), (32, ch),
                            t_out._storage.data, t_vals._storage.data, x._storage.data,
                            *map(np.int64, (Lk["offset"][1], no, ni, kso, ks[kn - 1], oso, os_[kn - 1], nred,
                                            Lr["strides"][1][0], nchunks)))
    if chunked:
        prg.argmerge_k(self.rt.queue, self.grid(nout), (LOCAL,), out._storage.data,
                       (vals if vals is not None else out)._storage.data, t_out._storage.data, t_vals._storage.data,
                       Lk, np.int64(nout), np.int64(nchunks), np.int32(vals is not None))


def _arg_result(out, vals, d, keepdims, with_values):
    if with_values:
        return (vals.unsqueeze(d), out.unsqueeze(d)) if keepdims else (vals, out)
    return out.unsqueeze(d) if keepdims else out


def _arg_defines(self, dtype, better, with_values):
    """reduce.cl's defines for argreduce_* (and argmerge_k): index (and with_values the value) of the ``better``
    element."""
    acc = _ctype(dtype) if dtype is not D.bool_ else "uchar"
    cmp = ">" if better == _BETTER[True] else "<"
    floating = dtype.is_floating_point
    if not floating:  # no NaN: the plain comparison (x != x on an integer is a compiler warning)
        better = f"((v) {cmp} (best))"
    defines = [f"ACC={acc}", f"BETTER(v,best)={better}", f"CMP(v,best)=((v) {cmp} (best))",
               "PG_ISNAN(v)=" + ("((v) != (v))" if floating else "0")]
    defines += _io_defines("I", dtype, acc)
    if with_values:
        _, ld_v, st_v = _io_defines("V", dtype, acc)
        defines += [f"TV={dtype.cl if dtype is not D.bool_ else 'uchar'}", st_v, ld_v] + _io_defines("O", dtype)
    else:
        defines += ["TV=uchar", "ST_V(p,i,v)="]
    return tuple(_fix(s) for s in defines + _wg_defines(self))


def _reduce_group(self, op, dtype, compute_dtype, out_dtype):
    """The reduce.cl variants a training step needs in one float dtype, built as one program: the sum
    (loss and bias gradients), max with its index (log-softmax, max_pool) and argmax (accuracy); none
    for other reductions (``op``: the numpy reduction, or argreduce_*'s BETTER expression).  Worked out
    once per backend and key: its ~40 define strings cost ~20 us of host time per reduction."""
    key = (op, dtype, compute_dtype, out_dtype)
    group = self._reduce_groups.get(key)
    if group is None:
        group = self._reduce_groups[key] = _reduce_group_defines(self, op, dtype, compute_dtype, out_dtype)
    return group


def _reduce_group_defines(self, op, dtype, compute_dtype, out_dtype):
    if not dtype.is_floating_point or compute_dtype is not dtype or out_dtype is not dtype \
            or not (op is np.sum or op == _BETTER[True]):
        return ()
    acc = _ctype(dtype)
    init, combine = REDUCE[np.sum]
    fold = [f"ACC={acc}", f"INIT=(({acc}){init})", f"COMBINE(acc,v)={combine}"] + _load_defines(dtype, acc, np.sum)
    fold += _wg_defines(self) + _io_defines("O", dtype)
    return [tuple(_fix(d) for d in fold), _arg_defines(self, dtype, _BETTER[True], True),
            _arg_defines(self, dtype, _BETTER[True], False)]


def max_min_dim(self, x, dim, largest):
    """``(values, indices)`` of max (largest) or min along ``dim``, keeping it as size 1, from one kernel."""
    return _arg_reduce(self, x, dim, True, _BETTER[largest], with_values=True)


_BETTER = {True: "((v) > (best) || ((v) != (v) && (best) == (best)))",
           False: "((v) < (best) || ((v) != (v) && (best) == (best)))"}


def _scan(self, x, axis, out_dtype, combine, init):
    out = self.empty(x._shape, out_dtype)
    Lk, _, nout, nred, _ = _split_layout(x, (axis,))
    keep = [d for d in range(x.dim()) if d != axis]
    kshape = tuple(x._shape[d] for d in keep)
    kc, (ko, ki) = collapse(kshape, [tuple(out._strides[d] for d in keep), tuple(x._strides[d] for d in keep)]) \
        if kshape else ((), [(), ()])
    Lk = make_layout(kc, [ko, ki], [0, x._offset])
    acc = _ctype(out_dtype)
    defines = [f"ACC={acc}", f"INIT=(({acc}){init})", f"COMBINE(acc,v)={combine}"]
    defines += _io_defines("I", x.dtype, acc) + _io_defines("O", out_dtype) + _wg_defines(self)
    prg = kernels.program(self.rt, "reduce.cl", tuple(_fix(d) for d in defines))
    if nout and self.rt.kernel_shape == "gpu" and nred >= _WG_MIN_ROW:
        prg.scan_wg_k(self.rt.queue, (min(nout, _MAX_GROUPS) * self.wg,), (self.wg,), out._storage.data,
                      x._storage.data, Lk, np.int64(nout), np.int64(nred), np.int64(x._strides[axis]),
                      np.int64(out._strides[axis]))
    elif nout:
        prg.scan_k(self.rt.queue, self.grid(nout), (LOCAL,), out._storage.data, x._storage.data, Lk,
                   np.int64(nout), np.int64(nred), np.int64(x._strides[axis]), np.int64(out._strides[axis]))
    return out


def argsort(self, x, axis, descending):
    """Stable sort order along ``axis`` (int64), by the merge passes of ``cl_kernels/sort.cl``."""
    Lk, _, nrows, n, kshape = _split_layout(x, (axis,))
    out_shape = x._shape
    if nrows * n == 0:
        return self.empty(out_shape, D.int64)
    key = "uchar" if x.dtype is D.bool_ else _ctype(x.dtype)
    defines = [f"K={key}", f"DESCENDING={int(bool(descending))}",
               "KEY_NAN(x)=" + ("isnan(x)" if x.dtype.is_floating_point else "0")] + _io_defines("I", x.dtype, key)
    prg = kernels.program(self.rt, "sort.cl", tuple(_fix(d) for d in defines))
    ksize = D.float32.itemsize if x.dtype is D.float16 else x.dtype.itemsize
    keys = [self.rt.alloc(nrows * n * ksize) for _ in range(2)]
    idx = [self.empty((nrows * n,), D.int64) for _ in range(2)]
    q, total, i64 = self.rt.queue, nrows * n, np.int64
    prg.sort_init_k(q, self.grid(nrows * -(-n // _SORT_RUN)), (LOCAL,), keys[0], idx[0]._storage.data,
                    x._storage.data, Lk, i64(nrows), i64(n), i64(x._strides[axis]))
    w, src = _SORT_RUN, 0
    while w < n:
        prg.merge_pass_k(q, self.grid(total), (LOCAL,), keys[1 - src], idx[1 - src]._storage.data, keys[src],
                         idx[src]._storage.data, i64(nrows), i64(n), i64(w))
        src, w = 1 - src, 2 * w
    return _rows_to_dim(idx[src], out_shape, axis)


_SORT_RUN = 32  # RUN in sort.cl: sort_init_k leaves sorted runs of this length


def _rows_to_dim(flat, shape, axis):
    """The (rows, n) result of a row-wise kernel seen as a tensor of ``shape`` with the rows along ``axis``."""
    moved = tuple(s for d, s in enumerate(shape) if d != axis) + (shape[axis],)
    st = _core.contiguous_strides(moved)
    strides = list(st[:-1])
    strides.insert(axis, st[-1])
    return flat._view(tuple(shape), tuple(strides), flat._offset)


def call(self, fn, *tensors, out_dtype=None, **kwargs):
    """The NumPy routines ops name through ``backend.call``: argmax/argmin, cumsum, cumprod, as kernels."""
    x = tensors[0]
    if fn in (np.argmax, np.argmin):
        axis = kwargs.get("axis")
        if axis is None:
            x, axis = x.reshape(-1), 0
        return _arg_reduce(self, x, axis, kwargs.get("keepdims", False), _BETTER[fn is np.argmax])
    if fn in (np.cumsum, np.cumprod):
        dt = out_dtype or x.dtype
        combine, init = ("((acc) + (v))", "0") if fn is np.cumsum else ("((acc) * (v))", "1")
        if x.dim() == 0:
            return _scan(self, x.reshape(1), 0, dt, combine, init).reshape(())
        return _scan(self, x, kwargs["axis"], dt, combine, init)
    raise NotImplementedError(f"the OpenCL backend has no kernel for {getattr(fn, '__name__', fn)}")


def offsets_along_dim(self, x, d, index, exc=IndexError):
    """Storage offsets of ``x.gather(d, index)`` as a device tensor (``index_offsets_k``)."""
    if x.dim() == 0:
        return _index_offsets(self, x, index, (1,), (0,), (0,), 1, 0, 0, False, exc).reshape(())
    xst = tuple(0 if k == d else s for k, s in enumerate(x._strides))
    return _index_offsets(self, x, index, index._shape, index._strides, xst, x._shape[d], x._strides[d], d, False,
                          exc)


def offsets_take(self, x, k, index, exc=IndexError, prefix=""):
    """Storage offsets of ``x[:, ..., index]`` (``index`` at dim k, full slices elsewhere; negatives wrap)."""
    pre, post = x.dim() - k - 1, x._shape[k + 1:]
    shape = x._shape[:k] + index._shape + post
    ist = (0,) * k + index._strides + (0,) * pre
    xst = x._strides[:k] + (0,) * index.dim() + x._strides[k + 1:]
    return _index_offsets(self, x, index, shape, ist, xst, x._shape[k], x._strides[k], k, True, exc, prefix)


def _index_offsets(self, x, index, shape, ist, xst, size, stride, d, wrap, exc, prefix=""):
    """Launch ``index_offsets_k`` over ``shape``; an index out of range is reported at the next sync.

    The kernel gives a bad element offset -1 (gather/scatter skip it) and records the value in the
    runtime's error buffer; ``exc`` with the CPU backend's message is raised at the next ``.item()``,
    ``.cpu()``, printing or ``synchronize()`` (``runtime.DeviceErrors``), so the queue never waits here.
    The index values themselves never leave the device."""
    out = self.empty(shape, D.int64)
    n = out.numel()
    if n == 0:
        return out
    cshape, cstrides = collapse(shape, [_core.contiguous_strides(shape), tuple(ist), tuple(xst)])
    L = make_layout(cshape, cstrides, [0, index._offset, x._offset])
    errors = self.rt.errors
    tag = errors.tag(exc, f"{prefix}index {{value}} is out of bounds for dimension {d} with size {size}")
    prg = _index_program(self, "uint", idx=index.dtype.cl)
    prg.index_offsets_k(self.rt.queue, self.grid(n), (LOCAL,), out._storage.data, index._storage.data, L,
                        np.int64(n), np.int64(size), np.int64(stride), np.int32(wrap), errors.buffer(), np.int32(tag))
    errors.after_launch()
    return out


def _device_offsets(self, offsets):
    """Offsets as a device tensor: computed on the device already, or uploaded from NumPy (checked)."""
    if hasattr(offsets, "_storage"):
        return offsets if offsets.is_contiguous() and offsets._offset == 0 else offsets.clone()
    return self.wrap(np.ascontiguousarray(offsets, dtype=np.int64))


def gather(self, x, offsets):
    if not hasattr(offsets, "_storage"):
        _core_check(offsets, x._storage.size)
    offs = _device_offsets(self, offsets)
    out = self.empty(tuple(offsets.shape), x.dtype)
    n = out.numel()
    if n:
        prg = _index_program(self, _raw(x.dtype))
        prg.gather_k(self.rt.queue, self.grid(n), (LOCAL,), out._storage.data, x._storage.data,
                     offs._storage.data, np.int64(n))
    return out


def _core_check(offsets, size):
    if offsets.size and (offsets.min() < 0 or offsets.max() >= size):
        raise IndexError(f"storage offset out of range for a storage of {size} elements")


def _index_program(self, raw, idx="long", fold=None, cols_cn=False, conv=False):
    """``index.cl`` moving elements as bits of type ``raw``, with ``idx`` indices and col2im summing ``fold``.

    One program serves the indexing and conv kernels of a float32 step (offsets, gather, scatter,
    im2col, col2im): 4-byte elements get col2im on float unless told otherwise, so a first training
    step builds one index program, not three (each build costs ~0.1 s on PoCL with an empty cache).
    ``cols_cn``: im2col columns in (C, kh, kw, N, OH, OW) order, for the GPU shape's full-size GEMMs.
    ``conv`` (float32 im2col): the GEMM programs of the convolution are built with it, as one program."""
    fold = fold or ("float" if raw == "uint" else None)
    var = lambda cn: (f"T {raw}", f"IDX {idx}") + ((f"TF {fold}",) if fold else ()) + (("COLS_CN 1",) if cn else ())  # noqa: E731
    # the GPU shape's float32 step uses both column layouts: one program
    group = [var(False), var(True)] + (_conv_gemm_group(self) if conv else []) \
        if raw == "uint" and idx == "long" and fold == "float" else ()
    return kernels.program(self.rt, "index.cl", var(cols_cn), group=group)


def _expand(t, shape):
    """``t`` broadcast to ``shape`` as a view (size-1 dims get stride 0): a layout, no copy, no graph node."""
    return t._view(shape, _core.expand_strides(t._shape, t._strides, shape), t._offset)


def _raw(dtype):
    """An OpenCL type of the same size, to move elements as bits."""
    return {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}[dtype.itemsize]


def scatter(self, dst, offsets, values, accumulate):
    """``storage[offsets] = values``; with accumulate ``+=``, repeated offsets summed (``scatter_add_k``)."""
    n = int(np.prod(offsets.shape))
    if n == 0:
        return
    if not hasattr(offsets, "_storage"):
        _core_check(offsets, dst._storage.size)
    vals = self._operand(values, dst.dtype)
    if vals.dtype is not dst.dtype:
        vals = self.cast(vals, dst.dtype)
    vals = _expand(vals, tuple(offsets.shape)).contiguous()
    offs = _device_offsets(self, offsets)
    if not accumulate:
        prg = _index_program(self, _raw(dst.dtype))
        prg.scatter_k(self.rt.queue, self.grid(n), (LOCAL,), dst._storage.data, offs._storage.data,
                      vals._storage.data, np.int64(n), np.int64(vals._offset))
        return
    if dst.dtype.itemsize == 8 and "cl_khr_int64_base_atomics" not in self.rt.device.extensions:
        # host fallback (HOST_FALLBACK): read the storage, np.add.at, write it back
        host = self.to_numpy(dst._view((dst._storage.size,), (1,), 0))
        flat = offsets._host() if hasattr(offsets, "_storage") else offsets
        np.add.at(host, np.asarray(flat).reshape(-1), np.asarray(vals._host()).reshape(-1))
        import pyopencl as cl

        cl.enqueue_copy(self.rt.queue, dst._storage.data, host, is_blocking=True)
        return
    prg = kernels.program(self.rt, "index.cl", tuple(_fix(d) for d in _ATOMIC[dst.dtype.name]))
    prg.scatter_add_k(self.rt.queue, self.grid(n), (LOCAL,), dst._storage.data, offs._storage.data,
                      vals._storage.data, np.int64(n), np.int64(vals._offset))


def _atomic_defines(raw, acc, decode, encode):
    return (f"RAW_BYTES={ {'uchar': 1, 'ushort': 2, 'uint': 4, 'ulong': 8}[raw] }", f"RAW={raw}", f"T={raw}", f"ACC={acc}",
            f"DECODE(b)=({decode})", f"ENCODE(a)=({encode})")


# dtype name -> defines of scatter_add_k: how to read an element's bits as a value and back
_ATOMIC = {
    "float32": _atomic_defines("uint", "float", "as_float(b)", "as_uint(a)"),
    "float64": _atomic_defines("ulong", "double", "as_double(b)", "as_ulong(a)"),
    "float16": _atomic_defines("ushort", "float", "pg_h2f(b)", "pg_f2h(a)"),
    "int64": _atomic_defines("ulong", "long", "(long)(b)", "(ulong)(a)"),
    "int32": _atomic_defines("uint", "int", "(int)(b)", "(uint)(a)"),
    "int16": _atomic_defines("ushort", "int", "(int)(short)(b)", "(ushort)(a)"),
    "int8": _atomic_defines("uchar", "int", "(int)(char)(b)", "(uchar)(a)"),
    "uint8": _atomic_defines("uchar", "int", "(int)(b)", "(uchar)(a)"),
    "bool": _atomic_defines("uchar", "int", "(int)(b)", "(uchar)((a) != 0)"),
}


def matmul(self, a, b):
    """Batched product of >= 2-D operands; picks the kernel for the device kind."""
    batch = _core.broadcast_shapes(a._shape[:-2], b._shape[:-2])
    M, K, N = a._shape[-2], a._shape[-1], b._shape[-1]
    if a.dtype is D.float16:
        r = matmul(self, self.cast(a, D.float32), self.cast(b, D.float32))
        return self.cast(r, D.float16)
    out = self.empty(batch + (M, N), a.dtype)
    if out.numel() == 0:
        return out
    if K == 0:
        self.copy_(out, self._operand(0, a.dtype))
        return out
    if a._shape != batch + (M, K):
        a = _expand(a, batch + (M, K))
    if b._shape != batch + (K, N):
        b = _expand(b, batch + (K, N))
    if len(batch) > 2:  # fold extra batch dims into two
        a, b = a.contiguous().reshape(-1, M, K), b.contiguous().reshape(-1, K, N)
        outv = out.reshape(-1, M, N)
    else:
        outv = out
    nb = outv._shape[:-2]
    bdims = (1,) * (2 - len(nb)) + nb

    def bstrides(t):
        st = t._strides[:-2]
        return (0,) * (2 - len(st)) + st

    (sam, sak), (sbk, sbn), (scm, scn) = a._strides[-2:], b._strides[-2:], outv._strides[-2:]
    ab, bb, cb = bstrides(a), bstrides(b), bstrides(outv)
    kind = self.gemm_kernel or ("cpu" if self.rt.kernel_shape == "cpu" else "tiled")
    if not a.dtype.is_floating_point or (kind == "cpu" and a.dtype is not D.float32):
        kind = "naive"
    if kind == "cpu":
        _gemm_cpu(self, a, b, outv, M, N, K, (sam, sak, sbk, sbn, scm, scn), (ab, bb, cb), bdims)
        return out
    args = [a._storage.data, b._storage.data, outv._storage.data, *map(np.int64, (
        M, N, K, sam, sak, sbk, sbn, scm, scn, ab[0], ab[1], bb[0], bb[1], cb[0], cb[1], bdims[1],
        a._offset, b._offset, outv._offset))]
    acc = "double" if a.dtype is D.float64 else ("float" if a.dtype.is_floating_point else "long")
    q, z = self.rt.queue, bdims[0] * bdims[1]
    if kind == "tiled" and self.gemm_kernel is None:
        from . import gemm_tune

        cfg = gemm_tune.config(self.rt)
        if z == 1 and not batch:
            split = self.gemm_split_k if self.gemm_split_k is not None else _split_k(self, M, N, K, cfg)
            if split > 1:
                return _gemm_split_k(self, a, b, out, split)
        if min(M, N) >= cfg["big_min"]:
            kind = cfg["large"]
    if kind == "big":
        defines = (f"T {a.dtype.cl}", f"ACC {acc}", "GEMM_BIG 1", f"TK_BIG {8 if acc == 'double' else 16}",
                   f"VT4 {a.dtype.cl}4")
        prg = kernels.program(self.rt, "gemm.cl", defines)
        prg.gemm_big(q, (-(-N // 128) * 16, -(-M // 128) * 16, z), (16, 16, 1), *args)
    elif kind == "tiled":
        prg = kernels.program(self.rt, "gemm.cl", (f"T {a.dtype.cl}", f"ACC {acc}"))
        prg.gemm_tiled(q, (-(-N // 64) * 16, -(-M // 64) * 16, z), (16, 16, 1), *args)
    else:
        prg = kernels.program(self.rt, "gemm.cl", (f"T {a.dtype.cl if a.dtype is not D.bool_ else 'uchar'}",
                                                   f"ACC {acc}"))
        prg.gemm_naive(q, (-(-N // 8) * 8, -(-M // 8) * 8, z), (8, 8, 1), *args)
    return out


def _split_k(self, M, N, K, cfg):
    """Split-K factor for a skinny product (few 64 x 64 tiles of C, long K): enough slices of K to give
    the device ~4 work-groups per compute unit, each slice >= 512 long and a divisor of K; 1 = no split."""
    tiles = -(-M // 64) * -(-N // 64)
    want = -(-4 * self.rt.device.max_compute_units // tiles)
    if K < cfg["split_k_min"] or want < 2:
        return 1
    for s in range(min(want, K // 512, 64), 1, -1):
        if K % s == 0:
            return s
    return 1


def _gemm_split_k(self, a, b, out, split):
    """C = sum over s of A[:, slice s] @ B[slice s, :]: the slices as a batch of ``split`` products (the
    batch strides step along K), then a column reduction of the partial products into ``out``."""
    M, K = a._shape
    N = b._shape[1]
    ks = K // split
    (sam, sak), (sbk, sbn) = a._strides, b._strides
    a3 = a._view((split, M, ks), (ks * sak, sam, sak), a._offset)
    b3 = b._view((split, ks, N), (ks * sbk, sbk, sbn), b._offset)
    part = matmul(self, a3, b3)
    self.copy_(out, reduce(self, np.sum, part, (0,), False, out.dtype, out.dtype))
    return out


def _gemm_cpu(self, a, b, c, M, N, K, strides, batch_strides, bdims):
    """CPU devices: pack A into 6-row panels and B into 64-column panels, then the block kernel.

    Small operands are read in place instead (packing costs a launch and a pass over the operand);
    B only where its rows are contiguous and 64-byte aligned, as ``float16`` loads need.  One kernel
    and one packing kernel per program serve every shape: what differs (in place or packed, the K
    block, row blocks per work-item) is passed as arguments, so a training step compiles each once."""
    form = _small_gemm_form(self, M, N, K, strides)
    if form is not None:
        return _gemm_small(self, form, a, b, c, M, N, K, strides, batch_strides, bdims)
    sam, sak, sbk, sbn, scm, scn = strides
    (ab, bb, cb), a_off, b_off = batch_strides, a._offset, b._offset
    if N < _NR and M > N:
        # narrow C: compute C^T = B^T A^T (transposes are strides), so the wide side fills the 64 columns
        a, b, M, N = b, a, N, M
        sam, sak, sbk, sbn, scm, scn = sbn, sbk, sak, sam, scn, scm
        ab, bb, a_off, b_off = bb, ab, b_off, a_off
    z, i64 = bdims[0] * bdims[1], np.int64
    from . import gemm_tune

    cfg = gemm_tune.config(self.rt)
    kc = self.gemm_kc if self.gemm_kc is not None else cfg["cpu_kc"]
    mb = self.gemm_row_blocks or cfg["cpu_mb"]
    # A in place wherever its rows are contiguous along k (six row streams: as fast as a packed panel per core,
    # without the packing pass), else packed unless small
    direct_a = self.gemm_direct_a if self.gemm_direct_a is not None else sak == 1 or M * K <= _DIRECT_A_MAX
    direct_b = self.gemm_direct_b if self.gemm_direct_b is not None else K * N <= _DIRECT_B_MAX or M <= 64
    # in place: float16 loads of B's rows need them contiguous and 64-byte aligned, and N >= 64 (the last
    # block of columns is shifted left to end at N)
    direct_b = direct_b and N >= _NR and sbn == 1 and all(v % 16 == 0 for v in (N, sbk, b_off, *bb))
    mt, nt = -(-M // 6), -(-N // _NR)
    prg = kernels.program(self.rt, "gemm.cl", _GEMM_CPU_DEFINES)
    q = self.rt.queue
    # split-K: a skinny product (fewer blocks of C than work for every core, long K) runs as S slices of K,
    # each slice's blocks into its own partial C (z indexes the slice), then gemm_sum_k adds them into C
    cus = self.rt.device.max_compute_units
    split, ksplit = _k_slices(self, mt * nt, K, z)
    c_final, scm_f, scn_f = c, scm, scn
    if split > 1:
        part = self.rt.alloc(split * M * N * 4)
        # partials contiguous M x N, cb0 apart; A and B the same product for every slice (batch strides 0)
        scm, scn, c_off, zg = N, 1, 0, split
        cb = (M * N, 0)
    else:
        ksplit, part, c_off, zg = 0, None, c._offset, z
    if self.gemm_row_blocks is None:
        mb = _cpu_row_blocks(mb, mt, nt * zg, ksplit or K, cus)
    a_arg, b_arg = a._storage.data, b._storage.data
    if not direct_a:
        a_arg = self.rt.alloc(z * mt * K * 6 * 4)
        # one work-item per PK (64) k rows of a panel: several work-groups, so every core packs
        prg.pack_a(q, self.grid(z * mt * -(-K // _PK)), (LOCAL,), a_arg, a._storage.data,
                   *map(i64, (M, K, sam, sak, ab[0], ab[1], bdims[1], a_off, z)))
    if not direct_b:
        pw = _NR if N >= _NR else -(-N // 16) * 16  # PANEL_W in gemm.cl; + NR floats read past the last row
        b_arg = self.rt.alloc((z * nt * K * pw + _NR) * 4)
        prg.pack_b(q, self.grid(z * nt * -(-K // _PK)), (LOCAL,), b_arg, b._storage.data,
                   *map(i64, (N, K, sbk, sbn, bb[0], bb[1], bdims[1], b_off, z)))
    mg = -(-mt // mb)
    # edge blocks of C (rows past M, a partial last block of columns, C strided along n) go through a
    # scratch tile of 6 x 64 floats per work-item; none needed (C passed, never touched) when there are none
    edges = M % 6 or N % _NR or scn != 1
    c_arg = part if part is not None else c._storage.data
    w_arg = self.rt.alloc(zg * mg * nt * 6 * _NR * 4) if edges else c_arg
    if part is not None:  # every slice reads the same A and B (one product: batch strides 0)
        ab, bb = (0, 0), (0, 0)
    # one work-item per work-group: PoCL then runs each block as plain vector code; row groups along
    # dimension 0, so the consecutive work-groups that one PoCL thread takes share a B panel
    prg.gemm_cpu(q, (mg, nt, zg), (1, 1, 1), a_arg, b_arg, c_arg,
                 *map(i64, (M, N, K, sam, sak, sbk, scm, scn, ab[0], ab[1], bb[0], bb[1], cb[0], cb[1],
                            1 if part is not None else bdims[1], a_off, b_off, c_off, mb, kc)),
                 np.int32(direct_a), np.int32(direct_b), w_arg, i64(ksplit))
    if part is not None:
        _sum_k_slices(self, prg, c_final, part, M, N, scm_f, scn_f, split)


def _small_gemm_form(self, M, N, K, strides):
    """Which of gemm.cl's small-product kernels computes this product on a CPU-shaped device, as
    (kernel, transposed), or None for gemm_cpu.  Measured on one Xeon core against gemm_cpu (which packs
    B unless its rows are contiguous, and computes 6 x 64 blocks of C):
      ``gemm_dot_k`` where A's rows and B's columns run along k (x @ W^T) and K >= 32: up to 3x faster
        for products with a side of <= 64 (8 x 4096 x 512: 0.64 against 2.2 ms), slower at 128^3;
      ``gemm_row_k`` where B's rows run along n, or transposed (C^T = B^T A^T) where A's columns do:
        faster up to _SMALL_MACS (64^3: 18 against 40 us) and for the narrowest products (a side < 6,
        where gemm_cpu's 6 x 64 blocks are nearly all waste), slower beyond (6 accumulators against 24).
    ``gemm_small`` forces a form wherever one fits (True) or gemm_cpu (False)."""
    if self.gemm_small is False:
        return None
    force = self.gemm_small is True
    sam, sak, sbk, sbn = strides[:4]
    # a stride along a dim of size 1 is never multiplied by a nonzero index: call it contiguous
    sam, sbn = 1 if M == 1 else sam, 1 if N == 1 else sbn
    sak, sbk = (1, 1) if K == 1 else (sak, sbk)
    small = force or M * N * K <= _SMALL_MACS
    if sak == 1 and sbk == 1 and (K >= 32 or force) and (small or min(M, N) <= 64):
        return "gemm_dot_k", False
    if small or min(M, N) < 6:
        # a narrow B's 16-wide loads run into its next row: only where rows do not overlap (sbk >= N)
        if sbn == 1 and (N >= 16 or sbk >= N):
            return "gemm_row_k", False
        if sam == 1 and (M >= 16 or sak >= M):  # A^T's rows run along n
            return "gemm_row_k", True
    return None


def _gemm_small(self, form, a, b, c, M, N, K, strides, batch_strides, bdims):
    """C = A @ B by gemm_dot_k or gemm_row_k (see gemm.cl): one launch, operands in place; split-K (as
    gemm_cpu's, summed by gemm_sum_k) when the blocks of C are too few to give every core work."""
    name, transposed = form
    sam, sak, sbk, sbn, scm, scn = strides
    (ab, bb, cb), a_off, b_off = batch_strides, a._offset, b._offset
    if transposed:  # C^T = B^T A^T: the transposes are strides
        a, b, M, N = b, a, N, M
        sam, sak, sbk, sbn, scm, scn = sbn, sbk, sak, sam, scn, scm
        ab, bb, a_off, b_off = bb, ab, b_off, a_off
    rows, cols = (4, 4) if name == "gemm_dot_k" else (6, 16)
    blocks, z = -(-M // rows) * -(-N // cols), bdims[0] * bdims[1]
    split, ksplit = _k_slices(self, blocks, K, z)
    # blocks per work-item: at least _SMALL_ITEM_MACS of work each, but work for every compute unit
    per = max(1, min(-(-_SMALL_ITEM_MACS // (rows * cols * ksplit)),
                     blocks * max(split, z) // (4 * self.rt.device.max_compute_units)))
    c_arg, c_off, nb1 = c._storage.data, c._offset, bdims[1]
    if split > 1:  # slice z into its own contiguous partial C; A and B the same product for every slice
        c_arg, c_off, nb1 = self.rt.alloc(split * M * N * 4), 0, 1
        scm_p, scn_p, cb, ab, bb = N, 1, (M * N, 0), (0, 0), (0, 0)
    else:
        ksplit, scm_p, scn_p = 0, scm, scn
    prg = kernels.program(self.rt, "gemm.cl", _GEMM_CPU_DEFINES)
    getattr(prg, name)(self.rt.queue, (-(-blocks // per), 1, split if split > 1 else z), (1, 1, 1),
                       a._storage.data, b._storage.data, c_arg,
                       M, N, K, sam, sak, sbk, sbn, scm_p, scn_p, ab[0], ab[1], bb[0], bb[1], cb[0], cb[1],
                       nb1, a_off, b_off, c_off, ksplit, per)
    if split > 1:
        _sum_k_slices(self, prg, c, c_arg, M, N, scm, scn, split)


def _k_slices(self, blocks, K, z):
    """(slices, slice length) of K for a CPU-shape product of ``blocks`` blocks of C (``z`` products in the
    launch: a batch is not split); no empty slice."""
    split = _cpu_split_k(self, blocks, K) if z == 1 else 1
    ksplit = -(-K // split)
    return -(-K // ksplit), ksplit


def _sum_k_slices(self, prg, c, part, M, N, scm, scn, split):
    """C = the sum of the ``split`` contiguous M x N partial products in buffer ``part`` (gemm_sum_k, in slice
    order)."""
    prg.gemm_sum_k(self.rt.queue, self.grid(M * N), (LOCAL,), c._storage.data, part,
                   *map(np.int64, (M, N, scm, scn, c._offset, split)))


def _cpu_split_k(self, blocks, K):
    """gemm_cpu's K slices for one product of ``blocks`` 6 x 64 blocks of C: with fewer than 4 blocks per
    compute unit, enough slices for ~4 work-items per unit, each >= _SPLIT_K_MIN long; 1 = no split.
    ``gemm_split_k`` (an int) forces the count."""
    if self.gemm_split_k is not None:
        return max(1, min(self.gemm_split_k, K))
    cus = self.rt.device.max_compute_units
    if blocks >= 4 * cus:
        return 1
    return max(1, min(-(-4 * cus // blocks), K // _SPLIT_K_MIN, 64))


def _cpu_row_blocks(mb, mt, panels, k, cus):
    """Row blocks per gemm_cpu work-item: at most ``mb`` (the tuned cap) and few enough for ~128
    work-groups per compute unit, but each work-group >= _WG_MIN_FLOP of work (PoCL's cost per
    work-group) unless that left fewer than 4 per compute unit; then evened out over the column of
    blocks.  PoCL 3's pthread device hands a thread min(ceil(remaining / threads), 32 * threads)
    consecutive work-groups once <= 256 * threads^2 remain: with 48 work-groups (N = 1024 as 64 row
    blocks each, 2 threads) the first thread took 24 at once, nothing could even out a slow core or the
    short last row group, and the other thread idled at the end; with hundreds the grabs shrink towards
    the end and both threads finish together."""
    want = max(1, min(mb, mt * panels // (128 * cus)))
    floor = -(-_WG_MIN_FLOP // (2 * 6 * _NR * k))
    mb = max(1, min(max(want, floor), mt * panels // (4 * cus), mt))
    return -(-mt // -(-mt // mb))


_SMALL_MACS = 1 << 20  # CPU shape: products up to this many multiply-adds go to gemm_dot_k / gemm_row_k
_SMALL_ITEM_MACS = 1 << 16  # their work per work-item at least (~2 us on one core), unless cores would idle
_NR = 64  # columns of C per gemm_cpu block (NR in gemm.cl)
_PK = 64  # k rows per packing work-item (PK in gemm.cl)
_WG_MIN_FLOP = 4_000_000  # gemm_cpu: work per work-group at least (~30 us on one core)
# gemm_cpu's one program: everything else about a product is an argument
_GEMM_CPU_DEFINES = ("T float", "ACC float", "CPU_GEMM 1")


def _conv_gemm_group(self):
    """The float32 GEMM program that a convolution's im2col is followed by, built with index.cl's:
    gemm_cpu on CPU-shaped devices (and conv.cl for conv_dw_k), gemm_tiled on GPU-shaped ones."""
    if self.gemm_kernel is not None:
        return []
    if self.rt.kernel_shape == "gpu":
        return [kernels.Other(("gemm.cl", ("T float", "ACC float")))]
    # with conv.cl's conv_dw_k (the weight gradient of a narrow conv, conv_ops.py)
    from .conv_ops import dw_defines
    return [kernels.Other(("gemm.cl", _GEMM_CPU_DEFINES)), kernels.Other(("conv.cl", dw_defines(D.float32)))]


# When gemm_cpu reads operands in place instead of packing them.  Measured (2 Zen 5 cores, PoCL 3.1,
# GFLOP/s): at N=256 packing neither runs at 105 against 63 packing both; a large B read in place
# walks a new page for every k (N=1024: 145 against 218) unless few rows of A reuse it: packing
# cannot pay off when M is small (the conv shape 20x75x48400: 153 in place against 34 packed).
# A with rows contiguous along k is read in place at any size: per core on a Xeon (6 x 64 blocks, K
# block 1024) 121-136 GFLOP/s against 109-129 packed at N = 1024-2048.  A transposed A (a new cache
# line and page per k) is packed when large.
_DIRECT_A_MAX = 512 * 512
# split-K on CPU devices: slices of K at least this long (each slice rereads its partial C once per K block)
_SPLIT_K_MIN = 1024
_DIRECT_B_MAX = 256 * 256


def unfold(self, x, kernel, dilation, padding, stride, pad_value=0.0, batch_inner=False):
    """im2col (``unfold_k``): elements move as raw bits, so every dtype works, float16 included.
    ``batch_inner``: lay the columns out (C, kh, kw, N, OH, OW), one GEMM operand for the batch."""
    x = x.contiguous()
    n, c, h, w = x._shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = self.empty((c, kh, kw, n, oh, ow) if batch_inner else (n, c, kh, kw, oh, ow), x.dtype)
    if out.numel():
        prg = _index_program(self, _raw(x.dtype), cols_cn=batch_inner, conv=x.dtype is D.float32)
        pad = np.asarray(pad_value).astype(x.dtype.np).view(_RAW_NP[x.dtype.itemsize])  # its bit pattern
        prg.unfold_k(self.rt.queue, self.grid(n * c * kh * kw * oh), (LOCAL,), out._storage.data, x._storage.data,
                     *map(np.int64, (x._offset, n, c, h, w)), *map(np.int32, (kh, kw, dh, dw, ph, pw, sh, sw)),
                     *map(np.int64, (oh, ow)), pad)
    return out


_RAW_NP = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def fold(self, cols, out_hw, kernel, dilation, padding, stride, batch_inner=False):
    """col2im (``fold_k``), summing in the storage type; float16 sums in float32 (no half arithmetic
    without cl_khr_fp16).  ``batch_inner``: columns laid out (C, kh, kw, N, OH, OW)."""
    if cols.dtype is D.float16:
        return self.cast(fold(self, self.cast(cols, D.float32), out_hw, kernel, dilation, padding, stride,
                              batch_inner), D.float16)
    cols = cols.contiguous()
    if batch_inner:
        c, kh, kw, n, oh, ow = cols._shape
    else:
        n, c, kh, kw, oh, ow = cols._shape
    (dh, dw), (ph, pw), (sh, sw) = dilation, padding, stride
    H, W = out_hw
    out = self.empty((n, c, H, W), cols.dtype)
    if out.numel():
        prg = _index_program(self, _raw(cols.dtype), fold=cols.dtype.cl if cols.dtype is not D.bool_ else "uchar",
                             cols_cn=batch_inner)
        prg.fold_k(self.rt.queue, self.grid(n * c * H), (LOCAL,), out._storage.data, cols._storage.data,
                   *map(np.int64, (cols._offset, n, c, H, W)), *map(np.int32, (kh, kw, dh, dw, ph, pw, sh, sw)),
                   *map(np.int64, (oh, ow)))
    return out


def random(self, kind, shape, dtype, a, b, generator):
    """Philox samples (``cl_kernels/random.cl``): uniform [a, b), normal (mean a, std b), randint [a, b), dropout
    (float32: the mask ``(uniform [0, 1) >= a) / b`` of one pass)."""
    out = self.empty(shape, dtype)
    n = out.numel()
    if n == 0:
        return out
    words = {"uniform": n, "normal": n + 1, "randint": 2 * n, "dropout": n}[kind]
    key, offset = generator._claim(words)
    rnd = lambda d: tuple(_fix(x) for x in _io_defines("O", d, "float"))  # noqa: E731
    # float32 samples (initialisation, dropout) and int64 ones (randint, randperm) in one program
    prg = kernels.program(self.rt, "random.cl", rnd(dtype),
                          group=[rnd(D.float32), rnd(D.int64)] if dtype in (D.float32, D.int64) else ())
    fn = {"uniform": prg.uniform_k, "normal": prg.normal_k, "randint": prg.randint_k, "dropout": prg.dropout_k}[kind]
    conv = np.int64 if kind == "randint" else np.float32
    key2 = np.zeros((), dtype=np.dtype([("x", np.uint32), ("y", np.uint32)]))
    key2["x"], key2["y"] = key
    # one loop iteration per Philox block: 4 samples (uniform, normal) or 2 (randint, 2 words each)
    fn(self.rt.queue, *self.chunked_launch(-(-n // (2 if kind == "randint" else 4))), out._storage.data, np.int64(n),
       np.uint64(offset), key2, conv(a), conv(b))
    return out


def install(cls):
    for fn in (reduce, var_reduce, argsort, max_min_dim, call, offsets_along_dim, offsets_take, gather, scatter, matmul, unfold, fold, random):
        setattr(cls, fn.__name__, fn)
    from . import conv_ops  # conv2d / max_pool2d as single ops (their own module)

    conv_ops.install(cls)
