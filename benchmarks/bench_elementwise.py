"""Per-op overhead of a small ``a + b`` and throughput of a large one, as ratios to NumPy (and PyTorch).

Run: ``python benchmarks/bench_elementwise.py``.  A ratio is pygrad's time divided by the other
library's time for the same work on this machine in this run (lower is better, 1.0 is parity).
"""
import timeit

import numpy as np

import pygrad

try:
    import torch
except ImportError:  # PyTorch is optional: compare with it only when installed
    torch = None


def best(fn, number):
    """Best-of-5 seconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def case(name, n, number, make):
    a_np, b_np = make(n), make(n)
    a_pg, b_pg = pygrad.from_numpy(a_np), pygrad.from_numpy(b_np)
    t_pg = best(lambda: a_pg + b_pg, number)
    t_np = best(lambda: a_np + b_np, number)
    row = [name, f"{t_pg * 1e6:9.2f} us", f"{t_np * 1e6:9.2f} us", f"{t_pg / t_np:6.2f}x"]
    if torch is not None:
        a_t, b_t = torch.from_numpy(a_np), torch.from_numpy(b_np)
        t_t = best(lambda: a_t + b_t, number)
        row += [f"{t_t * 1e6:9.2f} us", f"{t_pg / t_t:6.2f}x"]
    return row


def main():
    header = ["case", "pygrad", "numpy", "vs numpy"] + (["torch", "vs torch"] if torch is not None else [])
    rows = [
        case("small a+b (16 float32)", 16, 20000, lambda n: np.random.rand(n).astype(np.float32)),
        case("large a+b (4M float32)", 1 << 22, 20, lambda n: np.random.rand(n).astype(np.float32)),
        case("large a+b (1024x1024 transposed)", 1024, 20,
             lambda n: np.random.rand(n, n).astype(np.float32).T),
    ]
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    big = 1 << 22
    t = rows[1][1]
    print(f"\nlarge a+b throughput: {3 * 4 * big / (float(t.split()[0]) * 1e-6) / 1e9:.1f} GB/s (read a, b; write out)")


if __name__ == "__main__":
    main()
