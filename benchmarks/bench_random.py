"""Random number generation: pygrad's PyTorch-exact CPU generator beside PyTorch and NumPy.

Run: ``python benchmarks/bench_random.py``.  Times are the median of 5 interleaved rounds of one call;
a ratio is pygrad's time divided by PyTorch's (lower is better).  NumPy's column uses its own
generators (PCG64 / MT19937 legacy), which draw different numbers: it shows the cost of the work, not
the same stream.
"""
import statistics
import time

import numpy as np

import pygrad
import pygrad.nn.functional as F

try:
    import torch
except ImportError:  # PyTorch is optional: compare with it only when installed
    torch = None

N = 1 << 20
rng = np.random.default_rng(0)
X = np.ones((1024, 1024), dtype=np.float32)

CASES = [
    ("rand(1M) float32", lambda: pygrad.rand(N), (lambda: torch.rand(N)) if torch else None,
     lambda: rng.random(N, dtype=np.float32)),
    ("randn(1M) float32", lambda: pygrad.randn(N), (lambda: torch.randn(N)) if torch else None,
     lambda: rng.standard_normal(N, dtype=np.float32)),
    ("randn(1M) float64", lambda: pygrad.randn(N, dtype=pygrad.float64),
     (lambda: torch.randn(N, dtype=torch.float64)) if torch else None, lambda: rng.standard_normal(N)),
    ("randint(0,10,1M)", lambda: pygrad.randint(0, 10, (N,)), (lambda: torch.randint(0, 10, (N,))) if torch else None,
     lambda: rng.integers(0, 10, N)),
    ("randperm(1M)", lambda: pygrad.randperm(N), (lambda: torch.randperm(N)) if torch else None,
     lambda: rng.permutation(N)),
    ("dropout(1024x1024)", lambda: F.dropout(pygrad.from_numpy(X), 0.5),
     (lambda: torch.nn.functional.dropout(torch.from_numpy(X), 0.5)) if torch else None,
     lambda: X * (rng.random(X.shape) >= 0.5) / 0.5),
    ("multinomial(1000 cats, 10k, repl.)", lambda: pygrad.multinomial(pygrad.ones(1000), 10000, True),
     (lambda: torch.multinomial(torch.ones(1000), 10000, True)) if torch else None,
     lambda: rng.choice(1000, 10000)),
]


def main():
    names = ["pygrad", "torch", "numpy"]
    print(f"{'case':36s} " + " ".join(f"{n:>10s}" for n in names) + "   pygrad/torch")
    for name, *fns in CASES:
        times = {n: [] for n, f in zip(names, fns) if f is not None}
        for _ in range(5):
            for n, f in zip(names, fns):
                if f is None:
                    continue
                t0 = time.perf_counter()
                f()
                times[n].append(time.perf_counter() - t0)
        med = {n: statistics.median(v) for n, v in times.items()}
        cells = " ".join(f"{med[n] * 1e3:8.2f}ms" if n in med else f"{'-':>10s}" for n in names)
        ratio = f"{med['pygrad'] / med['torch']:6.2f}x" if "torch" in med else ""
        print(f"{name:36s} {cells}   {ratio}")


if __name__ == "__main__":
    main()
