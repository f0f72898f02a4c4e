"""``pygrad run -n N script.py args`` / ``pygrad run -n N -m module args``: start N ranks with ``mpiexec``.

The environment is forwarded to every rank (MPICH's hydra does so by default; ``-genvall`` says it
explicitly), and each rank runs this same Python interpreter, so a virtual environment carries over.
"""
import os
import pathlib
import shutil
import subprocess
import sys


def find_mpiexec():
    """The ``mpiexec`` to use: $PYGRAD_MPIEXEC, then the one next to this Python (``pip install mpich``
    puts it there, even when that folder is not on PATH), then PATH."""
    env = os.environ.get("PYGRAD_MPIEXEC")
    if env:
        return env
    for name in ("mpiexec", "mpirun"):
        here = pathlib.Path(sys.executable).parent / name
        if here.exists():
            return str(here)
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError('no mpiexec found (next to this Python or on PATH): pip install "pygrad[distributed]"')


def command(nproc, target, args, module=False, mpiexec_args=()):
    """The mpiexec command line that runs ``target`` (a script, or a module with ``module=True``) on ``nproc`` ranks."""
    launcher = find_mpiexec()
    cmd = [launcher, "-n", str(nproc)]
    if _is_hydra(launcher):
        cmd.append("-genvall")
    cmd += list(mpiexec_args) + [sys.executable] + (["-m", target] if module else [target]) + list(args)
    return cmd


def _is_hydra(launcher):
    try:
        out = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "HYDRA" in out


def run(nproc, target, args, module=False, mpiexec_args=()):
    """Run the job; returns mpiexec's exit code (non-zero when any rank failed)."""
    if nproc < 1:
        raise ValueError(f"-n must be at least 1, got {nproc}")
    return subprocess.call(command(nproc, target, args, module, mpiexec_args), env=dict(os.environ))
