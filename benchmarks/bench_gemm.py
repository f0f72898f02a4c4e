"""fp32 GEMM on the OpenCL device vs NumPy (OpenBLAS) and PyTorch on this machine, in the same run.

Run: ``python benchmarks/bench_gemm.py [--sizes 64,256,512,1024,2048] [--device opencl:1] [--threads 1]``;
the skinny products alone (split-K): ``python benchmarks/bench_gemm.py --sizes '' --skinny [--threads 1]``.
Prints GFLOP/s and the ratio device/NumPy (higher is better, 1.0 is parity), plus the non-square shapes
of the seeds' models (conv as im2col GEMM, Linear layers).  Times are medians of interleaved rounds
(pygrad, NumPy, torch, one after the other), so load from other processes hits all columns alike.
Without ``--threads`` it also prints busy threads (CPU time / wall time of this process) for the device and
NumPy: near 2.0 on 2 idle cores when all threads work throughout.  ``--threads 1`` compares one core with one core (PoCL ``POCL_MAX_PTHREAD_COUNT=1``, OpenBLAS
``OPENBLAS_NUM_THREADS=1``, torch ``set_num_threads(1)``) and adds GFLOP per CPU-second of this process
(``cpu`` columns): on a machine loaded by other processes a steadier per-core figure than wall time.
With several threads each timed block starts after ``--settle`` seconds of rest (default 0.25) and 50 ms of
untimed calls: OpenBLAS's worker threads spin for ~0.15 s after each product (torch's OpenMP threads for
~0.02 s) and take a core from whatever runs next, and after a rest Linux often runs both of PoCL's threads
on one core for the next few products.  Measured on 2 Xeon cores (KVM), a 1024^3 product in PoCL took
14-15 ms instead of 7.2 ms for the first ~0.14 s after a NumPy product, and 11-14 ms (1.0-1.3 busy
threads) for its 2nd-4th call after a rest (not with ``POCL_AFFINITY=1``, which pins PoCL's threads).
``--settle 0`` shows the plain interleaving.
"""
import argparse
import os
import sys
import time

if __name__ == "__main__" and "--threads" in sys.argv:  # before NumPy and PoCL read them
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _v in ("POCL_MAX_PTHREAD_COUNT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _n

import numpy as np  # noqa: E402

import pygrad  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def once(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench(m, k, n, dev, rounds, cpu, bt=False, nosplit=False, settle=0.0):
    """``bt``: B is the transpose of a contiguous (n, k) matrix, as ``cols^T`` in a convolution's dW.
    ``settle``: seconds of rest, then 50 ms of untimed calls, before each timed block, so that the block
    starts on cores that no other library's threads spin on, with this library's threads placed."""
    a = np.random.rand(m, k).astype(np.float32)
    if bt:
        b = np.random.rand(n, k).astype(np.float32).T
        da, db = pygrad.from_numpy(a).to(dev), pygrad.from_numpy(np.ascontiguousarray(b.T)).to(dev).t()
    else:
        b = np.random.rand(k, n).astype(np.float32)
        da, db = pygrad.from_numpy(a).to(dev), pygrad.from_numpy(b).to(dev)
    be = pygrad.runtime.get_backend(da.device)

    def run():
        da @ db
        be.synchronize()

    fns = {"dev": run, "np": lambda: a @ b}
    if nosplit:  # the same product with split-K off (one K slice), interleaved with the others
        def run1():
            type(be).gemm_split_k = 1
            try:
                run()
            finally:
                type(be).gemm_split_k = None
        fns["dev1"] = run1
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = lambda: ta @ tb
    for f in fns.values():
        f()  # warm up (kernel build, pool)
    reps = max(1, int(0.05 / max(once(fns["np"]), 1e-6)))  # >= ~50 ms per timing of a small product
    times = {k: [] for k in fns}
    ctimes = {k: [] for k in fns}
    for _ in range(rounds):
        for key, f in fns.items():
            if settle:  # let the previous library's worker threads stop spinning, then warm up this one's
                time.sleep(settle)  # (see the module docstring)
                w = time.perf_counter()
                while time.perf_counter() - w < 0.05:
                    f()
            t, c = time.perf_counter(), time.process_time()
            for _ in range(reps):
                f()
            times[key].append((time.perf_counter() - t) / reps)
            ctimes[key].append((time.process_time() - c) / reps)
    t = {key: float(np.median(v)) for key, v in times.items()}
    ct = {key: float(np.median(v)) for key, v in ctimes.items()}
    flops = 2.0 * m * k * n
    gf = {key: f"{flops / v / 1e9:8.1f}" for key, v in t.items()}
    row = [f"{m}x{k}x{n}" + ("^T" if bt else ""), gf["dev"], gf["np"], f"{t['np'] / t['dev']:6.2f}"]
    if cpu:  # GFLOP per CPU-second (one thread each: the work of one core, whatever else runs)
        row += [f"{flops / ct['dev'] / 1e9:8.1f}", f"{flops / ct['np'] / 1e9:8.1f}", f"{ct['np'] / ct['dev']:6.2f}"]
    else:  # busy threads: CPU time / wall time (2.0 on 2 idle cores when both threads work all the time)
        row += [f"{ct['dev'] / t['dev']:6.2f}", f"{ct['np'] / t['np']:6.2f}"]
    if nosplit:
        row += [gf["dev1"], f"{t['np'] / t['dev1']:6.2f}"]
    if torch is not None:
        row.append(gf["torch"])
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="64,256,512,1024,2048")
    p.add_argument("--device", default="opencl")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0,
                   help="threads of PoCL, OpenBLAS and torch (default: all); 1 adds GFLOP per CPU-second")
    p.add_argument("--no-shapes", action="store_true", help="only the square sizes")
    p.add_argument("--settle", type=float, default=None,
                   help="seconds of rest before each timed block (default: 0.25 with several threads, else 0)")
    p.add_argument("--skinny", action="store_true",
                   help="the skinny products (small M or N, long K), also with split-K off ('1 slice' columns)")
    args = p.parse_args()
    import pygrad.runtime  # noqa: F401

    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    cpu = args.threads == 1
    settle = args.settle if args.settle is not None else (0.0 if cpu else 0.25)
    be = pygrad.runtime.get_backend(pygrad.device(args.device))
    print(f"device: {be.rt.device.name.strip()} ({be.rt.device.platform.version.strip()}), "
          f"kernel shape {be.rt.kernel_shape}; threads: {args.threads or 'all'}; "
          f"medians of {args.rounds} interleaved rounds, {settle:g} s rest before each block")
    head = ["M x K x N", "dev GF/s", "np GF/s", "dev/np"] \
        + (["dev GF/cpu-s", "np GF/cpu-s", "cpu dev/np"] if cpu else ["dev threads", "np threads"]) \
        + (["1 slice GF/s", "1 slice/np"] if args.skinny else []) + (["torch GF/s"] if torch is not None else [])
    shapes = [(s, s, s, False) for s in map(int, filter(None, args.sizes.split(",")))]
    skinny = [(32, 10240, 2, False), (6, 50176, 25, True), (16, 6400, 150, True)]
    if args.skinny:  # small M or N, long K (split-K): LeNet's conv dW with the batch of 64 folded into K
        shapes += skinny
    elif not args.no_shapes:  # the seeds' models: conv layers as im2col GEMMs (per sample), Linear layers, dW
        shapes += [(20, 75, 220 * 220, False), (10, 180, 218 * 218, False), (64, 256, 128, False)] + skinny
    print("  ".join(c.rjust(12) for c in head), flush=True)
    for m, k, n, bt in shapes:
        print("  ".join(c.rjust(12) for c in bench(m, k, n, args.device, args.rounds, cpu, bt, args.skinny, settle)), flush=True)


if __name__ == "__main__":
    main()
