/* gemm.cl: batched C = A @ B with arbitrary strides (transposes are strides, never copies).
 *
 * The kernels, chosen per device by pygrad/runtime/opencl/backend_ops.matmul:
 *   gemm_naive  one work-item per element of C: the textbook triple loop, any dtype (the baseline);
 *   gemm_cpu    for CPU devices (PoCL): A and B are packed into panels (pack_a, pack_b) unless the
 *               host reads them in place (small operands), then each work-item computes RM x NR
 *               blocks of C in float16 vector registers, K in L1-sized blocks; no local memory (a
 *               CPU's caches do that job); small and narrow products go to gemm_dot_k / gemm_row_k
 *               (one launch, operands in place; below);
 *   gemm_tiled  for GPUs: a work-group stages tiles of A and B in local memory and each work-item
 *               keeps a 4 x 4 block of C in registers (64 x 64 tiles per work-group); gemm_big, 128 x 128
 *               tiles with 8 x 8 per work-item, for large products (below).
 * Batch: up to two batch dims (b0, b1), each operand with its own batch strides (0 = broadcast).
 */
#define BATCH_OFFSETS                                                   \
    long bz = get_global_id(2), b0 = bz / nb1, b1 = bz % nb1;          \
    A += offA + b0 * ab0 + b1 * ab1;                                   \
    B += offB + b0 * bb0 + b1 * bb1;                                   \
    C += offC + b0 * cb0 + b1 * cb1;

#define GEMM_ARGS                                                                          \
    __global const T* A, __global const T* B, __global T* C, const long M, const long N,   \
    const long K, const long sam, const long sak, const long sbk, const long sbn,          \
    const long scm, const long scn, const long ab0, const long ab1, const long bb0,        \
    const long bb1, const long cb0, const long cb1, const long nb1, const long offA,       \
    const long offB, const long offC

__kernel void gemm_naive(GEMM_ARGS) {
    BATCH_OFFSETS
    long n = get_global_id(0), m = get_global_id(1);
    if (m >= M || n >= N) return;
    ACC acc = 0;
    for (long k = 0; k < K; ++k)
        acc += (ACC)A[m * sam + k * sak] * (ACC)B[k * sbk + n * sbn];
    C[m * scm + n * scn] = (T)acc;
}

#ifdef CPU_GEMM
/* CPU path, step 1: pack operands into panels that the block kernel reads front to back.
 *   Ap[batch][m/RM][k][RM]  (RM rows of A side by side, zero-padded past M)
 *   Bp[batch][n/NR][k][NR]  (NR columns of B side by side, zero-padded past N)
 * Reading panels sequentially lets the hardware prefetcher stream them, instead of touching a new
 * page per k as a row-major B would. */
#define RM 6
#define NR 64
#define PK 64                               /* k rows per packing work-item */
/* a packed B panel's row stride: NR, or for N < NR (one narrow panel) N rounded up to 16 floats, so packing
 * a narrow B writes (and the block kernel streams) fewer floats; the block still loads NR floats per k,
 * the columns past the stride from the next k row (computed, never stored; the host allocates NR floats
 * of slack after the panel) */
#define PANEL_W(N) ((N) < NR ? ((N) + 15) / 16 * 16 : NR)
__kernel void pack_a(__global float* Ap, __global const float* A, const long M, const long K, const long sam,
                     const long sak, const long ab0, const long ab1, const long nb1, const long offA, const long nz) {
    long mt = (M + RM - 1) / RM, kch = (K + PK - 1) / PK;
    PG_FOR(i, nz * mt * kch) {              /* PK k rows of one panel (RM rows of one batch entry) */
        long p = i / kch, k0 = (i % kch) * PK, k1 = min(K, k0 + PK);
        long z = p / mt, m0 = (p % mt) * RM;
        __global const float* src = A + offA + (z / nb1) * ab0 + (z % nb1) * ab1 + m0 * sam;
        __global float* dst = Ap + p * K * RM;
        if (m0 + RM <= M) {                 /* a full panel: no bounds per element */
            for (long k = k0; k < k1; ++k)
                for (int r = 0; r < RM; ++r) dst[k * RM + r] = src[r * sam + k * sak];
        } else {
            for (long k = k0; k < k1; ++k)
                for (int r = 0; r < RM; ++r) dst[k * RM + r] = m0 + r < M ? src[r * sam + k * sak] : 0.0f;
        }
    }
}

__kernel void pack_b(__global float* Bp, __global const float* B, const long N, const long K, const long sbk,
                     const long sbn, const long bb0, const long bb1, const long nb1, const long offB, const long nz) {
    long nt = (N + NR - 1) / NR, kch = (K + PK - 1) / PK;
    long pw = PANEL_W(N);                   /* row stride of a panel: NR, or N rounded up to 16 if N < NR */
    PG_FOR(i, nz * nt * kch) {              /* PK k rows of one panel (NR columns of one batch entry) */
        long p = i / kch, k0 = (i % kch) * PK, k1 = min(K, k0 + PK);
        long z = p / nt, n0 = (p % nt) * NR;
        __global const float* src = B + offB + (z / nb1) * bb0 + (z % nb1) * bb1 + n0 * sbn;
        __global float* dst = Bp + p * K * pw;
        if (n0 + NR <= N && sbn == 1) {     /* full rows of contiguous columns: 16-wide copies */
            for (long k = k0; k < k1; ++k) {
                __global const float* s = src + k * sbk;
                __global float16* d = (__global float16*)(dst + k * NR);
                d[0] = vload16(0, s); d[1] = vload16(1, s); d[2] = vload16(2, s); d[3] = vload16(3, s);
            }
        } else if (sbk == 1) {              /* B transposed (columns contiguous along k): column by column,
                                             * contiguous reads; the PK x NR block being written stays in L1 */
            int nj = (int)min((long)NR, N - n0);
            for (int j = 0; j < nj; ++j) {
                __global const float* s = src + j * sbn;
                for (long k = k0; k < k1; ++k) dst[k * pw + j] = s[k];
            }
            for (long k = k0; k < k1; ++k)
                for (int j = nj; j < pw; ++j) dst[k * pw + j] = 0.0f;
        } else {
            for (long k = k0; k < k1; ++k)  /* row by row: contiguous writes, and reads too if B is */
                for (int j = 0; j < pw; ++j) dst[k * pw + j] = n0 + j < N ? src[k * sbk + j * sbn] : 0.0f;
        }
    }
}

/* CPU path, step 2: each work-item multiplies A panels by one B panel into RM x NR = 6 x 64 blocks of C
 * held in 24 float16 registers (AVX-512 has 32: per k four 16-wide loads of B, six broadcasts of A,
 * 24 multiply-adds; 10 loads per 24 FMAs, where 6 x 32 blocks needed 8 per 12 and ran ~15% slower
 * per core on a Xeon).  Written as `c += a * b` (built with -cl-mad-enable, so it becomes FMA
 * instructions) and with B read through a float16 pointer: PoCL compiles vload16() and vector
 * mad()/fma() to out-of-line calls, which spill the accumulators to memory on every iteration and
 * cost a factor of 3 to 6.
 * K runs in blocks of kc (0: one block): the kc x NR slice of the B panel stays in cache while the MB
 * row blocks of this work-item use it, and C's block is reloaded between K blocks.
 * One kernel serves every shape: whether A and B are read in place is an argument, not a define:
 *   direct_a  A's rows through its strides (rows past M repeat row M-1; their results are dropped),
 *             else a packed panel: the same walk with a row stride of 1 and a k stride of RM;
 *   direct_b  B's rows as float16 where the host checked that they are contiguous and 64-byte aligned
 *             and N >= NR: the last, partial block of columns is then shifted left to end at N (its
 *             columns left of the block's own start are computed but not stored), else a packed panel
 *             (row stride NR). */
/* split-K (ksplit > 0): launch index z is the K slice [z * ksplit, +ksplit) of one product, not a batch entry;
 * A and B are that product's (their batch strides are 0), C is slice z's partial (cb0 apart, added up by
 * gemm_sum_k) */
#define K_SLICE(z) long kbeg = ksplit > 0 ? (z) * ksplit : 0, kend = ksplit > 0 ? min(K, kbeg + ksplit) : K;
#define ACC_DECL(r) float16 c##r = 0, d##r = 0, e##r = 0, f##r = 0;
#define ACC_FMA(r, av) { float s_ = av; c##r += s_ * bv; d##r += s_ * bw; e##r += s_ * bx; f##r += s_ * by; }
#define ACC_TO(r, p) { vstore16(c##r, 0, p); vstore16(d##r, 1, p); vstore16(e##r, 2, p); vstore16(f##r, 3, p); }
#define ACC_FROM(r, p) { c##r = vload16(0, p); d##r = vload16(1, p); e##r = vload16(2, p); f##r = vload16(3, p); }
__kernel void gemm_cpu(__global const float* A, __global const float* B, __global float* C, const long M,
                       const long N, const long K, const long sam, const long sak, const long sbk,
                       const long scm, const long scn, const long ab0, const long ab1, const long bb0,
                       const long bb1, const long cb0, const long cb1, const long nb1, const long offA,
                       const long offB, const long offC, const long MB, const long kc_arg, const int direct_a,
                       const int direct_b, __global float* W, const long ksplit) {
    /* dimension 0 runs over the row groups: PoCL hands each thread a run of consecutive work-groups,
     * which then share one B panel (in L2) */
    long mg = get_global_id(0), nt = get_global_id(1), z = get_global_id(2);
    long n_tiles = (N + NR - 1) / NR, m_tiles = (M + RM - 1) / RM;
    if (nt >= n_tiles) return;
    long b0 = z / nb1, b1 = z % nb1;
    K_SLICE(z)
    long zp = ksplit > 0 ? 0 : z;               /* packed panels: one set for all slices */
    long n0 = nt * NR;
    long nb = direct_b ? min(n0, N - NR) : n0;  /* first column of the block computed */
    int jlo = (int)(n0 - nb);                   /* its first column stored */
    C += offC + b0 * cb0 + b1 * cb1;
    /* B's rows: read in place (direct_b), or a packed panel, whose rows are NR floats apart (64-byte aligned) */
    long bs = direct_b ? sbk : PANEL_W(N);
    __global const float* b = direct_b ? B + offB + b0 * bb0 + b1 * bb1 + nb : B + (zp * n_tiles + nt) * K * bs;
    /* A's rows: in place (row r at r * sam, k stride sak) or a packed panel (row r at r, k stride RM) */
    __global const float* abase = direct_a ? A + offA + b0 * ab0 + b1 * ab1 : A + zp * m_tiles * K * RM;
    long ars = direct_a ? sam : 1, aks = direct_a ? sak : RM, apanel = direct_a ? RM * sam : K * RM;
#define B_ROW(k, v) (*(__global const float16*)(b + (k) * bs + 16 * (v)))
    long kc = kc_arg > 0 ? kc_arg : K;
    for (long k0 = kbeg; k0 < kend; k0 += kc) {
        long k1 = min(kend, k0 + kc);
        for (long mt = mg * MB; mt < min(m_tiles, mg * MB + MB); ++mt) {
            long m0 = mt * RM;
            __global const float* a = abase + mt * apanel;
            /* rows past M (in place) repeat the last row: offsets of rows 1..5 from row 0 */
            long last = direct_a ? M - 1 - m0 : RM - 1;
            long o1 = min(1L, last) * ars, o2 = min(2L, last) * ars, o3 = min(3L, last) * ars,
                 o4 = min(4L, last) * ars, o5 = min(5L, last) * ars;
#define A_AT(k, o) a[(k) * aks + (o)]
            __global float* c = C + m0 * scm + nb * scn;
            /* an edge block (rows past M, columns outside [n0, N), or C not contiguous along n) runs through
             * this work-item's RM x NR scratch tile in W, copied from and to C element by element: the
             * block code then exists once (a private array for the edge made the kernel's first-launch
             * compile 0.45 s instead of 0.26 s) */
            bool full = jlo == 0 && m0 + RM <= M && n0 + NR <= N && scn == 1;
            __global float* w = W + ((z * get_global_size(1) + nt) * get_global_size(0) + mg) * (RM * NR);
            __global float* cw = full ? c : w;
            long cs = full ? scm : NR;
            ACC_DECL(0) ACC_DECL(1) ACC_DECL(2) ACC_DECL(3) ACC_DECL(4) ACC_DECL(5)
            if (k0 > kbeg) {  /* continue the sums of the previous K blocks */
                if (!full)
                    for (int r = 0; r < RM; ++r)
                        for (int j = 0; j < NR; ++j)
                            w[r * NR + j] = m0 + r < M && j >= jlo && nb + j < N ? c[r * scm + j * scn] : 0.0f;
                ACC_FROM(0, cw) ACC_FROM(1, cw + cs) ACC_FROM(2, cw + 2 * cs)
                ACC_FROM(3, cw + 3 * cs) ACC_FROM(4, cw + 4 * cs) ACC_FROM(5, cw + 5 * cs)
            }
#pragma unroll 1
            for (long k = k0; k < k1; ++k) {
                float16 bv = B_ROW(k, 0), bw = B_ROW(k, 1), bx = B_ROW(k, 2), by = B_ROW(k, 3);
                ACC_FMA(0, A_AT(k, 0)) ACC_FMA(1, A_AT(k, o1)) ACC_FMA(2, A_AT(k, o2))
                ACC_FMA(3, A_AT(k, o3)) ACC_FMA(4, A_AT(k, o4)) ACC_FMA(5, A_AT(k, o5))
            }
            ACC_TO(0, cw) ACC_TO(1, cw + cs) ACC_TO(2, cw + 2 * cs)
            ACC_TO(3, cw + 3 * cs) ACC_TO(4, cw + 4 * cs) ACC_TO(5, cw + 5 * cs)
            if (!full)
                for (int r = 0; r < RM && m0 + r < M; ++r)
                    for (int j = jlo; j < NR && nb + j < N; ++j) c[r * scm + j * scn] = w[r * NR + j];
        }
    }
}

/* Split-K, step 2: C[m, n] = sum of the S partial products P[s] (contiguous M x N each), in slice order
 * (deterministic, no atomics). */
__kernel void gemm_sum_k(__global float* C, __global const float* P, const long M, const long N, const long scm,
                         const long scn, const long offC, const long S) {
    PG_FOR(i, M * N) {
        float acc = P[i];
        for (long s = 1; s < S; ++s) acc += P[s * M * N + i];
        C[offC + (i / N) * scm + (i % N) * scn] = acc;
    }
}

/* CPU path for small and narrow products: one launch that reads A and B in place through their strides,
 * with no packing pass and no scratch tile (gemm_cpu's 6 x 64 blocks waste most of their work on a C with
 * few rows or columns, and its packing costs launches that a small product does not pay back).  Two
 * forms, picked by the host from the strides (backend_ops._small_gemm_form):
 *   gemm_dot_k  A's rows and B's columns contiguous along k (x @ W^T: a Linear layer's forward; a
 *               matrix-vector product): each work-item computes a 4 x 4 block of C as 16 dot products,
 *               16 values of k at a time in float16 registers (per 16 k: 8 loads, 16 FMAs), the lanes
 *               summed at the end;
 *   gemm_row_k  B's rows contiguous along n (a Linear layer's backward, x @ W with W of shape K x N):
 *               each work-item computes 6 rows x 16 columns of C, per k one 16-wide load of B's row and six
 *               broadcasts of A.  With N < 16 (sbk >= N) the load also takes the next row's first values:
 *               their lanes are computed and never stored, and the last rows, where the load would pass
 *               B's last element, are read element by element.
 * Loads go through pg_f16u, a float16 that may sit at any float address (the operands' offsets are
 * arbitrary).  A work-item computes ``per`` consecutive blocks (the host sizes them so that each has enough
 * to do).  Rows or columns past M or N repeat the last one (computed, not stored); with N >= 16,
 * gemm_row_k's last block of columns is shifted left to end at N.  Split-K as gemm_cpu: with ksplit > 0,
 * z is the K slice and C that slice's partial (cb0 apart), added up by gemm_sum_k. */
typedef float16 pg_f16u __attribute__((aligned(4)));
#define LD16(p) (*(__global const pg_f16u*)(p))
#define SMALL_ARGS GEMM_ARGS, const long ksplit, const long per  /* (T is float in this program) */
/* work-item g computes blocks [g * per, g * per + per) of C, numbered along n first (neighbours share A's
 * rows): PoCL pays ~0.3 us per work-group, as much as a small block's arithmetic */
#define SMALL_BLOCKS(blk, total) \
    for (long blk = get_global_id(0) * per, blk_end_ = min((long)(total), blk + per); blk < blk_end_; ++blk)
#define SMALL_SETUP BATCH_OFFSETS K_SLICE(bz)

#define DOT_ROW(i) __global const float* a##i = A + min(m0 + i, M - 1) * sam;
#define DOT_COL(j) __global const float* q##j = B + min(n0 + j, N - 1) * sbn;
#define DOT_ACC(i) float16 c##i##0 = 0, c##i##1 = 0, c##i##2 = 0, c##i##3 = 0;
#define DOT_FMA(i) { float16 x = LD16(a##i + k); c##i##0 += x * y0; c##i##1 += x * y1; c##i##2 += x * y2; c##i##3 += x * y3; }
#define DOT_SUM(i) float s##i##0 = pg_hsum16(c##i##0), s##i##1 = pg_hsum16(c##i##1), s##i##2 = pg_hsum16(c##i##2), \
                         s##i##3 = pg_hsum16(c##i##3);
#define DOT_TAIL(i) { float x = a##i[k]; s##i##0 += x * y0; s##i##1 += x * y1; s##i##2 += x * y2; s##i##3 += x * y3; }
#define DOT_PUT(i, j) if (m0 + i < M && n0 + j < N) C[(m0 + i) * scm + (n0 + j) * scn] = s##i##j;
#define DOT_PUTS(i) DOT_PUT(i, 0) DOT_PUT(i, 1) DOT_PUT(i, 2) DOT_PUT(i, 3)
__kernel void gemm_dot_k(SMALL_ARGS) {  /* (sak and sbk are 1) */
    SMALL_SETUP
    long nt = (N + 3) / 4;
    SMALL_BLOCKS(blk, (M + 3) / 4 * nt) {
        long m0 = blk / nt * 4, n0 = blk % nt * 4;
        DOT_ROW(0) DOT_ROW(1) DOT_ROW(2) DOT_ROW(3)
        DOT_COL(0) DOT_COL(1) DOT_COL(2) DOT_COL(3)
        DOT_ACC(0) DOT_ACC(1) DOT_ACC(2) DOT_ACC(3)
        long k = kbeg;
        for (; k + 16 <= kend; k += 16) {
            float16 y0 = LD16(q0 + k), y1 = LD16(q1 + k), y2 = LD16(q2 + k), y3 = LD16(q3 + k);
            DOT_FMA(0) DOT_FMA(1) DOT_FMA(2) DOT_FMA(3)
        }
        DOT_SUM(0) DOT_SUM(1) DOT_SUM(2) DOT_SUM(3)
        for (; k < kend; ++k) {  /* the last K % 16 */
            float y0 = q0[k], y1 = q1[k], y2 = q2[k], y3 = q3[k];
            DOT_TAIL(0) DOT_TAIL(1) DOT_TAIL(2) DOT_TAIL(3)
        }
        DOT_PUTS(0) DOT_PUTS(1) DOT_PUTS(2) DOT_PUTS(3)
    }
}

#define ROW_A(r) __global const float* a##r = A + min(m0 + r, M - 1) * sam;
#define ROW_FMA(r) c##r += a##r[k * sak] * y;
#define ROW_FMAS { ROW_FMA(0) ROW_FMA(1) ROW_FMA(2) ROW_FMA(3) ROW_FMA(4) ROW_FMA(5) }
#define ROW_STORE(r) if (m0 + r < M) *(__global pg_f16u*)(C + (m0 + r) * scm + nb) = c##r;
__kernel void gemm_row_k(SMALL_ARGS) {  /* (sbn is 1; with N < 16, sbk >= N) */
    SMALL_SETUP
    long nt = (N + 15) / 16;
    /* N < 16: rows from kvec on are read element by element (a 16-wide load there would pass B's last element) */
    long kvec = N >= 16 ? kend : min(kend, K - (16 - N + sbk - 1) / sbk);
    SMALL_BLOCKS(blk, (M + 5) / 6 * nt) {
        long m0 = blk / nt * 6, n0 = blk % nt * 16;
        long nb = N >= 16 ? min(n0, N - 16) : 0;  /* first column computed; [nb, n0) belong to the previous block */
        int jlo = (int)(n0 - nb);
        ROW_A(0) ROW_A(1) ROW_A(2) ROW_A(3) ROW_A(4) ROW_A(5)
        float16 c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0;
        __global const float* b = B + nb;
        long k = kbeg;
#pragma unroll 1
        for (; k < kvec; ++k) {
            float16 y = LD16(b + k * sbk);
            ROW_FMAS
        }
        for (; k < kend; ++k) {
            float t[16];
            for (int j = 0; j < 16; ++j) t[j] = j < N ? b[k * sbk + j] : 0.0f;
            float16 y = vload16(0, t);
            ROW_FMAS
        }
        if (jlo == 0 && scn == 1 && nb + 16 <= N) {  /* a whole block of C's rows: 16-wide stores */
            ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3) ROW_STORE(4) ROW_STORE(5)
        } else {  /* element by element: columns [jlo, 16) that lie below N, rows below M */
            float t[6 * 16];
            vstore16(c0, 0, t); vstore16(c1, 1, t); vstore16(c2, 2, t);
            vstore16(c3, 3, t); vstore16(c4, 4, t); vstore16(c5, 5, t);
            for (int r = 0; r < 6 && m0 + r < M; ++r)
                for (int j = jlo; j < 16 && nb + j < N; ++j) C[(m0 + r) * scm + (nb + j) * scn] = t[r * 16 + j];
        }
    }
}
#endif

/* GPU path: a work-group of 16 x 16 work-items computes a 64 x 64 tile of C.  Per step of 16 along K
 * it stages a 64 x 16 tile of A and a 16 x 64 tile of B in local memory (each work-item loads 4
 * elements of each, neighbours loading neighbouring addresses), then each work-item multiplies them
 * into a 4 x 4 block of C held in registers: rows ty, ty+16, ty+32, ty+48 and columns tx, tx+16, ...
 * Every value read from local memory is used 4 times, every value read from global memory 64 times. */
#define TS 64
#define TK 16
#define WPT 4
__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void gemm_tiled(GEMM_ARGS) {
    BATCH_OFFSETS
    __local ACC As[TK][TS + 1];             /* +1: rows of a tile do not all start on one bank */
    __local ACC Bs[TK][TS + 1];
    int tx = get_local_id(0), ty = get_local_id(1), tid = ty * 16 + tx;
    long n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    ACC acc[WPT][WPT];
    for (int i = 0; i < WPT; ++i)
        for (int j = 0; j < WPT; ++j) acc[i][j] = 0;
    for (long k0 = 0; k0 < K; k0 += TK) {
        for (int l = 0; l < (TS * TK) / 256; ++l) {
            int e = tid + l * 256;
            int am = e / TK, ak = e % TK;    /* A tile: consecutive work-items walk along k */
            long m = m0 + am, ka = k0 + ak;
            As[ak][am] = (m < M && ka < K) ? (ACC)A[m * sam + ka * sak] : (ACC)0;
            int bk = e / TS, bn = e % TS;    /* B tile: consecutive work-items walk along n */
            long n = n0 + bn, kb = k0 + bk;
            Bs[bk][bn] = (n < N && kb < K) ? (ACC)B[kb * sbk + n * sbn] : (ACC)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TK; ++k) {
            ACC a[WPT], b[WPT];
            for (int i = 0; i < WPT; ++i) { a[i] = As[k][ty + 16 * i]; b[i] = Bs[k][tx + 16 * i]; }
            for (int i = 0; i < WPT; ++i)
                for (int j = 0; j < WPT; ++j) acc[i][j] += a[i] * b[j];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < WPT; ++i)
        for (int j = 0; j < WPT; ++j) {
            long m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
            if (m < M && n < N) C[m * scm + n * scn] = (T)acc[i][j];
        }
}

/* GPU path for large products: a work-group of 16 x 16 work-items computes a 128 x 128 tile of C, each
 * work-item an 8 x 8 block in registers (rows ty + 16 i, columns tx + 16 j: neighbouring work-items read
 * neighbouring local addresses, no bank conflicts; every value read from local memory is used 8
 * times, every value read from global memory 128 times).  Tiles of A (128 x TK) and B (TK x 128) are
 * double-buffered in local memory: tile t + 1 is loaded while tile t is multiplied, one barrier per
 * tile.  Where an operand is contiguous along its load direction (A along k, B along n), each
 * work-item loads 4 neighbours at once (vload4); elsewhere loads are scalar but still coalesced.
 * TK (the K step) is 16 for float and 8 for double, so both buffers fit in 32 KiB of local memory.
 * Built with GEMM_BIG, TK_BIG and VT4 (the 4-vector of T) defined by the host. */
#ifdef GEMM_BIG
#define TB 128
#define WB 8

inline void pg_load_tiles(__local ACC* As, __local ACC* Bs, __global const T* A, __global const T* B,
                          long M, long N, long K, long sam, long sak, long sbk, long sbn, long m0, long n0,
                          long k0, int tid) {
    if (sak == 1) {  /* A rows contiguous along k: 4 elements per load */
        for (int e = tid; e < TB * TK_BIG / 4; e += 256) {
            int am = e / (TK_BIG / 4), ak = (e % (TK_BIG / 4)) * 4;
            long m = m0 + am, k = k0 + ak;
            ACC v0 = 0, v1 = 0, v2 = 0, v3 = 0;
            if (m < M) {
                __global const T* p = A + m * sam + k;
                if (k + 3 < K) { v0 = p[0]; v1 = p[1]; v2 = p[2]; v3 = p[3]; }
                else { if (k < K) v0 = p[0]; if (k + 1 < K) v1 = p[1]; if (k + 2 < K) v2 = p[2]; }
            }
            As[(ak + 0) * TB + am] = v0; As[(ak + 1) * TB + am] = v1;
            As[(ak + 2) * TB + am] = v2; As[(ak + 3) * TB + am] = v3;
        }
    } else {
        for (int e = tid; e < TB * TK_BIG; e += 256) {
            int am = e % TB, ak = e / TB;   /* neighbouring work-items: neighbouring m (A column-major) */
            long m = m0 + am, k = k0 + ak;
            As[ak * TB + am] = (m < M && k < K) ? (ACC)A[m * sam + k * sak] : (ACC)0;
        }
    }
    if (sbn == 1) {  /* B rows contiguous along n */
        for (int e = tid; e < TB * TK_BIG / 4; e += 256) {
            int bk = e / (TB / 4), bn = (e % (TB / 4)) * 4;
            long k = k0 + bk, n = n0 + bn;
            ACC v0 = 0, v1 = 0, v2 = 0, v3 = 0;
            if (k < K) {
                __global const T* p = B + k * sbk + n;
                if (n + 3 < N) {
                    VT4 v = vload4(0, p);
                    v0 = v.x; v1 = v.y; v2 = v.z; v3 = v.w;
                } else { if (n < N) v0 = p[0]; if (n + 1 < N) v1 = p[1]; if (n + 2 < N) v2 = p[2]; }
            }
            __local ACC* row = Bs + bk * TB + bn;
            row[0] = v0; row[1] = v1; row[2] = v2; row[3] = v3;
        }
    } else {
        for (int e = tid; e < TB * TK_BIG; e += 256) {
            int bn = e / TK_BIG, bk = e % TK_BIG;  /* neighbouring work-items: neighbouring k */
            long k = k0 + bk, n = n0 + bn;
            Bs[bk * TB + bn] = (n < N && k < K) ? (ACC)B[k * sbk + n * sbn] : (ACC)0;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void gemm_big(GEMM_ARGS) {
    BATCH_OFFSETS
    __local ACC As[2][TK_BIG * TB];
    __local ACC Bs[2][TK_BIG * TB];
    int tx = get_local_id(0), ty = get_local_id(1), tid = ty * 16 + tx;
    long n0 = get_group_id(0) * TB, m0 = get_group_id(1) * TB;
    ACC acc[WB][WB];
    for (int i = 0; i < WB; ++i)
        for (int j = 0; j < WB; ++j) acc[i][j] = 0;
    long ntiles = (K + TK_BIG - 1) / TK_BIG;
    pg_load_tiles(As[0], Bs[0], A, B, M, N, K, sam, sak, sbk, sbn, m0, n0, 0, tid);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long t = 0; t < ntiles; ++t) {
        int cur = t & 1;
        if (t + 1 < ntiles)  /* the other buffer was last read before the previous barrier */
            pg_load_tiles(As[1 - cur], Bs[1 - cur], A, B, M, N, K, sam, sak, sbk, sbn, m0, n0,
                          (t + 1) * TK_BIG, tid);
        __local const ACC* as = As[cur];
        __local const ACC* bs = Bs[cur];
        for (int k = 0; k < TK_BIG; ++k) {
            ACC a[WB], b[WB];
            for (int i = 0; i < WB; ++i) { a[i] = as[k * TB + ty + 16 * i]; b[i] = bs[k * TB + tx + 16 * i]; }
            for (int i = 0; i < WB; ++i)
                for (int j = 0; j < WB; ++j) acc[i][j] += a[i] * b[j];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < WB; ++i)
        for (int j = 0; j < WB; ++j) {
            long m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
            if (m < M && n < N) C[m * scm + n * scn] = (T)acc[i][j];
        }
}
#endif
