"""Data-parallel scaling, overlap of backward and all-reduce, and all-reduce bandwidth (pygrad vs raw mpi4py).

    python benchmarks/bench_distributed.py              # everything (starts mpiexec itself)
    python benchmarks/bench_distributed.py --plot PATH  # also draw the backward / all-reduce timeline

1. Training throughput of the demo's CNN and of a wider MLP with DDP on 1 and 2 processes: samples/s per
   process and in total.  On 2 processes also the all-reduce time and the fraction of it hidden behind
   the backward pass (the part of the communication thread's all-reduce intervals that lies before
   backward's last node), for DDP's three ways of progressing communication (``PYGRAD_DDP_COMM``): a
   communication thread making blocking calls (default), a thread polling non-blocking requests
   between sleeps, and plain non-blocking requests waited on at the end.
2. All-reduce of float32 messages from 1 KB to 64 MB: ``dist.all_reduce`` on a CPU tensor against
   mpi4py's ``Allreduce`` on a NumPy array (medians of interleaved rounds), and on an OpenCL tensor
   (staged through host memory) when a device is available.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _models():
    import pygrad.nn as nn
    from pygrad.cli import lenet

    return {
        "demo CNN (8x8 digits, 32/proc)": (lenet, (1, 8, 8), 32, 25),
        "MLP 784-1024x3-10 (64/proc, 1MB buckets)": (
            lambda: nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                                  nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)), (784,), 64, 1),
    }


def worker(args):
    """Runs on every rank: the training throughput and overlap numbers as one JSON line from rank 0."""
    import numpy as np

    import pygrad
    import pygrad.distributed as dist
    import pygrad.nn.functional as F
    from pygrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    out = {"size": size, "mode": os.environ.get("PYGRAD_DDP_COMM", "thread"), "models": {}}
    for name, (make, shape, batch, cap) in _models().items():
        pygrad.manual_seed(0)
        model = DDP(make(), bucket_cap_mb=cap)
        opt = pygrad.optim.SGD(model.parameters(), lr=0.01)
        rng = np.random.default_rng(rank)
        x = pygrad.from_numpy(rng.standard_normal((batch,) + shape).astype(np.float32))
        y = pygrad.from_numpy(rng.integers(0, 10, batch))
        spans = []
        for step in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            tb = time.perf_counter()
            loss.backward()
            te = time.perf_counter()
            opt.step()
            t1 = time.perf_counter()
            if step >= args.warmup:
                rec = model.timeline[-1]
                ev = {}
                for kind, b, t in rec:
                    ev.setdefault(kind, []).append((b, t))
                pairs = list(zip(ev.get("comm_start", []), ev.get("comm_end", [])))
                comm = sum(e - s for (_, s), (_, e) in pairs)
                end = ev["wait"][0][1]  # the engine has run every node: backward's computation is over
                overlapped = sum(max(0.0, min(e, end) - s) for (_, s), (_, e) in pairs)
                wait = ev["waited"][0][1] - end
                spans.append({"step": t1 - t0, "backward": te - tb, "wait": wait, "comm": comm,
                              "hidden": overlapped / comm if comm else float("nan"),
                              "record": [(k, b, t - tb) for k, b, t in rec], "backward_end": te - tb})
        steps = [s["step"] for s in spans]
        med = float(np.median(steps))
        comm = float(np.median([s["comm"] for s in spans]))
        wait = float(np.median([s["wait"] for s in spans]))
        out["models"][name] = {"samples_per_s_per_proc": batch / med, "samples_per_s_total": batch * size / med,
                               "step_ms": med * 1e3, "backward_ms": float(np.median([s["backward"] for s in spans])) * 1e3,
                               "allreduce_ms": comm * 1e3, "wait_ms": wait * 1e3,
                               "hidden": float(np.median([s["hidden"] for s in spans])),
                               "buckets": len(model._buckets),
                               "timeline": sorted(spans, key=lambda s: s["step"])[len(spans) // 2]["record"]}
    if args.bandwidth and size > 1:
        out["bandwidth"] = bandwidth(dist, rank)
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    dist.destroy_process_group()


def bandwidth(dist, rank):
    """Median seconds per all-reduce for each message size: pygrad vs mpi4py (interleaved rounds)."""
    import numpy as np
    from mpi4py import MPI

    import pygrad

    comm = MPI.COMM_WORLD
    rows = []
    cl = pygrad.opencl.is_available()
    for kb in (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536):
        n = kb * 1024 // 4
        t = pygrad.ones(n)
        a = np.ones(n, np.float32)
        d = pygrad.ones(n, device="opencl") if cl else None
        reps = max(3, min(200, int(2e5 // kb)))
        ours, raw, dev = [], [], []
        for _ in range(5):
            if cl:
                comm.Barrier()
                t0 = time.perf_counter()
                for _ in range(max(1, reps // 4)):
                    dist.all_reduce(d)
                dev.append((time.perf_counter() - t0) / max(1, reps // 4))
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                dist.all_reduce(t)
            ours.append((time.perf_counter() - t0) / reps)
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                comm.Allreduce(MPI.IN_PLACE, a, MPI.SUM)
            raw.append((time.perf_counter() - t0) / reps)
        rows.append((kb, float(np.median(ours)), float(np.median(raw)), float(np.median(dev)) if cl else float("nan")))
    return rows


def launch(n, mode, extra):
    from pygrad.distributed.run import command

    env = dict(os.environ, PYGRAD_DDP_COMM=mode, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = command(n, __file__, ["--worker"] + extra)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not line:
        raise SystemExit(f"mpiexec -n {n} failed:\n{p.stdout}\n{p.stderr}")
    return json.loads(line[0][len("RESULT "):])


def plot(result, path):
    """Rank 0's timeline of one backward of the MLP on 2 processes: hooks, bucket all-reduces, final wait."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = [k for k in result["models"] if k.startswith("MLP")][0]
    rec = result["models"][name]["timeline"]
    ms = lambda t: t * 1e3  # noqa: E731
    ev = {}
    for kind, b, t in rec:
        ev.setdefault(kind, []).append((b, t))
    end = ev["wait"][0][1]
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.broken_barh([(0, ms(end))], (20, 8), color="#4c72b0")
    ax.text(ms(end) / 2, 24, "backward (autograd engine)", ha="center", va="center", color="white", fontsize=9)
    for b, t in ev.get("launch", []):
        ax.plot([ms(t)] * 2, [18, 30], color="black", lw=0.8)
        ax.text(ms(t), 30.5 + 2.2 * (b % 2), f"b{b}", ha="center", fontsize=7)
    ax.text(0, 33.5, "bucket ready:", fontsize=7, ha="right")
    starts = dict(ev.get("comm_start", []))
    for b, t in ev.get("comm_end", []):
        ax.broken_barh([(ms(starts[b]), ms(t - starts[b]))], (8, 8), facecolor="#dd8452", edgecolor="white")
        ax.text(ms(starts[b] + (t - starts[b]) / 2), 12, f"{b}", ha="center", va="center", fontsize=8)
    w0, w1 = ev["wait"][0][1], ev["waited"][0][1]
    ax.broken_barh([(ms(w0), max(ms(w1 - w0), 0.05))], (20, 8), color="#c44e52")
    ax.set_yticks([12, 24])
    ax.set_yticklabels(["communication\nthread", "main thread"])
    ax.set_xlabel("ms since loss.backward() was called")
    ax.set_ylim(4, 37)
    ax.set_title(f"DDP, 2 processes, {name}, rank 0\nblue: backward computing, orange: all-reduce of bucket k, "
                 "red: backward() waiting for the last all-reduces", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bandwidth", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--plot", default=None, help="write the timeline PNG here")
    ap.add_argument("--no-bandwidth", dest="bandwidth_too", action="store_false", help="skip the all-reduce sizes")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    extra = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    one = launch(1, "thread", extra)
    two = launch(2, "thread", extra + ["--bandwidth"] * args.bandwidth_too)
    blk = launch(2, "thread-poll", extra)
    req = launch(2, "request", extra)
    print(f"{'model':40s} {'procs':>5s} {'mode':>15s} {'samples/s/proc':>14s} {'samples/s total':>15s} "
          f"{'backward ms':>11s} {'allreduce ms':>12s} {'wait ms':>8s} {'hidden':>7s}")
    for name in one["models"]:
        for r in (one, two, blk, req):
            m = r["models"][name]
            threaded = r["size"] > 1 and r["mode"].startswith("thread")
            hidden = m["hidden"] if threaded else None
            print(f"{name:40s} {r['size']:5d} {r['mode']:>15s} {m['samples_per_s_per_proc']:14.0f} "
                  f"{m['samples_per_s_total']:15.0f} {m['backward_ms']:11.2f} "
                  f"{m['allreduce_ms'] if threaded else float('nan'):12.2f} "
                  f"{m['wait_ms'] if r['size'] > 1 else float('nan'):8.2f} "
                  + (f"{hidden * 100:6.0f}%" if hidden is not None else "      -"))
    print("\n(hidden: share of the communication thread's all-reduce time that ran while backward was still"
          "\n computing; wait: time backward() spent after its last node waiting for the all-reduces)")
    print(f"\n{'all-reduce size':>15s} {'pygrad us':>10s} {'mpi4py us':>10s} {'pygrad GB/s':>11s} {'overhead':>8s} "
          f"{'OpenCL tensor us':>16s}")
    for kb, ours, raw, dev in two.get("bandwidth", []):
        size = f"{kb} KB" if kb < 1024 else f"{kb // 1024} MB"
        print(f"{size:>15s} {ours * 1e6:10.1f} {raw * 1e6:10.1f} {kb * 1024 / ours / 1e9:11.2f} "
              f"{(ours / raw - 1) * 100:7.0f}% {dev * 1e6:16.1f}")
    print("(float32 sum over 2 processes; OpenCL tensor: staged through host memory, read before and written after)")
    if args.plot:
        plot(two, args.plot)
        print(f"\ntimeline: {args.plot}")


if __name__ == "__main__":
    main()
