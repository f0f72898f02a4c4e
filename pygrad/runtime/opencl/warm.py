"""Warming PoCL's kernel cache from a second process while the first training step runs.

Why: PoCL compiles a kernel's machine code at its first launch (per local size), 0.03-0.3 s each, and it
does so under one lock per process, so the ~20 kernels of a first training step compile one after the
other on one core whatever the thread doing it (measured: two contexts in two threads take as long as
one after the other).  A second process has its own lock.  So when the step's program set was just built
with an empty cache, pygrad starts this file as a script: it builds the same program text (a cache hit
now: PoCL keys it by source, options and device), then launches the step's kernels LAST FIRST on
zero-filled buffers of the sizes and with the scalars recorded from a real step
(``STEP_LAUNCHES`` in ``cl_kernels/step_programs.py``), which leaves each kernel's machine code in
PoCL's disk cache.  The training process compiles from the front; each kernel it reaches that the
helper has compiled is a cache hit.  The training process tells the helper each kernel it has launched
(one line on the helper's stdin); the helper stops at the first one already done, and at the training
process's exit.  Nothing the training process computes depends on the helper: if it fails, the kernels
are compiled where they are first launched, as without it.

Only for PoCL on CPUs (other drivers compile when the program is built), with 2 or more cores, when
the build was a cold one; ``PYGRAD_WARM_KERNELS=0`` switches it off, ``=1`` starts it whatever the
build time (tests).  This file is run as a script and imports nothing of pygrad.
"""
import json
import os
import sys


# PoCL compiles a kernel's machine code per local size twice over: once for grids narrower than this in every
# dimension (its "smallgrid" specialisation, 32-bit work-item ids) and once for wider ones (measured, PoCL 3.1).
# kernels._TypedKernel waits for the first launch of each; here they name what the helper compiles.
SMALL_GRID = 65535


# ---- the training process's side ------------------------------------------------------------------

class Warmer:
    """The helper process: ``have(key)`` tells it a kernel was launched here; ``close()`` stops it."""

    def __init__(self, proc, keys, path):
        self.proc = proc
        self.path = path  # the job file, which the helper removes once read (and close() if it never did)
        self.keys = keys  # the kernels it may compile ("name local_size"): only those are worth a line
        self.pid = os.getpid()  # (a forked child inherits this object: only the parent talks to the helper)

    def have(self, key):
        if key in self.keys and os.getpid() == self.pid and self.proc.poll() is None:
            try:  # (an unbuffered pipe: a line the helper can no longer read is dropped here, not kept)
                self.proc.stdin.write((key + "\n").encode())
            except (OSError, ValueError):  # it has stopped: nothing to tell
                pass

    def _close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:  # (the helper has exited)
            pass

    def close(self, wait=False):
        """Stop the helper (at exit: it may be compiling a kernel nobody needs now).  ``wait``: let it finish
        its list instead and return what it printed (tests)."""
        if os.getpid() != self.pid:
            return ""
        if wait:  # (every kernel of the step has been told by now: it stops at its next check)
            out = self.proc.stdout.read().decode()
            self.proc.wait()
            self._close_stdin()
            return out
        self._close_stdin()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        try:
            os.unlink(self.path)
        except OSError:
            pass
        return ""


def key(name, global_size, local_size):
    """How a first launch is named between the two processes: kernel name, local size and whether the
    grid is narrower than ``SMALL_GRID`` in every dimension (PoCL compiles each such pair once)."""
    return f"{name} {list(local_size) if local_size is not None else None} {max(global_size) < SMALL_GRID}"


def record(name, global_size, local_size, args):
    """One first launch as data: ``[name, global, local, args]``, a buffer as ``["buf", bytes]``, a
    scalar as ``[dtype, value]``, a struct passed by value as ``["raw", hex]``, local memory as
    ``["local", bytes]``; None for an argument of another kind."""
    import numpy as np

    out = []
    for a in args:
        if a is None:
            out.append(["null"])
        elif isinstance(a, np.generic):
            out.append([a.dtype.str, a.item()])
        elif isinstance(a, int):
            out.append(["<i8", a])
        elif isinstance(a, np.ndarray):  # a struct passed by value (a layout, a key): its bytes
            out.append(["raw", a.tobytes().hex()])
        elif hasattr(a, "size") and hasattr(a, "int_ptr"):  # a cl.Buffer
            out.append(["buf", int(a.size)])
        elif type(a).__name__ == "LocalMemory":
            out.append(["local", int(a.size)])
        else:
            return None  # an argument this file cannot make again: not recorded
    return [name, list(global_size), list(local_size) if local_size is not None else None, out]


def start(device, source, options, launches, wait=False):
    """Start the helper for ``launches`` (``STEP_LAUNCHES`` of this shape) of the program ``source``
    built with ``options`` on ``device``; None where it cannot start.  ``wait``: its stdout is kept for
    ``Warmer.close(wait=True)``."""
    import subprocess
    import tempfile

    import pyopencl as cl

    if not launches or not sys.executable:
        return None
    platforms = cl.get_platforms()
    p = platforms.index(device.platform)
    d = platforms[p].get_devices().index(device)
    fd, path = tempfile.mkstemp(prefix="pygrad-warm-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"platform": p, "device": d, "options": list(options), "source": source,
                   "launches": launches}, f)
    try:
        proc = subprocess.Popen([sys.executable, __file__, path], stdin=subprocess.PIPE, bufsize=0,
                                stdout=subprocess.PIPE if wait else subprocess.DEVNULL,
                                stderr=subprocess.STDOUT if wait else subprocess.DEVNULL)
    except OSError:
        os.unlink(path)
        return None
    import atexit

    w = Warmer(proc, {key(n, gs, ls) for n, gs, ls, _ in _order(launches)}, path)
    atexit.register(w.close)
    return w


# ---- the helper's side (run as a script) ----------------------------------------------------------

def _order(launches):
    """The launches to make here, last first.  PoCL compiles a kernel per local size once for narrow grids
    (< SMALL_GRID work-items in every dimension) and once for wide ones, but once a process has the wide-grid
    code it reuses it for narrow grids.  So a narrow launch that the training process makes after the wide
    one is left out (it compiles nothing there), and one it makes before is made here before the wide one
    (or this process would not leave the narrow-grid file in the cache)."""
    keep, wide = [], set()
    for launch in launches:
        name, gsize, lsize, _ = launch
        if max(gsize) >= SMALL_GRID:
            wide.add((name, str(lsize)))
        elif (name, str(lsize)) in wide:
            continue
        keep.append(launch)
    order = keep[::-1]
    i = 0
    while i < len(order):
        name, gsize, lsize, _ = order[i]
        if max(gsize) >= SMALL_GRID:
            j = next((j for j in range(i + 1, len(order)) if order[j][0] == name and order[j][2] == lsize), None)
            if j is not None:
                order.insert(i, order.pop(j))
                i += 1
        i += 1
    return order


def _main(path):
    with open(path) as f:  # (read and removed before anything can fail)
        job = json.load(f)
    os.unlink(path)
    import select

    import numpy as np
    import pyopencl as cl

    dev = cl.get_platforms()[job["platform"]].get_devices()[job["device"]]
    ctx = cl.Context([dev])
    q = cl.CommandQueue(ctx)
    prg = cl.Program(ctx, job["source"]).build(options=job["options"])
    done, pending, fd = set(), b"", sys.stdin.fileno()
    compiled = 0
    for name, gsize, lsize, args in _order(job["launches"]):
        # what the training process has launched by now (a line per kernel; end of file: it has exited)
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                print(f"stopped: the training process has closed the pipe, {compiled} compiled", flush=True)
                return
            *lines, pending = (pending + chunk).split(b"\n")
            done.update(x.decode() for x in lines)
        if key(name, gsize, lsize) in done:
            break
        real = []
        for a in args:
            if a[0] == "buf":  # zero-filled: an index read from it is 0, in bounds like the recorded one's
                real.append(cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                                      hostbuf=np.zeros(a[1], np.uint8)))
            elif a[0] == "local":
                real.append(cl.LocalMemory(a[1]))
            elif a[0] == "raw":
                real.append(np.frombuffer(bytes.fromhex(a[1]), np.uint8))
            elif a[0] == "null":
                real.append(None)
            else:
                real.append(np.dtype(a[0]).type(a[1]))
        getattr(prg, name)(q, tuple(gsize), tuple(lsize) if lsize is not None else None, *real).wait()
        compiled += 1
        print("compiled", key(name, gsize, lsize), flush=True)
    print(f"stopped: {compiled} compiled", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1])
