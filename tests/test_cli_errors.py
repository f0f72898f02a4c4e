"""Issue 14: ``pygrad demo`` with a wrong --device / --resume prints one clear line, exits != 0, no traceback."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, **env):
    e = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    return subprocess.run([sys.executable, "-m", "pygrad", "demo", *args], capture_output=True, text=True, env=e,
                          timeout=300, cwd=ROOT)


@pytest.mark.parametrize("args,expected", [
    (["--device", "gpu"], "pygrad demo: --device gpu: pygrad runs on OpenCL devices, not 'gpu'; use --device opencl"),
    (["--device", "cuda"], "pygrad demo: --device cuda: pygrad runs on OpenCL devices, not 'cuda'"),
    (["--resume", "missing.pth"], "pygrad demo: --resume missing.pth: no such checkpoint file"),
    (["--device", "tpu"], "pygrad demo: --device tpu: Expected one of cpu, opencl device type"),
])
def test_bad_arguments_one_line(args, expected):
    r = _run(args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), r.stderr
    assert "Traceback" not in r.stderr


def test_opencl_without_runtime():
    r = _run(["--device", "opencl"], PYGRAD_CL_DEVICE_FILTER="no-such-opencl-device")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pygrad demo: --device opencl: no OpenCL device found: install")


def test_opencl_index_out_of_range():
    from pygrad.runtime.opencl import runtime

    n = runtime.device_count() if runtime.is_available() else 0
    r = _run(["--device", f"opencl:{n + 3}"])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
