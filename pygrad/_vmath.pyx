"""Compiled float32 loops (see ``_vmath.h``) for the CPU backend's gelu, erf and relu's backward: one pass, SIMD."""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t

cdef extern from "_vmath.h":
    void pg_erf_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_grad_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_tanh_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_tanh_grad_f32(const float *x, float *out, int64_t n) nogil
    void pg_threshold_bwd_f32(const float *g, const float *y, float *out, int64_t n) nogil
    void pg_threshold_bwd_f64(const double *g, const double *y, double *out, int64_t n) nogil

ctypedef void (*loop_t)(const float *, float *, int64_t) nogil


cdef _run(loop_t f, x, out):
    """``out[...] = f(x)`` for float32 arrays of one shape; copies in and out when not contiguous."""
    cdef cnp.ndarray[float, ndim=1, mode="c"] xa = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    direct = out.dtype == np.float32 and out.flags.c_contiguous
    cdef cnp.ndarray[float, ndim=1, mode="c"] oa = out.reshape(-1) if direct else np.empty(xa.shape[0], np.float32)
    cdef int64_t n = xa.shape[0]
    if n:
        with nogil:
            f(&xa[0], &oa[0], n)
    if not direct:
        out[...] = oa.reshape(out.shape)
    return out


def erf(x, out):
    return _run(pg_erf_f32, x, out)


def gelu(x, out):
    return _run(pg_gelu_f32, x, out)


def gelu_grad(x, out):
    return _run(pg_gelu_grad_f32, x, out)


def gelu_tanh(x, out):
    return _run(pg_gelu_tanh_f32, x, out)


def gelu_tanh_grad(x, out):
    return _run(pg_gelu_tanh_grad_f32, x, out)


def _same_dense(out, *arrays):
    """True when every array has ``out``'s shape and dtype and all are C-contiguous (one flat loop fits)."""
    if not out.flags.c_contiguous:
        return False
    for a in arrays:
        if a.shape != out.shape or a.dtype != out.dtype or not a.flags.c_contiguous:
            return False
    return True


def threshold_backward(g, y, out):
    """``out = where(y <= 0, 0, g)`` in one compiled pass for float32/float64 arrays of one shape, all
    C-contiguous; returns False (nothing written) for anything else, so the caller takes NumPy's path."""
    cdef cnp.ndarray gf, yf, of
    cdef int64_t n
    if not (isinstance(g, cnp.ndarray) and isinstance(y, cnp.ndarray)) or not _same_dense(out, g, y):
        return False
    n = out.size
    if n == 0:
        return True
    gf, yf, of = g.reshape(-1), y.reshape(-1), out.reshape(-1)
    if out.dtype == np.float32:
        with nogil:
            pg_threshold_bwd_f32(<const float *>cnp.PyArray_DATA(gf), <const float *>cnp.PyArray_DATA(yf),
                                 <float *>cnp.PyArray_DATA(of), n)
    elif out.dtype == np.float64:
        with nogil:
            pg_threshold_bwd_f64(<const double *>cnp.PyArray_DATA(gf), <const double *>cnp.PyArray_DATA(yf),
                                 <double *>cnp.PyArray_DATA(of), n)
    else:
        return False
    return True
