/* reduce.cl: reductions over any set of dims, and arg-reductions.
 *
 * The host splits the input layout into Lk (the kept dims, shaped like the output) and Lr (the
 * reduced dims).  Task g reduces chunk (g % nchunks) of output element (g / nchunks):
 * with one chunk it writes the output; with several it writes a partial that a second launch
 * reduces (two passes keep all cores busy when few outputs each reduce many elements).
 *   TI / LD_I(p, i): input storage type and load (converted to ACC)
 *   TO / ST_O(p, i, v): output storage type and store;  ACC: accumulator type
 *   INIT: identity value;  COMBINE(acc, v): fold one value in
 *
 * GPU-shaped kernels (*_wg_k, built without PG_CPU) use work-groups of WG work-items (a power of
 * two) that cooperate through local memory: the work-items of a group read neighbouring elements
 * (coalesced) and combine their partial results in a tree.  The CPU-shaped kernels stay as they are
 * (one work-item walks a chunk serially), and GPUs still use them where a work-group per output
 * would idle (rows of fewer than 32 elements).
 */
#ifndef WG
#define WG 256
#endif
/* independent accumulators of a contiguous run (CPU shape; one would wait on the add's latency) */
#ifndef PG_NACC
#define PG_NACC 32
#endif
#define PG_RBLK 2048
/* argreduce_k's contiguous rows: blocks of PG_ABLK, PG_ANACC accumulators */
#define PG_ABLK 512
#define PG_ANACC 32
/* outputs per task of argreduce_cols_k (CPU shape): 16 neighbouring ones, a 64-byte cache line of floats */
#define PG_COLS 16

/* the tasks of argreduce_cols_k: PG_COLS neighbouring outputs j0 .. j0 + m - 1 of outer row jo
 * (no outer rows of ni outputs, in the kernel's arguments) */
#define PG_COLS_FOR(jo, j0, m) \
    long pg_blocks_ = (ni + PG_COLS - 1) / PG_COLS; \
    PG_FOR(pg_t_, no * pg_blocks_) \
        for (long jo = pg_t_ / pg_blocks_, j0 = (pg_t_ % pg_blocks_) * PG_COLS, m = min((long)PG_COLS, ni - j0), \
             pg_once_ = 1; pg_once_; pg_once_ = 0)

/* storage offset of reduced element r relative to its row's base */
inline long pg_red_off(const Layout* L, long r) {
    if (L->nd == 1) return r * L->strides[1][0];
    long a, b, c, e;
    pg_offsets(L, r, &a, &b, &c, &e);
    return b;
}

#ifndef PG_CPU
/* GPU shape: the reduced elements r0 <= r < r1 that work-item lid of a work-group of WG takes, as storage
 * offsets `off` from the row's base.  Where the innermost reduced dim is a run of at least WG elements
 * (batch norm's H*W under (N, H*W) per channel), the group walks it run by run: one pg_red_off per run,
 * adjacent work-items on adjacent elements.  Otherwise every WG-th element, with a pg_red_off (a division
 * per reduced dim) each: a GPU spends more on those divisions than on reading the element. */
#define PG_RED_EACH(L, r0, r1, lid, off) \
    for (long pg_n_ = ((L)->nd > 1 && (L)->shape[(L)->nd - 1] >= WG) ? (L)->shape[(L)->nd - 1] : 1, \
              pg_s_ = (L)->strides[1][(L)->nd - 1], pg_r_ = (r0), pg_e_ = 0; pg_r_ < (r1); pg_r_ = pg_e_) \
        for (long pg_b_ = (pg_e_ = pg_n_ > 1 ? min((long)(r1), (pg_r_ / pg_n_ + 1) * pg_n_) : (r1), \
                           pg_n_ > 1 ? pg_red_off((L), pg_r_) : 0), pg_k_ = (lid); pg_k_ < pg_e_ - pg_r_; \
             pg_k_ += WG) \
            for (long off = pg_n_ > 1 ? pg_b_ + pg_k_ * pg_s_ : pg_red_off((L), pg_r_ + pg_k_), pg_once_ = 1; \
                 pg_once_; pg_once_ = 0)
#endif

#ifdef VAR
/* var / std (and the mean: var_mean, std_mean, and the mean that the backward reuses) over the reduced
 * dims.  Each task reduces a chunk [r0, r1) of one output's reduced elements in two passes (the mean,
 * then the sum of squared deviations: no cancellation, unlike sum(x^2) - n mean^2); with one chunk it
 * writes var = q / divisor (std = sqrt) and the mean, with several it writes the chunk's
 * (count, mean, M2) to part[3 (j * nchunks + c) ..] and var_merge_k folds them by Chan's formula.
 * ACC is double where the device has it; where not (VAR_SCALED, one chunk only) the deviations are
 * first scaled by their largest magnitude so that squares cannot overflow (std of +-1e30 is 1.41e30).
 *   CPU shape: a task per work-item, contiguous runs through PG_VN independent accumulators;
 *   GPU shape: a work-group per task, each pass folded in local memory. */
#define PG_VN 16
/* a deviation scaled (VAR_SCALED) or not: no division per element where ACC is double */
#ifdef VAR_SCALED
#define PG_VDEV(v, mean, scale) (((v) - (mean)) / (scale))
#else
#define PG_VDEV(v, mean, scale) ((v) - (mean))
#endif
inline ACC pg_dev_scale(ACC mx) { return (mx > 0 && isfinite(mx)) ? mx : (ACC)1; }

/* the result of one task: the output (one chunk) or the chunk's partial */
inline void pg_var_store(__global TO* out, __global TO* mean_out, __global ACC* part, long j, long o_out, long g,
                         long nchunks, ACC n, ACC mean, ACC q, ACC scale, ACC divisor, int root, int want_mean) {
    if (nchunks == 1) {
        q /= divisor;
        ST_O(out, o_out, root ? scale * sqrt(q) : scale * scale * q);
        if (want_mean) { ST_O(mean_out, o_out, mean); }
    } else {
        part[3 * g] = n; part[3 * g + 1] = mean; part[3 * g + 2] = q;
    }
}

#ifdef PG_CPU
/* sum of LD_I(p + off(r)) (dev = 0) or of squared (value - mean) / scale (dev = 1) over r0 <= r < r1 */
inline ACC pg_var_pass(__global const TI* p, const Layout* Lr, long r0, long r1, int dev, ACC mean, ACC scale) {
    ACC a[PG_VN];
    for (int q = 0; q < PG_VN; ++q) a[q] = 0;
    long r = r0;
    long run = Lr->shape[Lr->nd - 1];
    if (Lr->strides[1][Lr->nd - 1] == 1 && run >= PG_VN) {
        /* the innermost reduced dim is contiguous (x.var() of a row, or batch norm's (N, H*W) per channel):
         * run by run, one offset computed per run, the run through the PG_VN accumulators */
        while (r < r1) {
            long end = min(r1, (r / run + 1) * run), n = end - r, k = 0;
            __global const TI* q0 = p + pg_red_off(Lr, r);
            if (dev) {
                for (; k + PG_VN <= n; k += PG_VN)
                    for (int q = 0; q < PG_VN; ++q) { ACC c = PG_VDEV(LD_I(q0, k + q), mean, scale); a[q] += c * c; }
            } else {
                for (; k + PG_VN <= n; k += PG_VN)
                    for (int q = 0; q < PG_VN; ++q) a[q] += LD_I(q0, k + q);
            }
            #pragma clang loop vectorize(disable)
            for (; k < n; ++k) {
                ACC v = LD_I(q0, k);
                if (dev) { v = PG_VDEV(v, mean, scale); v *= v; }
                a[0] += v;
            }
            r = end;
        }
    }
    for (; r < r1; ++r) {
        ACC v = LD_I(p, pg_red_off(Lr, r));
        if (dev) { v = PG_VDEV(v, mean, scale); v *= v; }
        a[0] += v;
    }
    ACC s = 0;
    for (int q = 0; q < PG_VN; ++q) s += a[q];
    return s;
}

__kernel void var_k(__global TO* out, __global TO* mean_out, __global ACC* part, __global const TI* in,
                    const Layout Lk, const Layout Lr, const long nout, const long nred, const long nchunks,
                    const ACC divisor, const int root, const int want_mean) {
    PG_FOR(g, nout * nchunks) {
        long j = g / nchunks, c = g % nchunks;
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = min(nred, c * per), r1 = min(nred, r0 + per);
        ACC n = (ACC)(r1 - r0), scale = 1;
        ACC mean = r1 > r0 ? pg_var_pass(in + base, &Lr, r0, r1, 0, 0, 1) / n : 0;
#ifdef VAR_SCALED
        ACC mx = 0;
        for (long r = r0; r < r1; ++r) mx = fmax(mx, fabs(LD_I(in, base + pg_red_off(&Lr, r)) - mean));
        scale = pg_dev_scale(mx);
#endif
        ACC q = pg_var_pass(in + base, &Lr, r0, r1, 1, mean, scale);
        if (nred == 0) mean = NAN;  /* the mean of nothing (the partial's 0 keeps a merge finite) */
        pg_var_store(out, mean_out, part, j, o_out, g, nchunks, n, mean, q, scale, divisor, root, want_mean);
    }
}

/* var over a reduced dim slower than the innermost kept one (x.var(0)): as reduce_colblk_k, a task owns
 * PG_VCB neighbouring outputs and a chunk of rows, and reads 2 KB runs of each row twice (the sums,
 * then the squared deviations), PG_VCB accumulators each. Partials: part[3 ((jo ni + j) nchunks + c)]. */
#define PG_VCB 256
__kernel void var_cols_k(__global TO* out, __global TO* mean_out, __global ACC* part, __global const TI* in,
                         const long off, const long no, const long ni, const long kso, const long ksi,
                         const long nred, const long rs, const long nchunks, const ACC divisor, const int root,
                         const int want_mean) {
    long nblk = (ni + PG_VCB - 1) / PG_VCB;
    PG_FOR(t, no * nblk * nchunks) {
        long c = t % nchunks, jb = (t / nchunks) % nblk, jo = t / nchunks / nblk;
        long j0 = jb * PG_VCB, m = min((long)PG_VCB, ni - j0);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = min(nred, c * per), r1 = min(nred, r0 + per);
        ACC n = (ACC)(r1 - r0);
        ACC mean[PG_VCB], q[PG_VCB];
        for (int k = 0; k < PG_VCB; ++k) { mean[k] = 0; q[k] = 0; }
        __global const TI* p0 = in + off + jo * kso + j0 * ksi;
        if (m == PG_VCB && ksi == 1) {
            for (long r = r0; r < r1; ++r)
                for (int k = 0; k < PG_VCB; ++k) mean[k] += LD_I(p0 + r * rs, k);
            for (int k = 0; k < PG_VCB; ++k) mean[k] = r1 > r0 ? mean[k] / n : 0;
            for (long r = r0; r < r1; ++r)
                for (int k = 0; k < PG_VCB; ++k) { ACC d = LD_I(p0 + r * rs, k) - mean[k]; q[k] += d * d; }
        } else {
            for (long r = r0; r < r1; ++r)
                for (int k = 0; k < m; ++k) mean[k] += LD_I(p0 + r * rs, k * ksi);
            for (int k = 0; k < m; ++k) mean[k] = r1 > r0 ? mean[k] / n : 0;
            for (long r = r0; r < r1; ++r)
                for (int k = 0; k < m; ++k) { ACC d = LD_I(p0 + r * rs, k * ksi) - mean[k]; q[k] += d * d; }
        }
        for (int k = 0; k < m; ++k) {
            long j = jo * ni + j0 + k;  /* the outputs are a fresh contiguous (no, ni) */
            pg_var_store(out, mean_out, part, j, j, j * nchunks + c, nchunks, n, mean[k], q[k], 1, divisor, root,
                         want_mean);
        }
    }
}
#else
/* fold v over the work-group (sum, or max with MAX), every work-item gets the result */
inline ACC pg_wg_fold(__local ACC* sh, ACC v, int lid, int take_max) {
    sh[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
#define PG_VAR_AT(i, j) sh[i] = take_max ? fmax(sh[i], sh[j]) : sh[i] + sh[j]
    PG_WG_TREE(lid, WG, PG_VAR_AT)
#undef PG_VAR_AT
    ACC r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);  /* sh is rewritten by the next fold */
    return r;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void var_k(__global TO* out, __global TO* mean_out, __global ACC* part, __global const TI* in, const Layout Lk,
           const Layout Lr, const long nout, const long nred, const long nchunks, const ACC divisor,
           const int root, const int want_mean) {
    __local ACC sh[WG];
    int lid = get_local_id(0);
    for (long g = get_group_id(0); g < nout * nchunks; g += get_num_groups(0)) {
        long j = g / nchunks, c = g % nchunks;
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = min(nred, c * per), r1 = min(nred, r0 + per);
        ACC n = (ACC)(r1 - r0), s = 0;
        PG_RED_EACH(&Lr, r0, r1, lid, o) s += LD_I(in, base + o);
        s = pg_wg_fold(sh, s, lid, 0);
        ACC mean = r1 > r0 ? s / n : 0, scale = 1, q = 0;
#ifdef VAR_SCALED
        ACC mx = 0;
        PG_RED_EACH(&Lr, r0, r1, lid, o) mx = fmax(mx, fabs(LD_I(in, base + o) - mean));
        scale = pg_dev_scale(pg_wg_fold(sh, mx, lid, 1));
#endif
        PG_RED_EACH(&Lr, r0, r1, lid, o) {
            ACC d = PG_VDEV(LD_I(in, base + o), mean, scale);
            q += d * d;
        }
        q = pg_wg_fold(sh, q, lid, 0);
        if (nred == 0) mean = NAN;
        if (lid == 0) pg_var_store(out, mean_out, part, j, o_out, g, nchunks, n, mean, q, scale, divisor, root,
                                   want_mean);
    }
}
/* GPUs, var over a reduced dim slower than the innermost kept one (x.var(0)): as reduce_cols_wg_k, a
 * work-group of 32 x (WG / 32) items; the 32 along x own neighbouring output columns (coalesced rows),
 * the WG / 32 along y split the rows and fold each pass (sum, [largest deviation,] squared deviations)
 * in local memory.  The outputs are a fresh contiguous (no, ni).  A tall narrow input also cuts the rows
 * into nchunks chunks (group g along dim 1: outer index g / nchunks, chunk g % nchunks), whose
 * (count, mean, M2) go to part[3 ((jo ni + j) nchunks + c)] for var_merge_k, as var_cols_k's. */
#define PG_VCW 32
#define PG_VCH (WG / PG_VCW)
inline ACC pg_col_fold(__local ACC* sh, ACC v, int lx, int ly, int take_max) {
    sh[ly * PG_VCW + lx] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = PG_VCH / 2; h > 0; h >>= 1) {
        if (ly < h) {
            ACC a = sh[ly * PG_VCW + lx], b = sh[(ly + h) * PG_VCW + lx];
            sh[ly * PG_VCW + lx] = take_max ? fmax(a, b) : a + b;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    ACC r = sh[lx];
    barrier(CLK_LOCAL_MEM_FENCE);  /* sh is rewritten by the next fold */
    return r;
}

__kernel __attribute__((reqd_work_group_size(PG_VCW, PG_VCH, 1)))
void var_cols_wg_k(__global TO* out, __global TO* mean_out, __global ACC* part, __global const TI* in,
                   const long off, const long no, const long ni, const long kso, const long ksi, const long nred,
                   const long rs, const long nchunks, const ACC divisor, const int root, const int want_mean) {
    __local ACC sh[WG];
    int lx = get_local_id(0), ly = get_local_id(1);
    long j = get_global_id(0);
    long per = (nred + nchunks - 1) / nchunks;
    for (long g = get_group_id(1); g < no * nchunks; g += get_num_groups(1)) {
        long jo = g / nchunks, c = g - jo * nchunks;
        long r0 = min(nred, c * per), r1 = min(nred, r0 + per);
        long base = off + jo * kso + j * ksi;
        ACC n = (ACC)(r1 - r0), s = 0, scale = 1, q = 0;
        if (j < ni)
            for (long r = r0 + ly; r < r1; r += PG_VCH) s += LD_I(in, base + r * rs);
        s = pg_col_fold(sh, s, lx, ly, 0);
        ACC mean = r1 > r0 ? s / n : 0;
#ifdef VAR_SCALED
        ACC mx = 0;
        if (j < ni)
            for (long r = r0 + ly; r < r1; r += PG_VCH) mx = fmax(mx, fabs(LD_I(in, base + r * rs) - mean));
        scale = pg_dev_scale(pg_col_fold(sh, mx, lx, ly, 1));
#endif
        if (j < ni)
            for (long r = r0 + ly; r < r1; r += PG_VCH) {
                ACC d = PG_VDEV(LD_I(in, base + r * rs), mean, scale);
                q += d * d;
            }
        q = pg_col_fold(sh, q, lx, ly, 0);
        if (nred == 0) mean = NAN;  /* the mean of nothing */
        if (ly == 0 && j < ni)
            pg_var_store(out, mean_out, part, jo * ni + j, jo * ni + j, (jo * ni + j) * nchunks + c, nchunks, n,
                         mean, q, scale, divisor, root, want_mean);
    }
}
#endif

/* var_k's second pass: output j merges its chunks' (count, mean, M2) in order (Chan et al.):
 * n = na + nb, mean = ma + d nb / n, M2 = M2a + M2b + d^2 na nb / n with d = mb - ma. */
__kernel void var_merge_k(__global TO* out, __global TO* mean_out, __global const ACC* part, const long nout,
                          const long nchunks, const ACC divisor, const int root, const int want_mean) {
    PG_FOR(j, nout) {
        __global const ACC* p = part + 3 * j * nchunks;
        ACC n = p[0], mean = p[1], m2 = p[2];
        for (long c = 1; c < nchunks; ++c) {
            ACC nb = p[3 * c], d = p[3 * c + 1] - mean, tot = n + nb;
            if (nb == 0) continue;
            mean += d * (nb / tot);
            m2 += p[3 * c + 2] + d * d * (n * nb / tot);
            n = tot;
        }
        ACC q = m2 / divisor;
        ST_O(out, j, root ? sqrt(q) : q);
        if (want_mean) { ST_O(mean_out, j, mean); }
    }
}

#elif !defined(BETTER)
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
                /* a contiguous run of the innermost reduced dim: 8 independent accumulators, so the
                 * adds do not wait on each other (one accumulator is bound by the add's latency) */
                int li = max(last, 0);  /* (a 0-d reduction has no last dim: never index -1) */
                long run = last >= 0 && Lr.strides[1][li] == 1 ? min(Lr.shape[li] - coord[li], r1 - r) : 1;
                if (run >= 32) {
                    /* in blocks of PG_RBLK, each folded into acc: a float sum of 4M elements then adds
                     * ~2K terms per accumulator, not 512K (whose rounding error reached 1e-4) */
                    for (long b0 = 0; b0 < run; b0 += PG_RBLK) {
                        long e = min(run - b0, (long)PG_RBLK), i = 0;
                        __global const TI* pb = in + base + xo + b0;
                        ACC a[PG_NACC];
                        for (int q = 0; q < PG_NACC; ++q) a[q] = INIT;
                        for (; i + PG_NACC <= e; i += PG_NACC)
                            for (int q = 0; q < PG_NACC; ++q) { ACC v = LD_I(pb, i + q); a[q] = COMBINE(a[q], v); }
                        for (; i < e; ++i) { ACC v = LD_I(pb, i); a[0] = COMBINE(a[0], v); }
                        for (int q = 0; q < PG_NACC; ++q) acc = COMBINE(acc, a[q]);
                    }
                    r += run - 1; xo += run - 1; coord[li] += run - 1;  /* the step below moves past the run */
                } else {
                    ACC v = LD_I(in, base + xo);
                    acc = COMBINE(acc, v);
                }
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

#ifdef PG_CPU
/* CPU shape, reduced dim slower than the innermost kept one (x.sum(0) of a row-major matrix): a task
 * owns a block of PG_CB neighbouring outputs (2 KB of floats) and a chunk of the reduced dim, and adds
 * each input row's block into PG_CB private accumulators (vectorised, in registers and L1).  Each
 * task reads 1 KB contiguous runs, not the 64-byte runs of an earlier kernel's 16 outputs: the 16 KB row
 * stride then cost a TLB miss and a restarted prefetch stream per 64 bytes (1.9 ms vs NumPy's 0.6 ms
 * for sum(0) of 1024x4096).  Tasks: no x nblk x nchunks (chunk fastest); with nchunks > 1 the task
 * writes its partials to out[part * no * ni + jo * ni + j], a (nchunks, no * ni) matrix that a second
 * launch reduces over its rows.  The loops that run once per task (stores) or over at most 3 rows (the
 * rows left after the 4-row steps) are not vectorised: first-launch compile on PoCL 0.10-0.12 -> 0.08 s
 * CPU, and the vectorised 4-row loop that does the work is unchanged. */
#define PG_CB 512
__kernel void reduce_colblk_k(__global TO* out, __global const TI* in, const long off, const long no,
                              const long ni, const long kso, const long ksi, const long oso, const long osi,
                              const long nred, const long rs, const long nchunks) {
    long nblk = (ni + PG_CB - 1) / PG_CB;
    PG_FOR(t, no * nblk * nchunks) {
        long part = t % nchunks, jb = (t / nchunks) % nblk, jo = t / nchunks / nblk;
        long j0 = jb * PG_CB, m = min((long)PG_CB, ni - j0);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = part * per, r1 = min(nred, r0 + per);
        ACC acc[PG_CB];
        for (int q = 0; q < PG_CB; ++q) acc[q] = INIT;
        __global const TI* p0 = in + off + jo * kso + j0 * ksi;
        if (m == PG_CB && ksi == 1) {
            long r = r0;
            /* four rows per step: four streams in flight (one stream restarts its prefetch every page) */
            for (; r + 4 <= r1; r += 4) {
                __global const TI* p = p0 + r * rs;
                for (int q = 0; q < PG_CB; ++q) {
                    ACC v0 = LD_I(p, q), v1 = LD_I(p + rs, q), v2 = LD_I(p + 2 * rs, q), v3 = LD_I(p + 3 * rs, q);
                    acc[q] = COMBINE(COMBINE(COMBINE(COMBINE(acc[q], v0), v1), v2), v3);
                }
            }
            for (; r < r1; ++r) {
                __global const TI* p = p0 + r * rs;
                #pragma clang loop vectorize(disable)
                for (int q = 0; q < PG_CB; ++q) { ACC v = LD_I(p, q); acc[q] = COMBINE(acc[q], v); }
            }
        } else {
            for (long r = r0; r < r1; ++r) {
                __global const TI* p = p0 + r * rs;
                for (int q = 0; q < m; ++q) { ACC v = LD_I(p, q * ksi); acc[q] = COMBINE(acc[q], v); }
            }
        }
        if (nchunks == 1) {
            #pragma clang loop vectorize(disable)
            for (int q = 0; q < m; ++q) ST_O(out, jo * oso + (j0 + q) * osi, acc[q]);
        } else {
            #pragma clang loop vectorize(disable)
            for (int q = 0; q < m; ++q) ST_O(out, (part * no + jo) * ni + j0 + q, acc[q]);
        }
    }
}
#endif

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

#ifndef PG_CPU
/* GPUs: one work-group per (output, chunk) pair.  Its work-items stride through the chunk WG elements
 * apart (neighbouring items, neighbouring elements), then fold their WG partials in local memory.
 * With nchunks > 1 each group writes a partial to out[g] and a second launch folds the partials
 * (a full reduction of 16M elements in two passes keeps every compute unit busy). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void reduce_wg_k(__global TO* out, __global const TI* in, const Layout Lk, const Layout Lr,
                 const long nout, const long nred, const long nchunks) {
    __local ACC sh[WG];
    int lid = get_local_id(0);
    for (long g = get_group_id(0); g < nout * nchunks; g += get_num_groups(0)) {
        long j = g / nchunks, part = g % nchunks;
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = part * per, r1 = min(nred, r0 + per);
        ACC acc = INIT;
        PG_RED_EACH(&Lr, r0, r1, lid, o) acc = COMBINE(acc, LD_I(in, base + o));
        sh[lid] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
#define PG_RED_AT(i, j) ACC w = sh[j]; sh[i] = COMBINE(sh[i], w)
        PG_WG_TREE(lid, WG, PG_RED_AT)
#undef PG_RED_AT
        if (lid == 0) {
            if (nchunks == 1) { ST_O(out, o_out, sh[0]); }
            else { ST_O(out, g, sh[0]); }
        }
        barrier(CLK_LOCAL_MEM_FENCE);  /* sh is rewritten for the next g */
    }
}

/* GPUs, reduced dim slower than the innermost kept one (x.sum(0)): a work-group of 32 x (WG / 32)
 * items; the 32 along x own neighbouring output columns (coalesced rows), the WG / 32 along y split the
 * reduced dim between them and fold their partials in local memory.  Where that makes too few groups
 * for the device (a tall narrow input: BatchNorm's statistics, a bias gradient) the reduced dim is also
 * cut into nchunks chunks: group g along dim 1 takes outer index g / nchunks and chunk g % nchunks, and
 * writes its partial at c * cso (a second launch folds the chunks).  Global size
 * (ceil(ni / 32) * 32, (WG / 32) * min(no * nchunks, 65535)). */
#define PG_CW 32
#define PG_CH (WG / PG_CW)
__kernel __attribute__((reqd_work_group_size(PG_CW, PG_CH, 1)))
void reduce_cols_wg_k(__global TO* out, __global const TI* in, const long off, const long no, const long ni,
                      const long kso, const long ksi, const long oso, const long osi, const long nred,
                      const long rs, const long nchunks, const long cso) {
    __local ACC sh[WG];
    int lx = get_local_id(0), ly = get_local_id(1);
    long j = get_global_id(0);
    long per = (nred + nchunks - 1) / nchunks;
    /* (outer kept index, chunk): one per group along dim 1, looping past the 65535 groups a GPU grid allows */
    for (long g = get_group_id(1); g < no * nchunks; g += get_num_groups(1)) {
        long jo = g / nchunks, c = g - jo * nchunks;
        long r1 = min(nred, (c + 1) * per);
        ACC acc = INIT;
        if (j < ni) {
            long base = off + jo * kso + j * ksi;
            for (long r = c * per + ly; r < r1; r += PG_CH) acc = COMBINE(acc, LD_I(in, base + r * rs));
        }
        sh[ly * PG_CW + lx] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
#define PG_COL_AT(i, j) ACC w = sh[(j) * PG_CW + lx]; sh[(i) * PG_CW + lx] = COMBINE(sh[(i) * PG_CW + lx], w)
        PG_WG_TREE(ly, PG_CH, PG_COL_AT)
#undef PG_COL_AT
        if (ly == 0 && j < ni) { ST_O(out, c * cso + jo * oso + j * osi, sh[lx]); }
        barrier(CLK_LOCAL_MEM_FENCE);  /* sh is rewritten for the next g */
    }
}

/* GPUs: cumulative sum / product, one work-group per row, in tiles of WG elements: each tile is
 * scanned in local memory (Hillis-Steele, log2(WG) steps), then offset by the carry of the tiles
 * before it. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void scan_wg_k(__global TO* out, __global const TI* in, const Layout Lk, const long nout, const long nred,
               const long in_stride, const long out_stride) {
    __local ACC sh[WG];
    int lid = get_local_id(0);
    for (long j = get_group_id(0); j < nout; j += get_num_groups(0)) {
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        ACC carry = INIT;
        for (long t = 0; t < nred; t += WG) {
            long r = t + lid;
            sh[lid] = r < nred ? LD_I(in, base + r * in_stride) : INIT;
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int s = 1; s < WG; s <<= 1) {
                ACC before = lid >= s ? sh[lid - s] : INIT;
                barrier(CLK_LOCAL_MEM_FENCE);
                if (lid >= s) sh[lid] = COMBINE(before, sh[lid]);
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            if (r < nred) { ST_O(out, o_out + r * out_stride, COMBINE(carry, sh[lid])); }
            ACC total = sh[WG - 1];
            barrier(CLK_LOCAL_MEM_FENCE);  /* sh is rewritten by the next tile */
            carry = COMBINE(carry, total);
        }
    }
}
#endif

#else
/* argmax / argmin along one dim: first index of the extreme value (NaN counts as the extreme), and
 * that value itself into vals (max(dim) / min(dim) want both; ST_V stores nothing for argmax).
 * Few long rows are split into nchunks chunks: task g = j nchunks + c writes chunk c's best index and
 * value to out[g] / vals[g], and argmerge_k picks each row's winner (the first of equals). */
__kernel void argreduce_k(__global long* out, __global TV* vals, __global const TI* in, const Layout Lk,
                          const long nout, const long nred, const long rstride, const long nchunks) {
    PG_FOR(g, nout * nchunks) {
        long j = g / nchunks, part = g % nchunks;
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = min(nred - 1, part * per), r1 = min(nred, r0 + per);  /* (a chunk past the end: the last element) */
        ACC best = LD_I(in, base + r0 * rstride);
        long best_i = r0, r = r0 + 1;
#ifdef PG_CPU
        /* a contiguous row, in blocks of PG_ABLK: the block's extreme through PG_ANACC independent
         * accumulators (vectorised, no branch per element); only a block whose extreme beats the best so
         * far is searched again for the first index of that value (a NaN is the extreme of its block) */
        if (rstride == 1) {
            for (; r + PG_ABLK <= r1; r += PG_ABLK) {
                /* the plain comparison CMP (one max/min instruction, which passes over a NaN) and, aside,
                 * whether the block holds a NaN: only then is the block folded with BETTER instead */
                ACC a[PG_ANACC], z[PG_ANACC];
                for (int q = 0; q < PG_ANACC; ++q) { a[q] = LD_I(in, base + r + q); z[q] = 0; }
                for (int i = 0; i < PG_ABLK; i += PG_ANACC)
                    for (int q = 0; q < PG_ANACC; ++q) {
                        ACC v = LD_I(in, base + r + i + q);
                        a[q] = CMP(v, a[q]) ? v : a[q];
                        z[q] = PG_ISNAN(v) ? (ACC)1 : z[q];
                    }
                int has_nan = 0;
                for (int q = 0; q < PG_ANACC; ++q) has_nan |= z[q] != 0;
                if (has_nan)
                    for (int i = 0; i < PG_ABLK; i += PG_ANACC)
                        for (int q = 0; q < PG_ANACC; ++q) { ACC v = LD_I(in, base + r + i + q); a[q] = BETTER(v, a[q]) ? v : a[q]; }
                ACC m = a[0];
                for (int q = 1; q < PG_ANACC; ++q) m = BETTER(a[q], m) ? a[q] : m;
                if (BETTER(m, best)) {
                    long i = 0;
                    for (;; ++i) { ACC v = LD_I(in, base + r + i); if (v == m || (PG_ISNAN(v) && PG_ISNAN(m))) break; }
                    best = m;
                    best_i = r + i;
                }
            }
        }
#endif
        for (; r < r1; ++r) {
            ACC v = LD_I(in, base + r * rstride);
            if (BETTER(v, best)) { best = v; best_i = r; }
        }
        long o = nchunks == 1 ? o_out : g;
        out[o] = best_i;
        ST_V(vals, o, best);
    }
}

#ifdef LD_V
/* second pass of a chunked argreduce: output j takes the first best of its chunks' (index, value) */
__kernel void argmerge_k(__global long* out, __global TO* vals, __global const long* pidx, __global const TV* pvals,
                         const Layout Lk, const long nout, const long nchunks, const int with_values) {
    PG_FOR(j, nout) {
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        ACC best = LD_V(pvals, j * nchunks);
        long bi = pidx[j * nchunks];
        for (long c = 1; c < nchunks; ++c) {
            ACC v = LD_V(pvals, j * nchunks + c);
            if (BETTER(v, best)) { best = v; bi = pidx[j * nchunks + c]; }
        }
        out[o_out] = bi;
        if (with_values) { ST_O(vals, o_out, best); }
    }
}
#endif

#ifdef PG_CPU
/* CPU shape, argreduce_k for a reduced dim slower than the innermost kept one (x.argmax(0)): a task owns
 * 16 neighbouring outputs and walks the reduced dim once, reading 16 neighbouring inputs per step,
 * instead of a new cache line per element.  Kept dims: no (outer) x ni (inner) outputs with input
 * strides kso, ksi and output strides oso, osi; reduced dim: nred elements at input stride rs. */
__kernel void argreduce_cols_k(__global long* out, __global TV* vals, __global const TI* in, const long off,
                               const long no,
                               const long ni, const long kso, const long ksi, const long oso, const long osi,
                               const long nred, const long rs) {
    PG_COLS_FOR(jo, j0, m) {
        long first = off + jo * kso + j0 * ksi;
        ACC best[PG_COLS];
        long best_i[PG_COLS];
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
#else
/* fold the (value, index) pair in local slot b into slot a: the better value, between equals (or two NaNs)
 * the smaller index; index -1 is "none yet" (a work-item past the row's end) */
inline void pg_arg_fold(__local ACC* shv, __local long* shi, int a, int b) {
    ACC v = shv[b], w = shv[a];
    long vi = shi[b], wi = shi[a];
    if (vi >= 0 && (wi < 0 || BETTER(v, w) || (!BETTER(w, v) && vi < wi))) { shv[a] = v; shi[a] = vi; }
}

/* GPUs: argreduce_k with one work-group per output: each work-item keeps the best of its strided
 * share (first index on ties, as it walks forward), then the group folds (value, index) pairs in
 * local memory, preferring the better value and, between equals (or two NaNs), the smaller index. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void argreduce_wg_k(__global long* out, __global TV* vals, __global const TI* in, const Layout Lk,
                    const long nout, const long nred, const long rstride, const long nchunks) {
    __local ACC shv[WG];
    __local long shi[WG];
    int lid = get_local_id(0);
    for (long g = get_group_id(0); g < nout * nchunks; g += get_num_groups(0)) {
        long j = g / nchunks, part = g % nchunks;
        long o_out, base, u2, u3;
        pg_offsets(&Lk, j, &o_out, &base, &u2, &u3);
        long per = (nred + nchunks - 1) / nchunks;
        long r0 = min(nred - 1, part * per), r1 = min(nred, r0 + per);
        if (nchunks > 1) o_out = g;  /* a chunk's partial (argmerge_k picks the winner) */
        ACC best = 0;
        long bi = -1;  /* none yet (work-items past the row's end keep it) */
        for (long r = r0 + lid; r < r1; r += WG) {
            ACC v = LD_I(in, base + r * rstride);
            if (bi < 0 || BETTER(v, best)) { best = v; bi = r; }
        }
        shv[lid] = best;
        shi[lid] = bi;
        barrier(CLK_LOCAL_MEM_FENCE);
#define PG_ARG_AT(i, j) pg_arg_fold(shv, shi, i, j)
        PG_WG_TREE(lid, WG, PG_ARG_AT)
#undef PG_ARG_AT
        if (lid == 0) {
            out[o_out] = shi[0];
            ST_V(vals, o_out, shv[0]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* GPUs, argreduce over a reduced dim slower than the innermost kept one (x.argmax(0)): as
 * reduce_cols_wg_k, a work-group of 32 x (WG / 32) items, the 32 along x on neighbouring columns
 * (coalesced rows), the WG / 32 along y on every (WG / 32)-th row, folded as argreduce_wg_k's pairs
 * (the better value; between equals or two NaNs the smaller index).  Too few groups for the device (a
 * tall narrow input): the rows are also cut into nchunks chunks, each writing its best index and value
 * to pidx / pvals[(jo ni + j) nchunks + c] for argmerge_k. */
#define PG_ACW 32
#define PG_ACH (WG / PG_ACW)
__kernel __attribute__((reqd_work_group_size(PG_ACW, PG_ACH, 1)))
void argreduce_cols_wg_k(__global long* out, __global TV* vals, __global const TI* in, const long off,
                         const long no, const long ni, const long kso, const long ksi, const long oso,
                         const long osi, const long nred, const long rs, const long nchunks) {
    __local ACC shv[WG];
    __local long shi[WG];
    int lx = get_local_id(0), ly = get_local_id(1), lid = ly * PG_ACW + lx;
    long j = get_global_id(0);
    long per = (nred + nchunks - 1) / nchunks;
    for (long g = get_group_id(1); g < no * nchunks; g += get_num_groups(1)) {
        long jo = g / nchunks, c = g - jo * nchunks;
        long r0 = min(nred - 1, c * per), r1 = min(nred, r0 + per);  /* (a chunk past the end: the last row) */
        ACC best = 0;
        long bi = -1;  /* none yet */
        if (j < ni) {
            long base = off + jo * kso + j * ksi;
            for (long r = r0 + ly; r < r1; r += PG_ACH) {
                ACC v = LD_I(in, base + r * rs);
                if (bi < 0 || BETTER(v, best)) { best = v; bi = r; }
            }
        }
        shv[lid] = best;
        shi[lid] = bi;
        barrier(CLK_LOCAL_MEM_FENCE);
#define PG_ARGC_AT(a, b) pg_arg_fold(shv, shi, (a) * PG_ACW + lx, (b) * PG_ACW + lx)
        PG_WG_TREE(ly, PG_ACH, PG_ARGC_AT)
#undef PG_ARGC_AT
        if (ly == 0 && j < ni) {
            long o = nchunks > 1 ? (jo * ni + j) * nchunks + c : jo * oso + j * osi;
            out[o] = shi[lx];
            ST_V(vals, o, shv[lx]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);  /* shv / shi are rewritten for the next g */
    }
}
#endif
#endif
