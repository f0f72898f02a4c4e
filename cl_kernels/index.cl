/* index.cl: gather / scatter by storage offsets, index offsets, and im2col / col2im for convolution.
 *   T: an unsigned integer of the element's size: elements only move (gather, scatter, im2col);
 *   TF: the real element type where they are summed (col2im; fold_k exists only where TF is defined);
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

/* ---- conv2d as one op (backend conv2d / conv2d_backward): the batch chunk folded into the GEMM's N ----
 * The columns of a chunk of NC images are a (C*kh*kw, ld) matrix: row (c, i, j), column n*OH*OW + y*OW + x,
 * rows ld apart (ld >= NC*OH*OW, a multiple of 16 so the CPU GEMM reads it in place), the columns past
 * NC*OH*OW zero.  Forward: cols, one GEMM (Cout, C*kh*kw) @ cols, then conv_out_k writes the product as
 * (N, Cout, OH, OW) and adds the bias.  Backward: conv_gcols_k lays the output gradient out as
 * (Cout, ld) for the GEMMs of the weight's gradient (with cols) and the columns' gradient, which
 * conv_fold_k sums back into the image (one work-item per image row: no atomics). */
__kernel void conv_cols_k(__global T* out, __global const T* in, const long off, const long NC, const long C,
                          const long H, const long W, const int kh, const int kw, const int dh, const int dw,
                          const int ph, const int pw, const int sh, const int sw, const long OH, const long OW,
                          const long ld) {
    PG_FOR(r, C * kh * kw * NC * OH) {
        long y = r % OH, t = r / OH;
        long n = t % NC, row = t / NC;      /* row = (c * kh + i) * kw + j */
        int j = row % kw, i = (row / kw) % kh;
        long c = row / (kw * kh);
        __global T* o = out + row * ld + (n * OH + y) * OW;
        long h = y * sh - ph + (long)i * dh, w0 = (long)j * dw - pw;
        if (h < 0 || h >= H) {
            for (long x = 0; x < OW; ++x) o[x] = (T)0;
        } else {
            __global const T* src = in + off + ((n * C + c) * H + h) * W;
            for (long x = 0; x < OW; ++x) {
                long w = w0 + x * sw;
                o[x] = (w >= 0 && w < W) ? src[w] : (T)0;
            }
        }
        if (n == NC - 1 && y == OH - 1)      /* the row's padding columns */
            for (long x = NC * OH * OW; x < ld; ++x) out[row * ld + x] = (T)0;
    }
}

/* gcols[co, n*L + l] = g[n, co, l] (g contiguous from element goff), padding columns zero */
__kernel void conv_gcols_k(__global T* out, __global const T* g, const long goff, const long NC, const long CO,
                           const long L, const long ld) {
    PG_FOR(r, CO * NC) {
        long co = r / NC, n = r % NC;
        __global T* o = out + co * ld + n * L;
        __global const T* src = g + goff + (n * CO + co) * L;
        for (long l = 0; l < L; ++l) o[l] = src[l];
        if (n == NC - 1)
            for (long x = NC * L; x < ld; ++x) out[co * ld + x] = (T)0;
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
__kernel void conv_fold_k(__global TF* out, __global const TF* cols, const long ooff, const long NC, const long C,
                          const long H, const long W, const int kh, const int kw, const int dh, const int dw,
                          const int ph, const int pw, const int sh, const int sw, const long OH, const long OW,
                          const long ld) {
    PG_FOR(r, NC * C * H) {
        long h = r % H, t = r / H;          /* t = n * C + c */
        long n = t / C, c = t % C;
        __global TF* o = out + ooff + r * W;
        for (long w = 0; w < W; ++w) o[w] = 0;
        for (int i = 0; i < kh; ++i) {
            long yy = h + ph - (long)i * dh;
            if (yy < 0 || yy % sh) continue;
            long y = yy / sh;
            if (y >= OH) continue;
            for (int j = 0; j < kw; ++j) {
                __global const TF* src = cols + ((c * kh + i) * kw + j) * ld + (n * OH + y) * OW;
                long w0 = (long)j * dw - pw;
                long x0 = w0 < 0 ? (-w0 + sw - 1) / sw : 0;
                long x1 = w0 > W - 1 ? 0 : min(OW, (W - 1 - w0) / sw + 1);
                for (long x = x0; x < x1; ++x) o[w0 + x * sw] += src[x];
            }
        }
    }
}

/* ---- max_pool2d as one op: values and flat H*W indices; the backward gathers instead of scattering ----
 * PyTorch's CPU rule: padding never wins, a NaN always takes over, else the first strict maximum; a
 * window with no real maximum keeps its first in-bounds position.  One work-item per output row. */
__kernel void maxpool_fwd_k(__global TF* vals, __global long* idx, __global const TF* in, const long off,
                            const long NCH, const long H, const long W, const long OH, const long OW, const int kh,
                            const int kw, const int sh, const int sw, const int ph, const int pw, const int dh,
                            const int dw) {
    PG_FOR(r, NCH * OH) {
        long y = r % OH, t = r / OH;
        __global const TF* plane = in + off + t * H * W;
        long hs = y * sh - ph;
        int i0 = 0, i1 = kh;
        while (i0 < kh && hs + (long)i0 * dh < 0) ++i0;
        while (i1 > i0 && hs + (long)(i1 - 1) * dh >= H) --i1;
        for (long xo = 0; xo < OW; ++xo) {
            long ws = xo * sw - pw;
            int j0 = 0, j1 = kw;
            while (j0 < kw && ws + (long)j0 * dw < 0) ++j0;
            while (j1 > j0 && ws + (long)(j1 - 1) * dw >= W) --j1;
            long best = (hs + (long)i0 * dh) * W + ws + (long)j0 * dw;
            TF m = -INFINITY;
            for (int i = i0; i < i1; ++i) {
                long h = hs + (long)i * dh;
                for (int j = j0; j < j1; ++j) {
                    long w = ws + (long)j * dw;
                    TF v = plane[h * W + w];
                    if (v > m || isnan(v)) { m = v; best = h * W + w; }
                }
            }
            vals[r * OW + xo] = m;
            idx[r * OW + xo] = best;
        }
    }
}

/* the input gradient of maxpool_fwd_k: each input element (h, w) sums the output gradients of the
 * windows that cover it and picked it (their index is h*W + w); one work-item per input row */
__kernel void maxpool_bwd_k(__global TF* gx, __global const TF* g, __global const long* idx, const long goff,
                            const long ioff, const long NCH, const long H, const long W, const long OH, const long OW, const int kh,
                            const int kw, const int sh, const int sw, const int ph, const int pw, const int dh,
                            const int dw) {
    PG_FOR(r, NCH * H) {
        long h = r % H, t = r / H;
        __global TF* o = gx + r * W;
        for (long w = 0; w < W; ++w) o[w] = 0;
        for (int i = 0; i < kh; ++i) {
            long yy = h + ph - (long)i * dh;
            if (yy < 0 || yy % sh) continue;
            long y = yy / sh;
            if (y >= OH) continue;
            __global const long* irow = idx + ioff + (t * OH + y) * OW;
            __global const TF* grow = g + goff + (t * OH + y) * OW;
            for (int j = 0; j < kw; ++j) {
                long w0 = (long)j * dw - pw;
                long x0 = w0 < 0 ? (-w0 + sw - 1) / sw : 0;
                long x1 = w0 > W - 1 ? 0 : min(OW, (W - 1 - w0) / sw + 1);
                for (long x = x0; x < x1; ++x)
                    if (irow[x] == h * W + w0 + x * sw) o[w0 + x * sw] += grow[x];
            }
        }
    }
}
#endif
