"""A whole LSTM layer (one direction) as one autograd Function with its own backward through time.

The input projection ``W_ih x_t + b_ih`` of every step comes in precomputed (one matmul, outside).  Each
time step then costs one matmul (``h W_hh^T``) and one fused gate kernel (``lstm_cell_forward``:
sigmoid/tanh of the four gates, the new cell and hidden state); the backward walks the steps in reverse
with one fused kernel and one matmul each, and gets ``W_hh``'s gradient from one matmul over all steps.
The graph records one node per layer and direction (PyTorch's CPU name, ``MkldnnRnnLayerBackward0``)
instead of ~15 per step.
"""
from .. import dtypes as D
from ..autograd import grad_mode
from ..autograd.function import Function
from .dispatch import backend_of


def _at(x, t):
    """Block ``t`` of a contiguous (T, ...) tensor, as a tensor over the same storage (no graph)."""
    from ..tensor import Tensor

    return Tensor._make(x._storage, x._shape[1:], x._strides[1:], x._offset + t * x._strides[0], x.dtype)


def _span(x, start, stop):
    from ..tensor import Tensor

    return Tensor._make(x._storage, (stop - start,) + x._shape[1:], x._strides, x._offset + start * x._strides[0],
                        x.dtype)


def fusable(x, *tensors):
    """Whether the fused sequence Function runs these operands (float32/float64 on one device)."""
    return x.dtype in (D.float32, D.float64) and all(t is None or t.dtype is x.dtype for t in tensors)


class LSTMLayer(Function):
    """``(out (T, N, H), h_n, c_n)`` of one LSTM layer and direction over a whole sequence."""

    node_name = "MkldnnRnnLayerBackward0"

    @staticmethod
    def forward(ctx, gi, h0, c0, w_hh, b_hh):
        be = backend_of(gi)
        T, N, G = gi._shape
        H = G // 4
        if b_hh is not None:
            gi = gi + b_hh  # the hidden bias joins the input projection once for all steps
        gi = gi.contiguous()
        hs = be.empty((T + 1, N, H), gi.dtype)  # hs[0] = h0, hs[t + 1] = h after step t
        cs = be.empty((T + 1, N, H), gi.dtype)
        acts = be.empty((T, N, G), gi.dtype)
        be.copy_(_at(hs, 0), h0)
        be.copy_(_at(cs, 0), c0)
        w_t = w_hh.t().contiguous()  # once per sequence: every step's matmul then reads it in order
        whole = getattr(be, "lstm_layer_forward", None)
        if whole is not None:  # the CPU backend runs the time loop on its arrays (no tensors per step)
            whole(gi, hs, cs, acts, w_t)
        else:
            for t in range(T):
                gh = be.matmul(_at(hs, t), w_t)
                be.lstm_cell_forward(_at(hs, t + 1), _at(cs, t + 1), _at(acts, t), _at(gi, t), gh, _at(cs, t))
        ctx.save_for_backward(w_hh, hs, cs, acts)  # (out shares hs: an in-place change of out is caught)
        ctx.has_bias = b_hh is not None
        out = _span(hs, 1, T + 1)
        return out, _at(hs, T).clone(), _at(cs, T).clone()

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        if grad_mode.is_grad_enabled():
            raise RuntimeError("double backward (create_graph=True) through a fused LSTM layer is not supported; "
                               "set pygrad.nn.modules.rnn.FUSED_LSTM = False to run the step-by-step LSTM")
        w_hh, hs, cs, acts = ctx.saved_tensors
        be = backend_of(dout)
        T, N, G = acts._shape
        H = G // 4
        dout = dout.contiguous()
        dh, dc = dh_n.contiguous(), dc_n.contiguous()
        dgates = be.empty((T, N, G), dout.dtype)
        whole = getattr(be, "lstm_layer_backward", None)
        if whole is not None:
            dh, dc = whole(dgates, dout, dh, dc, w_hh, cs, acts)
        for t in reversed(range(T) if whole is None else ()):
            dc_prev = be.empty((N, H), dout.dtype)
            dg = _at(dgates, t)
            be.lstm_cell_backward(dg, dc_prev, _at(dout, t), dh, dc, _at(acts, t), _at(cs, t + 1), _at(cs, t))
            dh, dc = be.matmul(dg, w_hh), dc_prev
        flat = dgates.reshape(T * N, G)
        dw = be.matmul(flat.t(), _span(hs, 0, T).reshape(T * N, H)) if ctx.needs_input_grad[3] else None
        db = flat.sum(0) if ctx.has_bias and ctx.needs_input_grad[4] else None
        return dgates, dh, dc, dw, db


def _no_double_backward():
    if grad_mode.is_grad_enabled():
        raise RuntimeError("double backward (create_graph=True) through a fused RNN/LSTM/GRU layer is not supported; "
                           "set pygrad.nn.modules.rnn.FUSED_LSTM = False to run the step-by-step layers")


class GRULayer(Function):
    """``(out (T, N, H), h_n)`` of one GRU layer and direction: one matmul and one gate kernel per step."""

    node_name = "GruLayerBackward0"

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh):
        be = backend_of(gi)
        T, N, G = gi._shape
        H = G // 3
        gi = gi.contiguous()
        hs = be.empty((T + 1, N, H), gi.dtype)
        acts = be.empty((T, N, 4 * H), gi.dtype)
        be.copy_(_at(hs, 0), h0)
        w_t = w_hh.t().contiguous()  # once per sequence: every step's matmul then reads it in order
        bias = b_hh.contiguous() if b_hh is not None else None
        for t in range(T):
            be.gru_cell_forward(_at(hs, t + 1), _at(acts, t), _at(gi, t), be.matmul(_at(hs, t), w_t), bias, _at(hs, t))
        ctx.save_for_backward(w_hh, hs, acts)
        ctx.has_bias = b_hh is not None
        return _span(hs, 1, T + 1), _at(hs, T).clone()

    @staticmethod
    def backward(ctx, dout, dh_n):
        _no_double_backward()
        w_hh, hs, acts = ctx.saved_tensors
        be = backend_of(dout)
        T, N, H4 = acts._shape
        H = H4 // 4
        dout = dout.contiguous()
        dgi = be.empty((T, N, 3 * H), dout.dtype)
        dgh = be.empty((T, N, 3 * H), dout.dtype)
        dhd, dhm = dh_n.contiguous(), dh_n.new_zeros((N, H))
        for t in reversed(range(T)):
            dhd_new = be.empty((N, H), dout.dtype)
            be.gru_cell_backward(_at(dgi, t), _at(dgh, t), dhd_new, _at(dout, t), dhd, dhm, _at(acts, t), _at(hs, t))
            dhm, dhd = be.matmul(_at(dgh, t), w_hh), dhd_new
        flat = dgh.reshape(T * N, 3 * H)
        dw = be.matmul(flat.t(), _span(hs, 0, T).reshape(T * N, H)) if ctx.needs_input_grad[2] else None
        db = flat.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return dgi, dhd + dhm, dw, db


class RNNLayer(Function):
    """``(out (T, N, H), h_n)`` of one Elman RNN layer and direction (tanh or relu)."""

    node_name = "RnnLayerBackward0"

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh, relu):
        be = backend_of(gi)
        T, N, H = gi._shape
        if b_hh is not None:
            gi = gi + b_hh
        gi = gi.contiguous()
        hs = be.empty((T + 1, N, H), gi.dtype)
        be.copy_(_at(hs, 0), h0)
        w_t = w_hh.t().contiguous()  # once per sequence: every step's matmul then reads it in order
        for t in range(T):
            be.rnn_cell_forward(_at(hs, t + 1), _at(gi, t), be.matmul(_at(hs, t), w_t), relu)
        ctx.save_for_backward(w_hh, hs)
        ctx.has_bias, ctx.relu = b_hh is not None, relu
        return _span(hs, 1, T + 1), _at(hs, T).clone()

    @staticmethod
    def backward(ctx, dout, dh_n):
        _no_double_backward()
        w_hh, hs = ctx.saved_tensors
        be = backend_of(dout)
        T1, N, H = hs._shape
        T = T1 - 1
        dout = dout.contiguous()
        dpre = be.empty((T, N, H), dout.dtype)
        dh = dh_n.contiguous()
        for t in reversed(range(T)):
            be.rnn_cell_backward(_at(dpre, t), _at(dout, t), dh, _at(hs, t + 1), ctx.relu)
            dh = be.matmul(_at(dpre, t), w_hh)
        flat = dpre.reshape(T * N, H)
        dw = be.matmul(flat.t(), _span(hs, 0, T).reshape(T * N, H)) if ctx.needs_input_grad[2] else None
        db = flat.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return dpre, dh, dw, db, None
