/* gemm.cl: batched C = A @ B with arbitrary strides (transposes are strides, never copies).
 *
 * Three kernels, chosen per device by pygrad/backends/opencl/backend.py:
 *   gemm_naive  one work-item per element of C: the textbook triple loop, any dtype (the baseline);
 *   gemm_cpu    for CPU devices (PoCL): each work-item computes an RM x 16 block of C in float16
 *               vector registers, reading B rows with vload16 and broadcasting A scalars, no local
 *               memory (a CPU's caches do that job); needs B's rows contiguous (sbn == 1);
 *   gemm_tiled  for GPUs: a work-group stages TS x TS tiles of A and B in local memory so each
 *               value loaded from global memory is reused TS times.
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
#define RM 6
__kernel void gemm_cpu(GEMM_ARGS) {
    BATCH_OFFSETS
    long m0 = get_global_id(1) * RM, n0 = get_global_id(0) * 16;
    if (m0 >= M || n0 >= N) return;
    if (m0 + RM <= M && n0 + 16 <= N) {
        float16 c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0;
        __global const float* a = A + m0 * sam;
        __global const float* b = B + n0;
        for (long k = 0; k < K; ++k) {
            float16 bv = vload16(0, b + k * sbk);
            long ak = k * sak;
            c0 = mad((float16)a[ak], bv, c0);
            c1 = mad((float16)a[sam + ak], bv, c1);
            c2 = mad((float16)a[2 * sam + ak], bv, c2);
            c3 = mad((float16)a[3 * sam + ak], bv, c3);
            c4 = mad((float16)a[4 * sam + ak], bv, c4);
            c5 = mad((float16)a[5 * sam + ak], bv, c5);
        }
        __global float* c = C + m0 * scm + n0 * scn;
        if (scn == 1) {
            vstore16(c0, 0, c); vstore16(c1, 0, c + scm); vstore16(c2, 0, c + 2 * scm);
            vstore16(c3, 0, c + 3 * scm); vstore16(c4, 0, c + 4 * scm); vstore16(c5, 0, c + 5 * scm);
        } else {
            float16 rows[RM] = {c0, c1, c2, c3, c4, c5};
            for (int r = 0; r < RM; ++r) {
                float vals[16];
                vstore16(rows[r], 0, vals);
                for (int j = 0; j < 16; ++j) c[r * scm + j * scn] = vals[j];
            }
        }
        return;
    }
    /* edge block: plain loops */
    for (long m = m0; m < min(M, m0 + RM); ++m)
        for (long n = n0; n < min(N, n0 + 16); ++n) {
            float acc = 0;
            for (long k = 0; k < K; ++k) acc = mad(A[m * sam + k * sak], B[k * sbk + n], acc);
            C[m * scm + n * scn] = acc;
        }
}
#endif

#define TS 16
__kernel void gemm_tiled(GEMM_ARGS) {
    BATCH_OFFSETS
    __local ACC As[TS][TS];
    __local ACC Bs[TS][TS];
    int tx = get_local_id(0), ty = get_local_id(1);
    long n = get_global_id(0), m = get_global_id(1);
    ACC acc = 0;
    for (long k0 = 0; k0 < K; k0 += TS) {
        As[ty][tx] = (m < M && k0 + tx < K) ? (ACC)A[m * sam + (k0 + tx) * sak] : (ACC)0;
        Bs[ty][tx] = (n < N && k0 + ty < K) ? (ACC)B[(k0 + ty) * sbk + n * sbn] : (ACC)0;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TS; ++k) acc += As[ty][k] * Bs[k][tx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (m < M && n < N) C[m * scm + n * scn] = (T)acc;
}
