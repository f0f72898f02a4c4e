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
