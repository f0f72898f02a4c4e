"""Row ops and transposes side by side: pygrad (CPU backend, OpenCL) against NumPy and PyTorch (CPU).

Run: ``python benchmarks/bench_rows.py [--small] [--rounds 5]``.  Each cell is the median of
interleaved rounds (every library runs once per round, so a busy machine slows all alike), in ms.
The OpenCL column runs the kernel shape this device gets (``PYGRAD_KERNEL_SHAPE=gpu`` forces the GPU
shape on a CPU device, for information: it is not meant to be fast there).
Workloads: softmax(dim=1) of 4096x4096, log_softmax(dim=1) of 4096x4096, layer_norm of (64*128, 256)
forward and forward+backward, and ``x.t().contiguous()`` of 2048x2048, all float32; ``--reductions``:
sum / mean / max / argmax of 4M floats, full and per row of 1024x4096, sum(0), logsumexp and norm; issue 13's
column reductions (mean(0), amax(0)), var/std/var_mean, and logsumexp/softmax/log_softmax of one 4M row
(``--only WORD`` keeps the workloads whose name contains WORD; ``--threads 1`` runs PyTorch on one thread;
``--warm`` times each call right after an untimed one: without it the first library to read a 16 MB
array in a round reads it from DRAM, at about half the speed of the cache-warm reads after it; ``--reps 5`` times 5 calls per unit with one
``synchronize``, as ``pygrad bench`` does: on a loaded machine one wait for PoCL's threads costs ms).
"""
import argparse
import statistics
import time

import numpy as np

import pygrad
import pygrad.nn.functional as F

try:
    import torch
except ImportError:  # PyTorch is optional: compare with it only when installed
    torch = None


def np_softmax(a):
    z = a - a.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def np_log_softmax(a):
    z = a - a.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def np_layer_norm(a, w, b, eps=1e-5):
    mu = a.mean(axis=1, keepdims=True)
    d = a - mu
    var = np.einsum("ij,ij->i", d, d)[:, None] / a.shape[1]
    d *= 1 / np.sqrt(var + eps)
    d *= w
    d += b
    return d


def workloads(small):
    n = 2048 if small else 4096
    rows = 2048 if small else 64 * 128
    t = 1024 if small else 2048
    rng = np.random.default_rng(0)
    sm = rng.standard_normal((n, n)).astype(np.float32)
    ln = rng.standard_normal((rows, 256)).astype(np.float32)
    w, b = rng.standard_normal(256).astype(np.float32), rng.standard_normal(256).astype(np.float32)
    tr = rng.standard_normal((t, t)).astype(np.float32)
    return [
        (f"softmax(dim=1) {n}x{n}", sm, lambda x, m: x.softmax(1), np_softmax, lambda x: torch.softmax(x, 1)),
        (f"log_softmax(dim=1) {n}x{n}", sm, lambda x, m: x.log_softmax(1), np_log_softmax,
         lambda x: torch.log_softmax(x, 1)),
        (f"layer_norm ({rows}, 256) fwd", ln, lambda x, m: F.layer_norm(x, (256,), m.tensor(w, x), m.tensor(b, x)),
         lambda a: np_layer_norm(a, w, b),
         lambda x: torch.nn.functional.layer_norm(x, (256,), torch.from_numpy(w), torch.from_numpy(b))),
        (f"layer_norm ({rows}, 256) fwd+bwd", ln, _ln_fwd_bwd(w, b), None, _ln_fwd_bwd_torch(w, b)),
        (f"x.t().contiguous() {t}x{t}", tr, lambda x, m: x.t().contiguous(), lambda a: np.ascontiguousarray(a.T),
         lambda x: x.t().contiguous()),
    ]


def reductions(small):
    """Reductions of 4M float32 (1024 x 4096 as rows): the full and row cases share reduce_k / argreduce_k;
    logsumexp and norm are the fused row_reduce kernels."""
    rng = np.random.default_rng(1)
    v = rng.standard_normal(1 << (20 if small else 22)).astype(np.float32)
    m = v.reshape(-1, 4096)
    tn = (lambda a: torch.linalg.vector_norm(a)) if torch is not None else None

    def np_lse(a, ax):
        mx = a.max(axis=ax, keepdims=True)
        return np.log(np.exp(a - mx).sum(axis=ax)) + mx.squeeze(ax)

    n = f"{v.size >> 20}M"
    return [
        (f"sum of {n}", v, lambda x, _: x.sum(), lambda a: a.sum(), lambda x: x.sum()),
        (f"mean of {n}", v, lambda x, _: x.mean(), lambda a: a.mean(), lambda x: x.mean()),
        (f"max of {n}", v, lambda x, _: x.max(), lambda a: a.max(), lambda x: x.max()),
        (f"argmax of {n}", v, lambda x, _: x.argmax(), lambda a: a.argmax(), lambda x: x.argmax()),
        (f"sum(1) of {m.shape[0]}x4096", m, lambda x, _: x.sum(1), lambda a: a.sum(1), lambda x: x.sum(1)),
        (f"amax(1) of {m.shape[0]}x4096", m, lambda x, _: x.amax(1), lambda a: a.max(1), lambda x: x.amax(1)),
        (f"argmax(1) of {m.shape[0]}x4096", m, lambda x, _: x.argmax(1), lambda a: a.argmax(1),
         lambda x: x.argmax(1)),
        (f"sum(0) of {m.shape[0]}x4096", m, lambda x, _: x.sum(0), lambda a: a.sum(0), lambda x: x.sum(0)),
        (f"logsumexp(1) of {m.shape[0]}x4096", m, lambda x, _: x.logsumexp(1), lambda a: np_lse(a, 1),
         lambda x: x.logsumexp(1)),
        (f"norm() of {n}", v, lambda x, _: x.norm(), lambda a: np.linalg.norm(a), tn),
        (f"norm(dim=1) of {m.shape[0]}x4096", m, lambda x, _: x.norm(dim=1), lambda a: np.linalg.norm(a, axis=1),
         lambda x: x.norm(dim=1)),
        (f"norm(1, dim=1) of {m.shape[0]}x4096", m, lambda x, _: x.norm(1, dim=1),
         lambda a: np.abs(a).sum(1), lambda x: x.norm(1, dim=1)),
        # issue 13: column reductions, var/std, a single long row
        (f"mean(0) of {m.shape[0]}x4096", m, lambda x, _: x.mean(0), lambda a: a.mean(0), lambda x: x.mean(0)),
        (f"amax(0) of {m.shape[0]}x4096", m, lambda x, _: x.amax(0), lambda a: a.max(0), lambda x: x.amax(0)),
        (f"var() of {n}", v, lambda x, _: x.var(), lambda a: a.var(ddof=1), lambda x: x.var()),
        (f"var(1) of {m.shape[0]}x4096", m, lambda x, _: x.var(1), lambda a: a.var(1, ddof=1), lambda x: x.var(1)),
        (f"var(0) of {m.shape[0]}x4096", m, lambda x, _: x.var(0), lambda a: a.var(0, ddof=1), lambda x: x.var(0)),
        (f"std(1) of {m.shape[0]}x4096", m, lambda x, _: x.std(1), lambda a: a.std(1, ddof=1), lambda x: x.std(1)),
        (f"var_mean(1) of {m.shape[0]}x4096", m, lambda x, _: pygrad.var_mean(x, 1),
         lambda a: (a.var(1, ddof=1), a.mean(1)), lambda x: torch.var_mean(x, 1)),
        (f"logsumexp(0) of one {n} row", v, lambda x, _: x.logsumexp(0), lambda a: np_lse(a, 0),
         lambda x: x.logsumexp(0)),
        (f"softmax(0) of one {n} row", v, lambda x, _: x.softmax(0), lambda a: np_softmax(a[None])[0],
         lambda x: torch.softmax(x, 0)),
        (f"log_softmax(0) of one {n} row", v, lambda x, _: x.log_softmax(0), lambda a: np_log_softmax(a[None])[0],
         lambda x: torch.log_softmax(x, 0)),
    ]


class _Params:
    """Weight tensors created once per device (not timed)."""

    def __init__(self):
        self.cache = {}

    def tensor(self, arr, like):
        key = (id(arr), str(like.device))
        if key not in self.cache:
            self.cache[key] = pygrad.tensor(arr, device=like.device)
        return self.cache[key]


def _ln_fwd_bwd(w, b):
    params = {}

    def run(x, m):
        key = str(x.device)
        if key not in params:
            params[key] = (pygrad.tensor(w, device=x.device, requires_grad=True),
                           pygrad.tensor(b, device=x.device, requires_grad=True),
                           pygrad.ones(x.shape, device=x.device))
        wt, bt, g = params[key]
        xr = x.detach().requires_grad_()
        F.layer_norm(xr, (256,), wt, bt).backward(g)
        return xr.grad

    return run


def _ln_fwd_bwd_torch(w, b):
    wt = torch.tensor(w, requires_grad=True) if torch is not None else None
    bt = torch.tensor(b, requires_grad=True) if torch is not None else None

    def run(x):
        xr = x.detach().requires_grad_()
        torch.nn.functional.layer_norm(xr, (256,), wt, bt).backward(torch.ones_like(xr))
        return xr.grad

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="smaller sizes (a quick look)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reductions", action="store_true", help="the reduction workloads instead of the row ops")
    ap.add_argument("--only", default="", help="only workloads whose name contains this (or one of these, comma-separated)")
    ap.add_argument("--threads", type=int, default=0, help="PyTorch's threads (default: all)")
    ap.add_argument("--reps", type=int, default=1, help="calls per timed unit (OpenCL: one synchronize after them)")
    ap.add_argument("--warm", action="store_true", help="time each call right after an untimed one (cache-warm)")
    ap.add_argument("--best", action="store_true", help="the fastest round instead of the median (a loaded machine)")
    args = ap.parse_args()
    have_cl = pygrad.opencl.is_available()
    shape = ""
    if have_cl:
        from pygrad.runtime.opencl import runtime

        shape = runtime.properties(0)["kernel_shape"]
    if torch is not None:
        torch.set_num_threads(args.threads or max(1, torch.get_num_threads()))
    header = ["workload", "pygrad cpu", f"pygrad opencl ({shape})" if have_cl else "pygrad opencl", "numpy"]
    header += ["torch cpu"] if torch is not None else []
    header += ["numpy/ocl", "torch/ocl"] if have_cl else []
    stat = min if args.best else statistics.median
    print("  ".join(header) + f"   (ms, {'best' if args.best else 'median'} of interleaved rounds; x/ocl: x's time / "
          "opencl's, 1.0 = parity)")
    m = _Params()
    for name, arr, fn, np_fn, t_fn in (reductions if args.reductions else workloads)(args.small):
        if not any(w in name for w in args.only.split(",")) or ("var_mean" in name and not hasattr(pygrad, "var_mean")):
            continue  # (var_mean: an older pygrad, run for a before/after comparison)
        reps = range(args.reps)
        runners = [("cpu", lambda x=pygrad.from_numpy(arr): [fn(x, m) for _ in reps])]
        if have_cl:
            xc = pygrad.tensor(arr, device="opencl")

            def run_cl(x=xc):
                for _ in range(args.reps):
                    fn(x, m)
                pygrad.opencl.synchronize()

            runners.append(("opencl", run_cl))
        if np_fn is not None:
            runners.append(("numpy", lambda: [np_fn(arr) for _ in reps]))
        if torch is not None and t_fn is not None:
            tx = torch.from_numpy(arr)
            runners.append(("torch", lambda tx=tx: [t_fn(tx) for _ in reps]))
        for _, r in runners:  # warm up: kernel builds, first-touch allocations
            r()
        times = {k: [] for k, _ in runners}
        for _ in range(args.rounds):
            for k, r in runners:
                if args.warm:  # an untimed call first: the data in cache, PoCL's threads awake
                    r()
                t0 = time.perf_counter()
                r()
                times[k].append((time.perf_counter() - t0) / args.reps)
        cells = [name]
        for k in ("cpu", "opencl", "numpy", "torch"):
            if k == "opencl" and not have_cl or k == "torch" and torch is None:
                continue
            cells.append(f"{stat(times[k]) * 1e3:8.2f}" if k in times else "       -")
        if have_cl:
            ocl = stat(times["opencl"])
            cells += [f"{stat(times[k]) / ocl:6.2f}" if k in times else "     -" for k in ("numpy", "torch")]
        print("  ".join(cells))


if __name__ == "__main__":
    main()
