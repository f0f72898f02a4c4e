"""F.gelu (exact and tanh), forward and forward+backward, on 1M float32 elements: pygrad vs PyTorch (1 thread).

Run: ``python benchmarks/bench_gelu.py``.  Medians of interleaved rounds; ratio = pygrad / PyTorch.
"""
import statistics
import time

import numpy as np

import pygrad

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # PyTorch is optional
    torch = None


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(n=1_000_000, rounds=15):
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    xp = pygrad.from_numpy(a)
    xpg = pygrad.from_numpy(a.copy()).requires_grad_()
    xt = torch.from_numpy(a) if torch else None
    xtg = torch.from_numpy(a.copy()).requires_grad_() if torch else None
    print(f"{'case':28s} {'pygrad':>10s} {'torch':>10s} {'ratio':>7s}")
    for approximate in ("none", "tanh"):
        cases = [("fwd", lambda m, x: m.nn.functional.gelu(x, approximate=approximate)),
                 ("fwd+bwd", lambda m, x: m.nn.functional.gelu(x, approximate=approximate).sum().backward())]
        for name, f in cases:
            tp, tt = [], []
            for _ in range(rounds):
                tp.append(timed(lambda: f(pygrad, xpg if name == "fwd+bwd" else xp)))
                if torch:
                    tt.append(timed(lambda: f(torch, xtg if name == "fwd+bwd" else xt)))
            mp = statistics.median(tp) * 1e3
            row = f"gelu({approximate}) {name:8s} {n // 1000}k   {mp:8.3f}ms"
            if torch:
                mt = statistics.median(tt) * 1e3
                row += f" {mt:8.3f}ms {mp / mt:6.2f}x"
            print(row)


if __name__ == "__main__":
    main()
