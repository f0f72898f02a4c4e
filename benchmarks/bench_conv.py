"""conv2d forward + backward on each backend vs NumPy im2col + matmul (and PyTorch), and a small CNN's step.

Run: ``python benchmarks/bench_conv.py [--old] [--composed]``.  Shapes: the conv issue's reference (N=32, C=32, 16x16
images, 64 filters of 3x3, padding 1) and ``pygrad bench --size small``'s (N=8, C=64, 28x28, 64 filters).
Times are medians of interleaved rounds (pygrad's devices, NumPy, PyTorch one after the other, so load
from other processes hits all columns alike); ratios are NumPy time / pygrad time (higher is better).
``--old`` adds the OpenCL device with the CPU-shaped GEMM as it was before K blocking (before/after).
``--composed`` adds the OpenCL device running conv2d as the composed ops it ran before the one-op
``Conv2d`` (unfold, per-sample batched matmul, fold: before/after).
On a machine with few cores, run it as ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python
benchmarks/bench_conv.py``: BLAS threads spinning after the CPU column otherwise take the cores from
PoCL's threads in the column that follows (measured on 2 cores: the OpenCL column 4-5x slower, and
slower than the column after it, which made the one-op path look 1.3-1.7x slower than the composed one).
"""
import argparse
import time

import numpy as np

import pygrad
import pygrad.nn as nn
import pygrad.nn.functional as F

try:
    import torch
except ImportError:
    torch = None


def timeit(fn, sync=lambda: None, min_time=0.5):
    fn()
    sync()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        sync()
        n += 1
        if time.perf_counter() - t0 > min_time and n >= 3:
            return (time.perf_counter() - t0) / n


def numpy_conv_fwd_bwd(x, w):
    """Reference: im2col with sliding_window_view + one matmul forward, two matmuls + col2im backward."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # n c h w kh kw
    cols = np.ascontiguousarray(cols.transpose(0, 1, 4, 5, 2, 3)).reshape(n, c * kh * kw, h * wd)
    out = w.reshape(co, -1) @ cols
    g = np.ones_like(out)
    gw = (g @ cols.transpose(0, 2, 1)).sum(0)
    gcols = (w.reshape(co, -1).T @ g).reshape(n, c, kh, kw, h, wd)
    gx = np.zeros_like(xp)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i:i + h, j:j + wd] += gcols[:, :, i, j]
    return out, gw, gx


def composed_conv(on):
    """Make OpenCL's conv2d the composed ops (unfold, bmm, fold) while ``on``: the path before ``Conv2d``."""
    from pygrad.ops import conv

    if not hasattr(conv, "_direct_one_op"):
        conv._direct_one_op = conv._direct
    one_op = conv._direct_one_op
    conv._direct = (lambda x, *a: x.device.type == "cpu" and one_op(x, *a)) if on else one_op


def conv_fns(shape, devices, old, composed=False):
    """name -> one fwd+bwd step for the conv of ``shape`` = (N, C, H, K) on each device, NumPy, torch."""
    n, c, h, k = shape
    xn = np.random.randn(n, c, h, h).astype(np.float32)
    wn = np.random.randn(k, c, 3, 3).astype(np.float32)
    fns = {}
    extra = (["opencl-old"] if old and "opencl" in devices else []) + \
        (["opencl-composed"] if composed and "opencl" in devices else [])
    for d in devices + extra:
        dev = "opencl" if d.startswith("opencl") else d
        x = pygrad.tensor(xn, device=dev, requires_grad=True)
        w = pygrad.tensor(wn, device=dev, requires_grad=True)
        cls = type(pygrad.runtime.get_backend(x.device))

        def step(x=x, w=w, dev=dev, cfg=(0, 4, 16) if d == "opencl-old" else None):
            saved = getattr(cls, "gemm_kc", None), getattr(cls, "gemm_row_blocks", None), getattr(cls, "gemm_nr", None)
            if cfg:
                cls.gemm_kc, cls.gemm_row_blocks, cls.gemm_nr = cfg
            composed_conv(d == "opencl-composed")
            try:
                x.grad = w.grad = None
                F.conv2d(x, w, padding=1).sum().backward()
                if dev != "cpu":
                    pygrad.opencl.synchronize()
            finally:
                composed_conv(False)
                if cfg:
                    cls.gemm_kc, cls.gemm_row_blocks, cls.gemm_nr = saved

        fns[f"pygrad {d}"] = step
    fns["numpy im2col"] = lambda: numpy_conv_fwd_bwd(xn, wn)
    if torch is not None:
        tx, tw = torch.tensor(xn, requires_grad=True), torch.tensor(wn, requires_grad=True)

        def tstep():
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, padding=1).sum().backward()

        fns["torch"] = tstep
    return fns


def interleaved(fns, rounds, warm=0.05):
    """Median time per function over ``rounds`` interleaved rounds.  ``warm``: seconds of untimed calls of the
    same function just before each timed one: PoCL's threads otherwise start a block asleep or sharing one
    core after the single-threaded NumPy / PyTorch columns (the one-op conv measured 14-18 ms cold against
    ~10 ms warm at N=8 C=64 28x28; see bench_gemm.py's --settle)."""
    for f in fns.values():
        f()  # warm up: kernel builds, pools
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            w = time.perf_counter()
            while time.perf_counter() - w < warm:
                f()
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def lenet_step(device):
    pygrad.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10)).to(device)
    opt = pygrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = pygrad.randn(64, 1, 28, 28, device=device)
    y = pygrad.randint(0, 10, (64,), device=device)
    sync = pygrad.opencl.synchronize if device != "cpu" else (lambda: None)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return timeit(step, sync)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--old", action="store_true", help="also time OpenCL with the GEMM as before K blocking")
    p.add_argument("--composed", action="store_true", help="also time OpenCL's conv2d as the composed ops (before)")
    p.add_argument("--no-lenet", action="store_true")
    p.add_argument("--warm", type=float, default=0.05,
                   help="seconds of untimed calls before each timed one (0: the plain interleaving)")
    args = p.parse_args()
    devices = ["cpu"] + (["opencl"] if pygrad.opencl.is_available() else [])
    if "opencl" in devices:
        be = pygrad.runtime.get_backend(pygrad.device("opencl"))
        print(f"OpenCL device: {be.rt.device.name.strip()}, kernel shape {be.rt.kernel_shape}")
    print(f"conv2d fwd+bwd, 3x3 filters, padding 1; medians of {args.rounds} interleaved rounds, each call after "
          f"{args.warm:g} s of untimed ones; "
          "ratio = NumPy im2col time / time (higher is better)")
    for shape in ((32, 32, 16, 64), (8, 64, 28, 64)):
        n, c, h, k = shape
        flops = 3 * 2 * n * k * c * 9 * h * h  # forward + two backward products
        t = interleaved(conv_fns(shape, devices, args.old, args.composed), args.rounds, args.warm)
        print(f"N={n} C={c} {h}x{h} K={k}:")
        for name, v in t.items():
            print(f"  {name:16s} {v * 1e3:8.1f} ms  {flops / v / 1e9:6.1f} GFLOP/s  NumPy/this = "
                  f"{t['numpy im2col'] / v:5.2f}")
    if not args.no_lenet:
        for d in devices:
            print(f"LeNet-style training step (batch 64, 28x28) on {d:7s}: {lenet_step(d) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
