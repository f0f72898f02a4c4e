"""fp32 GEMM on the OpenCL device vs NumPy (OpenBLAS) on this machine, in the same run.

Run: ``python benchmarks/bench_gemm.py [--sizes 64,256,512,1024,2048]``.  Prints GFLOP/s and the
ratio device/NumPy (higher is better, 1.0 is parity), plus the non-square shapes of the seeds'
models (conv as im2col GEMM, Linear layers).
"""
import argparse
import time

import numpy as np

import pygrad

try:
    import torch
except ImportError:
    torch = None


def timeit(fn, min_time=0.3):
    fn()  # warm up (kernel build, pool)
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        t = time.perf_counter() - t0
        if t > min_time and n >= 3:
            return t / n


def bench(m, k, n, dev):
    a, b = np.random.rand(m, k).astype(np.float32), np.random.rand(k, n).astype(np.float32)
    da, db = pygrad.from_numpy(a).to(dev), pygrad.from_numpy(b).to(dev)
    be = pygrad.runtime.get_backend(da.device)

    def run():
        da @ db
        be.synchronize()

    t_dev, t_np = timeit(run), timeit(lambda: a @ b)
    flops = 2.0 * m * k * n
    row = [f"{m}x{k}x{n}", f"{flops / t_dev / 1e9:8.1f}", f"{flops / t_np / 1e9:8.1f}", f"{t_np / t_dev:6.2f}"]
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        row.append(f"{flops / timeit(lambda: ta @ tb) / 1e9:8.1f}")
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="64,256,512,1024,2048")
    p.add_argument("--device", default="opencl")
    args = p.parse_args()
    import pygrad.runtime  # noqa: F401

    print(f"device: {pygrad.opencl.get_device_name()}")
    head = ["M x K x N", "dev GF/s", "np GF/s", "dev/np"] + (["torch GF/s"] if torch is not None else [])
    rows = [bench(s, s, s, args.device) for s in map(int, args.sizes.split(","))]
    # shapes from the seeds' models: conv layers as im2col GEMMs (per sample) and Linear layers
    rows += [bench(20, 75, 220 * 220, args.device), bench(10, 180, 218 * 218, args.device),
             bench(32, 10240, 2, args.device), bench(64, 256, 128, args.device)]
    for r in [head] + rows:
        print("  ".join(c.rjust(12) for c in r))


if __name__ == "__main__":
    main()
