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
