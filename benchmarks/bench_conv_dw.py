"""The weight (+ bias) gradient of the one-op OpenCL conv2d alone: conv_dw_k (forced on, whatever Cout)
against the batched-GEMM route, interleaved in one process, medians of rounds (ms per call).

    python benchmarks/bench_conv_dw.py [--rounds 7]
"""
import argparse
import time

import numpy as np

import pygrad as torch
from pygrad.ops.dispatch import backend_of
from pygrad.runtime.opencl import conv_ops

SHAPES = [  # name, (N, C, H, W), (Cout, kh, kw), padding
    ("LeNet conv1", (64, 1, 28, 28), (6, 5, 5), 2),
    ("LeNet conv2", (64, 6, 14, 14), (16, 5, 5), 0),
    ("N32 C32 16x16 K32", (32, 32, 16, 16), (32, 3, 3), 1),
    ("N32 C32 16x16 K64", (32, 32, 16, 16), (64, 3, 3), 1),
    ("N8 C64 16x16 K128", (8, 64, 16, 16), (128, 3, 3), 1),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=10)
    a = ap.parse_args()
    be = backend_of(torch.zeros(1, device="opencl"))
    print(f"kernel shape {be.rt.kernel_shape}; ms per weight+bias gradient (median of {a.rounds} rounds)")
    print(f"{'shape':22s} {'conv_dw_k':>10s} {'GEMM':>8s} {'ratio':>6s}")
    cap0 = conv_ops.DW_DIRECT_MAX_COUT
    for name, xs, (co, kh, kw), p in SHAPES:
        x = torch.randn(*xs, device="opencl")
        w = torch.randn(co, xs[1], kh, kw, device="opencl")
        y = torch.nn.functional.conv2d(x, w, padding=p)
        g = torch.randn(*y.shape, device="opencl")
        args = (g, x, w, (kh, kw), (1, 1), (p, p), (1, 1), (False, True, True))
        res = {1 << 30: [], 0: []}
        for r in range(a.rounds):
            for cap in (1 << 30, 0):
                conv_ops.DW_DIRECT_MAX_COUT = cap
                be.conv2d_backward(*args)
                torch.opencl.synchronize()
                t = time.perf_counter()
                for _ in range(a.n):
                    be.conv2d_backward(*args)
                torch.opencl.synchronize()
                res[cap].append((time.perf_counter() - t) / a.n * 1e3)
        conv_ops.DW_DIRECT_MAX_COUT = cap0
        d, m = np.median(res[1 << 30]), np.median(res[0])
        print(f"{name:22s} {d:10.3f} {m:8.3f} {d / m:6.2f}")


if __name__ == "__main__":
    main()
