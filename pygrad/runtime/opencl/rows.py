"""OpenCL row primitives: softmax / log_softmax and layer norm, forward and backward (``cl_kernels/rows.cl``).

Which kernel runs (see rows.cl's header): CPU-shaped devices run ``*_rows`` (a work-item per row,
8-wide loops) on rows of stride 1, copying operands whose rows are strided into a dim-last layout
first; GPU-shaped ones run ``*_wg`` (a work-group per row) when every operand's rows have stride 1
and are at least 32 long, else ``*_item`` (a work-item per row, any strides) -- or ``*_rows`` for
short rows of stride 1.
"""
import numpy as np

from ... import _core
from ... import dtypes as D
from . import backend_ops as _bo
from . import kernels
from .backend import LOCAL, _fix, _io_defines, collapse, make_layout

_WG_MIN = 32  # rows shorter than this get a work-item each even on GPUs


def _acc(dtype):
    return D.float64 if dtype is D.float64 else D.float32


def _defines(dtype, log=0, wg=LOCAL, cb=1):
    """#defines of rows.cl for operands of ``dtype`` (all operands of one launch share it)."""
    acc = _acc(dtype).cl
    if dtype is D.float16:
        vec = ["LD8_I(p,i)=pg_ld8h((p)+(i))", "ST8_O(p,i,v)=pg_st8h((v),(p)+(i))"]
    else:
        vec = [f"LD8_I(p,i)=convert_{acc}8(vload8(0,(p)+(i)))", "ST8_O(p,i,v)=vstore8((v),0,(p)+(i))"]
    d = [f"ACC={acc}", f"ACC8={acc}8", f"LOG={int(log)}", f"WG={wg}", f"CB={cb}"] + vec
    d += _io_defines("I", dtype, acc) + _io_defines("O", dtype)
    return tuple(_fix(s) for s in d)


def _wg_size(n):
    """Work-group size of a *_wg kernel for rows of n elements: 64, 128 or 256."""
    return 256 if n >= 2048 else 128 if n >= 512 else 64


def _without(t, dim):
    return tuple(s for d, s in enumerate(t) if d != dim)


def _dim_last(self, t, dim):
    """A copy of ``t`` whose rows along ``dim`` are contiguous (dim moved innermost in memory), same shape."""
    shape = t._shape
    moved = _without(shape, dim) + (shape[dim],)
    st = _core.contiguous_strides(moved)
    strides = list(st[:-1])
    strides.insert(dim, st[-1])
    out = self.empty(shape, t.dtype, tuple(strides))
    self.copy_(out, t)
    return out


def _row_kernel(self, stem, out, ins, dim, log):
    """Launch the ``stem`` (sm_fwd / sm_bwd) kernel with one row per element of the dims other than ``dim``."""
    n = out._shape[dim]
    ops = [out] + list(ins)
    nrows = out.numel() // n
    gpu = self.rt.kernel_shape == "gpu"
    unit = all(t._strides[dim] == 1 for t in ops) or n == 1
    nchunks = _sm_chunks(self, nrows, n)
    if not unit and (not gpu or nchunks > 1):
        # CPU shape, or few long rows on a GPU: make the rows contiguous (tiled copies), run, copy back
        tmp = _dim_last(self, out, dim) if out._strides[dim] != 1 else out
        _row_kernel(self, stem, tmp, [t if t._strides[dim] == 1 else _dim_last(self, t, dim) for t in ins], dim, log)
        if tmp is not out:
            self.copy_(out, tmp)
        return
    kshape = _without(out._shape, dim)
    kc, kst = collapse(kshape, [_without(t._strides, dim) for t in ops]) if kshape else ((), [()] * len(ops))
    if len(kc) > 6:  # too many dims that do not merge: contiguous copies of the inputs merge into few
        _row_kernel(self, stem, out, [self.cast(t, t.dtype) for t in ins], dim, log)
        return
    L = make_layout(kc, kst, [t._offset for t in ops])
    bufs = [t._storage.data for t in ops]
    q, i64 = self.rt.queue, np.int64
    # log_softmax of a float32 training step: nll_loss's and the optimizer's programs come with it
    from .fused import step_group

    group = step_group(out.dtype) if log else ()
    if nchunks > 1:  # few long rows: chunks over two launches (states, then the outputs), all cores busy
        from .backend_ops import _MAX_GROUPS, _row_grid

        wg = _wg_size(n) if gpu else LOCAL
        prg = kernels.program(self.rt, "rows.cl", _defines(out.dtype, log, wg), group=group)
        st = self.empty(((2 if stem == "sm_fwd" else 1) * nrows * nchunks,), _acc(out.dtype))
        grid = ((min(nrows * nchunks, _MAX_GROUPS) * wg,), (wg,)) if gpu else _row_grid(self, nrows * nchunks)
        kind, tail = ("_wg" if gpu else "_rows"), (L, i64(nrows), i64(n), i64(nchunks))
        first, second = ("sm_stat", "sm_apply") if stem == "sm_fwd" else ("sm_bstat", "sm_bapply")
        getattr(prg, first + kind)(q, *grid, st._storage.data, *bufs[1:], *tail)
        getattr(prg, second + kind)(q, *grid, bufs[0], st._storage.data, *bufs[1:], *tail)
    elif gpu and not unit:
        prg = kernels.program(self.rt, "rows.cl", _defines(out.dtype, log), group=group)
        getattr(prg, stem + "_item")(q, self.grid(nrows), (LOCAL,), *bufs, L, i64(nrows), i64(n),
                                     *(i64(t._strides[dim]) for t in ops))
    elif gpu and n >= _WG_MIN:
        wg = _wg_size(n)
        prg = kernels.program(self.rt, "rows.cl", _defines(out.dtype, log, wg), group=group)
        groups = min(nrows, 65536)
        getattr(prg, stem + "_wg")(q, (groups * wg,), (wg,), *bufs, L, i64(nrows), i64(n))
    else:
        prg = kernels.program(self.rt, "rows.cl", _defines(out.dtype, log), group=group)
        getattr(prg, stem + "_rows")(q, *_item_grid(self, nrows), *bufs, L, i64(nrows), i64(n))


def _item_grid(self, nrows):
    """(global, local) sizes of a *_rows launch (CPU shape; PG_FOR hands each work-item a chunk of rows): a few
    work-groups of one work-item, as conv_ops._dims.  PoCL compiles such a kernel without its work-group
    loop (first launch of sm_fwd_rows / sm_bwd_rows ~0.10 -> see docs/opencl.md's cold start) and runs it
    as fast."""
    return (max(1, min(nrows, 4 * self.rt.device.max_compute_units)),), (1,)


def _sm_chunks(self, nrows, n):
    """Chunks per row of softmax and its backward: 1 (one launch) unless there are too few rows to fill the
    device (CPU shape: fewer than the cores; GPU shape: fewer than the work-groups that fill it)."""
    if self.rt.kernel_shape == "gpu":
        from .backend_ops import _groups_target

        if n < _WG_MIN:
            return 1
        return int(max(1, min(-(-_groups_target(self) // nrows), n // (4 * _wg_size(n)), 1024)))
    return _bo._cpu_row_chunks(self, nrows, n)


def softmax(self, x, dim, log):
    """softmax (log_softmax when ``log``) of ``x`` along ``dim``: one kernel (sm_fwd_*)."""
    out = self.empty(x._shape, x.dtype)
    if out.numel():
        _row_kernel(self, "sm_fwd", out, [x], dim, log)
    return out


def softmax_backward(self, g, y, dim, log):
    """The input gradient of softmax / log_softmax from its output ``y``: one kernel (sm_bwd_*)."""
    out = self.empty(y._shape, y.dtype)
    if out.numel():
        _row_kernel(self, "sm_bwd", out, [y, g], dim, log)
    return out


def _ln_launch(self, name, n, nrows, args):
    """Launch ln_fwd / ln_bwd: ``*_wg`` on GPU-shaped devices for rows of >= 32 elements, else ``*_rows``."""
    dtype = args[0]
    if self.rt.kernel_shape == "gpu" and n >= _WG_MIN:
        wg = _wg_size(n)
        prg = kernels.program(self.rt, "rows.cl", _defines(dtype, wg=wg))
        getattr(prg, name + "_wg")(self.rt.queue, (min(nrows, 65536) * wg,), (wg,), *args[1:])
    else:
        prg = kernels.program(self.rt, "rows.cl", _defines(dtype))
        getattr(prg, name + "_rows")(self.rt.queue, *_item_grid(self, nrows), *args[1:])


def layer_norm(self, x, w, b, n, eps):
    """``(y, mean, rstd)`` of layer norm over contiguous rows of ``n`` elements (ln_fwd_*)."""
    acc = _acc(x.dtype)
    nrows = x.numel() // n if n else 0
    y = self.empty(x._shape, x.dtype)
    mean, rstd = self.empty((nrows,), acc), self.empty((nrows,), acc)
    if nrows == 0:
        return y, mean, rstd
    if n == 0:  # statistics of no elements: NaN (y has no elements)
        self.copy_(mean, self._operand(float("nan"), acc))
        self.copy_(rstd, self._operand(float("nan"), acc))
        return y, mean, rstd
    dummy = self._dummy_operand()
    wt, bt = w if w is not None else dummy, b if b is not None else dummy
    i64 = np.int64
    _ln_launch(self, "ln_fwd", n, nrows, (x.dtype, y._storage.data, mean._storage.data, rstd._storage.data,
                                           x._storage.data, wt._storage.data, bt._storage.data, i64(x._offset),
                                           i64(wt._offset), i64(bt._offset), i64(nrows), i64(n),
                                           acc.np.type(eps), i64((w is not None) | (b is not None) << 1)))
    return y, mean, rstd


def layer_norm_backward(self, g, x, w, mean, rstd, n, needs):
    """Gradients of layer norm for (input, weight, bias): ln_bwd_* for the input, ln_bwd_wb (column sums in
    chunks of rows, then a sum over the chunks) for weight and bias; None where ``needs`` is False."""
    nrows = x.numel() // n if n else 0
    acc = _acc(x.dtype)
    gx = gw = gb = None
    i64 = np.int64
    dummy = self._dummy_operand()
    if needs[0]:
        gx = self.empty(x._shape, x.dtype)
        if gx.numel():
            wt = w if w is not None else dummy
            _ln_launch(self, "ln_bwd", n, nrows, (x.dtype, gx._storage.data, x._storage.data, g._storage.data,
                                                   wt._storage.data, mean._storage.data, rstd._storage.data,
                                                   i64(x._offset), i64(g._offset), i64(wt._offset), i64(nrows),
                                                   i64(n), i64(w is not None)))
    if not (needs[1] or needs[2]):
        return gx, gw, gb
    gpu = self.rt.kernel_shape == "gpu"
    cb = 1 if gpu else 16
    blocks = -(-n // cb) if n else 0
    want = 16384 if gpu else 4 * LOCAL * self.rt.device.max_compute_units  # tasks to keep the device busy
    nchunks = max(1, min(nrows, want // max(blocks, 1)))
    parts = [self.empty((nchunks, n), acc) if need else None for need in needs[1:]]
    if nrows and n:
        prg = kernels.program(self.rt, "rows.cl", _defines(x.dtype, cb=cb))
        bufs = [p._storage.data if p is not None else dummy._storage.data for p in parts]
        flags = int(parts[0] is not None) | int(parts[1] is not None) << 1
        prg.ln_bwd_wb(self.rt.queue, self.grid(nchunks * blocks), (LOCAL,), *bufs, x._storage.data,
                      g._storage.data, mean._storage.data, rstd._storage.data, i64(x._offset), i64(g._offset),
                      i64(nrows), i64(n), i64(nchunks), i64(flags))
    else:
        for p in parts:
            if p is not None and p.numel():
                self.copy_(p, self._operand(0.0, acc))
    out = []
    for p in parts:
        if p is None:
            out.append(None)
        elif nchunks == 1:
            out.append(self.cast(p._view((n,), (1,), p._offset), x.dtype))
        else:
            out.append(self.reduce(np.sum, p, (0,), False, x.dtype, acc))
    return gx, out[0], out[1]


def install(cls):
    for fn in (softmax, softmax_backward, layer_norm, layer_norm_backward, row_reduce):
        setattr(cls, fn.__name__, fn)


# row_reduce modes (RMODE in rows.cl): logsumexp and the vector norms
_RMODES = {"logsumexp": 0, 2.0: 1, 1.0: 2, float("inf"): 3, float("-inf"): 4}


def row_reduce(self, x, kind, dims, keepdim, p=None):
    """logsumexp (``kind="logsumexp"``) or the vector ``p``-norm (``kind="norm"``) of float ``x`` over
    ``dims``, in one launch (rr_rows / rr_wg; the GPU shape adds rr_fin_wg when few rows are split into
    chunks).  Reduced dims that do not merge into one strided run are first copied innermost."""
    from .backend_ops import _MAX_GROUPS, _groups_target, _row_grid, _split_layout

    mode = _RMODES["logsumexp"] if kind == "logsumexp" else _RMODES.get(float(p), 5)
    dims = tuple(dims)
    out_shape = tuple(1 if d in dims else s for d, s in enumerate(x._shape)) if keepdim else \
        tuple(s for d, s in enumerate(x._shape) if d not in dims)
    out = self.empty(out_shape, x.dtype)
    Lk, Lr, nrows, n, _ = _split_layout(x, dims, reorder=True)
    if nrows == 0:
        return out
    if int(Lr["nd"]) > 1:  # the reduced dims innermost and contiguous: one run per row
        keep = [d for d in range(x.dim()) if d not in dims]
        order = keep + list(dims)
        st = _core.contiguous_strides(tuple(x._shape[d] for d in order))
        strides = [0] * x.dim()
        for k, d in enumerate(order):
            strides[d] = st[k]
        tmp = self.empty(x._shape, x.dtype, tuple(strides))
        self.copy_(tmp, x)
        x = tmp
        Lk, Lr, nrows, n, _ = _split_layout(x, dims, reorder=True)
    rs = int(Lr["strides"][1][0]) if int(Lr["nd"]) else 1
    acc = _acc(x.dtype)
    pv = acc.np.type(0.0 if p is None else float(p))
    q, i64 = self.rt.queue, np.int64
    gpu = self.rt.kernel_shape == "gpu"
    if gpu and n >= _WG_MIN:
        wg = _wg_size(n)
        prg = kernels.program(self.rt, "rows.cl", _defines(x.dtype, wg=wg) + (f"RMODE {mode}",))
        nchunks = int(max(1, min(-(-_groups_target(self) // nrows), n // (4 * wg), 1024)))
        st = self.empty((2 * nrows * nchunks,), acc) if nchunks > 1 else out
        prg.rr_wg(q, (min(nrows * nchunks, _MAX_GROUPS) * wg,), (wg,), out._storage.data, st._storage.data,
                  x._storage.data, Lk, i64(nrows), i64(n), i64(rs), pv, i64(nchunks))
        if nchunks > 1:
            prg.rr_fin_wg(q, (min(nrows, _MAX_GROUPS) * wg,), (wg,), out._storage.data, st._storage.data, Lk,
                          i64(nrows), pv, i64(nchunks))
    else:
        prg = kernels.program(self.rt, "rows.cl", _defines(x.dtype) + (f"RMODE {mode}",))
        nchunks = _bo._cpu_row_chunks(self, nrows, n) if not gpu else 1
        st = self.empty((2 * nrows * nchunks,), acc) if nchunks > 1 else out
        prg.rr_rows(q, *_row_grid(self, nrows * nchunks), out._storage.data, st._storage.data, x._storage.data, Lk,
                    i64(nrows), i64(n), i64(rs), pv, i64(nchunks))
        if nchunks > 1:
            prg.rr_fin_rows(q, self.grid(nrows), (LOCAL,), out._storage.data, st._storage.data, Lk, i64(nrows), pv,
                            i64(nchunks))
    return out
