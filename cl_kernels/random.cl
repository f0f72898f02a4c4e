/* random.cl: counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * Philox maps (counter, key) to four 32-bit random words with ten rounds of multiply/xor.  Element i
 * of a request uses counter = offset + i/4, so any work-item can compute its numbers independently
 * and a seed (key) plus an offset reproduces a stream exactly, on any device.
 *   uniform_k: out[i] = low + (high - low) * u,   u in [0, 1) with 24 random bits
 *   normal_k:  Box-Muller on pairs of uniforms
 *   TO / ST_O(p, i, v): output storage type and store
 */
/* The four words of Philox block CTR under KEY, declared as uint W0 .. W3: ten rounds, each two 32 x 32
 * -> 64-bit products.  Scalars and ulong products, not a uint4 and mul_hi: PoCL then vectorises a loop over
 * blocks (rand of 1M floats on one Xeon core 16.8 -> 5.5 ms, randint 33 -> 6.5 ms; the same words as before). */
#define PG_PHILOX(CTR, KEY, W0, W1, W2, W3)                                                              \
    uint W0 = (uint)(CTR), W1 = (uint)((CTR) >> 32), W2 = 0u, W3 = 0u;                                 \
    {                                                                                                  \
        uint k0_ = (KEY).x, k1_ = (KEY).y;                                                             \
        for (int r_ = 0; r_ < 10; ++r_) {                                                              \
            ulong p0_ = (ulong)0xD2511F53u * W0, p1_ = (ulong)0xCD9E8D57u * W2;                        \
            uint w0_ = (uint)(p1_ >> 32) ^ W1 ^ k0_, w2_ = (uint)(p0_ >> 32) ^ W3 ^ k1_;               \
            W1 = (uint)p1_; W3 = (uint)p0_; W0 = w0_; W2 = w2_;                                        \
            k0_ += 0x9E3779B9u; k1_ += 0xBB67AE85u;                                                    \
        }                                                                                              \
    }

inline float pg_u01(uint x) { return (x >> 8) * (1.0f / 16777216.0f); }

/* Block b of the stream is Philox block offset + b: words 4b .. 4b + 3.  Each loop iteration below computes one
 * block and the elements that use it, with no state carried between iterations, so the compiler vectorises the
 * loop across blocks (the former kernels kept a work-item's last block in a cache tested for every element,
 * which kept the loop scalar). */
/* out[i .. i + 3] = v0 .. v3, those below n (a whole block: four plain stores, which the loop vectorises) */
#define PG_STORE4(i, v0, v1, v2, v3)                                                                    \
    if ((i) + 4 <= n) {                                                                                \
        ST_O(out, (i), v0); ST_O(out, (i) + 1, v1); ST_O(out, (i) + 2, v2); ST_O(out, (i) + 3, v3);    \
    } else {                                                                                           \
        ST_O(out, (i), v0);                                                                            \
        if ((i) + 1 < n) ST_O(out, (i) + 1, v1);                                                       \
        if ((i) + 2 < n) ST_O(out, (i) + 2, v2);                                                       \
    }

/* elements 4b .. 4b + 3 from the four words of block b (uniform_k) */
__kernel void uniform_k(__global TO* out, const long n, const ulong offset, const uint2 key, const float low,
                        const float high) {
    PG_FOR(b, (n + 3) / 4) {
        PG_PHILOX(offset + (ulong)b, key, r0, r1, r2, r3)
        long i = 4 * b;
        PG_STORE4(i, low + (high - low) * pg_u01(r0), low + (high - low) * pg_u01(r1),
                  low + (high - low) * pg_u01(r2), low + (high - low) * pg_u01(r3))
    }
}

/* dropout's scaled mask, ``(rand(n) >= p) / q`` with q = 1 - p, in one pass: the same words, comparison and
 * division as those three ops (uniform_k, ge, div), so the same mask */
__kernel void dropout_k(__global TO* out, const long n, const ulong offset, const uint2 key, const float p,
                        const float q) {
    float keep = 1.0f / q, drop = 0.0f / q;
    PG_FOR(b, (n + 3) / 4) {
        PG_PHILOX(offset + (ulong)b, key, r0, r1, r2, r3)
        long i = 4 * b;
        PG_STORE4(i, pg_u01(r0) >= p ? keep : drop, pg_u01(r1) >= p ? keep : drop, pg_u01(r2) >= p ? keep : drop,
                  pg_u01(r3) >= p ? keep : drop)
    }
}

/* Box-Muller on pairs of words: element 2p (cosine) and 2p + 1 (sine) from words 2p and 2p + 1, so block b gives
 * elements 4b .. 4b + 3 */
__kernel void normal_k(__global TO* out, const long n, const ulong offset, const uint2 key, const float mean,
                       const float std) {
    PG_FOR(b, (n + 3) / 4) {
        PG_PHILOX(offset + (ulong)b, key, w0, w1, w2, w3)
        long i = 4 * b;
        float ra = sqrt(-2.0f * log(pg_u01(w0) + (0.5f / 16777216.0f))), ta = 2.0f * pg_u01(w1);
        float rb = sqrt(-2.0f * log(pg_u01(w2) + (0.5f / 16777216.0f))), tb = 2.0f * pg_u01(w3);
        PG_STORE4(i, mean + std * (ra * cospi(ta)), mean + std * (ra * sinpi(ta)), mean + std * (rb * cospi(tb)),
                  mean + std * (rb * sinpi(tb)))
    }
}

/* integers in [low, high): 64-bit multiply-shift of a 32-bit word (bias < 2^-32 * range); element i takes words 2i
 * and 2i + 1, so block b gives elements 2b and 2b + 1 */
__kernel void randint_k(__global TO* out, const long n, const ulong offset, const uint2 key, const long low,
                        const long high) {
    ulong range = (ulong)(high - low);
    PG_FOR(b, (n + 1) / 2) {
        PG_PHILOX(offset + (ulong)b, key, w0, w1, w2, w3)
        long i = 2 * b;
        ST_O(out, i, low + (long)(((ulong)w0 << 32 | w1) % range));
        if (i + 1 < n) ST_O(out, i + 1, low + (long)(((ulong)w2 << 32 | w3) % range));
    }
}
