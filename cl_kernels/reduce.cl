/* reduce.cl: reductions over any set of dims, and arg-reductions.
 *
 * The host splits the input layout into Lk (the kept dims, shaped like the output) and Lr (the
 * reduced dims).  Task g reduces chunk (g % nchunks) of output element (g / nchunks):
 * with one chunk it writes the output; with several it writes a partial that a second launch
 * reduces (two passes keep all cores busy when few outputs each reduce many elements).
 *   TI / LD_I(p, i): input storage type and load (converted to ACC)
 *   TO / ST_O(p, i, v): output storage type and store;  ACC: accumulator type
 *   INIT: identity value;  COMBINE(acc, v): fold one value in
 */
#ifndef BETTER
__kernel void reduce_k(__global TO* out, __global const TI* in, const Layout Lk, const Layout Lr,
                       const long nout, const long nred, const long nchunks) {
    PG_FOR(g, nout * nchunks) {
        long j = g / nchunks, part = g % nchunks;
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = part * per, r1 = min(nred, r0 + per);
        ACC acc = INIT;
        if (r0 < r1) {
            /* offsets of the reduced elements: divisions for the first, then an odometer of adds */
            long x0, xo, x2, x3;
            pg_offsets(&Lr, r0, &x0, &xo, &x2, &x3);
            int last = Lr.nd - 1;
            long coord[PG_MAXD];
            for (long t = r0, d = last; d >= 0; --d) { coord[d] = t % Lr.shape[d]; t /= Lr.shape[d]; }
            for (long r = r0; r < r1; ++r) {
                ACC v = LD_I(in, base + xo);
                acc = COMBINE(acc, v);
                for (int d = last; d >= 0; --d) {
                    xo += Lr.strides[1][d];
                    if (++coord[d] < Lr.shape[d]) break;
                    coord[d] = 0;
                    xo -= Lr.shape[d] * Lr.strides[1][d];
                }
            }
        }
        if (nchunks == 1) { ST_O(out, o_out, acc); }
        else { ST_O(out, g, acc); }
    }
}

/* cumulative sum / product along one dim: one work-item per row, a sequential scan. */
__kernel void scan_k(__global TO* out, __global const TI* in, const Layout Lk, const long nout, const long nred,
                     const long in_stride, const long out_stride) {
    PG_FOR(j, nout) {
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        ACC acc = INIT;
        for (long r = 0; r < nred; ++r) {
            acc = COMBINE(acc, LD_I(in, base + r * in_stride));
            ST_O(out, o_out + r * out_stride, acc);
        }
    }
}

#else
/* argmax / argmin along one dim: first index of the extreme value (NaN counts as the extreme). */
__kernel void argreduce_k(__global long* out, __global const TI* in, const Layout Lk,
                          const long nout, const long nred, const long rstride) {
    PG_FOR(j, nout) {
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        ACC best = LD_I(in, base);
        long best_i = 0;
        for (long r = 1; r < nred; ++r) {
            ACC v = LD_I(in, base + r * rstride);
            if (BETTER(v, best)) { best = v; best_i = r; }
        }
        out[o_out] = best_i;
    }
}
#endif
