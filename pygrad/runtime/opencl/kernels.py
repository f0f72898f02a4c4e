"""Loading, specialising and building the ``.cl`` kernel files, once per context.

The sources live in the top-level ``cl_kernels/`` folder, installed as the package resource
``pygrad.cl_kernels``.  ``common.h`` is pasted in front of each file (instead of ``-I``), so every
program is one self-contained string.  A program is specialised with ``#define`` lines (dtypes, the
expression of an elementwise op) and built once per (context, source, defines); the ``Kernel``
objects are kept, as creating them is not free either.  Across runs, pyopencl's binary cache (or the
driver's own, e.g. PoCL's) makes a rebuild cheap.  ``PYGRAD_DEBUG=1`` prints every build and its time.

Thread safety: the caches are filled under one lock (lookups stay lock-free), and each kernel object
has its own lock held while its arguments are set and it is enqueued, since OpenCL's ``clSetKernelArg``
is not safe on one kernel from two threads (another thread's arguments would be launched).
"""
import os
import pathlib
import re
import threading
import time
import warnings

from .warm import SMALL_GRID as _SMALL_GRID  # PoCL compiles a kernel for narrow and for wide grids apart

_sources = {}
_programs = {}
_lock = threading.RLock()  # guards building programs, reading sources and creating Kernel objects
launches = 0  # kernel launches since import (all devices): for tests, benchmarks and the profiler
_raw_launch = None  # _hotpath.launch (warm launches queued from C), bound by OpenCLBackend
builds = 0  # programs built since import, and the seconds spent building them (benchmarks/bench_cold_start.py)
build_seconds = 0.0
build_cpu_seconds = 0.0  # the same in process CPU time (all threads): steadier than wall time on a loaded machine
first_launches = 0  # first launches of a kernel per local size (where PoCL compiles machine code), and their seconds
first_launch_seconds = 0.0
first_launch_cpu_seconds = 0.0
launch_log = [] if os.environ.get("PYGRAD_RECORD_LAUNCHES") else None  # first launches as data (--write-step)
warmer = None  # the process warming PoCL's kernel cache for the first step (warm.py), while it runs


def kernel_dir():
    """Where the ``.cl`` files are: ``PYGRAD_KERNEL_DIR``, the installed package, or the source tree."""
    env = os.environ.get("PYGRAD_KERNEL_DIR")
    if env:
        return pathlib.Path(env)
    try:
        from importlib import resources

        p = pathlib.Path(str(resources.files("pygrad.cl_kernels")))
        if (p / "common.h").exists():
            return p
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    return pathlib.Path(__file__).resolve().parents[3] / "cl_kernels"


def source(name):
    """``common.h`` + the named ``.cl`` file, read once."""
    src = _sources.get(name)
    if src is None:
        with _lock:
            d = kernel_dir()
            src = _sources[name] = (d / "common.h").read_text() + "\n" + (d / name).read_text()
    return src


class Other(tuple):
    """A group entry from another file: ``Other(("rows.cl", defines))`` in ``program``'s ``group``."""


def program(rt, name, defines=(), extra="", group=()):
    """The built program of ``cl_kernels/name`` for runtime ``rt`` with ``#define`` lines ``defines``.

    ``group``: other ``defines`` tuples of this file (or ``Other((file, defines))`` of another file) that
    the same process is likely to need soon (the float32 variants of one training step).  Where the
    asked-for variant is not built yet, it is built together with those of ``group`` not built yet, as
    one program (see ``_build_group``): a program build costs about the same whatever its size (PoCL
    parses its 0.9 MB ``opencl-c.h`` each time), so a first step builds fewer programs.  A variant of
    the recorded first training step (``step_variants``) brings the whole step's set into that one
    build.  Kernels stay lazy: PoCL compiles machine code per kernel at its first launch, so an unused
    variant costs only its share of the one build."""
    key = (id(rt.context), name, tuple(defines), extra)
    prg = _programs.get(key)
    if prg is None:
        with _lock:
            prg = _programs.get(key)
            if prg is None:
                prg = _build_missing(rt, (name, tuple(defines), extra), group)
    return prg


def _build_missing(rt, want, group):
    """Build variant ``want`` = (file, defines, extra) with its ``group`` (and the step's set, where
    ``want`` is in it) not built yet; called under ``_lock``.  Returns ``want``'s program."""
    ctx = id(rt.context)
    todo = [want]
    mates = []
    for g in group:
        g = (g[0], tuple(g[1]), want[2]) if isinstance(g, Other) else (want[0], tuple(g), want[2])
        mates.append(g)
        if g not in todo and (ctx, *g) not in _programs:
            todo.append(g)
    requested.append((want, tuple(mates)))  # what a process asks for (bench_cold_start.py --write-step)
    if os.environ.get("PYGRAD_STEP_PROGRAMS") == "record":
        todo = todo[:1]  # recording: each variant asked for is built alone, so each is seen
    own = len(todo)
    step = step_variants(rt)
    if want in step:
        todo += [g for g in step if g not in todo and (ctx, *g) not in _programs]
    if len(todo) == 1:
        prg = _programs[(ctx, *want)] = _build(rt, want[0], want[1], want[2])
        return prg
    try:
        views = _build_group(rt, todo)
    except RuntimeError as e:
        if own == len(todo):
            raise
        # a listed variant that this device cannot build: the step set is dropped for this device (each
        # file's group is then built as it is asked for), and the asked-for variants are built without it
        _step[(rt.kernel_shape, rt.has_fp64, rt.has_fp16)] = ()
        if os.environ.get("PYGRAD_DEBUG"):
            print(f"[pygrad] the step's program set failed to build, built per group instead: {e}")
        todo = todo[:own]
        views = _build_group(rt, todo) if own > 1 else [_build(rt, want[0], want[1], want[2])]
    for g, view in zip(todo, views):
        _programs[(ctx, *g)] = view
    return _programs[(ctx, *want)]


requested = []  # (variant, its group) of each program a process asked for and had to build, in order
_step = {}


def step_variants(rt):
    """The program variants (file, defines, extra) that the first float32 LeNet training step on a device
    of ``rt``'s kernel shape asks for, with their groups: ``cl_kernels/step_programs.py``, written by
    ``python benchmarks/bench_cold_start.py --write-step``.  ``PYGRAD_STEP_PROGRAMS=0``: none (each file's
    group alone); ``=record``: none, and no groups either (each variant asked for is built alone).  A listed variant that a later edit no longer asks for is only
    built, never used; one that is missing is built in a program of its own (tests/test_cold_start_paths.py
    counts the builds of a step)."""
    shape = rt.kernel_shape
    got = _step.get((shape, rt.has_fp64, rt.has_fp16))
    if got is None:
        got = ()
        if os.environ.get("PYGRAD_STEP_PROGRAMS", "1") not in ("0", "record"):
            try:
                table = _step_table()
            except (OSError, ValueError, SyntaxError):
                table = {}
            extras = table.get("extras", [])
            got = []
            for name, defines, x in table.get(shape, ()):
                text = " ".join(defines)
                if ("double" in text and not rt.has_fp64) or ("half" in text and not rt.has_fp16):
                    continue
                got.append((name, tuple(defines), extras[x]))
            got = tuple(got)
        _step[(shape, rt.has_fp64, rt.has_fp16)] = got
    return got


def _step_table(name="STEP_PROGRAMS"):
    """The literal ``name`` (``STEP_PROGRAMS`` or ``STEP_LAUNCHES``) of ``cl_kernels/step_programs.py``
    (read as data, not imported, so ``PYGRAD_KERNEL_DIR`` applies)."""
    import ast

    tree = ast.parse((kernel_dir() / "step_programs.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    return {}


_KERNEL_RE = re.compile(r"__kernel\b[^{;]*?\bvoid\s+(\w+)\s*\(")
_INLINE_RE = re.compile(r"\binline\s+[^(;{=]*?\b(\w+)\s*\(")
_MACRO_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)", re.M)


def _body(name):
    """The text of ``cl_kernels/name`` alone (no common.h), its function names and the macros it defines."""
    b = _sources.get(("body", name))
    if b is None:
        with _lock:
            text = (kernel_dir() / name).read_text()
            funcs = set(_KERNEL_RE.findall(text)) | set(_INLINE_RE.findall(text))
            pattern = re.compile(r"\b(" + "|".join(sorted(funcs, key=len, reverse=True)) + r")\b") if funcs else None
            b = _sources[("body", name)] = (text, pattern, set(_MACRO_RE.findall(text)))
    return b


class _ProbeRuntime:
    """What ``_build`` and ``step_variants`` read of a Runtime, for a device being probed (no Runtime yet)."""

    def __init__(self, context, device, kernel_shape):
        self.context, self.device, self.kernel_shape = context, device, kernel_shape
        self.has_fp64 = bool(device.double_fp_config)
        self.has_fp16 = "cl_khr_fp16" in device.extensions


def build_probe_with_step(context, device, kernel_shape, probe):
    """Build the device probe's source ``probe`` together with the step set of ``kernel_shape``
    (``step_variants``) as one program in ``context``, the context the device's Runtime then uses: a
    first training step then builds nothing more, and the probe's own build (~0.1-0.15 s of CPU with an
    empty cache: clang parses PoCL's opencl-c.h per build) is saved.  False when there is no step set or
    it fails to build (the step set is then dropped for this kernel shape; the caller probes alone)."""
    rt = _ProbeRuntime(context, device, kernel_shape)
    with _lock:
        todo = [g for g in step_variants(rt) if (id(context), *g) not in _programs]
        if not todo:
            return False
        try:
            views = _build_group(rt, todo, head=probe)
        except RuntimeError as e:
            _step[(rt.kernel_shape, rt.has_fp64, rt.has_fp16)] = ()
            if os.environ.get("PYGRAD_DEBUG"):
                print(f"[pygrad] the step's program set failed to build with the probe, probing alone: {e}")
            return False
        for g, view in zip(todo, views):
            _programs[(id(context), *g)] = view
        _start_warmer(rt, views[0]._cache)
    return True


def _start_warmer(rt, built):
    """Start ``warm.py``'s helper process for the step set just ``built`` when PoCL compiles its kernels at
    first launch, there is a second core, and the build was cold (a warm one takes ~0.04 s of CPU, a cold
    one ~0.9 s: its kernels are then not in PoCL's cache either).  See warm.py."""
    global warmer
    mode = os.environ.get("PYGRAD_WARM_KERNELS", "")
    if mode == "0" or warmer is not None or launch_log is not None or os.environ.get("POCL_KERNEL_CACHE") == "0":
        return  # (off, started already, recording, or PoCL keeps no kernel cache to fill)
    import pyopencl as cl

    dev = rt.device
    if "Portable Computing Language" not in dev.platform.name or not dev.type & cl.device_type.CPU:
        return
    if mode != "1" and ((os.cpu_count() or 1) < 2 or built.build_cpu_seconds < 0.3):
        return
    try:
        launches = _step_table("STEP_LAUNCHES").get(rt.kernel_shape, [])
        from . import warm

        warmer = warm.start(dev, built.source, BUILD_OPTIONS, launches, wait=mode == "1")
    except Exception as e:  # (only ever a loss of time: the kernels are compiled where first launched)
        if os.environ.get("PYGRAD_DEBUG"):
            print(f"[pygrad] the kernel cache warmer did not start: {e!r}")


def _build_group(rt, variants, head=""):
    """Build several ``(file, defines, extra)`` specialisations as one program; one view per variant.

    Each file's text is repeated once per variant, each copy after its own ``#define`` lines (the macros
    of the copies before ``#undef``-ed first), with the file's kernels and inline functions renamed
    ``<name>_v<i>``; the view of variant i finds kernel ``k`` as ``k_v<i>``.  Each distinct ``extra``
    (helper functions) is pasted once, before the copies; ``head``: text put first (the device probe)."""
    parts, macros = [], set()
    for i, (name, defines, _) in enumerate(variants):
        text, pattern, own = _body(name)
        macros |= own
        parts.append("".join(f"#undef {m}\n" for m in sorted(macros)))
        parts.append("".join(f"#define {x}\n" for x in defines))
        parts.append(pattern.sub(lambda m, i=i: f"{m.group(1)}_v{i}", text) if pattern else text)
        macros |= {x.split("(")[0].split()[0] for x in defines}
    extras = "\n".join(dict.fromkeys(x for _, _, x in variants if x))
    common = (kernel_dir() / "common.h").read_text()
    names = "+".join(sorted({n for n, _, _ in variants}))
    built = _build(rt, names, [x for _, v, _ in variants for x in v], "",
                   head + "\n" + common + "\n" + extras + "\n" + "\n".join(parts),
                   label=f"{'probe + ' if head else ''}{names} x{len(variants)} variants "
                         f"{[[n] + list(v) for n, v, _ in variants]}")
    return [_Variant(built, f"_v{i}") for i in range(len(variants))]


class _Variant:
    """One variant of a grouped program: ``view.k`` is the program's kernel ``k_v<i>``."""

    def __init__(self, cache, suffix):
        self._cache = cache
        self._suffix = suffix

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        k = getattr(self._cache, name + self._suffix)
        k.name = name  # the kernel's name in the .cl file (for the profiler), not the renamed copy's
        setattr(self, name, k)  # an instance attribute from now on
        return k


def _build(rt, name, defines, extra, text=None, label=None):
    """Compile one specialisation of ``cl_kernels/name`` (called under ``_lock``); ``text``: the
    program's text after the head instead of common.h + the file (a group of variants)."""
    import pyopencl as cl

    head = "".join(f"#define {d}\n" for d in defines) if text is None else ""  # a group: defines inside text
    head += "#define PG_CPU 1\n" if rt.kernel_shape == "cpu" else ""
    if any("double" in d for d in defines):
        head = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n" + head
    src = head + extra + "\n" + (text if text is not None else source(name))
    t, c = time.perf_counter(), time.process_time()
    try:
        with warnings.catch_warnings():
            if not os.environ.get("PYGRAD_DEBUG"):  # compiler chatter (e.g. unused macros) is not an error
                warnings.simplefilter("ignore", cl.CompilerWarning)
            built = cl.Program(rt.context, src).build(options=BUILD_OPTIONS)
    except cl.RuntimeError as e:
        raise RuntimeError(f"building OpenCL kernel file {name} with {list(defines)} failed on "
                           f"{rt.device.name}:\n{e}") from None
    global builds, build_seconds, build_cpu_seconds
    builds += 1
    build_seconds += time.perf_counter() - t
    build_cpu_seconds += time.process_time() - c
    if os.environ.get("PYGRAD_DEBUG"):
        print(f"[pygrad] built {label or name + ' ' + str(list(defines))} in {time.perf_counter() - t:.3f}s "
              f"({time.process_time() - c:.3f} s CPU)")
    cache = _KernelCache(built)
    cache.source, cache.build_cpu_seconds = src, time.process_time() - c  # (warm.py builds the same text)
    return cache


BUILD_OPTIONS = ["-cl-mad-enable"]


class _KernelCache:
    """A built program whose ``Kernel`` objects are created once and reused.

    On its first call a kernel is told which of its arguments are scalars and of what type
    (``set_scalar_arg_dtypes``, read off that call: NumPy scalars, or Python ints for ``long``).
    pyopencl can then pack all scalars in one go: measured on PoCL, setting a NumPy scalar argument
    the generic way costs about 6 us, so a 12-argument elementwise launch spent 60 us on its
    arguments and 1 us running.
    """

    def __init__(self, prg):
        self.prg = prg
        self.kernels = {}

    def __getattr__(self, name):
        k = self.kernels.get(name)
        if k is None:
            with _lock:
                k = self.kernels.get(name)
                if k is None:
                    k = self.kernels[name] = _TypedKernel(getattr(self.prg, name))
                    # an instance attribute from now on: later lookups skip __getattr__ (once per launch)
                    setattr(self, name, k)
        return k


class _TypedKernel:
    """A kernel that knows its scalar argument types, and waits for its first launch per local size (and
    grid class: narrower or not than ``_SMALL_GRID``).

    Why wait: PoCL compiles and links the machine code of a kernel for a local size when that
    launch runs, in its own worker thread, and the link step starts a linker process, reading the
    process environment.  If Python changes the environment at that moment (pytest does so before
    every test: PYTEST_CURRENT_TEST), the linker sees a freed environment and the link fails
    ("posix_spawn failed: Bad address", then an abort).  Waiting for the first launch keeps the
    link inside the call that caused it; later launches of the same kernel stay asynchronous.
    """

    def __init__(self, kernel):
        self.kernel = kernel
        self.name = kernel.function_name
        self.typed = False
        self.linked = set()  # (local size, narrow grid) whose first launch has completed
        self.lock = threading.Lock()  # setting the arguments and enqueueing is one step per kernel object

    def __call__(self, queue, global_size, local_size, *args):
        global launches
        launches += 1
        spec = (local_size, max(global_size) < _SMALL_GRID)
        with self.lock:
            if spec in self.linked:
                # warm: arguments set and the kernel queued from C (_hotpath.launch: no event, which nothing
                # here waits on; a profiling queue, an argument of another type or an OpenCL error: pyopencl)
                kinds = self.__dict__.get("_kinds")
                if kinds is not None and _raw_launch is not None and \
                        _raw_launch(self.kernel, kinds, queue, global_size, local_size, args):
                    return None
                return self.kernel(queue, global_size, local_size, *args)
            if not self.typed and _raw_launch is not None:  # the argument types _first_launch types it with
                from ... import _hotpath

                self._kinds = _hotpath.arg_kinds(args)
            return self._first_launch(queue, global_size, local_size, args, spec)

    def _first_launch(self, queue, global_size, local_size, args, spec):
        """The first launch per ``spec`` (called under ``self.lock``): type the scalars, wait for the link."""
        if not self.typed:
            import numpy as np

            # NumPy scalars give their own type, Python ints are ``long`` (int64); buffers have none
            self.kernel.set_scalar_arg_dtypes([a.dtype if isinstance(a, np.generic) else
                                               np.dtype(np.int64) if isinstance(a, int) else None for a in args])
            self.typed = True
        global first_launches, first_launch_seconds, first_launch_cpu_seconds
        if warmer is not None:  # (before compiling it here: the helper then skips it)
            from . import warm

            warmer.have(warm.key(self.kernel.function_name, global_size, local_size))
        t, c = time.perf_counter(), time.process_time()
        event = self.kernel(queue, global_size, local_size, *args)
        event.wait()
        self.linked.add(spec)
        if launch_log is not None:
            from . import warm

            launch_log.append(warm.record(self.kernel.function_name, global_size, local_size, args))
        first_launches += 1
        first_launch_seconds += time.perf_counter() - t
        first_launch_cpu_seconds += time.process_time() - c
        if os.environ.get("PYGRAD_DEBUG"):
            print(f"[pygrad] first launch of {self.kernel.function_name} {local_size} in {time.perf_counter() - t:.3f}s "
                  f"({time.process_time() - c:.3f} s CPU)")
        return event
