"""conv2d forward + backward on each backend vs NumPy im2col + matmul, and a small CNN's training step.

Run: ``python benchmarks/bench_conv.py``.  The conv case is the issue's reference shape: N=32, C=32,
16x16 images, 64 filters of 3x3, padding 1.  Ratios are NumPy time / pygrad time (higher is better).
"""
import time

import numpy as np

import pygrad
import pygrad.nn as nn
import pygrad.nn.functional as F


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


def conv_case(device):
    x = pygrad.randn(32, 32, 16, 16, device=device, requires_grad=True)
    w = pygrad.randn(64, 32, 3, 3, device=device, requires_grad=True)
    sync = pygrad.opencl.synchronize if device != "cpu" else (lambda: None)

    def step():
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).sum().backward()

    return timeit(step, sync)


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


def latency(device):
    a = pygrad.randn(16, device=device)
    sync = pygrad.opencl.synchronize if device != "cpu" else (lambda: None)
    n = 200

    def many():
        for _ in range(n):
            a + a

    return timeit(many, sync) / n


def main():
    devices = ["cpu"] + (["opencl"] if pygrad.opencl.is_available() else [])
    x = np.random.randn(32, 32, 16, 16).astype(np.float32)
    w = np.random.randn(64, 32, 3, 3).astype(np.float32)
    t_np = timeit(lambda: numpy_conv_fwd_bwd(x, w))
    flops = 3 * 2 * 32 * 64 * 32 * 9 * 16 * 16  # forward + two backward products
    print(f"conv2d fwd+bwd (N=32, C=32, 16x16, 64 filters 3x3): NumPy im2col+matmul {t_np * 1e3:.1f} ms "
          f"({flops / t_np / 1e9:.1f} GFLOP/s)")
    for d in devices:
        t = conv_case(d)
        print(f"  pygrad {d:7s} {t * 1e3:8.1f} ms  {flops / t / 1e9:6.1f} GFLOP/s  NumPy/pygrad = {t_np / t:.2f}")
    for d in devices:
        print(f"LeNet-style training step (batch 64, 28x28) on {d:7s}: {lenet_step(d) * 1e3:8.1f} ms")
    for d in devices:
        print(f"latency of a small a + a on {d:7s}: {latency(d) * 1e6:8.1f} us")
    if "opencl" in devices:
        print(f"OpenCL device: {pygrad.opencl.get_device_name()}")


if __name__ == "__main__":
    main()
