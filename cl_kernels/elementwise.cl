/* elementwise.cl: out = EXPR(a, b, c) over broadcast, strided operands.
 *
 * Specialised by #defines from pygrad/backends/opencl/backend.py:
 *   TO       output storage type        ST_O(p, i, v)  store v at p[i]
 *   T1..T3   input storage types        LD_1(p, i)     load p[i] converted to the compute type C1
 *   C1..C3   compute types
 *   EXPR     the op's C expression of a, b, c (the table row in pygrad/ops/elementwise.py)
 * Local size 64 (fixed, so PoCL compiles once); the global size comes from OpenCLBackend.grid (PG_FOR).
 */
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
