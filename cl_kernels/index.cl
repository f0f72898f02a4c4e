/* index.cl: gather / scatter by storage offsets, index offsets, im2col / col2im for convolution, and the
 * kernels of the one-op conv2d / max_pool2d / avg_pool2d (runtime/opencl/conv_ops.py).
 *   T: an unsigned integer of the element's size: elements only move (gather, scatter, im2col);
 *   TF: the real element type where they are summed (col2im, conv epilogue, pooling: only where TF is defined);
 *   IDX: the index type of index_offsets_k.  One program defines all three, so the kernels of a step
 *   share one build.
 */
/* A negative offset marks an element whose index was out of range (index_offsets_k recorded it for the
 * host): gather writes 0 there and scatter skips it, so no kernel touches memory outside the tensor. */
__kernel void gather_k(__global T* out, __global const T* in, __global const long* offs, const long n) {
    PG_FOR(i, n) { long o = offs[i]; out[i] = o >= 0 ? in[o] : (T)0; }
}

__kernel void scatter_k(__global T* dst, __global const long* offs, __global const T* vals, const long n,
                        const long voff) {
    PG_FOR(i, n) { long o = offs[i]; if (o >= 0) dst[o] = vals[voff + i]; }
}

#ifdef IDX
/* Storage offsets of the elements an integer index tensor picks along one dim of x, for gather /
 * scatter (the index has x's shape) and for x[..., index, ...] (the index's dims replace that dim).
 * For element i of the result (layout L: operand 1 walks the index, operand 2 walks x with stride 0
 * along the indexed dim), offs[i] = x's offset at i's other coordinates + index * stride.  With
 * ``wrap`` (x[i]) a negative index counts from the end; gather/scatter take none.  A value out of
 * range gets offset -1 (gather/scatter skip it) and is recorded for the host (pg_report_bad): the
 * queue never waits for the check. */
__kernel void index_offsets_k(__global long* offs, __global const IDX* index, const Layout L, const long n,
                              const long size, const long stride, const int wrap, __global long* bad,
                              const int tag) {
    PG_FOR(i, n) {
        long o0, o1, o2, o3;
        pg_offsets(&L, i, &o0, &o1, &o2, &o3);
        long j = index[o1];
        long k = (wrap && j < 0) ? j + size : j;
        if (k < 0 || k >= size) { pg_report_bad(bad, tag, j); offs[o0] = -1; }
        else offs[o0] = o2 + k * stride;
    }
}
#endif

#ifdef RAW_BYTES
/* dst[offs[i]] += vals[i] with repeated offsets summed, for every dtype, by compare-and-swap:
 * read the word that holds the element, add, and write it back only if nobody changed it meanwhile
 * (else retry).  RAW is the element's bit pattern (uchar/ushort/uint/ulong); DECODE(bits) gives its
 * value as ACC and ENCODE(value) the bits to store.  1- and 2-byte elements swap the aligned 32-bit
 * word around them (buffers are allocated in multiples of 8 bytes, so that word exists). */
#if RAW_BYTES == 8
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
#endif
inline float pg_h2f(ushort b) { return vload_half(0, (__private half*)&b); }
inline ushort pg_f2h(float f) { ushort b; vstore_half(f, 0, (__private half*)&b); return b; }

__kernel void scatter_add_k(__global RAW* dst, __global const long* offs, __global const RAW* vals, const long n,
                            const long voff) {
    PG_FOR(i, n) {
        if (offs[i] < 0) continue;  /* a bad index, already recorded */
        ACC v = DECODE(vals[voff + i]);
#if RAW_BYTES == 8
        volatile __global ulong* p = (volatile __global ulong*)(dst + offs[i]);
        ulong o, nw;
        do { o = *p; nw = ENCODE(DECODE(o) + v); } while (atom_cmpxchg(p, o, nw) != o);
#elif RAW_BYTES == 4
        volatile __global uint* p = (volatile __global uint*)(dst + offs[i]);
        uint o, nw;
        do { o = *p; nw = ENCODE(DECODE(o) + v); } while (atomic_cmpxchg(p, o, nw) != o);
#else
        ulong byte = (ulong)offs[i] * RAW_BYTES;
        volatile __global uint* p = (volatile __global uint*)((__global uchar*)dst + (byte & ~3UL));
        uint shift = (uint)(byte & 3UL) * 8u;
        uint mask = (uint)((RAW)~(RAW)0) << shift;
        uint o, nw;
        do {
            o = *p;
            RAW cur = (RAW)((o & mask) >> shift);
            nw = (o & ~mask) | ((uint)(RAW)ENCODE(DECODE(cur) + v) << shift);
        } while (atomic_cmpxchg(p, o, nw) != o);
#endif
    }
}
#endif

/* im2col: out[n, c, i, j, y, x] = in[n, c, y*sh - ph + i*dh, x*sw - pw + j*dw] (or PAD outside);
 * the input is contiguous from element ``off`` of its buffer.  One work-item writes one output row
 * (all x): the divisions that find (n, c, i, j, y) are paid once per row, not once per element. */
__kernel void unfold_k(__global T* out, __global const T* in, const long off, const long N, const long C,
                       const long H, const long W, const int kh, const int kw, const int dh, const int dw,
                       const int ph, const int pw, const int sh, const int sw, const long OH, const long OW,
                       const T pad) {
    PG_FOR(r, N * C * kh * kw * OH) {
        long y = r % OH, t = r / OH;
        int j = t % kw; t /= kw;
        int i = t % kh; t /= kh;            /* t = n * C + c */
        long h = y * sh - ph + i * dh, w0 = (long)j * dw - pw;
#ifdef COLS_CN   /* columns laid out (C, kh, kw, N, OH, OW): one GEMM operand for the whole batch */
        __global T* o = out + ((((t % C) * kh + i) * kw + j) * N + t / C) * OH * OW + y * OW;
#else
        __global T* o = out + r * OW;
#endif
        if (h < 0 || h >= H) {
            for (long x = 0; x < OW; ++x) o[x] = pad;
            continue;
        }
        __global const T* src = in + off + (t * H + h) * W;
        for (long x = 0; x < OW; ++x) {
            long w = w0 + x * sw;
            o[x] = (w >= 0 && w < W) ? src[w] : pad;
        }
    }
}

/* col2im: out[n, c, h, w] sums every column entry that unfold_k copied from (h, w).  One work-item owns
 * one output row, so it can add into it without atomics: it zeroes the row, then for each window row
 * i that reads this image row (found once per i, not per pixel) and each window column j, walks the
 * columns x and adds cols[..., i, j, y, x] at w = x*sw - pw + j*dw.  No division per pixel. */
#ifdef TF
__kernel void fold_k(__global TF* out, __global const TF* cols, const long off, const long N, const long C,
                     const long H, const long W, const int kh, const int kw, const int dh, const int dw,
                     const int ph, const int pw, const int sh, const int sw, const long OH, const long OW) {
    PG_FOR(r, N * C * H) {
        long h = r % H, t = r / H;          /* t = n * C + c */
        __global TF* o = out + r * W;
        for (long w = 0; w < W; ++w) o[w] = 0;
        for (int i = 0; i < kh; ++i) {
            long yy = h + ph - (long)i * dh;          /* = y * sh for the window row y that reads h */
            if (yy < 0 || yy % sh) continue;
            long y = yy / sh;
            if (y >= OH) continue;
            for (int j = 0; j < kw; ++j) {
#ifdef COLS_CN
                __global const TF* src = cols + off + (((((t % C) * kh + i) * kw + j) * N + t / C) * OH + y) * OW;
#else
                __global const TF* src = cols + off + (((t * kh + i) * kw + j) * OH + y) * OW;
#endif
                long w0 = (long)j * dw - pw;
                long x0 = w0 < 0 ? (-w0 + sw - 1) / sw : 0;            /* first x with w >= 0 */
                long x1 = w0 > W - 1 ? 0 : min(OW, (W - 1 - w0) / sw + 1);  /* past the last x with w < W */
                for (long x = x0; x < x1; ++x) o[w0 + x * sw] += src[x];
            }
        }
    }
}
#endif

/* The window (output position) whose tap at offset ``tap`` (i * dh) reads input position ``pos`` along a dim
 * of padding ``pad`` and stride ``s``, or -1 where no window of the n_out does: the gather form of col2im
 * and of the pooling backward, shared by the kernels below. */
inline int pg_window_at(int pos, int pad, int tap, int s, int n_out) {
    int q = pos + pad - tap;
    if (q < 0 || q % s) return -1;
    q /= s;
    return q < n_out ? q : -1;
}

/* ---- conv2d as one op (backend conv2d / conv2d_backward): the batch chunk folded into the GEMM's N ----
 * The columns of a chunk of NC images are a (C*kh*kw [+ 1], ld) matrix: row (c, i, j), column
 * n*OH*OW + y*OW + x, rows ld apart (ld >= NC*OH*OW, a multiple of 16 so the CPU GEMM reads it in place),
 * the columns past NC*OH*OW zero; with ``ones`` one more row of ones (its product with the output
 * gradient is the bias gradient; ``one`` is 1.0 as bits).  Forward: cols, one GEMM (Cout, C*kh*kw) @ cols, then conv_out_k
 * writes the product as (N, Cout, OH, OW) and adds the bias.  Backward: conv_gcols_k lays the output
 * gradient out as (Cout, ld) and/or (ld, ct) for the GEMMs of the columns' gradient (folded back by
 * conv_fold_k: one work-item per image row, no atomics) and of the weight's (split over slices of the
 * positions, summed by a reduction).  Int arithmetic inside an image: long only for base offsets.
 * Loops over gathers (strided reads) are marked vectorize(disable): LLVM's vector versions gained nothing
 * warm on PoCL and cost a third of their first-launch compile (conv_cols_k 0.09 -> 0.07, conv_gcols_k
 * 0.09 -> 0.065, conv_fold_k 0.127 -> 0.094 s CPU; warm the same within noise). */
__kernel void conv_cols_k(__global T* out, __global const T* in, const long off, const long NC, const int C,
                          const int H, const int W, const int kh, const int kw, const int dh, const int dw,
                          const int ph, const int pw, const int sh, const int sw, const int OH, const int OW,
                          const long ld, const int ones, const T one) {
    const int K = C * kh * kw, L = OH * OW;
    PG_FOR(r, (K + ones) * NC) {          /* r = row * NC + n: one (row, image) plane of OH*OW columns */
        int row = (int)(r / NC);
        long n = r % NC;
        __global T* o = out + row * ld + n * L;
        if (row == K) {                   /* the ones row */
            for (int l = 0; l < L; ++l) o[l] = one;
        } else {
            int j = row % kw, i = (row / kw) % kh, c = row / (kw * kh);
            __global const T* src = in + off + (n * C + c) * H * W;
            int w0 = j * dw - pw;
            for (int y = 0; y < OH; ++y) {
                int h = y * sh - ph + i * dh;
                __global T* oy = o + y * OW;
                if (h < 0 || h >= H) {
                    for (int x = 0; x < OW; ++x) oy[x] = (T)0;
                } else if (sw == 1) {     /* stride 1: zeros left of the image, a contiguous copy, zeros right */
                    __global const T* sr = src + h * W + w0;
                    int xlo = clamp(-w0, 0, OW), xhi = clamp(W - w0, xlo, OW);
                    #pragma clang loop vectorize(disable)  /* (the padding: a few elements) */
                    for (int x = 0; x < xlo; ++x) oy[x] = (T)0;
                    for (int x = xlo; x < xhi; ++x) oy[x] = sr[x];  /* vectorised: LeNet's im2col 1.75 -> 0.73 ms */
                    #pragma clang loop vectorize(disable)
                    for (int x = xhi; x < OW; ++x) oy[x] = (T)0;
                } else {
                    __global const T* sr = src + h * W;
                    #pragma clang loop vectorize(disable)
                    for (int x = 0; x < OW; ++x) {
                        int w = w0 + x * sw;
                        oy[x] = (w >= 0 && w < W) ? sr[w] : (T)0;
                    }
                }
            }
        }
        if (n == NC - 1)                  /* the row's padding columns */
            for (long x = NC * L; x < ld; ++x) out[row * ld + x] = (T)0;
    }
}

/* the output gradient g (contiguous from element goff) as gcols[co, n*L + l] (rows ld apart) where
 * ``rows``, and as gt[n*L + l, co] (rows ct apart, columns past CO zero) where ``cols``; positions
 * past NC*L zero in both */
__kernel void conv_gcols_k(__global T* gc, __global T* gt, __global const T* g, const long goff, const long NC,
                           const int CO, const int L, const long ld, const int rows, const int cols, const int ct) {
    PG_FOR(p, NC * L) {                   /* p = n * L + l: one position */
        __global const T* src = g + goff + (p / L) * CO * L + p % L;
        if (rows)
            #pragma clang loop vectorize(disable)
            for (int co = 0; co < CO; ++co) gc[co * ld + p] = src[co * L];
        if (cols) {
            __global T* o = gt + p * ct;
            #pragma clang loop vectorize(disable)
            for (int co = 0; co < CO; ++co) o[co] = src[co * L];
            for (int co = CO; co < ct; ++co) o[co] = (T)0;
        }
        if (p == NC * L - 1) {            /* the padding positions */
            if (rows)
                for (int co = 0; co < CO; ++co)
                    for (long x = NC * L; x < ld; ++x) gc[co * ld + x] = (T)0;
            if (cols)
                for (long x = NC * L * ct; x < ld * ct; ++x) gt[x] = (T)0;
        }
    }
}

#ifdef TF
/* out[ooff + (n*CO + co)*L + l] = y[co, n*L + l] (+ bias[boff + co] where has_bias) */
__kernel void conv_out_k(__global TF* out, __global const TF* y, __global const TF* bias, const long ooff,
                         const long boff, const int has_bias, const long NC, const long CO, const long L,
                         const long ld) {
    PG_FOR(r, NC * CO) {
        long n = r / CO, co = r % CO;
        TF b = has_bias ? bias[boff + co] : (TF)0;
        __global TF* o = out + ooff + r * L;
        __global const TF* src = y + co * ld + n * L;
        for (long l = 0; l < L; ++l) o[l] = src[l] + b;
    }
}

/* col2im of conv_cols_k's layout: out[ooff + ((n*C + c)*H + h)*W + w] = the sum of the column entries
 * copied from (h, w); one work-item owns one image row (fold_k's scheme) */
__kernel void conv_fold_k(__global TF* out, __global const TF* cols, const long ooff, const long NC, const int C,
                          const int H, const int W, const int kh, const int kw, const int dh, const int dw,
                          const int ph, const int pw, const int sh, const int sw, const int OH, const int OW,
                          const long ld) {
    PG_FOR(r, NC * C * H) {
        int h = (int)(r % H);
        long t = r / H;                   /* t = n * C + c */
        long n = t / C;
        int c = (int)(t % C);
        __global TF* o = out + ooff + r * W;
        for (int w = 0; w < W; ++w) o[w] = 0;
        for (int i = 0; i < kh; ++i) {
            int y = pg_window_at(h, ph, i * dh, sh, OH);
            if (y < 0) continue;
            __global const TF* base = cols + ((c * kh + i) * kw) * ld + (n * OH + y) * OW;
            for (int j = 0; j < kw; ++j) {
                __global const TF* src = base + j * ld;
                int w0 = j * dw - pw;
                if (sw == 1) {
                    int x0 = max(0, -w0), x1 = min(OW, W - w0);
                    #pragma clang loop vectorize(disable)  /* compile 0.127 -> 0.094 s CPU, same warm */
                    for (int x = x0; x < x1; ++x) o[w0 + x] += src[x];
                } else {
                    int x0 = w0 < 0 ? (-w0 + sw - 1) / sw : 0;
                    int x1 = w0 > W - 1 ? 0 : min(OW, (W - 1 - w0) / sw + 1);
                    #pragma clang loop vectorize(disable)  /* compile 0.127 -> 0.094 s CPU, same warm */
                    for (int x = x0; x < x1; ++x) o[w0 + x * sw] += src[x];
                }
            }
        }
    }
}

/* ---- max_pool2d as one op: values and flat H*W indices; the backward gathers instead of scattering ----
 * PyTorch's CPU rule: padding never wins, a NaN always takes over, else the first strict maximum; a
 * window with no real maximum keeps its first in-bounds position.  One work-item per output row; int
 * arithmetic inside a plane and selects instead of branches (measured on PoCL: 3x faster than long
 * indices and an if).  ``interior``: every window lies inside the image (no padding, no ceil_mode
 * overhang), so the taps need no bounds; 2 x 2 windows are then unrolled (the common pool). */
#define MP_TAKE(p) { TF v_ = plane[p]; int tk_ = (v_ > m) | (v_ != v_); m = tk_ ? v_ : m; best = tk_ ? (p) : best; }
/* ``interior`` windows (maxpool_fwd_in_k) are a kernel of their own, not a branch of the general one
 * (PoCL compiles each kernel at its first launch: a step's pool compiles only its path), and its loop
 * over windows is not vectorised: LLVM's gather version gained nothing warm (291 vs 293 us, LeNet's
 * pool on PoCL) and cost half the first-launch compile (0.145 -> 0.088 s CPU). */
__kernel void maxpool_fwd_in_k(__global TF* vals, __global long* idx, __global const TF* in, const long off,
                               const long NCH, const int H, const int W, const int OH, const int OW, const int kh,
                               const int kw, const int sh, const int sw, const int dh, const int dw) {
    PG_FOR(r, NCH * OH) {
        int y = (int)(r % OH);
        __global const TF* plane = in + off + (r / OH) * H * W;
        __global TF* vo = vals + r * OW;
        __global long* io = idx + r * OW;
        int hs = y * sh;
        #pragma clang loop vectorize(disable)  /* see maxpool_fwd_in_k */
        for (int xo = 0; xo < OW; ++xo) {
            int p0 = hs * W + xo * sw, best = p0;
            TF m = -INFINITY;
            if (kh == 2 && kw == 2) {
                int q = p0 + dh * W;
                MP_TAKE(p0) MP_TAKE(p0 + dw) MP_TAKE(q) MP_TAKE(q + dw)
            } else {
                for (int i = 0; i < kh; ++i)
                    for (int j = 0; j < kw; ++j) MP_TAKE(p0 + i * dh * W + j * dw)
            }
            vo[xo] = m;
            io[xo] = best;
        }
    }
}

__kernel void maxpool_fwd_k(__global TF* vals, __global long* idx, __global const TF* in, const long off,
                            const long NCH, const int H, const int W, const int OH, const int OW, const int kh,
                            const int kw, const int sh, const int sw, const int ph, const int pw, const int dh,
                            const int dw) {
    PG_FOR(r, NCH * OH) {
        int y = (int)(r % OH);
        __global const TF* plane = in + off + (r / OH) * H * W;
        __global TF* vo = vals + r * OW;
        __global long* io = idx + r * OW;
        int hs = y * sh - ph;
        int i0 = 0, i1 = kh;
        while (i0 < kh && hs + i0 * dh < 0) ++i0;
        while (i1 > i0 && hs + (i1 - 1) * dh >= H) --i1;
        for (int xo = 0; xo < OW; ++xo) {
            int ws = xo * sw - pw;
            int j0 = 0, j1 = kw;
            while (j0 < kw && ws + j0 * dw < 0) ++j0;
            while (j1 > j0 && ws + (j1 - 1) * dw >= W) --j1;
            int best = (hs + i0 * dh) * W + ws + j0 * dw;
            TF m = -INFINITY;
            for (int i = i0; i < i1; ++i)
                for (int j = j0; j < j1; ++j) MP_TAKE((hs + i * dh) * W + ws + j * dw)
            vo[xo] = m;
            io[xo] = best;
        }
    }
}

/* the input gradient of maxpool_fwd_k: each input row gathers from the rows of windows that cover it:
 * for each such window row y (at most kh of them), every window whose saved index lies in this row adds
 * its gradient there.  The work-item owns the row, so no atomics and no separate zero-fill + scatter. */
__kernel void maxpool_bwd_k(__global TF* gx, __global const TF* g, __global const long* idx, const long goff,
                            const long ioff, const long NCH, const int H, const int W, const int OH, const int OW,
                            const int kh, const int kw, const int sh, const int sw, const int ph, const int pw,
                            const int dh, const int dw) {
    PG_FOR(r, NCH * H) {
        int h = (int)(r % H);
        long t = r / H, row0 = (long)h * W;
        __global TF* o = gx + r * W;
        for (int w = 0; w < W; ++w) o[w] = 0;
        for (int i = 0; i < kh; ++i) {
            int y = pg_window_at(h, ph, i * dh, sh, OH);
            if (y < 0) continue;
            __global const long* irow = idx + ioff + (t * OH + y) * OW;
            __global const TF* grow = g + goff + (t * OH + y) * OW;
            for (int x = 0; x < OW; ++x) {
                long p = irow[x] - row0;
                if (p >= 0 && p < W) o[p] += grow[x];
            }
        }
    }
}

/* windows side by side (stride = kernel, no padding, no dilation: conv_ops._tiling): one window per
 * element.  A kernel of its own (PoCL compiles a kernel at its first launch: a step compiles only this
 * short one), int positions inside a row, and the loop of other widths not vectorised: first-launch
 * compile 0.163 -> 0.122 s CPU, warm the same (LeNet's pool backward on PoCL ~180 us) */
__kernel void maxpool_bwd_tile_k(__global TF* gx, __global const TF* g, __global const long* idx, const long goff,
                                 const long ioff, const long NCH, const int H, const int W, const int OH,
                                 const int OW, const int kh, const int kw) {
    PG_FOR(r, NCH * H) {
        int h = (int)(r % H);
        long t = r / H;
        __global TF* o = gx + r * W;
        int y = h / kh;
        int w1 = y < OH ? OW * kw : 0;
        if (y < OH) {
            __global const long* irow = idx + ioff + (t * OH + y) * OW;
            __global const TF* grow = g + goff + (t * OH + y) * OW;
            int row0 = h * W;
            if (kw == 2) {
                for (int x = 0; x < OW; ++x) {
                    int p = (int)irow[x] - row0 - 2 * x;
                    TF v = grow[x];
                    o[2 * x] = p == 0 ? v : (TF)0;
                    o[2 * x + 1] = p == 1 ? v : (TF)0;
                }
            } else {
                #pragma clang loop vectorize(disable)
                for (int x = 0; x < OW; ++x) {
                    int p = (int)irow[x] - row0 - kw * x;
                    TF v = grow[x];
                    for (int j = 0; j < kw; ++j) o[kw * x + j] = p == j ? v : (TF)0;
                }
            }
        }
        for (int w = w1; w < W; ++w) o[w] = 0;
    }
}

/* ---- avg_pool2d as one op: window means, and a backward that gathers (one work-item per row) ----
 * PyTorch's divisor: ``divisor`` when > 0, else the window clipped to the padded input (``cip``:
 * count_include_pad) or to the input itself. */
inline int avg_divisor(int hs, int ws, int kh, int kw, int H, int W, int ph, int pw, int cip, int divisor) {
    int he = min(hs + kh, H + ph), we = min(ws + kw, W + pw);
    if (divisor > 0) return divisor;
    if (cip) return (he - hs) * (we - ws);
    return (min(he, H) - max(hs, 0)) * (min(we, W) - max(ws, 0));
}

__kernel void avgpool_fwd_k(__global TF* out, __global const TF* in, const long off, const long NCH, const int H,
                            const int W, const int OH, const int OW, const int kh, const int kw, const int sh,
                            const int sw, const int ph, const int pw, const int cip, const int divisor) {
    PG_FOR(r, NCH * OH) {
        int y = (int)(r % OH);
        __global const TF* plane = in + off + (r / OH) * H * W;
        __global TF* o = out + r * OW;
        int hs = y * sh - ph, i0 = max(0, -hs), i1 = min(kh, H - hs);
        for (int xo = 0; xo < OW; ++xo) {
            int ws = xo * sw - pw, j0 = max(0, -ws), j1 = min(kw, W - ws);
            TF acc = 0;
            for (int i = i0; i < i1; ++i)
                for (int j = j0; j < j1; ++j) acc += plane[(hs + i) * W + ws + j];
            o[xo] = acc / (TF)avg_divisor(hs, ws, kh, kw, H, W, ph, pw, cip, divisor);
        }
    }
}

__kernel void avgpool_bwd_k(__global TF* gx, __global const TF* g, const long goff, const long NCH, const int H,
                            const int W, const int OH, const int OW, const int kh, const int kw, const int sh,
                            const int sw, const int ph, const int pw, const int cip, const int divisor) {
    PG_FOR(r, NCH * H) {
        int h = (int)(r % H);
        long t = r / H;
        __global TF* o = gx + r * W;
        for (int w = 0; w < W; ++w) o[w] = 0;
        for (int i = 0; i < kh; ++i) {
            int y = pg_window_at(h, ph, i, sh, OH);
            if (y < 0) continue;
            __global const TF* grow = g + goff + (t * OH + y) * OW;
            for (int j = 0; j < kw; ++j) {
                int w0 = j - pw;
                int x0 = w0 < 0 ? (-w0 + sw - 1) / sw : 0;
                int x1 = w0 > W - 1 ? 0 : min(OW, (W - 1 - w0) / sw + 1);
                for (int x = x0; x < x1; ++x)
                    o[w0 + x * sw] += grow[x] / (TF)avg_divisor(y * sh - ph, x * sw - pw, kh, kw, H, W, ph, pw, cip,
                                                                divisor);
            }
        }
    }
}
#endif

/* ==== GPU-shaped variants of the conv / pool kernels above (runtime kernel shape "gpu") ====
 * One work-item per OUTPUT element on a 2-D range: dimension 0 walks the fastest-moving index (a column,
 * an image column, an output column), so neighbouring work-items touch neighbouring addresses (coalesced);
 * dimension 1 the rows.  Int arithmetic inside an image, long only for base offsets.  The results are the
 * CPU-shaped kernels' bit for bit: same taps, same NaN / tie rules, sums in the same order.  col2im and the
 * pooling backwards gather (each work-item owns its element: no atomics, no zero-fill pass). */

/* conv_cols_k's matrix, element (row, x): row < K a tap (c, i, j), row == K the ones row; x >= NC*L zero */
__kernel void conv_cols_g(__global T* out, __global const T* in, const long off, const long NC, const int C,
                          const int H, const int W, const int kh, const int kw, const int dh, const int dw,
                          const int ph, const int pw, const int sh, const int sw, const int OH, const int OW,
                          const long ld, const int ones, const T one) {
    const int x = get_global_id(0), row = get_global_id(1), K = C * kh * kw, L = OH * OW;
    if (x >= ld || row >= K + ones) return;
    T v = (T)0;
    if (x < NC * L) {
        if (row == K) {
            v = one;
        } else {
            int n = x / L, l = x - n * L, y = l / OW, xo = l - y * OW;
            int j = row % kw, i = (row / kw) % kh, c = row / (kw * kh);
            int h = y * sh - ph + i * dh, w = xo * sw - pw + j * dw;
            if (h >= 0 && h < H && w >= 0 && w < W) v = in[off + ((long)n * C + c) * H * W + h * W + w];
        }
    }
    out[(long)row * ld + x] = v;
}

/* conv_gcols_k's gc: gc[co, p] = g[n, co, l] for p = n*L + l < NC*L, zero up to ld */
__kernel void conv_gc_g(__global T* gc, __global const T* g, const long goff, const long NC, const int CO,
                        const int L, const long ld) {
    const int p = get_global_id(0), co = get_global_id(1);
    if (p >= ld || co >= CO) return;
    int n = p / L;
    gc[(long)co * ld + p] = p < NC * L ? g[goff + ((long)n * CO + co) * L + (p - n * L)] : (T)0;
}

/* conv_gcols_k's gt: gt[p, co] = g[n, co, l] for co < CO and p < NC*L, zero elsewhere (rows ct apart).  A
 * transpose: 16 x 16 tiles through local memory, read along p and written along co (both coalesced);
 * work-groups of 16 x 4, each work-item moving 4 elements; ct and ld are multiples of 16 (exact range). */
__kernel void conv_gt_g(__global T* gt, __global const T* g, const long goff, const long NC, const int CO,
                        const int L, const long ld, const int ct) {
    __local T tile[16][17];
    const int lx = get_local_id(0), ly = get_local_id(1);
    const int co0 = get_group_id(0) * 16, p0 = get_group_id(1) * 16, P = (int)(NC * L);
    for (int k = ly; k < 16; k += 4) {
        int co = co0 + k, p = p0 + lx, n = p / L;
        tile[k][lx] = (co < CO && p < P) ? g[goff + ((long)n * CO + co) * L + (p - n * L)] : (T)0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = ly; k < 16; k += 4)
        gt[(long)(p0 + k) * ct + co0 + lx] = tile[lx][k];
}

#ifdef TF
/* conv_out_k: out[ooff + (n*CO + co)*L + l] = y[co, n*L + l] (+ bias[boff + co]) */
__kernel void conv_out_g(__global TF* out, __global const TF* y, __global const TF* bias, const long ooff,
                         const long boff, const int has_bias, const long NC, const long CO, const long L,
                         const long ld) {
    const int l = get_global_id(0), r = get_global_id(1);
    if (l >= L || r >= NC * CO) return;
    int n = r / (int)CO, co = r - n * (int)CO;
    TF b = has_bias ? bias[boff + co] : (TF)0;
    out[ooff + (long)r * L + l] = y[(long)co * ld + (long)n * L + l] + b;
}

/* conv_fold_k as a gather per input element (w, (n*C + c)*H + h): the column entries of the (i, j) taps
 * whose window position lands on a valid output, summed in conv_fold_k's order (i, then j) */
__kernel void conv_fold_g(__global TF* out, __global const TF* cols, const long ooff, const long NC, const int C,
                          const int H, const int W, const int kh, const int kw, const int dh, const int dw,
                          const int ph, const int pw, const int sh, const int sw, const int OH, const int OW,
                          const long ld) {
    const int w = get_global_id(0), r = get_global_id(1);
    if (w >= W || r >= NC * C * H) return;
    int t = r / H, h = r - t * H, n = t / C, c = t - n * C;
    TF acc = 0;
    for (int i = 0; i < kh; ++i) {
        int y = pg_window_at(h, ph, i * dh, sh, OH);
        if (y < 0) continue;
        __global const TF* base = cols + (long)((c * kh + i) * kw) * ld + (long)(n * OH + y) * OW;
        for (int j = 0; j < kw; ++j) {
            int x = pg_window_at(w, pw, j * dw, sw, OW);
            if (x >= 0) acc += base[j * ld + x];
        }
    }
    out[ooff + (long)r * W + w] = acc;
}

/* maxpool_fwd_k per output element (xo, plane row r): MP_TAKE's rule (NaN takes over, else the first
 * strict maximum; the first in-bounds tap when nothing beats -inf) */
#define MPG_TAKE(p) { TF v_ = plane[p]; int tk_ = (v_ > m) | (v_ != v_); m = tk_ ? v_ : m; best = tk_ ? (p) : best; }
__kernel void maxpool_fwd_g(__global TF* vals, __global long* idx, __global const TF* in, const long off,
                            const long NCH, const int H, const int W, const int OH, const int OW, const int kh,
                            const int kw, const int sh, const int sw, const int ph, const int pw, const int dh,
                            const int dw, const int interior) {
    const int xo = get_global_id(0), r = get_global_id(1);
    if (xo >= OW || r >= NCH * OH) return;
    int t = r / OH, y = r - t * OH;
    __global const TF* plane = in + off + (long)t * H * W;
    int hs = y * sh - ph, ws = xo * sw - pw;
    int i0 = 0, i1 = kh, j0 = 0, j1 = kw;
    if (!interior) {
        while (i0 < kh && hs + i0 * dh < 0) ++i0;
        while (i1 > i0 && hs + (i1 - 1) * dh >= H) --i1;
        while (j0 < kw && ws + j0 * dw < 0) ++j0;
        while (j1 > j0 && ws + (j1 - 1) * dw >= W) --j1;
    }
    int best = (hs + i0 * dh) * W + ws + j0 * dw;
    TF m = -INFINITY;
    for (int i = i0; i < i1; ++i)
        for (int j = j0; j < j1; ++j) MPG_TAKE((hs + i * dh) * W + ws + j * dw)
    long o = (long)r * OW + xo;
    vals[o] = m;
    idx[o] = best;
}

/* maxpool_bwd_k per input element (w, plane row r): the gradients of the windows covering it whose saved
 * index is it, summed in maxpool_bwd_k's order (window rows by i, then window columns left to right) */
__kernel void maxpool_bwd_g(__global TF* gx, __global const TF* g, __global const long* idx, const long goff,
                            const long ioff, const long NCH, const int H, const int W, const int OH, const int OW,
                            const int kh, const int kw, const int sh, const int sw, const int ph, const int pw,
                            const int dh, const int dw, const int tiling) {
    const int w = get_global_id(0), r = get_global_id(1);
    if (w >= W || r >= NCH * H) return;
    int t = r / H, h = r - t * H;
    long me = (long)h * W + w;
    TF acc = 0;
    for (int i = 0; i < kh; ++i) {
        int y = pg_window_at(h, ph, i * dh, sh, OH);
        if (y < 0) continue;
        long rowo = ((long)t * OH + y) * OW;
        for (int j = kw - 1; j >= 0; --j) {      /* window columns x ascending */
            int x = pg_window_at(w, pw, j * dw, sw, OW);
            if (x >= 0 && idx[ioff + rowo + x] == me) acc += g[goff + rowo + x];
        }
    }
    gx[(long)r * W + w] = acc;
}

/* avgpool_fwd_k per output element (xo, plane row r), avg_divisor's divisor */
__kernel void avgpool_fwd_g(__global TF* out, __global const TF* in, const long off, const long NCH, const int H,
                            const int W, const int OH, const int OW, const int kh, const int kw, const int sh,
                            const int sw, const int ph, const int pw, const int cip, const int divisor) {
    const int xo = get_global_id(0), r = get_global_id(1);
    if (xo >= OW || r >= NCH * OH) return;
    int t = r / OH, y = r - t * OH;
    __global const TF* plane = in + off + (long)t * H * W;
    int hs = y * sh - ph, i0 = max(0, -hs), i1 = min(kh, H - hs);
    int ws = xo * sw - pw, j0 = max(0, -ws), j1 = min(kw, W - ws);
    TF acc = 0;
    for (int i = i0; i < i1; ++i)
        for (int j = j0; j < j1; ++j) acc += plane[(hs + i) * W + ws + j];
    out[(long)r * OW + xo] = acc / (TF)avg_divisor(hs, ws, kh, kw, H, W, ph, pw, cip, divisor);
}

/* avgpool_bwd_k per input element (w, plane row r), summed in its order (i, then j) */
__kernel void avgpool_bwd_g(__global TF* gx, __global const TF* g, const long goff, const long NCH, const int H,
                            const int W, const int OH, const int OW, const int kh, const int kw, const int sh,
                            const int sw, const int ph, const int pw, const int cip, const int divisor) {
    const int w = get_global_id(0), r = get_global_id(1);
    if (w >= W || r >= NCH * H) return;
    int t = r / H, h = r - t * H;
    TF acc = 0;
    for (int i = 0; i < kh; ++i) {
        int y = pg_window_at(h, ph, i, sh, OH);
        if (y < 0) continue;
        __global const TF* grow = g + goff + ((long)t * OH + y) * OW;
        for (int j = 0; j < kw; ++j) {
            int x = pg_window_at(w, pw, j, sw, OW);
            if (x >= 0)
                acc += grow[x] / (TF)avg_divisor(y * sh - ph, x * sw - pw, kh, kw, H, W, ph, pw, cip, divisor);
        }
    }
    gx[(long)r * W + w] = acc;
}
#endif
