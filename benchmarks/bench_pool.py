"""max_pool2d (and avg_pool2d) forward + backward: the single-op pass (CPU: ``_core.max_pool2d_fwd``/``_bwd``;
OpenCL: ``maxpool_fwd_k``/``maxpool_bwd_k`` etc.) next to the composed path it replaced (unfold + max, fold or
scatter backward) on each backend, and PyTorch at one thread.

Run: ``python benchmarks/bench_pool.py``.  Medians of 5 interleaved rounds, milliseconds per fwd+bwd (OpenCL:
waiting for the device at the end of each batch of repetitions).
"""
import statistics
import time

import numpy as np

import pygrad
import pygrad.nn.functional as F
from pygrad.ops.pool import _avg_pool2d_composed, _max_pool2d_composed

CASES = [((64, 6, 28, 28), dict(kernel_size=2)), ((32, 64, 56, 56), dict(kernel_size=3, stride=2, padding=1))]


def once(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1e3


def pygrad_step(a, kw, composed, op="max", device="cpu"):
    x = pygrad.tensor(a, requires_grad=True, device=device)

    def run():
        x.grad = None
        if op == "avg":
            y = (_avg_pool2d_composed(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0), False, True, None)
                 if composed else F.avg_pool2d(x, **kw))
        elif composed:
            y = _max_pool2d_composed(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0), 1, False, False)
        else:
            y = F.max_pool2d(x, **kw)
        y.sum().backward()
        if device != "cpu":
            pygrad.opencl.synchronize()
    return run


def torch_step(a, kw, op="max"):
    import torch

    x = torch.tensor(a, requires_grad=True)
    f = torch.nn.functional.max_pool2d if op == "max" else torch.nn.functional.avg_pool2d

    def run():
        x.grad = None
        f(x, **kw).sum().backward()
    return run


def main(rounds=5):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    for op, (shape, kw) in [("max", c) for c in CASES] + [("avg", CASES[1])]:
        a = rng.standard_normal(shape).astype(np.float32)
        fns = {"cpu composed (before)": pygrad_step(a, kw, True, op), "cpu one op (after)": pygrad_step(a, kw, False, op)}
        if pygrad.opencl.is_available():
            fns["opencl composed (before)"] = pygrad_step(a, kw, True, op, "opencl")
            fns["opencl one op (after)"] = pygrad_step(a, kw, False, op, "opencl")
        if torch is not None:
            fns["torch 1 thread"] = torch_step(a, kw, op)
        reps = max(1, int(2e6 // a.size))
        for f in fns.values():
            f()
        times = {k: [] for k in fns}
        for _ in range(rounds):
            for k, f in fns.items():
                times[k].append(once(f, reps))
        row = "\n  ".join(f"{k:26s} {statistics.median(v):8.2f} ms" for k, v in times.items())
        print(f"{op}_pool2d fwd+bwd float32 {shape} {kw}:\n  {row}")


if __name__ == "__main__":
    main()
