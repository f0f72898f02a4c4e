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
    float pg_tanhf(float x) nogil
    void pg_var_acb_f32(const float *x, int64_t A, int64_t C, int64_t B, double *mean, double *m2) nogil
    void pg_sgd_f32(float *p, const float *g, float *buf, int64_t n, float lr, float momentum, float damp1,
                    float wd, int nesterov, int maximize, int first) nogil
    void pg_adam_f32(float *p, const float *g, float *m, float *v, float *vmax, int64_t n, float one_minus_b1,
                     float b2, float one_minus_b2, float eps, float wd, float decay, float bc2_sqrt, float step,
                     int decoupled, int maximize) nogil
    void pg_softmax_rows_f32(const float *x, float *y, int64_t rows, int64_t n, int log) nogil
    void pg_softmax_bwd_rows_f32(const float *g, const float *y, float *out, int64_t rows, int64_t n, int log) nogil
    void pg_layer_norm_f32(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                           int64_t rows, int64_t n, float eps) nogil
    void pg_layer_norm_bwd_f32(const float *g, const float *x, const float *w, const float *mean,
                               const float *rstd, float *gx, double *gw, double *gb, float *tmp,
                               int64_t rows, int64_t n) nogil
    void pg_lstm_fwd_f32(const float *gi, const float *gh, const float *c_prev, float *h, float *c, float *acts,
                         int64_t N, int64_t H) nogil
    void pg_lstm_bwd_f32(float *dgates, float *dc_prev, const float *dout, const float *dh_next,
                         const float *dc_next, const float *acts, const float *c, const float *c_prev,
                         int64_t N, int64_t H) nogil

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


def tanh(x, out):
    """float32 tanh (Cephes' tanhf: about 1 ulp) of a C-contiguous array into ``out`` (the LSTM cells' tanh;
    exposed for its tests)."""
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] ov = out.reshape(-1)
    cdef Py_ssize_t i
    for i in range(xv.shape[0]):
        ov[i] = pg_tanhf(xv[i])
    return out


def lstm_cell_forward(const float[:, ::1] gi, const float[:, ::1] gh, const float[:, ::1] c_prev,
                      float[:, ::1] h, float[:, ::1] c, float[:, ::1] acts):
    """One float32 LSTM step over C-contiguous (N, 4H) gate inputs: writes acts, c and h (see ``_vmath.h``)."""
    cdef int64_t N = c.shape[0], H = c.shape[1]
    if N and H:
        with nogil:
            pg_lstm_fwd_f32(&gi[0, 0], &gh[0, 0], &c_prev[0, 0], &h[0, 0], &c[0, 0], &acts[0, 0], N, H)


def lstm_cell_backward(float[:, ::1] dgates, float[:, ::1] dc_prev, const float[:, ::1] dout,
                       const float[:, ::1] dh_next, const float[:, ::1] dc_next, const float[:, ::1] acts,
                       const float[:, ::1] c, const float[:, ::1] c_prev):
    """The backward of ``lstm_cell_forward``: gate gradients into dgates, the previous cell's into dc_prev."""
    cdef int64_t N = c.shape[0], H = c.shape[1]
    if N and H:
        with nogil:
            pg_lstm_bwd_f32(&dgates[0, 0], &dc_prev[0, 0], &dout[0, 0], &dh_next[0, 0], &dc_next[0, 0],
                            &acts[0, 0], &c[0, 0], &c_prev[0, 0], N, H)


def softmax_rows(const float[:, ::1] x, float[:, ::1] y, bint log):
    """softmax (or log_softmax) of each row of a C-contiguous float32 (rows, n) array into ``y``."""
    cdef int64_t rows = x.shape[0], n = x.shape[1]
    if rows and n:
        with nogil:
            pg_softmax_rows_f32(&x[0, 0], &y[0, 0], rows, n, log)


def softmax_backward_rows(const float[:, ::1] g, const float[:, ::1] y, float[:, ::1] out, bint log):
    """The input gradient of ``softmax_rows`` (``y`` its output) for each row, into ``out``."""
    cdef int64_t rows = g.shape[0], n = g.shape[1]
    if rows and n:
        with nogil:
            pg_softmax_bwd_rows_f32(&g[0, 0], &y[0, 0], &out[0, 0], rows, n, log)


def layer_norm_rows(const float[:, ::1] x, w, b, float[:, ::1] y, float[::1] mean, float[::1] rstd, float eps):
    """Layer norm of each row of a C-contiguous float32 (rows, n) array; ``w``/``b``: (n,) float32 or None."""
    cdef int64_t rows = x.shape[0], n = x.shape[1]
    cdef const float[::1] wv, bv
    cdef const float *wp = NULL
    cdef const float *bp = NULL
    if w is not None:
        wv = w
        wp = &wv[0]
    if b is not None:
        bv = b
        bp = &bv[0]
    if rows and n:
        with nogil:
            pg_layer_norm_f32(&x[0, 0], wp, bp, &y[0, 0], &mean[0], &rstd[0], rows, n, eps)


def layer_norm_backward_rows(const float[:, ::1] g, const float[:, ::1] x, w, const float[::1] mean,
                             const float[::1] rstd, gx, gw, gb):
    """Layer norm's gradients: ``gx`` (rows, n) float32 or None; ``gw``/``gb`` (n,) float64 accumulators
    (zeroed by the caller) or None."""
    cdef int64_t rows = x.shape[0], n = x.shape[1]
    cdef const float[::1] wv
    cdef float[:, ::1] gxv
    cdef double[::1] gwv, gbv
    cdef const float *wp = NULL
    cdef float *gxp = NULL
    cdef double *gwp = NULL
    cdef double *gbp = NULL
    cdef float[::1] tmp = np.empty(2 * n + 1, np.float32)
    if w is not None:
        wv = w
        wp = &wv[0]
    if gx is not None:
        gxv = gx
        gxp = &gxv[0, 0]
    if gw is not None:
        gwv = gw
        gwp = &gwv[0]
    if gb is not None:
        gbv = gb
        gbp = &gbv[0]
    if rows and n:
        with nogil:
            pg_layer_norm_bwd_f32(&g[0, 0], &x[0, 0], wp, &mean[0], &rstd[0], gxp, gwp, gbp, &tmp[0], rows, n)


def sgd(float[::1] p, const float[::1] g, buf, double lr, double momentum, double dampening, double wd,
        bint nesterov, bint maximize, bint first):
    """SGD's update of one contiguous float32 parameter in one pass (``buf``: its momentum buffer or None);
    the same float32 operations, in order, as ``runtime.cpu_fused.optim_step``'s NumPy passes."""
    cdef float[::1] bv
    cdef float *bp = NULL
    cdef int64_t n = p.shape[0]
    if buf is not None:
        bv = buf
        bp = &bv[0] if n else NULL
    if n:
        with nogil:
            pg_sgd_f32(&p[0], &g[0], bp, n, <float>lr, <float>momentum, <float>(1 - dampening), <float>wd,
                       nesterov, maximize, first)


def adam(float[::1] p, const float[::1] g, float[::1] m, float[::1] v, vmax, double lr, double beta1,
         double beta2, double eps, double wd, double bc1, double bc2_sqrt, bint decoupled, bint maximize):
    """Adam's (AdamW's with ``decoupled``) update of one contiguous float32 parameter in one pass (``vmax``:
    amsgrad's running max or None); the same float32 operations, in order, as the NumPy passes."""
    cdef float[::1] xv
    cdef float *xp = NULL
    cdef int64_t n = p.shape[0]
    if vmax is not None:
        xv = vmax
        xp = &xv[0] if n else NULL
    if n:
        with nogil:
            pg_adam_f32(&p[0], &g[0], &m[0], &v[0], xp, n, <float>(1 - beta1), <float>beta2, <float>(1 - beta2),
                        <float>eps, <float>wd, <float>(1 - lr * wd), <float>bc2_sqrt, <float>(lr / bc1),
                        decoupled, maximize)


def var_acb(x, int64_t A, int64_t C, int64_t B):
    """``(mean, m2)`` (float64, C each) of a C-contiguous float32 array viewed as (A, C, B), over A and B: the
    mean and the sum of squared deviations from it, in one compiled two-pass loop (see ``_vmath.h``)."""
    cdef cnp.ndarray xf = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    assert xf.size == A * C * B
    cdef cnp.ndarray mean = np.empty(C, np.float64), m2 = np.empty(C, np.float64)
    with nogil:
        pg_var_acb_f32(<const float *>cnp.PyArray_DATA(xf), A, C, B, <double *>cnp.PyArray_DATA(mean),
                       <double *>cnp.PyArray_DATA(m2))
    return mean, m2
