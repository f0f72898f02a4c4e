"""Cold start: the first LeNet-5 training step on OpenCL in a new process, with an empty driver cache
(``POCL_CACHE_DIR`` set to a new empty folder) and with a warm one (the same folder, filled by a run).

Run: ``python benchmarks/bench_cold_start.py [--rounds 3] [--batch 64]``.  Each round runs one cold and
one warm child process; printed: medians of the first step's wall time (building included), of the
programs built and of their build time (``pygrad.runtime.opencl.kernels.builds``/``build_seconds``), of the
kernels' first launches (where PoCL compiles machine code) and of the rest (probe, context, host work).
``PYGRAD_DEBUG=1`` makes the children list every build.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
import pygrad
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad.runtime.opencl import kernels
from pygrad.bench import lenet5

batch = int(sys.argv[1])


t0 = time.perf_counter()
m = lenet5(nn, F).to("opencl")
to_s = time.perf_counter() - t0  # model built on the CPU and moved: finds the device (probe), its context
opt = pygrad.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
x, y = pygrad.randn(batch, 1, 28, 28, device="opencl"), pygrad.randint(0, 10, (batch,), device="opencl")
opt.zero_grad()
loss = F.cross_entropy(m(x), y)
loss.backward()
opt.step()
loss.item()
first = time.perf_counter() - t0
counts = {"to_s": to_s, "builds": kernels.builds, "build_s": kernels.build_seconds,
          "links": kernels.first_launches, "link_s": kernels.first_launch_seconds}
t1 = time.perf_counter()
opt.zero_grad()
loss = F.cross_entropy(m(x), y)
loss.backward()
opt.step()
loss.item()
print(json.dumps({"first": first, "second": time.perf_counter() - t1, **counts}))  # counts: the first step
"""


def child(cache, batch):
    env = dict(os.environ, POCL_CACHE_DIR=cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", CHILD, str(batch)], env=env, check=True,
                         capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if os.environ.get("PYGRAD_DEBUG"):
        print(out, end="")
    r = json.loads(out.strip().splitlines()[-1])
    # CPU seconds of the whole child process (all its threads, and the linker processes PoCL starts):
    # on a loaded machine a steadier figure than wall time (it includes the import and the 2nd step)
    r["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    res = {"cold": [], "warm": []}
    for _ in range(a.rounds):
        with tempfile.TemporaryDirectory(prefix="pygrad-pocl-cache-") as cache:
            res["cold"].append(child(cache, a.batch))
            res["warm"].append(child(cache, a.batch))
    print(f"first LeNet step (batch {a.batch}) on OpenCL, new process, medians of {a.rounds} rounds")
    print("(rest s: the first step less program builds and first launches: device probe, context, host work;")
    print(" of it, to() s: building LeNet on the CPU and moving it, which finds and probes the device;")
    print(" process cpu s: CPU time of the whole child process, import to exit: steadier than wall time under load)")
    print(f"{'cache':6} {'first step s':>12} {'2nd step s':>10} {'programs':>9} {'build s':>8} "
          f"{'kernels':>8} {'1st launch s':>12} {'rest s':>7} {'to() s':>7} {'process cpu s':>13}")
    for k, rows in res.items():
        med = lambda f: statistics.median(r[f] for r in rows)  # noqa: E731
        rest = statistics.median(r["first"] - r["build_s"] - r["link_s"] for r in rows)
        print(f"{k:6} {med('first'):12.2f} {med('second'):10.4f} {med('builds'):9.0f} {med('build_s'):8.2f} "
              f"{med('links'):8.0f} {med('link_s'):12.2f} {rest:7.2f} {med('to_s'):7.2f} {med('cpu'):13.2f}")


if __name__ == "__main__":
    main()
