# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""PyTorch's CPU random generator, bit for bit: mt19937 plus PyTorch's transforms, vectorised over the output.

``CPUGenerator`` keeps exactly the state PyTorch's ``CPUGeneratorImpl`` keeps (the 624-word mt19937
state, ``left``/``next`` counters, the seed and the cached second Box-Muller value) so that
``get_state()`` returns PyTorch's 5056-byte layout.  Each sampler draws the same 32/64-bit words in the
same order as PyTorch's CPU kernel and applies the same floating-point operations, so the results are
identical (see docs/internals.md, "Random numbers").
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t, int64_t, int32_t
from libc.string cimport memcpy, memset
from libc.math cimport log, log1p, sqrt, cos, sin, logf, cosf, sinf, sqrtf, fma

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    /* One lane of the Cephes-style float log/sincos that PyTorch's AVX2 normal_ kernel uses
       (avx_mathfun.h): the same float operations in the same order, with a fused multiply-add
       wherever the compiler of PyTorch's wheel contracts a product into the following add (found
       by comparing 400k samples with torch 2.13), so the same bits. */
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define PG_FMA __attribute__((target("avx2,fma"), optimize("O3")))   /* only called on CPUs with AVX2 + FMA */
    #else
    #define PG_FMA
    #endif
    static inline uint32_t pg_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
    static inline float pg_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

    static inline PG_FMA float pg_log_ps(float x) {
        int invalid = (x <= 0.0f);
        float one = 1.0f;
        float mn = pg_u2f(0x00800000u);
        x = (x > mn) ? x : mn;   /* _mm256_max_ps(x, min): returns the second operand on NaN */
        int32_t imm0 = (int32_t)(pg_f2u(x) >> 23);
        x = pg_u2f((pg_f2u(x) & ~0x7f800000u) | pg_f2u(0.5f));
        imm0 = imm0 - 0x7f;
        float e = (float)imm0;
        e = e + one;
        int lt = x < 0.707106781186547524f;
        float tmp = lt ? x : 0.0f;
        x = x - one;
        e = e - (lt ? one : 0.0f);
        x = x + tmp;
        float z = x * x;
        float y = 7.0376836292E-2f;
        y = fmaf(y, x, -1.1514610310E-1f);
        y = fmaf(y, x, 1.1676998740E-1f);
        y = fmaf(y, x, -1.2420140846E-1f);
        y = fmaf(y, x, 1.4249322787E-1f);
        y = fmaf(y, x, -1.6668057665E-1f);
        y = fmaf(y, x, 2.0000714765E-1f);
        y = fmaf(y, x, -2.4999993993E-1f);
        y = fmaf(y, x, 3.3333331174E-1f);
        y = y * x;
        y = fmaf(y, z, e * -2.12194440e-4f);
        y = fmaf(-z, 0.5f, y);
        x = x + y;
        x = fmaf(e, 0.693359375f, x);
        x = pg_u2f(pg_f2u(x) | (0u - (uint32_t)invalid));   /* NaN for x <= 0, branch-free */
        return x;
    }

    static inline PG_FMA void pg_sincos_ps(float x, float *s, float *c) {
        uint32_t sign_bit_sin = pg_f2u(x) & 0x80000000u;
        x = pg_u2f(pg_f2u(x) & 0x7fffffffu);
        float y = x * 1.27323954473516f;
        int32_t imm2 = (int32_t)y;   /* cvttps: truncation */
        imm2 = imm2 + 1;
        imm2 = imm2 & ~1;
        y = (float)imm2;
        int32_t imm4 = imm2;
        uint32_t swap_sign_bit_sin = ((uint32_t)(imm2 & 4)) << 29;
        int poly = (imm2 & 2) == 0;
        x = fmaf(y, -0.78515625f, x);
        x = fmaf(y, -2.4187564849853515625e-4f, x);
        x = fmaf(y, -3.77489497744594108e-8f, x);
        imm4 = imm4 - 2;
        uint32_t sign_bit_cos = ((uint32_t)(~imm4 & 4)) << 29;
        sign_bit_sin ^= swap_sign_bit_sin;
        float z = x * x;
        float yc = 2.443315711809948E-005f;
        yc = fmaf(yc, z, -1.388731625493765E-003f);
        yc = fmaf(yc, z, 4.166664568298827E-002f);
        yc = yc * z;
        yc = fmaf(yc, z, -(z * 0.5f));
        yc = yc + 1.0f;
        float y2 = -1.9515295891E-4f;
        y2 = fmaf(y2, z, 8.3321608736E-3f);
        y2 = fmaf(y2, z, -1.6666654611E-1f);
        y2 = y2 * z;
        y2 = fmaf(y2, x, x);
        float ysin2 = poly ? y2 : 0.0f;
        float ysin1 = poly ? 0.0f : yc;
        y2 = y2 - ysin2;
        yc = yc - ysin1;
        float xs = ysin1 + ysin2;
        float xc = yc + y2;
        *s = pg_u2f(pg_f2u(xs) ^ sign_bit_sin);
        *c = pg_u2f(pg_f2u(xc) ^ sign_bit_cos);
    }

    /* One block of 16 of PyTorch's normal_fill_16_AVX2: data[0..8) and data[8..16) are the two uniforms. */
    static PG_FMA void pg_fill16_avx2(float *data, float mean, float std) {
        const float two_pi = (float)(2.0 * 3.141592653589793238462643383279502);
        for (int j = 0; j < 8; j++) {
            float u1 = 1.0f - data[j], u2 = data[j + 8], s, c;
            float radius = sqrtf(-2.0f * pg_log_ps(u1));
            pg_sincos_ps(two_pi * u2, &s, &c);
            data[j] = fmaf(radius * c, std, mean);
            data[j + 8] = fmaf(radius * s, std, mean);
        }
    }

    static int pg_cpu_avx2_fma(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }

    /* float -> nearest float16 (ties to even) -> float, as c10::Half's conversion rounds. */
    static float pg_round_half(float f) {
        float a = fabsf(f);
        if (a != a) return f;
        if (a >= 65520.0f) return f > 0 ? INFINITY : -INFINITY;
        if (a < 6.103515625e-05f) return copysignf(nearbyintf(a * 16777216.0f) / 16777216.0f, f);
        uint32_t m = pg_f2u(a);
        m += 0xfffu + ((m >> 13) & 1u);
        m &= ~0x1fffu;
        return copysignf(pg_u2f(m), f);
    }

    /* Intel MKL's MCG31m1 stream + Bernoulli (ICDF), as used by PyTorch's bernoulli_(p) on Intel CPUs. */
    static uint32_t pg_mcg31_skip(uint32_t x, uint64_t n) {
        uint64_t a = 1132489760ULL, m = 2147483647ULL, r = 1, xx = x;
        while (n) { if (n & 1) r = (r * a) % m; a = (a * a) % m; n >>= 1; }
        return (uint32_t)((r * xx) % m);
    }
    """
    void pg_fill16_avx2(float *data, float mean, float std) nogil
    int pg_cpu_avx2_fma()
    uint32_t pg_mcg31_skip(uint32_t x, uint64_t n) nogil
    float pg_round_half(float f) nogil

def cpu_has_avx2_fma():
    """Whether this x86 CPU has AVX2 and FMA (PyTorch then runs its AVX2 normal_ kernel; so do we)."""
    return bool(pg_cpu_avx2_fma())


DEF N = 624
DEF M = 397
DEF STATE_BYTES = 5056


cdef class CPUGenerator:
    """mt19937 with PyTorch's seeding, counters and normal cache (``at::CPUGeneratorImpl``)."""
    cdef uint32_t st[N]
    cdef uint64_t seed_
    cdef int left_
    cdef int seeded_
    cdef uint32_t next_
    cdef double nd_value
    cdef bint nd_valid
    cdef public object next_float_normal

    def __init__(self, seed=67280421310721):
        self.manual_seed(seed)

    def manual_seed(self, seed):
        cdef uint64_t s = <uint64_t>(int(seed) & 0xFFFFFFFFFFFFFFFF)
        cdef int j
        self.seed_ = s
        self.seeded_ = 1
        self.st[0] = <uint32_t>(s & 0xffffffffU)
        for j in range(1, N):
            self.st[j] = <uint32_t>(1812433253 * (self.st[j - 1] ^ (self.st[j - 1] >> 30)) + j)
        self.left_ = 1
        self.next_ = 0
        self.nd_valid = False
        self.next_float_normal = None

    @property
    def next_double_normal(self):
        """The cached second Box-Muller value of the double path (None when there is none)."""
        return self.nd_value if self.nd_valid else None

    @next_double_normal.setter
    def next_double_normal(self, v):
        self.nd_valid = v is not None
        self.nd_value = v if v is not None else 0.0

    def initial_seed(self):
        return self.seed_

    cdef inline void _twist(self) noexcept nogil:
        cdef int i
        cdef uint32_t y
        for i in range(N - M):
            y = (self.st[i] & 0x80000000U) | (self.st[i + 1] & 0x7fffffffU)
            self.st[i] = self.st[i + M] ^ (y >> 1) ^ ((0U - (self.st[i + 1] & 1U)) & 0x9908b0dfU)
        for i in range(N - M, N - 1):
            y = (self.st[i] & 0x80000000U) | (self.st[i + 1] & 0x7fffffffU)
            self.st[i] = self.st[i + M - N] ^ (y >> 1) ^ ((0U - (self.st[i + 1] & 1U)) & 0x9908b0dfU)
        y = (self.st[N - 1] & 0x80000000U) | (self.st[0] & 0x7fffffffU)
        self.st[N - 1] = self.st[M - 1] ^ (y >> 1) ^ ((0U - (self.st[0] & 1U)) & 0x9908b0dfU)
        self.left_ = N
        self.next_ = 0

    cdef inline uint32_t r32(self) noexcept nogil:
        cdef uint32_t y
        self.left_ -= 1
        if self.left_ == 0:
            self._twist()
        y = self.st[self.next_]
        self.next_ += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c5680U
        y ^= (y << 15) & 0xefc60000U
        y ^= y >> 18
        return y

    cdef inline uint64_t r64(self) noexcept nogil:
        cdef uint64_t hi = self.r32()
        cdef uint64_t lo = self.r32()
        return (hi << 32) | lo

    cdef inline double u53(self) noexcept nogil:
        return <double>(self.r64() & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0)

    cdef inline float u24(self) noexcept nogil:
        return <float>(self.r32() & ((1 << 24) - 1)) * (<float>1.0 / <float>16777216.0)

    # -- state in PyTorch's layout (CPUGeneratorImplState, 5056 bytes, little-endian) -----------
    def get_state(self):
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.zeros(STATE_BYTES, dtype=np.uint8)
        cdef unsigned char *p = <unsigned char *>out.data
        cdef uint64_t v
        cdef int i
        cdef double d
        cdef float f
        memcpy(p, &self.seed_, 8)
        memcpy(p + 8, &self.left_, 4)
        memcpy(p + 12, &self.seeded_, 4)
        v = self.next_
        memcpy(p + 16, &v, 8)
        for i in range(N):
            v = self.st[i]
            memcpy(p + 24 + 8 * i, &v, 8)
        # normal_x (5016), normal_y (5024), normal_rho (5032), normal_is_valid (5040)
        if self.next_double_normal is not None:
            d = self.next_double_normal
            memcpy(p + 5024, &d, 8)
            i = 1
            memcpy(p + 5040, &i, 4)
        if self.next_float_normal is not None:
            f = self.next_float_normal
            memcpy(p + 5048, &f, 4)
            p[5052] = 1
        return out

    def set_state(self, state):
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] arr = np.ascontiguousarray(state, dtype=np.uint8).reshape(-1)
        if arr.shape[0] != STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_BYTES} but found the input RNG "
                               f"state size to be {arr.shape[0]}")
        cdef unsigned char *p = <unsigned char *>arr.data
        cdef uint64_t v, seed
        cdef int left, seeded, valid, i
        cdef double d
        cdef float f
        memcpy(&seed, p, 8)
        memcpy(&left, p + 8, 4)
        memcpy(&seeded, p + 12, 4)
        memcpy(&v, p + 16, 8)
        if left < 1 or left > N or <uint64_t>(<uint32_t>v) > N or seeded == 0:
            raise RuntimeError("Invalid mt19937 state")
        self.seed_ = seed
        self.left_ = left
        self.seeded_ = seeded
        self.next_ = <uint32_t>v
        for i in range(N):
            memcpy(&v, p + 24 + 8 * i, 8)
            self.st[i] = <uint32_t>v
        memcpy(&valid, p + 5040, 4)
        memcpy(&d, p + 5024, 8)
        self.next_double_normal = d if valid else None
        memcpy(&f, p + 5048, 4)
        self.next_float_normal = f if p[5052] else None
        return self

    def clone_state_from(self, CPUGenerator other):
        memcpy(self.st, other.st, sizeof(uint32_t) * N)
        self.seed_, self.left_, self.seeded_, self.next_ = other.seed_, other.left_, other.seeded_, other.next_
        self.next_double_normal, self.next_float_normal = other.next_double_normal, other.next_float_normal

    # -- raw words ----------------------------------------------------------------------------
    def random(self):
        """One 32-bit word (``generator->random()``)."""
        return self.r32()

    def random64(self):
        return self.r64()

    def words32(self, Py_ssize_t n):
        cdef cnp.ndarray[cnp.uint32_t, ndim=1] out = np.empty(n, dtype=np.uint32)
        cdef Py_ssize_t i
        with nogil:
            for i in range(n):
                out[i] = self.r32()
        return out

    # -- uniform_(from, to) ---------------------------------------------------------------------
    def uniform_float(self, Py_ssize_t n, float lo, float hi, bint fused=True):
        """float32: 24 random bits of a 32-bit word, ``x * (to - from) + from`` in float."""
        cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.empty(n, dtype=np.float32)
        cdef Py_ssize_t i
        cdef float r = hi - lo, x
        with nogil:
            for i in range(n):
                x = self.u24()
                out[i] = fmaf(x, r, lo) if fused else x * r + lo
        return out

    def uniform_double(self, Py_ssize_t n, double lo, double hi):
        """float64: 53 random bits of a 64-bit draw (two words, high first)."""
        cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(n, dtype=np.float64)
        cdef Py_ssize_t i
        cdef double r = hi - lo
        with nogil:
            for i in range(n):
                out[i] = fma(self.u53(), r, lo)
        return out

    def uniform_bits(self, Py_ssize_t n, int digits, float lo, float hi):
        """Half/BFloat16: ``digits`` bits of a 32-bit word, computed in float (the caller rounds)."""
        cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.empty(n, dtype=np.float32)
        cdef Py_ssize_t i
        cdef uint32_t mask = (1u << digits) - 1
        cdef float div = <float>1.0 / <float>(1u << digits), r = hi - lo, x
        if digits == 11:
            r = pg_round_half(r)   # c10::Half arithmetic: to - from is rounded to a Half
        with nogil:
            for i in range(n):
                x = <float>(self.r32() & mask) * div
                out[i] = fmaf(x, r, lo)
        return out

    # -- normal_ ---------------------------------------------------------------------------------
    def normal_scalar(self, Py_ssize_t n, double mean, double std):
        """The per-element path (size < 16 or not contiguous): ``normal_distribution<double>``, Box-Muller
        on two 53-bit uniforms with the sine cached in the generator for the next draw."""
        cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(n, dtype=np.float64)
        cdef Py_ssize_t i
        cdef double u1, u2, r, theta, ret
        for i in range(n):
            if self.nd_valid:
                ret = self.nd_value
                self.nd_valid = False
            else:
                u1 = self.u53()
                u2 = self.u53()
                r = sqrt(-2.0 * log1p(-u2))
                theta = 2.0 * 3.141592653589793238462643383279502 * u1
                self.nd_value = r * sin(theta)
                self.nd_valid = True
                ret = r * cos(theta)
            out[i] = fma(ret, std, mean)  # PyTorch's build fuses val * std + mean
        return out

    def normal_fill_double(self, Py_ssize_t n, double mean, double std):
        """float64, size >= 16, contiguous: uniforms first, then Box-Muller over blocks of 16 (PyTorch's
        ``normal_fill``); a ragged tail redraws the last 16 values."""
        cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(n, dtype=np.float64)
        cdef double *d = <double *>out.data
        cdef Py_ssize_t i
        with nogil:
            for i in range(n):
                d[i] = self.u53()
            i = 0
            while i < n - 15:
                _fill16_double(d + i, mean, std)
                i += 16
            if n % 16 != 0:
                for i in range(16):
                    d[n - 16 + i] = self.u53()
                _fill16_double(d + n - 16, mean, std)
        return out

    def normal_fill_float(self, Py_ssize_t n, float mean, float std, bint avx2=True):
        """float32, size >= 16, contiguous: PyTorch's AVX2 kernel (Cephes float log/sincos, fused
        multiply-add for ``* std + mean``) or, without AVX2, the scalar float kernel."""
        cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.empty(n, dtype=np.float32)
        cdef float *d = <float *>out.data
        cdef Py_ssize_t i
        with nogil:
            for i in range(n):
                d[i] = self.u24()
            i = 0
            while i < n - 15:
                _fill16_float(d + i, mean, std, avx2)
                i += 16
            if n % 16 != 0:
                for i in range(16):
                    d[n - 16 + i] = self.u24()
                _fill16_float(d + n - 16, mean, std, avx2)
        return out

    def normal_fill_half(self, Py_ssize_t n, float mean, float std, bint avx2=True):
        """float16, size >= 16, contiguous: PyTorch computes in float, drawing 16 uniforms per block of 16
        (and 16 fresh ones for a ragged tail, written to the last 16 places); float32 results, the
        caller rounds them to float16."""
        cdef Py_ssize_t m = (n // 16) * 16 + (16 if n % 16 else 0)
        full = self.normal_fill_float(m, mean, std, avx2)
        if m == n:
            return full
        return np.concatenate([full[:n - 16], full[m - 16:]])

    def exponential(self, Py_ssize_t n, double lambd):
        """``exponential_``: ``-1/lambda * log1p(-u)`` on a 53-bit uniform, in double (the caller casts)."""
        cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(n, dtype=np.float64)
        cdef Py_ssize_t i
        cdef double c = -1.0 / lambd
        with nogil:
            for i in range(n):
                out[i] = c * log1p(-self.u53())
        return out

    def multinomial_replacement(self, cnp.ndarray rows, Py_ssize_t n_sample):
        """``multinomial(..., replacement=True)`` with more than one sample: per row, the running sum in
        the input's precision, normalised by the total, last bucket set to 1, then one 53-bit uniform and
        a binary search (first bucket with ``cum >= u``) per sample."""
        cdef bint dbl = rows.dtype == np.float64
        cdef cnp.ndarray[cnp.float64_t, ndim=2] r64
        cdef cnp.ndarray[cnp.float32_t, ndim=2] r32
        cdef Py_ssize_t n_dist = rows.shape[0], k = rows.shape[1], i, j, lo, hi, mid
        cdef cnp.ndarray[cnp.int64_t, ndim=2] out = np.empty((n_dist, n_sample), dtype=np.int64)
        cdef cnp.ndarray[cnp.float64_t, ndim=1] cd = np.empty(k, dtype=np.float64)
        cdef cnp.ndarray[cnp.float32_t, ndim=1] cf = np.empty(k, dtype=np.float32)
        cdef double sd, u
        cdef float sf
        if dbl:
            r64 = np.ascontiguousarray(rows, dtype=np.float64)
        else:
            r32 = np.ascontiguousarray(rows, dtype=np.float32)
        for i in range(n_dist):
            if dbl:
                sd = 0
                for j in range(k):
                    sd += r64[i, j]
                    cd[j] = sd
                for j in range(k):
                    cd[j] /= sd
                cd[k - 1] = 1
            else:
                sf = 0
                for j in range(k):
                    sf += r32[i, j]
                    cf[j] = sf
                for j in range(k):
                    cf[j] /= sf
                cf[k - 1] = 1
            for j in range(n_sample):
                u = self.u53()
                lo, hi = 0, k
                while hi - lo > 0:
                    mid = lo + (hi - lo) // 2
                    if (cd[mid] if dbl else <double>cf[mid]) < u:
                        lo = mid + 1
                    else:
                        hi = mid
                out[i, j] = lo
        return out

    # -- integers ----------------------------------------------------------------------------------
    def randint(self, Py_ssize_t n, uint64_t rng, int64_t base):
        """``random_(from, to)``: ``(word % range) + from``; a range >= 2**28 uses 64-bit draws."""
        cdef cnp.ndarray[cnp.int64_t, ndim=1] out = np.empty(n, dtype=np.int64)
        cdef Py_ssize_t i
        cdef bint wide = rng >= (1ULL << 28)
        with nogil:
            for i in range(n):
                if wide:
                    out[i] = <int64_t>((self.r64() % rng) + <uint64_t>base)
                else:
                    out[i] = <int64_t>((<uint64_t>self.r32() % rng) + <uint64_t>base)
        return out

    def random_words(self, Py_ssize_t n, bint wide, uint64_t modulus):
        """``random_()`` without bounds: a 32- or 64-bit word modulo ``modulus`` (0: no modulo)."""
        cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.empty(n, dtype=np.uint64)
        cdef Py_ssize_t i
        cdef uint64_t w
        with nogil:
            for i in range(n):
                w = self.r64() if wide else <uint64_t>self.r32()
                out[i] = w % modulus if modulus else w
        return out

    def randperm(self, int64_t n):
        """Fisher-Yates with 32-bit draws: for i < n-1, swap r[i] with r[i + random() % (n - i)]."""
        cdef cnp.ndarray[cnp.int64_t, ndim=1] out = np.arange(n, dtype=np.int64)
        cdef int64_t *r = <int64_t *>out.data
        cdef int64_t i, z, t
        with nogil:
            for i in range(n - 1):
                z = <int64_t>(<uint64_t>self.r32() % <uint64_t>(n - i))
                t = r[i]
                r[i] = r[z + i]
                r[z + i] = t
        return out

    # -- Bernoulli -----------------------------------------------------------------------------------
    def bernoulli_mkl(self, Py_ssize_t n, double p):
        """``bernoulli_(p)`` on Intel CPUs (PyTorch uses MKL there): seed = one 32-bit word, then an MCG31m1
        stream, 1 where ``u < p``."""
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n, dtype=np.uint8)
        cdef uint32_t seed = self.r32()
        cdef uint64_t x = seed % 2147483647u
        cdef Py_ssize_t i
        if x == 0:
            x = 1
        with nogil:
            for i in range(n):
                out[i] = 1 if (<double>x / 2147483647.0) < p else 0
                x = (x * <uint64_t>1132489760) % <uint64_t>2147483647
        return out

    def bernoulli_double(self, cnp.ndarray p):
        """Per-element probabilities in float64 (and scalar p on non-Intel CPUs): 53-bit uniform < p."""
        cdef cnp.ndarray[cnp.float64_t, ndim=1] pp = np.ascontiguousarray(p, dtype=np.float64).reshape(-1)
        cdef Py_ssize_t n = pp.shape[0], i
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n, dtype=np.uint8)
        with nogil:
            for i in range(n):
                out[i] = self.u53() < pp[i]
        return out

    def bernoulli_double_scalar(self, Py_ssize_t n, double p):
        """``bernoulli_double`` with one probability for all ``n`` draws (no array of p): the same draws."""
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n, dtype=np.uint8)
        cdef Py_ssize_t i
        with nogil:
            for i in range(n):
                out[i] = self.u53() < p
        return out

    def bernoulli_float(self, cnp.ndarray p):
        """Per-element probabilities in float32/float16: 24-bit float uniform < p (as float)."""
        cdef cnp.ndarray[cnp.float32_t, ndim=1] pp = np.ascontiguousarray(p, dtype=np.float32).reshape(-1)
        cdef Py_ssize_t n = pp.shape[0], i
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n, dtype=np.uint8)
        with nogil:
            for i in range(n):
                out[i] = self.u24() < pp[i]
        return out

    def uniform_u53(self, Py_ssize_t n):
        cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(n, dtype=np.float64)
        cdef Py_ssize_t i
        with nogil:
            for i in range(n):
                out[i] = self.u53()
        return out


cdef inline void _fill16_double(double *data, double mean, double std) noexcept nogil:
    cdef int j
    cdef double u1, u2, radius, theta
    for j in range(8):
        u1 = 1 - data[j]
        u2 = data[j + 8]
        radius = sqrt(-2 * log(u1))
        theta = 2.0 * 3.141592653589793238462643383279502 * u2
        data[j] = fma(radius * cos(theta), std, mean)
        data[j + 8] = fma(radius * sin(theta), std, mean)


cdef inline void _fill16_float(float *data, float mean, float std, bint avx2) noexcept nogil:
    cdef int j
    cdef float u1, u2, radius, theta
    if avx2:
        pg_fill16_avx2(data, mean, std)
        return
    for j in range(8):  # PyTorch's scalar normal_fill_16<float> (CPUs without AVX2)
        u1 = 1 - data[j]
        u2 = data[j + 8]
        radius = sqrtf(-2 * logf(u1))
        theta = <float>(2.0 * 3.141592653589793238462643383279502 * u2)
        data[j] = radius * cosf(theta) * std + mean
        data[j + 8] = radius * sinf(theta) * std + mean


cdef extern from "math.h":
    float fmaf(float x, float y, float z) nogil
    double fma(double x, double y, double z) nogil


cdef inline float _fmaf(float a, float b, float c) noexcept nogil:
    return fmaf(a, b, c)


