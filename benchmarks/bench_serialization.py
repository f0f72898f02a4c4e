"""Checkpoint save/load: pygrad vs PyTorch (when installed) on the same state dict, and safetensors.

Run: ``python benchmarks/bench_serialization.py [MiB]`` (default 64 MiB of float32 in 8 tensors).
Medians of a few interleaved rounds, written to a temporary folder.  pygrad writes and reads PyTorch's
format, so each library also loads the other's file.
"""
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

import pygrad
from pygrad.utils import safetensors as st


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    mib = float(sys.argv[1]) if len(sys.argv) > 1 else 64
    n = int(mib * 2 ** 20 / 4 / 8)
    arrays = {f"layer{i}.weight": np.random.default_rng(i).standard_normal(n, dtype=np.float32) for i in range(8)}
    sd = {k: pygrad.from_numpy(a) for k, a in arrays.items()}
    try:
        import torch
        tsd = {k: torch.from_numpy(a) for k, a in arrays.items()}
    except ImportError:
        torch = None
    folder = tempfile.mkdtemp()
    p_pg, p_t, p_st = (os.path.join(folder, f) for f in ("pg.pt", "torch.pt", "m.safetensors"))
    cases = {
        "pygrad.save": lambda: pygrad.save(sd, p_pg),
        "pygrad.load (pygrad file)": lambda: pygrad.load(p_pg),
        "safetensors save_file": lambda: st.save_file(sd, p_st),
        "safetensors load_file": lambda: st.load_file(p_st),
    }
    if torch is not None:
        cases.update({
            "torch.save": lambda: torch.save(tsd, p_t),
            "torch.load (torch file)": lambda: torch.load(p_t, weights_only=True),
            "pygrad.load (torch file)": lambda: pygrad.load(p_t),
            "torch.load (pygrad file)": lambda: torch.load(p_pg, weights_only=True),
        })
    order = ["pygrad.save", "torch.save", "safetensors save_file", "pygrad.load (pygrad file)",
             "torch.load (torch file)", "pygrad.load (torch file)", "torch.load (pygrad file)", "safetensors load_file"]
    times = {k: [] for k in cases}
    for _ in range(5):
        for k in order:
            if k in cases:
                times[k].append(timed(cases[k]))
    total = 8 * n * 4 / 2 ** 20
    print(f"{total:.0f} MiB state dict, median of 5 rounds")
    for k in order:
        if k in times:
            med = statistics.median(times[k])
            print(f"  {k:28s} {med * 1e3:8.1f} ms  {total / med:7.0f} MiB/s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
