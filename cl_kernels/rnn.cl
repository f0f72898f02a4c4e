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
