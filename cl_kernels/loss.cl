/* loss.cl: nll_loss forward and backward, each one kernel (cross_entropy = log_softmax + these).
 *   TI / LD_I: storage type and load of the log-probabilities x (M, C) and of the class weights;
 *   TO / ST_O: the output's; ACC: the type sums are kept in; TGT: the target's type (long or uchar).
 * Row i's target t = target[toff + i*ts] is ignored when it equals ``ignore``; a target outside
 * [0, C) is recorded for the host (pg_report_bad, raised at the next sync) and counts as ignored.
 */
#define NLL_GROUP 64

inline int pg_nll_target(__global const TGT* target, long i, long toff, long ts, long C, long ignore,
                         __global long* bad, int tag, long* t) {
    long v = (long)target[toff + i * ts];
    if (v == ignore) return 0;
    if (v < 0 || v >= C) { pg_report_bad(bad, tag, v); return 0; }
    *t = v;
    return 1;
}

/* reduction 'none': out[i] = -w[t] * x[i, t] (0 for ignored rows). */
__kernel void nll_none_k(__global TO* out, __global const TI* x, __global const TGT* target, __global const TI* w,
                         const long M, const long C, const long xoff, const long sx0, const long sx1,
                         const long toff, const long ts, const long ignore, const int has_w,
                         __global long* bad, const int tag) {
    PG_FOR(i, M) {
        long t;
        ACC v = 0;
        if (pg_nll_target(target, i, toff, ts, C, ignore, bad, tag, &t))
            v = -(has_w ? LD_I(w, t) : (ACC)1) * LD_I(x, xoff + i * sx0 + t * sx1);
        ST_O(out, i, v);
    }
}

/* reduction 'sum' / 'mean': NLL_GROUP partial sums of the rows' losses and weights (partial k takes rows
 * k, k + NLL_GROUP, ...), folded as a tree; then out[0] = sum (or sum / total weight) and wsum[0] = total
 * weight (for the backward).  GPU shape: one work-group of NLL_GROUP items, one partial each, the tree in
 * local memory.  CPU shape: one work-item computes the same partials and tree in the same order (the same
 * result bit for bit) with no barriers, which PoCL compiles in about half the time (launched as (1,)). */
inline void pg_nll_partial(int k, __global const TI* x, __global const TGT* target, __global const TI* w,
                           long M, long C, long xoff, long sx0, long sx1, long toff, long ts, long ignore,
                           int has_w, __global long* bad, int tag, ACC* s_out, ACC* sw_out) {
    ACC s = 0, sw = 0;
    for (long i = k; i < M; i += NLL_GROUP) {
        long t;
        if (pg_nll_target(target, i, toff, ts, C, ignore, bad, tag, &t)) {
            ACC wt = has_w ? LD_I(w, t) : (ACC)1;
            s -= wt * LD_I(x, xoff + i * sx0 + t * sx1);
            sw += wt;
        }
    }
    *s_out = s;
    *sw_out = sw;
}

#define NLL_REDUCE_ARGS __global TO* out, __global ACC* wsum, __global const TI* x, __global const TGT* target, \
    __global const TI* w, const long M, const long C, const long xoff, const long sx0, const long sx1, \
    const long toff, const long ts, const long ignore, const int has_w, const int mean, __global long* bad, \
    const int tag
#define NLL_PARTIAL(k, s, sw) pg_nll_partial((k), x, target, w, M, C, xoff, sx0, sx1, toff, ts, ignore, has_w, \
    bad, tag, &(s), &(sw))

#ifdef PG_CPU
__kernel void nll_reduce_k(NLL_REDUCE_ARGS) {
    ACC ls[NLL_GROUP], lw[NLL_GROUP];
    for (int k = 0; k < NLL_GROUP; ++k) NLL_PARTIAL(k, ls[k], lw[k]);
    for (int h = NLL_GROUP / 2; h > 0; h >>= 1)
        for (int k = 0; k < h; ++k) { ls[k] += ls[k + h]; lw[k] += lw[k + h]; }
    ST_O(out, 0, mean ? ls[0] / lw[0] : ls[0]);
    wsum[0] = lw[0];
}
#else
__kernel void nll_reduce_k(NLL_REDUCE_ARGS) {
    __local ACC ls[NLL_GROUP], lw[NLL_GROUP];
    int lid = get_local_id(0);
    ACC s, sw;
    NLL_PARTIAL(lid, s, sw);
    ls[lid] = s;
    lw[lid] = sw;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = NLL_GROUP / 2; h > 0; h >>= 1) {
        if (lid < h) { ls[lid] += ls[lid + h]; lw[lid] += lw[lid + h]; }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        ST_O(out, 0, mean ? ls[0] / lw[0] : ls[0]);
        wsum[0] = lw[0];
    }
}
#endif

/* backward: gx[i, c] = -w[t] * g_i (/ total weight for 'mean') where c == t, else 0; gx is (M, C)
 * contiguous; g_i = g[goff + i * gs] (gs = 0 for a reduced loss). */
__kernel void nll_backward_k(__global TO* gx, __global const TI* g, __global const TGT* target,
                             __global const TI* w, __global const ACC* wsum, const long M, const long C,
                             const long goff, const long gs, const long toff, const long ts, const long ignore,
                             const int has_w, const int mean) {
    PG_FOR(e, M * C) {
        long i = e / C, c = e - i * C;
        long v = (long)target[toff + i * ts];
        ACC r = 0;
        if (v == c && v != ignore) {
            r = -(has_w ? LD_I(w, v) : (ACC)1) * LD_I(g, goff + i * gs);
            if (mean) r /= wsum[0];
        }
        ST_O(gx, e, r);
    }
}
