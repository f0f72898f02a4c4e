"""``pygrad bench`` runs from the package itself (no benchmarks/ folder needed): a quick row of it."""
import os
import subprocess
import sys

import pytest

from conftest import DEVICES


@pytest.mark.parametrize("device", DEVICES)
def test_pygrad_bench_runs_from_the_package(device, tmp_path):
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "pygrad", "bench", "--device", device, "--only", "small a + b",
                        "--no-torch"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "small a + b (16), asynchronous" in r.stdout and " ms " in r.stdout, r.stdout
    assert "PyTorch: not used" in r.stdout  # --no-torch: pygrad's column only


def test_bench_module_is_inside_the_package():
    import pygrad.bench

    assert os.path.dirname(pygrad.bench.__file__) == os.path.dirname(__import__("pygrad").__file__)
