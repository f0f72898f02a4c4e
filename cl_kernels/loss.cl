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

/* reduction 'sum' / 'mean': one work-group of NLL_GROUP items sums the rows' losses and weights, then
 * item 0 writes out[0] = sum (or sum / total weight) and wsum[0] = total weight (for the backward). */
__kernel void nll_reduce_k(__global TO* out, __global ACC* wsum, __global const TI* x, __global const TGT* target,
                           __global const TI* w, const long M, const long C, const long xoff, const long sx0,
                           const long sx1, const long toff, const long ts, const long ignore, const int has_w,
                           const int mean, __global long* bad, const int tag) {
    __local ACC ls[NLL_GROUP], lw[NLL_GROUP];
    int lid = get_local_id(0);
    ACC s = 0, sw = 0;
    for (long i = lid; i < M; i += NLL_GROUP) {
        long t;
        if (pg_nll_target(target, i, toff, ts, C, ignore, bad, tag, &t)) {
            ACC wt = has_w ? LD_I(w, t) : (ACC)1;
            s -= wt * LD_I(x, xoff + i * sx0 + t * sx1);
            sw += wt;
        }
    }
    ls[lid] = s;
    lw[lid] = sw;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = NLL_GROUP / 2; k > 0; k >>= 1) {
        if (lid < k) { ls[lid] += ls[lid + k]; lw[lid] += lw[lid + k]; }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        ST_O(out, 0, mean ? ls[0] / lw[0] : ls[0]);
        wsum[0] = lw[0];
    }
}

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
