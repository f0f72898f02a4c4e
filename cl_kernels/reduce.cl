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

/* The reduced dim is slower than the innermost kept one (x.sum(0) of a row-major matrix, or the
 * window dim of max-pooling's columns): reducing one output at a time would read a new cache line
 * per element.  Each task instead owns 16 neighbouring outputs and walks the reduced dim once,
 * reading 16 neighbouring inputs per step.  Kept dims: no (outer) x ni (inner) outputs with input
 * strides kso, ksi and output strides oso, osi; reduced dim: nred elements at input stride rs. */
__kernel void reduce_cols_k(__global TO* out, __global const TI* in, const long off, const long no, const long ni,
                            const long kso, const long ksi, const long oso, const long osi, const long nred,
                            const long rs) {
    long blocks = (ni + 15) / 16;
    PG_FOR(t, no * blocks) {
        long jo = t / blocks, j0 = (t % blocks) * 16, m = min(16L, ni - j0);
        ACC acc[16];
        for (int q = 0; q < 16; ++q) acc[q] = INIT;
        for (long r = 0; r < nred; ++r) {
            long base = off + jo * kso + r * rs + j0 * ksi;
            for (int q = 0; q < m; ++q) acc[q] = COMBINE(acc[q], LD_I(in, base + q * ksi));
        }
        for (int q = 0; q < m; ++q) ST_O(out, jo * oso + (j0 + q) * osi, acc[q]);
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
/* argmax / argmin along one dim: first index of the extreme value (NaN counts as the extreme), and
 * that value itself into vals (max(dim) / min(dim) want both; ST_V stores nothing for argmax). */
__kernel void argreduce_k(__global long* out, __global TV* vals, __global const TI* in, const Layout Lk,
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
        ST_V(vals, o_out, best);
    }
}

/* argreduce_k for a reduced dim slower than the innermost kept one: 16 neighbouring outputs per
 * task, as reduce_cols_k (the window dim of max-pooling's columns). */
__kernel void argreduce_cols_k(__global long* out, __global TV* vals, __global const TI* in, const long off,
                               const long no,
                               const long ni, const long kso, const long ksi, const long oso, const long osi,
                               const long nred, const long rs) {
    long blocks = (ni + 15) / 16;
    PG_FOR(t, no * blocks) {
        long jo = t / blocks, j0 = (t % blocks) * 16, m = min(16L, ni - j0);
        long first = off + jo * kso + j0 * ksi;
        ACC best[16];
        long best_i[16];
        for (int q = 0; q < m; ++q) { best[q] = LD_I(in, first + q * ksi); best_i[q] = 0; }
        for (long r = 1; r < nred; ++r) {
            long base = first + r * rs;
            for (int q = 0; q < m; ++q) {
                ACC v = LD_I(in, base + q * ksi);
                if (BETTER(v, best[q])) { best[q] = v; best_i[q] = r; }
            }
        }
        for (int q = 0; q < m; ++q) {
            out[jo * oso + (j0 + q) * osi] = best_i[q];
            ST_V(vals, jo * oso + (j0 + q) * osi, best[q]);
        }
    }
}
#endif
