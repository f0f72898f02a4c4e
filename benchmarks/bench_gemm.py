"""fp32 GEMM on the OpenCL device vs NumPy (OpenBLAS) and PyTorch on this machine, in the same run.

Run: ``python benchmarks/bench_gemm.py [--sizes 64,256,512,1024,2048] [--device opencl:1] [--old]``.
Prints GFLOP/s and the ratio device/NumPy (higher is better, 1.0 is parity), plus the non-square shapes
of the seeds' models (conv as im2col GEMM, Linear layers).  Times are medians of interleaved rounds
(pygrad, NumPy, torch, one after the other), so load from other processes hits all columns alike.
``--old`` adds a column with the CPU-shaped kernel as it was before K blocking (16-column blocks, no
K block, 4 row blocks per work-item), for a before/after figure from one run.
"""
import argparse
import time

import numpy as np

import pygrad

try:
    import torch
except ImportError:
    torch = None


def once(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench(m, k, n, dev, rounds, old):
    a, b = np.random.rand(m, k).astype(np.float32), np.random.rand(k, n).astype(np.float32)
    da, db = pygrad.from_numpy(a).to(dev), pygrad.from_numpy(b).to(dev)
    be = pygrad.runtime.get_backend(da.device)
    cls = type(be)

    def run(cfg=(None, None, None)):
        saved = cls.gemm_kc, cls.gemm_row_blocks, cls.gemm_nr
        cls.gemm_kc, cls.gemm_row_blocks, cls.gemm_nr = cfg
        try:
            da @ db
            be.synchronize()
        finally:
            cls.gemm_kc, cls.gemm_row_blocks, cls.gemm_nr = saved

    fns = {"dev": run, "np": lambda: a @ b}
    if old:
        fns["old"] = lambda: run((0, 4, 16))
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = lambda: ta @ tb
    for f in fns.values():
        f()  # warm up (kernel build, pool)
    reps = max(1, int(0.05 / max(once(fns["np"]), 1e-6)))  # >= ~50 ms per timing of a small product
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for key, f in fns.items():
            t = time.perf_counter()
            for _ in range(reps):
                f()
            times[key].append((time.perf_counter() - t) / reps)
    t = {key: float(np.median(v)) for key, v in times.items()}
    flops = 2.0 * m * k * n
    gf = {key: f"{flops / v / 1e9:8.1f}" for key, v in t.items()}
    row = [f"{m}x{k}x{n}", gf["dev"], gf["np"], f"{t['np'] / t['dev']:6.2f}"]
    if old:
        row += [gf["old"], f"{t['np'] / t['old']:6.2f}"]
    if torch is not None:
        row.append(gf["torch"])
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="64,256,512,1024,2048")
    p.add_argument("--device", default="opencl")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--old", action="store_true", help="also time the CPU-shaped kernel as it was before K blocking")
    p.add_argument("--no-shapes", action="store_true", help="only the square sizes")
    args = p.parse_args()
    import pygrad.runtime  # noqa: F401

    be = pygrad.runtime.get_backend(pygrad.device(args.device))
    print(f"device: {be.rt.device.name.strip()} ({be.rt.device.platform.version.strip()}), "
          f"kernel shape {be.rt.kernel_shape}; medians of {args.rounds} interleaved rounds")
    head = ["M x K x N", "dev GF/s", "np GF/s", "dev/np"] + (["old GF/s", "old/np"] if args.old else []) \
        + (["torch GF/s"] if torch is not None else [])
    shapes = [(s, s, s) for s in map(int, args.sizes.split(","))]
    if not args.no_shapes:  # the seeds' models: conv layers as im2col GEMMs (per sample) and Linear layers
        shapes += [(20, 75, 220 * 220), (10, 180, 218 * 218), (32, 10240, 2), (64, 256, 128)]
    print("  ".join(c.rjust(12) for c in head), flush=True)
    for m, k, n in shapes:
        print("  ".join(c.rjust(12) for c in bench(m, k, n, args.device, args.rounds, args.old)), flush=True)


if __name__ == "__main__":
    main()
