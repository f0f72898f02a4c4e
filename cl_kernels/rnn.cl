/* rnn.cl: the gate math of one LSTM time step, forward and backward, each one kernel.
 *   T: the storage type (float or double); every operand is a contiguous (N, H) or (N, 4H) block at
 *   an element offset into its buffer.  Gates are in PyTorch's order i, f, g, o.
 */
inline T pg_sigmoid(T x) { return (T)1 / ((T)1 + exp(-x)); }

/* gates = gi + gh; i, f, o = sigmoid, g = tanh; c = f*c_prev + i*g; h = o*tanh(c).  ``acts`` keeps the
 * four activations for the backward. */
__kernel void lstm_cell_fwd_k(__global T* h, const long ho, __global T* c, const long co, __global T* acts,
                              const long ao, __global const T* gi, const long gio, __global const T* gh,
                              const long gho, __global const T* cp, const long cpo, const long N, const long H) {
    PG_FOR(e, N * H) {
        long n = e / H, j = e - n * H, r = n * 4 * H;
        T a[4];
        for (int k = 0; k < 4; ++k) a[k] = gi[gio + r + k * H + j] + gh[gho + r + k * H + j];
        T i = pg_sigmoid(a[0]), f = pg_sigmoid(a[1]), g = tanh(a[2]), o = pg_sigmoid(a[3]);
        T cn = f * cp[cpo + e] + i * g;
        c[co + e] = cn;
        h[ho + e] = o * tanh(cn);
        acts[ao + r + j] = i; acts[ao + r + H + j] = f; acts[ao + r + 2 * H + j] = g; acts[ao + r + 3 * H + j] = o;
    }
}

/* From dh = dout + dh_next and dc_next: the gradient of the pre-activation gates (into dgates) and of
 * c_prev (into dcp). */
__kernel void lstm_cell_bwd_k(__global T* dgates, const long dgo, __global T* dcp, const long dcpo,
                              __global const T* dout, const long douto, __global const T* dhn, const long dhno,
                              __global const T* dcn, const long dcno, __global const T* acts, const long ao,
                              __global const T* c, const long co, __global const T* cp, const long cpo,
                              const long N, const long H) {
    PG_FOR(e, N * H) {
        long n = e / H, j = e - n * H, r = n * 4 * H;
        T i = acts[ao + r + j], f = acts[ao + r + H + j], g = acts[ao + r + 2 * H + j], o = acts[ao + r + 3 * H + j];
        T tc = tanh(c[co + e]);
        T dh = dout[douto + e] + dhn[dhno + e];
        T dc = dcn[dcno + e] + dh * o * ((T)1 - tc * tc);
        dgates[dgo + r + j] = dc * g * i * ((T)1 - i);
        dgates[dgo + r + H + j] = dc * cp[cpo + e] * f * ((T)1 - f);
        dgates[dgo + r + 2 * H + j] = dc * i * ((T)1 - g * g);
        dgates[dgo + r + 3 * H + j] = dh * tc * o * ((T)1 - o);
        dcp[dcpo + e] = dc * f;
    }
}

/* GRU: gates r, z, n.  gh = h W_hh^T (bias ``bh`` added here, flag has_b); r = sigmoid(gi_r + gh_r),
 * z = sigmoid(gi_z + gh_z), hn = gh_n, n = tanh(gi_n + r*hn), h = n + z*(h_prev - n).  acts keeps r, z, n, hn. */
__kernel void gru_cell_fwd_k(__global T* h, const long ho, __global T* acts, const long ao, __global const T* gi,
                             const long gio, __global const T* gh, const long gho, __global const T* bh,
                             const int has_b, __global const T* hp, const long hpo, const long N, const long H) {
    PG_FOR(e, N * H) {
        long n = e / H, j = e - n * H, r3 = n * 3 * H, r4 = n * 4 * H;
        T br = has_b ? bh[j] : 0, bz = has_b ? bh[H + j] : 0, bn = has_b ? bh[2 * H + j] : 0;
        T r = pg_sigmoid(gi[gio + r3 + j] + gh[gho + r3 + j] + br);
        T z = pg_sigmoid(gi[gio + r3 + H + j] + gh[gho + r3 + H + j] + bz);
        T hn = gh[gho + r3 + 2 * H + j] + bn;
        T nn = tanh(gi[gio + r3 + 2 * H + j] + r * hn);
        h[ho + e] = nn + z * (hp[hpo + e] - nn);
        acts[ao + r4 + j] = r; acts[ao + r4 + H + j] = z; acts[ao + r4 + 2 * H + j] = nn; acts[ao + r4 + 3 * H + j] = hn;
    }
}

/* GRU backward: dh = dout + dhd + dhm (the direct and the matmul part of the next step's dh_prev);
 * writes dgi (N, 3H), dgh (N, 3H: the gradient of h W_hh^T + b_hh) and dhd (N, H: dh * z). */
__kernel void gru_cell_bwd_k(__global T* dgi, const long dgio, __global T* dgh, const long dgho, __global T* dhd_out,
                             const long dhdo, __global const T* dout, const long douto, __global const T* dhd,
                             const long dhdio, __global const T* dhm, const long dhmo, __global const T* acts,
                             const long ao, __global const T* hp, const long hpo, const long N, const long H) {
    PG_FOR(e, N * H) {
        long n = e / H, j = e - n * H, r3 = n * 3 * H, r4 = n * 4 * H;
        T r = acts[ao + r4 + j], z = acts[ao + r4 + H + j], nn = acts[ao + r4 + 2 * H + j], hn = acts[ao + r4 + 3 * H + j];
        T dh = dout[douto + e] + dhd[dhdio + e] + dhm[dhmo + e];
        T dnp = dh * ((T)1 - z) * ((T)1 - nn * nn);
        T drp = dnp * hn * r * ((T)1 - r);
        T dzp = dh * (hp[hpo + e] - nn) * z * ((T)1 - z);
        dgi[dgio + r3 + j] = drp; dgi[dgio + r3 + H + j] = dzp; dgi[dgio + r3 + 2 * H + j] = dnp;
        dgh[dgho + r3 + j] = drp; dgh[dgho + r3 + H + j] = dzp; dgh[dgho + r3 + 2 * H + j] = dnp * r;
        dhd_out[dhdo + e] = dh * z;
    }
}

/* Elman RNN: h = act(pre + gh) with pre = gi (both biases folded in); RELU picks relu over tanh. */
__kernel void rnn_cell_fwd_k(__global T* h, const long ho, __global const T* gi, const long gio,
                             __global const T* gh, const long gho, const int relu, const long n) {
    PG_FOR(e, n) {
        T v = gi[gio + e] + gh[gho + e];
        h[ho + e] = relu ? max(v, (T)0) : tanh(v);
    }
}

/* its backward: dpre = (dout + dhn) * act'(h), from the output h. */
__kernel void rnn_cell_bwd_k(__global T* dpre, const long dpo, __global const T* dout, const long douto,
                             __global const T* dhn, const long dhno, __global const T* h, const long ho,
                             const int relu, const long n) {
    PG_FOR(e, n) {
        T dh = dout[douto + e] + dhn[dhno + e], hv = h[ho + e];
        dpre[dpo + e] = relu ? (hv > 0 ? dh : (T)0) : dh * ((T)1 - hv * hv);
    }
}
