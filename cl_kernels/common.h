/* common.h: pasted in front of every pygrad kernel file.
 *
 * A tensor operand is (pointer, Layout): element i of an n-d shape lives at
 * offset + sum_d coord_d * stride_d, the same rule as pygrad/_core.pyx.  Up to PG_MAXD dims after
 * the host has merged dims that are contiguous with each other.
 */
#define PG_MAXD 6

typedef struct {
    long shape[PG_MAXD];
    long strides[4][PG_MAXD];   /* operand 0 is the output, 1..3 the inputs */
    long offset[4];
    int nd;
    int pad;
} Layout;

/* Storage offsets of linear element i for operands 0..3 (an odometer over the shape). */
inline void pg_offsets(const Layout* L, long i, long* o0, long* o1, long* o2, long* o3) {
    long a = L->offset[0], b = L->offset[1], c = L->offset[2], e = L->offset[3];
    for (int d = L->nd - 1; d >= 0; --d) {
        long n = L->shape[d];
        long k = i % n;
        i /= n;
        a += k * L->strides[0][d];
        b += k * L->strides[1][d];
        c += k * L->strides[2][d];
        e += k * L->strides[3][d];
    }
    *o0 = a; *o1 = b; *o2 = c; *o3 = e;
}

/* PG_FOR(i, n): the loop over elements 0..n-1 of a one-dimensional launch.
 * On GPUs each work-item takes one element.  On CPU devices (PG_CPU) the host launches only a few
 * work-items and each takes a contiguous chunk: PoCL's per-work-group cost then stops dominating, and
 * each core streams through memory in order. */
#ifdef PG_CPU
#define PG_FOR(i, n) \
    long pg_chunk_ = ((long)(n) + get_global_size(0) - 1) / get_global_size(0); \
    long pg_end_ = min((long)(n), ((long)get_global_id(0) + 1) * pg_chunk_); \
    for (long i = get_global_id(0) * pg_chunk_; i < pg_end_; ++i)
#else
#define PG_FOR(i, n) for (long i = get_global_id(0); i < (long)(n); i += get_global_size(0))
#endif

/* The sum of a vector's 16 lanes, in a fixed order (halves added down to one): sums kept lane-wise by
 * gemm_dot_k (gemm.cl) and conv_dw_k (conv.cl). */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#define PG_HSUM16(T) inline T __attribute__((overloadable)) pg_hsum16(T##16 v) { \
    T##8 a = v.lo + v.hi; T##4 b = a.lo + a.hi; T##2 c = b.lo + b.hi; return c.lo + c.hi; }
PG_HSUM16(float)
#ifdef cl_khr_fp64
PG_HSUM16(double)
#endif

/* Math of the CPU shape: float log, log2, log10, log1p, erf and pow in plain arithmetic (in double), which
 * vectorises along a PG_FOR chunk.  PoCL's own are scalar library calls (measured on a Xeon, PoCL 3.1, per
 * float: log 13 ns, erf 31 ns, pow 100 ns, against 0.6 ns for exp, which it vectorises); these take ~1 ns (log)
 * and 6 ns (erf), and are within 1 ulp of the float64 result (tests/test_cpu_math.py).  log: x = 2^k (1 + f) with
 * 1 + f in [sqrt(2)/2, sqrt(2)), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f), R the minimax
 * polynomial of fdlibm's log (the classic reduction); erf: its Taylor series below 0.84, 1 - erfc beyond,
 * erfc by the Chebyshev fit of Numerical Recipes (relative error < 1.2e-7); pow: exp(y log|x|) and C99's
 * special cases.  Doubles, devices without doubles and the GPU shape (GPUs have fast library functions)
 * keep the library's. */
#if defined(PG_CPU) && defined(cl_khr_fp64)  /* (doubles enabled above) */
#define PG_MATH_DOUBLE(fn, lib) inline double __attribute__((overloadable)) fn(double x) { return lib(x); }
/* x = 2^k (1 + f): log(1 + f) in double (to double accuracy: the series of fdlibm's log, 7 terms) and k in *k;
 * zero, negatives, inf and NaN are answered by pg_log_fix / pg_pow */
inline double pg_log_parts(float x, int* k) {
    int ix = as_int(x);
    bool sub = ix < 0x00800000;                   /* subnormal: scaled into the normal range */
    ix = as_int(sub ? x * 0x1p23f : x) + (0x3f800000 - 0x3f3504f3);
    *k = (ix >> 23) - 0x7f - (sub ? 23 : 0);
    double f = (double)as_float((ix & 0x007fffff) + 0x3f3504f3) - 1.0;
    double s = f / (2.0 + f), z = s * s, w = z * z;
    double r = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01
               + w * 1.479819860511658591e-01))) + w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
               + w * 1.531383769920937332e-01));
    double hfsq = 0.5 * f * f;
    return f - hfsq + s * (hfsq + r);
}
inline float pg_log_fix(float x, double y) {     /* log of 0 is -inf, of a negative NaN; inf and NaN pass */
    float v = (float)y;
    v = x == 0.0f ? -INFINITY : v;
    v = x < 0.0f ? NAN : v;
    return x == INFINITY || x != x ? x : v;
}
inline float __attribute__((overloadable)) pg_log(float x) {
    int k;
    double l = pg_log_parts(x, &k);
    return pg_log_fix(x, k * 0.69314718055994531 + l);
}
PG_MATH_DOUBLE(pg_log, log)
inline float __attribute__((overloadable)) pg_log2(float x) {
    int k;
    double l = pg_log_parts(x, &k);
    return pg_log_fix(x, k + l * 1.4426950408889634);
}
PG_MATH_DOUBLE(pg_log2, log2)
inline float __attribute__((overloadable)) pg_log10(float x) {
    int k;
    double l = pg_log_parts(x, &k);
    return pg_log_fix(x, k * 0.30102999566398120 + l * 0.43429448190325183);
}
PG_MATH_DOUBLE(pg_log10, log10)
inline float __attribute__((overloadable)) pg_log1p(float x) {
    float u = 1.0f + x;                           /* log(u) * x / (u - 1): exact where 1 + x rounded */
    int k;
    double l = pg_log_parts(u, &k);
    l += k * 0.69314718055994531;
    float y = u == 1.0f ? x : pg_log_fix(u, l * ((double)x / ((double)u - 1.0)));
    return x == INFINITY ? x : y;
}
PG_MATH_DOUBLE(pg_log1p, log1p)
inline float __attribute__((overloadable)) pg_erf(float xf) {
    double x = xf, ax = fabs(x), z = x * x;
    double taylor = x * (1.1283791670955126 + z * (-0.37612638903183754 + z * (0.11283791670955126
                    + z * (-0.026866170645131252 + z * (0.0052239776254421878 + z * (-0.00085483270234508528
                    + z * (0.00012055332981789664 + z * (-1.4925650358406251e-05 + z * (1.6462114365889246e-06
                    + z * (-1.6365844691234924e-07 + z * 1.4807192815879218e-08))))))))));
    double t = 1.0 / (1.0 + 0.5 * ax);
    double erfc = t * exp(-z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                  + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                  + t * (-0.82215223 + t * 0.17087277)))))))));
    return (float)(ax < 0.84 ? taylor : copysign(1.0 - erfc, x));
}
PG_MATH_DOUBLE(pg_erf, erf)
/* x ** y (any other exponent than the ones ops/elementwise.py computes without pow) as exp(y log|x|) in double,
 * then C99's special cases: negative x to a non-integer power is NaN, odd integer powers keep x's sign,
 * x ** 0 and 1 ** y are 1 (NaN too), (-1) ** +-inf is 1 */
inline float __attribute__((overloadable)) pg_pow(float x, float y) {
    int k;
    float ax = fabs(x);
    double lx = pg_log_parts(ax, &k) + k * 0.69314718055994531;
    lx = ax == 0.0f ? -INFINITY : ax == INFINITY ? INFINITY : lx;
    float v = (float)exp((double)y * lx);
    float h = 0.5f * y;                           /* (selects, no calls: the loop stays vectorised) */
    bool yint = y == trunc(y);                    /* (true for +-inf) */
    bool yodd = yint && h != trunc(h);            /* (exact: floats from 2^24 on are even) */
    v = x < 0.0f && x > -INFINITY && !yint ? NAN : v;
    v = yodd && as_int(x) < 0 ? -v : v;
    v = ax == 1.0f && fabs(y) == INFINITY ? 1.0f : v;
    v = x != x || y != y ? NAN : v;
    return x == 1.0f || y == 0.0f ? 1.0f : v;
}
inline double __attribute__((overloadable)) pg_pow(double x, double y) { return pow(x, y); }
#else
#define pg_log(x) log(x)
#define pg_log2(x) log2(x)
#define pg_log10(x) log10(x)
#define pg_log1p(x) log1p(x)
#define pg_erf(x) erf(x)
#define pg_pow(x, y) pow(x, y)
#endif

/* Record a failed value check for the host (runtime.DeviceErrors): the first failure wins.  ``bad``
 * holds an int tag (which check) in its first word and the offending value in its second long. */
inline void pg_report_bad(__global long* bad, int tag, long value) {
    if (atomic_cmpxchg((volatile __global int*)bad, 0, tag) == 0) bad[1] = value;
}

/* The tree of a work-group fold in local memory, shared by the GPU-shaped kernels: log2(n) steps; at
 * each, the work-items with lid < s fold element lid + s into element lid through STEP(lid, lid + s)
 * (a macro naming the local arrays), then the group waits at a barrier.  n is a power of two, and every
 * work-item of the group must reach the loop. */
#define PG_WG_TREE(lid, n, STEP) \
    for (int pg_s_ = (n) / 2; pg_s_ > 0; pg_s_ >>= 1) { \
        if ((lid) < pg_s_) { STEP((lid), (lid) + pg_s_); } \
        barrier(CLK_LOCAL_MEM_FENCE); \
    }
