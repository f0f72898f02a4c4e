/* Vectorisable float32 math for the CPU backend (gelu, erf): plain C loops that gcc -O3 turns into SIMD.
 *
 * No libm calls inside the loops (a libm call per element blocks vectorisation): exp is Cody-Waite range
 * reduction + Cephes' degree-6 polynomial + building 2^n from its exponent bits; erf is Abramowitz &
 * Stegun 7.1.26 (|error| <= 1.5e-7), the same approximation PyTorch's vectorised CPU erf uses.
 */
#include <stdint.h>
#include <string.h>
#include <math.h>

/* One build runs everywhere: gcc compiles each loop for AVX-512, AVX2+FMA and the x86-64 baseline and
 * picks at load time (ifunc); other compilers/architectures get the plain loop. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PG_LOOP __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define PG_LOOP
#endif

static inline float pg_expf(float y) {
    y = y < -87.0f ? -87.0f : y;           /* 2^-126 is the smallest normal: results below are ~0 */
    y = y > 88.0f ? 88.0f : y;
    float v = y * 1.44269504088896341f;
    float n = (v + 12582912.0f) - 12582912.0f;  /* round to nearest integer (|v| < 2^22) */
    float r = y - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

/* 0.5 * erfc(z) * exp(z*z) / exp(z*z) for z >= 0 ... as A&S 7.1.26: erfc(z) = t*P(t)*exp(-z^2) */
static inline float pg_erfc_pos(float z) {
    float t = 1.0f / (1.0f + 0.3275911f * z);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    return t * p * pg_expf(-z * z);
}

PG_LOOP static void pg_erf_f32(const float *x, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = x[i];
        float z = a < 0 ? -a : a;
        float e = 1.0f - pg_erfc_pos(z);
        /* |x| < 0.5: Taylor series (7 terms, < 2e-8 relative), as 1 - erfc loses the small values' digits */
        float q = a * a;
        float s = 1.2055333e-4f;             /* 2/sqrt(pi) * (-1)^n / (n! (2n+1)), n = 6 .. 0 */
        s = s * q - 8.5483270e-4f;
        s = s * q + 5.2239776e-3f;
        s = s * q - 2.6866171e-2f;
        s = s * q + 1.1283792e-1f;
        s = s * q - 3.7612639e-1f;
        s = s * q + 1.1283792f;
        out[i] = z < 0.5f ? a * s : (a < 0 ? -e : e);
    }
}

/* gelu(x) = x * Phi(x) = max(x, 0) - |x| * 0.5 * erfc(|x| / sqrt(2)) */
PG_LOOP static void pg_gelu_f32(const float *x, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = x[i];
        float z = a < 0 ? -a : a;
        float h = 0.5f * pg_erfc_pos(z * 0.70710678118654752f);
        h = z > 13.0f ? 0.0f : h;                /* Phi(-13) < 1e-38: 0, as PyTorch's float32 gives */
        out[i] = a > 0 ? a - a * h : a * h;      /* x * Phi(x), with Phi(x) = 1 - Phi(-x) */
    }
}

/* d gelu / dx = Phi(x) + x * phi(x) */
PG_LOOP static void pg_gelu_grad_f32(const float *x, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = x[i];
        float z = a < 0 ? -a : a;
        float h = 0.5f * pg_erfc_pos(z * 0.70710678118654752f);
        float pdf = 0.39894228040143268f * pg_expf(-0.5f * a * a);
        h = z > 13.0f ? 0.0f : h;
        pdf = z > 13.0f ? 0.0f : pdf;            /* so x * pdf is nan at +-inf, as in PyTorch */
        float cdf = a < 0 ? h : 1.0f - h;
        out[i] = cdf + a * pdf;
    }
}

/* tanh form: 0.5x(1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) */
PG_LOOP static void pg_gelu_tanh_f32(const float *x, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = x[i];
        float u = 0.79788456080286536f * (a + 0.044715f * a * a * a);
        float e = pg_expf(-2.0f * u);
        out[i] = -2.0f * u > 88.0f ? a * 0.0f : a / (1.0f + e);   /* -0 (nan at -inf) where exp overflows */
    }
}

/* d/dx: 0.5(1 + T) + 0.5 x (1 - T^2) sqrt(2/pi)(1 + 3 * 0.044715 x^2), T = tanh(u) = 2s - 1 */
PG_LOOP static void pg_gelu_tanh_grad_f32(const float *x, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = x[i];
        float u = 0.79788456080286536f * (a + 0.044715f * a * a * a);
        float s = 1.0f / (1.0f + pg_expf(-2.0f * u));   /* 0.5 (1 + T) */
        s = -2.0f * u > 88.0f ? 0.0f : s;
        float du = 0.79788456080286536f * (1.0f + 0.134145f * a * a);
        out[i] = s + a * 2.0f * s * (1.0f - s) * du;
    }
}

/* relu's backward (PyTorch's threshold_backward): y <= 0 ? 0 : g, so a NaN y passes g */
PG_LOOP static void pg_threshold_bwd_f32(const float *g, const float *y, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = y[i] <= 0.0f ? 0.0f : g[i];
}

PG_LOOP static void pg_threshold_bwd_f64(const double *g, const double *y, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = y[i] <= 0.0 ? 0.0 : g[i];
}

static inline float pg_sigmoidf(float x) {
    return 1.0f / (1.0f + pg_expf(-x));
}

/* Cephes' tanhf: an odd polynomial below |x| = 0.625 (no cancellation for small x), 1 - 2 / (exp(2|x|) + 1)
 * above, with the sign put back; |x| > 9 is +-1 to float precision */
static inline float pg_tanhf(float x) {
    float z = x < 0 ? -x : x;
    float s = x * x;
    float p = -5.70498872745e-3f;
    p = p * s + 2.06390887954e-2f;
    p = p * s - 5.37397155531e-2f;
    p = p * s + 1.33314422036e-1f;
    p = p * s - 3.33332819422e-1f;
    float small = p * s * x + x;
    float big = 1.0f - 2.0f / (pg_expf(2.0f * (z > 9.0f ? 9.0f : z)) + 1.0f);
    big = z > 9.0f ? 1.0f : big;
    big = x < 0 ? -big : big;
    small = x == 0.0f ? x : small;           /* keeps -0 */
    return z < 0.625f ? small : (x != x ? x : big);
}

/* One LSTM time step for N rows of H units: gates z = gi + gh (i, f, g, o blocks of H per row), written to
 * acts as (sigmoid, sigmoid, tanh, sigmoid); c = f c_prev + i g; h = o tanh(c).  One row at a time, so
 * every inner loop runs over H units with restrict pointers (gcc vectorises it). */
PG_LOOP static void pg_lstm_row_fwd_f32(const float *restrict xi, const float *restrict xf,
                                        const float *restrict xg, const float *restrict xo,
                                        const float *restrict hi, const float *restrict hf,
                                        const float *restrict hg, const float *restrict ho,
                                        const float *restrict cp, float *restrict h, float *restrict c,
                                        float *restrict ai, float *restrict af, float *restrict ag,
                                        float *restrict ao, int64_t H) {
    for (int64_t j = 0; j < H; j++) {
        float i = pg_sigmoidf(xi[j] + hi[j]);
        float f = pg_sigmoidf(xf[j] + hf[j]);
        float g = pg_tanhf(xg[j] + hg[j]);
        float o = pg_sigmoidf(xo[j] + ho[j]);
        ai[j] = i; af[j] = f; ag[j] = g; ao[j] = o;
        float cn = f * cp[j] + i * g;
        c[j] = cn;
        h[j] = o * pg_tanhf(cn);
    }
}

static void pg_lstm_fwd_f32(const float *gi, const float *gh, const float *c_prev, float *h, float *c,
                            float *acts, int64_t N, int64_t H) {
    for (int64_t n = 0; n < N; n++) {
        const float *x = gi + n * 4 * H, *y = gh + n * 4 * H;
        float *a = acts + n * 4 * H;
        pg_lstm_row_fwd_f32(x, x + H, x + 2 * H, x + 3 * H, y, y + H, y + 2 * H, y + 3 * H, c_prev + n * H,
                            h + n * H, c + n * H, a, a + H, a + 2 * H, a + 3 * H, H);
    }
}

/* Its backward: gate gradients (before the nonlinearities) into dgates, the previous cell's gradient into
 * dc_prev; dh = dout + dh_next, dc = dc_next + dh o (1 - tanh(c)^2) */
PG_LOOP static void pg_lstm_row_bwd_f32(float *restrict di, float *restrict df, float *restrict dg,
                                        float *restrict dO, float *restrict dcp, const float *restrict dout,
                                        const float *restrict dhn, const float *restrict dcn,
                                        const float *restrict ai, const float *restrict af,
                                        const float *restrict ag, const float *restrict ao,
                                        const float *restrict c, const float *restrict cp, int64_t H) {
    for (int64_t j = 0; j < H; j++) {
        float i = ai[j], f = af[j], g = ag[j], o = ao[j];
        float tc = pg_tanhf(c[j]);
        float dh = dout[j] + dhn[j];
        float dc = dcn[j] + dh * o * (1.0f - tc * tc);
        di[j] = dc * g * i * (1.0f - i);
        df[j] = dc * cp[j] * f * (1.0f - f);
        dg[j] = dc * i * (1.0f - g * g);
        dO[j] = dh * tc * o * (1.0f - o);
        dcp[j] = dc * f;
    }
}

static void pg_lstm_bwd_f32(float *dgates, float *dc_prev, const float *dout, const float *dh_next,
                            const float *dc_next, const float *acts, const float *c, const float *c_prev,
                            int64_t N, int64_t H) {
    for (int64_t n = 0; n < N; n++) {
        float *d = dgates + n * 4 * H;
        const float *a = acts + n * 4 * H;
        int64_t k = n * H;
        pg_lstm_row_bwd_f32(d, d + H, d + 2 * H, d + 3 * H, dc_prev + k, dout + k, dh_next + k, dc_next + k,
                            a, a + H, a + 2 * H, a + 3 * H, c + k, c_prev + k, H);
    }
}

/* -- row ops (softmax, log_softmax, layer norm) over C-contiguous float32 rows ------------------------------
 * Sums run in 8 independent lanes (gcc vectorises them without reassociating a single chain). */
static inline float pg_sum_f32(const float *restrict x, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[j + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < n; j++) s += x[j];
    return s;
}

static inline float pg_dot_f32(const float *restrict a, const float *restrict b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[j + k] * b[j + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < n; j++) s += a[j] * b[j];
    return s;
}

/* exp of d <= 0 (a shifted row): exactly 0 below -87.3 (where pg_expf clamps), so masked (-inf) entries give 0 */
static inline float pg_exp_nonpos(float d) {
    return d < -87.3f ? 0.0f : pg_expf(d);
}

/* softmax / log_softmax of each row: shifted by the row max (a NaN makes the sum, hence the row, NaN) */
PG_LOOP static void pg_softmax_rows_f32(const float *x, float *y, int64_t rows, int64_t n, int log) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * n;
        float *restrict yr = y + r * n;
        float m = xr[0];
        for (int64_t j = 1; j < n; j++) m = xr[j] > m ? xr[j] : m;
        for (int64_t j = 0; j < n; j++) yr[j] = pg_exp_nonpos(xr[j] - m);
        float s = pg_sum_f32(yr, n);
        if (log) {
            float ls = logf(s);
            for (int64_t j = 0; j < n; j++) yr[j] = (xr[j] - m) - ls;
        } else {
            for (int64_t j = 0; j < n; j++) yr[j] = yr[j] / s;
        }
    }
}

/* their backward: softmax y (g - sum(g y)); log_softmax g - exp(y) sum(g) */
PG_LOOP static void pg_softmax_bwd_rows_f32(const float *g, const float *y, float *out, int64_t rows, int64_t n,
                                            int log) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict gr = g + r * n, *restrict yr = y + r * n;
        float *restrict o = out + r * n;
        if (log) {
            float s = pg_sum_f32(gr, n);
            for (int64_t j = 0; j < n; j++) o[j] = gr[j] - pg_exp_nonpos(yr[j]) * s;
        } else {
            float s = pg_dot_f32(gr, yr, n);
            for (int64_t j = 0; j < n; j++) o[j] = (gr[j] - s) * yr[j];
        }
    }
}

/* layer norm of each row: mean, then the mean squared deviation (two passes), y = (x - mean) rstd w + b */
PG_LOOP static void pg_layer_norm_f32(const float *x, const float *w, const float *b, float *y, float *mean,
                                      float *rstd, int64_t rows, int64_t n, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * n;
        float *restrict yr = y + r * n;
        float m = pg_sum_f32(xr, n) / (float)n;
        for (int64_t j = 0; j < n; j++) yr[j] = xr[j] - m;
        float v = pg_dot_f32(yr, yr, n) / (float)n;
        float rs = 1.0f / sqrtf(v + eps);
        mean[r] = m;
        rstd[r] = rs;
        if (w && b)
            for (int64_t j = 0; j < n; j++) yr[j] = yr[j] * rs * w[j] + b[j];
        else if (w)
            for (int64_t j = 0; j < n; j++) yr[j] = yr[j] * rs * w[j];
        else if (b)
            for (int64_t j = 0; j < n; j++) yr[j] = yr[j] * rs + b[j];
        else
            for (int64_t j = 0; j < n; j++) yr[j] = yr[j] * rs;
    }
}

/* its backward: gx = rstd (g w - mean(g w) - xhat mean(g w xhat)) (gx may be NULL); gw += g xhat and gb += g
 * summed over the rows into double accumulators (either may be NULL); tmp holds 2n floats */
PG_LOOP static void pg_layer_norm_bwd_f32(const float *g, const float *x, const float *w, const float *mean,
                                          const float *rstd, float *gx, double *gw, double *gb, float *tmp,
                                          int64_t rows, int64_t n) {
    float *restrict xh = tmp, *restrict gh = tmp + n;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict gr = g + r * n, *restrict xr = x + r * n;
        float m = mean[r], rs = rstd[r];
        for (int64_t j = 0; j < n; j++) xh[j] = (xr[j] - m) * rs;
        if (gw)
            for (int64_t j = 0; j < n; j++) gw[j] += (double)(gr[j] * xh[j]);
        if (gb)
            for (int64_t j = 0; j < n; j++) gb[j] += (double)gr[j];
        if (!gx) continue;
        if (w)
            for (int64_t j = 0; j < n; j++) gh[j] = gr[j] * w[j];
        else
            for (int64_t j = 0; j < n; j++) gh[j] = gr[j];
        float c1 = pg_sum_f32(gh, n) / (float)n;
        float c2 = pg_dot_f32(gh, xh, n) / (float)n;
        float *restrict o = gx + r * n;
        for (int64_t j = 0; j < n; j++) o[j] = (gh[j] - c1 - xh[j] * c2) * rs;
    }
}

/* -- fused optimizer updates over contiguous float32 parameters ----------------------------------------------
 * The same float32 operations in the same order as the NumPy passes of runtime/cpu_fused.optim_step, with no
 * multiply-add contraction, so the results are bitwise the same as those passes (one loop instead of 5-12). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

PG_LOOP static void pg_sgd_f32(float *restrict p, const float *restrict g, float *restrict buf, int64_t n,
                               float lr, float momentum, float damp1, float wd, int nesterov, int maximize,
                               int first) {
    for (int64_t i = 0; i < n; i++) {
        float gi = maximize ? -g[i] : g[i];
        if (wd != 0.0f) gi = gi + wd * p[i];
        if (buf) {
            float b;
            if (first) b = gi;
            else { b = buf[i] * momentum; b = b + damp1 * gi; }
            buf[i] = b;
            gi = nesterov ? gi + momentum * b : b;
        }
        p[i] = p[i] - lr * gi;
    }
}

/* one Adam/AdamW element: updates m, v (and the running max of v with amsgrad) and returns the new p */
#define PG_ADAM_BODY(AMSGRAD)                                                                                \
    for (int64_t i = 0; i < n; i++) {                                                                        \
        float gi = maximize ? -g[i] : g[i];                                                                  \
        float pi = p[i];                                                                                     \
        pi = decoupled ? pi * decay : pi;                                                                    \
        gi = (!decoupled && wd != 0.0f) ? gi + wd * pi : gi;                                                 \
        float mi = m[i] + one_minus_b1 * (gi - m[i]);                                                        \
        float vi = v[i] * b2;                                                                                \
        vi = vi + one_minus_b2 * gi * gi;                                                                    \
        m[i] = mi;                                                                                           \
        v[i] = vi;                                                                                           \
        float u = vi;                                                                                        \
        if (AMSGRAD) {                                                                                       \
            float a = vmax[i];                                                                               \
            u = (a != a || a > vi) ? a : vi;   /* np.maximum: a NaN wins */                                  \
            vmax[i] = u;                                                                                     \
        }                                                                                                    \
        float denom = sqrtf(u) / bc2_sqrt;                                                                   \
        denom = denom + eps;                                                                                 \
        p[i] = pi - step * (mi / denom);                                                                     \
    }

PG_LOOP static void pg_adam_f32(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                                float *restrict vmax, int64_t n, float one_minus_b1, float b2, float one_minus_b2,
                                float eps, float wd, float decay, float bc2_sqrt, float step, int decoupled,
                                int maximize) {
    if (vmax) {
        PG_ADAM_BODY(1)
    } else {
        PG_ADAM_BODY(0)
    }
}

/* var over the outer (A) and inner (B) dims of a contiguous float32 (A, C, B) array, per middle index c (batch
 * norm's (N, C, H*W); a full var: C = 1; a row var: A = 1): mean[c], and m2[c] = the sum of squared
 * deviations from it, both accumulated in double (as PyTorch's CPU kernels), two passes, 8 accumulators. */
PG_LOOP static void pg_var_acb_f32(const float *x, int64_t A, int64_t C, int64_t B, double *mean, double *m2) {
    double n = (double)A * (double)B;
    if (B >= 16) {
        for (int64_t c = 0; c < C; ++c) {
            double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, d[8] = {0, 0, 0, 0, 0, 0, 0, 0}, m = 0, q = 0;
            for (int64_t a = 0; a < A; ++a) {
                const float *p = x + (a * C + c) * B;
                int64_t b = 0;
                for (; b + 8 <= B; b += 8)
                    for (int k = 0; k < 8; ++k) s[k] += p[b + k];
                for (; b < B; ++b) s[0] += p[b];
            }
            for (int k = 0; k < 8; ++k) m += s[k];
            m /= n;
            for (int64_t a = 0; a < A; ++a) {
                const float *p = x + (a * C + c) * B;
                int64_t b = 0;
                for (; b + 8 <= B; b += 8)
                    for (int k = 0; k < 8; ++k) { double e = p[b + k] - m; d[k] += e * e; }
                for (; b < B; ++b) { double e = p[b] - m; d[0] += e * e; }
            }
            for (int k = 0; k < 8; ++k) q += d[k];
            mean[c] = m;
            m2[c] = q;
        }
        return;
    }
    /* short inner runs (x.var(0) of a matrix: B = 1): the C sums side by side, a row of x at a time */
    for (int64_t c = 0; c < C; ++c) { mean[c] = 0; m2[c] = 0; }
    for (int64_t a = 0; a < A; ++a)
        for (int64_t b = 0; b < B; ++b)
            for (int64_t c = 0; c < C; ++c) mean[c] += x[(a * C + c) * B + b];
    for (int64_t c = 0; c < C; ++c) mean[c] /= n;
    for (int64_t a = 0; a < A; ++a)
        for (int64_t b = 0; b < B; ++b)
            for (int64_t c = 0; c < C; ++c) { double e = x[(a * C + c) * B + b] - mean[c]; m2[c] += e * e; }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
