"""Loading, specialising and building the ``.cl`` kernel files, once per context.

The sources live in the top-level ``cl_kernels/`` folder, installed as the package resource
``pygrad.cl_kernels``.  ``common.h`` is pasted in front of each file (instead of ``-I``), so every
program is one self-contained string.  A program is specialised with ``#define`` lines (dtypes, the
expression of an elementwise op) and built once per (context, source, defines); the ``Kernel``
objects are kept, as creating them is not free either.  Across runs, pyopencl's binary cache (or the
driver's own, e.g. PoCL's) makes a rebuild cheap.  ``PYGRAD_DEBUG=1`` prints every build and its time.
"""
import os
import pathlib
import time
import warnings

_sources = {}
_programs = {}


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
    if name not in _sources:
        d = kernel_dir()
        _sources[name] = (d / "common.h").read_text() + "\n" + (d / name).read_text()
    return _sources[name]


def program(rt, name, defines=(), extra=""):
    """The built program of ``cl_kernels/name`` for runtime ``rt`` with ``#define`` lines ``defines``."""
    import pyopencl as cl

    key = (id(rt.context), name, tuple(defines), extra)
    prg = _programs.get(key)
    if prg is None:
        head = "".join(f"#define {d}\n" for d in defines) + ("#define PG_CPU 1\n" if rt.is_cpu else "")
        if any("double" in d for d in defines):
            head = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n" + head
        src = head + extra + "\n" + source(name)
        t = time.perf_counter()
        try:
            with warnings.catch_warnings():
                if not os.environ.get("PYGRAD_DEBUG"):  # compiler chatter (e.g. unused macros) is not an error
                    warnings.simplefilter("ignore", cl.CompilerWarning)
                built = cl.Program(rt.context, src).build(options=["-cl-mad-enable"])
        except cl.RuntimeError as e:
            raise RuntimeError(f"building OpenCL kernel file {name} with {list(defines)} failed on "
                               f"{rt.device.name}:\n{e}") from None
        if os.environ.get("PYGRAD_DEBUG"):
            print(f"[pygrad] built {name} {list(defines)} in {time.perf_counter() - t:.3f}s")
        prg = _programs[key] = _KernelCache(built)
    return prg


class _KernelCache:
    """A built program whose ``Kernel`` objects are created once and reused."""

    def __init__(self, prg):
        self.prg = prg
        self.kernels = {}

    def __getattr__(self, name):
        k = self.kernels.get(name)
        if k is None:
            k = self.kernels[name] = getattr(self.prg, name)
        return k
