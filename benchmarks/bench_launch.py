"""The OpenCL launch path: host time of one small op (``a + b`` of 16 floats) on ``cpu`` and ``opencl``,
side by side with PyTorch and NumPy.

Run: ``python benchmarks/bench_launch.py [--rounds 7] [--number 3000]``.  Two figures per row, medians of
interleaved rounds: wall time per op (the queue is left to run behind, as in a training loop; the
device is waited for between rounds) and the CPU time of the calling thread per op, which a loaded
machine disturbs much less (PoCL's worker threads and other processes are not counted).  The row
``pyopencl floor`` is the same kernel launch made by calling pyopencl's kernel object directly (no tensor,
no allocation): pygrad's compiled path (``_hotpath.pyx``) queues it from C and can come in under it.
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import pygrad  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # PyTorch is optional
    torch = None


def _pyopencl_floor(a, b):
    """The same ``ew_contig`` launch as ``a + b`` on OpenCL, made by calling pyopencl's kernel directly with
    fixed arguments (its generated invoker: set the arguments, enqueue): what any pyopencl-based launch costs."""
    from pygrad.runtime.opencl import kernels

    seen = []
    call = kernels._TypedKernel.__call__

    def spy(self, queue, gs, ls, *args):
        seen.append((self.kernel, queue, gs, ls, args))
        return call(self, queue, gs, ls, *args)

    kernels._TypedKernel.__call__ = spy  # (the fast path steps aside: the general path launches)
    try:
        a + b
    finally:
        kernels._TypedKernel.__call__ = call
    kernel, queue, gs, ls, args = seen[-1]
    return lambda: kernel(queue, gs, ls, *args)


def cases():
    a_np, b_np = np.random.rand(16).astype(np.float32), np.random.rand(16).astype(np.float32)
    out = {"numpy": lambda: a_np + b_np}
    for dev in ["cpu"] + (["opencl"] if pygrad.opencl.is_available() else []):
        a, b = pygrad.tensor(a_np, device=dev), pygrad.tensor(b_np, device=dev)
        out[f"pygrad {dev}"] = lambda a=a, b=b: a + b
        if dev == "opencl":
            out["pyopencl floor"] = _pyopencl_floor(a, b)
    if torch is not None:
        ta, tb = torch.tensor(a_np), torch.tensor(b_np)
        out["torch"] = lambda: ta + tb
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--number", type=int, default=3000)
    args = ap.parse_args()
    fns = cases()
    wall, cpu = {k: [] for k in fns}, {k: [] for k in fns}
    for fn in fns.values():  # warm up: programs built, first launches done
        for _ in range(200):
            fn()
    for _ in range(args.rounds):
        for k, fn in fns.items():
            if pygrad.opencl.is_available():
                pygrad.opencl.synchronize()
            t, c = time.perf_counter(), time.thread_time()
            for _ in range(args.number):
                fn()
            cpu[k].append((time.thread_time() - c) / args.number)
            wall[k].append((time.perf_counter() - t) / args.number)
    print(f"a + b, 16 floats: medians of {args.rounds} rounds of {args.number} ops (us per op)")
    print(f"{'':16s} {'wall':>8s} {'thread cpu':>11s}")
    for k in fns:
        print(f"{k:16s} {statistics.median(wall[k]) * 1e6:8.1f} {statistics.median(cpu[k]) * 1e6:11.1f}")


if __name__ == "__main__":
    main()
