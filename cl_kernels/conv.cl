/* conv.cl: implicit-GEMM convolution for the GPU kernel shape (no materialised im2col matrix).
 *
 * Each kernel is gemm_tiled's scheme (gemm.cl): a 16 x 16 work-group computes a 64 x 64 tile of a
 * product C = A @ B, staging 64 x 16 tiles of A and 16 x 64 tiles of B in local memory, each work-item
 * keeping a 4 x 4 block of C in registers.  What differs is where the tiles come from: the im2col
 * index arithmetic happens inside the tile loads (out-of-image taps read as 0), and C is stored straight
 * into the (N, C, H, W) layout.  One work-group column z per group of a grouped convolution.
 *   conv_fwd  out[n, g*Kg+m, oy, ox] = sum_kk  w[g*Kg+m, kk] * x[n, g*Cg+c, oy*sh-ph+i*dh, ox*sw-pw+j*dw]
 *             (M = Kg, K = Cg*kh*kw with kk = (c, i, j), N = batch*OH*OW)
 *   conv_dw   dw[g*Kg+m, kk] = sum_(n,oy,ox) gout[n, g*Kg+m, oy, ox] * x[...same tap...]
 *             (M = Kg, K = batch*OH*OW, N = Cg*kh*kw)
 *   conv_dx   dx[n, g*Cg+c, y, xx] = sum_(m,i,j) w[g*Kg+m, c, i, j] * gout[n, g*Kg+m, oy, ox]
 *             where y = oy*sh - ph + i*dh (a transposed convolution: taps whose oy is not an integer in
 *             range read as 0; every element of dx is written once, so no col2im and no atomics)
 *             (M = Cg, K = Kg*kh*kw with kk = (m, i, j), N = batch*H*W)
 * (Built with CONV_DW_ONLY, the file is conv_dw_k alone: the CPU-shaped step's program, less to parse.)
 */
#ifndef CONV_DW_ONLY
#define CTS 64
#define CTK 16
#define CWPT 4

#define CONV_ARGS                                                                                    \
    __global const T* X, __global const T* Wt, __global const T* Gd, __global T* Out, const int NB,  \
    const int C, const int H, const int W, const int CO, const int KH, const int KW, const int SH,   \
    const int SW, const int PH, const int PW, const int DH, const int DW, const int OH, const int OW, \
    const int G, const long oX, const long oW, const long oG

#define CONV_OFFSETS X += oX; Wt += oW; Gd += oG;
/* x at (n, channel ch of all C, y, xx), or 0 outside the image */
inline ACC x_at(__global const T* X, int C, int H, int W, long n, int ch, int y, int xx) {
    return (y >= 0 && y < H && xx >= 0 && xx < W) ? (ACC)X[((n * C + ch) * H + y) * W + xx] : (ACC)0;
}

#define CONV_BODY(MM, NN, KK, A_AT, B_AT, C_STORE)                                                   \
    __local ACC As[CTK][CTS + 1];                                                                     \
    __local ACC Bs[CTK][CTS + 1];                                                                     \
    int tx = get_local_id(0), ty = get_local_id(1), tid = ty * 16 + tx;                               \
    long n0 = get_group_id(0) * CTS, m0 = get_group_id(1) * CTS;                                      \
    int g = get_global_id(2);                                                                         \
    ACC acc[CWPT][CWPT];                                                                              \
    for (int i_ = 0; i_ < CWPT; ++i_)                                                                 \
        for (int j_ = 0; j_ < CWPT; ++j_) acc[i_][j_] = 0;                                            \
    for (long k0 = 0; k0 < (KK); k0 += CTK) {                                                         \
        for (int l = 0; l < (CTS * CTK) / 256; ++l) {                                                 \
            int e = tid + l * 256;                                                                    \
            int am = e / CTK, ak = e % CTK;                                                           \
            long m = m0 + am, ka = k0 + ak;                                                           \
            As[ak][am] = (m < (MM) && ka < (KK)) ? A_AT(m, ka) : (ACC)0;                              \
            int bk = e / CTS, bn = e % CTS;                                                           \
            long nn = n0 + bn, kb = k0 + bk;                                                          \
            Bs[bk][bn] = (nn < (NN) && kb < (KK)) ? B_AT(kb, nn) : (ACC)0;                            \
        }                                                                                             \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                 \
        for (int k = 0; k < CTK; ++k) {                                                               \
            ACC a[CWPT], b[CWPT];                                                                     \
            for (int i_ = 0; i_ < CWPT; ++i_) { a[i_] = As[k][ty + 16 * i_]; b[i_] = Bs[k][tx + 16 * i_]; } \
            for (int i_ = 0; i_ < CWPT; ++i_)                                                         \
                for (int j_ = 0; j_ < CWPT; ++j_) acc[i_][j_] += a[i_] * b[j_];                       \
        }                                                                                             \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                 \
    }                                                                                                 \
    for (int i_ = 0; i_ < CWPT; ++i_)                                                                 \
        for (int j_ = 0; j_ < CWPT; ++j_) {                                                           \
            long m = m0 + ty + 16 * i_, nn = n0 + tx + 16 * j_;                                       \
            if (m < (MM) && nn < (NN)) C_STORE(m, nn, acc[i_][j_]);                                   \
        }

/* the im2col value at row kk = (c, i, j) of group g, column col = (n, oy, ox) */
inline ACC col_at(__global const T* X, int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW,
                  int DH, int DW, int OH, int OW, int Cg, int g, long kk, long col) {
    int khw = KH * KW, r = (int)(kk % khw), c = (int)(kk / khw);
    long L = (long)OH * OW, n = col / L;
    int l = (int)(col % L), oy = l / OW, ox = l % OW;
    return x_at(X, C, H, W, n, g * Cg + c, oy * SH - PH + (r / KW) * DH, ox * SW - PW + (r % KW) * DW);
}

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void conv_fwd(CONV_ARGS) {
    CONV_OFFSETS
    int Cg = C / G, Kg = CO / G;
    long CK = (long)Cg * KH * KW, L = (long)OH * OW;
#define FA(m, k) (ACC)Wt[(g * Kg + (m)) * CK + (k)]
#define FB(k, c) col_at(X, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, Cg, g, k, c)
#define FC(m, c, v) Out[((c) / L * CO + g * Kg + (m)) * L + (c) % L] = (T)(v)
    CONV_BODY(Kg, NB * L, CK, FA, FB, FC)
}

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void conv_dw(CONV_ARGS) {
    CONV_OFFSETS
    int Cg = C / G, Kg = CO / G;
    long CK = (long)Cg * KH * KW, L = (long)OH * OW;
#define WA(m, k) (ACC)Gd[((k) / L * CO + g * Kg + (m)) * L + (k) % L]
#define WB(k, c) col_at(X, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, Cg, g, c, k)
#define WC(m, c, v) Out[(g * Kg + (m)) * CK + (c)] = (T)(v)
    CONV_BODY(Kg, CK, NB * L, WA, WB, WC)
}

/* gout at (n, output channel g*Kg+m, oy, ox) for the input pixel (y, xx) and tap (i, j), or 0 */
inline ACC gout_tap(__global const T* Gd, int CO, int OH, int OW, int SH, int SW, int PH, int PW, int DH,
                    int DW, long n, int ch, int y, int xx, int i, int j) {
    int ty_ = y + PH - i * DH, tx_ = xx + PW - j * DW;
    if (ty_ < 0 || tx_ < 0 || ty_ % SH || tx_ % SW) return (ACC)0;
    int oy = ty_ / SH, ox = tx_ / SW;
    return (oy < OH && ox < OW) ? (ACC)Gd[((n * CO + ch) * OH + oy) * OW + ox] : (ACC)0;
}

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void conv_dx(CONV_ARGS) {
    CONV_OFFSETS
    int Cg = C / G, Kg = CO / G, khw = KH * KW;
    long HW = (long)H * W;
#define XA(c, k) (ACC)Wt[((g * Kg + (k) / khw) * Cg + (c)) * khw + (k) % khw]
#define XB(k, p) gout_tap(Gd, CO, OH, OW, SH, SW, PH, PW, DH, DW, (p) / HW, g * Kg + (int)((k) / khw),   \
                          (int)((p) % HW / W), (int)((p) % W), (int)((k) % khw / KW), (int)((k) % KW))
#define XC(c, p, v) Out[((p) / HW * C + g * Cg + (c)) * HW + (p) % HW] = (T)(v)
    CONV_BODY(Cg, NB * HW, (long)Kg * khw, XA, XB, XC)
}
#endif /* CONV_DW_ONLY */

/* ------------------------------------------------------------------------------------------------------
 * conv_dw_k: the weight gradient of the one-op convolution (conv_ops.py) for the CPU kernel shape, where
 * the outputs are narrow (Cout <= 32: a GEMM block of 6 x 64 would mostly compute padding).
 *   part[s, o, k] = sum over positions p of slice s of  g[o, p] * cols[k, p]
 * g: the (CO, ld) gradient columns of conv_gcols_k, cols: the (K1, ld) im2col columns (K1 = C*kh*kw, + 1
 * row of ones for the bias), both contiguous along p; slice s covers positions [s*ks, min(s*ks+ks, P)).
 * One work-item per (slice, block of DW_OB outputs x DW_KB columns): DW_OB*DW_KB 16-wide accumulators
 * along p (vload16), summed horizontally at the end; a block's rows past CO / K1 read the last row and
 * are not stored.  Positions past P (the padding up to ld) are never read.  The slices are summed after
 * by a reduction.  Independent of the implicit-GEMM kernels above (uses only T of this file's defines). */
#define DW_OB 4
#define DW_KB 6
#define PG_CAT_(a, b) a##b
#define PG_CAT(a, b) PG_CAT_(a, b)
#define TV16 PG_CAT(T, 16)


__kernel void conv_dw_k(__global T* part, __global const T* g, __global const T* cols, const long goff,
                        const int CO, const int K1, const long ld, const long P, const long ks, const int nob,
                        const int nkb) {
    const long id = get_global_id(0);
    const int kb = (int)(id % nkb), ob = (int)((id / nkb) % nob);
    const long s = id / ((long)nkb * nob);
    const int o0 = ob * DW_OB, k0 = kb * DW_KB;
    const long p0 = s * ks, p1 = min(p0 + ks, P);
    __global const T* gr[DW_OB];
    __global const T* cr[DW_KB];
#pragma unroll
    for (int i = 0; i < DW_OB; ++i) gr[i] = g + goff + (long)min(o0 + i, CO - 1) * ld;
#pragma unroll
    for (int j = 0; j < DW_KB; ++j) cr[j] = cols + (long)min(k0 + j, K1 - 1) * ld;
    TV16 acc[DW_OB][DW_KB];
#pragma unroll
    for (int i = 0; i < DW_OB; ++i)
#pragma unroll
        for (int j = 0; j < DW_KB; ++j) acc[i][j] = (TV16)0;
    long p = p0;
    for (; p + 16 <= p1; p += 16) {
        TV16 a[DW_OB];
#pragma unroll
        for (int i = 0; i < DW_OB; ++i) a[i] = vload16(0, gr[i] + p);
#pragma unroll
        for (int j = 0; j < DW_KB; ++j) {
            TV16 b = vload16(0, cr[j] + p);
#pragma unroll
            for (int i = 0; i < DW_OB; ++i) acc[i][j] = fma(a[i], b, acc[i][j]);
        }
    }
    T tail[DW_OB][DW_KB];  /* the < 16 positions left: not unrolled (a much cheaper first-launch compile) */
    for (int i = 0; i < DW_OB; ++i)
        for (int j = 0; j < DW_KB; ++j) {
            T t = (T)0;
            for (long q = p; q < p1; ++q) t = fma(gr[i][q], cr[j][q], t);
            tail[i][j] = t;
        }
#pragma unroll
    for (int i = 0; i < DW_OB; ++i)
#pragma unroll
        for (int j = 0; j < DW_KB; ++j)
            if (o0 + i < CO && k0 + j < K1)
                part[(s * CO + o0 + i) * K1 + k0 + j] = pg_hsum16(acc[i][j]) + tail[i][j];
}
