"""Fused OpenCL kernels: nll_loss (``cl_kernels/loss.cl``) and optimizer updates (``cl_kernels/optim.cl``).

Each is one launch where the op-by-op version took several, and none waits for the device: a
target out of range is recorded by the kernel and raised at the next sync (``runtime.DeviceErrors``).
``install`` adds these functions as methods of ``OpenCLBackend``.
"""
import numpy as np

from ... import dtypes as D
from . import kernels
from .backend import EW_CPU_CHUNK, LOCAL, _LOCAL, _ctype, _fix, _io_defines


def chunked_launch(self, n):
    """(global, local) sizes of a ``PG_FOR`` launch over ``n`` elements.  The CPU shape (as elementwise):
    work-groups of ONE work-item, a few per core, each a contiguous chunk of at least EW_CPU_CHUNK
    elements: PoCL then compiles no loop over 64 work-items around the body, so the kernel's first launch
    (machine code, with an empty cache) costs less (sgd_k 0.10 -> 0.06 s CPU).  Else the 64-wide grid."""
    if self._ew_local is _LOCAL:
        return self.grid(n), _LOCAL
    return (min(-(-n // EW_CPU_CHUNK), self._ew_cpu_items),), (1,)


def _nll_defines(dtype, target_dtype):
    acc = _ctype(dtype)
    defines = [f"ACC={acc}", f"TGT={'uchar' if target_dtype is D.uint8 else 'long'}"]
    defines += _io_defines("I", dtype, acc) + _io_defines("O", dtype, acc)
    return tuple(_fix(d) for d in defines)


def _optim_defines(dtype):
    acc = _ctype(dtype)
    return tuple(_fix(d) for d in [f"ACC={acc}"] + _io_defines("P", dtype, acc))


def step_group(dtype):
    """The programs of the loss and the update of a float32 training step (nll_loss with int64 targets, the
    fused optimizers), to be built with log_softmax's (rows.py): one program instead of three."""
    if dtype is not D.float32:
        return ()
    return [kernels.Other(("loss.cl", _nll_defines(dtype, D.int64))), kernels.Other(("optim.cl", _optim_defines(dtype)))]


def _nll_program(self, x, target):
    self._check_dtype(x.dtype)
    return kernels.program(self.rt, "loss.cl", _nll_defines(x.dtype, target.dtype))


def nll_forward(self, x, target, weight, ignore_index, reduction):
    """nll_loss of log-probabilities ``x`` (M, C) and class targets (M,): ``(loss, total weight)``.

    'none' gives the (M,) losses and no total; 'sum' / 'mean' one 0-d loss from one work-group, and the
    total weight of the counted rows (a 1-element float buffer the backward of 'mean' divides by)."""
    M, C = x._shape
    prg = _nll_program(self, x, target)
    errors = self.rt.errors
    tag = errors.tag(IndexError, "Target {value} is out of bounds.")
    w = weight._storage.data if weight is not None else self._dummy_operand()._storage.data
    i64 = np.int64
    common = (x._storage.data, target._storage.data, w, i64(M), i64(C), i64(x._offset), i64(x._strides[0]),
              i64(x._strides[1]), i64(target._offset), i64(target._strides[0]), i64(ignore_index),
              np.int32(weight is not None))
    if reduction == "none":
        out = self.empty((M,), x.dtype)
        if M:
            prg.nll_none_k(self.rt.queue, self.grid(M), (LOCAL,), out._storage.data, *common, errors.buffer(),
                           np.int32(tag))
            errors.after_launch()
        return out, None
    out = self.empty((), x.dtype)
    wsum = self.empty((1,), D.float64 if _ctype(x.dtype) == "double" else D.float32)
    ls = _LOCAL if self.rt.kernel_shape == "gpu" else (1,)  # (the CPU shape's kernel is one work-item)
    prg.nll_reduce_k(self.rt.queue, ls, ls, out._storage.data, wsum._storage.data, *common,
                     np.int32(reduction == "mean"), errors.buffer(), np.int32(tag))
    errors.after_launch()
    return out, wsum


def nll_backward(self, g, target, weight, wsum, ignore_index, reduction, C):
    """Gradient of nll_loss for the log-probabilities: (M, C), nonzero only at each row's target."""
    M = target._shape[0]
    gx = self.empty((M, C), g.dtype)
    if M * C == 0:
        return gx
    prg = _nll_program(self, g, target)
    w = weight._storage.data if weight is not None else self._dummy_operand()._storage.data
    ws = wsum._storage.data if wsum is not None else self._dummy_operand()._storage.data
    i64 = np.int64
    prg.nll_backward_k(self.rt.queue, *chunked_launch(self, M * C), gx._storage.data, g._storage.data,
                       target._storage.data, w, ws, i64(M), i64(C), i64(g._offset),
                       i64(g._strides[0] if g.dim() else 0), i64(target._offset), i64(target._strides[0]),
                       i64(ignore_index), np.int32(weight is not None), np.int32(reduction == "mean"))
    return gx


def optim_step(self, kind, tensors, floats, flags):
    """One optimizer update in one kernel (``cl_kernels/optim.cl``): ``kind`` is sgd/adam/rmsprop/adagrad,
    ``tensors`` the parameter, its gradient and up to three state buffers (contiguous, the parameter's
    dtype; None where unused), ``floats`` up to eight hyperparameters and ``flags`` up to four switches."""
    p = tensors[0]
    n = p.numel()
    if n == 0:
        return
    acc = _ctype(p.dtype)
    self._check_dtype(p.dtype)
    prg = kernels.program(self.rt, "optim.cl", _optim_defines(p.dtype))
    bufs = [t._storage.data if t is not None else p._storage.data for t in tensors]
    bufs += [p._storage.data] * (5 - len(bufs))
    fty = np.float64 if acc == "double" else np.float32
    fs = [fty(f) for f in floats] + [fty(0)] * (8 - len(floats))
    ks = [np.int32(bool(k)) for k in flags] + [np.int32(0)] * (4 - len(flags))
    getattr(prg, kind + "_k")(self.rt.queue, *chunked_launch(self, n), *bufs, np.int64(n), *fs, *ks)


def _rnn_program(self, dtype):
    if dtype not in (D.float32, D.float64):
        raise NotImplementedError(f"fused LSTM cell for {dtype}")
    self._check_dtype(dtype)
    return kernels.program(self.rt, "rnn.cl", (f"T {dtype.cl}",))


def _bo(t):
    return (t._storage.data, np.int64(t._offset))


def lstm_cell_forward(self, h, c, acts, gi, gh, c_prev):
    """One LSTM step's gate math in one kernel: writes h, c (N, H) and acts (N, 4H); inputs contiguous blocks."""
    N, H = c._shape
    if N * H:
        _rnn_program(self, c.dtype).lstm_cell_fwd_k(
            self.rt.queue, self.grid(N * H), (LOCAL,), *_bo(h), *_bo(c), *_bo(acts), *_bo(gi), *_bo(gh),
            *_bo(c_prev), np.int64(N), np.int64(H))


def lstm_cell_backward(self, dgates, dc_prev, dout, dh_next, dc_next, acts, c, c_prev):
    """The backward of ``lstm_cell_forward`` in one kernel: writes dgates (N, 4H) and dc_prev (N, H)."""
    N, H = c._shape
    if N * H:
        _rnn_program(self, c.dtype).lstm_cell_bwd_k(
            self.rt.queue, self.grid(N * H), (LOCAL,), *_bo(dgates), *_bo(dc_prev), *_bo(dout), *_bo(dh_next),
            *_bo(dc_next), *_bo(acts), *_bo(c), *_bo(c_prev), np.int64(N), np.int64(H))


def gru_cell_forward(self, h, acts, gi, gh, b_hh, h_prev):
    """One GRU step's gate math in one kernel: writes h (N, H) and acts (N, 4H: r, z, n, W_hn h + b_hn)."""
    N, H = h._shape
    if N * H:
        b = b_hh._storage.data if b_hh is not None else h._storage.data
        _rnn_program(self, h.dtype).gru_cell_fwd_k(
            self.rt.queue, self.grid(N * H), (LOCAL,), *_bo(h), *_bo(acts), *_bo(gi), *_bo(gh), b,
            np.int32(b_hh is not None), *_bo(h_prev), np.int64(N), np.int64(H))


def gru_cell_backward(self, dgi, dgh, dhd_out, dout, dhd, dhm, acts, h_prev):
    """The backward of ``gru_cell_forward``: writes dgi, dgh (N, 3H) and dhd_out (N, H)."""
    N, H = h_prev._shape
    if N * H:
        _rnn_program(self, h_prev.dtype).gru_cell_bwd_k(
            self.rt.queue, self.grid(N * H), (LOCAL,), *_bo(dgi), *_bo(dgh), *_bo(dhd_out), *_bo(dout), *_bo(dhd),
            *_bo(dhm), *_bo(acts), *_bo(h_prev), np.int64(N), np.int64(H))


def rnn_cell_forward(self, h, gi, gh, relu):
    """One Elman RNN step: h = tanh(gi + gh) (or relu), one kernel."""
    n = h.numel()
    if n:
        _rnn_program(self, h.dtype).rnn_cell_fwd_k(self.rt.queue, self.grid(n), (LOCAL,), *_bo(h), *_bo(gi),
                                                   *_bo(gh), np.int32(relu), np.int64(n))


def rnn_cell_backward(self, dpre, dout, dh_next, h, relu):
    """Its backward: dpre = (dout + dh_next) * act'(h), one kernel."""
    n = h.numel()
    if n:
        _rnn_program(self, h.dtype).rnn_cell_bwd_k(self.rt.queue, self.grid(n), (LOCAL,), *_bo(dpre), *_bo(dout),
                                                   *_bo(dh_next), *_bo(h), np.int32(relu), np.int64(n))


def install(cls):
    for fn in (chunked_launch, nll_forward, nll_backward, optim_step, lstm_cell_forward, lstm_cell_backward, gru_cell_forward,
               gru_cell_backward, rnn_cell_forward, rnn_cell_backward):
        setattr(cls, fn.__name__, fn)
