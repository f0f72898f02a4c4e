"""CPU versions of the fused primitives of ``runtime/opencl/fused.py``: nll_loss forward/backward and the
optimizer updates, each one vectorised NumPy pass (the ``cpu`` module re-exports them)."""
import numpy as np

from .. import _vmath


def _wrap(arr, dtype):
    from .cpu import wrap

    return wrap(arr, dtype)


def _np(t):
    from .cpu import to_numpy

    return to_numpy(t)


def _targets(target, ignore_index, C):
    """(clamped targets, valid mask); a target outside [0, C) raises PyTorch's IndexError at once."""
    t = _np(target).astype(np.int64, copy=False)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    return np.where(valid, t, 0), valid


def nll_forward(x, target, weight, ignore_index, reduction):
    """See ``OpenCLBackend.nll_forward``: ``(loss, total weight)``."""
    M, C = x._shape
    xa = _np(x)
    acc = np.float64 if xa.dtype == np.float64 else np.float32
    t, valid = _targets(target, ignore_index, C)
    w = (_np(weight).astype(acc)[t] if weight is not None else np.ones(M, acc)) * valid
    losses = -xa[np.arange(M), t].astype(acc) * w
    if reduction == "none":
        return _wrap(losses.astype(xa.dtype), x.dtype), None
    s, ws = losses.sum(dtype=acc), w.sum(dtype=acc)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = s / ws if reduction == "mean" else s
    return _wrap(np.asarray(out, xa.dtype), x.dtype), _wrap(np.asarray([ws], acc), None)


def nll_backward(g, target, weight, wsum, ignore_index, reduction, C):
    """See ``OpenCLBackend.nll_backward``: (M, C), ``-w[t] * g`` at each row's target."""
    ga = _np(g)
    M = target._shape[0]
    t = _np(target).astype(np.int64, copy=False)
    valid = (t != ignore_index) & (t >= 0) & (t < C)
    t = np.where(valid, t, 0)
    acc = np.float64 if ga.dtype == np.float64 else np.float32
    w = (_np(weight).astype(acc)[t] if weight is not None else np.ones(M, acc)) * valid
    v = -w * ga.astype(acc)  # g is 0-d (reduced) or (M,)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            v = v / _np(wsum)[0]
    v = np.where(valid, v, 0)  # PyTorch: an ignored row's gradient is 0, also when every row is ignored (0 / 0)
    gx = np.zeros((M, C), ga.dtype)
    gx[np.arange(M), t] = v
    return _wrap(gx, g.dtype)


COMPILED_OPTIM = True  # float32 SGD/Adam as one compiled pass (tests turn it off to get the NumPy passes)


def optim_step(kind, tensors, floats, flags):
    """See ``OpenCLBackend.optim_step``: the same update as ``cl_kernels/optim.cl``, as NumPy in-place passes."""
    p, g, *state = [None if t is None else _np(t) for t in tensors] + [None] * (5 - len(tensors))
    f = list(floats) + [0.0] * (8 - len(floats))
    k = list(flags) + [0] * (4 - len(flags))
    wd = f[3] if kind == "sgd" else f[4]
    if COMPILED_OPTIM and p.dtype == np.float32 and kind in ("sgd", "adam") and (wd == 0 or np.float32(wd) != 0) \
            and all(a is None or (a.dtype == np.float32 and a.flags.c_contiguous) for a in [p, g] + state):
        # one compiled pass (bitwise the same as the passes below)
        flat = [None if a is None else a.reshape(-1) for a in [p, g] + state]
        if kind == "sgd":
            lr, momentum, dampening, wd = f[:4]
            _vmath.sgd(flat[0], flat[1], flat[2] if momentum != 0 else None, lr, momentum, dampening, wd,
                       k[0], k[1], k[2])
        else:
            lr, beta1, beta2, eps, wd, bc1, bc2_sqrt = f[:7]
            _vmath.adam(flat[0], flat[1], flat[2], flat[3], flat[4] if k[1] else None, lr, beta1, beta2, eps,
                        wd, bc1, bc2_sqrt, k[0], k[2])
        return
    gi = -g if (kind in ("sgd", "rmsprop") and k[1]) or (kind == "adam" and k[2]) or (kind == "adagrad" and k[0]) \
        else g
    s1, s2, s3 = state[:3]
    if kind == "sgd":
        lr, momentum, dampening, wd = f[:4]
        if wd != 0:
            gi = gi + wd * p
        if momentum != 0:
            if k[2]:
                s1[...] = gi
            else:
                s1 *= momentum
                s1 += (1 - dampening) * gi
            gi = gi + momentum * s1 if k[0] else s1
        p -= lr * gi
    elif kind == "adam":
        lr, beta1, beta2, eps, wd, bc1, bc2_sqrt = f[:7]
        if wd != 0:
            if k[0]:
                p *= 1 - lr * wd
            else:
                gi = gi + wd * p
        s1 += (1 - beta1) * (gi - s1)
        s2 *= beta2
        s2 += (1 - beta2) * gi * gi
        v = s2
        if k[1]:
            np.maximum(s3, s2, out=s3)
            v = s3
        denom = np.sqrt(v) / bc2_sqrt
        denom += eps
        p -= (lr / bc1) * (s1 / denom)
    elif kind == "rmsprop":
        lr, alpha, eps, wd, momentum = f[:5]
        if wd != 0:
            gi = gi + wd * p
        s1 *= alpha
        s1 += (1 - alpha) * gi * gi
        if k[0]:
            s3 += (1 - alpha) * (gi - s3)
            avg = np.sqrt(s1 - s3 * s3)
        else:
            avg = np.sqrt(s1)
        avg += eps
        if momentum > 0:
            s2 *= momentum
            s2 += gi / avg
            p -= lr * s2
        else:
            p -= lr * (gi / avg)
    elif kind == "adagrad":
        lr, eps, wd = f[:3]
        if wd != 0:
            gi = gi + wd * p
        s1 += gi * gi
        p -= lr * (gi / (np.sqrt(s1) + eps))
    else:
        raise ValueError(f"unknown optimizer update {kind!r}")


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def lstm_cell_forward(h, c, acts, gi, gh, c_prev):
    """See ``OpenCLBackend.lstm_cell_forward``: one LSTM step's gate math, written into h, c and acts."""
    _lstm_fwd_np(_np(gi), _np(gh), _np(c_prev), _np(h), _np(c), _np(acts))


def _lstm_fwd_np(gi, gh, c_prev, h, c, acts):
    """One LSTM step on NumPy arrays (the argument order of ``_vmath.lstm_cell_forward``)."""
    H = c.shape[1]
    a, z = acts, gi + gh
    a[:, :H] = _sigmoid(z[:, :H])
    a[:, H:2 * H] = _sigmoid(z[:, H:2 * H])
    np.tanh(z[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
    a[:, 3 * H:] = _sigmoid(z[:, 3 * H:])
    np.multiply(a[:, H:2 * H], c_prev, out=c)
    c += a[:, :H] * a[:, 2 * H:3 * H]
    np.multiply(a[:, 3 * H:], np.tanh(c), out=h)


def lstm_cell_backward(dgates, dc_prev, dout, dh_next, dc_next, acts, c, c_prev):
    """See ``OpenCLBackend.lstm_cell_backward``."""
    _lstm_bwd_np(_np(dgates), _np(dc_prev), _np(dout), _np(dh_next), _np(dc_next), _np(acts), _np(c), _np(c_prev))


def _lstm_bwd_np(d, dc_prev, dout, dh_next, dc_next, a, c, c_prev):
    """One LSTM step's backward on NumPy arrays (the argument order of ``_vmath.lstm_cell_backward``)."""
    H = c.shape[1]
    i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    tc = np.tanh(c)
    dh = dout + dh_next
    dc = dc_next + dh * o * (1 - tc * tc)
    d[:, :H] = dc * g * i * (1 - i)
    d[:, H:2 * H] = dc * c_prev * f * (1 - f)
    d[:, 2 * H:3 * H] = dc * i * (1 - g * g)
    d[:, 3 * H:] = dh * tc * o * (1 - o)
    np.multiply(dc, f, out=dc_prev)


def lstm_layer_forward(gi, hs, cs, acts, w_t):
    """The time loop of ``ops.rnn.LSTMLayer``'s forward on NumPy arrays (no tensor per step): each step one
    matmul into a reused buffer and one cell (a compiled loop for float32).  ``hs[0]``/``cs[0]`` hold h0/c0;
    fills ``hs[1:]``, ``cs[1:]`` and ``acts``."""
    g, hv, cv, av, w = _np(gi), _np(hs), _np(cs), _np(acts), _np(w_t)
    gh = np.empty(g.shape[1:], g.dtype)
    cell = _vmath.lstm_cell_forward if g.dtype == np.float32 else _lstm_fwd_np
    for t in range(g.shape[0]):
        np.matmul(hv[t], w, out=gh)
        cell(g[t], gh, cv[t], hv[t + 1], cv[t + 1], av[t])


def lstm_layer_backward(dgates, dout, dh_n, dc_n, w_hh, cs, acts):
    """The reverse time loop of ``LSTMLayer``'s backward on NumPy arrays: fills ``dgates`` (T, N, 4H) and
    returns the gradients of h0 and c0 as tensors."""
    d, do, av, cv, w = _np(dgates), _np(dout), _np(acts), _np(cs), _np(w_hh)
    dh, dc = np.array(_np(dh_n), order="C"), np.array(_np(dc_n), order="C")
    dc_prev = np.empty_like(dc)
    cell = _vmath.lstm_cell_backward if d.dtype == np.float32 else _lstm_bwd_np
    for t in reversed(range(d.shape[0])):
        cell(d[t], dc_prev, do[t], dh, dc, av[t], cv[t + 1], cv[t])
        np.matmul(d[t], w, out=dh)  # the cell has read dh: the next step's dh_next goes into the same buffer
        dc, dc_prev = dc_prev, dc
    return _wrap(dh, None), _wrap(dc, None)


def gru_cell_forward(h, acts, gi, gh, b_hh, h_prev):
    """See ``OpenCLBackend.gru_cell_forward``."""
    H = h._shape[1]
    g, x, hp, a = _np(gh), _np(gi), _np(h_prev), _np(acts)
    if b_hh is not None:
        g = g + _np(b_hh)
    r = _sigmoid(x[:, :H] + g[:, :H])
    z = _sigmoid(x[:, H:2 * H] + g[:, H:2 * H])
    hn = g[:, 2 * H:]
    n = np.tanh(x[:, 2 * H:] + r * hn)
    a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:] = r, z, n, hn
    np.add(n, z * (hp - n), out=_np(h))


def gru_cell_backward(dgi, dgh, dhd_out, dout, dhd, dhm, acts, h_prev):
    """See ``OpenCLBackend.gru_cell_backward``."""
    H = h_prev._shape[1]
    a = _np(acts)
    r, z, n, hn = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    dh = _np(dout) + _np(dhd) + _np(dhm)
    dnp = dh * (1 - z) * (1 - n * n)
    drp = dnp * hn * r * (1 - r)
    dzp = dh * (_np(h_prev) - n) * z * (1 - z)
    gi, gh = _np(dgi), _np(dgh)
    gi[:, :H], gi[:, H:2 * H], gi[:, 2 * H:] = drp, dzp, dnp
    gh[:, :H], gh[:, H:2 * H], gh[:, 2 * H:] = drp, dzp, dnp * r
    np.multiply(dh, z, out=_np(dhd_out))


def rnn_cell_forward(h, gi, gh, relu):
    """See ``OpenCLBackend.rnn_cell_forward``."""
    v = _np(gi) + _np(gh)
    if relu:
        np.maximum(v, 0, out=_np(h))
    else:
        np.tanh(v, out=_np(h))


def rnn_cell_backward(dpre, dout, dh_next, h, relu):
    """See ``OpenCLBackend.rnn_cell_backward``."""
    dh, hv = _np(dout) + _np(dh_next), _np(h)
    np.multiply(dh, (hv > 0) if relu else (1 - hv * hv), out=_np(dpre))
