/* elementwise.cl: out = EXPR(a, b, c) over broadcast, strided operands.
 *
 * Specialised by #defines from pygrad/backends/opencl/backend.py:
 *   TO       output storage type        ST_O(p, i, v)  store v at p[i]
 *   T1..T3   input storage types        LD_1(p, i)     load p[i] converted to the compute type C1
 *   C1..C3   compute types
 *   EXPR     the op's C expression of a, b, c (the table row in pygrad/ops/elementwise.py)
 * Local size 64 (fixed, so PoCL compiles once); the global size comes from OpenCLBackend.grid (PG_FOR).
 */
#ifdef PG_CPU
/* CPU devices: each work-item walks a contiguous chunk of the output's elements.  It finds the
 * coordinates of its first element once (pg_offsets: divisions), then moves along the innermost
 * dim by adding strides, carrying into outer dims like an odometer: no division per element. */
__kernel void ew_strided(__global TO* out, __global const T1* p1, __global const T2* p2, __global const T3* p3,
                         const Layout L, const long n) {
    long chunk = (n + get_global_size(0) - 1) / get_global_size(0);
    long i = get_global_id(0) * chunk, end = min(n, i + chunk);
    if (i >= end) return;
    long o0, o1, o2, o3;
    pg_offsets(&L, i, &o0, &o1, &o2, &o3);
    int last = L.nd - 1;
    long coord[PG_MAXD];
    for (long t = i, d = last; d >= 0; --d) { coord[d] = t % L.shape[d]; t /= L.shape[d]; }
    long len = last >= 0 ? L.shape[last] : 1;
    long s0 = last >= 0 ? L.strides[0][last] : 0, s1 = last >= 0 ? L.strides[1][last] : 0;
    long s2 = last >= 0 ? L.strides[2][last] : 0, s3 = last >= 0 ? L.strides[3][last] : 0;
    while (i < end) {
        long run = min(end - i, last >= 0 ? len - coord[last] : 1);
        for (long k = 0; k < run; ++k) {
            C1 a = LD_1(p1, o1 + k * s1);
            C2 b = LD_2(p2, o2 + k * s2);
            C3 c = LD_3(p3, o3 + k * s3);
            ST_O(out, o0 + k * s0, EXPR);
        }
        i += run;
        if (last < 0 || i >= end) break;
        /* the run ended at the end of the innermost dim: back to its start, carry into the next dims */
        o0 += (run - len) * s0; o1 += (run - len) * s1; o2 += (run - len) * s2; o3 += (run - len) * s3;
        coord[last] = 0;
        for (int d = last - 1; d >= 0; --d) {
            o0 += L.strides[0][d]; o1 += L.strides[1][d]; o2 += L.strides[2][d]; o3 += L.strides[3][d];
            if (++coord[d] < L.shape[d]) break;
            coord[d] = 0;
            o0 -= L.shape[d] * L.strides[0][d]; o1 -= L.shape[d] * L.strides[1][d];
            o2 -= L.shape[d] * L.strides[2][d]; o3 -= L.shape[d] * L.strides[3][d];
        }
    }
}
#else
/* GPUs: one element per work-item (grid-stride loop); pg_offsets finds its storage offsets. */
__kernel void ew_strided(__global TO* out, __global const T1* p1, __global const T2* p2, __global const T3* p3,
                         const Layout L, const long n) {
    PG_FOR(i, n) {
        long o0, o1, o2, o3;
        pg_offsets(&L, i, &o0, &o1, &o2, &o3);
        C1 a = LD_1(p1, o1);
        C2 b = LD_2(p2, o2);
        C3 c = LD_3(p3, o3);
        ST_O(out, o0, EXPR);
    }
}
#endif

/* Operands that walk the last two dims in different orders (a transpose: x.t() + x, or copying a
 * permuted tensor into a contiguous one): each task handles a 32 x 32 tile of those two dims, so
 * the 32 rows of the transposed operand it reads stay in cache while it writes the tile row by row.
 * Walking whole rows instead reads every element of the transposed operand from a new cache line. */
#define PG_TILE 32
__kernel void ew_tiled(__global TO* out, __global const T1* p1, __global const T2* p2, __global const T3* p3,
                       const Layout L, const long n) {
    int dr = L.nd - 2, dc = L.nd - 1;       /* the tiled dims: rows and columns */
    long R = L.shape[dr], W = L.shape[dc];
    long tr = (R + PG_TILE - 1) / PG_TILE, tc = (W + PG_TILE - 1) / PG_TILE;
    long outer = n / (R * W);
    PG_FOR(t, outer * tr * tc) {
        long tcol = t % tc, rest = t / tc;
        long trow = rest % tr, o = rest / tr;
        long b0, b1, b2, b3;
        pg_offsets(&L, o * R * W, &b0, &b1, &b2, &b3);      /* offsets of element (o, 0, 0) */
        long r1 = min(R, (trow + 1) * PG_TILE), c0 = tcol * PG_TILE, c1 = min(W, c0 + PG_TILE);
        for (long r = trow * PG_TILE; r < r1; ++r) {
            long o0 = b0 + r * L.strides[0][dr], o1 = b1 + r * L.strides[1][dr];
            long o2 = b2 + r * L.strides[2][dr], o3 = b3 + r * L.strides[3][dr];
            #pragma clang loop vectorize(disable)  /* strided: first-launch compile 0.087 -> 0.06 s CPU; x.t().contiguous() 2048^2 the same warm */
            for (long col = c0; col < c1; ++col) {
                C1 a = LD_1(p1, o1 + col * L.strides[1][dc]);
                C2 b = LD_2(p2, o2 + col * L.strides[2][dc]);
                C3 c = LD_3(p3, o3 + col * L.strides[3][dc]);
                ST_O(out, o0 + col * L.strides[0][dc], EXPR);
            }
        }
    }
}

#ifndef PG_CPU
/* ew_tiled on GPUs: a work-group of 256 work-items moves one 32 x 32 tile of the last two dims at a
 * time.  Operands whose rows are walked in the other order (bit k of tmask: operand k, 0 = the output)
 * go through a tile in local memory: the work-group reads them with neighbouring work-items on
 * neighbouring addresses of *their* contiguous dim (coalesced), then reads the tile across.  A row of
 * 33 elements puts the 32 elements of a tile column in 32 different local-memory banks.
 *   TOT / TOV(v): the output's type in the tile, and the conversion of a value of EXPR into it */
#define PG_TT 32
__kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void ew_tiled_wg(__global TO* out, __global const T1* p1, __global const T2* p2, __global const T3* p3,
                 const Layout L, const long n, const long tmask) {
    __local C1 t1[PG_TT][PG_TT + 1];
    __local C2 t2[PG_TT][PG_TT + 1];
    __local C3 t3[PG_TT][PG_TT + 1];
    __local TOT t0[PG_TT][PG_TT + 1];
    int lid = get_local_id(0), lx = lid % PG_TT, ly = lid / PG_TT;   /* ly: 0..7 */
    int dr = L.nd - 2, dc = L.nd - 1;
    long R = L.shape[dr], W = L.shape[dc];
    long tr = (R + PG_TT - 1) / PG_TT, tc = (W + PG_TT - 1) / PG_TT;
    long ntiles = (n / (R * W)) * tr * tc;
    long r0s = L.strides[0][dr], c0s = L.strides[0][dc], r1s = L.strides[1][dr], c1s = L.strides[1][dc];
    long r2s = L.strides[2][dr], c2s = L.strides[2][dc], r3s = L.strides[3][dr], c3s = L.strides[3][dc];
    for (long t = get_group_id(0); t < ntiles; t += get_num_groups(0)) {
        long tcol = t % tc, rest = t / tc;
        long trow = rest % tr, o = rest / tr;
        long b0, b1, b2, b3;
        pg_offsets(&L, o * R * W, &b0, &b1, &b2, &b3);      /* offsets of element (o, 0, 0) */
        long r0 = trow * PG_TT, c0 = tcol * PG_TT;
        if (tmask & 14) {                                      /* stage the transposed inputs */
            for (int j = 0; j < PG_TT; j += 8) {
                long row = r0 + lx, col = c0 + ly + j;
                if (row < R && col < W) {
                    if (tmask & 2) t1[lx][ly + j] = LD_1(p1, b1 + row * r1s + col * c1s);
                    if (tmask & 4) t2[lx][ly + j] = LD_2(p2, b2 + row * r2s + col * c2s);
                    if (tmask & 8) t3[lx][ly + j] = LD_3(p3, b3 + row * r3s + col * c3s);
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        for (int j = 0; j < PG_TT; j += 8) {
            long row = r0 + ly + j, col = c0 + lx;
            if (row < R && col < W) {
                C1 a = (tmask & 2) ? t1[ly + j][lx] : LD_1(p1, b1 + row * r1s + col * c1s);
                C2 b = (tmask & 4) ? t2[ly + j][lx] : LD_2(p2, b2 + row * r2s + col * c2s);
                C3 c = (tmask & 8) ? t3[ly + j][lx] : LD_3(p3, b3 + row * r3s + col * c3s);
                if (tmask & 1) { t0[ly + j][lx] = TOV(EXPR); }
                else { ST_O(out, b0 + row * r0s + col * c0s, EXPR); }
            }
        }
        if (tmask & 1) {                                       /* write a transposed output across */
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int j = 0; j < PG_TT; j += 8) {
                long row = r0 + lx, col = c0 + ly + j;
                if (row < R && col < W) ST_O(out, b0 + row * r0s + col * c0s, t0[lx][ly + j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);                          /* the tiles are free for the next tile */
    }
}
#endif

/* Every input is either contiguous with the output's shape (step 1) or one broadcast element (step 0):
 * no index arithmetic at all, so PoCL can vectorise across work-items. */
__kernel void ew_contig(__global TO* out, __global const T1* p1, __global const T2* p2, __global const T3* p3,
                        const long off0, const long off1, const long off2, const long off3,
                        const long s1, const long s2, const long s3, const long n) {
    PG_FOR(i, n) {
        C1 a = LD_1(p1, off1 + i * s1);
        C2 b = LD_2(p2, off2 + i * s2);
        C3 c = LD_3(p3, off3 + i * s3);
        ST_O(out, off0 + i, EXPR);
    }
}

#ifndef PG_CPU
/* ew_contig on GPUs when every step-1 operand starts at a multiple of 4 elements: each work-item
 * takes 4 neighbouring elements with one vector load per operand (16 bytes for float), which
 * needs fewer memory instructions than 4 scalar loads.
 *   VC1..VC3: 4-vectors of the compute types;  LD4_k(p, i): load elements i..i+3 converted to VCk */
#define PG_E4(K) { C1 a = va.s##K; C2 b = vb.s##K; C3 c = vc.s##K; ST_O(out, off0 + i + K, EXPR); }
__kernel void ew_contig4(__global TO* out, __global const T1* p1, __global const T2* p2, __global const T3* p3,
                         const long off0, const long off1, const long off2, const long off3,
                         const long s1, const long s2, const long s3, const long n) {
    long n4 = n / 4;
    for (long v = get_global_id(0); v < n4; v += get_global_size(0)) {
        long i = v * 4;
        VC1 va = s1 ? LD4_1(p1, off1 + i) : (VC1)(LD_1(p1, off1));
        VC2 vb = s2 ? LD4_2(p2, off2 + i) : (VC2)(LD_2(p2, off2));
        VC3 vc = s3 ? LD4_3(p3, off3 + i) : (VC3)(LD_3(p3, off3));
        PG_E4(0) PG_E4(1) PG_E4(2) PG_E4(3)
    }
    for (long i = n4 * 4 + get_global_id(0); i < n; i += get_global_size(0)) {
        C1 a = LD_1(p1, off1 + i * s1);
        C2 b = LD_2(p2, off2 + i * s2);
        C3 c = LD_3(p3, off3 + i * s3);
        ST_O(out, off0 + i, EXPR);
    }
}
#endif
