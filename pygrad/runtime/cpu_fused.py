"""CPU versions of the fused primitives of ``runtime/opencl/fused.py``: nll_loss forward/backward and the
optimizer updates, each one vectorised NumPy pass (the ``cpu`` module re-exports them)."""
import numpy as np


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
    gx = np.zeros((M, C), ga.dtype)
    gx[np.arange(M), t] = v
    return _wrap(gx, g.dtype)
