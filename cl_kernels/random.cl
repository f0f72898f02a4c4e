/* random.cl: counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * Philox maps (counter, key) to four 32-bit random words with ten rounds of multiply/xor.  Element i
 * of a request uses counter = offset + i/4, so any work-item can compute its numbers independently
 * and a seed (key) plus an offset reproduces a stream exactly, on any device.
 *   uniform_k: out[i] = low + (high - low) * u,   u in [0, 1) with 24 random bits
 *   normal_k:  Box-Muller on pairs of uniforms
 *   TO / ST_O(p, i, v): output storage type and store
 */
inline uint4 philox(uint4 ctr, uint2 key) {
    for (int r = 0; r < 10; ++r) {
        uint hi0 = mul_hi(0xD2511F53u, ctr.x), lo0 = 0xD2511F53u * ctr.x;
        uint hi1 = mul_hi(0xCD9E8D57u, ctr.z), lo1 = 0xCD9E8D57u * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
        key += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    return ctr;
}

inline float pg_u01(uint x) { return (x >> 8) * (1.0f / 16777216.0f); }

/* Word i of the stream.  A work-item walks its elements in order (a chunk on CPUs), so it keeps the last
 * Philox block (*blk, valid when *have) and computes a new one only when word i lies in the next block:
 * one block per 4 uniforms or normals instead of one per word (rand 1M floats on PoCL 70 -> ~15 ms). */
inline uint pg_word(ulong i, ulong offset, uint2 key, int* have, ulong* cur, uint4* blk) {
    ulong c = offset + i / 4;
    if (!*have || c != *cur) {
        *blk = philox((uint4)((uint)c, (uint)(c >> 32), 0u, 0u), key);
        *cur = c;
        *have = 1;
    }
    uint k = i % 4;
    return k == 0 ? blk->x : k == 1 ? blk->y : k == 2 ? blk->z : blk->w;
}
#define PG_WORDS int pg_have_ = 0; ulong pg_cur_ = 0; uint4 pg_blk_ = (uint4)(0u)
#define PG_WORD(i) pg_word((i), offset, key, &pg_have_, &pg_cur_, &pg_blk_)

__kernel void uniform_k(__global TO* out, const long n, const ulong offset, const uint2 key, const float low,
                        const float high) {
    PG_WORDS;
    PG_FOR(i, n) ST_O(out, i, low + (high - low) * pg_u01(PG_WORD(i)));
}

__kernel void normal_k(__global TO* out, const long n, const ulong offset, const uint2 key, const float mean,
                       const float std) {
    PG_WORDS;
    PG_FOR(i, n) {
        long pair = i / 2;
        float u1 = pg_u01(PG_WORD(2 * pair)) + (0.5f / 16777216.0f);
        float u2 = pg_u01(PG_WORD(2 * pair + 1));
        float r = sqrt(-2.0f * log(u1));
        float z = (i % 2 == 0) ? r * cospi(2.0f * u2) : r * sinpi(2.0f * u2);
        ST_O(out, i, mean + std * z);
    }
}

/* integers in [low, high): 64-bit multiply-shift of a 32-bit word (bias < 2^-32 * range) */
__kernel void randint_k(__global TO* out, const long n, const ulong offset, const uint2 key, const long low,
                        const long high) {
    ulong range = (ulong)(high - low);
    PG_WORDS;
    PG_FOR(i, n) {
        ulong hi = PG_WORD(2 * i);
        ulong w = (hi << 32) | PG_WORD(2 * i + 1);
        ST_O(out, i, low + (long)(w % range));
    }
}
