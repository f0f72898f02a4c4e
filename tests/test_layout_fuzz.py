"""Runs the hypothesis layout fuzz suite (``tests/layout_fuzz.py``) in a subprocess per backend.

as_strided / view / reshape / expand / slicing with random sizes, strides and offsets (huge ones
included): each layout raises a clean error or reads and writes what a NumPy model says.  In a
subprocess, so a crash (the issue-11 bug class) fails this test instead of killing pytest.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("examples", [150])
def test_layout_fuzz(device, examples):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "layout_fuzz.py"), device, str(examples)],
                       capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert p.returncode == 0 and "LAYOUT FUZZ OK" in p.stdout, \
        f"rc={p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}"
