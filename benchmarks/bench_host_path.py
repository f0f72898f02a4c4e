"""The host path: per-op overhead of a small ``a + b`` and whole training steps, side by side with PyTorch
CPU (1 thread) and NumPy, plus OpenCL launches and host syncs per LeNet step.

Run: ``python benchmarks/bench_host_path.py [--rounds 5] [--quick] [--threads 1] [--cpu] [--only TEXT] [--clock wall|cpu] [--warm 0.05]``.  ``--threads`` (default 1)
sets PyTorch's threads and, before NumPy loads, OpenBLAS/OpenMP's (0: leave both at the machine's
default).  Each figure is the median of
interleaved rounds (pygrad CPU, pygrad OpenCL, PyTorch one after another in every round), so machine
load hits all alike.  Ratio = pygrad time / PyTorch time (lower is better).
"""
import argparse
import os
import statistics
import sys
import time


def _threads_arg():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 1


THREADS = _threads_arg()
if THREADS:  # must happen before NumPy (and its BLAS) is imported
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402

import pygrad  # noqa: E402
import pygrad.nn as pnn  # noqa: E402
import pygrad.nn.functional as PF  # noqa: E402
from pygrad.bench import lenet5  # noqa: E402

try:
    import torch
    if THREADS:
        torch.set_num_threads(THREADS)
except ImportError:  # PyTorch is optional
    torch = None


CLOCK = time.perf_counter  # --clock cpu: time.process_time (this process's CPU time: steadier on a loaded machine)


def per_call(fn, number):
    t = CLOCK()
    for _ in range(number):
        fn()
    return (CLOCK() - t) / number


def small_add(lib, device, grad):
    """A closure running one 16-float ``a + b`` (with grad: forward + backward)."""
    a_np, b_np = np.random.rand(16).astype(np.float32), np.random.rand(16).astype(np.float32)
    if lib == "numpy":
        return lambda: a_np + b_np
    mod = pygrad if lib == "pygrad" else torch
    kw = {"device": device} if lib == "pygrad" else {}
    a, b = mod.tensor(a_np, requires_grad=grad, **kw), mod.tensor(b_np, requires_grad=grad, **kw)
    if not grad:
        return lambda: a + b
    return lambda: (a + b).sum().backward()


def lenet(mod, nn, F, device, batch):
    kw = {"device": device} if mod is pygrad else {}
    m = lenet5(nn, F).to(device) if mod is pygrad else lenet5(nn, F)
    opt = mod.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x, y = mod.randn(batch, 1, 28, 28, **kw), mod.randint(0, 10, (batch,), **kw)

    def step():
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def lstm(mod, nn, F, device):
    kw = {"device": device} if mod is pygrad else {}
    m = nn.LSTM(32, 64, batch_first=True)
    head = nn.Linear(64, 10)
    if mod is pygrad:
        m, head = m.to(device), head.to(device)
    opt = mod.optim.Adam(list(m.parameters()) + list(head.parameters()))
    x, y = mod.randn(32, 32, 32, **kw), mod.randint(0, 10, (32,), **kw)

    def step():
        loss = F.cross_entropy(head(m(x)[0][:, -1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def mlp(mod, nn, F, device):
    """MLP 784-256-10, batch 64, cross-entropy, SGD with momentum."""
    kw = {"device": device} if mod is pygrad else {}
    m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    if mod is pygrad:
        m = m.to(device)
    opt = mod.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x, y = mod.randn(64, 784, **kw), mod.randint(0, 10, (64,), **kw)

    def step():
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def transformer(mod, nn, F, device):
    """TransformerEncoderLayer(d_model 128, 8 heads, feed-forward 512, dropout 0.1, train mode) on a batch of
    16 sequences of 64 tokens, loss mean(y ** 2), Adam."""
    kw = {"device": device} if mod is pygrad else {}
    m = nn.TransformerEncoderLayer(128, 8, 512, dropout=0.1, batch_first=True)
    if mod is pygrad:
        m = m.to(device)
    opt = mod.optim.Adam(m.parameters(), lr=1e-4)
    x = mod.randn(16, 64, 128, **kw)

    def step():
        loss = m(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def timed_step(step, device, number):
    """Seconds per step, waiting for the device at the end of the batch of steps."""
    def run():
        for _ in range(number):
            loss = step()
        if device == "opencl":
            pygrad.opencl.synchronize()
        return loss
    t = CLOCK()
    run()
    return (CLOCK() - t) / number


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="the a + b rows only")
    ap.add_argument("--threads", type=int, default=1, help="threads for PyTorch and BLAS (0: their defaults)")
    ap.add_argument("--cpu", action="store_true", help="pygrad's CPU backend only (no OpenCL column)")
    ap.add_argument("--only", default="", help="run only the rows whose name contains this text")
    ap.add_argument("--warm", type=float, default=0.05,
                    help="seconds of untimed steps before each timed block of steps (0: the plain interleaving): "
                         "after PyTorch's block at all threads its OpenMP workers still spin, and PoCL's "
                         "threads start asleep")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: elapsed time; cpu: the process's CPU time (all its threads), for a loaded machine")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    devices = ["cpu"] + (["opencl"] if pygrad.opencl.is_available() and not args.cpu else [])
    cases = {}
    for grad in (False, True):
        name = "a + b, 16 floats" + (", requires_grad, fwd+bwd" if grad else "")
        cases[name] = {("pygrad", d): (small_add("pygrad", d, grad), 2000) for d in devices}
        if torch is not None:
            cases[name]["torch"] = (small_add("torch", None, grad), 2000)
        if not grad:
            cases[name]["numpy"] = (small_add("numpy", None, grad), 2000)
    if not args.quick:
        for batch in (64, 1):
            name = f"LeNet-5 batch {batch} step (SGD momentum)"
            cases[name] = {("pygrad", d): (lenet(pygrad, pnn, PF, d, batch), 5) for d in devices}
            if torch is not None:
                cases[name]["torch"] = (lenet(torch, torch.nn, torch.nn.functional, None, batch), 5)
        for name, make, number in (("MLP 784-256-10 batch 64 step (SGD momentum)", mlp, 10),
                                   ("LSTM 1 layer, seq 32, batch 32, Adam", lstm, 2),
                                   ("TransformerEncoderLayer 16x64 d128 step, Adam", transformer, 2)):
            cases[name] = {("pygrad", d): (make(pygrad, pnn, PF, d), number) for d in devices}
            if torch is not None:
                cases[name]["torch"] = (make(torch, torch.nn, torch.nn.functional, None), number)
    cases = {c: v for c, v in cases.items() if args.only in c}
    times = {(c, k): [] for c in cases for k in cases[c]}
    for c in cases:  # warm up: kernels built, optimizer state created
        for k, (fn, n) in cases[c].items():
            fn()
            fn()
    for _ in range(args.rounds):
        for c in cases:
            for k, (fn, n) in cases[c].items():
                dev = k[1] if isinstance(k, tuple) else None
                if "step" in c and args.warm:
                    w = time.perf_counter()
                    while time.perf_counter() - w < args.warm:
                        timed_step(fn, dev, 1)
                times[(c, k)].append(timed_step(fn, dev, n) if "step" in c else per_call(fn, n))
    med = {key: statistics.median(v) for key, v in times.items()}
    print(f"{'workload':48s} " + " ".join(f"{h:>12s}" for h in ["pygrad cpu", "pygrad ocl", "torch", "numpy",
                                                                  "cpu/torch", "ocl/torch"]))
    for c in cases:
        def fmt(k):
            v = med.get((c, k))
            return f"{v * 1e6:10.1f}us" if v is not None and v < 1e-3 else (f"{v * 1e3:10.2f}ms" if v else f"{'-':>12s}")
        t = med.get((c, "torch"))
        ratios = [f"{med[(c, ('pygrad', d))] / t:12.2f}" if t and (c, ("pygrad", d)) in med else f"{'-':>12s}"
                  for d in ("cpu", "opencl")]
        print(f"{c:48s} {fmt(('pygrad', 'cpu'))} {fmt(('pygrad', 'opencl'))} {fmt('torch')} {fmt('numpy')} "
              + " ".join(ratios))
    if "opencl" in devices and not args.quick and not args.only:
        print(opencl_counts())


def opencl_counts():
    """Kernel launches and blocking copies (host syncs) in one LeNet batch-64 step on OpenCL, counted by
    wrapping the launch and copy calls here (so the same count works on older pygrad versions too)."""
    import pyopencl as cl
    from pygrad.runtime.opencl import kernels

    step = lenet(pygrad, pnn, PF, "opencl", 64)
    step()
    step()
    pygrad.opencl.synchronize()
    counts = {"launches": 0, "reads": 0, "writes": 0}
    call, copy, finish = kernels._TypedKernel.__call__, cl.enqueue_copy, cl.CommandQueue.finish

    def counted_call(self, *a):
        counts["launches"] += 1
        return call(self, *a)

    def counted_copy(queue, dst, src, **kw):
        dev_src, dev_dst = isinstance(src, cl.MemoryObjectHolder), isinstance(dst, cl.MemoryObjectHolder)
        if kw.get("is_blocking", True) and dev_src != dev_dst:  # (a buffer-to-buffer copy never waits)
            counts["reads" if dev_src else "writes"] += 1
        return copy(queue, dst, src, **kw)

    kernels._TypedKernel.__call__, cl.enqueue_copy = counted_call, counted_copy
    try:
        step()
    finally:
        kernels._TypedKernel.__call__, cl.enqueue_copy = call, copy
    return (f"OpenCL LeNet batch-64 step: {counts['launches']} kernel launches, {counts['reads']} blocking reads, "
            f"{counts['writes']} blocking writes")

if __name__ == "__main__":
    main()
