"""Compiled float32 loops (see ``_vmath.h``) for the CPU backend's gelu and erf: one pass, SIMD."""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t

cdef extern from "_vmath.h":
    void pg_erf_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_grad_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_tanh_f32(const float *x, float *out, int64_t n) nogil
    void pg_gelu_tanh_grad_f32(const float *x, float *out, int64_t n) nogil

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
