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
          "build_cpu": kernels.build_cpu_seconds, "links": kernels.first_launches,
          "link_s": kernels.first_launch_seconds, "link_cpu": kernels.first_launch_cpu_seconds}
t1 = time.perf_counter()
opt.zero_grad()
loss = F.cross_entropy(m(x), y)
loss.backward()
opt.step()
loss.item()
second = time.perf_counter() - t1
if sys.argv[2:] == ["record"]:  # --write-step: each program variant asked for, with its group
    print(json.dumps(kernels.requested))
elif sys.argv[2:] == ["launches"]:  # --write-step: each first launch, as data (PYGRAD_RECORD_LAUNCHES=1)
    print(json.dumps(kernels.launch_log))
else:
    print(json.dumps({"first": first, "second": second, **counts}))  # counts: the first step
"""


def child(cache, batch, **extra):
    env = dict(os.environ, POCL_CACHE_DIR=cache, **extra)
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


def write_step(batch):
    """Record the program variants a first step asks for (both kernel shapes, the step set switched off)
    and write them to cl_kernels/step_programs.py, which kernels.program builds as one program."""
    import pathlib

    extras, table = [""], {}
    for shape in ("cpu", "gpu"):
        rows = []
        # the variants asked for (their groups left out: a group's other variants are built when first asked for)
        for (name, defines, extra), _group in _recorded(batch, shape, "record", PYGRAD_STEP_PROGRAMS="record"):
            if extra not in extras:
                extras.append(extra)
            row = (name, tuple(defines), extras.index(extra))
            if row not in rows:
                rows.append(row)
        table[shape] = rows
    path = pathlib.Path(__file__).resolve().parents[1] / "cl_kernels" / "step_programs.py"
    write(path, batch, extras, table, {})
    # then the first launches of a step built from that set (the kernels' names in the one program)
    launches = {shape: [r for r in _recorded(batch, shape, "launches", PYGRAD_RECORD_LAUNCHES="1") if r is not None]
                for shape in ("cpu", "gpu")}
    write(path, batch, extras, table, launches)
    print(f"wrote {path}: " + ", ".join(f"{k} {len(v)} variants, {len(launches[k])} first launches"
                                        for k, v in table.items()))


def _recorded(batch, shape, what, **env):
    """What the child prints in mode ``what`` ("record": the variants asked for; "launches": the first
    launches), run with kernel shape ``shape`` and an empty PoCL cache."""
    with tempfile.TemporaryDirectory(prefix="pygrad-pocl-cache-") as cache:
        env = dict(os.environ, POCL_CACHE_DIR=cache, PYGRAD_KERNEL_SHAPE=shape, **env)
        env.pop("PYGRAD_DEBUG", None)
        out = subprocess.run([sys.executable, "-c", CHILD, str(batch), what], env=env, check=True,
                             capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def write(path, batch, extras, table, launches):
    import pprint

    path.write_text(
        '"""The OpenCL program variants (file, #defines, index of the helper text pasted before them) that a\n'
        f"first float32 LeNet-5 training step (batch {batch}, SGD with momentum) asks for, per kernel shape.\n"
        "kernels.program builds them as one program when the step asks for the first of them (a PoCL program\n"
        "build costs ~0.1 s plus its share of the text).  Written by\n"
        "`python benchmarks/bench_cold_start.py --write-step`: rerun it after changing a kernel's #defines\n"
        '(tests/test_cold_start_paths.py counts the programs a step builds).  Read as data, not imported.\n'
        "STEP_LAUNCHES: the kernels that step first launches, in order (name in the one program, global size,\n"
        "local size, arguments: [\"buf\", bytes] or [dtype, value]), which pygrad/runtime/opencl/warm.py\n"
        'compiles from the last in a second process while the first step runs with an empty PoCL cache."""\n'
        "STEP_PROGRAMS = " + pprint.pformat({"extras": extras, **table}, width=120, sort_dicts=False) + "\n"
        "STEP_LAUNCHES = " + pprint.pformat(launches, width=120, sort_dicts=False, compact=True) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--write-step", action="store_true",
                    help="record the step's program variants into cl_kernels/step_programs.py and exit")
    a = ap.parse_args()
    if a.write_step:
        return write_step(a.batch)
    res = {"cold": [], "warm": [], "cold, no helper": []}
    for _ in range(a.rounds):
        with tempfile.TemporaryDirectory(prefix="pygrad-pocl-cache-") as cache:
            res["cold"].append(child(cache, a.batch))
            res["warm"].append(child(cache, a.batch))
        with tempfile.TemporaryDirectory(prefix="pygrad-pocl-cache-") as cache:
            res["cold, no helper"].append(child(cache, a.batch, PYGRAD_WARM_KERNELS="0"))
    print(f"first LeNet step (batch {a.batch}) on OpenCL, new process, medians of {a.rounds} rounds")
    print("(rest s: the first step less program builds and first launches: device probe, context, host work;")
    print(" of it, to() s: building LeNet on the CPU and moving it, which finds and probes the device;")
    print(" (cpu): the same in process CPU time, all threads; process cpu s: CPU time of the whole child process,")
    print(" import to exit, with the linker processes PoCL starts: steadier than wall time under load)")
    print(f"{'cache':15} {'first step s':>12} {'2nd step s':>10} {'programs':>9} {'build s (cpu)':>14} "
          f"{'kernels':>8} {'1st launch s (cpu)':>18} {'rest s':>7} {'to() s':>7} {'process cpu s':>13}")
    for k, rows in res.items():
        med = lambda f: statistics.median(r[f] for r in rows)  # noqa: E731
        rest = statistics.median(r["first"] - r["build_s"] - r["link_s"] for r in rows)
        print(f"{k:15} {med('first'):12.2f} {med('second'):10.4f} {med('builds'):9.0f} "
              f"{med('build_s'):6.2f} ({med('build_cpu'):5.2f}) {med('links'):8.0f} "
              f"{med('link_s'):10.2f} ({med('link_cpu'):5.2f}) {rest:7.2f} {med('to_s'):7.2f} {med('cpu'):13.2f}")


if __name__ == "__main__":
    main()
