/* sort.cl: a stable sort of every row of a tensor, as a bottom-up merge sort.
 *
 * The rows are the input's lines along the sort dim (Lk walks the other dims, rstride steps along a
 * row).  sort_init_k copies each row's keys into a contiguous buffer next to their indices, sorting
 * runs of RUN elements.  Then pass w (w = RUN, 2 RUN, ...) merges neighbouring sorted runs of length
 * w into runs of 2w.  A merge needs no loop over the other run's elements: an element's place in the
 * merged run is its place in its own run plus the number of elements of the partner run that go
 * before it, which a binary search finds.  So every work-item moves one element and a pass is fully
 * parallel.
 * Ties keep their original order (stability): a left-run element goes after the right run's elements
 * that are strictly before it; a right-run element goes after the left run's elements that are not
 * after it.  NaN sorts as the largest value, as in NumPy and PyTorch.
 *   TI / LD_I: input storage type and load;  K: key type;  DESCENDING: 1 for descending order
 *   KEY_NAN(x): whether key x is NaN (0 for integer keys)
 */
#if DESCENDING
#define BEFORE(a, b) ((a) > (b) || (KEY_NAN(a) && !KEY_NAN(b)))
#else
#define BEFORE(a, b) ((a) < (b) || (KEY_NAN(b) && !KEY_NAN(a)))
#endif

/* Copy each run of RUN elements of a row into the key buffer, next to its indices, and sort it by
 * insertion (stable: an element moves left only past elements it goes strictly before).  The
 * merge passes then start from runs of RUN instead of 1, saving log2(RUN) launches. */
#define RUN 32
__kernel void sort_init_k(__global K* keys, __global long* idx, __global const TI* in, const Layout Lk,
                          const long nrows, const long n, const long rstride) {
    long runs = (n + RUN - 1) / RUN;
    PG_FOR(t, nrows * runs) {
        long row = t / runs, r0 = (t % runs) * RUN, len = min((long)RUN, n - r0);
        long o_out, base, u2, u3;
        pg_offsets(&Lk, row, &o_out, &base, &u2, &u3);
        __global K* k = keys + row * n + r0;
        __global long* ix = idx + row * n + r0;
        for (long i = 0; i < len; ++i) {
            K key = LD_I(in, base + (r0 + i) * rstride);
            long j = i;
            while (j > 0 && BEFORE(key, k[j - 1])) { k[j] = k[j - 1]; ix[j] = ix[j - 1]; --j; }
            k[j] = key;
            ix[j] = r0 + i;
        }
    }
}

/* Number of elements of run[0..len) that go before key (strict: BEFORE(run[i], key); else: !BEFORE(key, run[i])). */
inline long pg_rank(__global const K* run, long len, K key, int strict) {
    long lo = 0, hi = len;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        int goes_before = strict ? BEFORE(run[mid], key) : !BEFORE(key, run[mid]);
        if (goes_before) lo = mid + 1; else hi = mid;
    }
    return lo;
}

__kernel void merge_pass_k(__global K* keys_out, __global long* idx_out, __global const K* keys,
                           __global const long* idx, const long nrows, const long n, const long w) {
    PG_FOR(g, nrows * n) {
        long row = g / n, p = g % n;
        long run = p / w, i = p - run * w;
        long left = (run & ~1L) * w;                    /* where the merged pair of runs starts */
        long partner = (run ^ 1L) * w;
        long plen = min(w, n - partner);
        long pos = p;
        K key = keys[g];
        if (plen > 0) {
            __global const K* other = keys + row * n + partner;
            pos = left + i + ((run & 1L) ? pg_rank(other, plen, key, 0) : pg_rank(other, plen, key, 1));
        }
        keys_out[row * n + pos] = key;
        idx_out[row * n + pos] = idx[g];
    }
}
