/* optim.cl: one optimizer update per parameter in one kernel (PyTorch's update rules, as in pygrad/optim/).
 *   TP / LD_P / ST_P: the parameter's storage type, load and store; ACC: the type the update computes in.
 * Every kernel takes the same arguments: the parameter p, its gradient g, up to three state buffers
 * s1..s3 (unused ones may be any buffer), n elements, eight hyperparameters f0..f7 and four flags k0..k3.
 */
#define OPTIM_ARGS __global TP* p, __global const TP* g, __global TP* s1, __global TP* s2, __global TP* s3, \
    const long n, const ACC f0, const ACC f1, const ACC f2, const ACC f3, const ACC f4, const ACC f5, \
    const ACC f6, const ACC f7, const int k0, const int k1, const int k2, const int k3

/* SGD: f0 lr, f1 momentum, f2 dampening, f3 weight_decay; k0 nesterov, k1 maximize, k2 first step
 * (the momentum buffer s1 starts as the gradient). */
__kernel void sgd_k(OPTIM_ARGS) {
    PG_FOR(i, n) {
        ACC gi = LD_P(g, i), pi = LD_P(p, i);
        if (k1) gi = -gi;
        if (f3 != 0) gi += f3 * pi;
        if (f1 != 0) {
            ACC b = k2 ? gi : f1 * LD_P(s1, i) + (1 - f2) * gi;
            ST_P(s1, i, b);
            gi = k0 ? gi + f1 * b : b;
        }
        ST_P(p, i, pi - f0 * gi);
    }
}

/* Adam / AdamW: f0 lr, f1 beta1, f2 beta2, f3 eps, f4 weight_decay, f5 bias correction 1 (1 - beta1^t),
 * f6 sqrt of bias correction 2; k0 decoupled decay (AdamW), k1 amsgrad, k2 maximize.
 * s1 exp_avg, s2 exp_avg_sq, s3 max_exp_avg_sq (amsgrad). */
__kernel void adam_k(OPTIM_ARGS) {
    PG_FOR(i, n) {
        ACC gi = LD_P(g, i), pi = LD_P(p, i);
        if (k2) gi = -gi;
        if (f4 != 0) {
            if (k0) pi *= 1 - f0 * f4;
            else gi += f4 * pi;
        }
        ACC m = LD_P(s1, i);
        m += (1 - f1) * (gi - m);
        ACC v = f2 * LD_P(s2, i) + (1 - f2) * gi * gi;
        ST_P(s1, i, m);
        ST_P(s2, i, v);
        if (k1) {
            v = max((ACC)LD_P(s3, i), v);
            ST_P(s3, i, v);
        }
        ACC denom = sqrt(v) / f6 + f3;
        ST_P(p, i, pi - (f0 / f5) * (m / denom));
    }
}

/* RMSprop: f0 lr, f1 alpha, f2 eps, f3 weight_decay, f4 momentum; k0 centered, k1 maximize.
 * s1 square_avg, s2 momentum_buffer (momentum > 0), s3 grad_avg (centered). */
__kernel void rmsprop_k(OPTIM_ARGS) {
    PG_FOR(i, n) {
        ACC gi = LD_P(g, i), pi = LD_P(p, i);
        if (k1) gi = -gi;
        if (f3 != 0) gi += f3 * pi;
        ACC sq = f1 * LD_P(s1, i) + (1 - f1) * gi * gi;
        ST_P(s1, i, sq);
        ACC avg;
        if (k0) {
            ACC ga = LD_P(s3, i);
            ga += (1 - f1) * (gi - ga);
            ST_P(s3, i, ga);
            avg = sqrt(sq - ga * ga);
        } else {
            avg = sqrt(sq);
        }
        avg += f2;
        if (f4 > 0) {
            ACC b = f4 * LD_P(s2, i) + gi / avg;
            ST_P(s2, i, b);
            ST_P(p, i, pi - f0 * b);
        } else {
            ST_P(p, i, pi - f0 * (gi / avg));
        }
    }
}

/* Adagrad: f0 the step's lr (lr / (1 + (t - 1) * lr_decay)), f1 eps, f2 weight_decay; k0 maximize. s1 sum. */
__kernel void adagrad_k(OPTIM_ARGS) {
    PG_FOR(i, n) {
        ACC gi = LD_P(g, i), pi = LD_P(p, i);
        if (k0) gi = -gi;
        if (f2 != 0) gi += f2 * pi;
        ACC s = LD_P(s1, i) + gi * gi;
        ST_P(s1, i, s);
        ST_P(p, i, pi - f0 * (gi / (sqrt(s) + f1)));
    }
}
