"""``pygrad bench``: pygrad side by side with PyTorch on the workloads of the GPU issue's table.

Ships inside the package, so it runs from an installed pygrad (``benchmarks/bench_side_by_side.py`` is
a thin entry point to it).  pygrad runs on ``--device`` (default ``opencl``); PyTorch on whatever
device it has (CUDA or ROCm, Apple's MPS, else the CPU); without PyTorch only pygrad's column is
printed.  Each row: both times (median of a few timed rounds after a warm-up), the ratio
PyTorch / pygrad (1.0 = parity, higher is better for pygrad) and GFLOP/s or GB/s where they mean
something.  ``--size small`` (the default on CPU devices) shrinks the workloads so a run takes
seconds; ``--size full`` uses the table's sizes (for GPUs).
"""
import argparse
import statistics
import sys
import time

import numpy as np

SIZES = {
    # name: (small, full)
    "gemm": ((256, 1024), (1024, 4096, 8192)),
    "gemm_conv": ((2048, 576, 64), (8192, 576, 64)),
    "n": (1 << 22, 1 << 24),
    "square": (1024, 4096),
    "conv": ((8, 64, 28, 64), (64, 64, 56, 64)),
    "lenet": ((64,), (64, 256)),
    "transformer": ((64, 128, 4), (256, 128, 32)),
}


def _timeit(fn, sync, rounds=5, min_time=0.05):
    """Median seconds per call: a warm-up call, then ``rounds`` rounds of enough calls for min_time."""
    fn()
    sync()
    t = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t, 1e-7)
    reps = max(1, int(min_time / one))
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        times.append((time.perf_counter() - t) / reps)
    return statistics.median(times)


def _torch():
    """(torch module or None, its device name, its synchronize)."""
    try:
        import torch
    except ImportError:
        return None, None, None
    if torch.cuda.is_available():  # CUDA, or ROCm (torch.cuda on AMD)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch, "cuda", torch.cuda.synchronize
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch, "mps", torch.mps.synchronize
    return torch, "cpu", lambda: None


def lenet5(nn, F):
    """A new LeNet-5 for (N, 1, 28, 28) inputs built from ``nn``/``F`` (pygrad's or PyTorch's): the one model
    definition of this benchmark, ``benchmarks/bench_host_path.py``, ``bench_cold_start.py`` and
    ``tests/test_host_sync.py`` (importing it never imports PyTorch)."""
    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c1(x)), 2)
            x = F.max_pool2d(F.relu(self.c2(x)), 2).flatten(1)
            return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))

    return LeNet()


def workloads(pg, torch, pdev, tdev, size):
    """(name, pygrad step, torch step or None, work, unit) for each row of the table."""
    big = size == "full"
    pick = {k: v[1] if big else v[0] for k, v in SIZES.items()}
    rows = []

    def pair(arr):
        return pg.from_numpy(arr).to(pdev), (torch.from_numpy(arr).to(tdev) if torch else None)

    rng = np.random.default_rng(0)
    for n in pick["gemm"]:
        (pa, ta), (pb, tb) = pair(rng.random((n, n), np.float32)), pair(rng.random((n, n), np.float32))
        rows.append((f"GEMM {n}^3", lambda pa=pa, pb=pb: pa @ pb, torch and (lambda ta=ta, tb=tb: ta @ tb),
                     2.0 * n ** 3, "GFLOP/s"))
    m, k, n = pick["gemm_conv"]
    (pa, ta), (pb, tb) = pair(rng.random((m, k), np.float32)), pair(rng.random((k, n), np.float32))
    rows.append((f"GEMM {m}x{k}x{n} (conv-shaped)", lambda: pa @ pb, torch and (lambda: ta @ tb), 2.0 * m * k * n,
                 "GFLOP/s"))
    n = pick["n"]
    (px, tx), (py, ty) = pair(rng.random(n, np.float32)), pair(rng.random(n, np.float32))
    rows.append((f"sum of {n >> 20}M floats", lambda: px.sum(), torch and (lambda: tx.sum()), 4.0 * n, "GB/s"))
    rows.append((f"a + b, {n >> 20}M floats", lambda: px + py, torch and (lambda: tx + ty), 12.0 * n, "GB/s"))
    s = pick["square"]
    (pm, tm) = pair(rng.random((s, s), np.float32))
    rows.append((f"softmax(dim=1) of {s}x{s}", lambda: pm.softmax(1), torch and (lambda: tm.softmax(1)),
                 8.0 * s * s, "GB/s"))
    rows.append((f"x.t().contiguous() {s}x{s}", lambda: pm.t().contiguous(), torch and (lambda: tm.t().contiguous()),
                 8.0 * s * s, "GB/s"))
    (ps, ts) = pair(rng.random(16, np.float32))
    rows.append(("small a + b (16), asynchronous", lambda: ps + ps, torch and (lambda: ts + ts), None, None))

    N, C, H, K = pick["conv"]
    (cx, tcx), (cw, tcw) = pair(rng.random((N, C, H, H), np.float32)), pair(
        (rng.random((K, C, 3, 3), np.float32) - 0.5) * 0.1)
    cx.requires_grad_(), cw.requires_grad_()
    if torch:
        tcx.requires_grad_(), tcw.requires_grad_()

    def pconv():
        pg.nn.functional.conv2d(cx, cw, padding=1).sum().backward()

    def tconv():
        torch.nn.functional.conv2d(tcx, tcw, padding=1).sum().backward()

    rows.append((f"conv2d fwd+bwd N{N} C{C} {H}x{H} K{K} 3x3", pconv, torch and tconv,
                 3 * 2.0 * N * K * C * 9 * H * H, "GFLOP/s"))

    def lenet(nn):
        return lenet5(nn, nn.functional)

    for bs in pick["lenet"]:
        (px_, tx_) = pair(rng.random((bs, 1, 28, 28), np.float32))
        (py_, ty_) = pair(rng.integers(0, 10, bs).astype(np.int64))
        rows.append((f"LeNet train step, batch {bs}",) + _train_step(pg, torch, lenet, pdev, tdev, px_, py_, tx_, ty_)
                    + (None, None))
    d, L, B = pick["transformer"]
    (px_, tx_) = pair(rng.random((B, L, d), np.float32))
    rows.append((f"TransformerEncoderLayer step (d{d}, L{L}, B{B})",)
                + _transformer_step(pg, torch, pdev, tdev, d, px_, tx_) + (None, None))
    return rows


def _train_step(pg, torch, make, pdev, tdev, px, py, tx, ty):
    pm = make(pg.nn).to(pdev)
    popt = pg.optim.SGD(pm.parameters(), lr=0.01, momentum=0.9)

    def pstep():
        popt.zero_grad()
        pg.nn.functional.cross_entropy(pm(px), py).backward()
        popt.step()

    if torch is None:
        return pstep, None
    tm = make(torch.nn).to(tdev)
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)

    def tstep():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(tx), ty).backward()
        topt.step()

    return pstep, tstep


def _transformer_step(pg, torch, pdev, tdev, d, px, tx):
    pl = pg.nn.TransformerEncoderLayer(d, 8, 4 * d, dropout=0.0, batch_first=True).to(pdev)
    popt = pg.optim.Adam(pl.parameters(), lr=1e-4)

    def pstep():
        popt.zero_grad()
        pl(px).pow(2).mean().backward()
        popt.step()

    if torch is None:
        return pstep, None
    tl = torch.nn.TransformerEncoderLayer(d, 8, 4 * d, dropout=0.0, batch_first=True).to(tdev)
    topt = torch.optim.Adam(tl.parameters(), lr=1e-4)

    def tstep():
        topt.zero_grad()
        tl(tx).pow(2).mean().backward()
        topt.step()

    return pstep, tstep


def main(argv=None):
    ap = argparse.ArgumentParser(prog="pygrad bench", description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="opencl", help="pygrad's device: opencl, opencl:N or cpu")
    ap.add_argument("--size", choices=("small", "full"), default=None,
                    help="small: seconds on a CPU; full: the GPU table's sizes (default: full on GPUs)")
    ap.add_argument("--only", default="", help="run only the rows whose name contains this text")
    ap.add_argument("--no-torch", action="store_true", help="pygrad's column only")
    ap.add_argument("--tune", action="store_true", help="run the GEMM tuner for the device first (cached on disk)")
    args = ap.parse_args(argv)
    import pygrad as pg

    pdev = pg.device(args.device)
    if pdev.type == "opencl":
        from .runtime import get_backend

        be = get_backend(pdev)
        props = be.rt.device
        gpu_like = not be.rt.is_cpu
        version = " ".join(props.platform.version.split()[:4])
        where = f"{props.name.strip()} ({version}), kernel shape {be.rt.kernel_shape}"
        psync = be.synchronize
        if args.tune:
            from .runtime.opencl import gemm_tune

            gemm_tune.tune(pdev.index or 0)
    else:
        gpu_like, where, psync = False, "cpu (NumPy)", (lambda: None)
    torch, tdev, tsync = (None, None, None) if args.no_torch else _torch()
    size = args.size or ("full" if gpu_like else "small")
    print(f"pygrad {pg.__version__} on {where}")
    print(f"PyTorch {torch.__version__} on {tdev}" if torch else
          "PyTorch: not used (not installed, or --no-torch): pygrad's column only")
    print(f"sizes: {size}; times are medians of 5 rounds; ratio = PyTorch time / pygrad time (1.0 = parity)")
    print(f"{'workload':46s} {'pygrad':>11s} {'PyTorch':>11s} {'ratio':>7s}  throughput (pygrad / PyTorch)")
    for name, pstep, tstep, work, unit in workloads(pg, torch, pdev, tdev, size):
        if args.only and args.only.lower() not in name.lower():
            continue
        try:
            tp = _timeit(pstep, psync)
        except Exception as e:  # report and go on: one failing workload should not hide the others
            print(f"{name:46s} failed: {type(e).__name__}: {e}")
            continue
        tt = _timeit(tstep, tsync) if tstep else None
        line = f"{name:46s} {tp * 1e3:8.3f} ms " + (f"{tt * 1e3:8.3f} ms {tt / tp:7.2f}" if tt else f"{'-':>11s} {'-':>7s}")
        if work:
            line += f"  {work / tp / 1e9:8.1f}" + (f" / {work / tt / 1e9:.1f}" if tt else "") + f" {unit}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
