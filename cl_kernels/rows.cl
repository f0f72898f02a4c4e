/* rows.cl: fused row ops -- softmax, log_softmax and layer norm, forward and backward.
 *
 * A row is the elements one result depends on (along softmax's dim; the normalized dims of layer norm).
 * Each kernel reads a row two or three times and writes it once, in one launch, where composing
 * max / sub / exp / sum / div ops would read and write the whole tensor once per op.
 *
 * Specialised by #defines from pygrad/runtime/opencl/rows.py:
 *   ACC, ACC8               accumulator type (float; double for float64) and its 8-wide vector
 *   TI / LD_I / LD8_I       input storage type, scalar and 8-wide loads (converted to ACC / ACC8)
 *   TO / ST_O / ST8_O       output storage type, scalar and 8-wide stores
 *   LOG                     1: log_softmax, 0: softmax
 *   WG                      the work-group size of the *_wg kernels (a power of two)
 * Three shapes of each kernel:
 *   *_rows  CPU devices: one work-item per row (PG_FOR hands each a chunk of rows), 8-wide vector loops
 *           over the row, no local memory.  Rows are contiguous (row stride 1).
 *   *_wg    GPUs, rows with stride 1: one work-group per row; neighbouring work-items read
 *           neighbouring elements (coalesced) and combine their partial results in local memory.
 *   *_item  GPUs, any strides (softmax along a dim that is not the innermost): one work-item per row;
 *           neighbouring work-items own neighbouring rows, so their loads are coalesced when the
 *           rows are the columns of a row-major tensor.
 * Softmax is numerically stable: every row is shifted by its max, and log_softmax is
 * (x - max) - log(sum(exp(x - max))).  The _wg and _item kernels find the max and the sum in one
 * pass ("online softmax": the sum is rescaled whenever the running max grows).
 */
#ifndef LOG
#define LOG 0
#endif
#ifndef WG
#define WG 64
#endif

/* float16 rows, 8 at a time: eight scalar conversions (PoCL's vload_half8 wants 16-byte alignment,
 * and a row of a half tensor starts at any even address). */
inline float8 pg_ld8h(__global const half* p) {
    return (float8)(vload_half(0, p), vload_half(1, p), vload_half(2, p), vload_half(3, p),
                    vload_half(4, p), vload_half(5, p), vload_half(6, p), vload_half(7, p));
}
inline void pg_st8h(float8 v, __global half* p) {
    vstore_half(v.s0, 0, p); vstore_half(v.s1, 1, p); vstore_half(v.s2, 2, p); vstore_half(v.s3, 3, p);
    vstore_half(v.s4, 4, p); vstore_half(v.s5, 5, p); vstore_half(v.s6, 6, p); vstore_half(v.s7, 7, p);
}

inline ACC pg_hmax8(ACC8 v) {
    return fmax(fmax(fmax(v.s0, v.s1), fmax(v.s2, v.s3)), fmax(fmax(v.s4, v.s5), fmax(v.s6, v.s7)));
}
inline ACC pg_hsum8(ACC8 v) { return ((v.s0 + v.s1) + (v.s2 + v.s3)) + ((v.s4 + v.s5) + (v.s6 + v.s7)); }

/* Online softmax state (m, s): s = sum of exp(x - m) over the elements seen; fold in one element. */
inline void pg_online(ACC v, ACC* m, ACC* s) {
    if (v > *m) { *s = *s * exp(*m - v) + (ACC)1; *m = v; }
    else if (v != -INFINITY) { *s += exp(v - *m); }   /* (-inf adds 0; NaN makes s NaN) */
}
/* Merge two states (a partial result of another work-item). */
inline void pg_online_merge(ACC m2, ACC s2, ACC* m, ACC* s) {
    ACC mm = fmax(*m, m2);
    ACC a = *s == (ACC)0 ? (ACC)0 : *s * exp(*m - mm);
    ACC b = s2 == (ACC)0 ? (ACC)0 : s2 * exp(m2 - mm);
    *m = mm; *s = a + b;
}

/* ---------------------------------------------------------------------------------------------- */
/* softmax / log_softmax forward                                                                   */
/* ---------------------------------------------------------------------------------------------- */
/* Operands: 0 = out, 1 = x; L is the layout of the row starts (the kept dims). */
__kernel void sm_fwd_rows(__global TO* out, __global const TI* x, const Layout L, const long nrows, const long n) {
    PG_FOR(r, nrows) {
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        __global const TI* p = x + ox;
        __global TO* q = out + oo;
        long n8 = n & ~7L;
        ACC8 m8 = (ACC8)(-INFINITY);
        for (long i = 0; i < n8; i += 8) m8 = fmax(m8, LD8_I(p, i));
        ACC m = pg_hmax8(m8);
        for (long i = n8; i < n; ++i) m = fmax(m, LD_I(p, i));
        ACC8 s8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) s8 += exp(LD8_I(p, i) - m);
        ACC s = pg_hsum8(s8);
        for (long i = n8; i < n; ++i) s += exp(LD_I(p, i) - m);
#if LOG
        ACC ls = log(s);
        for (long i = 0; i < n8; i += 8) ST8_O(q, i, (LD8_I(p, i) - m) - ls);
        for (long i = n8; i < n; ++i) ST_O(q, i, (LD_I(p, i) - m) - ls);
#else
        for (long i = 0; i < n8; i += 8) ST8_O(q, i, exp(LD8_I(p, i) - m) / s);
        for (long i = n8; i < n; ++i) ST_O(q, i, exp(LD_I(p, i) - m) / s);
#endif
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sm_fwd_wg(__global TO* out, __global const TI* x, const Layout L, const long nrows, const long n) {
    __local ACC lm[WG], ls_[WG];
    int lid = get_local_id(0);
    for (long r = get_group_id(0); r < nrows; r += get_num_groups(0)) {
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC m = -INFINITY, s = 0;
        for (long i = lid; i < n; i += WG) pg_online(LD_I(x, ox + i), &m, &s);
        lm[lid] = m; ls_[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
#define PG_SM_AT(i, j) ACC a = lm[i], b = ls_[i]; pg_online_merge(lm[j], ls_[j], &a, &b); lm[i] = a; ls_[i] = b
        PG_WG_TREE(lid, WG, PG_SM_AT)
#undef PG_SM_AT
        m = lm[0]; s = ls_[0];
        barrier(CLK_LOCAL_MEM_FENCE);           /* everyone has read lm[0] before the next row */
        if (m == INFINITY) s = NAN;             /* exp(inf - inf) is NaN, as the two-pass formula gives */
#if LOG
        ACC lg = log(s);
        for (long i = lid; i < n; i += WG) ST_O(out, oo + i, (LD_I(x, ox + i) - m) - lg);
#else
        for (long i = lid; i < n; i += WG) ST_O(out, oo + i, exp(LD_I(x, ox + i) - m) / s);
#endif
    }
}

__kernel void sm_fwd_item(__global TO* out, __global const TI* x, const Layout L, const long nrows, const long n,
                          const long rso, const long rsx) {
    PG_FOR(r, nrows) {
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC m = -INFINITY, s = 0;
        for (long i = 0; i < n; ++i) pg_online(LD_I(x, ox + i * rsx), &m, &s);
        if (m == INFINITY) s = NAN;
#if LOG
        ACC lg = log(s);
        for (long i = 0; i < n; ++i) ST_O(out, oo + i * rso, (LD_I(x, ox + i * rsx) - m) - lg);
#else
        for (long i = 0; i < n; ++i) ST_O(out, oo + i * rso, exp(LD_I(x, ox + i * rsx) - m) / s);
#endif
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* softmax / log_softmax backward: operands 0 = grad in, 1 = y (the forward's output), 2 = g       */
/*   softmax:      gx = y * (g - sum(g * y))       log_softmax:  gx = g - exp(y) * sum(g)          */
/* ---------------------------------------------------------------------------------------------- */
#if LOG
#define SM_TERM(g, y) (g)
#define SM_GRAD(g, y, s) ((g) - exp(y) * (s))
#else
#define SM_TERM(g, y) ((g) * (y))
#define SM_GRAD(g, y, s) ((y) * ((g) - (s)))
#endif

__kernel void sm_bwd_rows(__global TO* gx, __global const TI* y, __global const TI* g, const Layout L,
                          const long nrows, const long n) {
    PG_FOR(r, nrows) {
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        __global const TI* py = y + oy;
        __global const TI* pg = g + og;
        __global TO* q = gx + oo;
        long n8 = n & ~7L;
        ACC8 s8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) s8 += SM_TERM(LD8_I(pg, i), LD8_I(py, i));
        ACC s = pg_hsum8(s8);
        for (long i = n8; i < n; ++i) s += SM_TERM(LD_I(pg, i), LD_I(py, i));
        for (long i = 0; i < n8; i += 8) ST8_O(q, i, SM_GRAD(LD8_I(pg, i), LD8_I(py, i), s));
        for (long i = n8; i < n; ++i) ST_O(q, i, SM_GRAD(LD_I(pg, i), LD_I(py, i), s));
    }
}

/* The sum of WG values v of a work-group, in local memory (tree); every work-item gets it. */
inline ACC pg_wg_sum(ACC v, __local ACC* buf) {
    int lid = get_local_id(0);
    buf[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
#define PG_SUM_AT(i, j) buf[i] += buf[j]
    PG_WG_TREE(lid, WG, PG_SUM_AT)
#undef PG_SUM_AT
    ACC s = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return s;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sm_bwd_wg(__global TO* gx, __global const TI* y, __global const TI* g, const Layout L, const long nrows,
               const long n) {
    __local ACC buf[WG];
    int lid = get_local_id(0);
    for (long r = get_group_id(0); r < nrows; r += get_num_groups(0)) {
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        ACC s = 0;
        for (long i = lid; i < n; i += WG) s += SM_TERM(LD_I(g, og + i), LD_I(y, oy + i));
        s = pg_wg_sum(s, buf);
        for (long i = lid; i < n; i += WG) ST_O(gx, oo + i, SM_GRAD(LD_I(g, og + i), LD_I(y, oy + i), s));
    }
}

__kernel void sm_bwd_item(__global TO* gx, __global const TI* y, __global const TI* g, const Layout L,
                          const long nrows, const long n, const long rso, const long rsy, const long rsg) {
    PG_FOR(r, nrows) {
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        ACC s = 0;
        for (long i = 0; i < n; ++i) s += SM_TERM(LD_I(g, og + i * rsg), LD_I(y, oy + i * rsy));
        for (long i = 0; i < n; ++i)
            ST_O(gx, oo + i * rso, SM_GRAD(LD_I(g, og + i * rsg), LD_I(y, oy + i * rsy), s));
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* softmax / log_softmax of few long rows (stride 1), in chunks over two launches so that every core  */
/* (every compute unit) works: sm_stat_* writes the state of chunk c of row r to st[2 g], g = r      */
/* nchunks + c: its max m_c and s_c = sum of exp(x - m_c) (exp(x) where m_c is infinite); sm_apply_*   */
/* merges the row's states and writes the chunk.  Backward: sm_bstat_* writes the chunk's           */
/* sum(SM_TERM) to st[g], sm_bapply_* adds the row's sums and writes the chunk's gradient.           */
/* ---------------------------------------------------------------------------------------------- */
/* the row's max and sum of exp(x - max) from its chunk states (NaN for an infinite max, as the
 * one-launch kernels give: exp(inf - inf)) */
inline void pg_sm_merge_st(__global const ACC* st, long nchunks, ACC* m, ACC* s) {
    ACC mm = -INFINITY, ss = 0;
    for (long c = 0; c < nchunks; ++c) mm = fmax(mm, st[2 * c]);
    if (isinf(mm)) ss = NAN;
    else
        for (long c = 0; c < nchunks; ++c) { ACC sc = st[2 * c + 1]; ss += sc == (ACC)0 ? (ACC)0 : sc * exp(st[2 * c] - mm); }
    *m = mm; *s = ss;
}

/* the chunk [i0, i1) of row r, for task g of a chunked launch */
#define PG_SM_CHUNK(g, r, i0, i1) \
    long r = (g) / nchunks, pg_c_ = (g) % nchunks, pg_per_ = (n + nchunks - 1) / nchunks; \
    long i0 = min(n, pg_c_ * pg_per_), i1 = min(n, i0 + pg_per_)

#ifdef PG_CPU
__kernel void sm_stat_rows(__global ACC* st, __global const TI* x, const Layout L, const long nrows, const long n,
                           const long nchunks) {
    PG_FOR(g, nrows * nchunks) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        __global const TI* p = x + ox + i0;
        long len = i1 - i0, n8 = len & ~7L;
        ACC8 m8 = (ACC8)(-INFINITY);
        for (long i = 0; i < n8; i += 8) m8 = fmax(m8, LD8_I(p, i));
        ACC m = pg_hmax8(m8);
        for (long i = n8; i < len; ++i) m = fmax(m, LD_I(p, i));
        ACC sh = isinf(m) ? (ACC)0 : m;
        ACC8 s8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) s8 += exp(LD8_I(p, i) - sh);
        ACC s = pg_hsum8(s8);
        for (long i = n8; i < len; ++i) s += exp(LD_I(p, i) - sh);
        st[2 * g] = m; st[2 * g + 1] = s;
    }
}

__kernel void sm_apply_rows(__global TO* out, __global const ACC* st, __global const TI* x, const Layout L,
                            const long nrows, const long n, const long nchunks) {
    PG_FOR(g, nrows * nchunks) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC m, s;
        pg_sm_merge_st(st + 2 * r * nchunks, nchunks, &m, &s);
        __global const TI* p = x + ox + i0;
        __global TO* q = out + oo + i0;
        long len = i1 - i0, n8 = len & ~7L;
#if LOG
        ACC ls = log(s);
        for (long i = 0; i < n8; i += 8) ST8_O(q, i, (LD8_I(p, i) - m) - ls);
        for (long i = n8; i < len; ++i) ST_O(q, i, (LD_I(p, i) - m) - ls);
#else
        for (long i = 0; i < n8; i += 8) ST8_O(q, i, exp(LD8_I(p, i) - m) / s);
        for (long i = n8; i < len; ++i) ST_O(q, i, exp(LD_I(p, i) - m) / s);
#endif
    }
}

__kernel void sm_bstat_rows(__global ACC* st, __global const TI* y, __global const TI* g_, const Layout L,
                            const long nrows, const long n, const long nchunks) {
    PG_FOR(g, nrows * nchunks) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        __global const TI* py = y + oy + i0;
        __global const TI* pg = g_ + og + i0;
        long len = i1 - i0, n8 = len & ~7L;
        ACC8 s8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) s8 += SM_TERM(LD8_I(pg, i), LD8_I(py, i));
        ACC s = pg_hsum8(s8);
        for (long i = n8; i < len; ++i) s += SM_TERM(LD_I(pg, i), LD_I(py, i));
        st[g] = s;
    }
}

__kernel void sm_bapply_rows(__global TO* gx, __global const ACC* st, __global const TI* y, __global const TI* g_,
                             const Layout L, const long nrows, const long n, const long nchunks) {
    PG_FOR(g, nrows * nchunks) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        ACC s = 0;
        for (long c = 0; c < nchunks; ++c) s += st[r * nchunks + c];
        __global const TI* py = y + oy + i0;
        __global const TI* pg = g_ + og + i0;
        __global TO* q = gx + oo + i0;
        long len = i1 - i0, n8 = len & ~7L;
        for (long i = 0; i < n8; i += 8) ST8_O(q, i, SM_GRAD(LD8_I(pg, i), LD8_I(py, i), s));
        for (long i = n8; i < len; ++i) ST_O(q, i, SM_GRAD(LD_I(pg, i), LD_I(py, i), s));
    }
}
#else
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sm_stat_wg(__global ACC* st, __global const TI* x, const Layout L, const long nrows, const long n,
                const long nchunks) {
    __local ACC lm[WG], ls_[WG];
    int lid = get_local_id(0);
    for (long g = get_group_id(0); g < nrows * nchunks; g += get_num_groups(0)) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC m = -INFINITY, s = 0;
        for (long i = i0 + lid; i < i1; i += WG) pg_online(LD_I(x, ox + i), &m, &s);
        lm[lid] = m; ls_[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
#define PG_SM_AT(i, j) ACC a = lm[i], b = ls_[i]; pg_online_merge(lm[j], ls_[j], &a, &b); lm[i] = a; ls_[i] = b
        PG_WG_TREE(lid, WG, PG_SM_AT)
#undef PG_SM_AT
        if (lid == 0) { st[2 * g] = lm[0]; st[2 * g + 1] = ls_[0]; }
        barrier(CLK_LOCAL_MEM_FENCE);  /* lm / ls_ are rewritten for the next g */
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sm_apply_wg(__global TO* out, __global const ACC* st, __global const TI* x, const Layout L, const long nrows,
                 const long n, const long nchunks) {
    for (long g = get_group_id(0); g < nrows * nchunks; g += get_num_groups(0)) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC m, s;
        pg_sm_merge_st(st + 2 * r * nchunks, nchunks, &m, &s);  /* (each work-item: the states are few, cached) */
#if LOG
        ACC lg = log(s);
        for (long i = i0 + get_local_id(0); i < i1; i += WG) ST_O(out, oo + i, (LD_I(x, ox + i) - m) - lg);
#else
        for (long i = i0 + get_local_id(0); i < i1; i += WG) ST_O(out, oo + i, exp(LD_I(x, ox + i) - m) / s);
#endif
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sm_bstat_wg(__global ACC* st, __global const TI* y, __global const TI* g_, const Layout L, const long nrows,
                 const long n, const long nchunks) {
    __local ACC buf[WG];
    int lid = get_local_id(0);
    for (long g = get_group_id(0); g < nrows * nchunks; g += get_num_groups(0)) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        ACC s = 0;
        for (long i = i0 + lid; i < i1; i += WG) s += SM_TERM(LD_I(g_, og + i), LD_I(y, oy + i));
        s = pg_wg_sum(s, buf);
        if (lid == 0) st[g] = s;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sm_bapply_wg(__global TO* gx, __global const ACC* st, __global const TI* y, __global const TI* g_,
                  const Layout L, const long nrows, const long n, const long nchunks) {
    for (long g = get_group_id(0); g < nrows * nchunks; g += get_num_groups(0)) {
        PG_SM_CHUNK(g, r, i0, i1);
        long oo, oy, og, u3;
        pg_offsets(&L, r, &oo, &oy, &og, &u3);
        ACC s = 0;
        for (long c = 0; c < nchunks; ++c) s += st[r * nchunks + c];
        for (long i = i0 + get_local_id(0); i < i1; i += WG)
            ST_O(gx, oo + i, SM_GRAD(LD_I(g_, og + i), LD_I(y, oy + i), s));
    }
}
#endif

/* ---------------------------------------------------------------------------------------------- */
/* layer norm over contiguous rows of n elements: y = (x - mean) * rstd * w + b                    */
/* flags: bit 0 = has weight, bit 1 = has bias.  mean and rstd are stored per row (ACC).            */
/* ---------------------------------------------------------------------------------------------- */
#define HAS_W (flags & 1)
#define HAS_B (flags & 2)

__kernel void ln_fwd_rows(__global TO* y, __global ACC* mean, __global ACC* rstd, __global const TI* x,
                          __global const TI* w, __global const TI* b, const long xoff, const long woff,
                          const long boff, const long nrows, const long n, const ACC eps, const long flags) {
    PG_FOR(r, nrows) {
        __global const TI* p = x + xoff + r * n;
        __global TO* q = y + r * n;
        long n8 = n & ~7L;
        ACC8 s8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) s8 += LD8_I(p, i);
        ACC s = pg_hsum8(s8);
        for (long i = n8; i < n; ++i) s += LD_I(p, i);
        ACC mu = s / (ACC)n;
        ACC8 v8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) { ACC8 d = LD8_I(p, i) - mu; v8 += d * d; }
        ACC v = pg_hsum8(v8);
        for (long i = n8; i < n; ++i) { ACC d = LD_I(p, i) - mu; v += d * d; }
        ACC rs = (ACC)1 / sqrt(v / (ACC)n + eps);
        mean[r] = mu; rstd[r] = rs;
        for (long i = 0; i < n8; i += 8) {
            ACC8 t = (LD8_I(p, i) - mu) * rs;
            if (HAS_W) t *= LD8_I(w + woff, i);
            if (HAS_B) t += LD8_I(b + boff, i);
            ST8_O(q, i, t);
        }
        for (long i = n8; i < n; ++i) {
            ACC t = (LD_I(p, i) - mu) * rs;
            if (HAS_W) t *= LD_I(w + woff, i);
            if (HAS_B) t += LD_I(b + boff, i);
            ST_O(q, i, t);
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void ln_fwd_wg(__global TO* y, __global ACC* mean, __global ACC* rstd, __global const TI* x,
               __global const TI* w, __global const TI* b, const long xoff, const long woff,
               const long boff, const long nrows, const long n, const ACC eps, const long flags) {
    __local ACC buf[WG];
    int lid = get_local_id(0);
    for (long r = get_group_id(0); r < nrows; r += get_num_groups(0)) {
        long base = xoff + r * n;
        ACC s = 0;
        for (long i = lid; i < n; i += WG) s += LD_I(x, base + i);
        ACC mu = pg_wg_sum(s, buf) / (ACC)n;
        ACC v = 0;
        for (long i = lid; i < n; i += WG) { ACC d = LD_I(x, base + i) - mu; v += d * d; }
        ACC rs = (ACC)1 / sqrt(pg_wg_sum(v, buf) / (ACC)n + eps);
        if (lid == 0) { mean[r] = mu; rstd[r] = rs; }
        for (long i = lid; i < n; i += WG) {
            ACC t = (LD_I(x, base + i) - mu) * rs;
            if (HAS_W) t *= LD_I(w, woff + i);
            if (HAS_B) t += LD_I(b, boff + i);
            ST_O(y, r * n + i, t);
        }
    }
}

/* input gradient: gx = rstd * (g w - mean(g w) - xhat * mean(g w xhat)),  xhat = (x - mean) * rstd */
__kernel void ln_bwd_rows(__global TO* gx, __global const TI* x, __global const TI* g, __global const TI* w,
                          __global const ACC* mean, __global const ACC* rstd, const long xoff, const long goff,
                          const long woff, const long nrows, const long n, const long flags) {
    PG_FOR(r, nrows) {
        __global const TI* px = x + xoff + r * n;
        __global const TI* pg = g + goff + r * n;
        __global const TI* pw = w + woff;
        __global TO* q = gx + r * n;
        ACC mu = mean[r], rs = rstd[r];
        long n8 = n & ~7L;
        ACC8 a8 = (ACC8)(0), c8 = (ACC8)(0);
        for (long i = 0; i < n8; i += 8) {
            ACC8 gh = LD8_I(pg, i);
            if (HAS_W) gh *= LD8_I(pw, i);
            a8 += gh; c8 += gh * ((LD8_I(px, i) - mu) * rs);
        }
        ACC a = pg_hsum8(a8), c = pg_hsum8(c8);
        for (long i = n8; i < n; ++i) {
            ACC gh = LD_I(pg, i);
            if (HAS_W) gh *= LD_I(pw, i);
            a += gh; c += gh * ((LD_I(px, i) - mu) * rs);
        }
        a /= (ACC)n; c /= (ACC)n;
        for (long i = 0; i < n8; i += 8) {
            ACC8 gh = LD8_I(pg, i);
            if (HAS_W) gh *= LD8_I(pw, i);
            ST8_O(q, i, rs * (gh - a - ((LD8_I(px, i) - mu) * rs) * c));
        }
        for (long i = n8; i < n; ++i) {
            ACC gh = LD_I(pg, i);
            if (HAS_W) gh *= LD_I(pw, i);
            ST_O(q, i, rs * (gh - a - ((LD_I(px, i) - mu) * rs) * c));
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void ln_bwd_wg(__global TO* gx, __global const TI* x, __global const TI* g, __global const TI* w,
               __global const ACC* mean, __global const ACC* rstd, const long xoff, const long goff,
               const long woff, const long nrows, const long n, const long flags) {
    __local ACC buf[WG];
    int lid = get_local_id(0);
    for (long r = get_group_id(0); r < nrows; r += get_num_groups(0)) {
        long bx = xoff + r * n, bg = goff + r * n;
        ACC mu = mean[r], rs = rstd[r];
        ACC a = 0, c = 0;
        for (long i = lid; i < n; i += WG) {
            ACC gh = LD_I(g, bg + i);
            if (HAS_W) gh *= LD_I(w, woff + i);
            a += gh; c += gh * ((LD_I(x, bx + i) - mu) * rs);
        }
        a = pg_wg_sum(a, buf) / (ACC)n;
        c = pg_wg_sum(c, buf) / (ACC)n;
        for (long i = lid; i < n; i += WG) {
            ACC gh = LD_I(g, bg + i);
            if (HAS_W) gh *= LD_I(w, woff + i);
            ST_O(gx, r * n + i, rs * (gh - a - ((LD_I(x, bx + i) - mu) * rs) * c));
        }
    }
}

/* weight and bias gradients: column sums over rows of g * xhat and g.  Task t owns a block of CB
 * neighbouring columns in one chunk of rows and writes partial sums (a second pass adds the chunks):
 * on CPUs CB = 16 columns walked together row by row; on GPUs CB = 1, neighbouring work-items own
 * neighbouring columns (coalesced).  flags: bit 0 = weight grad wanted, bit 1 = bias grad wanted. */
#ifndef CB
#define CB 1
#endif
__kernel void ln_bwd_wb(__global ACC* gw, __global ACC* gb, __global const TI* x, __global const TI* g,
                        __global const ACC* mean, __global const ACC* rstd, const long xoff, const long goff,
                        const long nrows, const long n, const long nchunks, const long flags) {
    long nb = (n + CB - 1) / CB;
    long per = (nrows + nchunks - 1) / nchunks;
    PG_FOR(t, nchunks * nb) {
        long chunk = t / nb, c0 = (t % nb) * CB;
        int m = (int)min((long)CB, n - c0);
        long r0 = chunk * per, r1 = min(nrows, r0 + per);
        ACC aw[CB], ab[CB];
        for (int k = 0; k < CB; ++k) { aw[k] = 0; ab[k] = 0; }
        for (long r = r0; r < r1; ++r) {
            ACC mu = mean[r], rs = rstd[r];
            long bx = xoff + r * n + c0, bg = goff + r * n + c0;
            for (int k = 0; k < m; ++k) {
                ACC gv = LD_I(g, bg + k);
                aw[k] += gv * ((LD_I(x, bx + k) - mu) * rs);
                ab[k] += gv;
            }
        }
        for (int k = 0; k < m; ++k) {
            if (HAS_W) gw[chunk * n + c0 + k] = aw[k];
            if (HAS_B) gb[chunk * n + c0 + k] = ab[k];
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* row reductions in one launch: logsumexp and vector norms (RMODE), rows of n elements at stride rs */
/*   RMODE 0: logsumexp = m + log(sum(exp(x - m))), m the row's max (0 where it is +-inf, so that  */
/*            all -inf gives -inf, a +inf gives inf and a NaN gives NaN, as PyTorch)                */
/*   1: sqrt(sum x^2)   2: sum |x|   3: max |x|   4: min |x|   5: (sum |x|^p)^(1/p)                   */
/* L: kept dims, operand 0 = out, 1 = x.  A state is two ACCs (a, b): (max, scaled sum) for          */
/* logsumexp, (value, -) for the norms; *_wg kernels fold states in local memory.                     */
/* ---------------------------------------------------------------------------------------------- */
#ifdef RMODE
#if RMODE == 0 || RMODE == 4
#define RR_INIT ((ACC)INFINITY)
#else
#define RR_INIT ((ACC)0)
#endif
#if RMODE == 0
#define RR_INIT_A ((ACC)(-INFINITY))
#else
#define RR_INIT_A RR_INIT
#endif

/* fold one element v into the state (a, b) (GPU shape: scalar, online) */
inline void pg_rr_step(ACC v, ACC* a, ACC* b, ACC p) {
#if RMODE == 0
    if (v != v || *b != *b) *b = NAN;                              /* NaN sticks (a later max reset it) */
    else if (v > *a) { *b = (*a == -INFINITY ? (ACC)0 : *b * exp(*a - v)) + (ACC)1; *a = v; }
    else if (v == *a && v == INFINITY) *b += (ACC)1;                /* inf - inf is no NaN here */
    else if (v != -INFINITY) *b += exp(v - *a);
#elif RMODE == 1
    *a += v * v;
#elif RMODE == 2
    *a += fabs(v);
#elif RMODE == 3
    *a = (v != v || *a != *a) ? (ACC)NAN : fmax(*a, fabs(v));
#elif RMODE == 4
    *a = (v != v || *a != *a) ? (ACC)NAN : fmin(*a, fabs(v));
#else
    *a += pow(fabs(v), p);
#endif
}

/* merge state (a2, b2) into (a, b) */
inline void pg_rr_merge(ACC a2, ACC b2, ACC* a, ACC* b) {
#if RMODE == 0
    if (*b != *b || b2 != b2) { *b = NAN; return; }
    ACC m = fmax(*a, a2);
    if (m == -INFINITY) return;                                    /* both empty / all -inf */
    if (m == INFINITY) *b = (*a == m ? *b : (ACC)0) + (a2 == m ? b2 : (ACC)0);
    else *b = (*b == (ACC)0 ? (ACC)0 : *b * exp(*a - m)) + (b2 == (ACC)0 ? (ACC)0 : b2 * exp(a2 - m));
    *a = m;
#elif RMODE == 3
    *a = (a2 != a2 || *a != *a) ? (ACC)NAN : fmax(*a, a2);
#elif RMODE == 4
    *a = (a2 != a2 || *a != *a) ? (ACC)NAN : fmin(*a, a2);
#else
    *a += a2;
#endif
}

inline ACC pg_rr_final(ACC a, ACC b, ACC p) {
#if RMODE == 0
    return b != b ? (ACC)NAN : a == -INFINITY ? a : a + log(b);
#elif RMODE == 1
    return sqrt(a);
#elif RMODE == 5
    return pow(a, (ACC)1 / p);
#else
    return a;
#endif
}

#define PG_RR_BLK 2048  /* sums go through 8 lanes in blocks of this many elements (rounding of long rows) */
/* CPU shape: a contiguous row through 8-wide loads (logsumexp: a max pass, then a sum pass; the row
 * stays in cache).  Max / min of |x| ignore NaN in the vector loop (fmax) and add v * 0 aside: that
 * is NaN for a NaN or an inf, and only then is the row searched again for a NaN. */
inline void pg_rr_contig(__global const TI* q, long n, ACC p, ACC* ra, ACC* rb) {
    long n8 = n & ~7L;
    *rb = 0;
#if RMODE == 0
    ACC8 m8 = (ACC8)(-INFINITY);
    for (long i = 0; i < n8; i += 8) m8 = fmax(m8, LD8_I(q, i));
    ACC m = pg_hmax8(m8);
    for (long i = n8; i < n; ++i) m = fmax(m, LD_I(q, i));
    ACC sh = isinf(m) ? (ACC)0 : m;
    ACC s = 0;
    for (long b0 = 0; b0 < n8; b0 += PG_RR_BLK) {
        ACC8 s8 = (ACC8)(0);
        for (long i = b0; i < min(n8, b0 + PG_RR_BLK); i += 8) s8 += exp(LD8_I(q, i) - sh);
        s += pg_hsum8(s8);
    }
    for (long i = n8; i < n; ++i) s += exp(LD_I(q, i) - sh);
    /* state (a, b) = (shift, sum of exp(x - shift)): log(b) + a; nothing but -inf: the empty state */
    *ra = (m == -INFINITY && s == 0) ? m : sh;
    *rb = s;
#elif RMODE == 3 || RMODE == 4
#if RMODE == 3
#define PG_RR_EXT fmax
#else
#define PG_RR_EXT fmin
#endif
    ACC8 m8 = (ACC8)(RR_INIT), z8 = (ACC8)(0);
    for (long i = 0; i < n8; i += 8) { ACC8 v = LD8_I(q, i); m8 = PG_RR_EXT(m8, fabs(v)); z8 += v * (ACC)0; }
    ACC m = RR_INIT, z = pg_hsum8(z8);
    m = PG_RR_EXT(PG_RR_EXT(PG_RR_EXT(PG_RR_EXT(m, m8.s0), PG_RR_EXT(m8.s1, m8.s2)), PG_RR_EXT(m8.s3, m8.s4)),
                  PG_RR_EXT(PG_RR_EXT(m8.s5, m8.s6), m8.s7));
    for (long i = n8; i < n; ++i) { ACC v = LD_I(q, i); m = PG_RR_EXT(m, fabs(v)); z += v * (ACC)0; }
    if (z != z)
        for (long i = 0; i < n; ++i) if (isnan(LD_I(q, i))) { m = NAN; break; }
    *ra = m;
#undef PG_RR_EXT
#else
    ACC a = 0, b = 0;
    for (long b0 = 0; b0 < n8; b0 += PG_RR_BLK) {
        ACC8 s8 = (ACC8)(0);
        for (long i = b0; i < min(n8, b0 + PG_RR_BLK); i += 8) {
            ACC8 v = LD8_I(q, i);
#if RMODE == 1
            s8 += v * v;
#elif RMODE == 2
            s8 += fabs(v);
#else
            s8 += pow(fabs(v), (ACC8)(p));
#endif
        }
        a += pg_hsum8(s8);
    }
    for (long i = n8; i < n; ++i) pg_rr_step(LD_I(q, i), &a, &b, p);
    *ra = a; *rb = b;
#endif
}

/* CPU shape (and GPUs for rows of fewer than 32 elements): one work-item per (row, chunk), the chunk's
 * state (a, b) from 8-wide loops.  nchunks == 1: the result goes to out; else the state of chunk c of row
 * r goes to st[2 (r nchunks + c) + {0, 1}] and rr_fin_rows folds them (a single long row: the chunks run
 * on all cores). */
__kernel void rr_rows(__global TO* out, __global ACC* st, __global const TI* x, const Layout L, const long nrows,
                      const long n, const long rs, const ACC p, const long nchunks) {
    long per = (n + nchunks - 1) / nchunks;
    PG_FOR(g, nrows * nchunks) {
        long r = g / nchunks, c = g % nchunks;
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        long i0 = min(n, c * per), i1 = min(n, i0 + per);
        ACC a = RR_INIT_A, b = 0;
        if (rs == 1) {
            pg_rr_contig(x + ox + i0, i1 - i0, p, &a, &b);
        } else {
#if RMODE == 0
            ACC m = -INFINITY, s = 0;
            for (long i = i0; i < i1; ++i) m = fmax(m, LD_I(x, ox + i * rs));
            ACC sh = isinf(m) ? (ACC)0 : m;
            for (long i = i0; i < i1; ++i) s += exp(LD_I(x, ox + i * rs) - sh);
            a = (m == -INFINITY && s == 0) ? m : sh;
            b = s;
#else
            for (long i = i0; i < i1; ++i) pg_rr_step(LD_I(x, ox + i * rs), &a, &b, p);
#endif
        }
        if (nchunks == 1) { ST_O(out, oo, pg_rr_final(a, b, p)); }
        else { st[2 * g] = a; st[2 * g + 1] = b; }
    }
}

/* second pass of rr_rows: a work-item per row folds its nchunks states in order */
__kernel void rr_fin_rows(__global TO* out, __global const ACC* st, const Layout L, const long nrows, const ACC p,
                          const long nchunks) {
    PG_FOR(r, nrows) {
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC a = RR_INIT_A, b = 0;
        for (long c = 0; c < nchunks; ++c) pg_rr_merge(st[2 * (r * nchunks + c)], st[2 * (r * nchunks + c) + 1], &a, &b);
        ST_O(out, oo, pg_rr_final(a, b, p));
    }
}

/* fold the states (a, b) of a work-group in local memory; work-item 0 gets the result */
inline void pg_rr_wg_fold(__local ACC* sa, __local ACC* sb, ACC* a, ACC* b) {
    int lid = get_local_id(0);
    sa[lid] = *a; sb[lid] = *b;
    barrier(CLK_LOCAL_MEM_FENCE);
#define PG_RR_AT(i, j) ACC x = sa[i], y = sb[i]; pg_rr_merge(sa[j], sb[j], &x, &y); sa[i] = x; sb[i] = y
    PG_WG_TREE(lid, WG, PG_RR_AT)
#undef PG_RR_AT
    *a = sa[0]; *b = sb[0];
    barrier(CLK_LOCAL_MEM_FENCE);  /* sa / sb are rewritten by the next fold */
}

/* GPU shape: one work-group per (row, chunk); its work-items read neighbouring elements and fold their
 * states in local memory.  nchunks == 1: the result goes to out; else the state of chunk c of row r
 * goes to st[2 (r nchunks + c) + {0, 1}] and rr_fin_wg folds them (full reductions: enough groups). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void rr_wg(__global TO* out, __global ACC* st, __global const TI* x, const Layout L, const long nrows,
           const long n, const long rs, const ACC p, const long nchunks) {
    __local ACC sa[WG], sb[WG];
    int lid = get_local_id(0);
    long per = (n + nchunks - 1) / nchunks;
    for (long g = get_group_id(0); g < nrows * nchunks; g += get_num_groups(0)) {
        long r = g / nchunks, c = g % nchunks;
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        long i1 = min(n, (c + 1) * per);
        ACC a = RR_INIT_A, b = 0;
        for (long i = c * per + lid; i < i1; i += WG) pg_rr_step(LD_I(x, ox + i * rs), &a, &b, p);
        pg_rr_wg_fold(sa, sb, &a, &b);
        if (lid == 0) {
            if (nchunks == 1) { ST_O(out, oo, pg_rr_final(a, b, p)); }
            else { st[2 * g] = a; st[2 * g + 1] = b; }
        }
    }
}

/* second pass of rr_wg: one work-group per row folds the row's nchunks states and stores the result */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void rr_fin_wg(__global TO* out, __global const ACC* st, const Layout L, const long nrows, const ACC p,
               const long nchunks) {
    __local ACC sa[WG], sb[WG];
    int lid = get_local_id(0);
    for (long r = get_group_id(0); r < nrows; r += get_num_groups(0)) {
        long oo, ox, u2, u3;
        pg_offsets(&L, r, &oo, &ox, &u2, &u3);
        ACC a = RR_INIT_A, b = 0;
        for (long c = lid; c < nchunks; c += WG) pg_rr_merge(st[2 * (r * nchunks + c)], st[2 * (r * nchunks + c) + 1], &a, &b);
        pg_rr_wg_fold(sa, sb, &a, &b);
        if (lid == 0) { ST_O(out, oo, pg_rr_final(a, b, p)); }
    }
}
#endif
